"""Linear schedules by hand, and the schedule horizon that training on past a budget keeps."""

import gymnasium as gym
import pytest

import sige_rl.envs  # noqa: F401
from sige_rl import agents
from sige_rl.agents.common.schedules import linear


@pytest.mark.parametrize(
    ("start", "end", "progress", "fraction", "expected"),
    [
        (1.0, 0.1, 0.0, 0.5, 1.0),
        (1.0, 0.1, 0.25, 0.5, 0.55),  # half of the way: 1 - 0.9 / 2
        (1.0, 0.1, 0.5, 0.5, 0.1),
        (1.0, 0.1, 0.9, 0.5, 0.1),  # held after the fraction
        (1.0, 0.1, 1.5, 0.5, 0.1),  # and past the horizon
        (0.5, None, 0.7, 1.0, 0.5),  # None: constant
        (0.5, 0.0, 0.2, 0.0, 0.0),  # fraction 0: the end value at once
    ],
)
def test_linear_by_hand(start, end, progress, fraction, expected):
    assert linear(start, end, progress, fraction) == pytest.approx(expected)


def make(name):
    env = gym.make("CartPole-v1") if name == "dqn" else gym.make("sige/GridWorld-v0")
    extra = {"net_arch": [8], "learning_starts": 100} if name == "dqn" else {}
    return agents.make(
        name, env, seed=0, epsilon=1.0, epsilon_final=0.0, exploration_fraction=1.0, **extra
    )


@pytest.mark.parametrize("name", ["q_learning", "dqn"])
def test_training_on_keeps_the_first_horizon_unless_stretched(name):
    """The schedules are laid over the first ``learn`` budget: training on to a larger budget
    holds the final values (epsilon 0 here) unless ``schedule_steps`` is set to stretch them."""
    agent = make(name)
    agent.learn(400)
    assert agent.schedule_steps == 400 and agent.epsilon == pytest.approx(1 - agent.num_steps / 400)
    agent.learn(800)
    assert agent.schedule_steps == 400 and agent.epsilon == 0.0

    stretched = make(name)
    stretched.learn(400)
    stretched.schedule_steps = 800
    assert stretched.epsilon == pytest.approx(1 - stretched.num_steps / 800)
    stretched.learn(600)
    assert stretched.epsilon == pytest.approx(1 - stretched.num_steps / 800)
    assert stretched.epsilon > 0
