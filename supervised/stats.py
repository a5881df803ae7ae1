"""Statistics over runs: the aggregate estimators of Agarwal et al. (2021), "Deep Reinforcement
Learning at the Edge of the Statistical Precipice" (the rliable library), in numpy.

A score matrix holds one row per run (seed) and, optionally, one column per task: shape
``(runs,)`` or ``(runs, tasks)``. The point estimates (:data:`STATISTICS`) are taken over all its
values; :func:`bootstrap_ci` gives their percentile-bootstrap intervals, resampling runs with
replacement within each task (rliable's ``StratifiedBootstrap``); :func:`mean_band` is the
bootstrap band of a mean learning curve.

Every resampling is vectorised: one ``(reps, ...)`` array of indices drawn from a
``numpy.random.Generator`` seeded by ``seed``, so a result depends only on its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Statistic = Callable[..., Any]


SCORE_SHAPES = {1: "(runs,)", 2: "(runs, tasks)"}


def _check(scores: Any, name: str = "scores", shapes: dict[int, str] = SCORE_SHAPES) -> np.ndarray:
    """``scores`` as a float64 array of one of ``shapes`` (number of dimensions -> its
    description), non-empty and finite."""
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim not in shapes:
        raise ValueError(f"{name} must have shape {' or '.join(shapes.values())}, got {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} are empty (shape {x.shape}): there is no run to summarise")
    bad = ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} hold {int(bad.sum())} NaN or infinite value(s), the first at index {where}; "
            "drop the runs without a score before summarising"
        )
    return x


def _reduce(values: np.ndarray, axis: int | None, reduce) -> Any:
    if axis is None:
        return float(reduce(values.ravel(), -1))
    return reduce(np.moveaxis(values, axis, -1), -1)


def mean(scores: Any, axis: int | None = None) -> Any:
    """The mean of all values (``axis=None``, a float) or along ``axis``. For a ``(runs, tasks)``
    matrix with every task run equally often it equals rliable's ``aggregate_mean`` (the mean over
    tasks of each task's mean over runs)."""
    return _reduce(_check(scores), axis, lambda v, ax: v.mean(axis=ax))


def median(scores: Any, axis: int | None = None) -> Any:
    """The median of all values (``axis=None``, a float) or along ``axis``: for ``(runs,)``
    scores, the median over runs. This is not rliable's ``aggregate_median``, which is the
    median over tasks of each task's mean score, and so for a single task the mean over runs."""
    return _reduce(_check(scores), axis, lambda v, ax: np.median(v, axis=ax))


def _trimmed_mean(values: np.ndarray, axis: int) -> np.ndarray:
    # scipy.stats.trim_mean(x, 0.25): int(n / 4) values cut from each end, the rest averaged.
    n = values.shape[axis]
    low = int(0.25 * n)
    high = n - low
    part = np.partition(values, (low, high - 1), axis=axis)
    return np.take(part, np.arange(low, high), axis=axis).mean(axis=axis)


def iqm(scores: Any, axis: int | None = None) -> Any:
    """The interquartile mean: the mean of the values left after ``int(n / 4)`` of the ``n``
    values are cut from each end (the lowest and the highest quarter, rounded down). Of all
    values (``axis=None``, a float) or along ``axis``.

    It is ``scipy.stats.trim_mean(scores, 0.25, axis=None)``, rliable's ``aggregate_iqm``: less
    sensitive to outlying runs than the mean, less noisy than the median."""
    return _reduce(_check(scores), axis, _trimmed_mean)


#: The point estimates by name: each a function of a score array and ``axis`` (as ``np.mean``).
STATISTICS: dict[str, Statistic] = {"mean": mean, "median": median, "iqm": iqm}


def _statistic(statistic: str | Statistic) -> Statistic:
    if isinstance(statistic, str):
        if statistic not in STATISTICS:
            raise ValueError(f"unknown statistic {statistic!r}; allowed: {', '.join(STATISTICS)}")
        return STATISTICS[statistic]
    if not callable(statistic):
        raise ValueError(f"statistic must be a name or a function, got {statistic!r}")
    return statistic


