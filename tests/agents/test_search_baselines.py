"""The L2RPN baselines: do-nothing and the one-step greedy lookahead, on a hand-computed grid."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sige_rl import agents
from sige_rl.agents.training.evaluation import evaluate
from sige_rl.envs.power_grid.actions import DISCONNECT, RECONNECT
from sige_rl.envs.power_grid.env import PowerGridEnv
from tests.envs.test_power_grid import constant_load, line_action, triangle


def test_greedy_takes_the_best_one_step_reward():
    # the direct line 0-2 is out (cooldown 0) and 30 MW go round at rho 0.3 on both other
    # lines: reward 2 - 2 * 0.09 = 1.82 for doing nothing. Reconnecting it splits the flow
    # 10 / 10 / 20 MW (rho 0.1, 0.1, 0.4): reward 3 - 0.18 = 2.82, the best. Disconnecting
    # line 0 or 1 would cut bus 2 off (a game over, never chosen).
    env = PowerGridEnv(triangle(), series=constant_load(30.0), episode_steps=30)
    env.reset(seed=0)
    env.step(line_action(env, DISCONNECT, 2))
    greedy = agents.make("greedy", env)
    snapshot = env.clone_state()
    action = greedy.act(None)
    assert action == line_action(env, RECONNECT, 2)
    assert np.array_equal(env.clone_state()["status"], snapshot["status"])  # state untouched
    _, reward, *_ = env.step(action)
    assert reward == pytest.approx(3 - (0.01 + 0.01 + 0.16))


def test_do_nothing_always_plays_action_zero_and_rejects_a_bad_one():
    env = gym.make("sige/PowerGrid14-v0")
    agent = agents.make("do_nothing", env)
    obs, _ = env.reset(seed=0)
    assert agent.act(obs) == 0
    assert list(agent.act(np.stack([obs, obs]))) == [0, 0]
    with pytest.raises(ValueError, match="not in"):
        agents.make("do_nothing", env, action=10_000)


def test_evaluation_lets_the_greedy_agent_plan_on_the_env_it_plays(tmp_path):
    train_env = PowerGridEnv(triangle(), series=constant_load(30.0), episode_steps=5)
    eval_env = PowerGridEnv(triangle(), series=constant_load(30.0), episode_steps=5)
    greedy = agents.make("greedy", train_env)
    result = evaluate(greedy, eval_env, 1, seed=0)
    assert greedy.env is eval_env
    assert result.lengths[0] == 5
    greedy.save(tmp_path / "g")
    assert agents.load(tmp_path / "g", env=eval_env).config == greedy.config
    with pytest.raises(ValueError, match="clone_state"):
        agents.make("greedy", gym.make("CartPole-v1"))


def test_the_thermostat_plays_the_building_and_refuses_other_envs(tmp_path):
    env = gym.make("sige/BuildingHVAC-v0")
    plain = agents.make("thermostat", env)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(plain.act(obs), [20.0, 23.5])  # the winter band's edges
    discrete = gym.make("sige/BuildingHVACDiscrete-v0", season="summer")
    agent = agents.make("thermostat", discrete, setback=True)
    discrete.reset(seed=0)
    assert agent.act(None) == 13  # (23, 26): the summer band, occupied at midnight
    agent.save(tmp_path / "t")
    assert agents.load(tmp_path / "t", env=discrete).config.setback is True
    with pytest.raises(ValueError, match="building env"):
        agents.make("thermostat", gym.make("CartPole-v1"))
