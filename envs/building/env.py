"""BuildingHVACEnv: keep a building comfortable at the least electricity cost, one fifteen-minute
step at a time, with a heat pump's heating and cooling setpoints."""

from __future__ import annotations

import math
import os
from typing import IO, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sige_rl.envs.building.series import (
    STEP_HOURS,
    STEPS_PER_DAY,
    Weather,
    generate,
    read_csv,
)
from sige_rl.envs.building.thermal import (
    BuildingParams,
    check_efficiencies,
    cooling_eer,
    discretise,
    heating_cop,
    params_from,
)

# Sinergym's comfort ranges (ASHRAE 55), deg C, while the building is fully occupied.
COMFORT_BANDS = {"winter": (20.0, 23.5), "summer": (23.0, 26.0)}
HEATING_RANGE = (12.0, 23.5)  # heating setpoint, deg C (Sinergym's ranges)
COOLING_RANGE = (23.5, 30.0)  # cooling setpoint, deg C
# The Discrete variant's (heating, cooling) setpoint pairs. 12 / 30 deg C: that side is off
# (frost and overheat protection only).
DISCRETE_SETPOINTS: tuple[tuple[float, float], ...] = (
    (12.0, 30.0),
    (16.0, 30.0),
    (18.0, 30.0),
    (20.0, 30.0),
    (21.0, 30.0),
    (22.0, 30.0),
    (23.5, 30.0),
    (12.0, 28.0),
    (12.0, 26.0),
    (12.0, 25.0),
    (12.0, 24.0),
    (12.0, 23.5),
    (20.0, 23.5),  # the winter comfort band
    (23.0, 26.0),  # the summer comfort band
)
FORECAST_STEPS = 4  # the observation's look-ahead: one hour
OUTDOOR_LIMITS_C = (-50.0, 60.0)  # weather a user's CSV may hold
PRICE_MAX_EUR_KWH = 10.0  # the largest price a user's CSV may hold
SOLAR_MAX_W_M2 = 2000.0  # the most irradiance a user's series may hold (the solar constant: 1361)
TEMPERATURE_LIMITS_C = (-100.0, 150.0)  # bounds of the observed temperatures
_T_LO, _T_HI = TEMPERATURE_LIMITS_C
# bounds of the observation, in OBSERVATION_NAMES' order
OBSERVATION_LOW = (_T_LO, _T_LO, OUTDOOR_LIMITS_C[0], 0, 0, 0, _T_LO, _T_LO, -1, -1, 0, 0, 0)
OBSERVATION_HIGH = (
    *(_T_HI, _T_HI, OUTDOOR_LIMITS_C[1], 2, 1, PRICE_MAX_EUR_KWH, _T_HI, _T_HI),
    *(1, 1, 1, 1, PRICE_MAX_EUR_KWH),
)
OBSERVATION_NAMES = (
    "indoor_c",
    "envelope_c",
    "outdoor_c",
    "solar_kw_m2",
    "occupancy",
    "price_eur_kwh",
    "band_low_c",
    "band_high_c",
    "hour_sin",
    "hour_cos",
    "weekday",
    "occupancy_next_hour",
    "price_next_hour",
)


