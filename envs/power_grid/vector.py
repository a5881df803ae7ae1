"""N power grids stepped together in numpy, equal step for step to SyncVectorEnv of PowerGridEnv."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space

from sige_rl.envs.power_grid.actions import DISCONNECT, NOOP, RECONNECT, REDISPATCH, TOPOLOGY
from sige_rl.envs.power_grid.env import (
    HARD_OVERFLOW,
    OVERFLOW_ALLOWED,
    SLACK_TOLERANCE_MW,
    TRIP_COOLDOWN,
    PowerGridEnv,
)
from sige_rl.envs.power_grid.flow import Topology
from sige_rl.envs.power_grid.series import STEPS_PER_DAY, default_series
from sige_rl.envs.vector_common import check_sizes, env_seeds, reset_mask

GAME_OVER_NAMES = ("", "islanded", "balance")  # info["game_over"] by code 0, 1, 2

# Python's built-in sum() of floats, which Dispatcher.step_one uses: left to right before 3.12,
# compensated (Neumaier) from 3.12 on. The batched market reproduces whichever this one does.
_COMPENSATED_SUM = sum([1e16, 1.0, -1e16]) != 0.0


def _pysum(x: np.ndarray) -> np.ndarray:
    """``sum(row)`` of Python floats for each row of ``x`` (G, k), bit for bit."""
    if not _COMPENSATED_SUM:
        if x.shape[1] <= 8:  # column by column is faster on short rows
            total = x[:, 0]
            for j in range(1, x.shape[1]):
                total = total + x[:, j]
            return total
        return np.cumsum(x, axis=1)[:, -1]  # accumulate is strictly left to right
    total = np.zeros(len(x))
    comp = np.zeros(len(x))
    for j in range(x.shape[1]):
        v = x[:, j]
        t = total + v
        comp += np.where(np.abs(total) >= np.abs(v), (total - t) + v, (v - t) + total)
        total = t
    return np.where((comp != 0) & np.isfinite(comp), total + comp, total)


class _GridView:
    """One sub-env's state under the attribute names ``render.py`` reads from a PowerGridEnv."""

    def __init__(self, vec: PowerGridVectorEnv, i: int):
        self.case, self.flow = vec.case, vec.flow
        self.t = int(vec._t[i])
        self.series = _SeriesView(vec._load[i], int(vec._start[i]))
        self.status, self.bars = vec._status[i], vec._bars[i]
        self.rho, self.flows = vec._rho[i], vec._flows[i]
        self.overflow, self.cooldown = vec._overflow[i], vec._cooldown[i]
        self.game_over = GAME_OVER_NAMES[vec._code[i]]


class _SeriesView:
    def __init__(self, load: np.ndarray, start_step: int):
        self.load, self.start_step = load, start_step


class PowerGridVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :class:`sige_rl.envs.power_grid.env.PowerGridEnv` stepped in numpy.

    ``PowerGridVectorEnv(num_envs, max_episode_steps=None, render_mode=None, **env_kwargs)``,
    where ``env_kwargs`` are PowerGridEnv's (``case``, ``action_type``, ``episode_steps``,
    ``series``, ``game_over_penalty``, ``max_splits``); normally built by
    ``gym.make_vec("sige/PowerGrid14-v0", num_envs=N, vectorization_mode="vector_entry_point")``,
    which passes the registered kwargs and ``max_episode_steps``.

    ## Semantics
    Those of ``SyncVectorEnv`` over ``gym.make(id, **kwargs)`` (``TimeLimit(PowerGridEnv)``) with
    ``AutoresetMode.NEXT_STEP``, bit for bit: the same ``float32`` observations, rewards,
    ``terminated`` (a game over), ``truncated`` (the env's own end at ``episode_steps`` or at the
    end of a user's series, and ``TimeLimit`` at ``max_episode_steps``, even on a step that
    terminates) and infos (``illegal``, ``illegal_count``, ``tripped``, ``max_rho``,
    ``game_over`` as an object array of str, and ``action_mask`` for the discrete action type),
    batched as SyncVectorEnv batches dict infos, each with its ``_key`` mask. On the step after a
    sub-env terminated or was truncated it is reset instead (reset observation and infos, reward
    0, not terminated, not truncated, its action ignored). ``reset(seed=s)`` seeds sub-env ``i``
    with ``s + i``, a list gives one seed per sub-env, ``None`` draws entropy (or keeps the
    generator of a sub-env seeded before); ``options={"reset_mask": mask}`` resets only some.
    Each sub-env owns a ``np.random.Generator`` made as ``Env.reset(seed=)`` makes
    ``np_random`` and drawn from exactly as PowerGridEnv draws (the default series; the start
    day of a user's series), so equal seeds and actions give equal episodes.

    ## How
    All grids are stepped together in numpy: the market's dispatch (``Dispatcher.step_one``'s
    arithmetic on (N, n_units) arrays, in the same order, so that it rounds the same), the
    redispatch, the slack's balance, the power flows, the overflow rules, the
    reward, the observation and the action mask. Each sub-env holds the ``Topology`` that
    ``DCPowerFlow.compile`` gives for its line status and bus bars (compiled again only when those
    change; the template env's cache is shared); the grids on one topology share one stacked
    product ``matrix @ x[:, :, None]`` (a BLAS matrix-vector product per grid, as
    ``DCPowerFlow.flows`` does: a matrix-matrix product would round differently). Only topology
    changes, cascades (in rounds over the grids still tripping) and resets (a series per sub-env,
    drawn from its own generator) work grid by grid.

    ## Attributes
    ``template``: the PowerGridEnv whose case, power flow, action table and spaces every sub-env
    uses (``template.describe_action(a)``, also :meth:`describe_action`); ``observation_slices``,
    ``case``, ``flow``, ``action_type``, ``episode_steps``, ``max_episode_steps`` as there.

    ## Differences from SyncVectorEnv
    Every action is checked, also those of sub-envs being autoreset (an invalid one raises
    ``ValueError``). ``max_episode_steps=-1`` means no ``TimeLimit``, as in ``gym.make``. Seeds
    may be numpy ints. ``reset(options=...)`` does not remove ``reset_mask`` from the caller's
    dict. A ``reset_mask`` before the first full reset raises ``RuntimeError`` (SyncVectorEnv
    would return zero observations for the sub-envs never reset). There is no ``envs``
    attribute, ``call`` or ``get_attr``. ``render()`` returns one frame (or text) per sub-env, as
    SyncVectorEnv does, drawn by ``render.py`` from a view of that grid's state.
    """

    metadata = {
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 4,
        "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP,
        "reset_mask": True,
    }

    def __init__(
        self,
        num_envs: int,
        *,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ):
        num_envs, max_episode_steps = check_sizes(num_envs, max_episode_steps)
        # The template: case, flow (and its topology cache), dispatcher, actions, spaces.
        self.template = env = PowerGridEnv(render_mode=render_mode, **env_kwargs)
        self.case = c = env.case
        self.flow = env.flow
        self.num_envs = n = num_envs
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.action_type = env.action_type
        self.episode_steps = env.episode_steps
        self.game_over_penalty = env.game_over_penalty
        self.observation_slices = env.observation_slices

        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, n)
        self.action_space = batch_space(env.action_space, n)

        # the market (Dispatcher.step_one on rows)
        d = env.dispatcher
        m = d.merit
        self._merit, self._renewable = m, d.renewable
        self._merit_pmin, self._merit_pmax = c.gen_pmin[m], c.gen_pmax[m]
        self._merit_ramp = d.ramp[m]
        self._first_room_sub = sum(self._merit_pmin.tolist())  # sum(lo) on the first step
        self._shunt = d.shunt
        self._slack = c.slack
        self._is_redispatchable = env._redispatchable
        self._redispatchable = np.flatnonzero(env._redispatchable)
        self._ramp = c.gen_ramp
        self._limit = c.branch_limit_mw
        self._angle = env._angle

        # the discrete actions as tables
        a = env.actions
        self._kind, self._target, self._delta = a.kind, a.target, a.delta
        self._config_of_action = np.full(len(a), -1, np.int64)
        self._config_of_action[env._topo_actions] = env._topo_config
        width = max((len(e) for e in a.ends if e is not None), default=1)
        self._ends_pad = np.zeros((len(a), width), np.int64)  # padded with the first end
        self._bars_pad = np.ones((len(a), width), np.int8)
        for act in env._topo_actions:
            ends, bars = a.ends[act], a.bars[act]
            self._ends_pad[act] = np.concatenate([ends, np.full(width - len(ends), ends[0])])
            self._bars_pad[act] = np.concatenate([bars, np.full(width - len(bars), bars[0])])
        self._topo_sub, self._topo_config = env._topo_sub, env._topo_config
        self._rd_unit, self._rd_delta = env._redispatch_unit, env._redispatch_delta
        self._rd_lo, self._rd_hi = env._redispatch_lo, env._redispatch_hi
        self._slack_lo = float(c.gen_pmin[c.slack]) - SLACK_TOLERANCE_MW
        self._slack_hi = float(c.gen_pmax[c.slack]) + SLACK_TOLERANCE_MW

        # compiled topologies by id; each sub-env holds an id (self._tid)
        self._topos: list[Topology] = []
        self._registry_limit = max(self.flow.cache_size, 2 * n)  # then unused ones are dropped
        self._topo_ids: dict[bytes, int] = {}
        self._topo_islanded = np.zeros(16, bool)
        self._topo_shunt = np.zeros(16)

        # series, one row per sub-env (rows past a sub-env's last step are never read)
        steps = self.episode_steps + 1
        self._load = np.zeros((n, steps, c.n_load))
        self._demand = np.zeros((n, steps))
        self._renew = np.zeros((n, steps, len(self._renewable)))
        self._start = np.zeros(n, np.int64)  # step of the week of row 0
        self._last_t = np.zeros(n, np.int64)  # the env truncates at t >= this
        if env.user_series is not None:
            self._user_demand = env.user_series[0].sum(axis=1)  # as the env's rows sum

        # the grids' state
        nbr, ng = c.n_branch, c.n_gen
        self._t = np.zeros(n, np.int64)
        self._status = np.ones((n, nbr), bool)
        self._bars = np.ones((n, self.flow.n_ends), np.int8)
        self._sub_config = np.zeros((n, c.n_bus), np.int64)
        self._cooldown = np.zeros((n, nbr), np.int64)
        self._cooling = np.zeros(n, bool)  # a cooldown is running
        self._overflow = np.zeros((n, nbr), np.int64)
        self._redispatch = np.zeros((n, ng))
        self._any_redispatch = np.zeros(n, bool)
        self._illegal_count = np.zeros(n, np.int64)
        self._market = np.zeros((n, ng))
        self._p = np.zeros((n, ng))
        self._load_now = np.zeros((n, c.n_load))
        self._flows = np.zeros((n, nbr))
        self._rho = np.zeros((n, nbr))
        self._max_rho = np.zeros(n)
        self._code = np.zeros(n, np.int8)  # GAME_OVER_NAMES index
        self._tid = np.zeros(n, np.int64)
        self._changed = np.ones(n, bool)  # the topology must be compiled again
        # the action mask now, in the table's blocks: do nothing, disconnections, reconnections,
        # substations, redispatch (PowerGridEnv.action_mask's order)
        self._discrete = self.action_type == "discrete"
        n_topo, n_rd = len(env._topo_actions), len(env._redispatch_actions)
        self._disconnect_cols = slice(1, 1 + nbr)
        self._reconnect_cols = slice(1 + nbr, 1 + 2 * nbr)
        self._topology_cols = slice(1 + 2 * nbr, 1 + 2 * nbr + n_topo)
        self._redispatch_cols = slice(1 + 2 * nbr + n_topo, 1 + 2 * nbr + n_topo + n_rd)
        for kind, cols in (
            (DISCONNECT, self._disconnect_cols),
            (RECONNECT, self._reconnect_cols),
            (TOPOLOGY, self._topology_cols),
            (REDISPATCH, self._redispatch_cols),
        ):
            assert (a.kind[cols] == kind).all() and cols.stop - cols.start == (a.kind == kind).sum()
        self._mask = np.zeros((n, len(a)), bool)
        self._mask[:, 0] = True
        self._configs_changed = np.ones(n, bool)

        self._rngs: list[np.random.Generator | None] = [None] * n
        self._started = False
        self._autoreset = np.zeros(n, bool)
        self._all = np.arange(n)
        self._all_true = np.ones(n, bool)
        self._names = np.array(GAME_OVER_NAMES, dtype=object)

    # -- API ------------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        n = self.num_envs
        seeds = env_seeds(seed, n)
        mask = reset_mask(options, n)
        if mask is None:
            mask = self._all_true
        elif not self._started and not mask.all():
            raise RuntimeError("call reset() without a reset_mask first")
        for i in np.flatnonzero(mask):
            if seeds[i] is not None:
                self._rngs[i], _ = seeding.np_random(int(seeds[i]))
        idx = np.flatnonzero(mask)
        self._reset_grids(idx)
        self._started = True
        self._autoreset[idx] = False
        self._update_mask()

        infos: dict[str, Any] = {}
        zero = np.zeros(n, bool)
        m = mask.copy()
        self._add(infos, "illegal", zero, m)
        self._add(infos, "illegal_count", np.zeros(n, np.int64), m)
        self._add(infos, "tripped", np.zeros((n, self.case.n_branch), bool), m)
        self._add(infos, "max_rho", np.where(mask, self._max_rho, 0.0), m)
        names = np.full(n, None, dtype=object)
        names[idx] = self._names[self._code[idx]]
        self._add(infos, "game_over", names, m)
        if self._discrete:
            self._add(infos, "action_mask", self._mask & mask[:, None], m)
        return self._observations(), infos

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        n = self.num_envs
        auto = self._autoreset
        resetting = auto.any()
        illegal = np.zeros(n, bool)
        if self._discrete:
            a = self._checked_discrete(actions)
            self._apply_discrete(a, auto, illegal)
        else:
            arr = self._checked_box(actions)
            move = np.where(self._is_redispatchable, arr * self._ramp, 0.0)
            if resetting:
                move[auto] = 0.0
            self._redispatch += move
            self._any_redispatch |= ~auto
        self._illegal_count += illegal

        # Every grid steps, those to be reset too (their actions not applied, their clock held,
        # their results dropped): one pass over all rows is cheaper than one over the others.
        t = self._t + 1
        if resetting:
            t[auto] -= 1
        self._t = t
        self._market = self._dispatch_market(
            self._demand[self._all, t], self._renew[self._all, t], self._market
        )
        tripped = self._solve(slice(None), self._all)
        if tripped is None:
            tripped = np.zeros((n, self.case.n_branch), bool)
        status = self._status
        margin = np.minimum(self._rho, 1.0)
        reward = status.sum(axis=1) - (margin * margin * status).sum(axis=1)
        terminated = self._code != 0
        reward[terminated] = -self.game_over_penalty
        truncated = ~terminated & (t >= self._last_t)
        if self.max_episode_steps is not None:
            truncated |= t >= self.max_episode_steps
        if resetting:  # instead: reset, reward 0, neither flag, no trip
            reward[auto] = 0.0
            terminated[auto] = truncated[auto] = tripped[auto] = False
            self._reset_grids(np.flatnonzero(auto))
        self._autoreset = terminated | truncated
        self._update_mask()

        infos: dict[str, Any] = {}
        every = self._all_true
        self._add(infos, "illegal", illegal, every.copy())
        self._add(infos, "illegal_count", self._illegal_count.copy(), every.copy())
        self._add(infos, "tripped", tripped, every.copy())
        self._add(infos, "max_rho", self._max_rho.copy(), every.copy())
        self._add(infos, "game_over", self._names[self._code], every.copy())
        if self._discrete:
            self._add(infos, "action_mask", self._mask.copy(), every.copy())
        return self._observations(), reward, terminated, truncated, infos

    def describe_action(self, action: int) -> str:
        """A name for a discrete action (see ``PowerGridEnv.describe_action``)."""
        return self.template.describe_action(action)

    def render(self) -> tuple[Any, ...] | None:
        """One frame per sub-env: text for ``"ansi"``, ``uint8`` images for ``"rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; pass render_mode at make_vec")
            return None
        if not self._started:
            raise RuntimeError("call reset() before render()")
        from sige_rl.envs.power_grid.render import render_ansi, render_rgb

        draw = render_ansi if self.render_mode == "ansi" else render_rgb
        return tuple(draw(_GridView(self, i)) for i in range(self.num_envs))

    # -- actions --------------------------------------------------------------------------------

    def _checked_discrete(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        n_actions = self.single_action_space.n
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be {self.num_envs} ints, each in the single action space "
                f"{self.single_action_space} (batched: {self.action_space}); got {actions!r}"
            )
        bad = (a < 0) | (a >= n_actions)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"action {a[i]!r} of sub-env {i} is not in Discrete({n_actions}): "
                f"an int in [0, {n_actions})"
            )
        return a.astype(np.int64, copy=False)

    def _checked_box(self, actions: Any) -> np.ndarray:
        arr = np.asarray(actions, dtype=np.float64)
        ng = self.case.n_gen
        if arr.shape != (self.num_envs, ng) or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"actions must be a finite array of shape ({self.num_envs}, {ng}), each row in "
                f"{self.single_action_space}; got {actions!r}"
            )
        bad = np.abs(arr) > 1.0 + 1e-6
        if bad.any():
            i = int(np.flatnonzero(bad.any(axis=1))[0])
            raise ValueError(
                f"action {arr[i]} of sub-env {i} is outside {self.single_action_space}"
            )
        return arr

    def _apply_discrete(self, a: np.ndarray, auto: np.ndarray, illegal: np.ndarray) -> None:
        """Apply the legal actions of the sub-envs that step; flag the illegal ones."""
        kind = self._kind[a]
        act = (kind != NOOP) & ~auto
        if not act.any():
            return
        rows = np.flatnonzero(act)
        legal = self._mask[rows, a[rows]]
        illegal[rows[~legal]] = True
        rows, a, kind = rows[legal], a[rows[legal]], kind[rows[legal]]
        target = self._target[a]
        self._changed[rows[kind != REDISPATCH]] = True
        k = kind == DISCONNECT
        self._status[rows[k], target[k]] = False
        k = kind == RECONNECT
        self._status[rows[k], target[k]] = True
        self._overflow[rows[k], target[k]] = 0
        k = kind == TOPOLOGY
        if k.any():
            self._bars[rows[k][:, None], self._ends_pad[a[k]]] = self._bars_pad[a[k]]
            self._sub_config[rows[k], target[k]] = self._config_of_action[a[k]]
            self._configs_changed[rows[k]] = True
        k = kind == REDISPATCH
        if k.any():
            self._redispatch[rows[k], target[k]] += self._delta[a[k]]
            self._any_redispatch[rows[k]] = True

    def _update_mask(self) -> None:
        """``PowerGridEnv.action_mask()`` of every sub-env into ``self._mask`` (the substations'
        part only for the sub-envs whose configurations changed)."""
        if not self._discrete:
            return
        m, status = self._mask, self._status
        m[:, self._disconnect_cols] = status
        m[:, self._reconnect_cols] = ~status & (self._cooldown == 0)
        rows = np.flatnonzero(self._configs_changed)
        if len(rows):
            m[rows, self._topology_cols] = (
                self._topo_config != self._sub_config[rows][:, self._topo_sub]
            )
            self._configs_changed[rows] = False
        after = self._p[:, self._rd_unit] + self._rd_delta
        m[:, self._redispatch_cols] = (after >= self._rd_lo) & (after <= self._rd_hi)

    # -- dynamics -------------------------------------------------------------------------------

    def _rng(self, i: int) -> np.random.Generator:
        if self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random()
        return self._rngs[i]

    def _reset_grids(self, idx: np.ndarray) -> None:
        """``PowerGridEnv.reset()`` (after seeding) of the sub-envs ``idx``."""
        c, steps = self.case, self.episode_steps
        user = self.template.user_series
        for i in idx:
            rng = self._rng(i)
            if user is None:
                s = default_series(c, steps + 1, rng)
                self._load[i] = s.load
                self._demand[i] = s.load.sum(axis=1)
                self._renew[i] = s.available[:, self._renewable]
                self._start[i] = s.start_step
                self._last_t[i] = min(steps, len(s) - 1)
            else:
                load, available = user
                days = max((len(load) - steps - 1) // STEPS_PER_DAY + 1, 1)
                start = int(rng.integers(days)) * STEPS_PER_DAY
                rows = min(len(load) - start, steps + 1)
                self._load[i, :rows] = load[start : start + rows]
                self._demand[i, :rows] = self._user_demand[start : start + rows]
                self._renew[i, :rows] = available[start : start + rows, self._renewable]
                self._start[i] = start % (7 * STEPS_PER_DAY)
                self._last_t[i] = min(steps, len(load) - start - 1)
        self._t[idx] = 0
        self._status[idx] = True
        self._bars[idx] = 1
        self._sub_config[idx] = 0
        self._configs_changed[idx] = True
        self._cooldown[idx] = 0
        self._cooling[idx] = False
        self._overflow[idx] = 0
        self._redispatch[idx] = 0.0
        self._any_redispatch[idx] = False
        self._illegal_count[idx] = 0
        self._code[idx] = 0
        self._changed[idx] = True
        self._market[idx] = self._dispatch_market(self._demand[idx, 0], self._renew[idx, 0], None)
        self._solve(idx, idx, rules=False)
        lost = np.flatnonzero(self._code[idx])
        if len(lost):  # PowerGridEnv.reset's error
            i = int(idx[lost[0]])
            raise ValueError(
                f"sub-env {i}: the episode's first step is already lost "
                f"({GAME_OVER_NAMES[self._code[i]]}): the grid cannot serve row 0 of the series "
                f"(load {self._demand[i, 0]:.1f} MW); check the series and the case"
            )

    def _dispatch_market(
        self, demand: np.ndarray, renew: np.ndarray, prev: np.ndarray | None
    ) -> np.ndarray:
        """``Dispatcher.step_one`` for each row, with its exact arithmetic (sums and the merit
        order's fill in the same order: another order differs in the last bits)."""
        demand = demand + self._shunt
        m = self._merit
        if prev is None:
            lo = np.broadcast_to(self._merit_pmin, (len(demand), len(m)))
            hi = np.broadcast_to(self._merit_pmax, lo.shape)
            room = demand - self._first_room_sub
        else:
            before = prev[:, m]
            lo = np.maximum(self._merit_pmin, before - self._merit_ramp)
            hi = np.maximum(np.minimum(self._merit_pmax, before + self._merit_ramp), lo)
            room = demand - _pysum(lo)
        if renew.shape[1]:
            total = _pysum(renew)
            cut = (total > room) & (total > 0)
            if cut.any():
                scale = np.where(cut, np.maximum(room, 0.0) / np.where(cut, total, 1.0), 1.0)
                renew = renew * scale[:, None]
            rest = room - _pysum(renew)
        else:
            rest = room - 0.0
        head = hi - lo
        # step_one fills the merit order keeping `rest -= add`; while a unit saturates that is
        # rest minus the heads so far, and once one does not, every later add is 0 either way.
        left = np.subtract.accumulate(np.concatenate([rest[:, None], head], axis=1), axis=1)
        add = np.minimum(np.maximum(left[:, :-1], 0.0), head)
        out = np.zeros((len(demand), self.case.n_gen))
        out[:, m] = lo + add
        out[:, self._renewable] = renew
        out[:, self._slack] = 0.0
        out[:, self._slack] = demand - _pysum(out)
        return out

    def _topology_id(self, topo: Topology) -> int:
        tid = self._topo_ids.get(topo.key)
        if tid is None or self._topos[tid] is not topo:
            if tid is None:
                tid = len(self._topos)
                self._topos.append(topo)
                self._topo_ids[topo.key] = tid
                if tid >= len(self._topo_islanded):
                    self._topo_islanded = np.resize(self._topo_islanded, 2 * tid)
                    self._topo_shunt = np.resize(self._topo_shunt, 2 * tid)
            self._topos[tid] = topo  # the same key compiled again: the same matrices
            self._topo_islanded[tid] = topo.islanded
            self._topo_shunt[tid] = topo.shunt_mw
        return tid

    def _compile(self, idx: np.ndarray) -> None:
        """Give the sub-envs ``idx`` the topologies of their status and bus bars."""
        if len(self._topos) > self._registry_limit:  # forget the topologies no sub-env holds
            keep = np.unique(self._tid)
            self._tid = np.searchsorted(keep, self._tid)
            self._topos = [self._topos[k] for k in keep]
            self._topo_ids = {t.key: j for j, t in enumerate(self._topos)}
            self._topo_islanded = self._topo_islanded[keep]
            self._topo_shunt = self._topo_shunt[keep]
        for i in idx:
            self._tid[i] = self._topology_id(self.flow.compile(self._status[i], self._bars[i]))
        self._changed[idx] = False

    def _solve(
        self, sel: slice | np.ndarray, live: np.ndarray, rules: bool = True
    ) -> np.ndarray | None:
        """``PowerGridEnv._solve`` for the sub-envs ``sel`` (a slice over all or the indices
        ``live``): cooldowns, flows, then (with ``rules``; not at reset) the overflow rules and
        cascades. Returns ``tripped`` (G, n_branch), None if no line tripped."""
        cooling = self._cooling[sel]
        if cooling.any():
            rows = live[cooling]
            cooldown = np.maximum(self._cooldown[rows] - 1, 0)
            self._cooldown[rows] = cooldown
            self._cooling[rows] = cooldown.any(axis=1)
        changed = self._changed[sel]
        if changed.any():
            self._compile(live[changed])
        load = self._load[live, self._t[sel]]
        self._load_now[sel] = load
        p, code, flows, rho, max_rho = self._grid_state(sel, load)
        timers = self._overflow[sel]  # written in place below: the rows end overwritten anyway
        tripped = None
        if rules:
            rows = np.flatnonzero(~(max_rho < 1.0) & (code == 0))
            while len(rows):  # the overflow rules, then cascades, over the grids still going
                grids = live[rows]
                rho_r = rho[rows]
                timers_r = timers[rows] + (rho_r >= 1.0)
                timers[rows] = timers_r
                cut = self._status[grids] & (
                    (rho_r > HARD_OVERFLOW) | (timers_r > OVERFLOW_ALLOWED)
                )
                k = cut.any(axis=1)
                if not k.any():
                    break
                rows, grids, cut = rows[k], grids[k], cut[k]
                self._status[grids] &= ~cut
                if tripped is None:
                    tripped = np.zeros(rho.shape, bool)
                    p = p.copy()  # it may be a view of the market
                tripped[rows] |= cut
                cooldown = self._cooldown[grids]
                cooldown[cut] = TRIP_COOLDOWN
                self._cooldown[grids] = cooldown
                self._cooling[grids] = True
                self._compile(grids)
                p_r, code_r, flows_r, rho_r, max_r = self._grid_state(grids, load[rows])
                p[rows], code[rows], flows[rows], rho[rows], max_rho[rows] = (
                    p_r, code_r, flows_r, rho_r, max_r)  # fmt: skip
                rows = rows[~(max_r < 1.0) & (code_r == 0)]
            self._overflow[sel] = np.where(rho >= 1.0, timers, 0)
        else:
            self._overflow[sel] = 0
        self._p[sel], self._code[sel], self._flows[sel] = p, code, flows
        self._rho[sel], self._max_rho[sel] = rho, max_rho
        return tripped

    def _grid_state(self, sel: slice | np.ndarray, load: np.ndarray) -> tuple[np.ndarray, ...]:
        """Outputs, game-over codes, flows, rho and max rho of the sub-envs ``sel``."""
        p, code = self._dispatch(sel, load)
        flows = self._power_flows(self._tid[sel], p, load)
        rho = np.abs(flows) / self._limit
        max_rho = np.ascontiguousarray(rho.T).max(axis=0)  # faster than a max along rows
        return p, code, flows, rho, max_rho

    def _dispatch(self, sel: slice | np.ndarray, load: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``PowerGridEnv._dispatch`` and its game-over checks for the sub-envs ``sel``: outputs
        (G, n_gen) and game-over codes (G,)."""
        market = self._market[sel]
        tid = self._tid[sel]
        islanded = self._topo_islanded[tid]
        redispatched = self._any_redispatch[sel]
        rebalance = redispatched | islanded
        if not rebalance.any():
            p = market  # the market balances the whole grid already
        else:
            p = market.copy()
            slack = self._slack
            rows = np.flatnonzero(redispatched)
            if len(rows):
                r = self._redispatchable
                cols = np.ix_(rows, r)
                p[cols] = np.minimum(
                    np.maximum(p[cols] + self._redispatch[sel][cols], self.case.gen_pmin[r]),
                    self.case.gen_pmax[r],
                )
            # DCPowerFlow.slack_output; on a connected grid every element is energised
            rows = np.flatnonzero(rebalance & ~islanded)
            if len(rows):
                pr = p[rows]
                others = pr.sum(axis=1) - pr[:, slack]
                p[rows, slack] = (load[rows].sum(axis=1) + self._topo_shunt[tid[rows]]) - others
            for j in np.flatnonzero(islanded):  # a game over anyway
                p[j, slack] = self.flow.slack_output(self._topos[tid[j]], p[j], load[j])
        s = p[:, self._slack]
        code = np.where(
            islanded, 1, np.where((s >= self._slack_lo) & (s <= self._slack_hi), 0, 2)
        ).astype(np.int8)
        return p, code

    def _power_flows(self, tid: np.ndarray, p: np.ndarray, load: np.ndarray) -> np.ndarray:
        """Branch flows (G, n_branch) of grids on topologies ``tid``: one product per distinct
        topology. A stacked matrix-vector product (``matrix @ x[:, :, None]``, BLAS gemv per
        grid) rather than one matrix-matrix product: gemm rounds differently from the gemv of
        ``DCPowerFlow.flows`` in the last bits, and the observations must be equal bit for bit."""
        x = np.concatenate([p, load], axis=1)[:, :, None]
        first = tid[0]
        if (tid == first).all():
            topo = self._topos[first]
            return np.matmul(topo.matrix, x)[:, :, 0] + topo.offset
        out = np.empty((len(tid), self.case.n_branch))
        order = np.argsort(tid, kind="stable")
        bounds = np.flatnonzero(np.diff(tid[order])) + 1
        for group in np.split(order, bounds):
            topo = self._topos[tid[group[0]]]
            out[group] = np.matmul(topo.matrix, x[group])[:, :, 0] + topo.offset
        return out

    # -- observation and infos ------------------------------------------------------------------

    def _observations(self) -> np.ndarray:
        c, s = self.case, self.observation_slices
        obs = np.empty((self.num_envs, s["time"].stop), np.float32)
        base = c.base_mva
        obs[:, s["rho"]] = self._rho
        obs[:, s["flow"]] = self._flows / base
        obs[:, s["status"]] = self._status
        obs[:, s["load"]] = self._load_now / base
        obs[:, s["gen"]] = self._p / base
        obs[:, s["bars"]] = self._bars
        obs[:, s["overflow"]] = self._overflow
        obs[:, s["cooldown"]] = self._cooldown
        obs[:, s["redispatch"]] = self._redispatch / base
        obs[:, s["time"]] = self._angle[(self._start + self._t) % STEPS_PER_DAY]
        return obs

    @staticmethod
    def _add(infos: dict, key: str, value: np.ndarray, mask: np.ndarray) -> None:
        infos[key] = value
        infos[f"_{key}"] = mask
