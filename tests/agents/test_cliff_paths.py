"""Sutton & Barto Example 6.6 (Cliff Walking): with constant epsilon = 0.1, Q-learning learns the
optimal path along the cliff edge while SARSA, which accounts for its own exploration, learns the
longer, safer path away from it."""

from __future__ import annotations

import gymnasium as gym
import pytest

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents

ENV_ID = "sige/CliffWalking-v0"
NROW, NCOL = 4, 12
START, GOAL = (3, 0), (3, 11)
OPTIMAL_LENGTH = 13  # up, 11 x right along row 2, down
# The book's setting: constant epsilon 0.1, alpha 0.5, undiscounted, about 500 episodes (12.5k
# steps is ~480 SARSA episodes, ~620 Q-learning ones). One change: alpha is annealed linearly to
# 0.05 by the end. With alpha held at 0.5, SARSA's table is noisy enough that the greedy policy
# read off at an arbitrary step can loop in the top rows (3 of 10 seeds); annealed, its greedy path
# is the safe one on 10 of 10 seeds, and Q-learning's the optimal one on 10 of 10.
BOOK = {
    "gamma": 1.0,
    "learning_rate": 0.5,
    "learning_rate_final": 0.05,
    "epsilon": 0.1,
    "epsilon_final": None,
    "q_init": 0.0,
}
STEPS = 12_500
MAX_PATH = 100


def greedy_path(agent, env) -> list[tuple[int, int]]:
    """Cells visited by the greedy policy from the start, following the (deterministic) model."""
    P = env.unwrapped.P
    s = START[0] * NCOL + START[1]
    path = [START]
    for _ in range(MAX_PATH):
        ((prob, s, _reward, terminated),) = P[s][agent.act(s)]
        assert prob == 1.0
        path.append(divmod(s, NCOL))
        if terminated:
            break
    return path


@pytest.fixture(scope="module")
def paths() -> dict[str, list[tuple[int, int]]]:
    out = {}
    for name in ("q_learning", "sarsa"):
        env = gym.make(ENV_ID)
        agent = agents.make(name, env, seed=0, **BOOK)
        agent.learn(STEPS)
        out[name] = greedy_path(agent, env)
    return out


def test_q_learning_takes_the_optimal_path_along_the_cliff(paths):
    path = paths["q_learning"]
    expected = [START, (2, 0), *[(2, c) for c in range(1, NCOL)], GOAL]
    assert path == expected, f"Q-learning's greedy path: {path}"
    assert len(path) - 1 == OPTIMAL_LENGTH


def test_sarsa_takes_the_safer_path_away_from_the_cliff(paths):
    path = paths["sarsa"]
    assert path[-1] == GOAL, f"SARSA's greedy path does not reach the goal: {path}"
    assert len(path) - 1 > OPTIMAL_LENGTH, f"SARSA took the optimal path: {path}"
    edge = [(r, c) for r, c in path if r == 2 and 1 <= c <= NCOL - 2]
    assert not edge, f"SARSA's greedy path walks along the cliff edge at {edge}: {path}"
