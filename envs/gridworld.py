"""Tabular grid worlds from ASCII maps, with the exact model ``P`` as in Gymnasium toy_text."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from contextlib import closing
from importlib import resources
from io import StringIO
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces, utils

LEFT, DOWN, RIGHT, UP = 0, 1, 2, 3
ACTION_NAMES = ("Left", "Down", "Right", "Up")
_MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))  # (drow, dcol) per action

CELL_CHARS = {
    ".": "free",
    "#": "wall",
    "S": "start",
    "G": "goal (terminal)",
    "H": "hole (terminal)",
    "C": "cliff (back to start)",
    "A": "teleport source to a",
    "a": "teleport destination of A",
    "B": "teleport source to b",
    "b": "teleport destination of B",
}
OBS_TYPES = ("index", "onehot", "coords")
DEFAULT_TELEPORT_REWARDS = {"A": 10.0, "B": 5.0}

# Every reset()/step() consumes exactly one uniform from a block of this size; the vector env
# relies on it to stay in lockstep with N single envs.
UNIFORM_BLOCK = 1024

CELL_PIXELS = 24
_COLOURS = {
    ".": (236, 236, 236),
    "#": (64, 64, 64),
    "S": (173, 216, 250),
    "G": (76, 175, 80),
    "H": (25, 35, 70),
    "C": (160, 60, 45),
    "A": (140, 80, 200),
    "B": (140, 80, 200),
    "a": (210, 180, 240),
    "b": (210, 180, 240),
}
_AGENT_COLOUR = (255, 140, 0)
_GRID_LINE_COLOUR = (150, 150, 150)
_yy, _xx = np.mgrid[:CELL_PIXELS, :CELL_PIXELS] - (CELL_PIXELS - 1) / 2
_AGENT_DISC = _yy**2 + _xx**2 <= (0.33 * CELL_PIXELS) ** 2
del _yy, _xx


def preset_maps() -> list[str]:
    """Names of the maps shipped in ``envs/maps/*.txt``."""
    return sorted(
        f.name[: -len(".txt")]
        for f in resources.files("sige_rl.envs.maps").iterdir()
        if f.name.endswith(".txt")
    )


def load_map(name: str) -> list[str]:
    """Rows of the preset map ``name`` (blank lines ignored)."""
    path = resources.files("sige_rl.envs.maps").joinpath(f"{name}.txt")
    if not path.is_file():
        raise ValueError(f"unknown map {name!r}; presets are {preset_maps()}")
    return [line.rstrip("\r\n") for line in path.read_text().splitlines() if line.strip()]


def _parse_map(map: Sequence[str] | str) -> list[str]:
    rows = load_map(map) if isinstance(map, str) else list(map)
    if not rows or not all(isinstance(r, str) for r in rows):
        raise ValueError("map must be a non-empty list of strings (or a preset name)")
    lengths = sorted({len(r) for r in rows})
    if len(lengths) != 1 or lengths[0] == 0:
        raise ValueError(f"map rows must all have the same non-zero length; got lengths {lengths}")
    bad = sorted({ch for r in rows for ch in r} - CELL_CHARS.keys())
    if bad:
        allowed = ", ".join(f"{c!r} {d}" for c, d in CELL_CHARS.items())
        raise ValueError(f"unknown map characters {bad}; allowed: {allowed}")
    return rows


class GridWorld(gym.Env):
    """A tabular grid world built from an ASCII map: mazes, cliffs, wind, teleports and ice.

    ## Description
    The agent moves on a grid of cells read from a map such as::

        S..#...
        .#.#.#.
        .#...#G

    One class covers the grid worlds of Sutton & Barto's book (gridworld with teleports,
    the 4x4 grid of policy evaluation, windy gridworld, cliff walking) and FrozenLake-style
    slippery lakes. Cells:

    - ``.`` free, ``#`` wall (moves into it are blocked), ``S`` start cell;
    - ``G`` goal and ``H`` hole: entering either ends the episode;
    - ``C`` cliff: entering it gives ``cliff_reward`` and puts the agent back on a start cell;
      the episode goes on;
    - ``A`` / ``B`` teleport sources: from ``A`` *every* action moves the agent to ``a`` with
      reward ``teleport_rewards["A"]`` (wind and slip do not apply); likewise ``B`` to ``b``.

    ## Action Space
    ``Discrete(4)``: 0 LEFT, 1 DOWN, 2 RIGHT, 3 UP (Gymnasium FrozenLake's order; note that
    Gymnasium CliffWalking uses 0 UP, 1 RIGHT, 2 DOWN, 3 LEFT). A move off the grid or into a
    wall leaves the agent in place. With ``slip > 0`` the agent moves in each of the two
    perpendicular directions with probability ``slip / 2`` instead. With ``wind``, after the move
    the agent is pushed up by ``wind[col]`` cells, where ``col`` is its column *before* the move;
    the push stops at the grid edge or a wall (no ``off_grid_reward`` for that).
    Other actions raise ``ValueError``.

    ## Observation Space
    - ``obs_type="index"``: ``Discrete(nrow * ncol)``, ``s = row * ncol + col`` as a Python int
      (walls count as unreachable states, as FrozenLake's holes count as states);
    - ``"onehot"``: ``Box(0, 1, (nrow * ncol,), float32)``;
    - ``"coords"``: ``Box([0, 0], [nrow - 1, ncol - 1], (2,), float32)``, ``[row, col]``.

    ## Rewards
    An ordinary move gives ``step_reward``, plus ``off_grid_reward`` if it was blocked by the edge
    or a wall, plus ``goal_reward`` / ``hole_reward`` if it ends in ``G`` / ``H``.
    Two transitions give exactly their own reward instead (as in the book): entering a cliff gives
    ``cliff_reward`` (Example 6.6: "-1 on all transitions except those into the cliff, -100") and
    leaving a teleport source gives ``teleport_rewards[source]`` (Example 3.5).

    ## Starting State
    Uniform over the ``S`` cells; with no ``S``, uniform over every cell that is not a wall, goal,
    hole or cliff. ``initial_state_distrib`` holds that distribution.

    ## Episode End
    Terminated when the agent enters ``G`` or ``H``. Truncation is left to the ``TimeLimit``
    wrapper that ``gym.make`` adds (``max_episode_steps`` of the registered id).

    ## The model
    ``P[s][a]`` is a list of ``(prob, next_state, reward, terminated)`` with equal outcomes merged,
    built once in ``__init__``; ``step`` samples from exactly these lists. Terminal and wall states
    are absorbing: ``P[s][a] == [(1.0, s, 0.0, True)]``. Each ``reset``/``step`` consumes one
    uniform number ``u`` (drawn from ``np_random`` in blocks of 1024) and takes the first outcome
    whose cumulative probability exceeds ``u``; ``info`` is ``{"prob": p}``.

    ## Arguments
    - ``map``: list of equal-length strings, or the name of a preset in ``envs/maps``.
    - ``step_reward=0.0``, ``off_grid_reward=0.0``, ``goal_reward=1.0``, ``hole_reward=0.0``,
      ``cliff_reward=-100.0``: see Rewards.
    - ``teleport_rewards=None``: ``{"A": 10.0, "B": 5.0}`` updated with the given entries.
    - ``wind=None``: upward push per column (one int per column; negative pushes down).
    - ``slip=0.0``: probability of moving perpendicular instead (FrozenLake's ice is ``2/3``).
    - ``obs_type="index"``: ``"index"``, ``"onehot"`` or ``"coords"``.
    - ``render_mode=None``: ``"ansi"`` (text with the agent highlighted) or ``"rgb_array"``
      (``uint8`` image, 24 pixels per cell, drawn with numpy).

    ## References
    Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed. (2018):
    Example 3.5 Gridworld (p. 60), Example 4.1 (p. 76), Example 6.5 Windy Gridworld (p. 130),
    Example 6.6 Cliff Walking (p. 132). Gymnasium toy_text FrozenLake and CliffWalking.

    ## Version History
    - v0: Initial release.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        *,
        map: Sequence[str] | str = "gridworld",
        step_reward: float = 0.0,
        off_grid_reward: float = 0.0,
        goal_reward: float = 1.0,
        hole_reward: float = 0.0,
        cliff_reward: float = -100.0,
        teleport_rewards: dict[str, float] | None = None,
        wind: Sequence[int] | None = None,
        slip: float = 0.0,
        obs_type: str = "index",
        render_mode: str | None = None,
    ):
        rows = _parse_map(map)
        self.desc = np.asarray(rows, dtype="c")
        self.nrow, self.ncol = nrow, ncol = self.desc.shape
        n_states = nrow * ncol

        if obs_type not in OBS_TYPES:
            raise ValueError(f"unknown obs_type {obs_type!r}; allowed: {OBS_TYPES}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; allowed: {self.metadata['render_modes']}"
            )
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be a probability in [0, 1], got {slip}")
        if wind is None:
            wind = [0] * ncol
        wind = [int(w) for w in wind]
        if len(wind) != ncol:
            raise ValueError(f"wind needs one value per column ({ncol}), got {len(wind)}")
        unknown = set(teleport_rewards or {}) - DEFAULT_TELEPORT_REWARDS.keys()
        if unknown:
            raise ValueError(f"teleport_rewards keys must be 'A' or 'B', got {sorted(unknown)}")
        tele_rewards = {**DEFAULT_TELEPORT_REWARDS, **(teleport_rewards or {})}

        cells = [ch for row in rows for ch in row]
        teleports = {}
        for src in "AB":
            dests = [s for s, ch in enumerate(cells) if ch == src.lower()]
            if src in cells and len(dests) != 1:
                raise ValueError(
                    f"teleport source {src!r} needs exactly one destination {src.lower()!r} "
                    f"in the map, found {len(dests)}"
                )
            if dests:
                teleports[src] = (dests[0], float(tele_rewards[src]))

        starts = [s for s, ch in enumerate(cells) if ch == "S"] or [
            s for s, ch in enumerate(cells) if ch not in "#GHC"
        ]
        if not starts:
            raise ValueError("map has no cell to start from (no 'S' and no free cell)")
        self.initial_state_distrib = np.zeros(n_states)
        self.initial_state_distrib[starts] = 1.0 / len(starts)
        start_outcomes = [(1.0 / len(starts), s) for s in starts]

        def move(row: int, col: int, direction: int) -> tuple[int, bool]:
            """Cell reached by one move plus the wind, and whether the move was blocked."""
            dr, dc = _MOVES[direction]
            r, c = row + dr, col + dc
            blocked = not (0 <= r < nrow and 0 <= c < ncol) or rows[r][c] == "#"
            if blocked:
                r, c = row, col
            push = wind[col]
            step = -1 if push > 0 else 1
            for _ in range(abs(push)):
                if not 0 <= r + step < nrow or rows[r + step][c] == "#":
                    break
                r += step
            return r * ncol + c, blocked

        def outcomes(s: int, a: int) -> list[tuple[float, int, float, bool]]:
            ch = cells[s]
            if ch in "#GH":
                return [(1.0, s, 0.0, True)]
            if ch in teleports:
                dest, reward = teleports[ch]
                return [(1.0, dest, reward, False)]
            directions = (((a - 1) % 4, slip / 2), (a, 1.0 - slip), ((a + 1) % 4, slip / 2))
            result = []
            for direction, p in directions:
                if p == 0.0:
                    continue
                s2, blocked = move(s // ncol, s % ncol, direction)
                landed = cells[s2]
                if landed == "C":
                    result += [(p * q, s0, float(cliff_reward), False) for q, s0 in start_outcomes]
                    continue
                reward = step_reward + (off_grid_reward if blocked else 0.0)
                reward += {"G": goal_reward, "H": hole_reward}.get(landed, 0.0)
                result.append((p, s2, float(reward), landed in "GH"))
            return _merge(result)

        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {
            s: {a: outcomes(s, a) for a in range(4)} for s in range(n_states)
        }
        _check_reachable(self.P, starts, cells, ncol)

        # Hot-path tables: per (s * 4 + a) the cumulative probabilities and the outcomes.
        self._cumprobs: list[list[float]] = []
        self._outcomes: list[list[tuple[int, float, bool, float]]] = []
        for s in range(n_states):
            for a in range(4):
                self._cumprobs.append(_cumulative([p for p, *_ in self.P[s][a]]))
                self._outcomes.append([(ns, r, t, p) for p, ns, r, t in self.P[s][a]])
        self._start_states = starts
        self._start_cumprobs = _cumulative([p for p, _ in start_outcomes])

        self.obs_type = obs_type
        self.action_space = spaces.Discrete(4)
        if obs_type == "index":
            self.observation_space = spaces.Discrete(n_states)
            self._obs_table: list[Any] = list(range(n_states))
        elif obs_type == "onehot":
            self.observation_space = spaces.Box(0.0, 1.0, (n_states,), np.float32)
            self._obs_table = list(np.eye(n_states, dtype=np.float32))
        else:
            high = np.array([nrow - 1, ncol - 1], dtype=np.float32)
            self.observation_space = spaces.Box(np.zeros(2, np.float32), high, (2,), np.float32)
            self._obs_table = [np.array(divmod(s, ncol), dtype=np.float32) for s in range(n_states)]
        self._copy_obs = obs_type != "index"

        self.render_mode = render_mode
        self._background: np.ndarray | None = None
        self.s = starts[0]
        self.lastaction: int | None = None
        self._uniforms: list[float] = []
        self._cursor = UNIFORM_BLOCK
        self._uniforms_rng: np.random.Generator | None = None

    def _refill_uniforms(self) -> None:
        rng = self.np_random
        self._uniforms = rng.random(UNIFORM_BLOCK).tolist()
        self._uniforms_rng = rng
        self._cursor = 0

    def _obs(self, s: int) -> Any:
        obs = self._obs_table[s]
        return obs.copy() if self._copy_obs else obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if (
            seed is not None
            or self._np_random is not self._uniforms_rng
            or self._cursor == UNIFORM_BLOCK
        ):
            self._refill_uniforms()
        u = self._uniforms[self._cursor]
        self._cursor += 1
        self.s = self._start_states[bisect_right(self._start_cumprobs, u)]
        self.lastaction = None
        return self._obs(self.s), {"prob": 1.0}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if type(action) is not int or not 0 <= action < 4:
            action = self._checked_action(action)
        i = self._cursor
        if i == UNIFORM_BLOCK:
            self._refill_uniforms()
            i = 0
        self._cursor = i + 1
        sa = self.s * 4 + action
        s, reward, terminated, prob = self._outcomes[sa][
            bisect_right(self._cumprobs[sa], self._uniforms[i])
        ]
        self.s = s
        self.lastaction = action
        obs = self._obs_table[s]
        if self._copy_obs:
            obs = obs.copy()
        return obs, reward, terminated, False, {"prob": prob}

    def _checked_action(self, action: Any) -> int:
        if (
            isinstance(action, (int, np.integer, np.ndarray))
            and not isinstance(action, (bool, np.bool_))
            and np.ndim(action) == 0
            and np.asarray(action).dtype.kind in "iu"
            and 0 <= int(action) < 4
        ):
            return int(action)
        raise ValueError(
            f"invalid action {action!r}: the action space is {self.action_space} "
            "(an int 0 LEFT, 1 DOWN, 2 RIGHT, 3 UP)"
        )

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'"
            )
            return None
        if self.render_mode == "ansi":
            return self.render_text(self.s, self.lastaction)
        return self.render_rgb(self.s)

    def render_text(self, s: int, last_action: int | None = None) -> str:
        """The map as text with the agent's cell ``s`` highlighted, after the last action."""
        grid = [[c.decode() for c in row] for row in self.desc.tolist()]
        row, col = divmod(s, self.ncol)
        grid[row][col] = utils.colorize(grid[row][col], "red", highlight=True)
        with closing(StringIO()) as out:
            out.write(f"  ({ACTION_NAMES[last_action]})\n" if last_action is not None else "\n")
            out.write("\n".join("".join(line) for line in grid) + "\n")
            return out.getvalue()

    def render_rgb(self, s: int) -> np.ndarray:
        """A ``(nrow * 24, ncol * 24, 3)`` uint8 image, the agent a disc in cell ``s``."""
        if self._background is None:
            self._background = self._draw_background()
        frame = self._background.copy()
        top, left = (CELL_PIXELS * i for i in divmod(s, self.ncol))
        frame[top : top + CELL_PIXELS, left : left + CELL_PIXELS][_AGENT_DISC] = _AGENT_COLOUR
        return frame

    def _draw_background(self) -> np.ndarray:
        colours = np.array([[_COLOURS[c.decode()] for c in row] for row in self.desc], np.uint8)
        frame = np.repeat(np.repeat(colours, CELL_PIXELS, axis=0), CELL_PIXELS, axis=1)
        frame[::CELL_PIXELS, :] = _GRID_LINE_COLOUR
        frame[:, ::CELL_PIXELS] = _GRID_LINE_COLOUR
        return frame


def _merge(
    outcomes: list[tuple[float, int, float, bool]],
) -> list[tuple[float, int, float, bool]]:
    """Sum the probabilities of equal (next_state, reward, terminated), keeping first-seen order."""
    merged: dict[tuple[int, float, bool], float] = {}
    for p, s, r, t in outcomes:
        merged[(s, r, t)] = merged.get((s, r, t), 0.0) + p
    return [(p, s, r, t) for (s, r, t), p in merged.items()]


def _cumulative(probs: list[float]) -> list[float]:
    """Running sums, the last forced to exactly 1.0 so that every u in [0, 1) is covered."""
    total, result = 0.0, []
    for p in probs:
        total += p
        result.append(total)
    result[-1] = 1.0
    return result


def _check_reachable(P: dict, starts: list[int], cells: list[str], ncol: int) -> None:
    seen, frontier = set(starts), list(starts)
    while frontier:
        s = frontier.pop()
        for a in range(4):
            for p, s2, _, _ in P[s][a]:
                if p > 0.0 and s2 not in seen:
                    seen.add(s2)
                    frontier.append(s2)
    unreachable = [divmod(s, ncol) for s, ch in enumerate(cells) if ch == "G" and s not in seen]
    if unreachable:
        starts_rc = [divmod(s, ncol) for s in starts]
        raise ValueError(
            f"unreachable goal: goal cell(s) (row, col) {unreachable} cannot be reached from "
            f"the start cell(s) {starts_rc}"
        )
    terminals = [s for s, ch in enumerate(cells) if ch in "GH"]
    if terminals and not seen.intersection(terminals):
        raise ValueError("no terminal cell ('G' or 'H') can be reached from the start cells")
