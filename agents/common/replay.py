"""Replay buffer for DQN-style agents: a preallocated numpy ring of n-step transitions from
several environments at once, sampled uniformly or by proportional priority.

Prioritized replay follows Schaul et al. 2016, https://arxiv.org/abs/1511.05952; n-step returns
follow Hessel et al. 2018 (Rainbow), https://arxiv.org/abs/1710.02298.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import DTypeLike

from sige_rl.agents.common.sum_tree import SumTree


@dataclasses.dataclass
class Batch:
    """A sampled minibatch; every field has leading dimension ``batch_size``.

    The TD target is ``rewards + discounts * bootstrap_value(next_obs)``: ``discounts`` already
    holds ``gamma ** k`` (``k`` rewards summed into ``rewards``) or 0 after termination. The loss
    of each transition is multiplied by ``weights`` (all ones for uniform sampling) and the new
    TD errors go back through ``ReplayBuffer.update_priorities(indices, td_errors)``.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    discounts: np.ndarray
    weights: np.ndarray
    indices: np.ndarray
    #: legal actions of ``next_obs`` (bool, ``(batch, n_actions)``), when the buffer keeps them
    next_masks: np.ndarray | None = None


# The numpy scalar types of each kind that ``add`` accepts, for a check without issubdtype.
_SCALAR_TYPES = {
    kind: frozenset(t for t in np.sctypeDict.values() if np.issubdtype(t, kind))
    for kind in (np.integer, np.number, np.bool_)
}

#: Saved so a checkpoint is only loaded into a buffer built the same way.
CONFIG = ("capacity", "obs_shape", "num_envs", "n_step", "gamma", "prioritized", "alpha")


