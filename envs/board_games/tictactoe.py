"""Tic-tac-toe on 9-bit bitboards: action ``a`` (0..8) is the cell at row ``a // 3``, column
``a % 3`` and bit ``a``; a player wins with one of the 8 lines (3 rows, 3 columns, 2
diagonals). Player 0 (X) moves first."""

from __future__ import annotations

from sige_rl.envs.board_games.base import BoardState

__all__ = ["WIN_MASKS", "TicTacToeState"]

_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
WIN_MASKS: tuple[int, ...] = tuple(sum(1 << a for a in line) for line in _LINES)
_FULL = (1 << 9) - 1


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
        winner = player if self._has_line(mine) else -1
        return TicTacToeState((s0, s1), self._moves + 1, winner)

    @staticmethod
    def _has_line(bits: int) -> bool:
        return any(bits & m == m for m in WIN_MASKS)
