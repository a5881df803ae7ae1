import gymnasium as gym
import numpy as np
import pytest

import agents
import envs  # noqa: F401
from agents.callbacks import Callback
from agents.model import TabularModel
from supervised.checkpoint import CheckpointError

LEARNERS = ["mc", "q_learning", "sarsa", "expected_sarsa"]


class StopAfterEpisodes(Callback):
    def __init__(self, n):
        self.n = n

    def at_safe_point(self, agent):
        return agent.num_episodes < self.n


@pytest.mark.parametrize("name", LEARNERS)
def test_save_load_resume_is_exact(name, tmp_path):
    """Stopping at a safe point, saving, loading and continuing gives the same table as one
    uninterrupted run (slippery env, so the random streams matter)."""
    straight = agents.make(name, gym.make("sige/SlipperyMaze-v0"), seed=3).learn(6000)

    first = agents.make(name, gym.make("sige/SlipperyMaze-v0"), seed=3)
    first.learn(6000, callback=StopAfterEpisodes(40))
    assert 0 < first.num_steps < 6000
    first.save(tmp_path / "ck")
    resumed = agents.load(tmp_path / "ck", env=gym.make("sige/SlipperyMaze-v0"))
    assert type(resumed) is type(first) and resumed.num_steps == first.num_steps
    resumed.learn(6000)

    assert resumed.num_steps == straight.num_steps == 6000
    np.testing.assert_array_equal(resumed.q, straight.q)


def test_same_seed_same_run_other_seed_other_run():
    def q(seed):
        return agents.make("q_learning", gym.make("sige/SlipperyMaze-v0"), seed=seed).learn(3000).q

    np.testing.assert_array_equal(q(1), q(1))
    assert not np.array_equal(q(1), q(2))


def test_value_iteration_round_trip(tmp_path):
    env = gym.make("FrozenLake-v1")
    vi = agents.make("value_iteration", env).learn(10_000)
    assert vi.num_steps < 10_000  # stopped at convergence
    vi.save(tmp_path / "vi")
    back = agents.load(tmp_path / "vi", env)
    np.testing.assert_array_equal(back.q, vi.q)
    assert back.act(np.arange(16)).tolist() == vi.q.argmax(axis=1).tolist()


def test_act_single_and_batched():
    agent = agents.make("q_learning", gym.make("sige/SmallGridWorld-v0"))
    agent.q[:] = 0
    agent.q[np.arange(16), np.arange(16) % 4] = 1
    assert agent.act(5) == 1 and isinstance(agent.act(5), int)
    assert agent.act(np.array([0, 1, 2, 3])).tolist() == [0, 1, 2, 3]


def test_load_into_mismatched_env_is_refused(tmp_path):
    agents.make("q_learning", gym.make("sige/SmallGridWorld-v0")).save(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="16 states x 4 actions"):
        agents.load(tmp_path / "ck", env=gym.make("sige/CliffWalking-v0"))


def test_truncated_or_foreign_checkpoint_is_refused(tmp_path):
    agents.make("mc", gym.make("sige/SmallGridWorld-v0")).save(tmp_path / "ck")
    f = tmp_path / "ck" / "arrays.npz"
    f.write_bytes(f.read_bytes()[:-40])
    with pytest.raises(CheckpointError):
        agents.load(tmp_path / "ck", env=gym.make("sige/SmallGridWorld-v0"))
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        agents.load(tmp_path, env=gym.make("sige/SmallGridWorld-v0"))


def test_tabular_agent_refuses_continuous_observations():
    with pytest.raises(ValueError, match="Discrete observation and action spaces"):
        agents.make("sarsa", gym.make("CartPole-v1"))


def test_unknown_agent_suggests_close_names():
    with pytest.raises(ValueError, match="did you mean 'sarsa'"):
        agents.make("sarsaa", gym.make("FrozenLake-v1"))


def test_unknown_hyperparameter_lists_valid_keys():
    with pytest.raises(ValueError, match="valid keys: gamma, learning_rate"):
        agents.make("q_learning", gym.make("FrozenLake-v1"), alpha=0.1)


class FirstStep(gym.Wrapper):
    """Records the state and action of each episode's first step."""

    def __init__(self, env):
        super().__init__(env)
        self.first, self.fresh = [], False

    def reset(self, **kwargs):
        self.fresh = True
        return self.env.reset(**kwargs)

    def step(self, action):
        if self.fresh:
            self.first.append((int(self.env.unwrapped.s), int(action)))
            self.fresh = False
        return self.env.step(action)


def test_exploring_starts_draw_every_live_pair_uniformly():
    """Monte Carlo ES: episodes begin in every live state with every action, about equally
    often, and never in a wall, cliff or goal; without ES they all begin at the start."""
    live = TabularModel.from_env(gym.make("sige/CliffWalking-v0")).live_states()
    env = FirstStep(gym.make("sige/CliffWalking-v0"))
    agents.make("mc", env, seed=0, exploring_starts=True).learn(60_000)
    counts = np.zeros((48, 4))
    for s, a in env.first:
        counts[s, a] += 1
    assert counts.sum() > 2000
    assert set(np.flatnonzero(counts.sum(axis=1))) == set(live.tolist())
    expected = counts.sum() / (len(live) * 4)
    assert counts[live].min() > expected / 3 and counts[live].max() < expected * 3

    plain = FirstStep(gym.make("sige/CliffWalking-v0"))
    agents.make("mc", plain, seed=0, exploring_starts=False).learn(5_000)
    assert {s for s, _ in plain.first} == {36}


def test_exploring_starts_need_a_settable_state():
    class NoModel(gym.Env):
        observation_space = gym.spaces.Discrete(3)
        action_space = gym.spaces.Discrete(2)

    with pytest.raises(ValueError, match="exploring_starts needs an env with a model P"):
        agents.make("mc", NoModel(), exploring_starts=True)
