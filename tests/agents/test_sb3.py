"""Stable-Baselines3 behind our interface: both directions of env / agent interchange, pickle-free
save / load, the callback bridge and TensorBoard keys."""

from importlib import resources

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3
import torch
import yaml
from stable_baselines3.common.env_checker import check_env
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agents
import envs  # noqa: F401
from agents.callbacks import Callback
from agents.config import ConfigError, resolve
from agents.evaluation import evaluate
from agents.sb3 import SB3A2C, SB3DQN, SB3PPO, InexactResumeWarning
from supervised import Run
from supervised.checkpoint import CheckpointError

AGENTS = {cls.name: cls for cls in (SB3PPO, SB3A2C, SB3DQN)}
# Tiny budgets: a rollout or a training round every few steps.
FAST = {
    "sb3-ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
    "sb3-a2c": {"n_steps": 5},
    "sb3-dqn": {
        "buffer_size": 1000,
        "learning_starts": 50,
        "target_update_interval": 100,
        "exploration_fraction": 0.5,
    },
}


def gridworld():
    return gym.make("sige/GridWorld-v0", obs_type="onehot")


def scalars(folder):
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


# -- our envs and SB3, both ways ------------------------------------------------------------
def test_ppo_solves_our_gridworld_with_its_tuned_values():
    agent = agents.make("sb3-ppo", gridworld(), seed=0)  # sb3-ppo.yaml: sige/GridWorld-v0
    assert agent.config.net_arch == [64]
    agent.learn(3000)
    assert agent.num_steps >= 3000
    returns, _ = evaluate(agent, gridworld(), episodes=1, seed=0)
    assert returns[0] == -12  # the shortest path: V*(start)


@pytest.mark.parametrize("name", list(AGENTS))
def test_each_agent_trains_on_a_vector_env_and_logs_our_keys(tmp_path, name):
    env = gym.make_vec(
        "envs:sige/SmallGridWorld-v0", num_envs=2, vectorization_mode="vector_entry_point"
    )
    agent = agents.make(name, env, seed=0, **FAST[name])
    assert agent.num_envs == 2
    run = Run(tmp_path)
    # A2C dumps SB3's logger every 100 rollouts (SB3's log_interval), and a rollout's losses
    # are dumped with the next one.
    agent.learn(1010 if name == "sb3-a2c" else 300, run=run)
    run.close()
    assert agent.num_episodes > 0
    keys = set(scalars(tmp_path))
    expected = {"charts/episodic_return", "charts/episodic_length", "charts/SPS"}
    expected |= {"charts/learning_rate", "losses/value_loss", "losses/policy_loss"}
    if name == "sb3-dqn":
        expected = expected - {"losses/value_loss", "losses/policy_loss"}
        expected |= {"losses/td_loss", "charts/epsilon"}
    assert expected <= keys
    batch = np.arange(16)
    assert agent.act(batch).shape == (16,)
    assert isinstance(agent.act(5), int)


def test_sb3_trains_on_our_env_through_its_own_api():
    check_env(gridworld().unwrapped)
    model = stable_baselines3.PPO(
        "MlpPolicy", gym.make("sige/CliffWalking-v0"), n_steps=64, batch_size=64, n_epochs=1
    )
    model.learn(128)
    action, _ = model.predict(36, deterministic=True)  # the start cell of the 4x12 cliff
    assert gym.make("sige/CliffWalking-v0").action_space.contains(int(action))


@pytest.mark.parametrize("name", list(AGENTS))
def test_same_seed_same_run(name):
    a, b = (agents.make(name, gridworld(), seed=3, **FAST[name]).learn(100) for _ in range(2))
    for key, value in a.model.policy.state_dict().items():
        torch.testing.assert_close(b.model.policy.state_dict()[key], value, rtol=0, atol=0)