class BuildingHVACEnv(gym.Env):
    """## Description
    A building heated and cooled by an air-source heat pump, simulated by the grey-box RC model
    of ``sige_rl.envs.building.thermal`` (indoor air and envelope, solved exactly each step)
    under the weather, occupancy and time-of-use price of ``sige_rl.envs.building.series``.
    The agent sets the heat pump's heating and cooling setpoints every fifteen minutes; the heat
    pump's own controller then holds the indoor air at the setpoint at the end of the step when
    its capacity allows (it heats when the air would end below the heating setpoint, cools when
    it would end above the cooling setpoint, and is off in between).

    ## Action Space
    ``action_type="box"`` (default): ``Box([12, 23.5], [23.5, 30], float32)``, the heating and
    cooling setpoints in deg C (Sinergym's ranges; they cannot cross). ``action_type="discrete"``:
    ``Discrete(14)``, the pairs of :data:`DISCRETE_SETPOINTS`. An action outside the space raises
    ``ValueError``.

    ## Observation Space
    ``Box(float32, (13,))``, named by :data:`OBSERVATION_NAMES`: indoor and envelope
    temperature, outdoor temperature (deg C), irradiance (kW/m2), occupancy (0..1), price
    (EUR/kWh), the comfort band now (deg C), the hour of day as ``sin`` and ``cos``, 1 on
    weekdays, and the occupancy and price one hour ahead (the schedules are known).

    ## Rewards
    ``-(w * cost + (1 - w) * violation)`` per step: ``cost`` the electricity bought in EUR,
    ``violation`` the comfort violation in kelvin-hours (how far the indoor air ends the step
    outside the band, times the step's 0.25 h), ``w = energy_weight`` (Sinergym's name), 0.2 by
    default: one K h weighs as much as 4 EUR. (Sinergym's default weighs 1 K over a step as much
    as 10 kW of electricity, about 2.6 EUR per K h at our shoulder price; we lean further toward
    comfort, which a household treats nearly as a constraint.) The band is Sinergym's,
    20-23.5 deg C in winter and 23-26 deg C in summer while occupied; each edge is relaxed by
    ``setback_k`` (4 K) times the fraction of the occupants away.

    ## Starting State
    Midnight on a day of the week drawn from the seed (or a whole day of a user's series), the
    indoor air uniform in the comfort band, the envelope at its steady state between the air and
    the outdoor temperature.

    ## Episode End
    Never terminated; truncated after ``episode_days`` days (7 by default).

    ## Info
    ``energy_kwh`` (electricity), ``cost_eur``, ``violation_kh``, ``indoor_c``,
    ``envelope_c``, ``heat_kw`` (the heat pump's heat, negative when cooling), ``power_kw``
    (its electric power), ``cop``, and the step's heat balance: ``heat_in_kwh`` (heat pump,
    occupants, sun), ``heat_loss_kwh`` (to the outdoor air) and ``stored_kwh`` (the change of
    the air's and envelope's heat), with ``heat_in = stored + loss`` exactly.

    ## Arguments
    ``climate``, ``season``, ``building``: the generated series (``series.CLIMATES``,
    ``"winter"`` / ``"summer"``, ``"house"`` / ``"office"``); ``season`` also picks the comfort
    band. ``weather``: a ``series.Weather`` or a CSV path or file (``series.read_csv``) to use
    instead; each episode plays whole days of it from a day drawn from the seed.
    ``episode_days``. ``params``: ``thermal.BuildingParams`` or a dict of its fields.
    ``energy_weight``, ``setback_k``. ``render_mode``: ``"ansi"`` or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}

    def __init__(
        self,
        climate: str = "temperate",
        season: str = "winter",
        building: str = "house",
        episode_days: int = 7,
        weather: Weather | str | os.PathLike | IO[str] | None = None,
        params: BuildingParams | dict | None = None,
        energy_weight: float = 0.2,
        setback_k: float = 4.0,
        action_type: str = "box",
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        check_arguments(season, episode_days, energy_weight, setback_k)
        if action_type not in ("box", "discrete"):
            raise ValueError(f"action_type must be 'box' or 'discrete', got {action_type!r}")
        self.render_mode = render_mode
        self.climate, self.season, self.building = climate, season, building
        self.episode_days = int(episode_days)
        self.episode_steps = self.episode_days * STEPS_PER_DAY
        self.params = p = params_from(params)
        self.model = discretise(p, STEP_HOURS)
        # the step reads the coefficients as Python floats
        self._ad, self._bd = self.model.ad.tolist(), self.model.bd.tolist()
        self._p, self._q = self.model.p.tolist(), self.model.q.tolist()
        self._g_ia, self._g_ea = 1.0 / p.r_air_out_k_kw, 1.0 / p.r_envelope_out_k_kw
        self._solar_area = p.window_area_m2 + p.envelope_solar_area_m2
        self.energy_weight = float(energy_weight)
        self.setback_k = float(setback_k)
        self.comfort_band = COMFORT_BANDS[season]
        self.action_type = action_type
        self.user_weather = user_weather(weather, climate, season, building, self.episode_days)
        check_efficiencies(self.params, *OUTDOOR_LIMITS_C)

        if action_type == "box":
            self.action_space = spaces.Box(
                low=np.array([HEATING_RANGE[0], COOLING_RANGE[0]], np.float32),
                high=np.array([HEATING_RANGE[1], COOLING_RANGE[1]], np.float32),
                dtype=np.float32,
            )
        else:
            self.action_space = spaces.Discrete(len(DISCRETE_SETPOINTS))
        self.observation_space = spaces.Box(
            np.array(OBSERVATION_LOW, np.float32),
            np.array(OBSERVATION_HIGH, np.float32),
            dtype=np.float32,
        )
        self.weather: Weather | None = None
        self.t = 0
        self.history: list[tuple[float, ...]] = []

    # -- episode --------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._load(episode_weather(self, self.np_random))
        low, high = self.comfort_band
        ti = float(self.np_random.uniform(low, high))
        ta = self._outdoor[0]
        p = self.params
        g_ie, g_ea = 1.0 / p.r_air_envelope_k_kw, 1.0 / p.r_envelope_out_k_kw
        self.indoor, self.envelope = ti, (g_ie * ti + g_ea * ta) / (g_ie + g_ea)
        self.t = 0
        self.history = []
        self._last = (0.0, 0.0, 0.0)
        if self.render_mode is not None:
            self._record()
        return self._observe(), {}

    def _load(self, weather: Weather) -> None:
        """Precompute the episode's per-row inputs as Python floats (the step reads lists)."""
        self.weather = weather
        self._rows = len(weather)
        p = self.params
        rows = observed_rows(weather, self.comfort_band, self.setback_k)
        self._observed = rows.tolist()  # the observation's columns from outdoor_c on
        self._outdoor, self._solar, _, self._price, self._low, self._high = rows[:, :6].T.tolist()
        self._gain = (p.internal_gain_kw * weather.occupancy).tolist()
        self._cop = heating_cop(p, weather.outdoor_c).tolist()
        self._eer = cooling_eer(p, weather.outdoor_c).tolist()

    def setpoints(self, action: Any) -> tuple[float, float]:
        """The (heating, cooling) setpoints an action asks for; ``ValueError`` outside the
        space."""
        if self.action_type == "discrete":
            if isinstance(action, np.ndarray) and action.shape == (1,):
                action = action[0]
            if isinstance(action, (int, np.integer)) and 0 <= action < len(DISCRETE_SETPOINTS):
                return DISCRETE_SETPOINTS[int(action)]
            raise ValueError(
                f"action must be an integer in [0, {len(DISCRETE_SETPOINTS)}), got {action!r}"
            )
        try:
            heat, cool = (float(v) for v in np.asarray(action, dtype=np.float64).reshape(2))
        except (TypeError, ValueError):
            raise ValueError(
                f"action must be (heating, cooling) setpoints in deg C, got {action!r}"
            ) from None
        lo_h, hi_h = HEATING_RANGE
        lo_c, hi_c = COOLING_RANGE
        # float32 bounds: 23.5 is exact; compare with the space's own float32 values
        if not (lo_h <= heat <= hi_h and lo_c <= cool <= hi_c):
            raise ValueError(
                f"setpoints ({heat}, {cool}) outside the action space: heating in "
                f"[{lo_h}, {hi_h}], cooling in [{lo_c}, {hi_c}] deg C"
            )
        return heat, cool

    def step(self, action: Any):
        if self.weather is None:
            raise RuntimeError("call reset() before step()")
        heat_sp, cool_sp = self.setpoints(action)
        t = self.t
        ta, sun, gain = self._outdoor[t], self._solar[t], self._gain[t]
        (a00, a01), (a10, a11) = self._ad
        (b00, b01, b02), (b10, b11, b12) = self._bd
        ti, te = self.indoor, self.envelope
        # The heat pump's controller: the heat that ends the step at the setpoint, if any.
        drift = a00 * ti + a01 * te + b00 * ta + b01 * sun + b02 * gain
        p = self.params
        if drift < heat_sp:
            heat = min((heat_sp - drift) / b02, p.heat_max_kw)
            cop = self._cop[t]
        elif drift > cool_sp:
            heat = max((cool_sp - drift) / b02, -p.cool_max_kw)
            cop = self._eer[t]
        else:
            heat, cop = 0.0, self._cop[t]
        power = abs(heat) / cop
        phi = heat + gain
        ti_new = drift + b02 * heat
        te_new = a10 * ti + a11 * te + b10 * ta + b11 * sun + b12 * phi
        # heat balance of the step (kWh)
        (p00, p01), (p10, p11) = self._p
        (q00, q01, q02), (q10, q11, q12) = self._q
        int_ti = p00 * ti + p01 * te + q00 * ta + q01 * sun + q02 * phi
        int_te = p10 * ti + p11 * te + q10 * ta + q11 * sun + q12 * phi
        dt = STEP_HOURS
        loss = (int_ti - ta * dt) * self._g_ia + (int_te - ta * dt) * self._g_ea
        heat_in = (phi + self._solar_area * sun) * dt
        stored = p.c_air_kwh_k * (ti_new - ti) + p.c_envelope_kwh_k * (te_new - te)

        energy = power * dt
        cost = energy * self._price[t]
        violation = (max(self._low[t] - ti_new, 0.0) + max(ti_new - self._high[t], 0.0)) * dt
        w = self.energy_weight
        reward = -(w * cost + (1.0 - w) * violation)

        self.indoor, self.envelope = ti_new, te_new
        self.t = t + 1
        self._last = (heat, power, cop)
        if self.render_mode is not None:
            self._record()
        info = {
            "energy_kwh": energy,
            "cost_eur": cost,
            "violation_kh": violation,
            "indoor_c": ti_new,
            "envelope_c": te_new,
            "heat_kw": heat,
            "power_kw": power,
            "cop": cop,
            "heat_in_kwh": heat_in,
            "heat_loss_kwh": loss,
            "stored_kwh": stored,
        }
        return self._observe(), reward, False, self.t >= self.episode_steps, info

    def _observe(self) -> np.ndarray:
        t = min(self.t, self._rows - 1)
        return np.array([self.indoor, self.envelope, *self._observed[t]], dtype=np.float32)

    def thermostat_action(self, setback: bool = False) -> Any:
        """The rule-based thermostat's action: heat to the comfort band's lower edge and cool to
        its upper edge. ``setback=False``: the occupied band around the clock (a plain
        thermostat); ``True``: the band of the current step, relaxed while the occupants are
        away (a schedule-aware thermostat). In the Discrete variant, the pair closest inside
        the band (the plain thermostat's bands are pairs of their own)."""
        if setback:
            t = min(self.t, self._rows - 1)
            low, high = self._low[t], self._high[t]
        else:
            low, high = self.comfort_band
        if self.action_type == "box":
            heat = min(max(low, HEATING_RANGE[0]), HEATING_RANGE[1])
            cool = min(max(high, COOLING_RANGE[0]), COOLING_RANGE[1])
            return np.array([heat, cool], np.float32)
        if (low, high) in DISCRETE_SETPOINTS:
            return DISCRETE_SETPOINTS.index((low, high))
        if self.season == "winter":  # the lowest heating setpoint at or above the band's edge
            heats = [(h, i) for i, (h, c) in enumerate(DISCRETE_SETPOINTS) if c == 30.0]
            return min((h, i) for h, i in heats if h >= low or h == max(heats)[0])[1]
        cools = [(c, i) for i, (h, c) in enumerate(DISCRETE_SETPOINTS) if h == 12.0]
        return max((c, i) for c, i in cools if c <= high or c == min(cools)[0])[1]

    # -- state, for search and tests --------------------------------------------------------------
    def clone_state(self) -> dict:
        return {"t": self.t, "indoor": self.indoor, "envelope": self.envelope}

    def restore_state(self, state: dict) -> None:
        self.t, self.indoor, self.envelope = state["t"], state["indoor"], state["envelope"]

    # -- render -----------------------------------------------------------------------------------
    def _record(self) -> None:
        t = min(self.t, self._rows - 1)
        heat, power, _ = self._last
        self.history.append(
            (self.indoor, self.envelope, self._outdoor[t], self._low[t], self._high[t], heat, power)
        )

    def clock(self) -> str:
        return self.weather.clock(self.t)

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; pass render_mode at make")
            return None
        from sige_rl.envs.building.render import render_ansi, render_rgb

        if self.render_mode == "ansi":
            return render_ansi(self)
        return render_rgb(self)


