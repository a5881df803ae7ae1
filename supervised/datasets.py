"""Offline datasets and forecasting helpers: numpy in, numpy out, nothing downloaded.

Classification: scikit-learn's 8x8 digits (shipped with the package) and MNIST-1D generated
locally with the ``mnist1d`` package (both from the ``datasets`` extra). Forecasting: sliding
windows over a ``(T, F)`` series, a chronological split, the persistence baseline and a
per-feature standardizer.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

_EXTRA_HINT = 'install the datasets extra: pip install "sige-rl[datasets]"'


def _require(module: str) -> Any:
    """Import ``module`` or raise ``ImportError`` naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module} is needed for this dataset; {_EXTRA_HINT}") from e


# -- classification ---------------------------------------------------------------------------


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, shipped with sklearn).

    Returns ``x`` float32 ``(1797, 1, 8, 8)`` scaled from 0..16 to [0, 1] and ``y`` int64
    ``(1797,)``."""
    x, y = _digits()
    return x.copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    datasets = _require("sklearn.datasets")
    bunch = datasets.load_digits()
    x = (np.asarray(bunch.images, dtype=np.float64) / 16.0).astype(np.float32)[:, None]
    return x, np.asarray(bunch.target, dtype=np.int64)


def stratified_split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(x, y)`` into ``(x_a, y_a, x_b, y_b)`` keeping the class proportions of ``y``;
    part b holds ``test_fraction`` of the samples (sklearn's ``train_test_split`` with
    ``stratify=y, random_state=seed``: the same seed gives the same split)."""
    if not (isinstance(test_fraction, (int, float)) and 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer (the split must be reproducible), got {seed!r}")
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"y must be 1-D labels, one per row of x: got x {x.shape}, y {y.shape}")
    model_selection = _require("sklearn.model_selection")
    x_a, x_b, y_a, y_b = model_selection.train_test_split(
        x, y, test_size=float(test_fraction), stratify=y, random_state=int(seed)
    )
    return x_a, y_a, x_b, y_b


