"""envs.building.dataset: the thermostat's series against a plain rollout of the registered env,
the heat pump's on/off against the setpoints, continuity across weeks, and speed."""

import time

import gymnasium as gym
import numpy as np
import pytest

from sige_rl.envs.building.dataset import SERIES_COLUMNS, series_matrix, simulate_series
from sige_rl.envs.building.env import OBSERVATION_NAMES
from sige_rl.envs.building.series import STEPS_PER_DAY, STEPS_PER_WEEK


def test_same_seed_same_arrays():
    a, b = simulate_series(weeks=1, seed=3), simulate_series(weeks=1, seed=3)
    assert set(a) == set(SERIES_COLUMNS) | {
        "heating_setpoint_c",
        "cooling_setpoint_c",
        "step_of_week",
    }
    for name in a:
        assert a[name].shape == (STEPS_PER_WEEK,)
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["outdoor_c"], simulate_series(weeks=1, seed=4)["outdoor_c"])


@pytest.mark.parametrize(
    "climate, season, setback",
    [("temperate", "summer", False), ("temperate", "summer", True), ("hot", "winter", True)],
)
def test_load_zero_exactly_when_the_heat_pump_is_off(climate, season, setback):
    # (in a temperate or cold winter the heat pump heats at every step: load > 0 throughout)
    d = simulate_series(weeks=1, seed=1, climate=climate, season=season, setback=setback)
    load, heat = d["load_kw"], d["heat_kw"]
    heat_sp, cool_sp = d["heating_setpoint_c"][:-1], d["cooling_setpoint_c"][:-1]
    end = d["indoor_c"][1:]  # the indoor air at the end of each step but the last
    on = load[:-1] > 0
    assert np.all(load >= 0) and np.array_equal(load > 0, heat != 0)
    assert 0 < on.sum() < len(on)  # both kinds of step occur
    # off: the air drifted to a temperature between the setpoints
    off = ~on
    assert np.all((end[off] >= heat_sp[off] - 1e-9) & (end[off] <= cool_sp[off] + 1e-9))
    # on: the air was held at a setpoint (or short of it, at full capacity)
    heating, cooling = on & (heat[:-1] > 0), on & (heat[:-1] < 0)
    assert np.all(end[heating] <= heat_sp[heating] + 1e-9)
    assert np.all(end[cooling] >= cool_sp[cooling] - 1e-9)
    assert (cooling if season == "summer" else heating).any()


@pytest.mark.parametrize("setback", [False, True])
def test_indoor_follows_the_registered_envs_rollout(setback):
    weeks, seed = 2, 5
    d = simulate_series(weeks=weeks, seed=seed, setback=setback)
    env = gym.make("sige_rl.envs:sige/BuildingHVAC-v0", episode_days=7 * weeks)
    obs, _ = env.reset(seed=seed)
    observed = [OBSERVATION_NAMES.index(c) for c in SERIES_COLUMNS[2:]]
    matrix = series_matrix(d, SERIES_COLUMNS[2:])  # float32, like the observation
    for t in range(len(d["load_kw"])):
        np.testing.assert_array_equal(obs[observed], matrix[t])
        action = np.array([d["heating_setpoint_c"][t], d["cooling_setpoint_c"][t]], np.float32)
        np.testing.assert_array_equal(action, env.unwrapped.thermostat_action(setback))
        obs, _, terminated, truncated, info = env.step(action)
        assert info["power_kw"] == d["load_kw"][t] and info["heat_kw"] == d["heat_kw"][t]
        if t + 1 < len(d["indoor_c"]):
            assert info["indoor_c"] == d["indoor_c"][t + 1]  # float64, the same numbers
    assert truncated and not terminated
    env.close()


def test_continuous_across_weeks():
    d = simulate_series(weeks=3, seed=2)
    steps = d["step_of_week"]
    assert np.all(np.diff(steps) % STEPS_PER_WEEK == 1)
    assert steps[0] % STEPS_PER_DAY == 0  # starts at midnight
    angle = np.arctan2(d["hour_sin"], d["hour_cos"])
    np.testing.assert_allclose(
        np.angle(np.exp(1j * np.diff(angle))), 2 * np.pi / STEPS_PER_DAY, atol=1e-9
    )
    # the weather and the indoor air carry on at the week boundaries: no jump there larger than
    # the largest anywhere else
    seams = np.arange(STEPS_PER_WEEK, len(steps), STEPS_PER_WEEK) - 1
    inside = np.setdiff1d(np.arange(len(steps) - 1), seams)
    for name in ("outdoor_c", "indoor_c"):
        jumps = np.abs(np.diff(d[name]))
        assert jumps[seams].max() <= jumps[inside].max()


def test_a_year_is_fast():
    start = time.perf_counter()
    d = simulate_series(weeks=52, seed=0)
    elapsed = time.perf_counter() - start
    assert len(d["load_kw"]) == 52 * STEPS_PER_WEEK
    assert elapsed < 10.0, f"a year took {elapsed:.1f} s"


def test_series_matrix():
    d = simulate_series(weeks=1)
    m = series_matrix(d)
    assert m.shape == (STEPS_PER_WEEK, len(SERIES_COLUMNS)) and m.dtype == np.float32
    for i, name in enumerate(SERIES_COLUMNS):
        np.testing.assert_array_equal(m[:, i], d[name].astype(np.float32))
    with pytest.raises(ValueError, match="lacks column"):
        series_matrix({"load_kw": d["load_kw"]})
    with pytest.raises(ValueError, match="weeks"):
        simulate_series(weeks=0)
