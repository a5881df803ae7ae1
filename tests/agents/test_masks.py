"""Action masks: where they come from, a legal draw, the bootstrapped max over legal actions on a
hand-computed transition, replay keeping the next state's mask, and DQN and PQN never choosing a
masked action in training or in evaluation on tic-tac-toe (where an illegal move ends the game,
so the env itself counts them); the tabular learners on a hand-built ladder the same way."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.common import masks
from sige_rl.agents.common.interface import Callback
from sige_rl.agents.common.replay import ReplayBuffer
from sige_rl.agents.dqn.dqn import DQN
from sige_rl.agents.training.evaluation import evaluate


class CountIllegal(gym.Wrapper):
    """Counts the moves the game itself called illegal (``info["illegal"]``)."""

    def __init__(self, env):
        super().__init__(env)
        self.illegal = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.illegal += bool(info.get("illegal", False))
        return obs, reward, terminated, truncated, info


def tictactoe():
    return CountIllegal(gym.make("sige/TicTacToe-v0"))


def small(**extra):
    return dict(learning_starts=100, buffer_size=2000, batch_size=16, net_arch=[32], **extra)


# -- the helpers --------------------------------------------------------------------------------
def test_a_mask_comes_from_the_info_else_from_the_method():
    info = {"action_mask": np.array([[1, 0, 1], [0, 0, 0]], np.int8)}
    info["_action_mask"] = np.array([True, False])  # the second sub-env reported none
    np.testing.assert_array_equal(
        masks.from_info(info, 2, 3), [[True, False, True], [True, True, True]]
    )
    assert masks.from_info({}, 2, 3) is None
    env = gym.make_vec("sige/TicTacToe-v0", num_envs=2, vectorization_mode="sync")
    env.reset(seed=0)
    np.testing.assert_array_equal(masks.current(env, {}, 2, 9), np.ones((2, 9), bool))
    assert (
        masks.from_method(gym.make_vec("CartPole-v1", 2, vectorization_mode="sync"), 2, 2) is None
    )


def test_asking_an_async_env_without_masks_leaves_its_workers_running():
    """A missing method looked up inside an async worker shuts the worker down; the lookup asks
    first, so the env steps on (PQN and DQN ask at every reset)."""
    env = gym.make_vec("CartPole-v1", 2, vectorization_mode="async")
    try:
        env.reset(seed=0)
        assert masks.from_method(env, 2, 2) is None
        env.step(np.zeros(2, np.int64))
        board = gym.make_vec("sige/TicTacToe-v0", num_envs=2, vectorization_mode="async")
        board.reset(seed=0)
        np.testing.assert_array_equal(masks.from_method(board, 2, 9), np.ones((2, 9), bool))
        board.close()
    finally:
        env.close()


def test_random_legal_draws_only_and_evenly_among_the_legal_actions():
    mask = np.array([[False, True, False, True], [False, False, False, False]])
    rng = np.random.default_rng(0)
    draws = np.stack([masks.random_legal(mask, rng) for _ in range(4000)])
    assert set(draws[:, 0]) == {1, 3}
    assert abs((draws[:, 0] == 1).mean() - 0.5) < 0.03
    assert set(draws[:, 1]) == {0, 1, 2, 3}  # nothing legal: every action (the game is over)


def test_masked_max_of_a_hand_case():
    values = torch.tensor([[5.0, 1.0, 3.0], [2.0, 9.0, -4.0], [7.0, 8.0, 9.0]])
    mask = torch.tensor([[False, True, True], [True, False, True], [False, False, False]])
    # legal maxima by hand: max(1, 3) = 3, max(2, -4) = 2, and 0 for a row with nothing legal
    assert masks.masked_max(values, mask).tolist() == [3.0, 2.0, 0.0]
    scores = masks.masked_scores(values.numpy(), mask.numpy())
    assert scores.argmax(axis=1).tolist() == [2, 0, 2]  # the empty row: every action allowed


# -- the bootstrapped max -----------------------------------------------------------------------
@pytest.mark.parametrize("double", [False, True])
def test_the_target_bootstraps_from_the_best_legal_action_only(double):
    """One transition by hand: reward 0.5, discount 0.9, the next state's legal actions {1, 4,
    6}; the target is 0.5 + 0.9 * Q_target(s', a*) with a* the best legal action (of the target
    net, or with Double DQN of the online net), never an illegal one even when it scores more."""
    agent = DQN(gym.make("sige/TicTacToe-v0"), seed=3, **small(double=double))
    next_obs = torch.zeros((1, 2, 3, 3))
    next_obs[0, 0, 0, 0] = 1  # some position
    legal = [1, 4, 6]
    mask = np.zeros((1, 9), bool)
    mask[0, legal] = True
    with torch.no_grad():
        q_target = agent.target(next_obs)[0].tolist()
        q_online = agent.q(next_obs)[0].tolist()
    chooser = q_online if double else q_target
    best = max(legal, key=lambda a: chooser[a])
    expected = 0.5 + 0.9 * q_target[best]
    target = agent.td_target(np.array([0.5]), np.array([0.9]), next_obs, mask)
    assert target.item() == pytest.approx(expected, abs=1e-6)
    # the unmasked target differs wherever an illegal action scores best
    illegal_best = max(range(9), key=lambda a: chooser[a]) not in legal
    unmasked = agent.td_target(np.array([0.5]), np.array([0.9]), next_obs).item()
    assert (unmasked != pytest.approx(expected, abs=1e-6)) == illegal_best


# -- replay -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_step", [1, 3])
def test_replay_keeps_the_mask_of_the_next_observation(n_step):
    """Observation k is the number k, and its mask allows action k % 4 only: every sampled
    transition's mask must be its next_obs's, n steps later, and at the episode's end."""
    buf = ReplayBuffer(100, (1,), np.float32, num_envs=2, n_step=n_step, mask_actions=4)
    for t in range(30):
        obs = np.array([[t], [100 + t]], np.float32)
        nxt = obs + 1
        mask = np.zeros((2, 4), bool)
        mask[[0, 1], (nxt[:, 0] % 4).astype(int)] = True
        ended = np.array([t % 7 == 6, False])
        buf.add(obs, np.zeros(2, np.int64), np.ones(2), nxt, ended, np.zeros(2, bool), mask)
    batch = buf.sample(40, np.random.default_rng(0))
    expected = np.zeros((40, 4), bool)
    expected[np.arange(40), (batch.next_obs[:, 0] % 4).astype(int)] = True
    np.testing.assert_array_equal(batch.next_masks, expected)
    state = buf.state_dict()
    again = ReplayBuffer(100, (1,), np.float32, num_envs=2, n_step=n_step, mask_actions=4)
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.next_masks, buf.next_masks)
    with pytest.raises(ValueError, match="missing"):
        ReplayBuffer(100, (1,), np.float32, num_envs=2, n_step=n_step).load_state_dict(state)
    with pytest.raises(ValueError, match="needs next_masks"):
        buf.add(obs, np.zeros(2, np.int64), np.ones(2), nxt, ended, np.zeros(2, bool))


