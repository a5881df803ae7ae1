"""Array-based binary sum tree for proportional prioritized replay.

Schaul et al. 2016, "Prioritized Experience Replay", https://arxiv.org/abs/1511.05952 (B.2.1):
each leaf holds one transition's priority, each inner node the sum of its two children, so the
root is the total and a prefix-sum value finds its leaf in ``O(log capacity)``.

The leaves are padded up to a power of two with zero priorities, which are never found, so any
capacity works. Node 1 is the root; node ``i`` has children ``2i`` and ``2i + 1``; leaf ``j`` is
node ``leaf_offset + j``. Every operation takes a whole batch of indices or values at once.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Sum tree over ``capacity`` non-negative priorities, all zero at first.

    Args:
        capacity: number of leaves (transitions), at least 1.
    """

    def __init__(self, capacity: int) -> None:
        if int(capacity) != capacity or capacity < 1:
            raise ValueError(f"SumTree capacity must be an integer >= 1, got {capacity!r}")
        self.capacity = int(capacity)
        self.depth = max(0, (self.capacity - 1).bit_length())
        self.leaf_offset = 1 << self.depth
        # Index 0 is unused so that parent / child arithmetic stays ``i // 2`` and ``2i``.
        self.tree = np.zeros(2 * self.leaf_offset, dtype=np.float64)

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self.tree[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Priorities of the leaves ``indices``."""
        return self.tree[self.leaf_offset + self._check_indices(indices)]

    def update(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities of leaves ``indices``; where an index repeats, its last value wins.

        Parents are recomputed from their children level by level rather than nudged by deltas,
        so no rounding error accumulates however many updates a long run makes.
        """
        indices = self._check_indices(indices)
        priorities = np.asarray(priorities, dtype=np.float64).reshape(-1)
        if priorities.shape != indices.shape:
            raise ValueError(
                f"update got {indices.size} indices but {priorities.size} priorities; "
                "pass one priority per index"
            )
        if not np.all(np.isfinite(priorities)) or np.any(priorities < 0):
            raise ValueError("priorities must be finite and >= 0")
        if indices.size == 0:
            return
        # Fancy assignment with repeated indices has no guaranteed order in numpy, so keep the
        # last occurrence of each index explicitly.
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        last = indices.size - 1 - first_in_reversed
        nodes = self.leaf_offset + unique
        self.tree[nodes] = priorities[last]
        pairs = self.tree.reshape(-1, 2)  # pairs[i] holds the children of node i
        for _ in range(self.depth):
            nodes //= 2
            # Siblings repeat a parent; they write the same sum, so no need to deduplicate.
            self.tree[nodes] = pairs[nodes].sum(axis=1)

    def find(self, values: np.ndarray) -> np.ndarray:
        """Leaf index for each prefix-sum value in ``[0, total)``.

        Leaf ``j`` owns the interval ``[sum(p[:j]), sum(p[:j + 1]))``, so zero-priority leaves
        are never returned; the result equals ``np.searchsorted(np.cumsum(p), values, "right")``
        up to floating-point rounding at interval boundaries.
        """
        values = np.array(values, dtype=np.float64).reshape(-1)
        total = self.total
        if total <= 0:
            raise ValueError("cannot search a sum tree whose priorities are all zero")
        if values.size and (values.min() < 0 or values.max() >= total):
            raise ValueError(
                f"find values must lie in [0, total) = [0, {total}), got "
                f"[{values.min()}, {values.max()}]"
            )
        nodes = np.ones(values.shape, dtype=np.int64)
        for _ in range(self.depth):
            nodes *= 2  # the left child
            left_sum = self.tree[nodes]
            # The second condition keeps rounding (a value a hair above a subtree's float sum)
            # from steering into an empty right subtree.
            go_right = (values >= left_sum) & (self.tree[nodes + 1] > 0)
            values -= left_sum * go_right
            nodes += go_right
        return nodes - self.leaf_offset

    def state_dict(self) -> dict[str, np.ndarray]:
        """The whole tree as numpy arrays (a copy), for an ``.npz`` checkpoint."""
        return {"capacity": np.array(self.capacity, dtype=np.int64), "tree": self.tree.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a tree saved by :meth:`state_dict`; raises ``ValueError`` on any mismatch."""
        missing = {"capacity", "tree"} - set(state)
        if missing:
            raise ValueError(f"sum tree state lacks {sorted(missing)}")
        capacity = np.asarray(state["capacity"])
        if capacity.shape != () or int(capacity) != self.capacity:
            raise ValueError(
                f"sum tree state has capacity {capacity.tolist()}, this tree has {self.capacity}"
            )
        tree = np.asarray(state["tree"])
        if tree.shape != self.tree.shape or tree.dtype != self.tree.dtype:
            raise ValueError(
                f"sum tree state has tree {tree.dtype}{list(tree.shape)}, "
                f"expected {self.tree.dtype}{list(self.tree.shape)}"
            )
        leaves = tree[self.leaf_offset :]
        if not np.all(np.isfinite(leaves)) or np.any(leaves < 0):
            raise ValueError("sum tree state has negative or non-finite priorities")
        np.copyto(self.tree, tree)

    def _check_indices(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices).reshape(-1)
        if indices.size == 0:
            return indices.astype(np.int64)
        if not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"leaf indices must be integers, got dtype {indices.dtype}")
        if indices.min() < 0 or indices.max() >= self.capacity:
            raise ValueError(
                f"leaf indices must lie in [0, {self.capacity}), "
                f"got [{indices.min()}, {indices.max()}]"
            )
        return indices.astype(np.int64, copy=False)
