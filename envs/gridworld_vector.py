"""N grid worlds stepped together in numpy, equal step for step to SyncVectorEnv of GridWorld."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector.utils import batch_space

from sige_rl.envs.gridworld import UNIFORM_BLOCK, GridWorld
from sige_rl.envs.vector_common import check_sizes, env_seeds, reset_mask


class GridWorldVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of :class:`sige_rl.envs.gridworld.GridWorld` stepped in numpy.

    ``GridWorldVectorEnv(num_envs, max_episode_steps=None, **gridworld_kwargs)``; normally built by
    ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``, which passes the
    registered kwargs and ``max_episode_steps``.

    Semantics are those of ``SyncVectorEnv`` over ``gym.make(id)`` (``TimeLimit(GridWorld)``) with
    ``AutoresetMode.NEXT_STEP``: on the step after a sub-env terminated or was truncated it is
    reset instead (reset observation, reward 0, not terminated, not truncated, action ignored);
    ``truncated`` is set when the episode reaches ``max_episode_steps`` steps, as ``TimeLimit``
    does (even on the step that terminates). Sub-env ``i`` owns a generator seeded as
    SyncVectorEnv seeds its ``i``-th env (``reset(seed=s)`` gives it ``s + i``; a list gives one
    seed per env; ``None`` draws fresh entropy) and consumes one uniform per reset or step like
    ``GridWorld``. So for equal seeds and actions, observations, rewards, terminations,
    truncations and the ``{"prob", "_prob"}`` infos are exactly SyncVectorEnv's.

    Differences: every action is checked, also those of sub-envs being autoreset (an invalid
    action raises ``ValueError``); ``render()`` returns a tuple with one frame (or text) per
    sub-env, as SyncVectorEnv does.
    """

    metadata = {
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 4,
        "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP,
        # Like SyncVectorEnv: reset(seed=[...], options={"reset_mask": mask}) resets some envs.
        "reset_mask": True,
    }

    def __init__(
        self,
        num_envs: int,
        *,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **gridworld_kwargs: Any,
    ):
        num_envs, max_episode_steps = check_sizes(num_envs, max_episode_steps)
        self.world = world = GridWorld(render_mode=render_mode, **gridworld_kwargs)
        self.num_envs = n = int(num_envs)
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode

        self.single_observation_space = world.observation_space
        self.single_action_space = world.action_space
        self.observation_space = batch_space(world.observation_space, n)
        self.action_space = spaces.MultiDiscrete(np.full(n, 4, dtype=np.int64))

        # Dense model tables indexed by s * 4 + a (flattened with the outcome index k), padded
        # to the widest outcome list. The sampled k is the number of cumulative probabilities
        # <= u; the last real one is 1.0 > u, so the padding (2.0) is never counted.
        width = max(len(outs) for outs in world._outcomes)
        padded = [outs + outs[-1:] * (width - len(outs)) for outs in world._outcomes]
        next_state, reward, terminated, prob = zip(
            *(o for outs in padded for o in outs), strict=True
        )
        self._width = width
        self._cumprob = np.array([cum + [2.0] * (width - len(cum)) for cum in world._cumprobs])
        self._next_state = np.array(next_state, dtype=np.int64)
        self._reward = np.array(reward, dtype=np.float64)
        self._terminated = np.array(terminated, dtype=bool)
        self._prob = np.array(prob, dtype=np.float64)
        self._start_states = np.asarray(world._start_states, dtype=np.int64)
        self._start_cumprobs = np.asarray(world._start_cumprobs)
        self._obs_table = None if world.obs_type == "index" else np.stack(world._obs_table)

        self._rngs: list[np.random.Generator | None] = [None] * n
        self._uniforms = np.zeros((UNIFORM_BLOCK, n))  # row t: the t-th uniform of every env
        self._cursor = UNIFORM_BLOCK  # shared: every env consumes one uniform per call
        self._s: np.ndarray | None = None
        self._steps = np.zeros(n, dtype=np.int64)
        self._autoreset = np.zeros(n, dtype=bool)
        self._last_action = np.full(n, -1, dtype=np.int64)
        self._all_true = np.ones(n, dtype=bool)

    # -- randomness -------------------------------------------------------------------------

    def _rng(self, i: int) -> np.random.Generator:
        if self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random()
        return self._rngs[i]

    def _next_uniforms(self) -> np.ndarray:
        if self._cursor == UNIFORM_BLOCK:
            for i in range(self.num_envs):
                self._uniforms[:, i] = self._rng(i).random(UNIFORM_BLOCK)
            self._cursor = 0
        u = self._uniforms[self._cursor]
        self._cursor += 1
        return u

    def _uneven_uniforms(self, reseeded: np.ndarray, consume: np.ndarray) -> np.ndarray:
        """One uniform for each env in ``consume``; realign all buffers to a shared cursor.

        A generator's doubles form one stream however they are split into blocks, so a buffer
        can be topped up from its generator without changing what the env will draw next.
        """
        u = np.zeros(self.num_envs)
        realigned = np.empty_like(self._uniforms)
        for i in range(self.num_envs):
            left = np.empty(0) if reseeded[i] else self._uniforms[self._cursor :, i]
            need = UNIFORM_BLOCK + int(consume[i]) - len(left)
            column = np.concatenate([left, self._rng(i).random(need)])
            if consume[i]:
                u[i], column = column[0], column[1:]
            realigned[:, i] = column
        self._uniforms, self._cursor = realigned, 0
        return u

    # -- API ----------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        n = self.num_envs
        seeds = env_seeds(seed, n)
        mask = reset_mask(options, n)
        if mask is None:
            mask = self._all_true
        reseeded = np.array([m and s is not None for s, m in zip(seeds, mask, strict=True)])
        for i in np.flatnonzero(reseeded):
            self._rngs[i], _ = seeding.np_random(seeds[i])

        if mask.all() and reseeded.all():
            self._cursor = UNIFORM_BLOCK
            u = self._next_uniforms()
        elif mask.all() and not reseeded.any():
            u = self._next_uniforms()
        else:
            u = self._uneven_uniforms(reseeded, mask)

        starts = self._start_states[np.searchsorted(self._start_cumprobs, u, side="right")]
        if self._s is None:
            self._s = starts.copy()
        self._s[mask] = starts[mask]
        self._steps[mask] = 0
        self._autoreset[mask] = False
        self._last_action[mask] = -1
        return self._observations(), {"prob": mask.astype(np.float64), "_prob": mask.copy()}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._s is None:
            raise RuntimeError("call reset() before step()")
        a = self._checked_actions(actions)
        u = self._next_uniforms()
        sa = self._s * 4 + a
        if self._width == 1:
            idx = sa
        else:
            idx = sa * self._width + (u[:, None] >= self._cumprob[sa]).sum(axis=1)
        s = self._next_state[idx]
        reward = self._reward[idx]
        terminated = self._terminated[idx]
        prob = self._prob[idx]

        auto = self._autoreset
        steps = self._steps + 1
        if auto.any():
            ids = np.flatnonzero(auto)
            s[ids] = self._start_states[np.searchsorted(self._start_cumprobs, u[ids], side="right")]
            reward[ids] = 0.0
            terminated[ids] = False
            prob[ids] = 1.0
            steps[ids] = 0
        if self.max_episode_steps is None:
            truncated = np.zeros(self.num_envs, dtype=bool)
        else:
            truncated = steps >= self.max_episode_steps
            truncated[auto] = False
        self._s, self._steps = s, steps
        self._autoreset = terminated | truncated
        self._last_action = np.where(auto, -1, a)
        return (
            self._observations(),
            reward,
            terminated,
            truncated,
            {"prob": prob, "_prob": self._all_true.copy()},
        )

    def _checked_actions(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be {self.num_envs} ints, each in the single action space "
                f"{self.single_action_space} (batched: {self.action_space}); got {actions!r}"
            )
        bad = (a < 0) | (a > 3)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"invalid action {a[i]} for sub-env {i}: the single action space is "
                f"{self.single_action_space} (0 LEFT, 1 DOWN, 2 RIGHT, 3 UP)"
            )
        return a.astype(np.int64, copy=False)

    def _observations(self) -> np.ndarray:
        if self._obs_table is None:
            return self._s.copy()
        return self._obs_table[self._s]

    def render(self) -> tuple[Any, ...] | None:
        """One frame per sub-env: text for ``"ansi"``, ``uint8`` images for ``"rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi'")
            return None
        if self._s is None:
            raise RuntimeError("call reset() before render()")
        if self.render_mode == "ansi":
            return tuple(
                self.world.render_text(int(s), None if a < 0 else int(a))
                for s, a in zip(self._s, self._last_action, strict=True)
            )
        return tuple(self.world.render_rgb(int(s)) for s in self._s)
