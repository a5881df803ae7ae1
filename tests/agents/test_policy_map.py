"""Policy maps: the greedy policy and its exact values per state, drawn on the grid.

Checked against what is known without this code: the optimal path of Sutton & Barto's Cliff
Walking and its return, Gymnasium's own action constants, the maps' cells, and the folder names of
a real run's checkpoints."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.toy_text import cliffwalking, frozen_lake
from PIL import Image

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.tabular.model import TabularModel
from sige_rl.agents.training import policy_map
from sige_rl.agents.training.policy_map import (
    action_directions,
    greedy_policy,
    grid_shape,
    optimal_panel,
    policy_maps_for_run,
    policy_panel,
)
from sige_rl.agents.training.train import main as train_main
from sige_rl.envs.gridworld import DOWN, RIGHT, UP

NCOL = 12
START = 3 * NCOL  # row 3, column 0; the goal is row 3, column 11


def discounted_steps(n: int, gamma: float) -> float:
    """The return of ``n`` steps of reward -1 discounted by ``gamma``."""
    return -sum(gamma**k for k in range(n))


@pytest.fixture(scope="module")
def cliff_planner():
    env = gym.make("sige/CliffWalking-v0")
    agent = agents.make("value_iteration", env, gamma=1.0)
    agent.learn(1000)
    return agent, env


def test_greedy_policy_of_the_optimal_values_walks_along_the_cliff(cliff_planner):
    """Up from the start, right along the row above the cliff, down into the goal (Sutton &
    Barto, Example 6.6)."""
    agent, env = cliff_planner
    actions = greedy_policy(agent, env)
    assert actions.shape == (48,)
    assert actions[START] == UP
    assert [actions[2 * NCOL + c] for c in range(11)] == [RIGHT] * 11
    assert actions[2 * NCOL + 11] == DOWN


@pytest.mark.parametrize("gamma", [1.0, 0.99])
def test_the_optimal_policy_is_worth_13_steps(cliff_planner, gamma):
    agent, env = cliff_planner
    model = TabularModel.from_env(env)
    panel, value = policy_panel(agent, env, model, gamma, "final")
    assert value == pytest.approx(discounted_steps(13, gamma), abs=1e-6)
    assert panel.values[START] == pytest.approx(value, abs=1e-6)
    assert panel.title.startswith("final: V^pi\nV(start) = ")
    star, v_star = optimal_panel(model, gamma)
    assert v_star == pytest.approx(discounted_steps(13, gamma), abs=1e-6)
    assert star.title.startswith("V* (optimal)")


def test_the_values_are_the_policys_not_the_agents_estimates():
    """An agent with no estimates at all: always left. From the start it bumps into the edge
    forever, -1 a step: -1 / (1 - 0.99) = -100."""
    env = gym.make("sige/CliffWalking-v0")
    agent = agents.make("do_nothing", env, action=0)
    _, value = policy_panel(agent, env, TabularModel.from_env(env), 0.99, "step 0")
    assert value == pytest.approx(-100.0, abs=1e-6)


def test_arrows_read_off_the_model_match_gymnasiums_action_constants():
    cliff = np.zeros((4, 2), int)
    for action, move in [
        (cliffwalking.UP, (-1, 0)),
        (cliffwalking.RIGHT, (0, 1)),
        (cliffwalking.DOWN, (1, 0)),
        (cliffwalking.LEFT, (0, -1)),
    ]:
        cliff[action] = move
    np.testing.assert_array_equal(action_directions(gym.make("CliffWalking-v1")), cliff)
    lake = np.zeros((4, 2), int)
    for action, move in [
        (frozen_lake.LEFT, (0, -1)),
        (frozen_lake.DOWN, (1, 0)),
        (frozen_lake.RIGHT, (0, 1)),
        (frozen_lake.UP, (-1, 0)),
    ]:
        lake[action] = move
    np.testing.assert_array_equal(
        action_directions(gym.make("FrozenLake-v1", is_slippery=False)), lake
    )
    # On ice each move is one of three equally likely ones; the slips cancel.
    np.testing.assert_array_equal(action_directions(gym.make("FrozenLake-v1")), lake)
    # Ours uses FrozenLake's order, also where a step into the cliff lands on the start and
    # where the wind pushes every move up.
    for env_id in ("sige/CliffWalking-v0", "sige/WindyGridWorld-v0", "sige/SlipperyMaze-v0"):
        np.testing.assert_array_equal(action_directions(gym.make(env_id)), lake)


def test_grid_shape_is_read_from_the_env():
    assert grid_shape(gym.make("CliffWalking-v1")) == (4, 12)  # its shape attribute
    assert grid_shape(gym.make("FrozenLake-v1", map_name="8x8")) == (8, 8)  # its desc
    assert grid_shape(gym.make("sige/WindyGridWorld-v0")) == (7, 10)
    assert grid_shape(gym.make("Taxi-v4")) is None  # a 7 x 11 desc for 500 states
    assert grid_shape(gym.make("CartPole-v1")) is None
    assert grid_shape(gym.make("sige/GridWorld-v0", obs_type="coords")) is None


def train(tmp_path, *args: str):
    logdir = tmp_path / "runs"
    assert train_main([*args, "--seed", "0", "--logdir", str(logdir), "--no-progress"]) == 0
    return next(p for p in logdir.glob("*/*/*") if not p.is_symlink())


@pytest.fixture
def drawn(monkeypatch):
    """The figures policy_maps_for_run draws."""
    figures = []
    draw = policy_map.draw_policy_maps

    def spy(*args, **kwargs):
        figures.append(draw(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(policy_map, "draw_policy_maps", spy)
    return figures


def panel_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_a_run_gives_one_panel_per_checkpoint_and_final_after_v_star(tmp_path, drawn):
    pytest.importorskip("matplotlib")
    run = train(
        tmp_path, "--env", "sige/CliffWalking-v0", "--agent", "q_learning", "--steps", "3000"
    )
    steps = sorted(int(p.name.removeprefix("step_")) for p in (run / "checkpoints").iterdir())
    assert len(steps) >= 2
    png = tmp_path / "maps.png"
    assert policy_maps_for_run(run, png) == png
    with Image.open(png) as im:
        assert im.format == "PNG"
    (fig,) = drawn
    panels = [ax for ax in fig.axes if ax.get_title()]
    titles = [ax.get_title().split("\n") for ax in panels]
    assert [t[0] for t in titles] == [
        "V* (optimal)",
        *(f"step {n}: V^pi" for n in steps),
        "final: V^pi",
    ]
    # gamma 0.99 from the run's hyperparameters: 13 steps of -1
    assert titles[0][1] == f"V(start) = {discounted_steps(13, 0.99):.4g}"
    assert len(fig.axes) == len(panels) + 1  # and one colour bar
    texts = panel_texts(panels[0])
    assert texts.count("C") == 10 and texts.count("G") == 1 and texts.count("S") == 1


def test_gymnasium_frozen_lake_marks_its_holes(tmp_path, drawn):
    pytest.importorskip("matplotlib")
    run = train(
        tmp_path,
        *("--env", "FrozenLake-v1", "--env-kwarg", "is_slippery=false"),
        *("--agent", "q_learning", "--steps", "600"),
    )
    assert policy_maps_for_run(run, tmp_path / "lake.png") is not None
    (fig,) = drawn
    for ax in (ax for ax in fig.axes if ax.get_title()):
        texts = panel_texts(ax)  # SFFF / FHFH / FFFH / HFFG
        assert texts.count("H") == 4 and texts.count("G") == 1 and texts.count("S") == 1
    # deterministic moves, reward 1 at the goal 6 steps away
    assert fig.axes[0].get_title() == f"V* (optimal)\nV(start) = {0.99**5:.4g}"


def test_no_map_without_a_model_or_a_grid(tmp_path):
    run = train(tmp_path, "--env", "CartPole-v1", "--agent", "do_nothing", "--steps", "50")
    png = tmp_path / "cart.png"
    assert policy_maps_for_run(run, png) is None
    assert not png.exists()
