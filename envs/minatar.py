"""MinAtar (Young & Tian 2019, https://arxiv.org/abs/1903.03176): Atari games reduced to 10x10
grids of object channels, where learning from image-like input takes minutes on a CPU.

Needs the ``atari`` extra (the ``minatar`` package). The env is MinAtar's own Gymnasium env with
its defaults (sticky actions 0.1, difficulty ramping) and the game's minimal action set; this
module only turns the ``10 x 10 x C`` bool grid channels-first (``C x 10 x 10``, as our CNNs and
replay read images) and renders ``rgb_array`` frames as uint8, 16 pixels a cell.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

EXTRA = 'the atari extra: pip install "sige-rl[atari]" (minatar)'
#: MinAtar's games, by the names of our ids.
GAMES = {
    "Asterix": "asterix",
    "Breakout": "breakout",
    "Freeway": "freeway",
    "Seaquest": "seaquest",
    "SpaceInvaders": "space_invaders",
}
CELL = 16  # rendered pixels per grid cell


class ChannelsFirst(gym.ObservationWrapper):
    """``H x W x C`` observations as ``C x H x W`` (same dtype); uint8 rgb_array renders."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        h, w, c = env.observation_space.shape
        self.observation_space = gym.spaces.Box(0, 1, (c, h, w), dtype=env.observation_space.dtype)
        self.metadata = {**env.metadata, "render_fps": 15}

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(observation, -1, 0))

    def render(self) -> Any:
        frame = self.env.render()
        if self.render_mode == "rgb_array" and frame is not None:
            frame = (np.asarray(frame) * 255).round().astype(np.uint8)
            frame = frame.repeat(CELL, axis=0).repeat(CELL, axis=1)
        return frame


def make_minatar_env(game: str, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """MinAtar ``game`` (one of :data:`GAMES`), channels first; ``kwargs`` go to MinAtar's
    ``Environment`` (``sticky_action_prob``, ``difficulty_ramping``)."""
    if game not in GAMES:
        raise ValueError(f"unknown MinAtar game {game!r}; choose from {', '.join(GAMES)}")
    try:
        from minatar.gym import BaseEnv
    except ImportError as e:
        raise gym.error.DependencyNotInstalled(f"MinAtar games need {EXTRA}") from e
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
    env = BaseEnv(GAMES[game], render_mode=render_mode, use_minimal_action_set=True, **kwargs)
    return ChannelsFirst(env)
