"""Transfer learning: freeze and unfreeze layers by name or by depth, use a trained network as a
fixed feature extractor, and give it a new head.

A *layer* here is a module that owns parameters directly (a ``Linear``, a ``Conv2d``, a
``BatchNorm2d``, an ``LSTM`` ...), listed in the order the network registers them, which for the
networks of this package is input to output (:func:`layers`). Freezing sets ``requires_grad`` to
False, so optimizers built afterwards skip those parameters and their values stay bit for bit;
a frozen batch-norm layer also keeps its running statistics and normalises with them (Keras runs
a non-trainable ``BatchNormalization`` in inference mode, for the same reason): :func:`train_mode`
puts a network into training mode except for those layers.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

FROZEN = "_sige_frozen"


def layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every module that owns parameters itself, input first."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if any(True for _ in m.parameters(recurse=False))
    ]


def _select(
    model: nn.Module, names: Iterable[str] | str | None, depth: int | None, from_top: bool
) -> list[tuple[str, nn.Module]]:
    all_layers = layers(model)
    if (names is None) == (depth is None):
        raise ValueError("give either names (layer-name prefixes) or depth (a count of layers)")
    if depth is not None:
        if not 0 <= depth <= len(all_layers):
            raise ValueError(f"depth must be in [0, {len(all_layers)}] for this network")
        return all_layers[len(all_layers) - depth :] if from_top else all_layers[:depth]
    prefixes = [names] if isinstance(names, str) else list(names)
    chosen = [
        (n, m)
        for n, m in all_layers
        if any(n == p or n.startswith(p + ".") or p == "" for p in prefixes)
    ]
    unknown = [p for p in prefixes if not any(n == p or n.startswith(p + ".") for n, _ in chosen)]
    if unknown and "" not in prefixes:
        listing = ", ".join(n for n, _ in all_layers)
        raise ValueError(f"no layer named {', '.join(map(repr, unknown))}; layers: {listing}")
    return chosen


def freeze(
    model: nn.Module, names: Iterable[str] | str | None = None, depth: int | None = None
) -> list[str]:
    """Freeze the layers whose names are or start with ``names`` (``"body"`` freezes everything
    under ``model.body``), or the first ``depth`` layers from the input. Returns their names."""
    chosen = _select(model, names, depth, from_top=False)
    for _, m in chosen:
        _set(m, frozen=True)
    return [n for n, _ in chosen]


def unfreeze(
    model: nn.Module, names: Iterable[str] | str | None = None, depth: int | None = None
) -> list[str]:
    """Make layers trainable again: by name, or the last ``depth`` layers (the ones nearest the
    output, which fine-tuning opens first). Returns their names. Build a new optimizer after
    this, so it includes the newly trainable parameters."""
    chosen = _select(model, names, depth, from_top=True)
    for _, m in chosen:
        _set(m, frozen=False)
    return [n for n, _ in chosen]


def _set(m: nn.Module, frozen: bool) -> None:
    for p in m.parameters(recurse=False):
        p.requires_grad_(not frozen)
    setattr(m, FROZEN, frozen)
    if isinstance(m, nn.modules.batchnorm._BatchNorm) and frozen:
        m.eval()


def frozen_layers(model: nn.Module) -> list[str]:
    return [n for n, m in layers(model) if getattr(m, FROZEN, False)]


def train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, but frozen batch-norm layers stay in eval mode (running statistics
    used and kept)."""
    model.train()
    for m in model.modules():
        if getattr(m, FROZEN, False) and isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


def replace_head(model: nn.Module, out_dim: int) -> nn.Module:
    """A new, trainable output layer of ``out_dim`` units in place of the old one: the ``head``
    of a :class:`~sige_rl.supervised.backbones.Network` (from ``body.out_dim``), else the last
    ``nn.Linear`` of the network. Returns the new layer."""
    if out_dim < 1:
        raise ValueError(f"out_dim must be >= 1, got {out_dim}")
    if hasattr(model, "head") and hasattr(model, "body") and hasattr(model.body, "out_dim"):
        ref = next(model.parameters())
        model.head = nn.Linear(model.body.out_dim, out_dim).to(ref.device)
        model.out_dim = out_dim
        return model.head
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the network has no head to replace: no 'head' and no nn.Linear")
    name, old = linears[-1]
    new = nn.Linear(old.in_features, out_dim).to(old.weight.device)
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], new)
    return new


class FeatureExtractor(nn.Module):
    """A trained network's body, frozen and in eval mode: features for a new model or for a
    classical classifier. ``forward`` runs without gradients."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.body = model.body if hasattr(model, "body") else model
        self.out_dim = getattr(self.body, "out_dim", None)
        freeze(self.body, names="")
        self.body.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, **kw) -> torch.Tensor:
        return self.body(x, **kw)
