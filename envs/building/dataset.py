"""A forecasting series from the building env ``sige/BuildingHVAC-v0`` under its rule-based
thermostat: the heat pump's electric load with the indoor and outdoor temperature, sun,
occupancy, price and the clock, one row per fifteen-minute step (numpy only)."""

from __future__ import annotations

import numpy as np

from sige_rl.envs.building.env import OBSERVATION_NAMES, BuildingHVACEnv, observed_rows

# The columns of series_matrix, in order. Row t: the state and inputs at the start of step t
# (what the env observes before acting) and the heat pump's response over step t.
SERIES_COLUMNS: tuple[str, ...] = (
    "load_kw",  # the heat pump's electric power over the step (info "power_kw"), >= 0
    "heat_kw",  # its heat over the step, negative when cooling (info "heat_kw")
    "indoor_c",  # indoor air at the start of the step (the observation's indoor_c)
    "outdoor_c",
    "solar_kw_m2",  # global horizontal irradiance, clouds included
    "occupancy",  # fraction of occupants present, 0..1
    "price_eur_kwh",
    "hour_sin",
    "hour_cos",
    "weekday",  # 1 Monday to Friday, 0 at weekends
)
# The observation's columns the series copies (from the env's per-row inputs).
_OBSERVED = SERIES_COLUMNS[3:]


def simulate_series(
    weeks: int = 52,
    seed: int = 0,
    climate: str = "temperate",
    setback: bool = False,
    *,
    season: str = "winter",
    building: str = "house",
) -> dict[str, np.ndarray]:
    """Roll one episode of ``weeks`` weeks of :class:`BuildingHVACEnv` (``episode_days = 7 *
    weeks``, ``reset(seed=seed)``) under ``env.thermostat_action(setback)``.

    Returns 1-D arrays of ``7 * 96 * weeks`` rows, one per fifteen-minute step (0.25 h),
    aligned: every :data:`SERIES_COLUMNS` entry (float64) plus ``heating_setpoint_c`` and
    ``cooling_setpoint_c`` (the thermostat's action at the step) and ``step_of_week`` (int64,
    0 = Monday 00:00). One episode, so the weeks are one continuous series (no seams: the
    thermal state and the weather carry on from week to week). The weather is the stationary
    ``season`` of ``climate`` (series.py: no annual cycle), starting at midnight on a day of
    the week drawn from the seed; a different ``weeks`` draws a different series. The observed
    columns equal the env's float32 observation once rounded to float32. A year takes about
    half a second.
    """
    if isinstance(weeks, bool) or not isinstance(weeks, (int, np.integer)) or weeks < 1:
        raise ValueError(f"weeks must be an integer >= 1, got {weeks!r}")
    env = BuildingHVACEnv(
        climate=climate, season=season, building=building, episode_days=7 * int(weeks)
    )
    env.reset(seed=seed)
    steps = env.episode_steps
    indoor, load, heat = np.empty(steps), np.empty(steps), np.empty(steps)
    heating, cooling = np.empty(steps), np.empty(steps)
    for t in range(steps):
        indoor[t] = env.indoor
        action = env.thermostat_action(setback)
        heating[t], cooling[t] = action
        info = env.step(action)[4]
        load[t], heat[t] = info["power_kw"], info["heat_kw"]
    rows = observed_rows(env.weather, env.comfort_band, env.setback_k)[:steps]
    data = {"load_kw": load, "heat_kw": heat, "indoor_c": indoor}
    for name in _OBSERVED:
        data[name] = rows[:, OBSERVATION_NAMES.index(name) - 2].copy()
    data["heating_setpoint_c"], data["cooling_setpoint_c"] = heating, cooling
    data["step_of_week"] = env.weather.step_of_week[:steps].astype(np.int64)
    return data


def series_matrix(
    data: dict[str, np.ndarray], columns: tuple[str, ...] = SERIES_COLUMNS
) -> np.ndarray:
    """The ``(T, F)`` float32 matrix of ``data``'s ``columns`` (default :data:`SERIES_COLUMNS`)
    in that order, for ``sige_rl.supervised.datasets.make_windows``."""
    missing = [c for c in columns if c not in data]
    if missing:
        raise ValueError(f"data lacks column(s) {', '.join(missing)}; it has {', '.join(data)}")
    return np.stack([np.asarray(data[c], dtype=np.float32) for c in columns], axis=1)
