"""Self-attention encoders (Vaswani et al. 2017, "Attention Is All You Need") on torch's
``nn.TransformerEncoderLayer``: a sequence encoder for ``(batch, T, F)`` floats and a text
classifier for ``(batch, T)`` token ids. Padding masks are ``True`` at padded positions, and
sequences are taken as right-padded with at least one valid position each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

POOLINGS = ("mean", "last", "cls", "none")


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding of Vaswani et al. 2017 (section 3.5) to ``(batch, T, d_model)``:
    ``pe[pos, 2i] = sin(pos / 10000^(2i / d_model))``, ``pe[pos, 2i + 1] = cos(same)``; then
    dropout. ``pe`` is a buffer (not saved in state dicts: it is a function of the shape)."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        pe = torch.zeros(max_len, d_model, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(pos * freq)
        pe[:, 1::2] = torch.cos(pos * freq)[:, : d_model // 2]
        self.register_buffer("pe", pe.float(), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.max_len = max_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence of {x.shape[1]} steps; this encoding has {self.max_len}")
        return self.dropout(x + self.pe[: x.shape[1]])


def _encoder(d_model: int, nhead: int, layers: int, dim_feedforward: int, dropout: float):
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class TransformerEncoder(nn.Module):
    """A Transformer encoder (Vaswani et al. 2017) over ``(batch, T, F)`` float sequences:
    ``Linear(F, d_model)``, sinusoidal positions, ``layers`` post-norm encoder layers, pooling.

    ``forward(x, padding_mask=None)`` with ``padding_mask`` ``(batch, T)`` bool, ``True`` at padded
    positions (keys there are ignored). Pooling: ``"mean"`` over unpadded positions, ``"last"``
    unpadded position, ``"cls"`` a learned token prepended (Devlin et al. 2019, BERT) -> each
    ``(batch, d_model)``; ``"none"`` -> ``(batch, T, d_model)``. ``causal`` lets position ``t``
    attend to positions ``<= t`` only (not with ``"cls"``, which would then see only itself).

    Args:
        in_shape: ``(T, F)``; ``T`` sizes the positional table unless ``max_len`` is given.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        d_model: int = 64,
        nhead: int = 4,
        layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        causal: bool = False,
        pooling: str = "mean",
        max_len: int | None = None,
    ) -> None:
        super().__init__()
        if len(in_shape) != 2:
            raise ValueError(f"transformer needs a sequence shape (T, F); got {tuple(in_shape)}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; allowed: {', '.join(POOLINGS)}")
        if causal and pooling == "cls":
            raise ValueError("a causal encoder's cls token would see only itself; use 'last'")
        steps, features = (int(s) for s in in_shape)
        self.causal, self.pooling, self.out_dim = causal, pooling, d_model
        self.input = nn.Linear(features, d_model)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02) if pooling == "cls" else None
        extra = 1 if pooling == "cls" else 0
        self.pos = PositionalEncoding(d_model, (max_len or steps) + extra, dropout)
        self.encoder = _encoder(d_model, nhead, layers, dim_feedforward, dropout)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(x)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(len(h), 1, -1).to(h.dtype), h], dim=1)
            if padding_mask is not None:
                padding_mask = F.pad(padding_mask, (1, 0), value=False)
        h = self.pos(h)
        steps = h.shape[1]
        mask = key_mask = None
        if self.causal:  # float masks for both: torch deprecates mixing bool and float
            mask = nn.Transformer.generate_square_subsequent_mask(
                steps, device=h.device, dtype=h.dtype
            )
        if padding_mask is not None:
            padding_mask = padding_mask.to(h.device, torch.bool)
            key_mask = torch.zeros(padding_mask.shape, device=h.device, dtype=h.dtype)
            key_mask = key_mask.masked_fill(padding_mask, float("-inf"))
        h = self.encoder(h, mask=mask, src_key_padding_mask=key_mask, is_causal=self.causal)
        if self.pooling == "none":
            return h
        if self.pooling == "cls":
            return h[:, 0]
        if self.pooling == "last":
            if padding_mask is None:
                return h[:, -1]
            last = (~padding_mask).sum(1) - 1
            return h[torch.arange(len(h), device=h.device), last]
        if padding_mask is None:
            return h.mean(1)
        valid = (~padding_mask).unsqueeze(-1).to(h.dtype)
        return (h * valid).sum(1) / valid.sum(1).clamp(min=1)


class AttentionTextClassifier(nn.Module):
    """Token ids ``(batch, T)`` long -> ``(batch, embed_dim)`` features: ``nn.Embedding`` (scaled by
    sqrt(embed_dim)), sinusoidal positions and ``layers`` self-attention encoder layers (Vaswani
    et al. 2017), then additive attention pooling (Bahdanau et al. 2015; a learned query scoring
    each position as in Yang et al. 2016, "Hierarchical Attention Networks for Document
    Classification"): ``score_t = v . tanh(W h_t + b)``, padded positions at -inf, softmax over
    ``t``, weighted sum of ``h_t``. The weights of the last call are kept in ``last_attention``
    ``(batch, T)``.

    The padding mask is ``tokens == padding_idx`` unless ``forward`` is given one; every sequence
    needs at least one non-padding token.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        max_len: int = 512,
        nhead: int = 4,
        layers: int = 1,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        attention_dim: int | None = None,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"text_classifier needs at least one encoder layer; got {layers}")
        self.padding_idx, self.out_dim = padding_idx, embed_dim
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.pos = PositionalEncoding(embed_dim, max_len, dropout)
        self.encoder = _encoder(embed_dim, nhead, layers, dim_feedforward, dropout)
        attention_dim = attention_dim or embed_dim
        self.score = nn.Sequential(
            nn.Linear(embed_dim, attention_dim), nn.Tanh(), nn.Linear(attention_dim, 1, bias=False)
        )
        self.last_attention: torch.Tensor | None = None

    def forward(
        self, tokens: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if padding_mask is None:
            padding_mask = tokens == self.padding_idx
        h = self.pos(self.embed(tokens) * math.sqrt(self.out_dim))
        h = self.encoder(h, src_key_padding_mask=padding_mask)
        scores = self.score(h).squeeze(-1).float().masked_fill(padding_mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        self.last_attention = weights.detach()
        return (weights.unsqueeze(-1).to(h.dtype) * h).sum(1)
