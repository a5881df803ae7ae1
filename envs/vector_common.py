"""What the native vector envs share: their size arguments, SyncVectorEnv's seed convention and
its ``reset_mask`` option, checked the same way everywhere."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_sizes(num_envs: Any, max_episode_steps: Any) -> tuple[int, int | None]:
    """``(num_envs, max_episode_steps)`` as ints (None: no time limit; -1 means None too, as in
    ``gym.make``); ``ValueError`` naming what is allowed."""
    if int(num_envs) != num_envs or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    if max_episode_steps == -1:
        max_episode_steps = None
    if max_episode_steps is not None and (
        int(max_episode_steps) != max_episode_steps or max_episode_steps < 1
    ):
        raise ValueError(
            f"max_episode_steps must be an int >= 1, -1 or None, got {max_episode_steps!r}"
        )
    return int(num_envs), None if max_episode_steps is None else int(max_episode_steps)


def env_seeds(seed: int | list[int | None] | None, n: int) -> list[int | None]:
    """One seed per sub-env, as SyncVectorEnv gives them: ``s + i`` for an int ``s``, a list as
    it is (one per env), None for fresh entropy."""
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(n)]
    seeds = list(seed)
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} seeds for num_envs={n}; pass one per env")
    return seeds


def reset_mask(options: dict[str, Any] | None, n: int) -> np.ndarray | None:
    """``options["reset_mask"]`` checked (a numpy bool array of shape ``(n,)`` with a True), or
    None when there is none (reset every sub-env)."""
    if options is None or "reset_mask" not in options:
        return None
    mask = options["reset_mask"]
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise TypeError(f"options['reset_mask'] must be a numpy bool array, got {mask!r}")
    if mask.shape != (n,) or not mask.any():
        raise ValueError(f"options['reset_mask'] must have shape ({n},) and a True, got {mask!r}")
    return mask
