"""EnergyCommunityEnv: N buildings on one feeder, each with a heat pump and a home battery, sharing
the roof-top PV; a PettingZoo ParallelEnv (``sige_rl.envs.energy_community_v0`` gives the AEC form).

Every building is the grey-box RC building of ``sige_rl.envs.building.thermal`` with the heat
pump of ``BuildingHVACEnv`` (the same ideal setpoint controller, capacity limits and COP / EER by
outdoor temperature, the same comfort band, cost and violation), stepped for all buildings at
once in numpy. All buildings live in one place: one weather, occupancy and price series, drawn
from the seed exactly as ``BuildingHVACEnv`` draws it (or a user's ``Weather`` / CSV).

Battery (per building). The defaults are the figures of the Tesla Powerwall 2 datasheet:
13.5 kWh usable, 5 kW continuous charge and discharge, 90 % round trip, which we split evenly,
``eta_c = eta_d = sqrt(0.9)``. Charging at ``P`` kW for ``dt`` hours stores ``P eta_c dt``;
discharging delivers ``P`` kW to the building and draws ``P dt / eta_d`` from storage. The
requested power is cut to what the state of charge allows, so that it stays in
``[0, battery_kwh]`` (exactly: the feasible power is computed from the state of charge and the
result is clipped against rounding). The losses are reported in the info.

PV (shared). ``pv_kw_peak`` kWp per building on the community's roofs (4 kWp by default, a
typical house's array; 0 disables it), producing ``pv_kw_peak * N * G / 1000 * 0.8`` kW for a
global horizontal irradiance ``G`` W/m2 (performance ratio 0.8; the panels are taken as lying
flat, so the series' horizontal irradiance applies as is), shared equally among the buildings.

Tariff. Each building's net import is its heat pump's electric power plus its battery's charge
power, less its discharge power and its PV share, netted over each fifteen-minute step. Imports
pay the series' time-of-use price; exports earn ``feed_in_eur_kwh`` (0.08 EUR/kWh by default:
an illustrative feed-in tariff of the order European small-PV schemes pay, no particular one).

Feeder. The community's total net import above ``feeder_limit_kw`` costs
``feeder_penalty_eur_kwh`` (1 EUR/kWh of excess by default), a shared penalty split equally
among the agents. The default limit, :data:`FEEDER_LIMIT_KW_PER_BUILDING` (3.5 kW) times N,
binds on cold nights and mornings: under the thermostat (heating to 20 deg C, batteries idle,
4 kWp of PV each) a temperate winter's community draws more than that in 28 % of its steps
(see the constant for the measurement).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import IO, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from sige_rl.envs.building.env import (
    COMFORT_BANDS,
    COOLING_RANGE,
    HEATING_RANGE,
    OBSERVATION_HIGH,
    OBSERVATION_LOW,
    OBSERVATION_NAMES,
    OUTDOOR_LIMITS_C,
    SOLAR_MAX_W_M2,
    TEMPERATURE_LIMITS_C,
    check_arguments,
    episode_weather,
    observed_rows,
    user_weather,
)
from sige_rl.envs.building.series import (
    STEP_HOURS,
    STEPS_PER_DAY,
    Weather,
)
from sige_rl.envs.building.thermal import (
    BuildingParams,
    check_efficiencies,
    cooling_eer,
    discretise,
    heating_cop,
    params_from,
)

PV_PERFORMANCE_RATIO = 0.8  # AC output over the nameplate at the irradiance (losses, heat)
# The default feeder limit per building, kW. Measured over 100 temperate-winter weeks (seeds
# 0-99) of 4 houses under the thermostat (heat to 20 deg C, cool to 23.5 deg C, batteries idle,
# 4 kWp of PV each): the community's draw per building has mean 2.93 kW, median 2.89, 80th
# percentile 3.76, 90th 4.19, 95th 4.57, maximum 6.69 kW. A limit of 3.5 kW binds in 28 % of
# the steps (3.0: 46 %, 4.0: 14 %), on cold nights and mornings; the excess averages 4.3 kWh per
# building and day (one day in ten above 11.9 kWh), within the 12.8 kWh a full battery
# delivers: something for the batteries and the buildings' mass to shave, which the thermostat
# cannot. The summer draw (PV, cooling) stays below 2.1 kW: the limit never binds there.
FEEDER_LIMIT_KW_PER_BUILDING = 3.5
OBSERVATION_NAMES_COMMUNITY = (
    *OBSERVATION_NAMES,
    "soc_fraction",
    "feeder_ratio",
    "pv_share_kw",
)


class EnergyCommunityEnv(ParallelEnv):
    """## Description
    ``n_buildings`` buildings (agents ``building_0`` ... ``building_{N-1}``) on one feeder, each
    controlling its heat pump's setpoints and its home battery; see the module docstring for
    the battery, PV, tariff and feeder models.

    ## Action Space (per agent)
    ``Box(-1, 1, (3,), float32)``: ``a[0]`` the heating setpoint, linear over
    ``HEATING_RANGE`` (-1: 12 deg C, 1: 23.5 deg C); ``a[1]`` the cooling setpoint over
    ``COOLING_RANGE``; ``a[2]`` the battery: ``a[2] > 0`` charges at ``a[2] * charge_max_kw``,
    ``a[2] < 0`` discharges at ``|a[2]| * discharge_max_kw`` (then cut to what the state of
    charge allows). An action outside the space (or not finite) raises ``ValueError``; the AEC
    form clips instead, as PettingZoo's continuous envs do.

    ## Observation Space (per agent)
    ``Box(float32, (16,))`` (:data:`OBSERVATION_NAMES_COMMUNITY`): the 13 features of
    ``BuildingHVACEnv`` for this building, its battery's state of charge (fraction), the
    community's net import over the last step divided by the feeder limit (0 at reset), and the
    PV share (kW). With ``agent_id_in_obs=True``, an N-long one-hot of the agent follows.

    ## Rewards
    Agent i: ``-(w * cost_i + (1 - w) * violation_i) - penalty / N``: ``cost_i`` its
    electricity bill of the step in EUR (imports at the price less exports at the feed-in
    tariff), ``violation_i`` its comfort violation in K h (as ``BuildingHVACEnv``),
    ``w = energy_weight``, ``penalty`` the feeder penalty of the step in EUR.

    ## Starting State
    As ``BuildingHVACEnv``: midnight on a day drawn from the seed (or a whole day of a user's
    series); each building's indoor air uniform in the comfort band (drawn in agent order after
    the series), its envelope at steady state. The batteries start at ``initial_soc`` of their
    capacity (half by default; ``None``: uniform in [0, 1] per building, drawn after the
    temperatures).

    ## Episode End
    Truncated for all agents after ``episode_days`` days; ``agents`` is then empty.

    ## Info (per agent)
    ``energy_kwh`` (the heat pump's electricity), ``cost_eur``, ``violation_kh``,
    ``indoor_c``, ``envelope_c``, ``heat_kw``, ``power_kw`` (heat pump, electric), ``cop``,
    ``soc_kwh``, ``battery_kw`` (positive charging), ``battery_loss_kwh``, ``pv_kw`` (its
    share), ``net_import_kw``, ``import_kwh``, ``export_kwh``, and the community's
    ``feeder_kw``, ``feeder_excess_kwh``, ``feeder_penalty_eur`` (the whole penalty).

    ## Arguments
    ``n_buildings``; ``climate``, ``season``, ``building``, ``episode_days``, ``weather``,
    ``energy_weight``, ``setback_k`` as ``BuildingHVACEnv``; ``params``: one
    ``BuildingParams`` (or dict) for all, or a list of N. ``battery_kwh``, ``charge_max_kw``,
    ``discharge_max_kw``, ``round_trip_efficiency``, ``initial_soc``; ``pv_kw_peak``;
    ``feed_in_eur_kwh``; ``feeder_limit_kw`` (the community's total, kW; None:
    :data:`FEEDER_LIMIT_KW_PER_BUILDING` times N), ``feeder_penalty_eur_kwh``;
    ``agent_id_in_obs``; ``render_mode``: ``"ansi"``.
    """

    metadata = {
        "render_modes": ["ansi"],
        "name": "energy_community_v0",
        "is_parallelizable": True,
        "render_fps": 8,
    }

    def __init__(
        self,
        n_buildings: int = 4,
        climate: str = "temperate",
        season: str = "winter",
        building: str = "house",
        episode_days: int = 7,
        weather: Weather | str | os.PathLike | IO[str] | None = None,
        params: BuildingParams | dict | Sequence[BuildingParams | dict] | None = None,
        energy_weight: float = 0.2,
        setback_k: float = 4.0,
        battery_kwh: float = 13.5,
        charge_max_kw: float = 5.0,
        discharge_max_kw: float = 5.0,
        round_trip_efficiency: float = 0.90,
        initial_soc: float | None = 0.5,
        pv_kw_peak: float = 4.0,
        feed_in_eur_kwh: float = 0.08,
        feeder_limit_kw: float | None = None,
        feeder_penalty_eur_kwh: float = 1.0,
        agent_id_in_obs: bool = False,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        if not (isinstance(n_buildings, (int, np.integer)) and n_buildings >= 1):
            raise ValueError(f"n_buildings must be a whole number >= 1, got {n_buildings!r}")
        check_arguments(season, episode_days, energy_weight, setback_k)
        _check_nonnegative(
            battery_kwh=battery_kwh,
            charge_max_kw=charge_max_kw,
            discharge_max_kw=discharge_max_kw,
            pv_kw_peak=pv_kw_peak,
            feed_in_eur_kwh=feed_in_eur_kwh,
            feeder_penalty_eur_kwh=feeder_penalty_eur_kwh,
        )
        if not (math.isfinite(round_trip_efficiency) and 0.0 < round_trip_efficiency <= 1.0):
            raise ValueError(
                f"round_trip_efficiency must be in (0, 1], got {round_trip_efficiency}"
            )
        if initial_soc is not None and not (0.0 <= initial_soc <= 1.0):
            raise ValueError(f"initial_soc must be in [0, 1] or None, got {initial_soc}")
        n = int(n_buildings)
        if feeder_limit_kw is None:
            feeder_limit_kw = FEEDER_LIMIT_KW_PER_BUILDING * n
        if not (math.isfinite(feeder_limit_kw) and feeder_limit_kw > 0):
            raise ValueError(f"feeder_limit_kw must be > 0 kW, got {feeder_limit_kw}")

        self.render_mode = render_mode
        self.n_buildings = n
        self.possible_agents = [f"building_{i}" for i in range(n)]
        self.agents: list[str] = []
        self.climate, self.season, self.building = climate, season, building
        self.episode_days = int(episode_days)
        self.episode_steps = self.episode_days * STEPS_PER_DAY
        self.energy_weight = float(energy_weight)
        self.setback_k = float(setback_k)
        self.comfort_band = COMFORT_BANDS[season]
        self.battery_kwh = float(battery_kwh)
        self.charge_max_kw = float(charge_max_kw)
        self.discharge_max_kw = float(discharge_max_kw)
        self.round_trip_efficiency = float(round_trip_efficiency)
        self.eta_charge = self.eta_discharge = math.sqrt(self.round_trip_efficiency)
        self.initial_soc = None if initial_soc is None else float(initial_soc)
        self.pv_kw_peak = float(pv_kw_peak)
        self.feed_in_eur_kwh = float(feed_in_eur_kwh)
        self.feeder_limit_kw = float(feeder_limit_kw)
        self.feeder_penalty_eur_kwh = float(feeder_penalty_eur_kwh)
        self.agent_id_in_obs = bool(agent_id_in_obs)

        self.params = self._params_list(params, n)
        for p in set(self.params):
            check_efficiencies(p, *OUTDOOR_LIMITS_C)
        self._discretise()
        self.user_weather = user_weather(weather, climate, season, building, self.episode_days)
        self._build_spaces()

        self.weather: Weather | None = None
        self.t = 0
        self._np_random: np.random.Generator | None = None
        self.np_random_seed: int | None = None

    # -- construction ----------------------------------------------------------------------------
    @staticmethod
    def _params_list(params, n: int) -> list[BuildingParams]:
        if isinstance(params, (list, tuple)):
            if len(params) != n:
                raise ValueError(
                    f"params holds {len(params)} buildings' parameters for n_buildings={n}: "
                    "pass one BuildingParams (or dict) for all, or exactly one per building"
                )
            return [params_from(p) for p in params]
        return [params_from(params)] * n

    def _discretise(self) -> None:
        """Each building's exact one-step coefficients, as (N,) arrays."""
        models = [discretise(p, STEP_HOURS) for p in self.params]
        ad = np.stack([m.ad for m in models])
        bd = np.stack([m.bd for m in models])
        self._a00, self._a01, self._a10, self._a11 = (
            ad[:, 0, 0],
            ad[:, 0, 1],
            ad[:, 1, 0],
            ad[:, 1, 1],
        )
        self._b00, self._b01, self._b02 = bd[:, 0, 0], bd[:, 0, 1], bd[:, 0, 2]
        self._b10, self._b11, self._b12 = bd[:, 1, 0], bd[:, 1, 1], bd[:, 1, 2]
        self._heat_max = np.array([p.heat_max_kw for p in self.params])
        self._cool_max = np.array([p.cool_max_kw for p in self.params])
        self._gain_kw = np.array([p.internal_gain_kw for p in self.params])
        self._g_ie = np.array([1.0 / p.r_air_envelope_k_kw for p in self.params])
        self._g_ea = np.array([1.0 / p.r_envelope_out_k_kw for p in self.params])

    def _build_spaces(self) -> None:
        n = self.n_buildings
        t_lo, t_hi = TEMPERATURE_LIMITS_C
        # BuildingHVACEnv's 13 features, in OBSERVATION_NAMES' order
        low, high = list(OBSERVATION_LOW), list(OBSERVATION_HIGH)
        # The feeder's range: the heat pumps' electricity is at most heat_max / COP or
        # cool_max / EER, with COP >= 1 and EER >= 0.5 (check_efficiencies).
        pv_max = self.pv_kw_peak * SOLAR_MAX_W_M2 / 1000.0 * PV_PERFORMANCE_RATIO
        hp_max = np.maximum(self._heat_max, 2.0 * self._cool_max)
        feeder_hi = float(hp_max.sum() + n * self.charge_max_kw) / self.feeder_limit_kw
        feeder_lo = -(n * (self.discharge_max_kw + pv_max)) / self.feeder_limit_kw
        low += [0.0, feeder_lo, 0.0]
        high += [1.0, feeder_hi, max(pv_max, 1e-6)]
        if self.agent_id_in_obs:
            low += [0.0] * n
            high += [1.0] * n
        self._obs_low = np.array(low, np.float32)
        self._obs_high = np.array(high, np.float32)
        self.observation_spaces = {
            a: spaces.Box(self._obs_low, self._obs_high, dtype=np.float32)
            for a in self.possible_agents
        }
        self.action_spaces = {
            a: spaces.Box(-1.0, 1.0, (3,), dtype=np.float32) for a in self.possible_agents
        }
        # global state: the 11 shared features, then (indoor, envelope, soc fraction) per
        # building, then the feeder ratio and the PV share
        shared = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        s_low = [low[i] for i in shared] + [t_lo, t_lo, 0.0] * n + [feeder_lo, 0.0]
        s_high = [high[i] for i in shared] + [t_hi, t_hi, 1.0] * n + [feeder_hi, high[15]]
        self.state_space = spaces.Box(
            np.array(s_low, np.float32), np.array(s_high, np.float32), dtype=np.float32
        )

    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self.action_spaces[agent]

    # -- episode ---------------------------------------------------------------------------------
    @property
    def np_random(self) -> np.random.Generator:
        if self._np_random is None:
            self._np_random, self.np_random_seed = seeding.np_random()
        return self._np_random

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._np_random, self.np_random_seed = seeding.np_random(seed)
        rng = self.np_random
        self._load(episode_weather(self, rng))
        low, high = self.comfort_band
        n = self.n_buildings
        ti = rng.uniform(low, high, size=n)  # the same draws as N BuildingHVACEnv resets
        ta = self._outdoor[0]
        self.indoor = ti
        self.envelope = (self._g_ie * ti + self._g_ea * ta) / (self._g_ie + self._g_ea)
        frac = rng.uniform(0.0, 1.0, size=n) if self.initial_soc is None else self.initial_soc
        self.soc = np.full(n, self.battery_kwh) * frac
        self.t = 0
        self.agents = list(self.possible_agents)
        zeros = np.zeros(n)
        self._last = {"heat": zeros, "power": zeros, "battery": zeros, "net": zeros}
        self._feeder_kw = 0.0
        obs = self._observe()
        return obs, {a: {} for a in self.agents}

    def _load(self, weather: Weather) -> None:
        """The episode's per-row inputs: shared (rows,) arrays and per-building (N, rows)."""
        self.weather = weather
        self._rows = len(weather)
        occupancy = weather.occupancy
        # the 11 features every building shares, in OBSERVATION_NAMES' order from outdoor_c
        self._shared = observed_rows(weather, self.comfort_band, self.setback_k)
        self._outdoor, self._solar, _, self._price, self._low, self._high = self._shared[:, :6].T
        by_building = {}
        for p in set(self.params):
            by_building[p] = (heating_cop(p, weather.outdoor_c), cooling_eer(p, weather.outdoor_c))
        self._cop = np.stack([by_building[p][0] for p in self.params])
        self._eer = np.stack([by_building[p][1] for p in self.params])
        self._gain = self._gain_kw[:, None] * occupancy[None, :]
        pv_total = (
            self.pv_kw_peak * self.n_buildings * weather.solar_w_m2 / 1000.0 * PV_PERFORMANCE_RATIO
        )
        self._pv_share = pv_total / self.n_buildings

    def setpoints(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (heating, cooling) setpoints, deg C, of an (N, 3) array of actions in [-1, 1]."""
        lo_h, hi_h = HEATING_RANGE
        lo_c, hi_c = COOLING_RANGE
        heat = np.clip(lo_h + (actions[:, 0] + 1.0) * 0.5 * (hi_h - lo_h), lo_h, hi_h)
        cool = np.clip(lo_c + (actions[:, 1] + 1.0) * 0.5 * (hi_c - lo_c), lo_c, hi_c)
        return heat, cool

    def _action_array(self, actions: dict[str, Any]) -> np.ndarray:
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for {', '.join(missing)}: every live agent must act")
        try:
            arr = np.array([actions[a] for a in self.agents], dtype=np.float64)
            arr = arr.reshape(self.n_buildings, 3)
        except (TypeError, ValueError):
            raise ValueError(
                "each agent's action must be 3 numbers in [-1, 1] (heating setpoint, cooling "
                f"setpoint, battery), got {actions!r}"
            ) from None
        bad = ~np.all(np.isfinite(arr) & (np.abs(arr) <= 1.0), axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"action of {self.agents[i]} {arr[i].tolist()} is outside the action space "
                "Box(-1, 1, (3,))"
            )
        return arr

    def step(self, actions: dict[str, Any]):
        if self.weather is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        act = self._action_array(actions)
        heat_sp, cool_sp = self.setpoints(act)
        t = self.t
        ta, sun = self._outdoor[t], self._solar[t]
        gain = self._gain[:, t]
        ti, te = self.indoor, self.envelope
        b02 = self._b02
        # The heat pumps' controllers (BuildingHVACEnv.step, elementwise, in the same order).
        drift = self._a00 * ti + self._a01 * te + self._b00 * ta + self._b01 * sun + b02 * gain
        heating = drift < heat_sp
        cooling = ~heating & (drift > cool_sp)
        heat = np.where(
            heating,
            np.minimum((heat_sp - drift) / b02, self._heat_max),
            np.where(cooling, np.maximum((cool_sp - drift) / b02, -self._cool_max), 0.0),
        )
        cop = np.where(cooling, self._eer[:, t], self._cop[:, t])
        power = np.abs(heat) / cop
        phi = heat + gain
        ti_new = drift + b02 * heat
        te_new = (
            self._a10 * ti + self._a11 * te + self._b10 * ta + self._b11 * sun + self._b12 * phi
        )

        # The batteries: the requested power, cut to what the state of charge allows.
        dt = STEP_HOURS
        soc, cap = self.soc, self.battery_kwh
        eta_c, eta_d = self.eta_charge, self.eta_discharge
        b = act[:, 2]
        ask_c = np.maximum(b, 0.0) * self.charge_max_kw
        ask_d = np.maximum(-b, 0.0) * self.discharge_max_kw
        room_c = (cap - soc) / (eta_c * dt)  # the most that fits
        room_d = soc * eta_d / dt  # the most that is left
        full = (ask_c > 0.0) & (ask_c >= room_c)
        empty = (ask_d > 0.0) & (ask_d >= room_d)
        charge = np.where(full, room_c, ask_c)
        discharge = np.where(empty, room_d, ask_d)
        # a cut request ends on the bound exactly, not a rounding error away from it
        soc_new = np.where(
            full,
            cap,
            np.where(
                empty, 0.0, np.clip(soc + charge * eta_c * dt - discharge * dt / eta_d, 0.0, cap)
            ),
        )
        loss = charge * dt * (1.0 - eta_c) + discharge * dt * (1.0 / eta_d - 1.0)
        battery = charge - discharge

        # The bills and the feeder.
        pv = self._pv_share[t]
        net = power + charge - discharge - pv
        import_kwh = np.maximum(net, 0.0) * dt
        export_kwh = np.maximum(-net, 0.0) * dt
        energy = power * dt
        cost = import_kwh * self._price[t] - export_kwh * self.feed_in_eur_kwh
        violation = (
            np.maximum(self._low[t] - ti_new, 0.0) + np.maximum(ti_new - self._high[t], 0.0)
        ) * dt
        feeder = float(net.sum())
        excess_kwh = max(feeder - self.feeder_limit_kw, 0.0) * dt
        penalty = excess_kwh * self.feeder_penalty_eur_kwh
        w = self.energy_weight
        reward = -(w * cost + (1.0 - w) * violation) - penalty / self.n_buildings

        self.indoor, self.envelope, self.soc = ti_new, te_new, soc_new
        self.t = t + 1
        self._feeder_kw = feeder
        self._last = {"heat": heat, "power": power, "battery": battery, "net": net}
        agents = self.agents
        obs = self._observe()
        rewards = dict(zip(agents, reward.tolist(), strict=True))
        done = self.t >= self.episode_steps
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, done)
        columns = {
            "energy_kwh": energy,
            "cost_eur": cost,
            "violation_kh": violation,
            "indoor_c": ti_new,
            "envelope_c": te_new,
            "heat_kw": heat,
            "power_kw": power,
            "cop": cop,
            "soc_kwh": soc_new,
            "battery_kw": battery,
            "battery_loss_kwh": loss,
            "pv_kw": np.full(self.n_buildings, pv),
            "net_import_kw": net,
            "import_kwh": import_kwh,
            "export_kwh": export_kwh,
        }
        lists = {k: v.tolist() for k, v in columns.items()}
        community = {
            "feeder_kw": feeder,
            "feeder_excess_kwh": excess_kwh,
            "feeder_penalty_eur": penalty,
        }
        infos = {
            a: {**{k: v[i] for k, v in lists.items()}, **community} for i, a in enumerate(agents)
        }
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _features(self) -> np.ndarray:
        """The (N, 16) observation matrix (without the agent one-hot), float64."""
        n = self.n_buildings
        t = min(self.t, self._rows - 1)
        out = np.empty((n, len(OBSERVATION_NAMES_COMMUNITY)))
        out[:, 0] = self.indoor
        out[:, 1] = self.envelope
        out[:, 2:13] = self._shared[t]
        out[:, 13] = self.soc / self.battery_kwh if self.battery_kwh > 0 else 0.0
        out[:, 14] = self._feeder_kw / self.feeder_limit_kw
        out[:, 15] = self._pv_share[t]
        return out

    def _observe(self) -> dict[str, np.ndarray]:
        feats = self._features()
        if self.agent_id_in_obs:
            feats = np.concatenate([feats, np.eye(self.n_buildings)], 1)
        obs = np.clip(feats, self._obs_low, self._obs_high).astype(np.float32)
        return {a: obs[i] for i, a in enumerate(self.possible_agents)}

    def observations(self) -> np.ndarray:
        """The current observations as one (N, obs_dim) float32 array, agents in order."""
        obs = self._observe()
        return np.stack([obs[a] for a in self.possible_agents])

    def state(self) -> np.ndarray:
        """The global state: the shared features, (indoor, envelope, soc fraction) of each
        building, the feeder ratio and the PV share (see ``state_space``)."""
        if self.weather is None:
            raise RuntimeError("call reset() before state()")
        f = self._features()
        s = np.concatenate([f[0, 2:13], f[:, [0, 1, 13]].ravel(), f[0, 14:16]])
        return np.clip(s, self.state_space.low, self.state_space.high).astype(np.float32)

    def thermostat_actions(self) -> dict[str, np.ndarray]:
        """The rule-based baseline: heat to the occupied band's lower edge, cool to its upper
        edge (as ``BuildingHVACEnv.thermostat_action``), batteries idle. float64, so that the
        setpoints are the band's edges exactly (float32 would miss them by 1e-7 K)."""
        low, high = self.comfort_band
        lo_h, hi_h = HEATING_RANGE
        lo_c, hi_c = COOLING_RANGE
        a0 = 2.0 * (min(low, hi_h) - lo_h) / (hi_h - lo_h) - 1.0
        a1 = 2.0 * (max(high, lo_c) - lo_c) / (hi_c - lo_c) - 1.0
        a = np.array([a0, a1, 0.0])
        return {agent: a.copy() for agent in self.agents}

    # -- render -----------------------------------------------------------------------------------
    def clock(self) -> str:
        return self.weather.clock(self.t)

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; pass render_mode at make")
            return None
        if self.weather is None:
            raise RuntimeError("call reset() before render()")
        t = min(self.t, self._rows - 1)
        lines = [
            f"step {self.t}/{self.episode_steps} {self.clock()}  outdoor "
            f"{self._outdoor[t]:5.1f} C  band {self._low[t]:.1f}-{self._high[t]:.1f} C  price "
            f"{self._price[t]:.3f} EUR/kWh  PV {self._pv_share[t]:.2f} kW each  feeder "
            f"{self._feeder_kw:6.2f}/{self.feeder_limit_kw:.1f} kW"
        ]
        last = self._last
        for i, a in enumerate(self.possible_agents):
            heat, bat = last["heat"][i], last["battery"][i]
            mode = "heating" if heat > 0 else "cooling" if heat < 0 else "off"
            bmode = "charging" if bat > 0 else "discharging" if bat < 0 else "idle"
            lines.append(
                f"{a}: indoor {self.indoor[i]:5.2f} C  heat pump {mode} {abs(heat):5.2f} kW "
                f"({last['power'][i]:.2f} kW electric)  battery {bmode} {abs(bat):.2f} kW, "
                f"{self.soc[i]:5.2f}/{self.battery_kwh:.1f} kWh  net {last['net'][i]:6.2f} kW"
            )
        return "\n".join(lines)

    def close(self) -> None:
        pass


def _check_nonnegative(**values: float) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float, np.number)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
