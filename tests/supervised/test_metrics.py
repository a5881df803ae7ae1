"""supervised.metrics against scikit-learn on random data and a hand-computed 2x2 case."""

import numpy as np
import pytest

from sige_rl.supervised.metrics import (
    accuracy,
    confusion_matrix,
    mae,
    mse,
    sensitivity_specificity,
)

K = 5


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(K, size=500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(K, size=500))
    return y_true, y_pred


def test_accuracy_and_confusion_against_sklearn(labels):
    skm = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = labels
    assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=0)
    c = confusion_matrix(y_true, y_pred, K)
    assert c.dtype == np.int64 and c.shape == (K, K)
    np.testing.assert_array_equal(c, skm.confusion_matrix(y_true, y_pred, labels=range(K)))
    # a class that never occurs still has its row and column
    c = confusion_matrix(y_true[y_true != 2] % 7, y_pred[y_true != 2], K + 2)
    assert c.shape == (K + 2, K + 2) and c[2].sum() == 0 and c[K:].sum() == 0


def test_sensitivity_specificity_against_sklearn(labels):
    skm = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = labels
    sens, spec = sensitivity_specificity(confusion_matrix(y_true, y_pred, K))
    np.testing.assert_allclose(sens, skm.recall_score(y_true, y_pred, average=None), rtol=1e-12)
    for k in range(K):  # specificity: the recall of the negative class, one vs rest
        ref = skm.recall_score(y_true != k, y_pred != k)
        assert spec[k] == pytest.approx(ref, rel=1e-12)


def test_binary_by_hand():
    # 3 true positives, 1 false negative, 2 false positives, 4 true negatives (class 1 positive)
    y_true = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    c = confusion_matrix(y_true, y_pred, 2)
    np.testing.assert_array_equal(c, [[4, 2], [1, 3]])
    sens, spec = sensitivity_specificity(c)
    assert sens[1] == pytest.approx(3 / 4) and spec[1] == pytest.approx(4 / 6)
    assert sens[0] == pytest.approx(4 / 6) and spec[0] == pytest.approx(3 / 4)
    assert accuracy(y_true, y_pred) == pytest.approx(0.7)


def test_undefined_rates_are_nan():
    sens, spec = sensitivity_specificity(np.array([[5, 0], [0, 0]]))
    assert sens[0] == 1 and np.isnan(sens[1]) and np.isnan(spec[0]) and spec[1] == 1


def test_mse_mae_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 3, 2)), rng.normal(size=(40, 3, 2))
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    assert mse(a, b) == pytest.approx(skm.mean_squared_error(flat_a, flat_b), rel=1e-12)
    assert mae(a, b) == pytest.approx(skm.mean_absolute_error(flat_a, flat_b), rel=1e-12)
    assert mse(a, a) == 0 and mae(a.astype(np.float32), a.astype(np.float32)) == 0


def test_errors():
    with pytest.raises(ValueError, match="one shape"):
        accuracy(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="integer class labels"):
        confusion_matrix(np.array([0.5]), np.array([0]), 2)
    with pytest.raises(ValueError, match="square"):
        sensitivity_specificity(np.zeros((2, 3)))
