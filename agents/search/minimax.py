"""Perfect play by full minimax (negamax) for small two-player zero-sum games, memoised on the
position: the reference player that tic-tac-toe's searches and learners are judged against.

It searches any hashable :class:`~sige_rl.agents.search.protocol.GameState` whose ``returns``
sum to zero; the table grows with the positions reached (5,478 for tic-tac-toe).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from sige_rl.agents.search.protocol import GameState


class Minimax:
    """``value(state)``: the game's value for the player to move under perfect play;
    ``best_actions(state)``: every move that keeps it; ``__call__`` plays one of them, chosen
    at random (seeded) so that perfect play still varies from game to game."""

    def __init__(self, seed: int = 0):
        self.table: dict[Hashable, float] = {}
        self.rng = np.random.default_rng(seed)

    def value(self, state: GameState) -> float:
        if state in self.table:
            return self.table[state]
        if state.is_terminal():
            v = float(state.returns()[state.current_player()])
        else:
            v = max(-self.value(state.step(a)) for a in state.legal_actions())
        self.table[state] = v
        return v

    def best_actions(self, state: GameState) -> list[int]:
        values = {a: -self.value(state.step(a)) for a in state.legal_actions()}
        best = max(values.values())
        return [a for a, v in values.items() if v == best]

    def __call__(self, state: GameState) -> int:
        best = self.best_actions(state)
        return best[int(self.rng.integers(len(best)))]
