"""Pictures of what an agent learned on a grid env with an exact model: per state, the value of
the agent's greedy policy as a heat map and its action as an arrow, beside ``V*`` and the optimal
policy, one panel per checkpoint of a run.

The env must expose Gymnasium toy_text's model ``env.unwrapped.P`` (ours, FrozenLake,
CliffWalking), observe state indices (``Discrete``), and lay its states out as a grid: state ``s``
is the cell at row ``s // ncol``, column ``s % ncol``. The grid's shape is read from the env
itself, never from a list of known envs: ``desc`` (GridWorld's and FrozenLake's map), else
``nrow`` and ``ncol``, else ``shape`` (Gymnasium's CliffWalking); whichever is found must have as
many cells as the env has states (Taxi's ``desc`` does not: it is no grid of its states).

Values are exact: ``V^pi`` of the greedy policy by :func:`policy_evaluation` on the model, not the
agent's own estimates. An estimate is what the agent believes; the evaluation is what its policy
is worth, and it reads the same for any agent that can act on a state index (a Q table, a
planner's values, DQN's network, which has no table at all).

matplotlib is optional (the ``plots`` extra): it is imported when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import yaml

from sige_rl.agents.common import registry
from sige_rl.agents.multiagent import ids as ma_ids
from sige_rl.agents.tabular.model import (
    TabularModel,
    policy_evaluation,
    start_value,
    value_iteration,
)
from sige_rl.agents.training.cli import check_env_id  # registers sige/ ids by name
from sige_rl.supervised import Run
from sige_rl.supervised.plots import new_figure, require_matplotlib

#: The discount of a run whose config.yaml records none (the tabular agents' default).
DEFAULT_GAMMA = 0.99

#: How a map cell of ``desc`` is drawn: ``(fill colour or None, label)``. GridWorld's characters
#: (``envs/gridworld.py``: wall, goal, hole, cliff, start, teleports) and FrozenLake's (``S``,
#: ``F`` frozen, ``H``, ``G``) share their meanings; a cell not listed is drawn by its value only.
#: The filled cells are those an episode is never in (walls, cliffs) or ends in (goals, holes).
CELL_MARKS: dict[str, tuple[str | None, str]] = {
    "#": ("#404040", ""),
    "G": ("#4caf50", "G"),
    "H": ("#19234a", "H"),
    "C": ("#a03c2d", "C"),
    "S": (None, "S"),
    "A": (None, "A"),
    "a": (None, "a"),
    "B": (None, "B"),
    "b": (None, "b"),
}
_MASKED_COLOUR = "#d9d9d9"  # states without a value to show: terminal or unreachable
_CELL_INCHES = 0.42


class Panel(NamedTuple):
    """One map: its title, a value per state and an action per state (None: no arrows)."""

    title: str
    values: np.ndarray
    actions: np.ndarray | None


def grid_shape(env: gym.Env) -> tuple[int, int] | None:
    """``(nrow, ncol)`` of a grid whose cells are the env's states (row-major), read from
    ``env.unwrapped``: ``desc``'s shape, else ``nrow`` / ``ncol``, else ``shape``. None when the
    env has none of them, or when the grid does not have exactly one cell per state."""
    base = env.unwrapped
    space = base.observation_space
    if not isinstance(space, gym.spaces.Discrete):
        return None
    desc = getattr(base, "desc", None)
    candidates = [
        np.shape(desc) if desc is not None else None,
        (getattr(base, "nrow", None), getattr(base, "ncol", None)),
        getattr(base, "shape", None),
    ]
    for shape in candidates:
        if shape is None or len(shape) != 2:
            continue
        try:
            nrow, ncol = (int(x) for x in shape)
        except (TypeError, ValueError):
            continue
        if nrow > 0 and ncol > 0 and nrow * ncol == int(space.n):
            return nrow, ncol
    return None


def policy_map_problem(env: gym.Env) -> str | None:
    """Why no policy map can be drawn for ``env`` (a sentence), or None when one can."""
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    if getattr(env.unwrapped, "P", None) is None:
        return f"{name} has no exact model (env.unwrapped.P) to evaluate a policy on"
    if not isinstance(env.observation_space, gym.spaces.Discrete):
        return (
            f"{name}'s observations are not state indices (Discrete), got {env.observation_space}"
        )
    if not isinstance(env.action_space, gym.spaces.Discrete):
        return f"{name}'s actions are not Discrete, got {env.action_space}"
    if grid_shape(env) is None:
        return (
            f"{name} has no grid layout of its states (desc, nrow / ncol or shape with one cell "
            "per state)"
        )
    return None


def greedy_policy(agent: Any, env: gym.Env) -> np.ndarray:
    """The agent's greedy action in every state, ``agent.act(s, deterministic=True)`` for each
    state index ``s`` of ``env``'s ``Discrete`` observations (terminal and unreachable states
    included, so the result indexes like the model's arrays).

    The agent is asked one state at a time, which any agent answers. A planner that searches the
    env's current state (``agents/search``) ignores the index it is given: its map says nothing.
    """
    n = int(env.observation_space.n)
    return np.array([int(agent.act(s, deterministic=True)) for s in range(n)], dtype=int)


def action_directions(env: gym.Env) -> np.ndarray:
    """``(n_actions, 2)``: the move ``(drow, dcol)`` of each action on the grid, read off the
    model, so no env's action order has to be known (FrozenLake's and ours: 0 left, 1 down,
    2 right, 3 up; Gymnasium's CliffWalking: 0 up, 1 right, 2 down, 3 left).

    For each action, the outcomes of ``P[s][a]`` that move one cell along a row or a column are
    summed, displacement times probability, over the states an episode can be in; the larger
    component of the sum, as a unit step, is the action's direction. Whole actions rather than
    each state's likeliest next state, because single outcomes mislead: a step into a cliff
    lands on the start, a blocked move stays put, wind pushes a move sideways, and slippery ice
    makes the three possible moves equally likely. Summed, the two perpendicular slips cancel and
    the jumps are left out. ``(0, 0)`` for an action that never moves one cell (a no-op).
    """
    shape = grid_shape(env)
    if shape is None:
        raise ValueError(policy_map_problem(env) or "no grid layout")
    ncol = shape[1]
    P = env.unwrapped.P
    n_actions = int(env.action_space.n)
    total = np.zeros((n_actions, 2))
    for s in TabularModel.from_env(env).live_states():
        row, col = divmod(int(s), ncol)
        for a in range(n_actions):
            for prob, s2, _reward, _terminated in P[int(s)][a]:
                r2, c2 = divmod(int(s2), ncol)
                move = (r2 - row, c2 - col)
                if abs(move[0]) + abs(move[1]) == 1:
                    total[a] += prob * np.asarray(move)
    directions = np.zeros((n_actions, 2), dtype=int)
    for a, (dr, dc) in enumerate(total):
        if abs(dr) > abs(dc):
            directions[a] = (np.sign(dr), 0)
        elif abs(dc) > 0:
            directions[a] = (0, np.sign(dc))
    return directions


def optimal_panel(model: TabularModel, gamma: float) -> tuple[Panel, float]:
    """``V*`` by :func:`value_iteration` and the greedy actions of ``Q*`` (lowest index among
    ties), titled ``V* (optimal)`` with the start-state value; and that value."""
    v_star, _ = value_iteration(model, gamma)
    actions = model.q_values(v_star, gamma).argmax(axis=1)
    value = start_value(model, v_star)
    return Panel(f"V* (optimal)\nV(start) = {value:.4g}", v_star, actions), value


def policy_panel(
    agent: Any, env: gym.Env, model: TabularModel, gamma: float, label: str
) -> tuple[Panel, float]:
    """The agent's greedy policy (:func:`greedy_policy`) and its exact values ``V^pi`` on
    ``model``, titled ``<label>: V^pi`` with the start-state value; and that value.

    ``V^pi`` comes from :func:`policy_evaluation`, not from the agent's own estimates: the
    estimates of an agent still learning are neither the values of the policy it would play nor
    comparable between agents, and DQN keeps no table to read. The evaluation is the truth of the
    policy, the same measure for every agent and every checkpoint. On an undiscounted task a
    policy that never ends an episode gets the finite value of ``policy_evaluation``'s last sweep
    (very negative where every step costs).
    """
    actions = greedy_policy(agent, env)
    values = policy_evaluation(model, actions, gamma)
    value = start_value(model, values)
    return Panel(f"{label}: V^pi\nV(start) = {value:.4g}", values, actions), value


def draw_policy_maps(
    panels: Sequence[Panel | tuple[str, np.ndarray, np.ndarray | None]],
    shape: tuple[int, int],
    desc: np.ndarray | None,
    path: str | Path,
    action_arrows: np.ndarray,
    live: np.ndarray | None = None,
) -> Any:
    """Draw one figure of maps, one panel per ``(title, values, actions)``, and write it to
    ``path`` as PNG; returns the matplotlib ``Figure``.

    Each panel is a heat map of ``values`` (one per state, state ``s`` at row ``s // ncol``,
    column ``s % ncol`` of ``shape``) on a colour scale shared by all panels, with one colour bar,
    and an arrow per state in the direction ``action_arrows[actions[s]]`` (``(drow, dcol)`` per
    action, :func:`action_directions`; a dot for an action that does not move). ``live`` marks the
    states an episode can be in (default: all); the others (terminal, wall, unreachable) get
    neither colour nor arrow. ``desc``, a map of one character per cell (GridWorld's or
    FrozenLake's, bytes or str), marks walls, goals, holes, cliffs and the start
    (:data:`CELL_MARKS`); None, or a map of another shape, marks nothing.
    """
    mpl = require_matplotlib()
    from matplotlib.patches import Rectangle

    panels = [Panel(*p) for p in panels]
    if not panels:
        raise ValueError("no panels to draw")
    nrow, ncol = shape
    n_states = nrow * ncol
    live = np.ones(n_states, bool) if live is None else np.asarray(live, bool)
    arrows = np.asarray(action_arrows, dtype=float)
    for p in panels:
        if np.shape(p.values) != (n_states,):
            raise ValueError(
                f"panel {p.title!r}: {np.shape(p.values)} values for {n_states} states"
            )

    shown = np.concatenate([np.asarray(p.values, float)[live] for p in panels])
    shown = shown[np.isfinite(shown)]
    vmin, vmax = (float(shown.min()), float(shown.max())) if shown.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    cmap = mpl.colormaps["viridis"].with_extremes(bad=_MASKED_COLOUR)
    cells = _cell_chars(desc, shape)

    # Roughly as many rows of panels as columns, weighing each panel by its shape.
    cols = int(np.clip(np.ceil(np.sqrt(len(panels) * nrow / ncol)), 1, len(panels)))
    rows = -(-len(panels) // cols)
    size = (cols * ncol * _CELL_INCHES + 1.2, rows * (nrow * _CELL_INCHES + 0.6))
    fig = new_figure(size, layout="constrained", dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        fig.delaxes(ax)
    axes = list(axes[: len(panels)])
    rr, cc = np.divmod(np.arange(n_states), ncol)
    for ax, panel in zip(axes, panels, strict=True):
        grid = np.where(live, np.asarray(panel.values, float), np.nan).reshape(shape)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax)
        marked = np.ndenumerate(cells) if cells is not None else ()
        for (r, c), ch in marked:
            fill, label = CELL_MARKS.get(ch, (None, ""))
            if fill is not None and not live[r * ncol + c]:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, color=fill, lw=0))
                ax.text(c, r, label, ha="center", va="center", color="white", fontsize=8)
            elif label:
                ax.text(c - 0.42, r - 0.42, label, ha="left", va="top", fontsize=6, color="white")
        if panel.actions is not None:
            move = arrows[np.asarray(panel.actions, int)]
            moves = live & move.any(axis=1)
            stays = live & ~move.any(axis=1)
            ax.quiver(
                cc[moves],
                rr[moves],
                move[moves, 1],
                move[moves, 0],  # rows grow downwards, as the image's y axis
                angles="xy",
                scale_units="xy",
                scale=1 / 0.6,
                pivot="middle",
                units="xy",
                width=0.07,
                headwidth=3.5,
                headlength=4,
                headaxislength=3.5,
                color="white",
                edgecolor="black",
                linewidth=0.5,
            )
            ax.plot(cc[stays], rr[stays], "o", ms=3, color="white", mec="black", mew=0.4)
        ax.set_xticks(np.arange(-0.5, ncol), minor=True)
        ax.set_yticks(np.arange(-0.5, nrow), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_xlim(-0.5, ncol - 0.5)
        ax.set_ylim(nrow - 0.5, -0.5)
        ax.set_title(panel.title, fontsize=9)
    fig.colorbar(image, ax=axes, label="state value")
    fig.savefig(path, format="png", dpi=100)
    return fig


def policy_maps_for_run(run_dir: str | Path, out_path: str | Path) -> Path | None:
    """Draw the policy maps of a run folder (written by ``train_agent.py``) to ``out_path`` (PNG):
    ``V*`` and the optimal policy first, then the greedy policy of each checkpoint
    (``checkpoints/step_N/``, oldest first) and of ``final/``, each with its exact ``V^pi``.

    The env is made from config.yaml's ``options`` (``env``, ``env_kwargs``) and the discount read
    from its ``hyperparams`` (:data:`DEFAULT_GAMMA` when absent). Returns ``out_path``, or None,
    writing nothing, when the env has no exact model, no grid layout or observations that are not
    state indices (:func:`policy_map_problem`), or is a multi-agent env. ``ValueError`` when the
    folder has no readable config.yaml or nothing saved.
    """
    run_dir = Path(run_dir)
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        options = config["options"]
        env_id = options["env"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise ValueError(f"{run_dir} is not a run folder (no readable config.yaml)") from e
    if ma_ids.is_multi_agent(env_id):
        return None
    gamma = float((config.get("hyperparams") or {}).get("gamma", DEFAULT_GAMMA))
    env = gym.make(check_env_id(env_id), **(options.get("env_kwargs") or {}))
    try:
        if policy_map_problem(env) is not None:
            return None
        run = Run(run_dir)
        sources = [(f"step {step}", path) for step, path in run.checkpoints()]
        if (run_dir / "final").is_dir():
            sources.append(("final", run_dir / "final"))
        if not sources:
            raise ValueError(f"{run_dir} has neither final/ nor a checkpoint")
        model = TabularModel.from_env(env)
        panels = [optimal_panel(model, gamma)[0]]
        for label, path in sources:
            panels.append(policy_panel(registry.load(path, env), env, model, gamma, label)[0])
        live = np.zeros(model.n_states, bool)
        live[model.live_states()] = True
        draw_policy_maps(
            panels,
            grid_shape(env),
            getattr(env.unwrapped, "desc", None),
            out_path,
            action_directions(env),
            live=live,
        )
    finally:
        env.close()
    return Path(out_path)


def _cell_chars(desc: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """``desc`` as an array of one-character strings, or None if it is missing or misshapen."""
    if desc is None or np.shape(desc) != tuple(shape):
        return None
    chars = [[c.decode() if isinstance(c, bytes) else str(c) for c in row] for row in desc]
    return np.array(chars, dtype=object)
