"""PowerGridEnv: Grid2Op's rules on hand-built cases, actions, series, the API checks, and
random play that must keep the grid's physics consistent."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import sige_rl.envs  # noqa: F401  (registers the ids)
from sige_rl.envs.power_grid.actions import DISCONNECT, RECONNECT, TOPOLOGY
from sige_rl.envs.power_grid.case import Case, load_case
from sige_rl.envs.power_grid.env import PowerGridEnv
from sige_rl.envs.power_grid.series import read_csv


def triangle(limits=(100.0, 100.0, 50.0)) -> Case:
    """Three buses, three equal lines 0-1, 1-2, 0-2; the slack at bus 0, one load at bus 2.
    A load of P at bus 2 flows 2P/3 on the direct line 0-2 and P/3 around through bus 1
    (reactances 0.1 p.u. on each line: the direct path has half the impedance)."""
    return Case.from_arrays(
        "triangle",
        dict(
            base_mva=100.0,
            bus_xy=np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]),
            bus_vn_kv=np.full(3, 110.0),
            bus_gs_mw=np.zeros(3),
            branch_from=np.array([0, 1, 0]),
            branch_to=np.array([1, 2, 2]),
            branch_x=np.full(3, 0.1),
            branch_tap=np.ones(3),
            branch_shift_deg=np.zeros(3),
            branch_is_trafo=np.zeros(3, bool),
            branch_limit_mw=np.array(limits),
            gen_bus=np.array([0]),
            gen_p_mw=np.array([90.0]),
            gen_pmax=np.array([1000.0]),
            gen_pmin=np.array([0.0]),
            gen_cost=np.array([10.0]),
            gen_kind=np.array([0]),
            gen_ramp=np.array([50.0]),
            slack=0,
            load_bus=np.array([2]),
            load_p_mw=np.array([90.0]),
        ),
    )


def constant_load(mw: float, steps: int = 40):
    return np.full((steps, 1), mw), np.zeros((steps, 1))


def line_action(env, kind, line):
    a = env.actions
    return int(np.flatnonzero((a.kind == kind) & (a.target == line))[0])


def test_hand_computed_flows_on_the_triangle():
    env = PowerGridEnv(triangle(), series=constant_load(90.0), episode_steps=30)
    env.reset(seed=0)
    np.testing.assert_allclose(env.flows, [30.0, 30.0, 60.0], atol=1e-9)
    np.testing.assert_allclose(env.rho, [0.3, 0.3, 1.2], atol=1e-9)
    assert env.p[0] == pytest.approx(90.0)


def test_an_overload_trips_after_exactly_three_steps():
    env = PowerGridEnv(triangle(), series=constant_load(90.0), episode_steps=30)
    env.reset(seed=0)
    for step in (1, 2):
        _, _, terminated, _, info = env.step(0)
        assert env.status[2] and env.overflow[2] == step and not info["tripped"].any()
    _, reward, terminated, _, info = env.step(0)
    assert info["tripped"].tolist() == [False, False, True]
    assert not env.status[2] and not terminated
    # all 90 MW now go round through bus 1 at rho 0.9: no cascade
    np.testing.assert_allclose(env.flows, [90.0, 90.0, 0.0], atol=1e-9)
    # reward: lines in service earn 1 - rho^2, the tripped one nothing
    assert reward == pytest.approx(2 * (1 - 0.9**2))


def test_a_line_above_twice_its_limit_trips_at_once_and_cascades_to_a_game_over():
    # direct line at 60 / 25 = 2.4 trips in the first step; then 90 MW on the lines of limit
    # 40 (2.25) trip in the same step, and the load at bus 2 is cut off: game over
    env = PowerGridEnv(triangle((40.0, 40.0, 25.0)), series=constant_load(90.0), episode_steps=30)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(0)
    assert terminated and not truncated
    assert info["game_over"] == "islanded"
    assert info["tripped"].all()
    assert reward == -env.game_over_penalty == -3.0


def test_a_tripped_line_stays_out_for_ten_steps():
    env = PowerGridEnv(triangle(), series=constant_load(90.0), episode_steps=30)
    env.reset(seed=0)
    for _ in range(3):
        *_, info = env.step(0)
    assert not env.status[2]
    reconnect = line_action(env, RECONNECT, 2)
    for _ in range(10):  # steps 4 to 13: in cooldown, refused
        assert not info["action_mask"][reconnect]
        *_, info = env.step(reconnect)
        assert info["illegal"] and not env.status[2]
    assert info["illegal_count"] == 10
    assert info["action_mask"][reconnect]
    *_, info = env.step(reconnect)  # step 14
    assert not info["illegal"] and env.status[2]


def test_cutting_off_a_load_is_a_game_over():
    env = PowerGridEnv(triangle(), series=constant_load(30.0), episode_steps=30)
    env.reset(seed=0)
    _, _, terminated, _, _ = env.step(line_action(env, DISCONNECT, 2))
    assert not terminated
    _, reward, terminated, _, info = env.step(line_action(env, DISCONNECT, 1))
    assert terminated and info["game_over"] == "islanded" and reward == -3.0
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_a_balance_the_slack_cannot_supply_is_a_game_over():
    load, available = constant_load(90.0)
    load[1:] = 2000.0  # the slack's limit is 1,000 MW
    env = PowerGridEnv(triangle(), series=(load, available), episode_steps=30)
    env.reset(seed=0)
    *_, terminated, _, info = env.step(0)
    assert terminated and info["game_over"] == "balance"
    env = PowerGridEnv(triangle(), series=constant_load(2000.0), episode_steps=30)
    with pytest.raises(ValueError, match="first step is already lost"):
        env.reset(seed=0)


def test_illegal_actions_do_nothing_and_are_counted():
    env = gym.make("sige/PowerGrid14-v0").unwrapped
    _, info = env.reset(seed=0)
    reconnect = line_action(env, RECONNECT, 0)  # line 0 is in service
    assert not info["action_mask"][reconnect]
    before = env.clone_state()
    _, _, _, _, info = env.step(reconnect)
    assert info["illegal"] and info["illegal_count"] == 1
    assert np.array_equal(env.status, before["status"])
    # a legal action is marked legal and changes the grid
    disconnect = line_action(env, DISCONNECT, 0)
    assert info["action_mask"][disconnect]
    _, _, _, _, info = env.step(disconnect)
    assert not info["illegal"] and not env.status[0]


@pytest.mark.parametrize("bad", [-1, 10_000, 1.5, "0", None, True])
def test_out_of_range_actions_raise(bad):
    env = gym.make("sige/PowerGrid14-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Discrete"):
        env.step(bad)


def test_redispatch_box_actions_are_checked_and_move_power_to_the_slack():
    env = gym.make("sige/PowerGrid14-v0", action_type="redispatch").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside"):
        env.step(np.full(env.case.n_gen, 2.0, np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, np.float32))
    up = np.zeros(env.case.n_gen, np.float32)
    unit = int(np.flatnonzero(env._redispatchable)[0])
    up[unit] = 1.0
    env.step(up)
    assert env.redispatch[unit] == pytest.approx(env.case.gen_ramp[unit])
    # the load is met exactly: DC is lossless
    assert env.p.sum() == pytest.approx(env.series.load[env.t].sum() + env.case.bus_gs_mw.sum())


def test_a_bus_bar_split_changes_the_flows_and_merging_restores_them():
    env = gym.make("sige/PowerGrid14-v0").unwrapped
    env.reset(seed=0)
    a = env.actions
    split = int(np.flatnonzero((a.kind == TOPOLOGY) & np.array(
        [b is not None and (b == 2).any() for b in a.bars]))[0])  # fmt: skip
    sub = int(a.target[split])
    merge = int(np.flatnonzero((a.kind == TOPOLOGY) & (a.target == sub))[0])
    snap = env.clone_state()
    env.step(0)
    plain = env.flows.copy()
    env.restore_state(snap)
    *_, info = env.step(split)
    assert not info["illegal"] and (env.bars == 2).any()
    assert np.abs(env.flows - plain).max() > 0.1
    assert not info["action_mask"][split] and info["action_mask"][merge]
    env.step(merge)
    assert (env.bars == 1).all()


def test_the_registered_envs_pass_the_api_checks():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for kwargs in ({}, {"action_type": "redispatch"}):
        env = gym.make("sige/PowerGrid14-v0", **kwargs).unwrapped
        check_env(env)
        sb3_check_env(env)
    alert = gym.make("sige/PowerGrid14Alert-v0")
    check_env(alert.env)  # below the checker gym.make adds
    sb3_check_env(alert.env)
    for env_id in ("sige/PowerGrid5-v0", "sige/PowerGrid30-v0", "sige/PowerGrid118-v0"):
        gym.make(env_id).reset(seed=0)


def test_reset_with_a_seed_reproduces_the_episode():
    env = gym.make("sige/PowerGrid14-v0")
    runs = []
    for _ in range(2):
        obs, info = env.reset(seed=7)
        rng = np.random.default_rng(0)
        trace = [obs]
        for _ in range(200):
            legal = np.flatnonzero(info["action_mask"])
            obs, r, term, trunc, info = env.step(int(rng.choice(legal)))
            trace.append(obs)
            if term or trunc:
                break
        runs.append(np.array(trace))
    assert np.array_equal(runs[0], runs[1])
    other, _ = env.reset(seed=8)
    assert not np.array_equal(other, runs[0][0])


def test_unknown_cases_and_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="did you mean .*case14"):
        PowerGridEnv("case15")
    with pytest.raises(ValueError, match="action_type"):
        PowerGridEnv(action_type="continuous")
    with pytest.raises(ValueError, match="render_mode"):
        PowerGridEnv(render_mode="human")


def test_csv_series_are_read_and_bad_ones_name_the_row_and_column():
    case = load_case("case5")
    renew = np.flatnonzero(case.gen_kind != 0)
    header = [f"load_{i}" for i in range(case.n_load)] + [f"renewable_{g}" for g in renew]
    rows = [[100.0 + t] * case.n_load + [10.0] * len(renew) for t in range(300)]
    text = ",".join(header) + "\n" + "\n".join(",".join(map(str, r)) for r in rows)
    load, available = read_csv(io.StringIO(text), case)
    assert load.shape == (300, case.n_load) and load[5, 0] == 105.0
    assert (available[:, renew] == 10.0).all() and (available[:, case.gen_kind == 0] == 0).all()
    # episodes start at a midnight that leaves room for a whole episode: with 300 rows and
    # 100 steps only row 0 does; with 10 steps row 288 does too
    env = PowerGridEnv("case5", series=(load, available), episode_steps=100)
    assert {env.reset(seed=s)[1] is not None and env.series.load[0, 0] for s in range(8)} == {100.0}
    env = PowerGridEnv("case5", series=(load, available), episode_steps=10)
    starts = {env.reset(seed=s)[1] is not None and env.series.load[0, 0] for s in range(16)}
    assert starts == {100.0, 388.0}

    bad = text.replace("103.0", "abc", 1)
    with pytest.raises(ValueError, match=r"row 4, column 'load_0': 'abc' is not a number"):
        read_csv(io.StringIO(bad), case)
    negative = text.replace("102.0", "-1", 1)
    with pytest.raises(ValueError, match=r"row 3, column 'load_0'.*>= 0"):
        read_csv(io.StringIO(negative), case)
    with pytest.raises(ValueError, match="lacks column"):
        read_csv(io.StringIO("load_0\n1\n"), case)


def test_render_modes():
    env = gym.make("sige/PowerGrid14-v0", render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "case14 step 0" in text and "rho" in text
    env = gym.make("sige/PowerGrid14-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (400, 400, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 3  # lines in colours, buses


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_play_keeps_observations_valid_and_power_balanced(seed):
    """2,000 random actions per example (10,000 over the five examples): a legal action drawn
    uniformly a third of the time, else do-nothing, so that episodes run long enough to reach
    trips, cooldowns and cascades (uniform play loses the grid within two steps)."""
    env = gym.make("sige/PowerGrid14-v0").unwrapped
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    gs, n_gen = env.case.bus_gs_mw.sum(), env.case.n_gen
    observations, rewards, imbalance = [obs], [], []
    for _ in range(2000):
        legal = np.flatnonzero(info["action_mask"])
        action = int(rng.choice(legal)) if rng.random() < 1 / 3 else 0
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        if not terminated:
            # generation meets the energised load and shunts exactly (DC is lossless), and
            # lines out carry nothing
            e = env.topo.energised
            served = env.series.load[env.t][e[n_gen:]].sum() + gs
            imbalance.append(abs(env.p[e[:n_gen]].sum() - served))
            assert not env.rho[~env.status].any()
        if terminated or truncated:
            obs, info = env.reset()
            observations.append(obs)
    observations = np.array(observations)
    space = env.observation_space
    assert observations.dtype == space.dtype and np.isfinite(observations).all()
    assert ((observations >= space.low) & (observations <= space.high)).all()
    assert np.isfinite(rewards).all()
    assert max(imbalance) < 1e-6


def test_alerts_skip_the_safe_steps_and_sum_their_rewards():
    from sige_rl.envs.power_grid.alerts import Alerts

    # 30 MW on the triangle: every line below 95%, so one decision runs the whole episode
    step_reward = 3 - (0.1**2 + 0.1**2 + 0.4**2)  # flows 10, 10, 20 MW
    alerts = Alerts(PowerGridEnv(triangle(), series=constant_load(30.0), episode_steps=30),
                    reward_scale=3.0)  # fmt: skip
    alerts.reset(seed=0)
    _, reward, terminated, truncated, info = alerts.step(0)
    assert truncated and not terminated and info["grid_steps"] == 30
    assert reward == pytest.approx(30 * step_reward / 3.0)
    # 90 MW: the direct line is at 120% at once, so every step is a decision
    alerts = Alerts(PowerGridEnv(triangle(), series=constant_load(90.0), episode_steps=30))
    alerts.reset(seed=0)
    assert alerts.step(0)[4]["grid_steps"] == 1
    registered = gym.make("sige/PowerGrid14Alert-v0")
    assert registered.get_wrapper_attr("reward_scale") == registered.unwrapped.case.n_branch