def _check_bootstrap(reps: int, confidence: float) -> None:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _resamples(x: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``(reps, values)``: each row one bootstrap sample of ``x``, its runs drawn with
    replacement, independently for each task column (stratified by task)."""
    runs = x.shape[0]
    if x.ndim == 1:
        return x[rng.integers(0, runs, size=(reps, runs))]
    tasks = x.shape[1]
    rows = rng.integers(0, runs, size=(reps, runs, tasks))
    return x[rows, np.arange(tasks)].reshape(reps, runs * tasks)


def _interval(values: np.ndarray, confidence: float) -> np.ndarray:
    """The percentile interval of bootstrap ``values`` along axis 0: ``(2, ...)``."""
    tail = (1.0 - confidence) / 2.0
    return np.quantile(values, [tail, 1.0 - tail], axis=0)


def bootstrap_ci(
    scores: Any,
    statistic: str | Statistic,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile-bootstrap confidence interval ``(low, high)`` of ``statistic`` over runs.

    Args:
        scores: ``(runs,)`` scores, or ``(runs, tasks)`` whose runs are resampled within each task
            column (the stratified bootstrap of rliable's ``get_interval_estimates``).
        statistic: a name of :data:`STATISTICS`, or a function of an array and ``axis`` (as
            ``np.mean``); it is called once, on a ``(reps, values)`` array of resamples with
            ``axis=1``, and must reduce over all values of each row.
        reps: bootstrap resamples.
        confidence: coverage of the interval; its ends are the ``(1 - confidence) / 2`` and
            ``(1 + confidence) / 2`` quantiles of the statistic over the resamples.
        seed: seed of the generator that draws the resamples.

    Raises:
        ValueError: empty scores, NaN or infinite scores, a bad shape, ``reps`` or
            ``confidence``.
    """
    x = _check(scores)
    fn = _statistic(statistic)
    _check_bootstrap(reps, confidence)
    samples = _resamples(x, reps, np.random.default_rng(seed))
    low, high = _interval(np.asarray(fn(samples, axis=1), dtype=np.float64), confidence)
    return float(low), float(high)


def summarize(
    scores: Any, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean, median and IQM of ``scores`` with their bootstrap intervals.

    Returns ``{"n": runs, "mean": {"value", "low", "high"}, "median": {...}, "iqm": {...}}``;
    the three intervals come from the same resamples (see :func:`bootstrap_ci` for the
    arguments)."""
    x = _check(scores)
    _check_bootstrap(reps, confidence)
    samples = _resamples(x, reps, np.random.default_rng(seed))
    out: dict[str, Any] = {"n": int(x.shape[0])}
    for name, fn in STATISTICS.items():
        low, high = _interval(fn(samples, axis=1), confidence)
        out[name] = {"value": fn(x), "low": float(low), "high": float(high)}
    return out


def mean_band(
    values: Any, confidence: float = 0.95, reps: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean curve of several runs and its pointwise bootstrap band.

    Args:
        values: ``(runs, points)``, one curve per run on shared x values.
        confidence: coverage of the band at each point.
        reps: bootstrap resamples of the runs (whole curves drawn with replacement).
        seed: seed of the generator that draws them.

    Returns:
        ``(mean, low, high)``, each ``(points,)``: the mean over runs and, at each point, the
        percentile interval of the resampled means. With one run, ``low`` and ``high`` are the
        mean: one curve says nothing of the spread.
    """
    x = _check(values, "values", {2: "(runs, points)"})
    _check_bootstrap(reps, confidence)
    runs = x.shape[0]
    centre = x.mean(axis=0)
    if runs == 1:
        return centre, centre.copy(), centre.copy()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, runs, size=(reps, runs))
    # How often each run is drawn in each resample; the resampled means are one product.
    counts = np.bincount(
        (picks + runs * np.arange(reps)[:, None]).ravel(), minlength=reps * runs
    ).reshape(reps, runs)
    means = counts @ x / runs
    low, high = _interval(means, confidence)
    return centre, low, high
