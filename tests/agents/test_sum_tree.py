"""SumTree: totals, prefix-sum search against np.searchsorted, sampling frequencies, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sige_rl.agents.common.sum_tree import SumTree

priority = st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def tree_and_updates(draw):
    """A capacity (often not a power of two) and a sequence of batched updates, with repeats."""
    capacity = draw(st.integers(min_value=1, max_value=70))
    index = st.integers(min_value=0, max_value=capacity - 1)
    batches = draw(
        st.lists(st.lists(st.tuples(index, priority), min_size=1, max_size=20), max_size=8)
    )
    return capacity, batches


def apply(capacity, batches):
    """The tree after the updates, and the reference leaves written one by one in order."""
    tree = SumTree(capacity)
    leaves = np.zeros(capacity)
    for batch in batches:
        indices = np.array([i for i, _ in batch])
        priorities = np.array([p for _, p in batch])
        tree.update(indices, priorities)
        for i, p in batch:
            leaves[i] = p
    return tree, leaves


@settings(max_examples=200, deadline=None)
@given(tree_and_updates())
def test_total_is_sum_of_priorities_and_last_write_wins(case):
    tree, leaves = apply(*case)
    np.testing.assert_array_equal(tree.get(np.arange(len(leaves))), leaves)
    assert tree.total == pytest.approx(leaves.sum(), rel=1e-12, abs=1e-12)
    # Every inner node is exactly the sum of its children: recomputed, never drifted.
    inner = np.arange(1, tree.leaf_offset)
    np.testing.assert_array_equal(tree.tree[inner], tree.tree[2 * inner] + tree.tree[2 * inner + 1])


@settings(max_examples=200, deadline=None)
@given(tree_and_updates(), st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1))
def test_find_returns_leaf_whose_interval_contains_value(case, fractions):
    tree, leaves = apply(*case)
    if leaves.sum() <= 0:
        return
    values = np.minimum(np.array(fractions) * tree.total, np.nextafter(tree.total, 0))
    found = tree.find(values)
    cumsum = np.cumsum(leaves)
    reference = np.minimum(np.searchsorted(cumsum, values, side="right"), len(leaves) - 1)
    assert np.all(leaves[found] > 0), "a zero-priority leaf was found"
    # Tree sums and the running cumsum round differently, so agree up to a tiny boundary slack.
    slack = 1e-9 * tree.total
    lower = cumsum[found] - leaves[found]
    assert np.all((lower - slack <= values) & (values < cumsum[found] + slack))
    exact = (np.abs(values - cumsum[reference]) > slack) & (
        np.abs(values - (cumsum[reference] - leaves[reference])) > slack
    )
    np.testing.assert_array_equal(found[exact], reference[exact])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=100).flatmap(
        lambda n: st.lists(st.integers(0, 50), min_size=n, max_size=n)
    ),
    st.data(),
)
def test_find_matches_searchsorted_exactly_on_integer_priorities(priorities, data):
    # Small integers add exactly in float64, so the tree and the cumsum agree to the last bit.
    leaves = np.array(priorities, dtype=np.float64)
    if leaves.sum() == 0:
        return
    tree = SumTree(len(leaves))
    tree.update(np.arange(len(leaves)), leaves)
    values = np.array(
        data.draw(st.lists(st.integers(0, 2 * int(leaves.sum()) - 1), min_size=1)), dtype=float
    )
    values /= 2  # half-integers hit both boundaries and interiors
    expected = np.searchsorted(np.cumsum(leaves), values, side="right")
    np.testing.assert_array_equal(tree.find(values), expected)


def test_sampling_frequencies_are_proportional_to_priorities():
    capacity = 37  # not a power of two
    rng = np.random.default_rng(0)
    leaves = rng.integers(0, 20, size=capacity).astype(float)
    leaves[[3, 10]] = 0.0
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), leaves)
    draws = 200_000
    counts = np.bincount(tree.find(rng.random(draws) * tree.total), minlength=capacity)
    assert counts[leaves == 0].sum() == 0
    expected = draws * leaves / leaves.sum()
    nonzero = leaves > 0
    chi2 = np.sum((counts[nonzero] - expected[nonzero]) ** 2 / expected[nonzero])
    dof = nonzero.sum() - 1
    # Mean dof, sd sqrt(2 dof): 5 sd above the mean fails with a wrong tree, passes a right one.
    assert chi2 < dof + 5 * np.sqrt(2 * dof), chi2


@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 100, 1000])
def test_any_capacity_reaches_every_leaf(capacity):
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), np.ones(capacity))
    np.testing.assert_array_equal(tree.find(np.arange(capacity) + 0.5), np.arange(capacity))
    assert tree.total == capacity


def test_state_dict_round_trip_and_mismatch(tmp_path):
    tree = SumTree(10)
    tree.update(np.array([1, 4, 9]), np.array([2.0, 3.0, 5.0]))
    np.savez(tmp_path / "tree.npz", **tree.state_dict())
    restored = SumTree(10)
    with np.load(tmp_path / "tree.npz") as data:
        restored.load_state_dict(dict(data))
    np.testing.assert_array_equal(restored.tree, tree.tree)
    with pytest.raises(ValueError, match="capacity"):
        SumTree(11).load_state_dict(tree.state_dict())
    with pytest.raises(ValueError, match="lacks"):
        restored.load_state_dict({"capacity": np.array(10)})


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=">= 1"):
        SumTree(0)
    tree = SumTree(4)
    with pytest.raises(ValueError, match="all zero"):
        tree.find(np.array([0.0]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        tree.update(np.array([4]), np.array([1.0]))
    with pytest.raises(ValueError, match="finite"):
        tree.update(np.array([0]), np.array([-1.0]))
    with pytest.raises(ValueError, match="one priority per index"):
        tree.update(np.array([0, 1]), np.array([1.0]))
    tree.update(np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError, match="total"):
        tree.find(np.array([1.0]))


def test_rounding_never_steers_into_empty_leaves():
    # Found by search: with these sums the value just below the total, less the left subtrees'
    # float sums, is a hair above leaf 5's priority; a plain descent would reach empty leaf 6.
    leaves = [1.1664269770044278, 0.049392234259171906, 0.005987721527244154]
    leaves += [73.57658557521229, 501.4619014002143, 274.26421432147333, 0.0, 0.0]
    tree = SumTree(8)
    tree.update(np.arange(8), np.array(leaves))
    values = tree.total * (1 - np.arange(1, 200) * 1e-16)
    values = np.append(values[values < tree.total], np.nextafter(tree.total, 0))
    assert np.all(tree.find(values) == 5)
