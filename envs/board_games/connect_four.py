"""Connect Four on bitboards (Python ints), the classic layout: column ``c`` holds bits
``7c .. 7c + 5`` from the bottom up and bit ``7c + 6`` stays empty, so that the shifts 1
(vertical), 7 (horizontal), 6 and 8 (the diagonals) never wrap a line from one column into
the next. Action ``c`` (0..6) drops a stone into column ``c``; player 0 moves first."""

from __future__ import annotations

import numpy as np

from sige_rl.envs.board_games.base import BoardState

__all__ = ["COLS", "ROWS", "ConnectFourState"]

ROWS, COLS = 6, 7
_H1 = ROWS + 1  # bits per column, with the sentinel
_BOTTOM = tuple(1 << (_H1 * c) for c in range(COLS))
_TOP = tuple(1 << (_H1 * c + ROWS - 1) for c in range(COLS))
_COLUMNS = tuple(range(COLS))


def _has_line(bits: int) -> bool:
    for shift in (1, 7, 6, 8):
        m = bits & (bits >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


class ConnectFourState(BoardState):
    """A Connect Four position (immutable; ``ConnectFourState()`` is the empty board)."""

    __slots__ = ()

    ROWS, COLS = ROWS, COLS
    NUM_ACTIONS = COLS
    MAX_MOVES = ROWS * COLS
    SYMBOLS = (".", "X", "O")
    # row 0 is the top row, as PettingZoo's connect_four_v3 draws the board
    _CELL_BITS = tuple(
        tuple(1 << (_H1 * c + ROWS - 1 - r) for c in range(COLS)) for r in range(ROWS)
    )

    def legal_actions(self) -> list[int]:
        if self._winner >= 0:
            return []
        mask = self._stones[0] | self._stones[1]
        return [c for c in _COLUMNS if not mask & _TOP[c]]

    def step(self, action: int) -> ConnectFourState:
        c = int(action)
        s0, s1 = self._stones
        mask = s0 | s1
        if self._winner >= 0 or not 0 <= c < COLS or mask & _TOP[c]:
            raise ValueError(f"illegal action {action!r} in\n{self}")
        stone = (mask + _BOTTOM[c]) & ~mask  # the lowest empty cell of column c
        player = self._moves & 1
        if player == 0:
            s0 |= stone
            mine = s0
        else:
            s1 |= stone
            mine = s1
        winner = player if _has_line(mine) else -1
        return ConnectFourState((s0, s1), self._moves + 1, winner)

    _has_line = staticmethod(_has_line)

    @classmethod
    def _check_board(cls, board: np.ndarray) -> None:
        filled = board != 0
        # gravity: below a stone (a larger row index) there is a stone
        if (filled[:-1] & ~filled[1:]).any():
            raise ValueError("a stone floats above an empty cell")

    def __str__(self) -> str:
        return super().__str__() + "\n" + " ".join(str(c) for c in range(COLS))
