import gymnasium as gym
import numpy as np
import pytest

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.common.interface import Callback
from sige_rl.agents.tabular.model import TabularModel
from sige_rl.supervised.checkpoint import CheckpointError

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


# -- the update rules, by hand -----------------------------------------------------------------
class Chain(gym.Env):
    """States 0 -> 1 -> 2 (terminal): any action moves right, reward 1 then 2."""

    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return 0, {}

    def step(self, action):
        self.s += 1
        return self.s, float(self.s), self.s == 2, False, {}


# Q-values of the next state (1): two greedy actions tie at 3.
NEXT_ROW = [3.0, 3.0, -1.0]


@pytest.mark.parametrize(
    ("name", "next_value"),
    [
        ("q_learning", 3.0),  # max_a Q(1, a)
        # Expected SARSA, epsilon 0.3: each action 0.1, the two tied greedy ones 0.35 more each:
        # 0.45 * 3 + 0.45 * 3 + 0.1 * -1 = 2.6
        ("expected_sarsa", 2.6),
    ],
)
def test_one_step_td_update_by_hand(name, next_value):
    """Q(0, a) <- Q(0, a) + alpha (r + gamma next_value - Q(0, a)), alpha 0.5, gamma 0.9, on the
    first transition of the chain; the second, into the terminal state, has no future."""
    agent = agents.make(
        name, Chain(), epsilon=0.3, epsilon_final=None, learning_rate=0.5, gamma=0.9
    )
    agent.q[0] = [2.0, 2.0, 2.0]
    agent.q[1] = NEXT_ROW
    agent.learn(2)  # one episode: 0 -> 1 (reward 1), then 1 -> terminal 2 (reward 2)
    (a,) = np.flatnonzero(agent.q[0] != 2.0)
    assert agent.q[0, a] == pytest.approx(2.0 + 0.5 * (1.0 + 0.9 * next_value - 2.0))
    (b,) = np.flatnonzero(agent.q[1] != NEXT_ROW)  # target 2: no bootstrap past the end
    assert agent.q[1, b] == pytest.approx(NEXT_ROW[b] + 0.5 * (2.0 - NEXT_ROW[b]))


def test_sarsa_bootstraps_from_the_action_it_then_takes():
    """SARSA's target uses Q(s', a') of the a' it goes on to take (not the max): with the next
    row [3, 3, -1] and epsilon 1, the update of Q(0, a) reveals which a' was drawn, and the
    following step must be that action."""
    for seed in range(6):
        agent = agents.make(
            "sarsa",
            Chain(),
            seed=seed,
            epsilon=1.0,
            epsilon_final=None,
            learning_rate=0.5,
            gamma=0.9,
        )
        agent.q[0] = [2.0, 2.0, 2.0]
        agent.q[1] = NEXT_ROW
        agent.learn(2)
        (a,) = np.flatnonzero(agent.q[0] != 2.0)
        bootstrap = ((agent.q[0, a] - 2.0) / 0.5 + 1.0) / 0.9
        assert bootstrap == pytest.approx(3.0) or bootstrap == pytest.approx(-1.0)
        (b,) = np.flatnonzero(agent.q[1] != NEXT_ROW)
        assert NEXT_ROW[b] == pytest.approx(bootstrap)


@pytest.mark.parametrize(
    ("first_visit", "expected"),
    [
        # Episode (s, a, r): (0, 0, 1), (1, 0, 2), (0, 0, 3); gamma 0.5. Returns from each step:
        # G2 = 3, G1 = 2 + 0.5 * 3 = 3.5, G0 = 1 + 0.5 * 3.5 = 2.75.
        (True, {(0, 0): 2.75, (1, 0): 3.5}),  # first visit of (0, 0) only: G0
        (False, {(0, 0): (3 + 2.75) / 2, (1, 0): 3.5}),  # every visit: the mean of G2 and G0
    ],
)
def test_monte_carlo_first_and_every_visit_by_hand(first_visit, expected):
    agent = agents.make(
        "mc", gym.make("sige/SmallGridWorld-v0"), gamma=0.5, first_visit=first_visit
    )
    agent._update([0, 1, 0], [0, 0, 0], [1.0, 2.0, 3.0])
    for (s, a), value in expected.items():
        assert agent.q[s, a] == pytest.approx(value)
    assert agent.visits[0, 0] == (1 if first_visit else 2)


def test_reading_the_model_leaves_the_users_env_alone():
    """``TabularModel.from_env`` on an env without ``initial_state_distrib`` finds the start
    state on a copy: the user's episode goes on where it was."""
    env = FirstStep(gym.make("sige/CliffWalking-v0"))
    env.reset(seed=0)
    env.step(3)  # up: row 2
    before = env.unwrapped.s
    base = env.unwrapped
    saved = base.initial_state_distrib
    del base.initial_state_distrib
    try:
        model = TabularModel.from_env(env)
    finally:
        base.initial_state_distrib = saved
    assert env.unwrapped.s == before == 24
    assert np.flatnonzero(model.start).tolist() == [36]
