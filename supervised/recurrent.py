"""Recurrent sequence encoders: LSTM (Hochreiter & Schmidhuber 1997) and GRU (Cho et al. 2014)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RNNS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU}


class SequenceModel(nn.Module):
    """An LSTM or GRU over batch-first sequences ``(batch, T, F)``.

    Many-to-one (default) returns ``(batch, out_dim)``: the top layer's state after the last
    *valid* step of each sequence (``lengths`` given) or after step ``T``; for a bidirectional
    network the backward direction's state after reading the sequence back to its first step is
    concatenated (forward first). Many-to-many returns ``(batch, T, out_dim)``, zeros past each
    sequence's length. ``out_dim = hidden * (2 if bidirectional else 1)``. Sequences are taken as
    right-padded; ``lengths`` go through ``pack_padded_sequence``, so padding never reaches the
    state. A ``(batch, T)`` input is read as ``(batch, T, 1)`` when ``F`` is 1.

    Args:
        in_shape: ``(T, F)`` (``T`` is not needed: any length is accepted) or the int ``F``.
        kind: ``"lstm"`` or ``"gru"``.
        hidden: state size per direction.
        layers: stacked recurrent layers.
        dropout: between stacked layers (Zaremba et al. 2014); ignored with one layer.
        bidirectional: also read each sequence backwards (Schuster & Paliwal 1997).
        many_to_many: return every step's output instead of the final state.
    """

    def __init__(
        self,
        in_shape: int | Sequence[int],
        kind: str = "lstm",
        hidden: int = 64,
        layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        many_to_many: bool = False,
    ) -> None:
        super().__init__()
        if kind not in RNNS:
            raise ValueError(f"unknown recurrent kind {kind!r}; allowed: {', '.join(RNNS)}")
        if isinstance(in_shape, int):
            features = in_shape
        elif len(in_shape) == 2:
            features = int(in_shape[1])
        else:
            raise ValueError(f"{kind} needs a sequence shape (T, F); got {tuple(in_shape)}")
        self.kind, self.in_features, self.many_to_many = kind, features, many_to_many
        self.directions = 2 if bidirectional else 1
        self.rnn = RNNS[kind](
            features,
            hidden,
            num_layers=layers,
            dropout=dropout if layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.out_dim = hidden * self.directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(batch, T, F)``; ``lengths`` ``(batch,)`` valid steps of each, 1 to ``T``."""
        if x.dim() == 2 and self.in_features == 1:
            x = x.unsqueeze(-1)
        steps = x.shape[1]
        if lengths is not None:
            lengths = torch.as_tensor(lengths).to("cpu", torch.int64)
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(x)
        if self.many_to_many:
            if lengths is not None:
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
            return out
        h = state[0] if self.kind == "lstm" else state  # (layers * directions, batch, hidden)
        return h[-self.directions :].transpose(0, 1).reshape(h.shape[1], self.out_dim)
