"""EnergyCommunityEnv: PettingZoo's API, seed and state checks on both forms; the buildings
against BuildingHVACEnv step for step; the battery's bounds and losses (hand cases, random
sequences); the bills and the feeder penalty on hand cases; observations under random play."""

import importlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.test.state_test import state_test

from sige_rl.envs import MULTI_AGENT_IDS, energy_community_v0
from sige_rl.envs.building.community import (
    FEEDER_LIMIT_KW_PER_BUILDING,
    OBSERVATION_NAMES_COMMUNITY,
    EnergyCommunityEnv,
)
from sige_rl.envs.building.env import BuildingHVACEnv
from sige_rl.envs.building.series import STEP_HOURS, STEPS_PER_DAY, Weather, sample_csv_path
from sige_rl.envs.building.thermal import BuildingParams

ETA = math.sqrt(0.9)
DT = STEP_HOURS
OFF = np.array([-1.0, 1.0])  # heating setpoint 12 deg C, cooling 30 deg C: the heat pump rests


def constant_weather(days=1, outdoor=0.0, solar=0.0, occupancy=1.0, price=0.2) -> Weather:
    n = days * STEPS_PER_DAY + 8
    return Weather(
        np.full(n, float(outdoor)),
        np.full(n, float(solar)),
        np.full(n, float(occupancy)),
        np.full(n, float(price)),
    )


def act(env, battery, hp=OFF) -> dict:
    """Every agent: the heat pump's two setpoint actions ``hp``, the battery fraction(s)."""
    b = np.broadcast_to(np.asarray(battery, dtype=np.float64), (env.n_buildings,))
    return {a: np.array([hp[0], hp[1], b[i]]) for i, a in enumerate(env.possible_agents)}


