"""MinAtar ids against MinAtar's own Environment (the reference): the same grids, channels
first, the same rewards and ends for the same seed and actions. Skipped without minatar."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("minatar")

import sige_rl.envs  # noqa: E402, F401
from sige_rl.envs.minatar import make_minatar_env  # noqa: E402


@pytest.mark.parametrize("game", ["breakout", "space_invaders"])
def test_equals_minatars_environment_channels_first(game):
    from minatar import Environment

    name = "".join(part.title() for part in game.split("_"))
    ours = gym.make(f"sige/MinAtar{name}-v0")
    ref = Environment(game)
    ref.seed(7)
    ref.reset()
    obs, _ = ours.reset(seed=7)
    assert obs.dtype == bool and obs.shape == np.moveaxis(ref.state(), -1, 0).shape
    np.testing.assert_array_equal(obs, np.moveaxis(ref.state(), -1, 0))
    minimal = ref.minimal_action_set()
    assert ours.action_space.n == len(minimal)
    rng = np.random.default_rng(0)
    for _ in range(500):
        a = int(rng.integers(len(minimal)))
        obs, r, terminated, truncated, _ = ours.step(a)
        r_ref, done_ref = ref.act(minimal[a])
        np.testing.assert_array_equal(obs, np.moveaxis(ref.state(), -1, 0))
        assert (r, terminated, truncated) == (r_ref, done_ref, False)
        if done_ref:
            break


def test_renders_uint8_frames_and_refuses_unknown_games():
    env = gym.make("sige/MinAtarBreakout-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (160, 160, 3) and frame.max() > 0
    with pytest.raises(ValueError, match="choose from Asterix, Breakout"):
        make_minatar_env("Pong")
