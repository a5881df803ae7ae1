"""BuildingHVACEnv against independent references: the RC model's ODE integrated by SciPy (and its
matrix exponential), the heat balance of every step, the relaxation to the outdoor temperature at
the time constant worked out by hand, the published COP curve, the heat pump's controller on
hand cases, and Gymnasium's and SB3's checkers."""

import io
import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import sige_rl.envs  # noqa: F401
from sige_rl.envs.building.env import (
    COMFORT_BANDS,
    DISCRETE_SETPOINTS,
    BuildingHVACEnv,
)
from sige_rl.envs.building.series import STEPS_PER_DAY, Weather, generate, sample_csv_path
from sige_rl.envs.building.thermal import (
    BuildingParams,
    cooling_eer,
    discretise,
    heating_cop,
    time_constants_h,
)

P = BuildingParams()


def rc_ode(p: BuildingParams, ta: float, sun: float, phi: float):
    """The model's two equations as written in Bacher & Madsen's notation (hours, kW, kWh/K):
    typed here from the physics, not from the module's matrices."""

    def f(_, x):
        ti, te = x[0], x[1]
        dti = (
            (te - ti) / p.r_air_envelope_k_kw
            + (ta - ti) / p.r_air_out_k_kw
            + p.window_area_m2 * sun
            + phi
        ) / p.c_air_kwh_k
        dte = (
            (ti - te) / p.r_air_envelope_k_kw
            + (ta - te) / p.r_envelope_out_k_kw
            + p.envelope_solar_area_m2 * sun
        ) / p.c_envelope_kwh_k
        # third state: the heat lost to the outdoor air so far (kWh)
        loss = (ti - ta) / p.r_air_out_k_kw + (te - ta) / p.r_envelope_out_k_kw
        return [dti, dte, loss]

    return f


def constant_weather(days: int, outdoor: float = 0.0, solar: float = 0.0, occupancy=1.0):
    n = days * STEPS_PER_DAY + 8
    return Weather(np.full(n, outdoor), np.full(n, solar), np.full(n, occupancy), np.full(n, 0.2))


def test_a_step_equals_the_ode_solved_by_scipy_and_reports_its_heat_loss():
    env = BuildingHVACEnv(action_type="discrete")
    env.reset(seed=4)
    for k in range(40):  # walk into states where the heat pump heats, idles and is at capacity
        ti, te, t = env.indoor, env.envelope, env.t
        ta, sun, gain = env._outdoor[t], env._solar[t], env._gain[t]
        _, _, _, _, info = env.step(k % len(DISCRETE_SETPOINTS))
        phi = info["heat_kw"] + gain
        sol = solve_ivp(
            rc_ode(P, ta, sun, phi), (0, 0.25), [ti, te, 0.0], rtol=1e-12, atol=1e-12,
            method="DOP853",
        )  # fmt: skip
        ref = sol.y[:, -1]
        assert info["indoor_c"] == pytest.approx(ref[0], abs=1e-9)
        assert info["envelope_c"] == pytest.approx(ref[1], abs=1e-9)
        assert info["heat_loss_kwh"] == pytest.approx(ref[2], rel=1e-8, abs=1e-9)


def test_the_discretisation_equals_scipys_matrix_exponential():
    a, b = P.matrices()
    for dt in (0.25, 1.0, 1 / 60):
        d = discretise(P, dt)
        ad = expm(a * dt)
        np.testing.assert_allclose(d.ad, ad, rtol=1e-12, atol=1e-15)
        # Van Loan: expm([[A, B], [0, 0]] dt) holds Bd in its top right block
        m = np.zeros((5, 5))
        m[:2, :2], m[:2, 2:] = a, b
        np.testing.assert_allclose(d.bd, expm(m * dt)[:2, 2:], rtol=1e-11, atol=1e-14)


def test_every_step_conserves_energy():
    """Heat in (heat pump, occupants, sun) = change of stored heat + loss to the outdoors."""
    for climate, season in (("temperate", "winter"), ("hot", "summer"), ("cold", "summer")):
        env = BuildingHVACEnv(climate=climate, season=season, episode_days=2)
        env.reset(seed=1)
        rng = np.random.default_rng(0)
        worst = 0.0
        for _ in range(2 * STEPS_PER_DAY):
            info = env.step(env.action_space.sample() if rng.random() < 0.5 else
                            env.thermostat_action())[-1]  # fmt: skip
            scale = max(abs(info["heat_in_kwh"]), abs(info["stored_kwh"]), info["heat_loss_kwh"])
            residual = info["heat_in_kwh"] - info["stored_kwh"] - info["heat_loss_kwh"]
            worst = max(worst, abs(residual) / scale)
        assert worst <= 1e-9


