"""Classification and regression metrics in numpy: accuracy, the confusion matrix, one-vs-rest
sensitivity and specificity, mean squared and mean absolute error."""

from __future__ import annotations

import numpy as np


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true), np.asarray(y_pred)
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred must have one shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("y_true and y_pred are empty")
    return a, b


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of predictions equal to the labels (any matching shapes)."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(a == b))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` int64 counts: row = true class, column = predicted class.
    Labels are integers in ``[0, n_classes)``."""
    a, b = _pair(y_true, y_pred)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be an integer >= 1, got {n_classes!r}")
    for name, v in (("y_true", a), ("y_pred", b)):
        integral = np.issubdtype(v.dtype, np.integer) or (
            np.issubdtype(v.dtype, np.floating) and np.all(v == np.round(v))
        )
        if not integral:
            raise ValueError(f"{name} must hold integer class labels, got {v.dtype}")
        if v.min() < 0 or v.max() >= n_classes:
            raise ValueError(
                f"{name} holds labels outside [0, {n_classes}): min {v.min()}, max {v.max()}"
            )
    k = int(n_classes)
    flat = a.astype(np.int64).ravel() * k + b.astype(np.int64).ravel()
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def sensitivity_specificity(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest sensitivity (recall, ``TP / (TP + FN)``) and specificity
    (``TN / (TN + FP)``) of each class from a confusion matrix (rows true, columns predicted),
    ``(K,)`` float64 each; NaN where the denominator is 0. For two classes, entry 1 is the
    binary case with class 1 positive."""
    c = np.asarray(confusion)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
        raise ValueError(f"confusion must be a square matrix of >= 2 classes, got {c.shape}")
    if np.any(c < 0):
        raise ValueError("confusion holds negative counts")
    c = c.astype(np.float64)
    tp = np.diag(c)
    fn = c.sum(axis=1) - tp
    fp = c.sum(axis=0) - tp
    tn = c.sum() - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
    return sensitivity, specificity


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error over every element."""
    a, b = _pair(y_true, y_pred)
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over every element."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))