# -- PettingZoo's own checks --------------------------------------------------------------------
def test_pettingzoo_api_tests_pass_on_both_forms_without_warnings():
    kw = {"n_buildings": 3, "episode_days": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every PettingZoo remark is a warning
        parallel_api_test(energy_community_v0.parallel_env(**kw), num_cycles=120)
        api_test(energy_community_v0.env(**kw), num_cycles=120)
        api_test(energy_community_v0.raw_env(**kw), num_cycles=120)
        state_test(energy_community_v0.env(**kw), energy_community_v0.parallel_env(**kw))


def test_pettingzoo_seed_tests_pass():
    kw = {"n_buildings": 2, "episode_days": 1, "initial_soc": None}
    seed_test(lambda: energy_community_v0.env(**kw), num_cycles=100)
    parallel_seed_test(lambda: energy_community_v0.parallel_env(**kw), num_cycles=100)


def test_the_same_seed_replays_an_episode_and_another_seed_does_not():
    def run(seed):
        env = EnergyCommunityEnv(n_buildings=3, episode_days=1, initial_soc=None)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = [np.stack(list(obs.values()))]
        while env.agents:
            obs, rew, *_ = env.step({a: rng.uniform(-1, 1, 3) for a in env.agents})
            out.append(np.stack(list(obs.values())))
            out.append(np.array(list(rew.values())))
        return out

    a, b, c = run(5), run(5), run(6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_the_id_resolves_and_pettingzoo_registry_makes_it():
    import pettingzoo

    module, _, name = MULTI_AGENT_IDS["sige/EnergyCommunity-v0"].partition(":")
    factory = getattr(importlib.import_module(module), name)
    assert isinstance(factory(n_buildings=2), EnergyCommunityEnv)
    par = pettingzoo.make("parallel", "sige/EnergyCommunity-v0", n_buildings=2)
    assert isinstance(par, EnergyCommunityEnv) and par.possible_agents == [
        "building_0",
        "building_1",
    ]
    aec = pettingzoo.make("aec", "sige/EnergyCommunity-v0", n_buildings=2)
    assert aec.unwrapped is not None and isinstance(aec, pettingzoo.AECEnv)


# -- the buildings are BuildingHVACEnv's ----------------------------------------------------------
@pytest.mark.parametrize(
    ("climate", "season", "weather"),
    [("temperate", "winter", None), ("hot", "summer", None), ("temperate", "winter", "csv")],
)
def test_one_building_with_the_battery_idle_reproduces_building_hvac_env(climate, season, weather):
    weather = sample_csv_path() if weather == "csv" else None
    kw = {"climate": climate, "season": season, "episode_days": 2}
    if weather is not None:
        kw = {"season": season, "episode_days": 2, "weather": str(weather)}
    single = BuildingHVACEnv(**kw)
    community = EnergyCommunityEnv(n_buildings=1, pv_kw_peak=0.0, feeder_penalty_eur_kwh=0.0, **kw)
    obs_s, _ = single.reset(seed=11)
    obs_c, _ = community.reset(seed=11)
    np.testing.assert_array_equal(obs_c["building_0"][:13], obs_s)
    rng = np.random.default_rng(3)
    steps = 0
    while community.agents:
        a = rng.uniform(-1, 1, 3).astype(np.float32)
        a[2] = 0.0
        if steps % 7 == 0:  # now and then the thermostat, which holds the band's edges
            a = community.thermostat_actions()["building_0"]
        heat, cool = community.setpoints(a[None, :].astype(np.float64))
        obs_s, r_s, _, trunc_s, info_s = single.step(np.array([heat[0], cool[0]]))
        obs_c, r_c, _, trunc_c, info_c = community.step({"building_0": a})
        i = info_c["building_0"]
        for key in ("indoor_c", "envelope_c", "energy_kwh", "cost_eur", "violation_kh"):
            assert i[key] == pytest.approx(info_s[key], abs=1e-12, rel=0), key
        assert r_c["building_0"] == pytest.approx(r_s, abs=1e-12, rel=0)
        np.testing.assert_array_equal(obs_c["building_0"][:13], obs_s)
        assert trunc_c["building_0"] == trunc_s
        steps += 1
    assert steps == single.episode_steps == 2 * STEPS_PER_DAY


def test_each_building_of_a_mixed_community_steps_like_its_own_building_hvac_env():
    params = [
        BuildingParams(),
        BuildingParams(heat_max_kw=8.0, c_envelope_kwh_k=6.0),
        {"r_air_out_k_kw": 1.5, "internal_gain_kw": 1.0, "cool_max_kw": 4.0},
    ]
    community = EnergyCommunityEnv(
        n_buildings=3, params=params, pv_kw_peak=0.0, feeder_penalty_eur_kwh=0.0, episode_days=1
    )
    community.reset(seed=4)
    singles = []
    for i, p in enumerate(params):
        s = BuildingHVACEnv(params=p, episode_days=1)
        s.reset(seed=4)  # the same series; then building i's own starting temperatures
        s.restore_state({"t": 0, "indoor": community.indoor[i], "envelope": community.envelope[i]})
        singles.append(s)
    rng = np.random.default_rng(8)
    while community.agents:
        actions = rng.uniform(-1, 1, (3, 3))
        actions[:, 2] = 0.0
        heat, cool = community.setpoints(actions)
        _, rewards, _, _, infos = community.step(dict(zip(community.agents, actions, strict=True)))
        for i, s in enumerate(singles):
            _, r, _, _, info = s.step(np.array([heat[i], cool[i]]))
            got = infos[f"building_{i}"]
            for key in ("indoor_c", "envelope_c", "heat_kw", "power_kw", "cost_eur"):
                assert got[key] == pytest.approx(info[key], abs=1e-12, rel=0), key
            assert rewards[f"building_{i}"] == pytest.approx(r, abs=1e-12, rel=0)


def test_the_action_maps_linearly_onto_the_setpoint_ranges():
    env = EnergyCommunityEnv(n_buildings=1)
    heat, cool = env.setpoints(np.array([[-1.0, -1.0, 0], [0.0, 0.0, 0], [1.0, 1.0, 0]]))
    np.testing.assert_allclose(heat, [12.0, 17.75, 23.5])
    np.testing.assert_allclose(cool, [23.5, 26.75, 30.0])
    env.reset(seed=0)
    heat, cool = env.setpoints(np.stack(list(env.thermostat_actions().values())))
    assert (heat[0], cool[0]) == (20.0, 23.5)  # exactly the winter band's edges


# -- the battery --------------------------------------------------------------------------------
def battery_env(**kw) -> EnergyCommunityEnv:
    base = {
        "n_buildings": 1,
        "weather": constant_weather(),
        "episode_days": 1,
        "pv_kw_peak": 0.0,
        "feeder_penalty_eur_kwh": 0.0,
    }
    return EnergyCommunityEnv(**{**base, **kw})


def test_charging_and_discharging_at_full_power_for_a_quarter_hour_by_hand():
    env = battery_env()
    env.reset(seed=0)
    assert env.soc[0] == 6.75  # half of 13.5 kWh
    *_, info = env.step(act(env, 1.0))
    i = info["building_0"]
    assert i["battery_kw"] == 5.0
    assert i["soc_kwh"] == pytest.approx(6.75 + 5 * 0.25 * ETA, abs=1e-12)  # +1.18585 kWh
    assert i["soc_kwh"] - 6.75 == pytest.approx(1.1858541225631423, abs=1e-12)
    assert i["battery_loss_kwh"] == pytest.approx(1.25 * (1 - ETA), abs=1e-12)  # 0.06415 kWh
    soc = i["soc_kwh"]
    *_, info = env.step(act(env, -1.0))
    i = info["building_0"]
    assert i["battery_kw"] == -5.0
    assert i["soc_kwh"] == pytest.approx(soc - 1.25 / ETA, abs=1e-12)  # -1.31762 kWh
    assert i["battery_loss_kwh"] == pytest.approx(1.25 / ETA - 1.25, abs=1e-12)
    # half power: a[2] = 0.5 charges at 2.5 kW, -0.5 discharges at 2.5 kW
    *_, info = env.step(act(env, 0.5))
    assert info["building_0"]["battery_kw"] == 2.5
    *_, info = env.step(act(env, -0.5))
    assert info["building_0"]["battery_kw"] == -2.5


def test_the_power_is_cut_so_that_the_battery_ends_exactly_full_or_empty():
    env = battery_env(initial_soc=13.0 / 13.5)
    env.reset(seed=0)
    *_, info = env.step(act(env, 1.0))
    i = info["building_0"]
    assert i["soc_kwh"] == 13.5
    assert i["battery_kw"] == pytest.approx(0.5 / (ETA * 0.25), abs=1e-12)  # 2.108 kW
    *_, info = env.step(act(env, 1.0))  # full: nothing more goes in
    assert info["building_0"]["battery_kw"] == 0.0
    assert info["building_0"]["battery_loss_kwh"] == 0.0

    env = battery_env(initial_soc=0.5 / 13.5)
    env.reset(seed=0)
    *_, info = env.step(act(env, -1.0))
    i = info["building_0"]
    assert i["soc_kwh"] == 0.0
    assert i["battery_kw"] == pytest.approx(-0.5 * ETA / 0.25, abs=1e-12)  # 1.897 kW delivered
    *_, info = env.step(act(env, -1.0))
    assert info["building_0"]["battery_kw"] == 0.0


def test_a_full_cycle_returns_ninety_percent_of_the_energy():
    env = battery_env(initial_soc=0.0)
    env.reset(seed=0)
    into = out = 0.0
    for b in [1.0] * 20 + [-1.0] * 20:  # 20 quarter hours fill 13.5 kWh at 5 kW
        *_, info = env.step(act(env, b))
        kw = info["building_0"]["battery_kw"]
        into += max(kw, 0.0) * DT
        out += max(-kw, 0.0) * DT
    assert env.soc[0] == 0.0
    assert out / into == pytest.approx(0.9, abs=1e-12)


def check_battery_step(env, soc_before, actions, infos):
    """SOC in bounds; each side's energy = stored + loss; the power is the one asked for
    unless the battery ended full or empty."""
    cap = env.battery_kwh
    for i, a in enumerate(env.possible_agents):
        info = infos[a]
        soc, kw, loss = info["soc_kwh"], info["battery_kw"], info["battery_loss_kwh"]
        assert 0.0 <= soc <= cap
        assert loss >= 0.0
        assert kw * DT == pytest.approx(soc - soc_before[i] + loss, abs=1e-12)
        if kw > 0:
            assert loss == pytest.approx(kw * DT * (1 - ETA), abs=1e-12)
        elif kw < 0:
            assert loss == pytest.approx(-kw * DT * (1 / ETA - 1), abs=1e-12)
        b = float(actions[a][2])
        asked = b * (env.charge_max_kw if b > 0 else env.discharge_max_kw)
        if kw != pytest.approx(asked, abs=1e-12):
            assert abs(kw) < abs(asked) and np.sign(kw) in (0, np.sign(asked))
            assert soc == (cap if asked > 0 else 0.0)


def test_ten_thousand_random_battery_actions_keep_the_soc_in_bounds_and_account_losses():
    env = battery_env(
        n_buildings=10,
        battery_kwh=3.0,
        episode_days=11,
        weather=constant_weather(days=11),
        initial_soc=None,
    )
    env.reset(seed=1)
    rng = np.random.default_rng(2)
    steps = 0
    while steps < 1000:
        # mostly saturated requests, so that the bounds are hit often
        b = np.clip(rng.normal(0, 1.5, 10), -1, 1)
        actions = act(env, b)
        before = env.soc.copy()
        *_, infos = env.step(actions)
        check_battery_step(env, before, actions, infos)
        steps += 1
    assert steps * env.n_buildings == 10_000


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.lists(st.floats(-1.0, 1.0, allow_subnormal=False), min_size=1, max_size=60),
)
def test_any_battery_sequence_stays_in_bounds(initial_soc, fractions):
    env = battery_env(battery_kwh=2.0, initial_soc=initial_soc)
    env.reset(seed=0)
    for b in fractions:
        actions = act(env, b)
        before = env.soc.copy()
        *_, infos = env.step(actions)
        check_battery_step(env, before, actions, infos)


# -- bills, PV and the feeder -----------------------------------------------------------------
def test_bills_pv_and_feeder_penalty_by_hand():
    # Two buildings at 0 deg C with their heat pumps resting; price 0.20, feed-in 0.08.
    env = EnergyCommunityEnv(
        n_buildings=2,
        weather=constant_weather(outdoor=15.0, price=0.2),
        episode_days=1,
        pv_kw_peak=0.0,
        feeder_limit_kw=6.0,
        energy_weight=1.0,  # the reward is the money alone
    )
    env.reset(seed=0)
    # both charge at 5 kW: the feeder carries 10 kW, 4 kW over its limit for a quarter hour
    _, rewards, _, _, infos = env.step(act(env, 1.0))
    for a in env.possible_agents:
        i = infos[a]
        assert i["power_kw"] == 0.0 and i["net_import_kw"] == 5.0
        assert i["cost_eur"] == pytest.approx(5 * 0.25 * 0.2)  # 0.25 EUR
        assert i["feeder_kw"] == 10.0
        assert i["feeder_excess_kwh"] == pytest.approx(1.0)
        assert i["feeder_penalty_eur"] == pytest.approx(1.0)
        assert rewards[a] == pytest.approx(-0.25 - 1.0 / 2)
    obs = env.observations()
    assert obs[:, OBSERVATION_NAMES_COMMUNITY.index("feeder_ratio")] == pytest.approx(10 / 6)
    # one charges, the other rests: 5 kW, under the limit
    _, rewards, _, _, infos = env.step(act(env, [1.0, 0.0]))
    assert infos["building_0"]["feeder_excess_kwh"] == 0.0
    assert rewards["building_0"] == pytest.approx(-0.25) and rewards["building_1"] == 0.0
    # both discharge at 5 kW: they export 1.25 kWh each at the feed-in tariff
    _, rewards, _, _, infos = env.step(act(env, -1.0))
    for a in env.possible_agents:
        assert infos[a]["net_import_kw"] == -5.0 and infos[a]["export_kwh"] == 1.25
        assert infos[a]["cost_eur"] == pytest.approx(-1.25 * 0.08)
        assert rewards[a] == pytest.approx(1.25 * 0.08)
    assert infos["building_0"]["feeder_kw"] == -10.0


def test_the_pv_is_shared_equally_and_offsets_the_import():
    # 500 W/m2 on 3 x 4 kWp at a performance ratio of 0.8: 4.8 kW, 1.6 kW each
    env = EnergyCommunityEnv(
        n_buildings=3,
        weather=constant_weather(outdoor=15.0, solar=500.0),
        episode_days=1,
        pv_kw_peak=4.0,
        energy_weight=1.0,
    )
    env.reset(seed=0)
    _, _, _, _, infos = env.step(act(env, [0.0, 0.4, 1.0]))
    for i, a in enumerate(env.possible_agents):
        info = infos[a]
        assert info["pv_kw"] == pytest.approx(1.6)
        assert info["net_import_kw"] == pytest.approx([0.0, 2.0, 5.0][i] - 1.6)
    assert infos["building_0"]["cost_eur"] == pytest.approx(-1.6 * 0.25 * 0.08)
    assert infos["building_1"]["cost_eur"] == pytest.approx(0.4 * 0.25 * 0.2)
    assert infos["building_0"]["feeder_kw"] == pytest.approx(7.0 - 4.8)


def test_the_default_feeder_limit_scales_with_the_buildings():
    assert EnergyCommunityEnv(n_buildings=5).feeder_limit_kw == 5 * FEEDER_LIMIT_KW_PER_BUILDING


# -- observations, rendering, errors --------------------------------------------------------
def test_random_play_keeps_observations_and_state_in_their_spaces():
    env = EnergyCommunityEnv(n_buildings=5, episode_days=2, agent_id_in_obs=True)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(1)
    space = env.observation_space("building_0")
    assert space.shape == (16 + 5,) and np.all(np.isfinite(space.low) & np.isfinite(space.high))
    while True:
        for i, a in enumerate(env.possible_agents):
            assert space.contains(obs[a]) and not np.isnan(obs[a]).any()
            np.testing.assert_array_equal(obs[a][16:], np.eye(5)[i])
        assert env.state_space.contains(env.state())
        if not env.agents:
            break
        obs, rewards, *_ = env.step({a: rng.uniform(-1, 1, 3) for a in env.agents})
        assert all(math.isfinite(r) for r in rewards.values())
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step({a: np.zeros(3) for a in env.possible_agents})


def test_the_episode_truncates_every_agent_at_once():
    env = EnergyCommunityEnv(n_buildings=2, episode_days=1)
    env.reset(seed=0)
    for t in range(STEPS_PER_DAY):
        _, _, terms, truncs, _ = env.step(env.thermostat_actions())
        assert not any(terms.values())
        assert all(truncs.values()) == (t == STEPS_PER_DAY - 1)
    assert env.agents == []


def test_ansi_render_gives_a_header_and_one_line_per_building():
    env = EnergyCommunityEnv(n_buildings=3, render_mode="ansi")
    env.reset(seed=0)
    env.step(act(env, [1.0, -1.0, 0.0], hp=(0.0, 1.0)))
    lines = env.render().splitlines()
    assert len(lines) == 4 and lines[1].startswith("building_0:")
    assert "charging" in lines[1] and "discharging" in lines[2] and "idle" in lines[3]


def test_bad_arguments_and_actions_raise():
    with pytest.raises(ValueError, match="one per building"):
        EnergyCommunityEnv(n_buildings=3, params=[BuildingParams()] * 2)
    with pytest.raises(ValueError, match="feeder_limit_kw"):
        EnergyCommunityEnv(feeder_limit_kw=0.0)
    with pytest.raises(ValueError, match="round_trip_efficiency"):
        EnergyCommunityEnv(round_trip_efficiency=1.5)
    env = EnergyCommunityEnv(n_buildings=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="building_1"):
        env.step({"building_0": np.zeros(3)})
    with pytest.raises(ValueError, match="outside the action space"):
        env.step({"building_0": np.zeros(3), "building_1": np.array([0.0, 0.0, 1.5])})
    with pytest.raises(ValueError, match="outside the action space"):
        env.step({"building_0": np.zeros(3), "building_1": np.array([np.nan, 0.0, 0.0])})