def test_with_the_heat_pump_off_the_air_relaxes_to_outdoors_at_the_slow_time_constant():
    p = BuildingParams(heat_max_kw=0.0, cool_max_kw=0.0, internal_gain_kw=0.0)
    # the slow eigenvalue of the 2x2 system, worked out by hand from the conductances
    ci, ce = p.c_air_kwh_k, p.c_envelope_kwh_k
    gie, gea, gia = 1 / p.r_air_envelope_k_kw, 1 / p.r_envelope_out_k_kw, 1 / p.r_air_out_k_kw
    a11, a12, a21, a22 = -(gie + gia) / ci, gie / ci, gie / ce, -(gie + gea) / ce
    tr, det = a11 + a22, a11 * a22 - a12 * a21
    slow = (tr + math.sqrt(tr * tr - 4 * det)) / 2
    tau = -1 / slow
    assert time_constants_h(p)[0] == pytest.approx(tau, rel=1e-12)
    assert 6.0 < tau < 7.0  # the figure the README quotes: 6.4 h
    env = BuildingHVACEnv(weather=constant_weather(4, outdoor=5.0), params=p, episode_days=4,
                          action_type="discrete")  # fmt: skip
    env.reset(seed=0)
    excess = []
    for _ in range(4 * STEPS_PER_DAY):
        excess.append(env.step(0)[-1]["indoor_c"] - 5.0)
    excess = np.array(excess)
    assert abs(excess[-1]) < abs(excess[0]) * math.exp(-60 / tau) * 1.5  # relaxed to outdoors
    # after the fast mode has died (minutes), each day divides the excess by exp(24 / tau)
    day = STEPS_PER_DAY
    ratio = excess[day + 12 : 2 * day] / excess[12:day]
    np.testing.assert_allclose(ratio, math.exp(-24 / tau), rtol=1e-9)


def test_cop_follows_ruhnau_et_al_2019():
    # air-source regression 6.08 - 0.09 dT + 0.0005 dT^2, floor heating sink 30 - 0.5 Ta,
    # lift at least 15 K, times 0.85 (hand-computed)
    assert heating_cop(P, 0.0) == pytest.approx(0.85 * (6.08 - 0.09 * 30 + 0.0005 * 900))
    assert heating_cop(P, -10.0) == pytest.approx(0.85 * (6.08 - 0.09 * 45 + 0.0005 * 2025))
    assert heating_cop(P, 12.0) == pytest.approx(0.85 * (6.08 - 0.09 * 15 + 0.0005 * 225))
    # cooling: a chilled floor at 18 deg C, the same cycle backwards: 0.85 (COP - 1)
    assert cooling_eer(P, 35.0) == pytest.approx(0.85 * (6.08 - 0.09 * 17 + 0.0005 * 289 - 1))
    cop = heating_cop(P, np.linspace(-20, 15, 36))
    assert (np.diff(cop) >= 0).all()  # warmer outdoors, better COP


def test_the_controller_ends_the_step_at_the_setpoint_within_capacity():
    env = BuildingHVACEnv(weather=constant_weather(1, outdoor=0.0), episode_days=1)
    env.reset(seed=0)
    env.indoor, env.envelope = 18.0, 17.0
    info = env.step(np.array([21.0, 30.0], np.float32))[-1]
    assert info["indoor_c"] == pytest.approx(21.0, abs=1e-12)
    assert 0 < info["heat_kw"] < P.heat_max_kw
    cop = 0.85 * (6.08 - 0.09 * 30 + 0.0005 * 900)
    assert info["power_kw"] == pytest.approx(info["heat_kw"] / cop)
    assert info["energy_kwh"] == pytest.approx(info["power_kw"] * 0.25)
    assert info["cost_eur"] == pytest.approx(info["energy_kwh"] * 0.2)
    # a cold house and a high setpoint: the heat pump runs flat out and falls short
    env.indoor, env.envelope = 5.0, 5.0
    info = env.step(np.array([23.5, 30.0], np.float32))[-1]
    assert info["heat_kw"] == P.heat_max_kw and info["indoor_c"] < 23.5
    # between the setpoints it is off
    env.indoor, env.envelope = 22.0, 22.0
    info = env.step(np.array([12.0, 30.0], np.float32))[-1]
    assert info["heat_kw"] == 0.0 and info["power_kw"] == 0.0


def test_reward_and_comfort_band_by_hand():
    # 3 deg C below the band for the whole step; occupied; energy_weight 0.25
    w = constant_weather(1, outdoor=-5.0)
    env = BuildingHVACEnv(weather=w, energy_weight=0.25, episode_days=1,
                          params={"heat_max_kw": 0.0})  # fmt: skip
    env.reset(seed=0)
    env.indoor, env.envelope = 17.0, 17.0
    _, reward, _, _, info = env.step(np.array([12.0, 30.0], np.float32))
    low = COMFORT_BANDS["winter"][0]
    assert info["violation_kh"] == pytest.approx((low - info["indoor_c"]) * 0.25)
    assert info["cost_eur"] == 0.0
    assert reward == pytest.approx(-0.75 * info["violation_kh"])
    # an empty house relaxes the band by setback_k: 4 K below 20 is no violation
    env = BuildingHVACEnv(weather=constant_weather(1, -5.0, occupancy=0.0), episode_days=1)
    obs, _ = env.reset(seed=0)
    assert obs[6] == pytest.approx(16.0) and obs[7] == pytest.approx(27.5)


