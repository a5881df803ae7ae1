"""Perfect play by full minimax (negamax) for small two-player zero-sum games, memoised on the
position: the reference player that tic-tac-toe's searches and learners are judged against.

It searches any hashable :class:`~sige_rl.agents.search.protocol.GameState` whose ``returns``
sum to zero; the table grows with the positions reached (5,478 for tic-tac-toe).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

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

    def mistakes(
        self, player: Callable[[GameState], int], start: GameState, seat: int
    ) -> tuple[list[GameState], int]:
        """Judge ``player`` in seat ``seat`` against perfect play that answers with every one of
        its optimal moves in turn (a tree, not a sample of games): the positions where
        ``player`` chose a move that lowers the game's value for it, and how many positions it
        met. ``player`` must be deterministic for the verdict to be one."""
        found: list[GameState] = []
        seen: set = set()

        def walk(state: GameState) -> None:
            if state.is_terminal() or state in seen:
                return
            seen.add(state)
            if state.current_player() == seat:
                move = player(state)
                if -self.value(state.step(move)) < self.value(state):
                    found.append(state)
                walk(state.step(move))
            else:
                for a in self.best_actions(state):
                    walk(state.step(a))

        walk(start)
        return found, len(seen)
