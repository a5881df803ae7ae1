"""supervised.datasets: the offline datasets against their sources, the forecasting helpers on
hand-made series."""

import random

import numpy as np
import pytest

from sige_rl.supervised.datasets import (
    Standardizer,
    chronological_split,
    load_digits,
    load_mnist1d,
    make_windows,
    persistence_forecast,
    stratified_split,
)

# -- digits -----------------------------------------------------------------------------------


def test_digits_shape_range_and_classes():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.unique(x), np.arange(17, dtype=np.float32) / 16)
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.sum() == 1797 and counts.min() >= 170
    raw = sklearn_datasets.load_digits()
    np.testing.assert_array_equal(x[:, 0] * 16, raw.images)
    np.testing.assert_array_equal(y, raw.target)
    x[0] = -1  # a copy: the cache is untouched
    assert load_digits()[0].min() == 0.0


def test_stratified_split_keeps_proportions_and_is_reproducible():
    pytest.importorskip("sklearn")
    x, y = load_digits()
    x_a, y_a, x_b, y_b = stratified_split(x, y, 0.25, seed=3)
    assert len(x_a) + len(x_b) == len(x) and len(y_a) == len(x_a) and len(y_b) == len(x_b)
    assert abs(len(x_b) - 0.25 * len(x)) <= 1
    total = np.bincount(y, minlength=10)
    expected = total * len(y_b) / len(y)
    assert np.all(np.abs(np.bincount(y_b, minlength=10) - expected) <= 1)
    again = stratified_split(x, y, 0.25, seed=3)
    for a, b in zip((x_a, y_a, x_b, y_b), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(stratified_split(x, y, 0.25, seed=4)[3], y_b)
    # the two parts are a partition of the samples (each image with its own label)
    merged = np.concatenate([x_a, x_b]).reshape(len(x), -1)
    labels = np.concatenate([y_a, y_b])
    order, ref = np.lexsort(merged.T), np.lexsort(x.reshape(len(x), -1).T)
    np.testing.assert_array_equal(merged[order], x.reshape(len(x), -1)[ref])
    np.testing.assert_array_equal(labels[order], y[ref])


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "0.2"])
def test_stratified_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(np.zeros((10, 2)), np.arange(10) % 2, fraction, seed=0)


# -- MNIST-1D ---------------------------------------------------------------------------------


def test_mnist1d_shapes_and_rng_states():
    pytest.importorskip("mnist1d")
    random.seed(123)
    np.random.seed(456)  # noqa: NPY002
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    x, y, x_test, y_test = load_mnist1d()
    assert random.getstate() == python_state
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]
    assert x.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert x.dtype == x_test.dtype == np.float32 and y.dtype == y_test.dtype == np.int64
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    x[:] = 0  # a copy: the cache is untouched
    assert np.abs(load_mnist1d()[0]).max() > 0


def test_mnist1d_equals_mnist1d_make_dataset():
    data = pytest.importorskip("mnist1d.data")
    x, y, x_test, y_test = load_mnist1d(num_samples=600, train_split=0.75, seed=7)
    args = data.get_dataset_args()
    args.num_samples, args.train_split, args.seed = 600, 0.75, 7
    reference = data.make_dataset(args)  # (this one reseeds the global generators)
    np.testing.assert_array_equal(x, reference["x"].astype(np.float32))
    np.testing.assert_array_equal(y, reference["y"])
    np.testing.assert_array_equal(x_test, reference["x_test"].astype(np.float32))
    np.testing.assert_array_equal(y_test, reference["y_test"])
    assert x.shape == (450, 40) and x_test.shape == (150, 40)


def test_mnist1d_arguments():
    pytest.importorskip("mnist1d")
    x, y, x_test, y_test = load_mnist1d(num_samples=200, train_split=0.5, seed=1)
    assert x.shape == (100, 40) and x_test.shape == (100, 40)
    assert not np.array_equal(x, load_mnist1d(num_samples=200, train_split=0.5, seed=2)[0])
    with pytest.raises(ValueError, match="train_split"):
        load_mnist1d(train_split=1.0)
    with pytest.raises(ValueError, match="num_samples"):
        load_mnist1d(num_samples=5)


# -- forecasting ------------------------------------------------------------------------------