# -- DQN in training and in evaluation ----------------------------------------------------------
def test_dqn_never_chooses_a_masked_action_in_training_or_evaluation():
    env = tictactoe()
    agent = agents.make("dqn", env, seed=0, **small())
    agent.learn(1500)  # epsilon starts at 1: mostly random moves
    assert agent.masked and env.illegal == 0 and agent.num_episodes > 100
    evaluation_env = tictactoe()
    result = evaluate(agent, evaluation_env, 60, seed=1, epsilon=0.2)  # greedy and random moves
    assert evaluation_env.illegal == 0 and len(result.returns) == 60


def test_without_masks_the_same_checks_fail():
    """The switch off: the same training makes illegal moves, and an untrained greedy network
    plays an occupied cell in evaluation (what the test above would catch)."""
    env = tictactoe()
    agent = agents.make("dqn", env, seed=0, **small(action_masks=False))
    agent.learn(1500)
    assert not agent.masked and env.illegal > 50
    fresh = agents.make("dqn", gym.make("sige/TicTacToe-v0"), seed=0, **small(action_masks=False))
    evaluation_env = tictactoe()
    evaluate(fresh, evaluation_env, 20, seed=1, epsilon=0.5)
    assert evaluation_env.illegal > 0


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def at_safe_point(self, agent):
        return agent.num_steps < self.step


def test_a_masked_dqn_resumes_exactly(tmp_path):
    def vec():
        return gym.make_vec("sige/TicTacToe-v0", num_envs=2, vectorization_mode="sync")

    config = small(n_step=3, double=True)
    straight = DQN(vec(), seed=5, **config).learn(900)
    first = DQN(vec(), seed=5, **config)
    first.learn(900, callback=StopAt(451))
    first.save(tmp_path / "ck")
    resumed = agents.load(tmp_path / "ck", env=vec())
    assert resumed.masked
    np.testing.assert_array_equal(resumed.mask, first.mask)
    resumed.learn(900)
    for a, b in zip(resumed.q.parameters(), straight.q.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.buffer.next_masks, straight.buffer.next_masks)


# -- PQN: the same three places -----------------------------------------------------------------
class OneLegalCounter(gym.Env):
    """Observation ``t`` (steps since reset), reward 1 a step, never terminating; the only legal
    action at ``t`` is ``t % 3``, reported in ``info["action_mask"]`` at reset and every step."""

    observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), self._info()

    def step(self, action):
        assert action == self.t % 3, f"illegal action {action} at t={self.t}"
        self.t += 1
        return self._obs(), 1.0, False, False, self._info()

    def _obs(self):
        return np.array([self.t], dtype=np.float32)

    def _info(self):
        mask = np.zeros(3, bool)
        mask[self.t % 3] = True
        return {"action_mask": mask}


