"""DQN: TD targets by hand, learning thresholds, exact resume, safe checkpoints."""

import os
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import agents
import envs  # noqa: F401
from agents.callbacks import Callback
from agents.dqn import DQN
from agents.evaluation import evaluate
from supervised.checkpoint import CheckpointError


class Table(nn.Module):
    """Q-values looked up by integer state: a network whose outputs we know by heart."""

    def __init__(self, rows):
        super().__init__()
        self.rows = torch.tensor(rows, dtype=torch.float32)

    def forward(self, obs):
        return self.rows[obs.long()]

    def greedy(self, obs):
        return self(obs).argmax(dim=1)


# Next-state Q-values: online net prefers action 1 in state 0, target net action 0.
ONLINE = [[1.0, 5.0], [2.0, 0.0]]
TARGET = [[4.0, 3.0], [6.0, 7.0]]


def agent_with_tables(**config):
    env = gym.make("sige/SmallGridWorld-v0")
    agent = DQN(env, seed=0, learning_starts=0, **config)
    agent.q, agent.target = Table(ONLINE), Table(TARGET)
    return agent


@pytest.mark.parametrize("dueling", [False, True])
def test_greedy_shortcut_is_the_argmax_of_q(dueling):
    """``QNetwork.greedy`` skips the dueling value and mean; it must still pick argmax Q."""
    agent = DQN(gym.make("CartPole-v1"), seed=0, dueling=dueling, net_arch=[32])
    with torch.no_grad():
        for p in agent.q.parameters():
            p.normal_()
        obs = torch.randn(500, 4)
        torch.testing.assert_close(agent.q.greedy(obs), agent.q(obs).argmax(dim=1))


def test_acting_in_numpy_follows_the_trained_network():
    """On CPU, acting runs a numpy copy of the forward on views of the online parameters; it
    must pick argmax Q of the torch network, before and after training changes the weights."""
    agent = DQN(gym.make("CartPole-v1"), seed=0, dueling=True, net_arch=[32], learning_starts=64)
    assert agent._numpy_scores is not None
    obs = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    for steps in (0, 400):
        agent.learn(steps)
        with torch.no_grad():
            expected = agent.q(torch.as_tensor(obs)).argmax(dim=1).numpy()
        np.testing.assert_array_equal(agent.act(obs), expected)
    assert agent.num_updates > 0


def test_vanilla_target_is_max_of_target_net():
    agent = agent_with_tables(gamma=0.9)
    next_obs = torch.tensor([0, 1])
    got = agent.td_target(np.array([1.0, -1.0]), np.array([0.9, 0.9]), next_obs)
    torch.testing.assert_close(got, torch.tensor([1 + 0.9 * 4.0, -1 + 0.9 * 7.0]))


def test_double_target_values_the_online_choice_with_the_target_net():
    agent = agent_with_tables(gamma=0.9, double=True)
    got = agent.td_target(np.array([1.0, -1.0]), np.array([0.9, 0.9]), torch.tensor([0, 1]))
    # online argmax: state 0 -> action 1 (target 3.0); state 1 -> action 0 (target 6.0)
    torch.testing.assert_close(got, torch.tensor([1 + 0.9 * 3.0, -1 + 0.9 * 6.0]))


def test_terminal_truncated_and_n_step_targets_through_the_replay_buffer():
    """A 3-step episode, n = 2, gamma = 0.5, states 0 -> 1 -> 0 -> 1, rewards 1, 2, 4.
    Terminated: the last transitions do not bootstrap. Truncated: they bootstrap from the final
    state with gamma^k."""
    for ending, tail in (("terminated", 0.0), ("truncated", 1.0)):
        agent = agent_with_tables(gamma=0.5, n_step=2)
        buf = agent.buffer
        states, rewards = [0, 1, 0, 1], [1.0, 2.0, 4.0]
        for t in range(3):
            last = t == 2
            buf.add(
                np.array([states[t]]),
                np.array([0]),
                np.array([rewards[t]]),
                np.array([states[t + 1]]),
                np.array([last and ending == "terminated"]),
                np.array([last and ending == "truncated"]),
            )
        assert len(buf) == 3
        rng, got = np.random.default_rng(0), {}
        for _ in range(30):  # sampling is with replacement: draw until every transition is seen
            batch = buf.sample(3, rng)
            targets = agent.td_target(
                batch.rewards, batch.discounts, torch.as_tensor(batch.next_obs)
            )
            for o, r, v in zip(batch.obs, batch.rewards, targets, strict=True):
                got[(int(o), float(r))] = float(v)
        max_target = {0: 4.0, 1: 7.0}
        expected = {
            (0, 1 + 0.5 * 2): 1 + 0.5 * 2 + 0.25 * max_target[0],  # s0 -> s0 after two steps
            (1, 2 + 0.5 * 4): 2 + 0.5 * 4 + tail * 0.25 * max_target[1],  # ends at s1
            (0, 4.0): 4.0 + tail * 0.5 * max_target[1],  # one step to the end
        }
        assert got == pytest.approx(expected), ending


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def at_safe_point(self, agent):
        return agent.num_steps < self.step


def small_config():
    return dict(
        learning_starts=200,
        buffer_size=2000,
        batch_size=16,
        train_freq=2,
        target_update_interval=100,
        net_arch=[32],
        double=True,
        dueling=True,
        n_step=3,
        prioritized=True,
    )


