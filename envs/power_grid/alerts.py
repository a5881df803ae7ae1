"""Alerts: ask the operator only when the grid is in danger.

The agents that won the L2RPN competitions act only when some line is loaded near its limit, and
let the grid run untouched otherwise. :class:`Alerts` turns that gate into the environment an
agent learns in: after the agent's action it keeps stepping with do-nothing while every line is
below ``rho`` (0.95 by default) and returns at the next step where one is not, or at the
episode's end. One agent step is then one decision, as frame skipping makes one Atari step span
four frames.

- The reward is the sum of the rewards of the grid steps covered, divided by ``reward_scale``
  (1 by default; the registered ``sige/PowerGrid14Alert-v0`` divides by the number of lines,
  so that a perfect grid step is worth 1 and a game over costs 1).
- ``info["grid_steps"]`` says how many grid steps the call covered; the episode's time is
  ``env.unwrapped.t``. Survival comparisons count grid steps, not decisions.
- ``reset`` does not skip: the first decision is at the episode's first step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sige_rl.envs.power_grid.env import PowerGridEnv


class Alerts(gym.Wrapper):
    """Skip the grid steps where every line is below ``rho`` with do-nothing."""

    def __init__(self, env: gym.Env, rho: float = 0.95, reward_scale: float = 1.0):
        super().__init__(env)
        if rho <= 0:
            raise ValueError(f"rho must be > 0, got {rho}")
        if not reward_scale > 0:
            raise ValueError(f"reward_scale must be > 0, got {reward_scale}")
        self.rho = float(rho)
        self.reward_scale = float(reward_scale)
        space = env.action_space
        self.do_nothing = 0 if isinstance(space, gym.spaces.Discrete) else np.zeros(
            space.shape, space.dtype
        )  # fmt: skip

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        total, steps = reward, 1
        while not (terminated or truncated) and info["max_rho"] < self.rho:
            obs, reward, terminated, truncated, info = self.env.step(self.do_nothing)
            total += reward
            steps += 1
        info["grid_steps"] = steps
        return obs, total / self.reward_scale, terminated, truncated, info


def make_alert_env(rho: float = 0.95, reward_scale: float | None = None, **env_kwargs: Any):
    """A PowerGridEnv (``env_kwargs``) behind :class:`Alerts`; ``reward_scale`` None divides by
    the number of lines."""
    env = PowerGridEnv(**env_kwargs)
    scale = env.case.n_branch if reward_scale is None else reward_scale
    return Alerts(env, rho=rho, reward_scale=scale)
