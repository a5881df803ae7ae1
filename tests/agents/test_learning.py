"""The tuned hyperparameters in ``agents/hyperparams/*.yaml`` do what they claim: each learning
agent, trained for the step budget its entry was tuned for, ends with a greedy policy whose value
at the start state is within 1% of V* (exact, by dynamic programming on ``env.unwrapped.P``); and
value iteration reaches V* itself."""

from __future__ import annotations

import gymnasium as gym
import pytest

import agents
import envs
from agents.config import tuned_hyperparams
from agents.evaluation import OptimalityGap

LEARNERS = ("mc", "q_learning", "sarsa", "expected_sarsa")
CHECKED_ENVS = (*envs.ENV_IDS, "FrozenLake-v1")
# Also tuned (not checked against V* here): Gymnasium's other toy-text envs with a model.
EXTRA_ENVS = tuple(i for i in ("CliffWalking-v1", "Taxi-v4") if i in gym.registry)
TOLERANCE = 0.01  # |V* - V^pi| <= TOLERANCE * |V*| at the start state

# Environment steps each (agent, env) entry of the YAML files was tuned for (checked on seeds 0-4;
# the test runs seed 0). One entry is weaker than the rest: mc on SlipperyMaze is within 1% on
# seeds 0, 1 and 3 only (gaps of the others in agents/hyperparams/mc.yaml).
BUDGET: dict[tuple[str, str], int] = {
    ("q_learning", "sige/GridWorld-v0"): 20_000,
    ("q_learning", "sige/SuttonBarto5x5-v0"): 30_000,
    ("q_learning", "sige/SmallGridWorld-v0"): 10_000,
    ("q_learning", "sige/CliffWalking-v0"): 20_000,
    ("q_learning", "sige/WindyGridWorld-v0"): 20_000,
    ("q_learning", "sige/SlipperyMaze-v0"): 200_000,
    ("q_learning", "FrozenLake-v1"): 100_000,
    ("sarsa", "sige/GridWorld-v0"): 20_000,
    ("sarsa", "sige/SuttonBarto5x5-v0"): 30_000,
    ("sarsa", "sige/SmallGridWorld-v0"): 10_000,
    ("sarsa", "sige/CliffWalking-v0"): 20_000,
    ("sarsa", "sige/WindyGridWorld-v0"): 20_000,
    ("sarsa", "sige/SlipperyMaze-v0"): 200_000,
    ("sarsa", "FrozenLake-v1"): 150_000,
    ("expected_sarsa", "sige/GridWorld-v0"): 20_000,
    ("expected_sarsa", "sige/SuttonBarto5x5-v0"): 30_000,
    ("expected_sarsa", "sige/SmallGridWorld-v0"): 10_000,
    ("expected_sarsa", "sige/CliffWalking-v0"): 20_000,
    ("expected_sarsa", "sige/WindyGridWorld-v0"): 30_000,
    ("expected_sarsa", "sige/SlipperyMaze-v0"): 200_000,
    ("expected_sarsa", "FrozenLake-v1"): 150_000,
    ("mc", "sige/GridWorld-v0"): 20_000,
    ("mc", "sige/SuttonBarto5x5-v0"): 60_000,
    ("mc", "sige/SmallGridWorld-v0"): 20_000,
    ("mc", "sige/CliffWalking-v0"): 300_000,
    ("mc", "sige/WindyGridWorld-v0"): 300_000,
    ("mc", "sige/SlipperyMaze-v0"): 1_000_000,
    ("mc", "FrozenLake-v1"): 1_000_000,
}


def relative_gap(agent, env) -> tuple[float, float, float]:
    gap = OptimalityGap.for_env(env, agent.config.gamma)
    v_pi = gap.policy_value(agent)
    return abs(gap.v_star - v_pi) / abs(gap.v_star), gap.v_star, v_pi


def test_every_pair_has_a_budget():
    assert set(BUDGET) == {(n, e) for n in LEARNERS for e in CHECKED_ENVS}


@pytest.mark.parametrize("name", (*LEARNERS, "value_iteration"))
@pytest.mark.parametrize("env_id", CHECKED_ENVS + EXTRA_ENVS)
def test_every_agent_has_tuned_hyperparameters(name, env_id):
    tuned = tuned_hyperparams(name, env_id)
    assert tuned, f"agents/hyperparams/{name}.yaml has no entry for {env_id}"
    agents.make(name, gym.make(env_id))  # every key and value is valid for the agent's Config


@pytest.mark.parametrize("name", LEARNERS)
@pytest.mark.parametrize("env_id", CHECKED_ENVS)
def test_tuned_agent_is_within_one_percent_of_optimal(name, env_id):
    env = gym.make(env_id)
    agent = agents.make(name, env, seed=0)
    steps = BUDGET[(name, env_id)]
    agent.learn(steps)
    rel, v_star, v_pi = relative_gap(agent, env)
    assert rel <= TOLERANCE, (
        f"{name} on {env_id} after {steps} steps (seed 0, {agent.config}): greedy policy value "
        f"{v_pi:.4f} vs V* {v_star:.4f} at the start state, relative gap {rel:.2%} > "
        f"{TOLERANCE:.0%}; retune agents/hyperparams/{name}.yaml or BUDGET"
    )


@pytest.mark.parametrize("env_id", (*CHECKED_ENVS, "CliffWalking-v1"))
def test_value_iteration_reaches_v_star(env_id):
    env = gym.make(env_id)
    agent = agents.make("value_iteration", env)
    agent.learn(100_000)
    assert agent.delta < agent.config.theta, "value iteration did not converge"
    _, v_star, v_pi = relative_gap(agent, env)
    assert v_pi == pytest.approx(v_star, abs=1e-6), (
        f"value iteration's greedy policy on {env_id} is worth {v_pi} at the start, V* = {v_star}"
    )
