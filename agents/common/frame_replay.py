"""Replay for frame-stacked pixel observations that stores each frame once.

An Atari observation is the last ``k`` frames (``k x 84 x 84`` uint8). A buffer that keeps
``obs`` and ``next_obs`` of every transition holds each frame ``2k`` times: 56 KB a transition
instead of 7,056 B. Here every sub-env has a ring of frames; an observation is named by the ring
slot of its newest frame, and its stack is the ``k`` slots ending there. The layout follows
Dopamine's circular replay (Castro et al. 2018, https://arxiv.org/abs/1812.06110), with two
changes that make every rebuilt stack exactly the one the agent saw:

- The first observation of an episode writes all ``k`` of its frames, so whatever the env
  pads a fresh stack with (zero frames in our Atari env, copies of the first frame in
  Gymnasium's ``padding_type="reset"``) is what comes back. It costs ``k - 1`` extra frames an
  episode: 0.1% of an Atari game of 3,000 steps.
- The final observation of an episode is stored too, so a truncated (time-limit) transition
  bootstraps from its true last state.

Each later observation adds one frame. ``add`` checks that it really is the previous stack moved
by one frame and refuses observations that are not (use :class:`ReplayBuffer` for those).
n-step returns are summed when sampling, from the rewards and episode ends stored per slot.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from sige_rl.agents.common.replay import (
    CONFIG,
    Batch,
    PrioritySampling,
    check_obs,
    check_vector,
)
from sige_rl.agents.common.sum_tree import SumTree


class FrameReplayBuffer(PrioritySampling):
    """Ring replay of frame stacks, with the interface of :class:`ReplayBuffer`.

    Each of the ``num_envs`` sub-envs owns ``slots = ceil(capacity / num_envs) + k + n_step``
    frame slots (``k`` frames a stack). Slot ``s`` holds one frame, and, if the agent acted on
    the observation whose newest frame is ``s``, that step's action, reward and whether it
    ended the episode. Transition ``s`` (from observation ``s``) is sampleable once its n-step
    window has closed, until the ring overwrites its oldest frame ``s - k + 1``. With episodes
    much longer than ``k`` the buffer holds about ``capacity`` transitions; each episode costs
    ``k`` slots more than its steps, so very short episodes leave room for fewer.

    Sampled stacks are rebuilt from the ring (``obs`` and ``next_obs``, ``batch x k x H x W``);
    the n-step return is ``sum_j gamma^j r_{s+j}`` up to ``n_step`` rewards or the episode's
    end, ``next_obs`` the observation after them, and the discount ``gamma^m`` after ``m``
    rewards, or 0 if the episode terminated. Prioritized sampling is proportional over a sum
    tree with one leaf per slot (zero for slots that are not sampleable).

    The caller follows :class:`ReplayBuffer`'s contract: ``next_obs`` of a finishing step is the
    true final observation, and the next ``obs`` of that sub-env starts a new episode.

    Args:
        capacity: transitions kept (about; see above).
        obs_shape: ``(k, H, W)``, the stack of ``k`` frames; ``k`` along the first axis.
        obs_dtype, num_envs, n_step, gamma, prioritized, alpha, priority_eps: as
            :class:`ReplayBuffer`.
    """

    CONFIG = CONFIG
    # Saved and restored: frames, per-slot step data, write heads and the sampleable set.
    STATE = (
        "frames", "actions", "rewards", "terminated", "ended", "written", "head",
        "episode_start", "valid_list", "valid_where", "size", "max_priority",
    )  # fmt: skip
    INDEX_NAME = "env * slots + slot"

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: DTypeLike,
        num_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        prioritized: bool = False,
        alpha: float = 0.6,
        priority_eps: float = 1e-6,
    ) -> None:
        if len(obs_shape) < 2:
            raise ValueError(
                f"FrameReplayBuffer needs stacked frames of shape (k, H, ...), got {obs_shape}; "
                "use ReplayBuffer for other observations"
            )
        self._configure(
            capacity, obs_shape, obs_dtype, num_envs, n_step, gamma, prioritized, alpha,
            priority_eps,
        )  # fmt: skip
        self.stack = k = self.obs_shape[0]
        self.frame_shape = self.obs_shape[1:]

        e = self.num_envs
        self.slots = s = -(-self.capacity // e) + k + self.n_step
        self.frames = np.zeros((e, s, *self.frame_shape), dtype=self.obs_dtype)
        self.actions = np.zeros((e, s), dtype=np.int64)
        self.rewards = np.zeros((e, s), dtype=np.float32)
        self.terminated = np.zeros((e, s), dtype=bool)  # the step from this slot terminated
        self.ended = np.zeros((e, s), dtype=bool)  # ... or ended the episode otherwise
        # Absolute positions (frames ever written) per env: the write head, the newest frame of
        # the current observation (-1 after an episode's end: the next obs starts a new one) and
        # the current episode's first observation.
        self.written = np.zeros(e, dtype=np.int64)
        self.head = np.full(e, -1, dtype=np.int64)
        self.episode_start = np.zeros(e, dtype=np.int64)
        # The sampleable transitions as a dense list of leaves (env * slots + slot), with each
        # leaf's place in it (-1: absent), so uniform sampling is one draw, whatever the fill.
        self.valid_list = np.zeros(e * s, dtype=np.int64)
        self.valid_where = np.full(e * s, -1, dtype=np.int64)
        self.size = 0
        self.tree = SumTree(e * s) if self.prioritized else None
        self.max_priority = 1.0
        self._envs = np.arange(e)
        self._vector_shape = (e,)
        # Leaves that left and entered the sampleable set during one add: one tree update each.
        self._freed: list[int] = []
        self._entered: list[int] = []

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays (frames, per-slot data, sampling bookkeeping)."""
        arrays = [getattr(self, name) for name in self.STATE]
        total = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
        return total + (self.tree.tree.nbytes if self.tree is not None else 0)

    # -- adding ---------------------------------------------------------------------------------
    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """Record one step of all ``num_envs`` environments (each array has that leading dim)."""
        expected = (self.num_envs, *self.obs_shape)
        obs = check_obs("obs", obs, expected, self.obs_dtype)
        next_obs = check_obs("next_obs", next_obs, expected, self.obs_dtype)
        actions = check_vector("actions", actions, np.integer, "integers", self._vector_shape)
        rewards = check_vector("rewards", rewards, np.number, "numbers", self._vector_shape)
        terminated = check_vector("terminated", terminated, np.bool_, "bool", self._vector_shape)
        truncated = check_vector("truncated", truncated, np.bool_, "bool", self._vector_shape)
        s, k = self.slots, self.stack

        fresh = self.head < 0
        heads = self.head % s
        for i in np.flatnonzero(~fresh):
            if not np.array_equal(obs[i, -1], self.frames[i, heads[i]]):
                raise ValueError(
                    f"obs of env {i} is not the next_obs of its previous step; add every step, "
                    "in order, and start a new episode only after one ended"
                )
        if not np.array_equal(next_obs[:, :-1], obs[:, 1:]):
            raise ValueError(
                "next_obs is not obs moved by one frame (next_obs[:, :-1] != obs[:, 1:]): "
                "FrameReplayBuffer needs frame stacks along axis 1; use ReplayBuffer"
            )
        if fresh.any():  # first observation of an episode: all of its frames
            for i in np.flatnonzero(fresh):
                self.episode_start[i] = self._write(i, obs[i]) + k - 1
                self.head[i] = self.episode_start[i]
            heads = self.head % s
        envs = self._envs
        self.actions[envs, heads] = actions
        self.rewards[envs, heads] = rewards
        self.terminated[envs, heads] = terminated
        done = terminated | truncated
        self.ended[envs, heads] = done

        acted = self.head.copy()
        self._write_frames(next_obs[:, -1])
        self.head = self.written - 1

        # n-step windows that close now: the oldest pending one of each env that goes on, every
        # pending one of each env whose episode ended.
        n = self.n_step
        first = np.maximum(self.episode_start, acted - n + 1)
        for i in range(self.num_envs):
            if done[i]:
                self._validate(i, np.arange(first[i], acted[i] + 1))
            elif acted[i] - n + 1 >= self.episode_start[i]:
                self._validate(i, np.array([acted[i] - n + 1]))
        self.head[done] = -1
        if self.tree is not None:
            self.tree.update(np.array(self._freed, dtype=np.int64), np.zeros(len(self._freed)))
            entered = np.array(self._entered, dtype=np.int64)
            self.tree.update(entered, np.full(entered.size, self.max_priority))
        self._freed.clear()
        self._entered.clear()

    def _write(self, env: int, frames: np.ndarray) -> int:
        """Write ``frames`` (``m x frame``) at env's head; return the first one's position."""
        start = int(self.written[env])
        positions = start + np.arange(len(frames))
        self._invalidate_overwritten(env, positions)
        self.frames[env, positions % self.slots] = frames
        self.written[env] += len(frames)
        return start

    def _write_frames(self, frames: np.ndarray) -> None:
        """Write one frame per env at each env's head."""
        positions = self.written
        for i in range(self.num_envs):
            self._invalidate_overwritten(i, positions[i : i + 1])
        self.frames[self._envs, positions % self.slots] = frames
        self.written += 1

    def _invalidate_overwritten(self, env: int, positions: np.ndarray) -> None:
        """Writing position ``p`` overwrites the oldest frame of transition ``p - slots + k - 1``;
        it leaves the sampleable set. (The transition of slot ``p`` itself lost its oldest frame
        earlier. A slot's step flags need no clearing: a transition's n-step walk only reads
        slots acted on since, and stops at its episode's end.)"""
        oldest_of = positions - self.slots + self.stack - 1
        for position in oldest_of[oldest_of >= 0].tolist():
            self._remove(env * self.slots + position % self.slots)

    def _validate(self, env: int, positions: np.ndarray) -> None:
        if positions.size == 0:
            return
        leaves = env * self.slots + positions % self.slots
        for leaf in leaves.tolist():
            if self.valid_where[leaf] < 0:
                self.valid_where[leaf] = self.size
                self.valid_list[self.size] = leaf
                self.size += 1
        self._entered.extend(leaves.tolist())

    def _remove(self, leaf: int) -> None:
        where = self.valid_where[leaf]
        if where < 0:
            return
        last = self.valid_list[self.size - 1]
        self.valid_list[where] = last
        self.valid_where[last] = where
        self.valid_where[leaf] = -1
        self.size -= 1
        self._freed.append(leaf)

    # -- sampling -------------------------------------------------------------------------------
    def _uniform(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return self.valid_list[rng.integers(0, self.size, size=count)]

    def _leaf_count(self) -> int:
        return self.valid_where.size

    def _gather(self, indices: np.ndarray, weights: np.ndarray) -> Batch:
        return self.transitions(indices, weights)

    def transitions(self, leaves: np.ndarray, weights: np.ndarray | None = None) -> Batch:
        """The transitions from ``leaves`` (``env * slots + slot``; ``valid_list[:len(self)]``
        lists all sampleable ones) with their stacks rebuilt."""
        leaves = np.asarray(leaves, dtype=np.int64).reshape(-1)
        count = leaves.size
        if weights is None:
            weights = np.ones(count, dtype=np.float32)
        env, slot = np.divmod(leaves, self.slots)
        returns = np.zeros(count)
        steps = np.zeros(count, dtype=np.int64)
        terminal = np.zeros(count, dtype=bool)
        running = np.ones(count, dtype=bool)
        for j in range(self.n_step):
            at = (slot + j) % self.slots
            returns += np.where(running, self.gamma**j * self.rewards[env, at], 0.0)
            steps += running
            terminal |= running & self.terminated[env, at]
            running &= ~self.ended[env, at]
        discounts = np.where(terminal, 0.0, self.gamma**steps).astype(np.float32)
        return Batch(
            obs=self._stacks(env, slot),
            actions=self.actions[env, slot],
            rewards=returns.astype(np.float32),
            next_obs=self._stacks(env, slot + steps),
            discounts=discounts,
            weights=weights,
            indices=leaves,
        )

    def _stacks(self, env: np.ndarray, newest: np.ndarray) -> np.ndarray:
        slots = (newest[:, None] + np.arange(1 - self.stack, 1)) % self.slots
        return self.frames[env[:, None], slots]

    def _keep_valid(self, indices: np.ndarray, priorities: np.ndarray) -> np.ndarray:
        # A leaf overwritten since it was sampled keeps priority 0.
        return np.where(self.valid_where[indices] >= 0, priorities, 0.0)

    def _check_state(self, state: dict[str, np.ndarray]) -> None:
        size = int(state["size"])
        where = np.asarray(state["valid_where"])
        listed = np.asarray(state["valid_list"])[: max(size, 0)]
        consistent = (
            0 <= size <= where.size
            and np.all((listed >= 0) & (listed < where.size))
            and np.array_equal(where[listed], np.arange(size))
            and int((where >= 0).sum()) == size
        )
        if not consistent:
            raise ValueError("replay state is corrupt: its list of sampleable transitions is not")
