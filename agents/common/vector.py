"""One environment as a vector environment of one, for agents written against the vector API.

Gymnasium's ``SyncVectorEnv`` does per-step bookkeeping for any number of sub-envs; with one
sub-env it costs about 60 us a step, two thirds of a CartPole step's total. ``OneEnvVector``
gives the same results (NEXT_STEP autoreset, the same seeds, dtypes and infos layout) with
only the batching.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

# Spaces whose observations batch by stacking into one array.
ARRAY_SPACES = (
    gym.spaces.Box,
    gym.spaces.Discrete,
    gym.spaces.MultiDiscrete,
    gym.spaces.MultiBinary,
)


class OneEnvVector(gym.vector.VectorEnv):
    """``env`` stepped as a vector env with ``num_envs == 1`` (array observation spaces only)."""

    def __init__(self, env: gym.Env):
        if not isinstance(env.observation_space, ARRAY_SPACES):
            names = ", ".join(s.__name__ for s in ARRAY_SPACES)
            raise TypeError(
                f"OneEnvVector needs an array observation space ({names}), got "
                f"{env.observation_space}; use gymnasium.vector.SyncVectorEnv"
            )
        self.env = env
        self.num_envs = 1
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, 1)
        self.action_space = batch_space(env.action_space, 1)
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self.render_mode = env.render_mode
        self.spec = env.spec
        self._obs_dtype = env.observation_space.dtype
        self._autoreset = False

    def _batch(self, obs: Any) -> np.ndarray:
        return np.array([obs], dtype=self._obs_dtype)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple)):
            if len(seed) != 1:
                raise ValueError(f"seed list must have length num_envs=1, got {len(seed)}")
            seed = seed[0]
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is not None and not (np.shape(mask) == (1,) and bool(np.asarray(mask)[0])):
            raise ValueError(f"options['reset_mask'] must be np.array([True]), got {mask!r}")
        obs, info = self.env.reset(seed=seed, options=options or None)
        self._autoreset = False
        return self._batch(obs), self._add_info({}, info, 0)

    def step(self, actions):
        if self._autoreset:  # NEXT_STEP: the step after an episode's end only resets
            obs, info = self.env.reset()
            reward, terminated, truncated = 0.0, False, False
        else:
            obs, reward, terminated, truncated, info = self.env.step(actions[0])
        self._autoreset = terminated or truncated
        return (
            self._batch(obs),
            np.array([reward], dtype=np.float64),
            np.array([terminated], dtype=np.bool_),
            np.array([truncated], dtype=np.bool_),
            self._add_info({}, info, 0) if info else {},
        )

    def render(self):
        return (self.env.render(),)

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """As ``SyncVectorEnv.call``: the env's attribute ``name`` (found through its wrappers),
        called with the arguments when it is a method, in a tuple of one."""
        attr = self.env.get_wrapper_attr(name)
        return (attr(*args, **kwargs) if callable(attr) else attr,)
