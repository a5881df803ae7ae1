"""Reproducible episodes in a vector environment, through the public Gymnasium API only.

Every sub-env episode starts with ``reset(seed=...)`` using a seed drawn from the agent's
generator, and the actions taken since are logged. Gymnasium environments are deterministic given
their reset seed and actions, so the log is enough to rebuild every sub-env's exact state after a
restart: that is how a checkpoint taken at *any* step resumes bit for bit, with no access to an
environment's private state.

Finished sub-envs are reset explicitly (``options={"reset_mask": done}``) right after the step
that ended them, so NEXT_STEP autoreset never fires and no transition crosses an episode
boundary.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

SEED_HIGH = 2**31 - 1


class EpisodeLog:
    """Per sub-env: the seed its current episode was reset with and the actions taken since."""

    def __init__(self, num_envs: int):
        self.num_envs = num_envs
        self.seeds = np.zeros(num_envs, dtype=np.int64)
        self.actions: list[list[int]] = [[] for _ in range(num_envs)]

    def reset(self, env: gym.vector.VectorEnv, rng: np.random.Generator, mask=None):
        """Reset the sub-envs in ``mask`` (all when None) with fresh seeds from ``rng``;
        return the observations and infos of the reset call."""
        mask = np.ones(self.num_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        new = rng.integers(SEED_HIGH, size=int(mask.sum()))
        self.seeds[mask] = new
        for i in np.flatnonzero(mask):
            self.actions[i] = []
        seeds = [int(s) if m else None for s, m in zip(self.seeds, mask, strict=True)]
        if mask.all():
            return env.reset(seed=seeds)
        return env.reset(seed=seeds, options={"reset_mask": mask})

    def record(self, actions: np.ndarray) -> None:
        for log, a in zip(self.actions, actions.tolist(), strict=True):
            log.append(a)

    def restore(self, env: gym.vector.VectorEnv) -> np.ndarray:
        """Bring every sub-env of a fresh ``env`` to the state this log describes; return the
        current observations.

        All sub-envs step together, so sub-env ``i`` (with ``L_i`` logged actions) is reset with
        its seed at step ``T - L_i`` (``T`` the longest log) and replays its actions from there;
        the steps it takes before that reset are discarded.
        """
        lengths = np.array([len(a) for a in self.actions])
        total = int(lengths.max(initial=0))
        start = total - lengths
        seeds = [int(s) for s in self.seeds]
        filler = getattr(env.single_action_space, "start", 0)
        obs, _ = env.reset(seed=seeds)
        for t in range(total + 1):
            late = (start == t) & (t > 0)
            if late.any():
                masked = [s if m else None for s, m in zip(seeds, late, strict=True)]
                obs, _ = env.reset(seed=masked, options={"reset_mask": late})
            if t == total:
                break
            actions = np.array(
                [
                    log[t - s] if t >= s else filler
                    for log, s in zip(self.actions, start, strict=True)
                ]
            )
            obs, *_ = env.step(actions)
        return obs

    def state_arrays(self) -> dict[str, np.ndarray]:
        lengths = np.array([len(a) for a in self.actions], dtype=np.int64)
        padded = np.zeros((self.num_envs, int(lengths.max(initial=0))), dtype=np.int64)
        for i, log in enumerate(self.actions):
            padded[i, : len(log)] = log
        return {
            "episode_seeds": self.seeds.copy(),
            "episode_lengths": lengths,
            "episode_actions": padded,
        }

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        seeds, lengths = arrays["episode_seeds"], arrays["episode_lengths"]
        if seeds.shape != (self.num_envs,):
            raise ValueError(
                f"episode log holds {seeds.shape[0]} envs, this run has {self.num_envs}"
            )
        self.seeds[:] = seeds
        self.actions = [
            row[:n].tolist() for row, n in zip(arrays["episode_actions"], lengths, strict=True)
        ]
