"""Atari preprocessing against Gymnasium's own wrappers (the reference), and each option's effect.

Needs the atari extra (ale-py, opencv-python-headless); skipped without it.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

import sige_rl.envs  # noqa: E402, F401
from sige_rl.envs.atari import make_atari_env, needs_fire, rom_id  # noqa: E402


def reference(game: str, sticky: float, noop_max: int = 30, fire: bool = False):
    """Gymnasium's AtariPreprocessing + FrameStackObservation, built by hand."""
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    env = gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=sticky)
    return FrameStackObservation(AtariPreprocessing(env, noop_max=noop_max), 4, padding_type="zero")


def play(env, seed: int, actions):
    out = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, r, terminated, truncated, _ = env.step(int(a))
        out.append((obs, r, terminated, truncated))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("env_id", sige_rl.envs.ATARI_IDS)
def test_registered_ids_give_stacked_84x84_uint8_frames(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)


def test_equals_gymnasiums_wrappers_frame_for_frame():
    """Sticky actions on, noop starts on, the same seed and actions: observations, rewards and
    end flags equal Gymnasium's AtariPreprocessing + FrameStackObservation exactly."""
    actions = np.random.default_rng(1).integers(0, 6, 400)
    ours = play(make_atari_env("Pong", fire_reset=False), 3, actions)
    ref = play(reference("Pong", sticky=0.25), 3, actions)
    assert len(ours) == len(ref)
    np.testing.assert_array_equal(ours[0], ref[0])
    for (o1, *rest1), (o2, *rest2) in zip(ours[1:], ref[1:], strict=True):
        np.testing.assert_array_equal(o1, o2)
        assert rest1 == rest2


def test_fire_on_reset_changes_the_first_frame_only_where_action_1_is_fire():
    kw = {"noop_max": 0, "repeat_action_probability": 0.0}
    for game, fires in (("Breakout", True), ("Pong", True), ("Freeway", False)):
        fired = make_atari_env(game, fire_reset=True, **kw)
        plain = make_atari_env(game, fire_reset=False, **kw)
        assert needs_fire(plain.unwrapped) == fires
        same = np.array_equal(fired.reset(seed=0)[0], plain.reset(seed=0)[0])
        assert same != fires or game == "Pong"  # Pong's screen does not change on FIRE


def test_episodic_life_ends_the_episode_at_the_first_lost_life():
    env = make_atari_env("Breakout", episodic_life=True, repeat_action_probability=0.0)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5000):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
        if terminated or truncated:
            break
    assert terminated and env.unwrapped.ale.lives() == 4  # one of five lives gone, game on


def test_rewards_are_raw_unless_clipped():
    """Clipping gives the sign of the raw game reward, step for step (Space Invaders' aliens are
    worth 5 to 30 points)."""
    actions = np.random.default_rng(2).integers(0, 6, 1000)
    raw = play(make_atari_env("SpaceInvaders"), 5, actions)
    clipped = play(make_atari_env("SpaceInvaders", clip_rewards=True), 5, actions)
    raw_r = np.array([step[1] for step in raw[1:]])
    clipped_r = np.array([step[1] for step in clipped[1:]])
    assert raw_r.max() > 1
    np.testing.assert_array_equal(clipped_r, np.sign(raw_r))


def test_unknown_game_names_close_matches():
    assert rom_id("SpaceInvaders") == rom_id("space_invaders") == "space_invaders"
    with pytest.raises(ValueError, match="did you mean 'pong'"):
        make_atari_env("Pongg")


@pytest.mark.parametrize("fire_reset", [False, True])
@pytest.mark.parametrize("game", ["Pong", "Breakout"])
def test_vector_env_equals_the_single_env_where_both_are_deterministic(game, fire_reset):
    """Sticky actions and noops off (they draw from different generators): ale-py's C++ vector
    env, the reference, and our single env give the same stacks (resize kernel included),
    rewards and end flags for 300 steps, FIRE on reset included."""
    from sige_rl.envs.atari import make_atari_vector_env

    kw = {"noop_max": 0, "repeat_action_probability": 0.0, "fire_reset": fire_reset}
    single, vector = make_atari_env(game, **kw), make_atari_vector_env(game, 1, **kw)
    np.testing.assert_array_equal(single.reset(seed=0)[0], vector.reset(seed=0)[0][0])
    actions = np.random.default_rng(0).integers(0, single.action_space.n, 300)
    for a in actions:
        o1, r1, te1, tr1, _ = single.step(int(a))
        o2, r2, te2, tr2, _ = vector.step(np.array([a]))
        np.testing.assert_array_equal(o1, o2[0])
        assert (r1, te1, tr1) == (r2[0], te2[0], tr2[0])
        if te1 or tr1:
            break
    vector.close()


def test_vector_entry_point_is_ales_vector_env():
    from ale_py.vector_env import AtariVectorEnv

    env = gym.make_vec(
        "sige/Pong-v0", num_envs=3, vectorization_mode="vector_entry_point", num_threads=1
    )
    assert isinstance(env.unwrapped, AtariVectorEnv)
    assert env.metadata["reset_mask"] and env.metadata["frame_stack"] == 4
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
    env.close()


def test_unknown_or_bad_options_are_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="did you mean 'noop_max'"):
        make_atari_env("Pong", noops_max=5)
    with pytest.raises(ValueError, match=r"repeat_action_probability must lie in \[0, 1\]"):
        gym.make("sige/Pong-v0", repeat_action_probability=1.5)


def test_atari_and_minatar_envs_never_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, gymnasium as gym, sige_rl.envs\n"
        "gym.make('sige/Pong-v0').reset(seed=0)\n"
        "gym.make_vec('sige/Pong-v0', 2, vectorization_mode='vector_entry_point').reset(seed=0)\n"
        "gym.make('sige/MinAtarBreakout-v0').reset(seed=0)\n"
        "assert 'torch' not in sys.modules, 'envs must not import torch'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
