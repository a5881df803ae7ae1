"""Measuring a trained agent: returns over seeded episodes, the optimality gap on environments
with an exact model, and rendered episodes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.model import TabularModel, policy_evaluation, start_value, value_iteration


def evaluate(agent: Any, env: gym.Env, episodes: int, seed: int, deterministic: bool = True):
    """Play ``episodes`` episodes; episode ``i`` starts with ``env.reset(seed=seed + i)``.

    Returns ``(returns, lengths)`` as arrays. Evaluation never touches the agent's own random
    generator when ``deterministic``, so it cannot change what training does next.
    """
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=int)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, r, terminated, truncated, _ = env.step(agent.act(obs, deterministic=deterministic))
            returns[i] += r
            lengths[i] += 1
            done = terminated or truncated
    return returns, lengths


class OptimalityGap:
    """``V*`` minus the value of the agent's greedy policy, at the start-state distribution.

    ``V*`` is computed once by value iteration on ``env.unwrapped.P``; each call evaluates the
    greedy policy exactly on the same model. :meth:`for_env` returns None when the env has no
    model or its observations are not state indices.
    """

    def __init__(self, model: TabularModel, gamma: float):
        self.model, self.gamma = model, gamma
        v_star, _ = value_iteration(model, gamma)
        self.v_star = start_value(model, v_star)

    @classmethod
    def for_env(cls, env: gym.Env, gamma: float) -> OptimalityGap | None:
        if getattr(env.unwrapped, "P", None) is None:
            return None
        if not isinstance(env.observation_space, gym.spaces.Discrete):
            return None
        return cls(TabularModel.from_env(env), gamma)

    def policy_value(self, agent: Any) -> float:
        actions = np.asarray(agent.act(np.arange(self.model.n_states), deterministic=True))
        return start_value(self.model, policy_evaluation(self.model, actions, self.gamma))

    def __call__(self, agent: Any) -> float:
        return self.v_star - self.policy_value(agent)


def record_episode(agent: Any, env: gym.Env, seed: int) -> tuple[list[np.ndarray], float]:
    """Frames of one greedy episode on an env made with ``render_mode="rgb_array"``."""
    obs, _ = env.reset(seed=seed)
    frames, total, done = [env.render()], 0.0, False
    while not done:
        obs, r, terminated, truncated, _ = env.step(agent.act(obs, deterministic=True))
        total += r
        frames.append(env.render())
        done = terminated or truncated
    return frames, total


def write_gif(frames: list[np.ndarray], path: Any, fps: int = 4) -> None:
    """Save RGB frames as a looping GIF (Pillow)."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
