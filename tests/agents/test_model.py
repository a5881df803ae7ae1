"""Dynamic programming against the values published in Sutton & Barto, 2nd edition."""

import gymnasium as gym
import numpy as np
import pytest

from sige_rl import envs  # noqa: F401
from sige_rl.agents.tabular.model import (
    TabularModel,
    policy_evaluation,
    start_value,
    value_iteration,
)

# Figure 3.2 (right): the equiprobable random policy on the Example 3.5 grid, gamma 0.9.
EX35_RANDOM = [
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
]
# Figure 3.5 (middle): v* of the same grid.
EX35_OPTIMAL = [
    [22.0, 24.4, 22.0, 19.4, 17.5],
    [19.8, 22.0, 19.8, 17.8, 16.0],
    [17.8, 19.8, 17.8, 16.0, 14.4],
    [16.0, 17.8, 16.0, 14.4, 13.0],
    [14.4, 16.0, 14.4, 13.0, 11.7],
]
# Figure 4.1 (k = infinity): the random policy on the 4x4 grid of Example 4.1, undiscounted.
EX41_RANDOM = [
    [0, -14, -20, -22],
    [-14, -18, -20, -20],
    [-20, -20, -18, -14],
    [-22, -20, -14, 0],
]


def model(env_id):
    return TabularModel.from_env(gym.make(env_id))


def random_policy(m):
    return np.full((m.n_states, m.n_actions), 1.0 / m.n_actions)


def test_example_3_5_random_policy():
    m = model("sige/SuttonBarto5x5-v0")
    v = policy_evaluation(m, random_policy(m), gamma=0.9)
    np.testing.assert_allclose(v.reshape(5, 5), EX35_RANDOM, atol=0.051)


def test_example_3_5_optimal_values():
    m = model("sige/SuttonBarto5x5-v0")
    v, _ = value_iteration(m, gamma=0.9)
    np.testing.assert_allclose(v.reshape(5, 5), EX35_OPTIMAL, atol=0.051)


def test_example_4_1_random_policy():
    m = model("sige/SmallGridWorld-v0")
    v = policy_evaluation(m, random_policy(m), gamma=1.0)
    np.testing.assert_allclose(v.reshape(4, 4), EX41_RANDOM, atol=1e-6)


def test_value_iteration_on_gymnasium_frozenlake_matches_bellman_optimality():
    """Gymnasium's own FrozenLake model: V* is a fixed point of the Bellman optimality operator
    and its greedy policy is worth V* (checked with an independent linear solve)."""
    m = model("FrozenLake-v1")
    v, _ = value_iteration(m, gamma=0.95)
    q = m.q_values(v, 0.95)
    np.testing.assert_allclose(q.max(axis=1), v, atol=1e-8)
    pi = q.argmax(axis=1)
    idx = np.arange(m.n_states)
    solved = np.linalg.solve(np.eye(m.n_states) - 0.95 * m.cont[idx, pi], m.reward[idx, pi])
    np.testing.assert_allclose(solved, v, atol=1e-8)
    assert start_value(m, v) == pytest.approx(v[0])


def test_env_without_model_is_refused():
    with pytest.raises(ValueError, match="no exact model"):
        TabularModel.from_env(gym.make("CartPole-v1"))


@pytest.mark.parametrize(
    ("env_id", "dead"),
    [
        # Example 6.6: the 10 cliff cells send the agent back to start, the goal ends the episode.
        ("sige/CliffWalking-v0", {37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47}),
        # FrozenLake 4x4: holes at 5, 7, 11, 12 and the goal at 15 end the episode.
        ("FrozenLake-v1", {5, 7, 11, 12, 15}),
    ],
)
def test_live_states_exclude_what_ends_or_is_never_entered(env_id, dead):
    m = TabularModel.from_env(gym.make(env_id))
    assert set(m.live_states().tolist()) == set(range(m.n_states)) - dead
