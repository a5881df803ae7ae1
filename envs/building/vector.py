"""N buildings stepped together in numpy, equal step for step to SyncVectorEnv of
BuildingHVACEnv."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space

from sige_rl.envs.building import series
from sige_rl.envs.building.env import (
    DISCRETE_SETPOINTS,
    FORECAST_STEPS,
    BuildingHVACEnv,
)
from sige_rl.envs.building.series import (
    STEP_HOURS,
    STEPS_PER_DAY,
    STEPS_PER_WEEK,
    Weather,
)
from sige_rl.envs.building.thermal import cooling_eer, heating_cop
from sige_rl.envs.vector_common import check_sizes, env_seeds, reset_mask

# BuildingHVACEnv.step's info keys, in its order (SyncVectorEnv keeps the first env's order).
INFO_KEYS = (
    "energy_kwh",
    "cost_eur",
    "violation_kh",
    "indoor_c",
    "envelope_c",
    "heat_kw",
    "power_kw",
    "cop",
    "heat_in_kwh",
    "heat_loss_kwh",
    "stored_kwh",
)
# columns of the input tables (float64): by step of the episode's weather, and by schedule row
_TA, _SUN, _COP, _EER = range(4)
_GAIN, _PRICE, _LOW, _HIGH = range(4)
_RESET_CHUNK = 32  # sub-envs whose weather is generated together
_N_OBS = 13  # indoor, envelope, outdoor, solar (by weather row), then 9 by schedule row


class _BuildingView:
    """One sub-env's state under the attribute names ``render.py`` reads from BuildingHVACEnv."""

    clock = BuildingHVACEnv.clock

    def __init__(self, vec: BuildingHVACVectorEnv, i: int):
        self.params = vec.params
        self.episode_steps = vec.episode_steps
        self._rows = rows = int(vec._n_rows[i])
        ebase, sbase = int(vec._ebase[i]), int(vec._sbase[i])
        self.t = int(vec._erow[i]) - ebase
        weather = vec._weather_in[ebase : ebase + rows]
        schedule = vec._sched_in[sbase : sbase + rows]
        self._outdoor = weather[:, _TA].tolist()
        self._low, self._high = schedule[:, _LOW].tolist(), schedule[:, _HIGH].tolist()
        self._price = schedule[:, _PRICE].tolist()
        self.indoor, self.envelope = vec._state[:, i].tolist()
        self._last = tuple(vec._last[i].tolist())
        self.history = [tuple(h) for h in vec._history[i, : self.t + 1].tolist()]
        self.weather = Weather(*([np.zeros(1)] * 4), start_step=int(vec._start_step[i]))


class BuildingHVACVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :class:`sige_rl.envs.building.env.BuildingHVACEnv` stepped in numpy.

    ``BuildingHVACVectorEnv(num_envs, max_episode_steps=None, render_mode=None, **env_kwargs)``,
    where ``env_kwargs`` are BuildingHVACEnv's (``climate``, ``season``, ``building``,
    ``episode_days``, ``weather``, ``params``, ``energy_weight``, ``setback_k``,
    ``action_type``), checked by building one BuildingHVACEnv (:attr:`template`); normally
    built by ``gym.make_vec("sige/BuildingHVAC-v0", num_envs=N,
    vectorization_mode="vector_entry_point")`` (or the Discrete id), which passes the registered
    kwargs and ``max_episode_steps``.

    ## Semantics
    Those of ``SyncVectorEnv`` over ``gym.make(id, **kwargs)`` with ``AutoresetMode.NEXT_STEP``,
    bit for bit: the same ``float32`` observations, ``float64`` rewards, ``terminated`` (never),
    ``truncated`` (the env's own end after ``episode_days``, or ``TimeLimit`` at
    ``max_episode_steps``) and the step's infos (``energy_kwh``, ``cost_eur``, ...,
    ``stored_kwh``, ``float64``), batched as SyncVectorEnv batches them, each with its ``_key``
    mask; the reset infos are empty, as the env's. On the step after a sub-env was truncated it
    is reset instead (reset observation, reward 0, not truncated, no infos: their masks False,
    and no keys at all when every sub-env resets). ``reset(seed=s)`` seeds sub-env ``i`` with
    ``s + i``, a list gives one seed per sub-env, ``None`` draws entropy (or keeps the generator
    of a sub-env seeded before); ``options={"reset_mask": mask}`` resets only some. Each sub-env
    owns a ``np.random.Generator`` made as ``Env.reset(seed=)`` makes ``np_random``, drawn from
    as BuildingHVACEnv draws: the weather of ``series.generate`` (or the start day in a user's
    weather), then the indoor temperature.

    ## How
    What ``BuildingHVACEnv._load`` computes per row is kept in tables, read every step at each
    sub-env's row. The weather's part (outdoor temperature, irradiance, COP, EER) has one row per
    step of each sub-env's episode, filled at its reset; the schedules' part (gains, price,
    comfort band, clock, forecast) depends on the step of the week only, so one table of the
    week, repeated past its end, serves every sub-env from its start day. The weather of all the
    sub-envs being reset is generated at once: each sub-env's generator draws its start day, its
    shocks (one ``standard_normal`` call for the temperature knots' and the clouds' shocks: the
    same stream as two) and its indoor temperature, and ``series.generate``'s arithmetic runs on
    the (k, steps) rows (the AR(1) closed form with a row-wise ``cumsum``; ``np.interp`` itself
    per row). A user's weather is loaded once, whole, into both tables; a sub-env reads it from
    its start row. A step runs ``BuildingHVACEnv.step``'s arithmetic on (num_envs,) arrays in
    the same order of operations (the setpoint controller as a clip, which selects the same
    operands as its branches).

    ## Attributes
    ``template``: the BuildingHVACEnv that checked the arguments and lends its spaces, model and
    :meth:`thermostat_action`; ``params``, ``model``, ``action_type``, ``episode_steps``,
    ``max_episode_steps`` as there.

    ## Differences from SyncVectorEnv
    Every action is checked, also those of sub-envs being autoreset (an invalid one raises
    ``ValueError``). ``max_episode_steps=-1`` means no ``TimeLimit``, as in ``gym.make``. Seeds
    may be numpy ints. ``reset(options=...)`` does not remove ``reset_mask`` from the caller's
    dict. A ``reset_mask`` before the first full reset raises ``RuntimeError``. There is no
    ``envs`` attribute, ``call`` or ``get_attr``. The infos are always ``float64`` (a ``params``
    with ``int`` capacities can make the single env report an ``int`` heat, and SyncVectorEnv
    types a batch by its first sub-env's value). ``render()`` returns one frame (or text) per
    sub-env, as SyncVectorEnv does, drawn by ``render.py`` from a view of that sub-env's state.
    """

    metadata = {
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 8,
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
        self.template = env = BuildingHVACEnv(render_mode=render_mode, **env_kwargs)
        self.num_envs = n = num_envs
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.action_type = env.action_type
        self.params = p = env.params
        self.model = env.model
        self.episode_steps = env.episode_steps
        self._limit = min(env.episode_steps, max_episode_steps or env.episode_steps)

        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, n)
        self.action_space = batch_space(env.action_space, n)

        # the step's constants (the env's own Python floats)
        (a00, a01), (a10, a11) = env._ad
        (b00, b01, b02), (b10, b11, b12) = env._bd
        (p00, p01), (p10, p11) = env._p
        (q00, q01, q02), (q10, q11, q12) = env._q
        # rows: drift, te_new, int_ti, int_te; columns: ti, te, ta, sun, then gain (drift) or phi
        coef = np.array(
            [
                [a00, a01, b00, b01, b02],
                [a10, a11, b10, b11, b12],
                [p00, p01, q00, q01, q02],
                [p10, p11, q10, q11, q12],
            ]
        )
        self._c_ti, self._c_te, self._c_ta, self._c_sun = (coef[:, k : k + 1] for k in range(4))
        self._b02 = b02
        self._c_phi = coef[1:, 4:5]
        self._heat_max, self._cool_min = p.heat_max_kw, -p.cool_max_kw
        self._solar_area = env._solar_area
        self._g_loss = np.array([[env._g_ia], [env._g_ea]])  # per kelvin of air, envelope
        self._capacity = np.array([[p.c_air_kwh_k], [p.c_envelope_kwh_k]])
        self._w, self._w_violation = env.energy_weight, 1.0 - env.energy_weight
        g_ie, g_ea = 1.0 / p.r_air_envelope_k_kw, 1.0 / p.r_envelope_out_k_kw
        self._g_ie, self._g_ea_env, self._g_sum = g_ie, g_ea, g_ie + g_ea
        self._band = env.comfort_band
        self._discrete = self.action_type == "discrete"
        self._setpoints = np.array(DISCRETE_SETPOINTS, dtype=np.float64).T.copy()  # (2, 14)
        if not self._discrete:
            self._action_low = env.action_space.low.astype(np.float64).tolist()
            self._action_high = env.action_space.high.astype(np.float64).tolist()

        # The tables. Generated weather: R rows per sub-env (sub-env i's at i * R) and the
        # schedules by step of the week, repeated for R more rows (a sub-env's schedule row is its
        # start step plus t). A user's weather: both tables over its whole length, one row each.
        self._user = env.user_weather
        self._rows = rows = self.episode_steps + FORECAST_STEPS + 1
        self._n_rows = np.full(n, rows, np.int64)  # rows of each sub-env's episode
        if self._user is None:
            self._climate = series.season_climate(env.climate, env.season)
            occupancy, price = series.week_schedules(env.building)
            steps = np.arange(STEPS_PER_WEEK + rows) % STEPS_PER_WEEK
            ahead = (steps + FORECAST_STEPS) % STEPS_PER_WEEK
            self._sched_in, self._sched_obs = self._schedules(
                occupancy[steps], price[steps], steps, occupancy[ahead], price[ahead]
            )
            self._weather_in = np.zeros((n * rows, 4))
            self._weather_obs = np.zeros((n * rows, 2), np.float32)
            self._ebase = np.arange(n, dtype=np.int64) * rows
            self._sbase = np.zeros(n, np.int64)
        else:
            w = self._user
            length = len(w)
            ahead = np.minimum(np.arange(length) + FORECAST_STEPS, length - 1)
            self._sched_in, self._sched_obs = self._schedules(
                w.occupancy,
                w.price_eur_kwh,
                w.step_of_week,
                w.occupancy[ahead],
                w.price_eur_kwh[ahead],
            )
            sun = w.solar_w_m2 / 1000.0
            self._weather_in = np.stack(
                [w.outdoor_c, sun, heating_cop(p, w.outdoor_c), cooling_eer(p, w.outdoor_c)], 1
            )
            self._weather_obs = np.stack([w.outdoor_c, sun], 1).astype(np.float32)
            self._user_days = (length - self.episode_steps) // STEPS_PER_DAY + 1
            self._ebase = np.zeros(n, np.int64)
            self._sbase = self._ebase  # the same rows

        # the sub-envs' state
        self._erow = self._ebase.copy()  # the weather row of the step to come: ebase + t
        self._srow = self._sbase.copy()  # its schedule row: sbase + t
        self._end = self._ebase + self._limit  # truncated when the weather row reaches it
        self._last_row = self._ebase + rows - 1  # observations read rows up to here
        self._start_step = np.zeros(n, np.int64)  # step of the week of the episode's row 0
        self._state = np.zeros((2, n))  # indoor and envelope temperatures
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._started = False
        self._autoreset = np.zeros(n, bool)
        self._all_true = np.ones(n, bool)
        if render_mode is not None:
            self._history = np.zeros((n, self._limit + 1, 7))
            self._last = np.zeros((n, 3))

    def _schedules(
        self,
        occupancy: np.ndarray,
        price: np.ndarray,
        step_of_week: np.ndarray,
        occupancy_ahead: np.ndarray,
        price_ahead: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The schedule tables of rows with these schedules (``_load``'s arithmetic): inputs
        ``(rows, 4)`` and the observation's columns from 4 on (``(rows, 13)``, ``float32``)."""
        env, p = self.template, self.params
        away = env.setback_k * (1.0 - occupancy)
        low, high = env.comfort_band
        hour = (step_of_week % STEPS_PER_DAY) * (2.0 * np.pi / STEPS_PER_DAY)
        inputs = np.stack([p.internal_gain_kw * occupancy, price, low - away, high + away], 1)
        obs = np.zeros((len(occupancy), _N_OBS), np.float32)
        obs[:, 4] = occupancy
        obs[:, 5] = price
        obs[:, 6] = inputs[:, _LOW]
        obs[:, 7] = inputs[:, _HIGH]
        obs[:, 8] = np.sin(hour)
        obs[:, 9] = np.cos(hour)
        obs[:, 10] = (step_of_week < 5 * STEPS_PER_DAY).astype(float)
        obs[:, 11] = occupancy_ahead
        obs[:, 12] = price_ahead
        return inputs, obs

    # -- API ------------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if self.closed:
            raise RuntimeError("the env is closed")
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
        self._reset_envs(np.flatnonzero(mask))
        self._started = True
        self._autoreset[mask] = False
        return self._observations(), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        heat_sp, cool_sp = self._checked_setpoints(actions)
        erow, srow = self._erow, self._srow
        # mode="clip": a sub-env being reset may point one row past a user's weather (unused)
        ta, sun, cop_h, eer = self._weather_in.take(erow, axis=0, mode="clip").T
        gain, price, low, high = self._sched_in.take(srow, axis=0, mode="clip").T
        state = self._state
        ti, te = state
        # drift, te_new, int_ti and int_te but their last term, in BuildingHVACEnv.step's order
        lin = self._c_ti * ti + self._c_te * te + self._c_ta * ta + self._c_sun * sun
        b02 = self._b02
        drift = lin[0] + b02 * gain
        # the controller: the heat that brings the air to the setpoint it would cross, if any,
        # within the capacity (the clip selects the same operands as the env's branches)
        target = np.minimum(np.maximum(drift, heat_sp), cool_sp)
        heat = np.minimum(np.maximum((target - drift) / b02, self._cool_min), self._heat_max)
        cop = np.where(drift > cool_sp, eer, cop_h)
        power = np.abs(heat) / cop
        phi = heat + gain
        new = np.empty((4, self.num_envs))  # ti_new, te_new, int_ti, int_te
        np.add(drift, b02 * heat, out=new[0])
        np.add(lin[1:], self._c_phi * phi, out=new[1:])
        dt = STEP_HOURS
        # (int_ti - ta * dt) * g_ia + (int_te - ta * dt) * g_ea
        loss = (new[2:] - ta * dt) * self._g_loss
        loss = loss[0] + loss[1]
        heat_in = (phi + self._solar_area * sun) * dt
        # c_air * (ti_new - ti) + c_envelope * (te_new - te)
        stored = (new[:2] - state) * self._capacity
        stored = stored[0] + stored[1]
        energy = power * dt
        cost = energy * price
        ti_new = new[0]
        violation = (np.maximum(low - ti_new, 0.0) + np.maximum(ti_new - high, 0.0)) * dt
        reward = -(self._w * cost + self._w_violation * violation)

        self._state = new[:2]
        ti_new, te_new = new[0].copy(), new[1].copy()  # the infos' own
        self._erow = erow = erow + 1
        self._srow = srow + 1
        truncated = erow >= self._end
        values = (energy, cost, violation, ti_new, te_new, heat, power, cop, heat_in, loss, stored)
        auto = self._autoreset
        if self.render_mode is not None:
            self._record_step(auto, heat, power, cop)
        infos: dict[str, Any] = {}
        if auto.any():  # these reset instead: reset observation, reward 0, not truncated
            idx = np.flatnonzero(auto)
            self._reset_envs(idx)
            reward[idx] = 0.0
            truncated[idx] = False
            if not auto.all():
                stepped = ~auto
                for key, value in zip(INFO_KEYS, values, strict=True):
                    value[idx] = 0.0
                    infos[key] = value
                    infos["_" + key] = stepped.copy()
        else:
            every = self._all_true
            for key, value in zip(INFO_KEYS, values, strict=True):
                infos[key] = value
                infos["_" + key] = every.copy()
        self._autoreset = truncated
        terminated = np.zeros(self.num_envs, bool)
        return self._observations(), reward, terminated, truncated.copy(), infos

    def thermostat_action(self) -> np.ndarray:
        """The rule-based thermostat's action for every sub-env (the single env's
        ``thermostat_action()``, batched)."""
        a = self.template.thermostat_action()
        if self._discrete:
            return np.full(self.num_envs, a, np.int64)
        return np.tile(a, (self.num_envs, 1))

    def render(self) -> tuple[Any, ...] | None:
        """One frame per sub-env: text for ``"ansi"``, ``uint8`` images for ``"rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; pass render_mode at make_vec")
            return None
        if not self._started:
            raise RuntimeError("call reset() before render()")
        from sige_rl.envs.building.render import render_ansi, render_rgb

        draw = render_ansi if self.render_mode == "ansi" else render_rgb
        return tuple(draw(_BuildingView(self, i)) for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        """Free the per-row tables; a closed env cannot reset or step again."""
        self._started = False
        self._weather_in = self._weather_obs = self._sched_in = self._sched_obs = None

    # -- actions --------------------------------------------------------------------------------

    def _checked_setpoints(self, actions: Any) -> tuple[np.ndarray, np.ndarray]:
        """(heating, cooling) setpoints of every sub-env; ``ValueError`` outside the space."""
        n = self.num_envs
        if self._discrete:
            a = np.asarray(actions)
            n_actions = len(DISCRETE_SETPOINTS)
            if a.shape != (n,) or a.dtype.kind not in "iu":
                raise ValueError(
                    f"actions must be {n} ints, each in the single action space "
                    f"{self.single_action_space} (batched: {self.action_space}); got {actions!r}"
                )
            if a.min() < 0 or a.max() >= n_actions:
                i = int(np.flatnonzero((a < 0) | (a >= n_actions))[0])
                raise ValueError(
                    f"action {a[i]!r} of sub-env {i} is not in Discrete({n_actions}): "
                    f"an integer in [0, {n_actions})"
                )
            heat, cool = self._setpoints.take(a, axis=1)
            return heat, cool
        try:
            arr = np.asarray(actions, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (n, 2):
            raise ValueError(
                f"actions must be an array of shape ({n}, 2), each row (heating, cooling) "
                f"setpoints in {self.single_action_space}; got {actions!r}"
            )
        lo, hi = self._action_low, self._action_high
        heat, cool = arr[:, 0], arr[:, 1]
        least, most = np.minimum.reduce, np.maximum.reduce  # NaN in, NaN out: fails below
        if not (
            lo[0] <= least(heat)
            and most(heat) <= hi[0]
            and lo[1] <= least(cool)
            and most(cool) <= hi[1]
        ):
            ok = (arr >= lo) & (arr <= hi)  # NaN fails both
            i = int(np.flatnonzero(~ok.all(axis=1))[0])
            raise ValueError(
                f"setpoints ({arr[i, 0]}, {arr[i, 1]}) of sub-env {i} outside the action space: "
                f"heating in [{lo[0]}, {hi[0]}], cooling in [{lo[1]}, {hi[1]}] deg C"
            )
        return heat, cool

    # -- resets ---------------------------------------------------------------------------------

    def _rng(self, i: int) -> np.random.Generator:
        if self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random()
        return self._rngs[i]

    def _reset_envs(self, idx: np.ndarray) -> None:
        """``BuildingHVACEnv.reset()`` (after seeding) of the sub-envs ``idx``."""
        k = len(idx)
        sel = slice(None) if k == self.num_envs else idx
        low, high = self._band
        indoor = np.empty(k)
        if self._user is None:
            rows = self._rows
            n_knots = series.knot_count(rows)
            shocks = np.empty((min(k, _RESET_CHUNK), n_knots + rows))
            start = np.empty(k, np.int64)
            # by chunks of sub-envs, so that the temporaries stay in the cache
            for c in range(0, k, _RESET_CHUNK):
                chunk = idx[c : c + _RESET_CHUNK]
                for j, i in enumerate(chunk.tolist()):
                    rng = self._rng(i)
                    # series.generate's draws (the knots' shocks, then the clouds' in the same
                    # stream), then reset's
                    start[c + j] = int(rng.integers(7)) * STEPS_PER_DAY
                    rng.standard_normal(out=shocks[j])
                    indoor[c + j] = float(rng.uniform(low, high))
                m = len(chunk)
                where = slice(c, c + m) if k == self.num_envs else chunk  # slices write faster
                self._fill_weather(where, shocks[:m, :n_knots], shocks[:m, n_knots:])
            self._sbase[sel] = start
            self._start_step[sel] = start
            ebase = self._ebase[sel]
        else:
            ebase = np.empty(k, np.int64)
            for j, i in enumerate(idx.tolist()):
                rng = self._rng(i)
                ebase[j] = int(rng.integers(self._user_days)) * STEPS_PER_DAY
                indoor[j] = float(rng.uniform(low, high))
            self._ebase[sel] = ebase  # also self._sbase
            self._n_rows[sel] = rows = np.minimum(self._rows, len(self._user) - ebase)
            self._last_row[sel] = ebase + rows - 1
            self._end[sel] = ebase + self._limit
            self._start_step[sel] = (self._user.start_step + ebase) % STEPS_PER_WEEK
        ta = self._weather_in[ebase, _TA]
        self._state[0, sel] = indoor
        self._state[1, sel] = (self._g_ie * indoor + self._g_ea_env * ta) / self._g_sum
        self._erow[sel] = ebase
        self._srow[sel] = self._sbase[sel]
        if self.render_mode is not None:
            schedule = self._sched_in[self._sbase[sel]]
            self._last[sel] = 0.0
            self._history[sel, 0] = np.stack(
                [
                    indoor,
                    self._state[1, sel],
                    ta,
                    schedule[:, _LOW],
                    schedule[:, _HIGH],
                    np.zeros(k),
                    np.zeros(k),
                ],
                axis=1,
            )

    def _fill_weather(self, sel: slice | np.ndarray, knots: np.ndarray, clouds: np.ndarray) -> None:
        """``series.generate``'s weather (``series.weather_rows``), then
        ``BuildingHVACEnv._load``'s weather columns, of the sub-envs ``sel``, from the shocks
        their generators drew."""
        rows = self._rows
        outdoor, sun = series.weather_rows(self._climate, knots, clouds)
        sun = sun / 1000.0
        n = self.num_envs
        weather = self._weather_in.reshape(n, rows, 4)
        weather[sel, :, _TA] = outdoor
        weather[sel, :, _SUN] = sun
        weather[sel, :, _COP] = heating_cop(self.params, outdoor)
        weather[sel, :, _EER] = cooling_eer(self.params, outdoor)
        obs = self._weather_obs.reshape(n, rows, 2)
        obs[sel, :, 0] = outdoor
        obs[sel, :, 1] = sun

    # -- observation and render -----------------------------------------------------------------

    def _observations(self) -> np.ndarray:
        erow, srow = self._erow, self._srow
        if self._user is not None:  # a weather that ends with the episode: its last row again
            erow = srow = np.minimum(erow, self._last_row)
        obs = self._sched_obs.take(srow, axis=0)
        obs[:, 2:4] = self._weather_obs.take(erow, axis=0)
        obs[:, 0] = self._state[0]
        obs[:, 1] = self._state[1]
        return obs

    def _record_step(self, auto: np.ndarray, heat, power, cop) -> None:
        """``BuildingHVACEnv._record`` after a step, for the sub-envs that stepped."""
        stepped = np.flatnonzero(~auto)
        erow = np.minimum(self._erow, self._last_row)[stepped]
        srow = erow - self._ebase[stepped] + self._sbase[stepped]
        t = (self._erow - self._ebase)[stepped]
        self._last[stepped] = np.stack([heat, power, cop], axis=1)[stepped]
        self._history[stepped, t] = np.stack(
            [
                self._state[0, stepped],
                self._state[1, stepped],
                self._weather_in[erow, _TA],
                self._sched_in[srow, _LOW],
                self._sched_in[srow, _HIGH],
                heat[stepped],
                power[stepped],
            ],
            axis=1,
        )
