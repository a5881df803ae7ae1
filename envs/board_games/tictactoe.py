"""Tic-tac-toe on 9-bit bitboards: action ``a`` (0..8) is the cell at row ``a // 3``, column
``a % 3`` and bit ``a``; a player wins with one of the 8 lines (3 rows, 3 columns, 2
diagonals). Player 0 (X) moves first."""

from __future__ import annotations

import random

from sige_rl.envs.board_games.base import BoardState

__all__ = ["WIN_MASKS", "TicTacToeState"]

_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
WIN_MASKS: tuple[int, ...] = tuple(sum(1 << a for a in line) for line in _LINES)
_FULL = (1 << 9) - 1
# the lines through each cell: after a move only these can have been completed
_LINES_THROUGH: tuple[tuple[int, ...], ...] = tuple(
    tuple(m for m in WIN_MASKS if m >> a & 1) for a in range(9)
)


class TicTacToeState(BoardState):
    """A tic-tac-toe position (immutable; ``TicTacToeState()`` is the empty board)."""

    __slots__ = ()

    ROWS = COLS = 3
    NUM_ACTIONS = MAX_MOVES = 9
    _CELL_BITS = tuple(tuple(1 << (3 * r + c) for c in range(3)) for r in range(3))

    def legal_actions(self) -> list[int]:
        if self._winner >= 0:
            return []
        occupied = self._stones[0] | self._stones[1]
        return [a for a in range(9) if not occupied >> a & 1]

    def step(self, action: int) -> TicTacToeState:
        a = int(action)
        s0, s1 = self._stones
        if self._winner >= 0 or not 0 <= a < 9 or (s0 | s1) >> a & 1:
            raise ValueError(f"illegal action {action!r} in\n{self}")
        player = self._moves & 1
        if player == 0:
            s0 |= 1 << a
            mine = s0
        else:
            s1 |= 1 << a
            mine = s1
        winner = -1
        for m in _LINES_THROUGH[a]:  # only the lines through the new stone can be new
            if mine & m == m:
                winner = player
                break
        return TicTacToeState((s0, s1), self._moves + 1, winner)

    def winning_actions(self) -> list[int]:
        """The empty cells that complete a line of the player to move at once."""
        if self._winner >= 0:
            return []
        s0, s1 = self._stones
        mine = s1 if self._moves & 1 else s0
        empty = ~(s0 | s1) & _FULL
        wins = 0
        for m in WIN_MASKS:
            rest = m & ~mine
            if rest & empty and not rest & (rest - 1):  # one cell missing, and it is empty
                wins |= rest
        return [a for a in range(9) if wins >> a & 1]

    def rollout_returns(self, rng: random.Random) -> tuple[float, float]:
        """The returns at the end of uniformly random play from here: the same distribution as
        stepping ``rng``-chosen legal actions to the end, drawn on the raw bitboards without a
        state object per move (the MCTS's rollouts spend most of their time here)."""
        if self._winner >= 0 or self._moves == 9:
            return self.returns()
        uniform = rng.random
        occupied = self._stones[0] | self._stones[1]
        empty = [a for a in range(9) if not occupied >> a & 1]
        player = self._moves & 1
        mine, theirs = self._stones[player], self._stones[1 - player]
        while empty:
            i = int(uniform() * len(empty))  # the order of ``empty`` is immaterial: swap-remove
            a = empty[i]
            empty[i] = empty[-1]
            empty.pop()
            mine |= 1 << a
            for m in _LINES_THROUGH[a]:
                if mine & m == m:
                    return (1.0, -1.0) if player == 0 else (-1.0, 1.0)
            mine, theirs, player = theirs, mine, 1 - player
        return (0.0, 0.0)

    @staticmethod
    def _has_line(bits: int) -> bool:
        return any(bits & m == m for m in WIN_MASKS)
