"""A network's parameters and gradients, each in one contiguous buffer.

Walking a module tree for ``.parameters()`` costs about 100 us, and an optimizer or gradient
clipping that loops over six tensors in Python costs more on CPU than its fused arithmetic. With
every parameter a view of one flat tensor (and every gradient a view of another, laid out the
same way), a target-network update is one copy or lerp and the optimizer sees one tensor. DQN and
PQN both train this way.
"""

from __future__ import annotations

import torch


def views(flat: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """Consecutive views of ``flat`` shaped as the tensors of ``like``."""
    out, offset = [], 0
    for t in like:
        out.append(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()
    return out


def share_one_buffer(params: list[torch.Tensor]) -> torch.Tensor:
    """Move ``params`` into one contiguous buffer (each becomes a view of it); return it."""
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    for p, view in zip(params, views(flat, params), strict=True):
        p.data = view
    return flat


def flat_trainable(module: torch.nn.Module) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``module``'s parameters (a list that never changes: ``load_state_dict`` copies into
    them) moved into one buffer, returned with it; the buffer's ``grad`` is a second buffer
    whose views are the parameters' ``grad``, so backward accumulates into it."""
    params = list(module.parameters())
    flat = share_one_buffer(params)
    flat.grad = torch.zeros_like(flat)
    for p, view in zip(params, views(flat.grad, params), strict=True):
        p.grad = view
    return params, flat