def load_mnist1d(
    num_samples: int = 5000, train_split: float = 0.8, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-1D generated locally (``mnist1d.data.make_dataset`` with ``get_dataset_args()``,
    ``num_samples``, ``train_split`` and ``seed`` overridden; never downloaded).

    Returns ``(x_train, y_train, x_test, y_test)``: ``x`` float32 ``(N, 40)``, ``y`` int64
    ``(N,)``; the defaults give 4,000 training and 1,000 test signals. ``make_dataset`` seeds
    Python's and NumPy's global generators: their states are saved before and restored after,
    so the caller's generators are untouched. The result is cached per arguments (copies are
    returned)."""
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 10:
        raise ValueError(f"num_samples must be an integer >= 10 (10 classes), got {num_samples!r}")
    if not (isinstance(train_split, (int, float)) and 0.0 < train_split < 1.0):
        raise ValueError(f"train_split must be a number in (0, 1), got {train_split!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    arrays = _mnist1d(int(num_samples), float(train_split), int(seed))
    return tuple(a.copy() for a in arrays)  # type: ignore[return-value]


@functools.lru_cache(maxsize=4)
def _mnist1d(
    num_samples: int, train_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = _require("mnist1d.data")
    args = data.get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    python_state = random.getstate()
    numpy_state = np.random.get_state()  # noqa: NPY002  (mnist1d draws from the global one)
    try:
        d = data.make_dataset(args)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
    x, y = np.asarray(d["x"], np.float32), np.asarray(d["y"], np.int64)
    x_test, y_test = np.asarray(d["x_test"], np.float32), np.asarray(d["y_test"], np.int64)
    return x, y, x_test, y_test


# -- forecasting ------------------------------------------------------------------------------


def _columns(columns: int | Sequence[int] | None, n_features: int, name: str) -> list[int]:
    """Validated column indices (``None``: all ``n_features``)."""
    if columns is None:
        return list(range(n_features))
    if isinstance(columns, (int, np.integer)):
        columns = [columns]
    out = []
    for c in columns:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise ValueError(f"{name} must hold integer column indices, got {c!r}")
        if not -n_features <= c < n_features:
            raise ValueError(f"{name} index {c} out of range for {n_features} feature column(s)")
        out.append(int(c) % n_features)
    if not out:
        raise ValueError(f"{name} must name at least one column")
    return out


def make_windows(
    series: np.ndarray,
    lookback: int,
    horizon: int = 1,
    targets: int | Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over ``series`` ``(T, F)``: ``x`` ``(N, lookback, F)`` holds rows
    ``i .. i+lookback-1`` and ``y`` ``(N, horizon, len(targets))`` the next ``horizon`` rows
    of the ``targets`` columns (all by default), ``N = T - lookback - horizon + 1``, in time
    order. Integer series become float64; a float series keeps its dtype."""
    a = np.asarray(series)
    if a.ndim != 2:
        raise ValueError(
            f"series must be 2-D (time, features), got shape {a.shape}; "
            "use series.reshape(-1, 1) for a single feature"
        )
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    for name, v in (("lookback", lookback), ("horizon", horizon)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    cols = _columns(targets, a.shape[1], "targets")
    n = len(a) - lookback - horizon + 1
    if n < 1:
        raise ValueError(
            f"the series has {len(a)} rows, too few for one window of lookback {lookback} "
            f"and horizon {horizon} (needs {lookback + horizon})"
        )
    view = np.lib.stride_tricks.sliding_window_view(a, lookback + horizon, axis=0)
    view = np.moveaxis(view, -1, 1)  # (N, lookback + horizon, F)
    x = np.ascontiguousarray(view[:, :lookback])
    y = np.ascontiguousarray(view[:, lookback:][:, :, cols])
    return x, y


def chronological_split(
    x: np.ndarray,
    y: np.ndarray,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    gap: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split windows in time order into ``(x_train, y_train, x_val, y_val, x_test, y_test)``:
    the first ``fractions[0]`` of the rows, then the next ``fractions[1]``, then the rest; no
    shuffling. ``gap`` windows are dropped after the training and after the validation part:
    with windows from :func:`make_windows`, ``gap = horizon - 1`` keeps every series row a
    target of one part only (with ``horizon = 1`` no gap is needed)."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have as many rows, got {len(x)} and {len(y)}")
    f = [float(v) for v in fractions]
    if len(f) != 3 or min(f) < 0 or f[0] <= 0 or abs(sum(f) - 1.0) > 1e-9:
        raise ValueError(
            f"fractions must be three numbers >= 0 (train > 0) summing to 1, got {fractions!r}"
        )
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ValueError(f"gap must be an integer >= 0, got {gap!r}")
    usable = len(x) - gap * ((f[1] > 0) + (f[2] > 0))
    n_train = round(f[0] * usable)
    n_val = round((f[0] + f[1]) * usable) - n_train
    n_test = usable - n_train - n_val
    for name, frac, n in (("train", f[0], n_train), ("val", f[1], n_val), ("test", f[2], n_test)):
        if frac > 0 and n < 1:
            raise ValueError(
                f"{len(x)} windows are too few for a {name} part of fraction {frac} (gap {gap})"
            )
    val_start = n_train + (gap if f[1] > 0 else 0)
    test_start = val_start + n_val + (gap if f[2] > 0 else 0)
    return (
        x[:n_train],
        y[:n_train],
        x[val_start : val_start + n_val],
        y[val_start : val_start + n_val],
        x[test_start:],
        y[test_start:],
    )


def persistence_forecast(
    x: np.ndarray, target_columns: int | Sequence[int] | None, horizon: int
) -> np.ndarray:
    """The naive baseline: the last observed value of each target column, repeated over the
    horizon. ``x`` ``(N, lookback, F)`` -> ``(N, horizon, len(target_columns))``, shaped like
    :func:`make_windows`' ``y`` (``None``: every column)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] < 1:
        raise ValueError(f"x must be windows (N, lookback, features), got shape {x.shape}")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    cols = _columns(target_columns, x.shape[2], "target_columns")
    last = x[:, -1:, cols]
    return np.repeat(last, horizon, axis=1)


class Standardizer:
    """Per-feature standardization: the mean and standard deviation of each feature (the last
    axis) over every other axis of the data it is fitted on (the training part). A feature
    with zero spread keeps a scale of 1. The state is two float64 arrays ``(F,)``."""

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Standardizer:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim < 1 or a.size == 0:
            raise ValueError(f"fit needs a non-empty array (..., features), got shape {a.shape}")
        flat = a.reshape(-1, a.shape[-1])
        if not np.all(np.isfinite(flat)):
            raise ValueError("fit got non-finite values")
        self.mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        self.std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(self.mean)), std, 1.0)
        return self

    def _check(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise RuntimeError("call fit() (or Standardizer.from_state) before transforming")
        a = np.asarray(x)
        if a.ndim < 1 or a.shape[-1] != len(self.mean):
            raise ValueError(
                f"expected {len(self.mean)} features on the last axis, got shape {a.shape}"
            )
        return a

    def _dtype(self, a: np.ndarray) -> Any:
        return a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std``, in ``x``'s float dtype (float64 for integers)."""
        a = self._check(x)
        return ((a - self.mean) / self.std).astype(self._dtype(a))

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """``z * std + mean``, in ``z``'s float dtype."""
        a = self._check(z)
        return (a * self.std + self.mean).astype(self._dtype(a))

    def select(self, columns: int | Sequence[int]) -> Standardizer:
        """A standardizer of some features only (to undo the scaling of forecast targets)."""
        if self.mean is None or self.std is None:
            raise RuntimeError("call fit() before select()")
        cols = _columns(columns, len(self.mean), "columns")
        return Standardizer.from_state({"mean": self.mean[cols], "std": self.std[cols]})

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.mean is None or self.std is None:
            raise RuntimeError("call fit() before state_dict()")
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Standardizer:
        mean = np.asarray(state["mean"], dtype=np.float64)
        std = np.asarray(state["std"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ValueError(
                f"mean and std must be 1-D of one length, got {mean.shape}, {std.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(std > 0) and np.all(np.isfinite(std))):
            raise ValueError("mean must be finite and std finite and positive")
        s = cls()
        s.mean, s.std = mean.copy(), std.copy()
        return s
