"""Fully connected networks: ``MLP`` and the activations and norms it can use by name."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}
NORMS = (None, "layer", "batch")


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name; ``ValueError`` listing the allowed names otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class MLP(nn.Module):
    """Fully connected layers: ``Linear -> [norm] -> activation -> [dropout]`` per hidden size.

    ``(batch, in_dim)`` floats in, ``(batch, out_dim)`` out.

    Args:
        in_dim: size of the flat float input.
        hidden: width of each hidden layer; ``out_dim`` is the last one (``in_dim`` if empty).
        activation: one of ``ACTIVATIONS``.
        norm: ``None``, ``"layer"`` (Ba et al. 2016) or ``"batch"`` (Ioffe & Szegedy 2015).
        dropout: drop probability after each activation (Srivastava et al. 2014); off in eval().
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; allowed: None, 'layer', 'batch'")
        layers: list[nn.Module] = []
        for width in hidden:
            layers.append(nn.Linear(in_dim, width))
            if norm == "layer":
                layers.append(nn.LayerNorm(width))
            elif norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_dim = width
        self.net = nn.Sequential(*layers)
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
