"""GridWorld through the Gymnasium API: checkers, registration, errors, render, seeding."""

from __future__ import annotations

import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from sige_rl import envs
from sige_rl.envs.gridworld import CELL_PIXELS, DOWN, RIGHT, GridWorld

OBS_TYPES = ["index", "onehot", "coords"]


@pytest.mark.parametrize("obs_type", OBS_TYPES)
@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_gymnasium_and_sb3_env_checkers(env_id, obs_type):
    check_env(gym.make(env_id, obs_type=obs_type).unwrapped, skip_render_check=False)
    sb3_check_env(gym.make(env_id, obs_type=obs_type), warn=True)


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_observations_of_each_type_agree(env_id):
    by_type = {t: gym.make(env_id, obs_type=t) for t in OBS_TYPES}
    obs = {t: env.reset(seed=5)[0] for t, env in by_type.items()}
    actions = np.random.default_rng(0).integers(0, 4, 50)
    ncol = by_type["index"].unwrapped.ncol
    for a in actions:
        s = obs["index"]
        assert type(s) is int
        assert obs["onehot"].dtype == np.float32 and obs["onehot"].argmax() == s
        np.testing.assert_array_equal(obs["coords"], divmod(s, ncol))
        steps = {t: env.step(int(a)) for t, env in by_type.items()}
        assert len({(r, te, tr) for _, r, te, tr, _ in steps.values()}) == 1
        if steps["index"][2] or steps["index"][3]:
            obs = {t: env.reset()[0] for t, env in by_type.items()}
        else:
            obs = {t: step[0] for t, step in steps.items()}


def test_registration_ids_and_limits():
    expected = {
        "sige/GridWorld-v0": 100,
        "sige/SuttonBarto5x5-v0": 100,
        "sige/SmallGridWorld-v0": 100,
        "sige/CliffWalking-v0": 200,
        "sige/WindyGridWorld-v0": 200,
        "sige/SlipperyMaze-v0": 100,
    }
    assert set(envs.ENV_IDS) == set(expected)
    for env_id, limit in expected.items():
        spec = gym.spec(env_id)
        assert spec.max_episode_steps == limit
        assert spec.vector_entry_point == "sige_rl.envs.gridworld_vector:GridWorldVectorEnv"


def test_reimport_is_harmless(recwarn):
    import importlib

    importlib.reload(envs)
    assert not [w for w in recwarn if "Overriding environment" in str(w.message)]
    assert isinstance(gym.make("sige/GridWorld-v0").unwrapped, GridWorld)


def test_make_with_module_prefix_from_another_directory(tmp_path):
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('sige_rl.envs:sige/GridWorld-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "assert 'torch' not in sys.modules, 'envs must not import torch'\n"
        "print(obs, env.spec.max_episode_steps)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "100"]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"map": ["S.x", "..G"]}, r"unknown map characters \['x'\].*'#' wall"),
        ({"map": ["S..", ".G"]}, "same non-zero length"),
        ({"map": ["S#.", "##G"]}, "unreachable goal"),
        ({"map": ["S.A", "..G"]}, "needs exactly one destination 'a'"),
        ({"map": ["S.A", "a.a"]}, "needs exactly one destination 'a'"),
        ({"map": ["##", "#G"]}, "no cell to start from"),
        ({"map": "no_such_map"}, "unknown map 'no_such_map'; presets are"),
        ({"map": []}, "non-empty list"),
        ({"obs_type": "pixels"}, "unknown obs_type 'pixels'"),
        ({"render_mode": "human"}, "unknown render_mode 'human'"),
        ({"slip": 1.5}, r"slip must be a probability"),
        ({"wind": [1, 2]}, "one value per column"),
        ({"teleport_rewards": {"C": 1.0}}, "teleport_rewards keys"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GridWorld(**kwargs)


def test_unknown_keyword_at_make():
    with pytest.raises(TypeError, match="bogus"):
        gym.make("sige/GridWorld-v0", bogus=1)


@pytest.mark.parametrize(
    "action", [4, -1, 1.0, "1", None, True, np.int64(7), np.array([1]), np.array(1.0)]
)
def test_invalid_actions_raise(action):
    env = gym.make("sige/GridWorld-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("Discrete(4)")):
        env.step(action)


@pytest.mark.parametrize("action", [2, np.int64(2), np.int32(2), np.uint8(2), np.array(2)])
def test_integer_like_actions_are_accepted(action):
    env = gym.make("sige/GridWorld-v0").unwrapped
    env.reset(seed=0)
    assert env.step(action)[0] == 1  # RIGHT from (0, 0)


# --- render -----------------------------------------------------------------------------------


def test_ansi_render_shows_grid_agent_and_last_action():
    env = gym.make("sige/CliffWalking-v0", render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert plain.splitlines()[1:] == [".." * 6] * 3 + ["SCCCCCCCCCCG"]
    assert "\x1b[" in text.splitlines()[4]  # the agent's cell (bottom-left) is highlighted
    env.step(3)  # UP
    assert env.render().splitlines()[0] == "  (Up)"


def test_rgb_render_draws_the_agent_where_it_is():
    env = gym.make("sige/GridWorld-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (7 * CELL_PIXELS, 7 * CELL_PIXELS, 3) and frame.dtype == np.uint8
    centre = CELL_PIXELS // 2
    agent_colour = frame[centre, centre].copy()
    free_colour = frame[centre, CELL_PIXELS + centre].copy()
    assert not np.array_equal(agent_colour, free_colour)
    env.step(RIGHT)
    frame = env.render()
    np.testing.assert_array_equal(frame[centre, CELL_PIXELS + centre], agent_colour)
    assert not np.array_equal(frame[centre, centre], agent_colour)
    env.step(DOWN)  # into a wall: stays
    np.testing.assert_array_equal(env.render()[centre, CELL_PIXELS + centre], agent_colour)


def test_render_colours_differ_per_cell_kind():
    env = GridWorld(map=["S.G#", "HCAa"], render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    centres = [frame[r * CELL_PIXELS + 3, c * CELL_PIXELS + 3] for r in range(2) for c in range(4)]
    assert len({tuple(c) for c in centres}) == 8


# --- seeding ----------------------------------------------------------------------------------


def _rollout(env: gym.Env, seed: int, actions) -> list:
    trajectory = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(int(a))
        trajectory.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            trajectory.append(env.reset()[0])
    return trajectory


@pytest.mark.parametrize("env_id", ["sige/SlipperyMaze-v0", "sige/SmallGridWorld-v0"])
def test_same_seed_same_trajectory(env_id):
    actions = np.random.default_rng(0).integers(0, 4, 1500)
    first = _rollout(gym.make(env_id), 42, actions)
    again = _rollout(gym.make(env_id), 42, actions)
    other = _rollout(gym.make(env_id), 43, actions)
    assert first == again
    assert first != other


def test_reseeding_discards_buffered_uniforms():
    env = gym.make("sige/SlipperyMaze-v0")
    actions = np.random.default_rng(1).integers(0, 4, 30)
    first = _rollout(env, 9, actions)
    assert _rollout(env, 9, actions) == first
