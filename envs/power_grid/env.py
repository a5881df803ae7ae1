"""PowerGridEnv: operate a transmission grid through a week of five-minute steps."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sige_rl.envs.power_grid.actions import (
    DISCONNECT,
    NOOP,
    RECONNECT,
    REDISPATCH,
    TOPOLOGY,
    build_actions,
    substation_ends,
)
from sige_rl.envs.power_grid.case import DISPATCHABLE, Case, load_case
from sige_rl.envs.power_grid.flow import DCPowerFlow
from sige_rl.envs.power_grid.series import (
    STEPS_PER_DAY,
    Dispatcher,
    Series,
    default_series,
    read_csv,
)

OVERFLOW_ALLOWED = 2  # steps a line may stay at or above its limit; it trips on the next one
HARD_OVERFLOW = 2.0  # rho above which a line trips at once
TRIP_COOLDOWN = 10  # steps a tripped line stays out
SLACK_TOLERANCE_MW = 1e-6


class PowerGridEnv(gym.Env):
    """## Description
    Keep a transmission grid running through a week of five-minute steps, as in the L2RPN
    competitions (Grid2Op's rules). Loads and renewables follow daily and weekly profiles with
    seeded noise; generators follow a merit-order dispatch with ramp limits (the market), and
    the slack unit balances. Power flows are DC (``sige_rl.envs.power_grid.flow``). Lines that
    stay overloaded trip, and trips cascade; the operator can switch lines, split or merge
    substations' two bus bars, and redispatch generators.

    ## Action Space
    ``action_type="discrete"`` (default): ``Discrete(n)``, the enumeration of
    ``sige_rl.envs.power_grid.actions`` (0 = do nothing; disconnect line ``l``; reconnect line
    ``l``; set a substation's bus bars; redispatch a unit up or down by its ramp).
    ``env.unwrapped.describe_action(a)`` names one; ``info["action_mask"]`` marks the legal ones.
    ``action_type="redispatch"``: ``Box(-1, 1, (n_units,))``, each dispatchable unit's change of
    redispatch as a fraction of its ramp (the slack's entry ignored, renewables too).

    Illegal actions (reconnecting a line in cooldown, disconnecting a line that is out, setting a
    configuration the substation already has, redispatching a unit beyond its limits) do nothing;
    ``info["illegal"]`` flags them and ``info["illegal_count"]`` counts them over the episode.
    An action outside the space raises ``ValueError``.

    ## Observation Space
    ``Box(float32)`` of, in order: ``rho`` per line; flow per line (origin to extremity, p.u. of
    the case's MVA base); line status (1 in, 0 out); loads (p.u.); unit outputs (p.u.); bar of
    every element end (1 or 2, topo_vect order: branch origins, branch extremities, units,
    loads); overflow timer per line; cooldown per line (steps left); redispatch per unit (p.u.);
    time of day as ``sin`` and ``cos``. ``env.unwrapped.observation_slices`` names the parts.

    ## Rewards
    L2RPN's margin: ``sum over lines in service of 1 - min(rho, 1)^2`` (a line out of service
    earns nothing: counting it as ``rho = 0`` would pay for disconnecting lines). A game over
    gives ``-game_over_penalty`` (default: the number of lines, minus a perfect step).

    ## Starting State
    Midnight on a day of the week drawn from the seed, every line in, every end on bar 1, the
    market's first dispatch, no redispatch.

    ## Episode End
    Terminated on a game over: a unit or load cut off from the slack's island, or a balance the
    slack cannot supply within its limits (``info["game_over"]`` says which). Truncated after
    ``episode_steps`` steps (the registered ``max_episode_steps``) or at the end of a user's
    series.

    ## Rules (Grid2Op's)
    ``rho = |flow| / limit``. A line at ``rho >= 1`` for more than 2 consecutive steps trips;
    above 2 it trips at once. A tripped line stays out for 10 steps. After a trip the flows are
    solved again within the step and the rules applied again (a cascade; the overflow timers
    count each round, as Grid2Op's do).

    ## Arguments
    ``case``: ``"case5"``, ``"case14"``, ``"case30"``, ``"case118"`` or a ``Case``.
    ``action_type``: ``"discrete"`` or ``"redispatch"``. ``episode_steps``: 2016 (a week).
    ``series``: None (the default profiles), a CSV path or a ``(load, available)`` pair
    (``series.read_csv`` documents the columns); its row 0 is a Monday 00:00, and episodes
    start at a midnight drawn from the seed that leaves room for ``episode_steps``.
    ``game_over_penalty``: None (the number of lines). ``max_splits``: bus-bar splits
    enumerated per substation. ``render_mode``: ``"ansi"`` or ``"rgb_array"``.

    ## Version History
    * v0: Initial version.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        case: str | Case = "case14",
        action_type: str = "discrete",
        episode_steps: int = 7 * STEPS_PER_DAY,
        series: str | os.PathLike | tuple[np.ndarray, np.ndarray] | None = None,
        game_over_penalty: float | None = None,
        max_splits: int = 32,
        render_mode: str | None = None,
    ):
        self.case = case if isinstance(case, Case) else load_case(case)
        c = self.case
        if action_type not in ("discrete", "redispatch"):
            raise ValueError(f"action_type must be 'discrete' or 'redispatch', got {action_type!r}")
        if int(episode_steps) != episode_steps or episode_steps < 1:
            raise ValueError(f"episode_steps must be a positive int, got {episode_steps!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.action_type = action_type
        self.episode_steps = int(episode_steps)
        self.render_mode = render_mode
        self.game_over_penalty = float(
            c.n_branch if game_over_penalty is None else game_over_penalty
        )
        self.user_series = None
        if series is not None:
            if isinstance(series, tuple):
                load, available = (np.asarray(x, np.float64) for x in series)
                if (
                    load.ndim != 2
                    or load.shape[1] != c.n_load
                    or available.shape != (len(load), c.n_gen)
                ):
                    raise ValueError(
                        f"series must be (load (steps, {c.n_load}), available (steps, "
                        f"{c.n_gen})), got shapes {load.shape} and {available.shape}"
                    )
                self.user_series = (load, available)
            else:
                self.user_series = read_csv(series, c)
            if len(self.user_series[0]) < 2:
                raise ValueError("a user series needs at least 2 rows (the start and one step)")

        self.flow = DCPowerFlow(c)
        self.dispatcher = Dispatcher(c)
        self.actions = build_actions(c, max_splits)
        self.sub_ends = substation_ends(c)
        self._redispatchable = (c.gen_kind == DISPATCHABLE) & (np.arange(c.n_gen) != c.slack)
        self._slack_lo = float(c.gen_pmin[c.slack]) - SLACK_TOLERANCE_MW
        self._slack_hi = float(c.gen_pmax[c.slack]) + SLACK_TOLERANCE_MW
        self._init_action_lookup()

        nbr, ng, nl = c.n_branch, c.n_gen, c.n_load
        parts = [("rho", nbr), ("flow", nbr), ("status", nbr), ("load", nl), ("gen", ng),
                 ("bars", self.flow.n_ends), ("overflow", nbr), ("cooldown", nbr),
                 ("redispatch", ng), ("time", 2)]  # fmt: skip
        self.observation_slices: dict[str, slice] = {}
        start = 0
        for name, width in parts:
            self.observation_slices[name] = slice(start, start + width)
            start += width
        low = np.full(start, -np.inf, np.float32)
        high = np.full(start, np.inf, np.float32)
        for name, lo, hi in (("rho", 0, np.inf), ("status", 0, 1), ("load", 0, np.inf),
                             ("bars", 1, 2), ("overflow", 0, np.inf),
                             ("cooldown", 0, TRIP_COOLDOWN), ("time", -1, 1)):  # fmt: skip
            low[self.observation_slices[name]] = lo
            high[self.observation_slices[name]] = hi
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        if action_type == "discrete":
            self.action_space = spaces.Discrete(len(self.actions))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (ng,), dtype=np.float32)
        day = 2 * np.pi * np.arange(STEPS_PER_DAY) / STEPS_PER_DAY
        self._angle = np.stack([np.sin(day), np.cos(day)], axis=1)
        self.series: Series | None = None

    # -- actions --------------------------------------------------------------------------------
    def _init_action_lookup(self) -> None:
        """Per topology action, its substation and configuration number; per substation, the
        configuration number it has now (-1 when it matches none of the table's)."""
        a = self.actions
        self._topo_actions = np.flatnonzero(a.kind == TOPOLOGY)
        self._topo_sub = a.target[self._topo_actions]
        self._config_of: dict[int, dict[bytes, int]] = {}
        ids = np.zeros(len(self._topo_actions), np.int64)
        for j, act in enumerate(self._topo_actions):
            configs = self._config_of.setdefault(int(a.target[act]), {})
            ids[j] = configs.setdefault(a.bars[act].tobytes(), len(configs))
        self._topo_config = ids
        self._line_actions = np.flatnonzero((a.kind == DISCONNECT) | (a.kind == RECONNECT))
        self._redispatch_actions = r = np.flatnonzero(a.kind == REDISPATCH)
        g = self._redispatch_unit = a.target[r]
        self._redispatch_delta = a.delta[r]
        self._redispatch_lo = self.case.gen_pmin[g] - 1e-9
        self._redispatch_hi = self.case.gen_pmax[g] + 1e-9

    def describe_action(self, action: int) -> str:
        """A name for a discrete action ("disconnect line 3", "split substation 4: ...")."""
        return self.actions.describe(int(action))

    def action_masks(self) -> np.ndarray:
        """:meth:`action_mask` under sb3-contrib's name (MaskablePPO calls ``action_masks``)."""
        return self.action_mask()

    def action_mask(self) -> np.ndarray:
        """Which discrete actions are legal now (do nothing always is), in the table's block
        order: do nothing, disconnections, reconnections, substations, redispatch."""
        if self._mask_prefix is None:  # changes only with the topology and cooldowns
            self._mask_prefix = np.concatenate(
                [
                    (True,),
                    self.status,
                    ~self.status & (self.cooldown == 0),
                    self._topo_config != self.sub_config[self._topo_sub],
                ]
            )
        after = self.p[self._redispatch_unit] + self._redispatch_delta
        legal = (after >= self._redispatch_lo) & (after <= self._redispatch_hi)
        return np.concatenate([self._mask_prefix, legal])

    def _apply(self, action: Any) -> bool:
        """Apply an action to the grid's state; False if it was illegal (then nothing changed)."""
        c = self.case
        if self.action_type == "redispatch":
            arr = np.asarray(action, dtype=np.float64)
            if arr.shape != (c.n_gen,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"action must be a finite array of shape ({c.n_gen},) in "
                                 f"{self.action_space}, got {action!r}")  # fmt: skip
            if np.any(np.abs(arr) > 1.0 + 1e-6):
                raise ValueError(f"action {arr} is outside {self.action_space}")
            self.redispatch += np.where(self._redispatchable, arr * c.gen_ramp, 0.0)
            self._any_redispatch = True
            return True
        a = _discrete(action, self.action_space.n)
        if a == NOOP:
            return True
        if not self.action_mask()[a]:  # the mask of the last info: the state is the same
            return False
        kind, target = int(self.actions.kind[a]), int(self.actions.target[a])
        if kind == DISCONNECT:
            self.status[target] = False
            self._topology_changed = True
        elif kind == RECONNECT:
            self.status[target] = True
            self.overflow[target] = 0
            self._topology_changed = True
        elif kind == TOPOLOGY:
            self.bars[self.actions.ends[a]] = self.actions.bars[a]
            self.sub_config[target] = self._topo_config[np.searchsorted(self._topo_actions, a)]
            self._topology_changed = True
        else:
            self.redispatch[target] += self.actions.delta[a]
            self._any_redispatch = True
        return True

    # -- dynamics -------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        c = self.case
        if self.user_series is None:
            self.series = default_series(c, self.episode_steps + 1, self.np_random)
        else:
            load, available = self.user_series
            days = max((len(load) - self.episode_steps - 1) // STEPS_PER_DAY + 1, 1)
            start = int(self.np_random.integers(days)) * STEPS_PER_DAY
            self.series = Series(load[start:], available[start:], start % (7 * STEPS_PER_DAY))
        self.t = 0
        self.status = np.ones(c.n_branch, bool)
        self.bars = np.ones(self.flow.n_ends, np.int8)
        self.sub_config = np.zeros(c.n_bus, np.int64)  # configuration 0: merged
        self.cooldown = np.zeros(c.n_branch, np.int64)
        self.overflow = np.zeros(c.n_branch, np.int64)
        self.redispatch = np.zeros(c.n_gen)
        self._any_redispatch = False
        self._cooling = self._overflowing = False
        self._mask_prefix = None
        self.illegal_count = 0
        self._demand = self.series.load.sum(axis=1).tolist()
        self._renewable = self.series.available[:, self.dispatcher.renewable].tolist()
        self.market = self.dispatcher.step_one(self._demand[0], self._renewable[0])
        self._topology_changed = True
        self.game_over = ""
        self._solve(rules=False)
        if self.game_over:
            raise ValueError(
                f"the episode's first step is already lost ({self.game_over}): the grid cannot "
                f"serve row 0 of the series (load {self._demand[0]:.1f} MW); check the series "
                "and the case"
            )
        return self._observe(), self._info(False, None)

    def step(self, action: Any):
        if self.series is None:
            raise RuntimeError("call reset() before step()")
        if self.game_over:
            raise RuntimeError("the episode is over (game over): call reset()")
        legal = self._apply(action)
        self.illegal_count += not legal
        self.t += 1
        s = self.series
        self.market = self.dispatcher.step_one(
            self._demand[self.t], self._renewable[self.t], self.market
        )
        tripped = self._solve()
        if self.game_over:
            reward = -self.game_over_penalty
        else:
            margin = np.minimum(self.rho, 1.0)
            reward = float(self.status.sum() - (margin * margin * self.status).sum())
        terminated = bool(self.game_over)
        truncated = not terminated and self.t >= min(self.episode_steps, len(s) - 1)
        return self._observe(), reward, terminated, truncated, self._info(not legal, tripped)

    def _dispatch(self) -> None:
        """Actual outputs: the market plus redispatch (within limits), the slack balancing."""
        c = self.case
        p = self.market
        if self._any_redispatch:
            r = self._redispatchable
            p = p.copy()
            p[r] = np.minimum(np.maximum(p[r] + self.redispatch[r], c.gen_pmin[r]), c.gen_pmax[r])
            p[c.slack] = self.flow.slack_output(self.topo, p, self.series.load[self.t])
        elif self.topo.islanded:
            p = p.copy()
            p[c.slack] = self.flow.slack_output(self.topo, p, self.series.load[self.t])
        # else the market balances the whole grid already
        self.p = p

    def _solve(self, rules: bool = True) -> np.ndarray | None:
        """Power flow, then (with ``rules``; not at reset, as in Grid2Op) the overflow rules
        until no line trips (the cascade); returns which lines tripped (None: none). Sets
        ``game_over`` when the grid is lost. A line out of service carries no flow: rho 0."""
        c = self.case
        tripped = None
        if self._cooling:
            self.cooldown = np.maximum(self.cooldown - 1, 0)
            self._cooling = bool(self.cooldown.any())
            self._mask_prefix = None
        timers = self.overflow
        while True:
            if self._topology_changed:
                self.topo = self.flow.compile(self.status, self.bars)
                self._topology_changed = False
                self._mask_prefix = None
            self._dispatch()
            slack = float(self.p[c.slack])
            if self.topo.islanded:
                self.game_over = "islanded"
            elif not self._slack_lo <= slack <= self._slack_hi:
                self.game_over = "balance"
            self.flows = self.flow.flows(self.topo, self.p, self.series.load[self.t])
            self.rho = np.abs(self.flows) / c.branch_limit_mw
            self.max_rho = float(self.rho.max())
            if self.game_over or self.max_rho < 1.0 or not rules:
                break
            timers = timers + (self.rho >= 1.0)
            trip = self.status & ((self.rho > HARD_OVERFLOW) | (timers > OVERFLOW_ALLOWED))
            if not trip.any():
                break
            self.status = self.status & ~trip
            self._topology_changed = True
            tripped = trip if tripped is None else tripped | trip
            self.cooldown[trip] = TRIP_COOLDOWN
            self._cooling = True
        if self.max_rho < 1.0 or not rules:
            if self._overflowing:
                self.overflow = np.zeros(c.n_branch, np.int64)
                self._overflowing = False
        else:
            self.overflow = np.where(self.rho >= 1.0, timers, 0)
            self._overflowing = True
        return tripped

    # -- search state ---------------------------------------------------------------------------
    _STATE = (
        "t", "status", "bars", "sub_config", "cooldown", "overflow", "redispatch",
        "_any_redispatch", "illegal_count", "market", "topo", "p", "game_over", "flows", "rho",
        "max_rho", "_cooling", "_overflowing", "_topology_changed", "_mask_prefix",
    )  # fmt: skip

    def clone_state(self) -> dict:
        """A snapshot of the episode's state (the series is shared: it never changes within an
        episode), for a search or a one-step lookahead: ``restore_state`` puts it back."""
        if self.series is None:
            raise RuntimeError("call reset() before clone_state()")
        snap = {}
        for k in self._STATE:
            v = getattr(self, k)
            snap[k] = v.copy() if isinstance(v, np.ndarray) else v
        snap["series"] = self.series
        return snap

    def restore_state(self, state: dict) -> None:
        """Return to a state from :meth:`clone_state` (of this env's current episode or another;
        the snapshot stays usable)."""
        for k in self._STATE:
            v = state[k]
            setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)
        if self.series is not state["series"]:
            self.series = state["series"]
            self._demand = self.series.load.sum(axis=1).tolist()
            self._renewable = self.series.available[:, self.dispatcher.renewable].tolist()

    # -- observation ----------------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        c, t = self.case, self.t
        angle = self._angle[(self.series.start_step + t) % STEPS_PER_DAY]
        parts = (self.rho, self.flows / c.base_mva, self.status, self.series.load[t] / c.base_mva,
                 self.p / c.base_mva, self.bars, self.overflow, self.cooldown,
                 self.redispatch / c.base_mva, angle)  # fmt: skip
        return np.concatenate(parts, dtype=np.float32, casting="unsafe")

    def _info(self, illegal: bool, tripped: np.ndarray | None) -> dict:
        c = self.case
        info = {
            "illegal": illegal,
            "illegal_count": self.illegal_count,
            "tripped": np.zeros(c.n_branch, bool) if tripped is None else tripped,
            "max_rho": self.max_rho,
            "game_over": self.game_over,
        }
        if self.action_type == "discrete":
            info["action_mask"] = self.action_mask()
        return info

    # -- render ---------------------------------------------------------------------------------
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; pass render_mode at make")
            return None
        from sige_rl.envs.power_grid.render import render_ansi, render_rgb

        if self.render_mode == "ansi":
            return render_ansi(self)
        return render_rgb(self)


def _discrete(action: Any, n: int) -> int:
    """``action`` as an int in ``[0, n)``; ``ValueError`` otherwise."""
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (int, np.integer)) and not isinstance(action, bool) and 0 <= action < n:
        return int(action)
    raise ValueError(f"action {action!r} is not in Discrete({n}): an int in [0, {n})")