class PrioritySampling:
    """What every replay here shares: sampling (uniform or proportional to priority, with
    importance weights), priority updates, and checked ``state_dict`` round trips.

    A subclass sets ``CONFIG`` (attributes a checkpoint must match) and ``STATE`` (attributes it
    restores), ``size`` (sampleable transitions), ``tree`` (a :class:`SumTree` or None),
    ``max_priority``, ``alpha`` and ``priority_eps``, and provides ``_uniform`` (draw indices),
    ``_leaf_count`` (valid index bound) and ``_gather`` (indices, weights -> Batch).
    """

    CONFIG: tuple[str, ...] = ()
    STATE: tuple[str, ...] = ()
    #: what an index names, for error messages
    INDEX_NAME = "the stored transitions"

    def _configure(
        self, capacity, obs_shape, obs_dtype, num_envs, n_step, gamma, prioritized, alpha,
        priority_eps,
    ) -> None:  # fmt: skip
        """Check and set the arguments every replay takes."""
        for name, value in (("capacity", capacity), ("num_envs", num_envs), ("n_step", n_step)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        if priority_eps < 0:
            raise ValueError(f"priority_eps must be >= 0, got {priority_eps!r}")
        self.capacity = int(capacity)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.obs_dtype = np.dtype(obs_dtype)
        self.num_envs = int(num_envs)
        self.n_step = int(n_step)
        self.gamma = float(gamma)
        self.prioritized = bool(prioritized)
        self.alpha = float(alpha)
        self.priority_eps = float(priority_eps)

    def __len__(self) -> int:
        return self.size

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        """Draw ``batch_size`` transitions (with replacement) using ``rng``.

        ``beta`` is the importance-sampling exponent; it only matters when prioritized.
        """
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first")
        if batch_size > self.size:
            raise ValueError(
                f"cannot sample {batch_size} transitions from a buffer holding {self.size}; "
                "wait until it holds at least batch_size (learning_starts)"
            )
        if self.tree is None:
            indices = self._uniform(rng, batch_size)
            weights = np.ones(batch_size, dtype=np.float32)
        else:
            total = self.tree.total
            segment = total / batch_size
            values = (np.arange(batch_size) + rng.random(batch_size)) * segment
            values = np.minimum(values, np.nextafter(total, 0.0))
            indices = self.tree.find(values)
            probabilities = self.tree.get(indices) / total
            weights = (self.size * probabilities) ** -beta
            weights = (weights / weights.max()).astype(np.float32)
        return self._gather(indices, weights)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Set priorities ``(|td| + priority_eps) ** alpha`` of sampled ``indices``.

        Does nothing for a uniform buffer, so an agent's update step is the same for both.
        """
        indices = np.asarray(indices).reshape(-1)
        td_errors = np.asarray(td_errors, dtype=np.float64).reshape(-1)
        if indices.shape != td_errors.shape:
            raise ValueError(
                f"update_priorities got {indices.size} indices but {td_errors.size} TD errors"
            )
        bound = self._leaf_count()
        if indices.size and (indices.min() < 0 or indices.max() >= bound):
            raise ValueError(f"indices must lie in [0, {bound}) ({self.INDEX_NAME})")
        if not np.all(np.isfinite(td_errors)):
            raise ValueError("td_errors must be finite; a NaN or inf TD error means divergence")
        if self.tree is None or indices.size == 0:
            return
        priorities = self._keep_valid(
            indices, (np.abs(td_errors) + self.priority_eps) ** self.alpha
        )
        self.tree.update(indices, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume exactly, as numpy arrays (copies) for an ``.npz`` file."""
        return {name: np.array(value) for name, value in self._arrays().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`state_dict`; raises ``ValueError`` if it is from another buffer."""
        expected = self._arrays()
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing or extra:
            raise ValueError(
                f"replay state does not match this buffer: missing {missing}, unexpected {extra}"
            )
        for name in self.CONFIG:
            if not np.array_equal(state[name], expected[name]):
                raise ValueError(
                    f"replay state has {name}={np.asarray(state[name]).tolist()!r}, "
                    f"this buffer has {name}={expected[name].tolist()!r}"
                )
        for name, ref in expected.items():
            value = np.asarray(state[name])
            if value.shape != ref.shape or value.dtype != ref.dtype:
                raise ValueError(
                    f"replay state '{name}' is {value.dtype}{list(value.shape)}, "
                    f"expected {ref.dtype}{list(ref.shape)}"
                )
        self._check_state(state)
        if self.tree is not None:
            prefix = "sum_tree."
            self.tree.load_state_dict(
                {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
            )
        for name in self.STATE:
            current = getattr(self, name)
            if isinstance(current, np.ndarray):
                np.copyto(current, state[name])
            else:
                setattr(self, name, type(current)(state[name]))

    def _arrays(self) -> dict[str, np.ndarray]:
        """Configuration and state by name, as arrays that are views where possible (no copy)."""
        arrays = {name: np.asarray(getattr(self, name)) for name in (*self.CONFIG, *self.STATE)}
        if self.tree is not None:
            arrays.update({f"sum_tree.{k}": v for k, v in self.tree.state_dict().items()})
        return arrays

    def _keep_valid(self, indices: np.ndarray, priorities: np.ndarray) -> np.ndarray:
        """Priorities as they may enter the tree (a subclass zeroes indices gone meanwhile)."""
        return priorities

    def _check_state(self, state: dict[str, np.ndarray]) -> None:
        """Subclass checks of a state's consistency, before anything is restored."""


class ReplayBuffer(PrioritySampling):
    """Ring buffer of the last ``capacity`` transitions, fed one vector-env step at a time.

    ``add`` takes one step of ``num_envs`` environments. Each environment keeps its last
    ``n_step`` (obs, action, reward) in a pending window; once the window is full the oldest
    entry leaves as the transition ``(obs_t, a_t, sum_k gamma^k r_{t+k}, obs_{t+n}, gamma^n)``.
    When an episode ends every pending entry of that environment leaves at once: after
    termination with discount 0 (nothing to bootstrap from), after truncation with discount
    ``gamma ** k`` and ``next_obs`` the final observation (bootstrap from it). ``n_step=1`` gives
    ordinary one-step transitions.

    The caller must never ``add`` a step that crosses an episode boundary: with Gymnasium's
    NEXT_STEP autoreset, the step that only resets a finished environment is not a transition
    and must be left out, and ``next_obs`` of a finishing step is the true final observation.

    Observations keep their dtype (uint8 frames stay uint8). ``obs`` and ``next_obs`` are stored
    separately: twice the memory of a frame-sharing layout, but always correct at episode ends
    and with several environments interleaved. For 1M Atari frames of 84x84x4 use a frame store
    instead; for vector observations the doubling is negligible.

    With ``prioritized=True``, transition ``i`` is sampled with probability
    ``P(i) = p_i / sum_j p_j``, where ``p_i = (|td_i| + priority_eps) ** alpha``, using stratified
    sampling over a sum tree; new transitions enter with the largest ``p`` seen so far (1 at
    first). Importance weights ``w_i = (N * P(i)) ** -beta`` are divided by the largest weight
    *in the batch* (as Dopamine, Rainbow reimplementations and Algorithm 1 of the paper read;
    OpenAI Baselines divides by the global maximum instead), so they lie in ``(0, 1]``.

    Args:
        capacity: transitions kept; the oldest are overwritten.
        obs_shape: shape of one observation.
        obs_dtype: dtype observations are stored in.
        num_envs: environments stepped together; ``add`` arrays have this leading dimension.
        n_step: rewards summed into one transition.
        gamma: discount factor.
        prioritized: sample by priority instead of uniformly.
        alpha: how much prioritization is used (0 is uniform).
        priority_eps: added to ``|td|`` so no transition's priority drops to zero.
        mask_actions: when > 0, the number of actions of the masks that ``add`` takes with each
            step (the legal actions of ``next_obs``), kept beside ``next_obs`` and returned as
            ``Batch.next_masks``: the target's max then runs over legal actions only.
    """

    CONFIG = CONFIG
    # Saved and restored: the ring, the pending n-step windows and the priority bookkeeping.
    STATE = (
        "obs", "next_obs", "actions", "rewards", "discounts", "pos", "size",
        "pending_obs", "pending_actions", "pending_rewards", "pending_pos", "pending_len",
        "max_priority",
    )  # fmt: skip

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
        mask_actions: int = 0,
    ) -> None:
        self._configure(
            capacity, obs_shape, obs_dtype, num_envs, n_step, gamma, prioritized, alpha,
            priority_eps,
        )  # fmt: skip
        self.mask_actions = int(mask_actions)
        if self.mask_actions < 0:
            raise ValueError(f"mask_actions must be >= 0, got {mask_actions}")
        if self.mask_actions:  # the masks are saved and must match on load, like the rest
            self.CONFIG = (*type(self).CONFIG, "mask_actions")
            self.STATE = (*type(self).STATE, "next_masks")
            self.next_masks = np.ones((self.capacity, self.mask_actions), dtype=bool)

        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=self.obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.discounts = np.zeros(self.capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

        # Pending n-step windows: per env a ring of n slots, ``pending_len`` of them in use,
        # the newest just before ``pending_pos``.
        n, e = self.n_step, self.num_envs
        self.pending_obs = np.zeros((e, n, *self.obs_shape), dtype=self.obs_dtype)
        self.pending_actions = np.zeros((e, n), dtype=np.int64)
        self.pending_rewards = np.zeros((e, n), dtype=np.float32)
        self.pending_pos = np.zeros(e, dtype=np.int64)
        self.pending_len = np.zeros(e, dtype=np.int64)
        # returns_matrix[j, k] = gamma^(k - j) for k >= j: the return from every start j at once.
        k = self._starts = np.arange(n)
        self._envs = np.arange(e)
        self._vector_shape = (e,)
        self._returns_matrix = np.where(
            k[None, :] >= k[:, None], self.gamma ** (k[None, :] - k[:, None]).clip(0), 0.0
        )

        self.tree = SumTree(self.capacity) if self.prioritized else None
        self.max_priority = 1.0

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_masks: np.ndarray | None = None,
    ) -> None:
        """Record one step of all ``num_envs`` environments (each array has that leading dim);
        ``next_masks``, the legal actions of ``next_obs``, when the buffer keeps masks."""
        n = self.n_step
        if self.mask_actions:
            if next_masks is None:
                raise ValueError("this buffer keeps action masks: add needs next_masks")
            next_masks = np.asarray(next_masks, dtype=bool)
            if next_masks.shape != (self.num_envs, self.mask_actions):
                raise ValueError(
                    f"next_masks has shape {next_masks.shape}, expected "
                    f"{(self.num_envs, self.mask_actions)}"
                )
        obs = self._check_obs("obs", obs)
        next_obs = self._check_obs("next_obs", next_obs)
        actions = self._check_vector("actions", actions, np.integer, "integers")
        rewards = self._check_vector("rewards", rewards, np.number, "numbers")
        terminated = self._check_vector("terminated", terminated, np.bool_, "bool")
        truncated = self._check_vector("truncated", truncated, np.bool_, "bool")

        envs = self._envs
        slot = self.pending_pos
        self.pending_obs[envs, slot] = obs
        self.pending_actions[envs, slot] = actions
        self.pending_rewards[envs, slot] = rewards
        self.pending_pos = (slot + 1) % n
        length = self.pending_len + 1
        done = terminated | truncated

        if not done.any():
            # The usual step: each full window emits its oldest entry (the slot just written
            # over next), nothing else. The general code below gives the same; this is faster.
            full = np.flatnonzero(length == n)
            if full.size:
                order = (self.pending_pos[full, None] + self._starts) % n
                source = order[:, 0]
                self._store(
                    self.pending_obs[full, source],
                    self.pending_actions[full, source],
                    self.pending_rewards[full[:, None], order] @ self._returns_matrix[0],
                    next_obs[full],
                    np.full(full.size, self.gamma**n),
                    None if next_masks is None else next_masks[full],
                )
            self.pending_len = np.minimum(length, n - 1)
            return

        # Windows oldest first: order[e, k] is the slot of env e's k-th oldest pending entry.
        starts = self._starts
        order = ((self.pending_pos - length)[:, None] + starts) % n
        valid = starts < length[:, None]
        window_rewards = np.where(valid, self.pending_rewards[envs[:, None], order], 0.0)
        returns = window_rewards @ self._returns_matrix.T

        emit = (done[:, None] & valid) | ((~done & (length == n))[:, None] & (starts == 0))
        env_idx, start_idx = np.nonzero(emit)
        if env_idx.size:
            summed = length[env_idx] - start_idx
            discounts = np.where(terminated[env_idx], 0.0, self.gamma**summed)
            source = order[env_idx, start_idx]
            self._store(
                self.pending_obs[env_idx, source],
                self.pending_actions[env_idx, source],
                returns[env_idx, start_idx],
                next_obs[env_idx],
                discounts,
                None if next_masks is None else next_masks[env_idx],
            )
        self.pending_len = np.where(done, 0, np.minimum(length, n - 1))

    def _uniform(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.integers(0, self.size, size=count)

    def _leaf_count(self) -> int:
        return self.size

    def _gather(self, indices: np.ndarray, weights: np.ndarray) -> Batch:
        return Batch(
            obs=self.obs[indices],
            actions=self.actions[indices],
            rewards=self.rewards[indices],
            next_obs=self.next_obs[indices],
            discounts=self.discounts[indices],
            weights=weights,
            indices=indices,
            next_masks=self.next_masks[indices] if self.mask_actions else None,
        )

    def _check_state(self, state: dict[str, np.ndarray]) -> None:
        pos, size = int(state["pos"]), int(state["size"])
        if not (0 <= size <= self.capacity and 0 <= pos < self.capacity):
            raise ValueError(f"replay state has pos={pos}, size={size} outside the capacity")
        if np.any(state["pending_len"] < 0) or np.any(state["pending_len"] >= self.n_step):
            raise ValueError(f"replay state has pending_len outside [0, {self.n_step})")

    def _store(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        returns: np.ndarray,
        next_obs: np.ndarray,
        discounts: np.ndarray,
        next_masks: np.ndarray | None = None,
    ) -> None:
        count = len(actions)
        if count > self.capacity:
            # Only the newest ``capacity`` survive; writing the rest would repeat ring indices.
            keep = slice(count - self.capacity, None)
            obs, actions, returns = obs[keep], actions[keep], returns[keep]
            next_obs, discounts = next_obs[keep], discounts[keep]
            next_masks = None if next_masks is None else next_masks[keep]
            self.pos = (self.pos + count - self.capacity) % self.capacity
            count = self.capacity
        if self.pos + count <= self.capacity:
            where = slice(self.pos, self.pos + count)  # no wrap: a slice writes faster
        else:
            where = (self.pos + np.arange(count)) % self.capacity
        self.obs[where] = obs
        self.next_obs[where] = next_obs
        self.actions[where] = actions
        self.rewards[where] = returns
        self.discounts[where] = discounts
        if next_masks is not None:
            self.next_masks[where] = next_masks
        if self.tree is not None:
            indices = (self.pos + np.arange(count)) % self.capacity
            self.tree.update(indices, np.full(count, self.max_priority))
        self.pos = (self.pos + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def _check_obs(self, name: str, value: np.ndarray) -> np.ndarray:
        return check_obs(name, value, (self.num_envs, *self.obs_shape), self.obs_dtype)

    def _check_vector(self, name: str, value: np.ndarray, kind: type, kind_name: str):
        return check_vector(name, value, kind, kind_name, self._vector_shape)


def check_obs(name: str, value: np.ndarray, expected: tuple, dtype: np.dtype) -> np.ndarray:
    """``value`` as a ``(num_envs, *obs_shape)`` array the buffer's dtype can hold."""
    if type(value) is np.ndarray and value.dtype == dtype and value.shape == expected:
        return value  # the usual case, decided without the slower checks below
    value = np.asarray(value)
    if value.shape != expected:
        raise ValueError(
            f"{name} has shape {value.shape}, expected {expected} (num_envs, *obs_shape)"
        )
    if not np.can_cast(value.dtype, dtype, casting="same_kind"):
        raise ValueError(f"{name} has dtype {value.dtype}, which the buffer's {dtype} cannot hold")
    return value


def check_vector(
    name: str, value: np.ndarray, kind: type, kind_name: str, shape: tuple
) -> np.ndarray:
    """``value`` as one number of ``kind`` per env."""
    usual = type(value) is np.ndarray and value.shape == shape
    if usual and value.dtype.type in _SCALAR_TYPES[kind]:  # decided without issubdtype
        return value
    value = np.asarray(value)
    if value.shape != shape:
        raise ValueError(f"{name} has shape {value.shape}, expected {shape}: one per env")
    if not np.issubdtype(value.dtype, kind):
        raise ValueError(f"{name} has dtype {value.dtype}, expected {kind_name}")
    return value