def test_pqn_bootstraps_from_the_best_legal_action_on_a_hand_computed_rollout(monkeypatch):
    """A linear Q with Q(t, a) = (a + 1) t, lambda 0, gamma 0.5, episodes truncated at t = 6. The
    value a step bootstraps from is Q(t', t' % 3) for the observation t' it led to (its only legal
    action), not max_a Q = 3 t': t' = 1..6 give 2, 6, 3, 8, 15 and, from the truncated final
    observation, 6. Every action taken is the legal one (the env asserts it)."""
    from sige_rl.agents.dqn import pqn

    def make():
        return gym.wrappers.TimeLimit(OneLegalCounter(), max_episode_steps=6)

    env = gym.vector.SyncVectorEnv([make] * 2)
    agent = pqn.PQN(env, seed=0, gamma=0.5, q_lambda=0.0, epsilon=0.5, epsilon_final=0.5,
                    rollout_steps=24, num_minibatches=2, layer_norm=False, net_arch=[])  # fmt: skip
    with torch.no_grad():
        agent.q.head.weight.copy_(torch.tensor([[1.0], [2.0], [3.0]]))
        agent.q.head.bias.zero_()
    seen, q_lambda = [], pqn.q_lambda

    def spy(rewards, next_values, terminated, truncated, gamma, lam):
        out = q_lambda(rewards, next_values, terminated, truncated, gamma, lam)
        seen.append((next_values.copy(), truncated.copy(), out))
        return out

    monkeypatch.setattr(pqn, "q_lambda", spy)
    agent.learn(48)  # one rollout: 24 steps x 2 envs
    ((next_values, truncated, got),) = seen
    expected = np.tile(np.array([2.0, 6.0, 3.0, 8.0, 15.0, 6.0]), 4)[:, None].repeat(2, axis=1)
    np.testing.assert_allclose(next_values, expected)
    assert truncated[5::6].all() and truncated.sum() == 8
    np.testing.assert_allclose(got, 1 + 0.5 * expected)
    np.testing.assert_array_equal(agent.rollouts[-1].actions[:, 0], np.arange(24) % 6 % 3)


def pqn_small(**extra):
    return dict(rollout_steps=16, num_minibatches=4, update_epochs=2, net_arch=[32], **extra)


def tictactoe_vec():
    return gym.vector.SyncVectorEnv([tictactoe] * 4)


def test_pqn_never_chooses_a_masked_action_in_training_or_evaluation():
    env = tictactoe_vec()
    agent = agents.make("pqn", env, seed=0, **pqn_small())
    assert agent.supports_action_masks
    agent.learn(1536)  # epsilon starts at 1: mostly random moves
    assert sum(e.illegal for e in env.envs) == 0 and agent.num_episodes > 100
    evaluation_env = tictactoe()
    result = evaluate(agent, evaluation_env, 60, seed=1, epsilon=0.2)  # greedy and random moves
    assert evaluation_env.illegal == 0 and len(result.returns) == 60


def test_pqn_without_masks_makes_illegal_moves():
    """The switch off: the same training makes illegal moves (what the test above would catch)."""
    env = tictactoe_vec()
    agent = agents.make("pqn", env, seed=0, **pqn_small(action_masks=False))
    assert not agent.supports_action_masks
    agent.learn(1536)
    assert sum(e.illegal for e in env.envs) > 50


def test_a_masked_pqn_resumes_exactly(tmp_path):
    config = pqn_small()
    straight = agents.make("pqn", tictactoe_vec(), seed=5, **config).learn(640)
    first = agents.make("pqn", tictactoe_vec(), seed=5, **config)
    first.learn(640, callback=StopAt(300))
    first.save(tmp_path / "ck")
    resumed = agents.load(tmp_path / "ck", env=tictactoe_vec())
    np.testing.assert_array_equal(resumed.mask, first.mask)
    resumed.learn(640)
    for a, b in zip(resumed.q.parameters(), straight.q.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# -- tabular agents: the same three places ------------------------------------------------------
class Ladder(gym.Env):
    """States 0 to 4 in a row, start 0. Actions: 0 up (+1, to 4 at most), 1 down (legal above
    0), 2 cash in (legal at 4 only: reward 10, the episode ends); a move costs 1. The mask comes
    with each observation's info (or from ``action_masks()`` when ``by_method``); an illegal action
    is counted and costs 1 without moving. The best return is 4 moves up then cash: 6."""

    observation_space = gym.spaces.Discrete(5)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, by_method=False):
        self.by_method = by_method
        self.illegal = 0

    def action_masks(self):
        return np.array([True, self.s > 0, self.s == 4])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return self.s, self._info()

    def step(self, action):
        if not self.action_masks()[action]:
            self.illegal += 1
            return self.s, -1.0, False, False, self._info()
        if action == 2:
            return self.s, 10.0, True, False, self._info()
        self.s = min(self.s + 1, 4) if action == 0 else self.s - 1
        return self.s, -1.0, False, False, self._info()

    def _info(self):
        return {} if self.by_method else {"action_mask": self.action_masks()}