def test_the_thermostat_keeps_the_band_and_setback_saves_energy():
    costs = {}
    for setback in (False, True):
        env = gym.make("sige/BuildingHVACDiscrete-v0")
        env.reset(seed=10_000)
        total = np.zeros(2)
        done = False
        while not done:
            *_, term, trunc, info = env.step(env.unwrapped.thermostat_action(setback))
            total += info["cost_eur"], info["violation_kh"]
            done = term or trunc
        costs[setback] = total
        assert total[1] < 1e-9
    assert costs[True][0] < costs[False][0]


@pytest.mark.parametrize("env_id", ["sige/BuildingHVAC-v0", "sige/BuildingHVACDiscrete-v0"])
def test_gymnasium_and_sb3_checkers(env_id):
    import warnings

    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym.make(env_id).unwrapped)
        sb3_check_env(gym.make(env_id).unwrapped)
    # the only complaint: the Box action space is in deg C, not [-1, 1]
    messages = {str(w.message) for w in caught}
    assert all("symmetric and normalized" in m for m in messages), messages
    assert bool(messages) == ("Discrete" not in env_id)


@settings(max_examples=5, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    climate=st.sampled_from(["temperate", "cold", "hot"]),
    season=st.sampled_from(["winter", "summer"]),
    discrete=st.booleans(),
)
def test_random_actions_keep_observations_in_their_space(seed, climate, season, discrete):
    env = BuildingHVACEnv(climate=climate, season=season, episode_days=3,
                          action_type="discrete" if discrete else "box")  # fmt: skip
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(2000):  # 5 x 2000 = 10k random actions
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs), obs
        assert math.isfinite(reward) and all(math.isfinite(v) for v in info.values())
        if term or trunc:
            obs, _ = env.reset()


def test_the_sample_csv_and_a_users_weather_drive_the_env():
    env = BuildingHVACEnv(weather=sample_csv_path(), episode_days=7)
    obs, _ = env.reset(seed=0)
    assert obs[2] == pytest.approx(env.weather.outdoor_c[0])
    assert env.weather.start_step == 480  # the sample starts on a Saturday
    w = generate("hot", "summer", 3 * STEPS_PER_DAY, np.random.default_rng(2))
    env = BuildingHVACEnv(weather=w, season="summer", episode_days=1)
    starts = set()
    for s in range(30):
        env.reset(seed=s)
        starts.add((env.weather.start_step - w.start_step) % (7 * STEPS_PER_DAY))
    assert starts == {0, STEPS_PER_DAY, 2 * STEPS_PER_DAY}  # whole days that fit


def test_bad_arguments_are_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="season must be one of"):
        BuildingHVACEnv(season="spring")
    with pytest.raises(ValueError, match="unknown climate"):
        BuildingHVACEnv(climate="arctic")
    with pytest.raises(ValueError, match="episode_days"):
        BuildingHVACEnv(episode_days=0)
    with pytest.raises(ValueError, match="unknown building parameter"):
        BuildingHVACEnv(params={"c_air": 1.0})
    with pytest.raises(ValueError, match="must be > 0"):
        BuildingHVACEnv(params={"r_air_out_k_kw": 0.0})
    with pytest.raises(ValueError, match="fewer than an episode"):
        BuildingHVACEnv(weather=sample_csv_path(), episode_days=8)
    bad = "outdoor_c,solar_w_m2,occupancy,price_eur_kwh\n" + "5,0,1,0.2\n" * 95 + "99,0,1,0.2\n"
    with pytest.raises(ValueError, match="row 96: outdoor_c 99"):
        BuildingHVACEnv(weather=io.StringIO(bad), episode_days=1)
    env = BuildingHVACEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"heating in \[12.0, 23.5\]"):
        env.step(np.array([25.0, 26.0]))
    with pytest.raises(ValueError, match="setpoints in deg C"):
        env.step("warm")
    with pytest.raises(ValueError, match="integer in"):
        env = BuildingHVACEnv(action_type="discrete")
        env.reset(seed=0)
        env.step(99)


def test_render_modes():
    env = gym.make("sige/BuildingHVACDiscrete-v0", render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(50):
        env.step(12)
    img = env.render()
    assert img.shape == (320, 672, 3) and img.dtype == np.uint8 and img.std() > 0
    env = gym.make("sige/BuildingHVAC-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(env.unwrapped.thermostat_action())
    assert "indoor" in env.render() and "COP" in env.render()
