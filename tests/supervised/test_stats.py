"""Statistics over runs against rliable (Agarwal et al. 2021), scipy and hand-computed cases.

The bootstrap comparisons draw 20,000 resamples on both sides. The percentile interval's ends
are sample quantiles at 2.5% and 97.5%; for a roughly normal bootstrap distribution of standard
deviation s, the standard error of such a quantile from R resamples is
sqrt(0.025 * 0.975 / R) / phi(1.96) * s, about 0.019 s at R = 20,000, and the difference of two
independent estimates about 0.027 s, or 0.7% of the interval's width (3.92 s). The tolerance,
2.5% of the width, is nearly four standard deviations of that difference (the ends measured here
differ by at most 0.5%), while the mistakes it is there to catch move an end further: on the
five-task matrix, resampling all values instead of runs within tasks moves one by 6-18% of the
width, and a 90% interval instead of a 95% one moves one by 3-11% on both matrices.
"""

import numpy as np
import pytest
import scipy.stats

from sige_rl.supervised import stats

REPS = 20_000
TOLERANCE = 0.025  # of the interval's width; see the module's docstring


def rliable_interval(scores, func, confidence=0.95, seed=1):
    library = pytest.importorskip("rliable.library")
    # rliable's StratifiedBootstrap draws from numpy's global generator: seed it, then put back
    # the state other tests may rely on
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        point, interval = library.get_interval_estimates(
            {"x": scores}, func, reps=REPS, confidence_interval_size=confidence
        )
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    return point["x"], interval["x"]


@pytest.fixture(params=[(30, 1), (12, 5)], ids=["one-task", "five-tasks"])
def matrix(request):
    runs, tasks = request.param
    rng = np.random.default_rng(runs * tasks)
    # skewed scores with a task effect, as returns across games are
    return rng.gamma(2.0, 1.0, size=(runs, tasks)) + np.arange(tasks)


def test_point_estimates_equal_rliables(matrix):
    metrics = pytest.importorskip("rliable.metrics")
    assert stats.iqm(matrix) == pytest.approx(metrics.aggregate_iqm(matrix), rel=1e-12)
    assert stats.mean(matrix) == pytest.approx(metrics.aggregate_mean(matrix), rel=1e-12)
    if matrix.shape[1] == 1:  # one column: the same values as a (runs,) vector
        assert stats.iqm(matrix[:, 0]) == pytest.approx(metrics.aggregate_iqm(matrix), rel=1e-12)


@pytest.mark.parametrize("n", range(1, 14))
def test_iqm_is_scipys_quarter_trimmed_mean_for_every_remainder_of_n_by_4(n):
    x = np.random.default_rng(n).normal(size=n) * 10
    assert stats.iqm(x) == pytest.approx(scipy.stats.trim_mean(x, 0.25, axis=None), rel=1e-12)


@pytest.mark.parametrize(
    "name, func",
    [
        ("mean", lambda x: np.array([np.mean(x)])),
        ("median", lambda x: np.array([np.median(x)])),
        ("iqm", lambda x: np.array([scipy.stats.trim_mean(x, 0.25, axis=None)])),
    ],
)
def test_bootstrap_intervals_agree_with_rliables_stratified_bootstrap(matrix, name, func):
    point, (low_ref, high_ref) = rliable_interval(matrix, func)
    low, high = stats.bootstrap_ci(matrix, name, reps=REPS, seed=3)
    width = high_ref[0] - low_ref[0]
    assert width > 0
    assert low == pytest.approx(low_ref[0], abs=TOLERANCE * width)
    assert high == pytest.approx(high_ref[0], abs=TOLERANCE * width)
    summary = stats.summarize(matrix, reps=REPS, seed=3)
    assert summary["n"] == matrix.shape[0]
    assert summary[name]["value"] == pytest.approx(point[0], rel=1e-12)
    assert summary[name]["low"] == pytest.approx(low_ref[0], abs=TOLERANCE * width)
    assert summary[name]["high"] == pytest.approx(high_ref[0], abs=TOLERANCE * width)


def test_a_90_percent_interval_agrees_with_rliables_and_is_narrower():
    scores = np.random.default_rng(5).normal(size=(25, 1))
    _, (low_ref, high_ref) = rliable_interval(scores, lambda x: np.array([np.mean(x)]))
    _, (low90_ref, high90_ref) = rliable_interval(
        scores, lambda x: np.array([np.mean(x)]), confidence=0.9, seed=2
    )
    low90, high90 = stats.bootstrap_ci(scores, "mean", reps=REPS, confidence=0.90)
    width = high90_ref[0] - low90_ref[0]
    assert low90 == pytest.approx(low90_ref[0], abs=TOLERANCE * width)
    assert high90 == pytest.approx(high90_ref[0], abs=TOLERANCE * width)
    assert low_ref[0] < low90 < high90 < high_ref[0]


