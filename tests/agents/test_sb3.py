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

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.common.config import ConfigError, resolve
from sige_rl.agents.common.interface import Callback
from sige_rl.agents.sb3.agent import SB3A2C, SB3DQN, SB3PPO, InexactResumeWarning
from sige_rl.agents.training.evaluation import evaluate
from sige_rl.supervised import Run
from sige_rl.supervised.checkpoint import CheckpointError

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
    returns, *_ = evaluate(agent, gridworld(), episodes=1, seed=0)
    assert returns[0] == -12  # the shortest path: V*(start)


@pytest.mark.parametrize("name", list(AGENTS))
def test_each_agent_trains_on_a_vector_env_and_logs_our_keys(tmp_path, name):
    env = gym.make_vec(
        "sige_rl.envs:sige/SmallGridWorld-v0", num_envs=2, vectorization_mode="vector_entry_point"
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


def test_sb3_learns_our_env_through_its_own_api():
    """Our env under Stable-Baselines3's own API, no wrapper of ours: its checker passes, and PPO
    with the tuned GridWorld values walks the shortest path (V* = -12)."""
    check_env(gridworld().unwrapped)
    tuned = yaml.safe_load(
        resources.files("sige_rl.agents.hyperparams").joinpath("sb3-ppo.yaml").read_text()
    )["sige/GridWorld-v0"]
    kwargs = {k: v for k, v in tuned.items() if k != "net_arch"}
    model = stable_baselines3.PPO(
        "MlpPolicy", gridworld(), seed=0, policy_kwargs={"net_arch": tuned["net_arch"]}, **kwargs
    )
    model.learn(3000)
    env = gridworld()
    obs, _ = env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        obs, r, terminated, truncated, _ = env.step(int(action))
        total, done = total + r, terminated or truncated
    assert total == -12


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
    assert before.keys() == after.keys() and before
    for key, state in before.items():  # Adam's / RMSProp's moments and step counts
        for name, value in state.items():
            torch.testing.assert_close(after[key][name], value, rtol=0, atol=0)
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


def test_tuned_cartpole_entries_reach_sb3_as_rl_zoo_publishes_them():
    """RL Zoo's CartPole-v1 values (rl-baselines3-zoo hyperparams/{ppo,dqn}.yml) arrive in the
    SB3 models, linear schedules included."""
    cartpoles = gym.make_vec("CartPole-v1", num_envs=8)  # RL Zoo's n_envs
    ppo = agents.make("sb3-ppo", cartpoles).model
    assert (ppo.n_envs, ppo.n_steps, ppo.batch_size, ppo.gamma) == (8, 32, 256, 0.98)
    assert ppo.lr_schedule(0.5) == pytest.approx(5e-4)  # RL Zoo's lin_0.001 at half-way
    assert ppo.clip_range(0.5) == pytest.approx(0.1)
    dqn = agents.make("sb3-dqn", gym.make("CartPole-v1")).model
    assert dqn.q_net.q_net[0].out_features == 256
    assert (dqn.train_freq.frequency, dqn.gradient_steps) == (256, 128)


def test_building_and_training_leave_the_global_generators_alone():
    """SB3 seeds and draws from Python's, NumPy's and torch's global generators; the agent swaps
    its own streams in around SB3's calls, so the caller's are neither reseeded nor advanced,
    and the same seed still gives the same run."""
    import random

    random.seed(1)
    np.random.seed(2)  # noqa: NPY002
    torch.manual_seed(3)
    before = (random.getstate(), np.random.get_state(legacy=False), torch.get_rng_state())  # noqa: NPY002
    agent = agents.make("sb3-ppo", gridworld(), seed=0, **FAST["sb3-ppo"]).learn(100)
    agent.act(np.eye(49, dtype=np.float32), deterministic=False)
    after = (random.getstate(), np.random.get_state(legacy=False), torch.get_rng_state())  # noqa: NPY002
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1]["state"]["key"], before[1]["state"]["key"])
    assert after[1]["state"]["pos"] == before[1]["state"]["pos"]
    assert torch.equal(after[2], before[2])


def test_schedules_keep_the_first_horizon_unless_stretched():
    """SB3's exploration schedule follows ``schedule_steps``: training on past the first budget
    holds the final epsilon; a stretched horizon continues the decay."""

    def dqn():
        return agents.make("sb3-dqn", gridworld(), seed=0, **{**FAST["sb3-dqn"],
                           "exploration_fraction": 1.0, "exploration_final_eps": 0.0})  # fmt: skip

    kept = dqn().learn(400).learn(600)
    assert kept.model.exploration_rate == pytest.approx(0.0)
    stretched = dqn().learn(400)
    stretched.schedule_steps = 800
    stretched.learn(600)
    assert stretched.model.exploration_rate == pytest.approx(1 - 600 / 800, abs=0.01)