def check_weather(weather: Weather, episode_days: int) -> None:
    """``ValueError`` naming the row of a user's weather that the building envs cannot play: too
    short for an episode, or outdoor temperature, price or irradiance beyond what the
    observation space and the heat pump's curves cover."""
    steps = episode_days * STEPS_PER_DAY
    if len(weather) < steps:
        raise ValueError(
            f"the weather has {len(weather)} steps, fewer than an episode of {episode_days} "
            f"day(s) ({steps} steps): pass more rows or a smaller episode_days"
        )
    lo, hi = OUTDOOR_LIMITS_C
    outdoor = (weather.outdoor_c < lo) | (weather.outdoor_c > hi)
    checks = (  # (column, bad rows, what is wrong; units: deg C, EUR/kWh, W/m2)
        ("outdoor_c", outdoor, f"outside [{lo}, {hi}]"),
        ("price_eur_kwh", weather.price_eur_kwh > PRICE_MAX_EUR_KWH, f"above {PRICE_MAX_EUR_KWH}"),
        ("solar_w_m2", weather.solar_w_m2 > SOLAR_MAX_W_M2, f"above {SOLAR_MAX_W_M2:g} W/m2"),
    )
    for name, bad, what in checks:
        rows = np.flatnonzero(bad)
        if len(rows):
            value = getattr(weather, name)[rows[0]]
            raise ValueError(f"weather row {rows[0] + 1}: {name} {value} is {what}")