def test_mean_band_agrees_with_rliables_interval_at_each_point():
    # rliable resamples runs within each column: at one point that is the same distribution of
    # the mean as drawing whole curves, which mean_band does
    curves = np.random.default_rng(7).normal(size=(15, 6)) + np.linspace(0, 3, 6)
    point, (low_ref, high_ref) = rliable_interval(curves, lambda x: x.mean(axis=0))
    mean, low, high = stats.mean_band(curves, reps=REPS, seed=4)
    width = high_ref - low_ref
    np.testing.assert_allclose(mean, point, rtol=1e-12)
    np.testing.assert_array_less(np.abs(low - low_ref), TOLERANCE * width)
    np.testing.assert_array_less(np.abs(high - high_ref), TOLERANCE * width)


def test_hand_computed_iqm_median_and_mean_of_eight_numbers():
    scores = [7, 1, 100, 3, 5, 2, 6, 4]  # sorted: 1 2 | 3 4 5 6 | 7 100
    assert stats.iqm(scores) == 4.5  # (3 + 4 + 5 + 6) / 4
    assert stats.median(scores) == 4.5  # (4 + 5) / 2
    assert stats.mean(scores) == 16.0  # 128 / 8
    assert stats.iqm([1, 2, 3, 4, 50]) == 3.0  # int(5 / 4) = 1 cut from each end: (2 + 3 + 4) / 3
    assert stats.iqm([9.0]) == 9.0
    assert stats.STATISTICS["iqm"](scores) == 4.5


def test_hand_computed_bootstrap_of_two_runs():
    # the mean of two draws from {0, 1} is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the
    # 2.5% and 97.5% quantiles of 2,000 resamples are 0 and 1 unless fewer than 50 of them
    # landed on an end (probability below 1e-100)
    assert stats.bootstrap_ci([0.0, 1.0], "mean") == (0.0, 1.0)
    assert stats.bootstrap_ci([3.0, 3.0, 3.0], "iqm") == (3.0, 3.0)
    mean, low, high = stats.mean_band([[0.0, 2.0, 5.0], [1.0, 2.0, -1.0]])
    np.testing.assert_array_equal(mean, [0.5, 2.0, 2.0])
    np.testing.assert_array_equal(low, [0.0, 2.0, -1.0])
    np.testing.assert_array_equal(high, [1.0, 2.0, 5.0])


def test_one_run_has_no_band_and_a_point_interval():
    mean, low, high = stats.mean_band([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(mean, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(low, mean)
    np.testing.assert_array_equal(high, mean)
    summary = stats.summarize([4.0])
    assert summary["n"] == 1
    assert summary["iqm"] == {"value": 4.0, "low": 4.0, "high": 4.0}


def test_a_seed_fixes_the_interval_and_another_seed_changes_it():
    scores = np.random.default_rng(0).normal(size=20)
    a = stats.bootstrap_ci(scores, "iqm", seed=1)
    assert stats.bootstrap_ci(scores, "iqm", seed=1) == a
    assert stats.bootstrap_ci(scores, "iqm", seed=2) != a
    assert stats.bootstrap_ci(scores, np.mean, seed=1) == stats.bootstrap_ci(scores, "mean", seed=1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stats.iqm([]), "empty"),
        (lambda: stats.mean(np.zeros((0, 3))), "empty"),
        (lambda: stats.summarize([1.0, np.nan, 2.0]), r"NaN or infinite value\(s\), the first at"),
        (lambda: stats.bootstrap_ci([1.0, np.inf], "mean"), "NaN or infinite"),
        (lambda: stats.bootstrap_ci([[[1.0]]], "mean"), r"shape \(runs,\) or \(runs, tasks\)"),
        (lambda: stats.bootstrap_ci([1.0, 2.0], "mode"), "unknown statistic 'mode'"),
        (lambda: stats.bootstrap_ci([1.0, 2.0], "mean", reps=0), "reps must be"),
        (lambda: stats.bootstrap_ci([1.0, 2.0], "mean", confidence=95), "confidence must be"),
        (lambda: stats.mean_band([1.0, 2.0]), r"values must have shape \(runs, points\)"),
        (lambda: stats.mean_band([[1.0, np.nan]]), "NaN"),
    ],
)
def test_bad_input_raises_value_error_saying_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
