"""One place that seeds every random number generator a run touches."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Components that draw their own randomness should still hold a generator built from the seed
    (``np.random.default_rng(seed)``) so that their state can be checkpointed.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (code outside our control may use it)
    import torch

    torch.manual_seed(seed)