def check_arguments(season: str, episode_days: Any, energy_weight: float, setback_k: float):
    """``ValueError`` naming what is allowed, for the arguments every building env takes."""
    if season not in COMFORT_BANDS:
        raise ValueError(f"season must be one of {', '.join(COMFORT_BANDS)}, got {season!r}")
    if not (isinstance(episode_days, (int, np.integer)) and episode_days >= 1):
        raise ValueError(f"episode_days must be a whole number >= 1, got {episode_days!r}")
    if not 0.0 <= energy_weight <= 1.0:
        raise ValueError(f"energy_weight must be in [0, 1], got {energy_weight}")
    if not (math.isfinite(setback_k) and setback_k >= 0):
        raise ValueError(f"setback_k must be >= 0 K, got {setback_k}")


def user_weather(
    weather: Weather | str | os.PathLike | IO[str] | None,
    climate: str,
    season: str,
    building: str,
    episode_days: int,
) -> Weather | None:
    """A user's weather (a ``Weather``, or a CSV read with ``series.read_csv``), checked; None
    when the env generates its own, after making sure ``climate`` and ``building`` exist (so
    that a bad name fails at construction, not at the first reset)."""
    if weather is None:
        generate(climate, season, 1, np.random.default_rng(0), building)
        return None
    if not isinstance(weather, Weather):
        weather = read_csv(weather)
    check_weather(weather, episode_days)
    return weather