def test_make_windows_by_hand():
    series = np.arange(12.0).reshape(6, 2)  # row t = (2t, 2t + 1)
    x, y = make_windows(series, lookback=3, horizon=2, targets=[1])
    assert x.shape == (2, 3, 2) and y.shape == (2, 2, 1)
    np.testing.assert_array_equal(x[0], [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(x[1], [[2, 3], [4, 5], [6, 7]])
    np.testing.assert_array_equal(y[0, :, 0], [7, 9])
    np.testing.assert_array_equal(y[1, :, 0], [9, 11])
    x, y = make_windows(series, lookback=2)  # horizon 1, every column a target
    assert x.shape == (4, 2, 2) and y.shape == (4, 1, 2)
    np.testing.assert_array_equal(y[:, 0], series[2:])
    assert x.flags.c_contiguous and y.flags.c_contiguous
    x[:] = -1  # copies, not views of the series
    assert series.min() == 0
    assert make_windows(series.astype(np.float32), 2)[0].dtype == np.float32
    assert make_windows(np.arange(6).reshape(3, 2), 1)[0].dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lookback": 0}, "lookback"),
        ({"lookback": 2, "horizon": 0}, "horizon"),
        ({"lookback": 5, "horizon": 2}, "too few"),
        ({"lookback": 2, "targets": [2]}, "out of range"),
        ({"lookback": 2, "targets": []}, "at least one"),
    ],
)
def test_make_windows_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_windows(np.zeros((6, 2)), **kwargs)
    with pytest.raises(ValueError, match="2-D"):
        make_windows(np.zeros(6), 2)


def test_chronological_split_in_time_order():
    x = np.arange(100)[:, None]
    y = np.arange(100) * 10
    x_tr, y_tr, x_va, y_va, x_te, y_te = chronological_split(x, y)
    np.testing.assert_array_equal(x_tr[:, 0], np.arange(70))
    np.testing.assert_array_equal(x_va[:, 0], np.arange(70, 85))
    np.testing.assert_array_equal(x_te[:, 0], np.arange(85, 100))
    np.testing.assert_array_equal(y_va, np.arange(70, 85) * 10)
    # a gap between the parts: no window of one part is next to one of the following part
    x_tr, _, x_va, _, x_te, _ = chronological_split(x, y, (0.5, 0.25, 0.25), gap=2)
    assert len(x_tr) + len(x_va) + len(x_te) == 96
    assert x_va[0, 0] == x_tr[-1, 0] + 3 and x_te[0, 0] == x_va[-1, 0] + 3
    _, _, x_va, _, x_te, _ = chronological_split(x, y, (0.8, 0.0, 0.2))
    assert len(x_va) == 0 and x_te[0, 0] == 80
    with pytest.raises(ValueError, match="summing to 1"):
        chronological_split(x, y, (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="too few"):
        chronological_split(x[:3], y[:3], (0.9, 0.05, 0.05))


def test_chronological_split_gap_keeps_targets_apart():
    series = np.arange(60.0)[:, None]  # each value names its row
    x, y = make_windows(series, lookback=4, horizon=3)
    y_tr, y_va = chronological_split(x, y)[1:4:2]
    assert y_tr.max() >= y_va.min()  # without a gap, neighbouring parts share target rows
    x_tr, y_tr, _, y_va, _, y_te = chronological_split(x, y, gap=2)  # gap = horizon - 1
    assert y_tr.max() < y_va.min() and y_va.max() < y_te.min()
    assert x_tr.max() < y_va.min()  # no validation target among the training inputs


def test_persistence_forecast_by_hand():
    x = np.array([[[1, 10], [2, 20], [3, 30]], [[4, 40], [5, 50], [6, 60]]], dtype=float)
    out = persistence_forecast(x, [1], horizon=2)
    np.testing.assert_array_equal(out, [[[30], [30]], [[60], [60]]])
    np.testing.assert_array_equal(persistence_forecast(x, None, 1), [[[3, 30]], [[6, 60]]])
    series = np.arange(20.0).reshape(10, 2)
    xw, yw = make_windows(series, lookback=3, horizon=2, targets=[0])
    assert persistence_forecast(xw, [0], 2).shape == yw.shape


def test_standardizer_round_trip_and_state():
    rng = np.random.default_rng(0)
    train = rng.normal([5.0, -3.0, 0.0], [2.0, 0.5, 1.0], size=(50, 4, 3)).astype(np.float32)
    train[..., 2] = 7.0  # a constant feature keeps scale 1
    s = Standardizer().fit(train)
    z = s.transform(train)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[..., :2].reshape(-1, 2).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[..., :2].reshape(-1, 2).std(0), 1, atol=1e-5)
    np.testing.assert_array_equal(z[..., 2], 0)
    np.testing.assert_allclose(s.inverse_transform(z), train, rtol=1e-6, atol=1e-5)
    state = s.state_dict()
    assert set(state) == {"mean", "std"} and all(type(v) is np.ndarray for v in state.values())
    t = Standardizer.from_state(state)
    np.testing.assert_array_equal(t.transform(train), z)
    sub = s.select([1])
    np.testing.assert_allclose(sub.inverse_transform(z[..., 1:2]), train[..., 1:2], rtol=1e-6)
    with pytest.raises(ValueError, match="features"):
        s.transform(np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(train)


def test_missing_package_names_the_extra(monkeypatch):
    import sys

    from sige_rl.supervised import datasets

    monkeypatch.setitem(sys.modules, "mnist1d.data", None)  # makes the import fail
    datasets._mnist1d.cache_clear()
    with pytest.raises(ImportError, match=r'pip install "sige-rl\[datasets\]"'):
        load_mnist1d(num_samples=20)
    datasets._mnist1d.cache_clear()
