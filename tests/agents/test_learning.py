"""Learning guards: each tuned learner, trained for its entry's ``n_timesteps`` on seed 0, ends
with a greedy policy within 1% of V* at the start state (exact, by dynamic programming on
``env.unwrapped.P``). The evidence on five seeds is ``scripts/bench/tabular_seeds.py``
(BENCHMARKS.md); this one seed only guards against regressions. Value iteration is checked
against the book's figures, hand-computed shortest paths and an independent linear solve."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents, envs
from sige_rl.agents.common.config import tuned_hyperparams, tuned_job_options
from sige_rl.agents.training.evaluation import OptimalityGap, evaluate
from tests.agents.test_model import EX35_OPTIMAL

LEARNERS = ("mc", "q_learning", "sarsa", "expected_sarsa")
CHECKED_ENVS = (*envs.ENV_IDS, "FrozenLake-v1")
# Also tuned (not checked against V* here): Gymnasium's other toy-text envs with a model.
EXTRA_ENVS = tuple(i for i in ("CliffWalking-v1", "Taxi-v4") if i in gym.registry)
TOLERANCE = 0.01  # |V* - V^pi| <= TOLERANCE * |V*| at the start state


@pytest.mark.parametrize("name", (*LEARNERS, "value_iteration"))
@pytest.mark.parametrize("env_id", CHECKED_ENVS + EXTRA_ENVS)
def test_every_agent_has_a_tuned_entry(name, env_id):
    assert tuned_hyperparams(name, env_id), f"agents/hyperparams/{name}.yaml has no {env_id}"
    if name in LEARNERS and env_id in CHECKED_ENVS:
        assert "n_timesteps" in tuned_job_options(name, env_id), f"{name}.yaml[{env_id}]"


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNERS)
@pytest.mark.parametrize("env_id", CHECKED_ENVS)
def test_tuned_agent_is_within_one_percent_of_optimal(name, env_id):
    env = gym.make(env_id)
    agent = agents.make(name, env, seed=0)
    steps = tuned_job_options(name, env_id)["n_timesteps"]
    agent.learn(steps)
    gap = OptimalityGap.for_env(env, agent.config.gamma)
    v_pi = gap.policy_value(agent)
    rel = abs(gap.v_star - v_pi) / abs(gap.v_star)
    assert rel <= TOLERANCE, (
        f"{name} on {env_id} after {steps} steps (seed 0, {agent.config}): greedy policy value "
        f"{v_pi:.4f} vs V* {gap.v_star:.4f} at the start state, relative gap {rel:.2%} > "
        f"{TOLERANCE:.0%}; retune agents/hyperparams/{name}.yaml"
    )


def planned(env_id: str):
    env = gym.make(env_id)
    agent = agents.make("value_iteration", env).learn(100_000)
    assert agent.delta < agent.config.theta, "value iteration did not converge"
    return env, agent


def test_value_iteration_gives_figure_3_5():
    """Sutton & Barto Figure 3.5 (middle): v* of the Example 3.5 grid, gamma 0.9."""
    _, agent = planned("sige/SuttonBarto5x5-v0")
    assert agent.config.gamma == 0.9
    np.testing.assert_allclose(agent.v.reshape(5, 5), EX35_OPTIMAL, atol=0.051)


def test_value_iteration_on_example_4_1_is_the_discounted_distance_to_a_corner():
    """Example 4.1: -1 per move to the nearest terminal corner, so v*(s) = -(1 - g^d) / (1 - g)
    with d the Manhattan distance to (0, 0) or (3, 3)."""
    _, agent = planned("sige/SmallGridWorld-v0")
    g = agent.config.gamma
    rows, cols = np.divmod(np.arange(16), 4)
    d = np.minimum(rows + cols, (3 - rows) + (3 - cols))
    np.testing.assert_allclose(agent.v, -(1 - g**d) / (1 - g), atol=1e-8)


@pytest.mark.parametrize(
    ("env_id", "length"),
    [
        ("sige/GridWorld-v0", 12),  # the maze's shortest path
        ("sige/CliffWalking-v0", 13),  # Example 6.6: up, 11 right along the edge, down
        ("CliffWalking-v1", 13),  # Gymnasium's model of the same task
        ("sige/WindyGridWorld-v0", 15),  # Example 6.5: the optimal episode
    ],
)
def test_value_iteration_walks_the_shortest_path(env_id, length):
    """Played out in the env itself, the greedy policy takes the book's shortest path."""
    env, agent = planned(env_id)
    result = evaluate(agent, env, episodes=3, seed=0)
    assert result.lengths.tolist() == [length] * 3 and not result.capped.any()
    assert result.returns.tolist() == [-length] * 3


def test_value_iteration_on_frozenlake_solves_the_bellman_equations():
    """Gymnasium's FrozenLake model: the greedy policy's values by an independent linear solve of
    v = r_pi + gamma P_pi v equal the planner's, and no action improves on them."""
    env, agent = planned("FrozenLake-v1")
    base, gamma, n = env.unwrapped, agent.config.gamma, 16
    pi = agent.act(np.arange(n))
    p_pi, r_pi = np.zeros((n, n)), np.zeros(n)
    for s in range(n):
        for prob, s2, r, terminated in base.P[s][int(pi[s])]:
            r_pi[s] += prob * r
            if not terminated:
                p_pi[s, s2] += prob
    v = np.linalg.solve(np.eye(n) - gamma * p_pi, r_pi)
    np.testing.assert_allclose(agent.v, v, atol=1e-8)
    for s in range(n):
        for a in range(4):
            q = sum(p * (r + (0 if t else gamma * v[s2])) for p, s2, r, t in base.P[s][a])
            assert q <= v[s] + 1e-8
