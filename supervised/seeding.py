"""Seeding: one place that seeds every global generator a process uses, and random streams of
one's own that leave the global generators as they were found."""

from __future__ import annotations

import random
from typing import Any

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    For applications (the training job). Library objects should not touch the global
    generators: they hold generators of their own (``np.random.default_rng(seed)``, or
    :class:`GlobalRNGStreams` for code that can only use the global ones).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (code outside our control may use it)
    import torch

    torch.manual_seed(seed)


class GlobalRNGStreams:
    """Private states for the process-wide generators that some code can only draw from: torch's
    CPU generator (network initialisation, dropout) and, with ``python_and_numpy=True``,
    Python's ``random`` and NumPy's legacy global generator (Stable-Baselines3).

    ``with streams:`` swaps these states in; on exit it keeps what the globals hold then (what
    the code inside drew up to, or how a library inside seeded them) and puts the caller's states
    back, so the caller's generators are never reseeded or advanced. ``state_dict`` /
    ``load_state_dict`` make the streams part of a checkpoint.
    """

    def __init__(self, seed: int, python_and_numpy: bool = False):
        import torch

        self.torch = torch.Generator().manual_seed(int(seed)).get_state()
        self.python: Any = None
        self.numpy: Any = None
        if python_and_numpy:
            self.python = random.Random(seed).getstate()
            self.numpy = np.random.RandomState(seed % 2**32).get_state(legacy=False)  # noqa: NPY002
        self._saved: list[tuple[Any, Any, Any]] = []

    def __enter__(self) -> GlobalRNGStreams:
        import torch

        self._saved.append(self._read())
        torch.set_rng_state(self.torch)
        if self.python is not None:
            random.setstate(self.python)
            np.random.set_state(self.numpy)  # noqa: NPY002
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        self.torch, python, numpy = self._read()
        if self.python is not None:
            self.python, self.numpy = python, numpy
        saved_torch, saved_python, saved_numpy = self._saved.pop()
        torch.set_rng_state(saved_torch)
        random.setstate(saved_python)
        np.random.set_state(saved_numpy)  # noqa: NPY002

    @staticmethod
    def _read() -> tuple[Any, Any, Any]:
        import torch

        return torch.get_rng_state(), random.getstate(), np.random.get_state(legacy=False)  # noqa: NPY002

    def state_dict(self) -> dict[str, Any]:
        """The torch stream as a tensor (Python's and NumPy's are not saved: only
        Stable-Baselines3 uses them, and it cannot resume exactly anyway)."""
        return {"torch": self.torch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.torch = state["torch"]