@pytest.mark.parametrize(
    "target",
    [{}, {"tau": 0.1, "target_update_interval": 1, "train_freq": 4}],
    ids=["hard", "polyak-owed"],
)
def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path, target):
    """Two envs at once, stopped mid-episode: replay, optimizer, generators and each sub-env's
    state come back exactly. With Polyak every step and training every 4th, the stop falls
    where four target updates are owed (applied at the next round): they must survive too."""

    def vec():
        return gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")

    config = {**small_config(), **target}
    straight = DQN(vec(), seed=5, **config).learn(1500)
    first = DQN(vec(), seed=5, **config)
    first.learn(1500, callback=StopAt(734))
    assert first.num_steps == 734
    assert first._target_lag == (4 if target else 0)  # due at vector steps 364-367
    first.save(tmp_path / "ck")
    resumed = agents.load(tmp_path / "ck", env=vec())
    resumed.learn(1500)
    assert resumed.num_steps == straight.num_steps == 1500
    for net in ("q", "target"):
        for a, b in zip(
            getattr(resumed, net).parameters(), getattr(straight, net).parameters(), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.obs, straight.obs)


@pytest.mark.parametrize(("tau", "owed", "expected"), [(0.5, 4, 1 - 0.5**4), (1.0, 3, 1.0)])
def test_owed_target_updates_are_applied_as_one(tau, owed, expected):
    """Target 0, online 1: k Polyak steps of tau leave the target at 1 - (1 - tau)^k (hand:
    0.5, 0.75, 0.875, 0.9375); any number of hard copies leave it at 1."""
    agent = DQN(gym.make("CartPole-v1"), seed=0, net_arch=[8], tau=tau)
    with torch.no_grad():
        agent._q_flat.fill_(1.0)
        agent._target_flat.zero_()
    agent._target_lag = owed
    agent._catch_up_target()
    assert agent._target_lag == 0
    torch.testing.assert_close(agent._target_flat, torch.full_like(agent._target_flat, expected))
    for p in agent.target.parameters():  # the flat buffer is what the network reads
        assert torch.all(p == expected)


def test_same_seed_same_parameters():
    def params(seed):
        agent = DQN(gym.make("CartPole-v1"), seed=seed, **small_config()).learn(600)
        return torch.cat([p.flatten() for p in agent.q.parameters()])

    torch.testing.assert_close(params(1), params(1), rtol=0, atol=0)
    assert not torch.equal(params(1), params(2))


def test_learns_one_hot_gridworld():
    env = gym.make("sige/GridWorld-v0", obs_type="onehot")
    agent = agents.make("dqn", env, seed=0)
    agent.learn(agent_budget("sige/GridWorld-v0"))
    returns, _ = evaluate(agent, gym.make("sige/GridWorld-v0", obs_type="onehot"), 5, seed=0)
    assert returns.mean() == -12  # the shortest path


def test_learns_cartpole():
    agent = agents.make("dqn", gym.make("CartPole-v1"), seed=0)
    agent.learn(agent_budget("CartPole-v1"))
    returns, _ = evaluate(agent, gym.make("CartPole-v1"), 10, seed=100)
    # A random policy lasts ~22 steps; the tuned settings solve CartPole (>= 475) in their 50k
    # steps on 9 of 10 seeds (scripts/bench/dqn_vs_sb3.py), seed 0 among them.
    assert returns.mean() >= 475, returns


def agent_budget(env_id):
    return {"sige/GridWorld-v0": 15_000, "CartPole-v1": 50_000}[env_id]


class Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_checkpoint_cannot_execute_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agent = DQN(gym.make("CartPole-v1"), seed=0, **small_config())
    agent.save(tmp_path / "ck")
    with open(tmp_path / "ck" / "tensors.pt", "wb") as f:
        pickle.dump({"q": Boom()}, f)
    with pytest.raises(CheckpointError, match="holds more than tensors"):
        agents.load(tmp_path / "ck", env=gym.make("CartPole-v1"))
    assert not (tmp_path / "pwned").exists()


def test_corrupted_or_mismatched_checkpoint_is_refused(tmp_path):
    agent = DQN(gym.make("CartPole-v1"), seed=0, **small_config())
    agent.save(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="does not fit"):
        agents.load(tmp_path / "ck", env=gym.make("Acrobot-v1"))
    f = tmp_path / "ck" / "tensors.pt"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated, corrupted"):
        agents.load(tmp_path / "ck", env=gym.make("CartPole-v1"))


def test_needs_discrete_actions():
    with pytest.raises(ValueError, match="Discrete action space"):
        DQN(gym.make("Pendulum-v1"))


def test_evaluation_epsilon_explores_from_its_own_generator():
    """``act(deterministic=True)`` keeps ``eval_epsilon`` of exploration (all of it at 1.0: a
    uniform policy), drawn from a generator of its own, so evaluating leaves training alone."""
    env = gym.make("CartPole-v1")
    greedy = DQN(env, seed=0, eval_epsilon=0.0)
    obs = np.zeros((2000, 4), dtype=np.float32)
    assert len(set(greedy.act(obs, deterministic=True).tolist())) == 1  # same obs, same action
    uniform = DQN(env, seed=0, eval_epsilon=1.0)
    state = uniform.rng.bit_generator.state
    share = uniform.act(obs, deterministic=True).mean()
    assert abs(share - 0.5) < 0.05  # 2000 fair coin flips: 4.5 standard deviations
    assert uniform.rng.bit_generator.state == state