# -- save / load ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(AGENTS))
def test_save_load_round_trip(tmp_path, name):
    agent = agents.make(name, gridworld(), seed=0, **FAST[name]).learn(100)
    agent.save(tmp_path / "ck")
    with pytest.warns(InexactResumeWarning, match="will not equal an uninterrupted run"):
        loaded = agents.load(tmp_path / "ck", gridworld())
    assert type(loaded) is AGENTS[name]
    assert (loaded.num_steps, loaded.num_episodes) == (agent.num_steps, agent.num_episodes)
    obs = np.eye(49, dtype=np.float32)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    for key, value in agent.model.policy.state_dict().items():
        torch.testing.assert_close(loaded.model.policy.state_dict()[key], value)
    before = agent.model.policy.optimizer.state_dict()["state"]
    after = loaded.model.policy.optimizer.state_dict()["state"]
    assert before.keys() == after.keys()
    loaded.learn(loaded.num_steps + 50)  # training goes on from the restored count
    assert loaded.num_steps >= agent.num_steps + 50


def test_truncated_tensors_raise(tmp_path):
    SB3PPO(gridworld(), seed=0, **FAST["sb3-ppo"]).save(tmp_path / "ck")
    tensors = tmp_path / "ck" / "tensors.pt"
    tensors.write_bytes(tensors.read_bytes()[: tensors.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        agents.load(tmp_path / "ck", gridworld())


def test_other_observation_space_raises(tmp_path):
    SB3PPO(gridworld(), seed=0).save(tmp_path / "ck")
    cliff = gym.make("sige/CliffWalking-v0", obs_type="onehot")  # 48 cells, not 49
    with pytest.raises(CheckpointError, match="was trained on observations"):
        agents.load(tmp_path / "ck", cliff)


# -- the callback bridge --------------------------------------------------------------------
class StopAt(Callback):
    def __init__(self, n):
        self.n, self.steps, self.episodes = n, 0, []

    def on_step(self, agent):
        self.steps += 1

    def on_episode(self, agent, episode_return, episode_length):
        self.episodes.append((episode_return, episode_length))

    def at_safe_point(self, agent):
        return agent.num_steps < self.n


def test_callback_sees_every_step_and_episode_and_stops_learning():
    callback = StopAt(250)
    agent = SB3PPO(gridworld(), seed=0, **FAST["sb3-ppo"]).learn(10_000, callback=callback)
    assert agent.num_steps == callback.steps == 250
    assert len(callback.episodes) == agent.num_episodes >= 2
    for ret, length in callback.episodes:  # -1 per step, 0 for the goal
        assert ret == -length


# -- hyperparameters ------------------------------------------------------------------------
def test_unknown_hyperparameter_lists_the_valid_keys():
    with pytest.raises(ConfigError, match="did you mean 'n_steps'.*valid keys: .*gae_lambda"):
        agents.make("sb3-ppo", gridworld(), n_step=5)
    with pytest.raises(ConfigError, match="valid keys: .*exploration_final_eps"):
        resolve(SB3DQN.Config, ("--set", {"epsilon_final": 0.1}))


def test_tuned_yaml_entries_are_valid_and_reach_sb3():
    for name, cls in AGENTS.items():
        table = yaml.safe_load(
            resources.files("agents.hyperparams").joinpath(f"{name}.yaml").read_text()
        )
        assert "CartPole-v1" in table
        for env_id, values in table.items():
            resolve(cls.Config, (f"{name}.yaml[{env_id}]", values))
    cartpoles = gym.make_vec("CartPole-v1", num_envs=8)  # RL Zoo's n_envs
    ppo = agents.make("sb3-ppo", cartpoles).model
    assert (ppo.n_envs, ppo.n_steps, ppo.batch_size, ppo.gamma) == (8, 32, 256, 0.98)
    assert ppo.lr_schedule(0.5) == pytest.approx(5e-4)  # RL Zoo's lin_0.001 at half-way
    assert ppo.clip_range(0.5) == pytest.approx(0.1)
    dqn = agents.make("sb3-dqn", gym.make("CartPole-v1")).model
    assert dqn.q_net.q_net[0].out_features == 256
    assert (dqn.train_freq.frequency, dqn.gradient_steps) == (256, 128)
