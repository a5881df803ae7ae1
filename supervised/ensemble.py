"""Ensembles: the average of several classifiers' predicted probabilities (soft voting), for
models of one architecture trained from different seeds or of different architectures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def average_probabilities(
    probabilities: Sequence[np.ndarray], weights: Sequence[float] | None = None
) -> np.ndarray:
    """The (weighted) mean of ``probabilities``, each ``(N, classes)``; rows still sum to one."""
    if not probabilities:
        raise ValueError("an ensemble needs at least one member")
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    if stack.ndim != 3:
        raise ValueError(f"each member's probabilities must be (N, classes); got {stack.shape[1:]}")
    if weights is None:
        return stack.mean(0)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(stack),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(stack)} non-negative numbers, not all zero")
    return np.tensordot(w / w.sum(), stack, axes=1)


class Ensemble(nn.Module):
    """Soft voting over classifiers that output logits: ``forward`` returns the members' mean
    softmax probabilities ``(batch, classes)``."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.softmax(m(x).float(), -1) for m in self.members]).mean(0)