def episode_weather(env: Any, rng: np.random.Generator) -> Weather:
    """The rows of one episode of a building env (its ``climate``, ``season``, ``building``,
    ``episode_steps``, ``user_weather``), drawn from ``rng``: generated, or a whole day of the
    user's weather drawn as the start. One row per step, plus the look-ahead and the last
    observation's."""
    rows = env.episode_steps + FORECAST_STEPS + 1
    if env.user_weather is None:
        return generate(env.climate, env.season, rows, rng, env.building)
    days = (len(env.user_weather) - env.episode_steps) // STEPS_PER_DAY + 1
    start = int(rng.integers(days)) * STEPS_PER_DAY
    return env.user_weather.window(start, rows)


def observed_rows(weather: Weather, comfort_band: tuple[float, float], setback_k: float):
    """The observation's columns from ``outdoor_c`` on (:data:`OBSERVATION_NAMES`[2:]) for every
    row of ``weather``, ``(rows, 11)`` float64: the weather, occupancy and price, the comfort
    band (each edge relaxed by ``setback_k`` times the share of occupants away), the clock, and
    the occupancy and price :data:`FORECAST_STEPS` ahead (the last row's past the end). Every
    building in the place sees these."""
    n = len(weather)
    occupancy, price = weather.occupancy, weather.price_eur_kwh
    away = setback_k * (1.0 - occupancy)
    low, high = comfort_band
    step_of_week = weather.step_of_week
    hour = (step_of_week % STEPS_PER_DAY) * (2.0 * np.pi / STEPS_PER_DAY)
    ahead = np.minimum(np.arange(n) + FORECAST_STEPS, n - 1)
    columns = (
        weather.outdoor_c,
        weather.solar_w_m2 / 1000.0,
        occupancy,
        price,
        low - away,
        high + away,
        np.sin(hour),
        np.cos(hour),
        (step_of_week < 5 * STEPS_PER_DAY).astype(float),
        occupancy[ahead],
        price[ahead],
    )
    return np.stack(columns, 1)