def ladder(limit=50, by_method=False):
    return gym.wrappers.TimeLimit(Ladder(by_method), max_episode_steps=limit)


def hand_set(agent):
    """Q(1, .) = 1, 2 and 100 for cashing in, which is illegal in state 1; state 0 can only go
    up (Q 5), so the first step is 0 -> 1 whatever the policy, with reward -1."""
    agent.q[0] = [5.0, 0.0, 50.0]
    agent.q[1] = [1.0, 2.0, 100.0]


@pytest.mark.parametrize(
    ("name", "epsilon", "expected"),
    [
        # max over the legal actions of state 1: max(1, 2) = 2, not 100
        ("q_learning", 0.0, -1 + 0.5 * 2.0),
        # epsilon 0.5 over the two legal actions, the greedy one (down, Q 2) gets 0.75:
        # 0.25 x 1 + 0.75 x 2 = 1.75
        ("expected_sarsa", 0.5, -1 + 0.5 * 1.75),
        # greedy: the next action is the best legal one, down (Q 2)
        ("sarsa", 0.0, -1 + 0.5 * 2.0),
    ],
)
def test_tabular_td_targets_bootstrap_over_the_legal_actions(name, epsilon, expected):
    """One step with step size 1, gamma 0.5: Q(0, up) becomes the target itself."""
    agent = agents.make(name, ladder(), seed=0, gamma=0.5, learning_rate=1.0, epsilon=epsilon,
                        epsilon_final=None)  # fmt: skip
    hand_set(agent)
    agent.learn(1)
    assert agent.q[0, 0] == pytest.approx(expected)


def test_monte_carlo_completes_a_cut_return_over_the_legal_actions():
    """The time limit cuts the episode after its one step (0 -> 1, reward -1): the return goes on
    with state 1's value under the epsilon-greedy policy over its legal actions, 1.75 at epsilon
    0.5 (above), so the first return of Q(0, up) is -1 + 0.5 x 1.75."""
    agent = agents.make("mc", ladder(limit=1), seed=0, gamma=0.5, epsilon=0.5, epsilon_final=None)
    hand_set(agent)
    agent.learn(1)
    assert agent.q[0, 0] == pytest.approx(-1 + 0.5 * 1.75)


@pytest.mark.parametrize("name", ["q_learning", "sarsa", "expected_sarsa", "mc"])
@pytest.mark.parametrize("by_method", [False, True], ids=["info", "method"])
def test_tabular_agents_never_choose_a_masked_action_and_learn_the_ladder(name, by_method):
    """5,000 steps from epsilon 1 (mostly random moves): none illegal, in training or in
    evaluation with an evaluation epsilon of 0.3; the greedy policy then climbs and cashes in
    (return 6). With masks off, the same training makes illegal moves."""
    env = ladder(by_method=by_method)
    agent = agents.make(name, env, seed=0).learn(5000)
    assert env.unwrapped.illegal == 0 and agent.num_episodes > 20
    evaluation_env = ladder(by_method=by_method)
    noisy = evaluate(agent, evaluation_env, 30, seed=1, epsilon=0.3)
    assert evaluation_env.unwrapped.illegal == 0 and len(noisy.returns) == 30
    assert evaluate(agent, ladder(by_method=by_method), 1, seed=1).returns[0] == 6.0
    unmasked = ladder(by_method=by_method)
    agents.make(name, unmasked, seed=0, action_masks=False).learn(5000)
    assert unmasked.unwrapped.illegal > 100


def test_exploring_starts_with_masks_is_refused():
    from sige_rl.agents.common.config import ConfigError

    class LadderModel(Ladder):  # exploring starts need the model: P[s][a] = [(p, s', r, end)]
        P = {
            s: {
                0: [(1.0, min(s + 1, 4), -1.0, False)],
                1: [(1.0, max(s - 1, 0), -1.0, False)],
                2: [(1.0, s, 10.0 if s == 4 else -1.0, s == 4)],
            }
            for s in range(5)
        }

    env = gym.wrappers.TimeLimit(LadderModel(), max_episode_steps=10)
    with pytest.raises(ConfigError, match="exploring_starts=false, or action_masks=false"):
        agents.make("mc", env, seed=0, exploring_starts=True).learn(10)
