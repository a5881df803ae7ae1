"""Connect Four on bitboards (Python ints), the classic layout: column ``c`` holds bits
``7c .. 7c + 5`` from the bottom up and bit ``7c + 6`` stays empty, so that the shifts 1
(vertical), 7 (horizontal), 6 and 8 (the diagonals) never wrap a line from one column into
the next. Action ``c`` (0..6) drops a stone into column ``c``; player 0 moves first."""

from __future__ import annotations

import random

import numpy as np

from sige_rl.envs.board_games.base import BoardState

__all__ = ["COLS", "ROWS", "ConnectFourState"]

ROWS, COLS = 6, 7
_H1 = ROWS + 1  # bits per column, with the sentinel
_BOTTOM = tuple(1 << (_H1 * c) for c in range(COLS))
_TOP = tuple(1 << (_H1 * c + ROWS - 1) for c in range(COLS))
_COLUMNS = tuple(range(COLS))
_SENTINELS = sum(1 << (_H1 * c + ROWS) for c in range(COLS))  # the empty bit above each column
_BOTTOM_ROW = sum(_BOTTOM)
_COLUMN_BITS = tuple(((1 << ROWS) - 1) << (_H1 * c) for c in range(COLS))
_PLAYABLE = sum(_COLUMN_BITS)  # every cell of the board, no sentinel


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

    def winning_actions(self) -> list[int]:
        """The columns where the player to move completes a line at once, by bitboard
        arithmetic (after Pascal Pons' ``compute_winning_position``): the cells that would
        complete a line, vertically or along a shift of 7, 6 or 8 with the missing stone at any
        of the four places, intersected with each column's lowest empty cell."""
        if self._winner >= 0:
            return []
        mask = self._stones[0] | self._stones[1]
        p = self._stones[self._moves & 1]
        cells = (p << 1) & (p << 2) & (p << 3)  # three below
        for s in (7, 6, 8):
            two = (p << s) & (p << 2 * s)
            cells |= two & (p << 3 * s) | two & (p >> s)
            two = (p >> s) & (p >> 2 * s)
            cells |= two & (p << s) | two & (p >> 3 * s)
        cells &= (mask + _BOTTOM_ROW) & _PLAYABLE  # the lowest empty cell of an open column
        return [c for c in _COLUMNS if cells & _COLUMN_BITS[c]] if cells else []

    def rollout_returns(self, rng: random.Random) -> tuple[float, float]:
        """The returns at the end of uniformly random play from here: the same distribution as
        stepping ``rng``-chosen legal actions to the end, drawn on the raw bitboards without a
        state object per move (the MCTS's rollouts spend most of their time here). Each open
        column keeps the bit of its lowest empty cell; a column closes when that bit reaches
        the sentinel row."""
        if self._winner >= 0 or self._moves == ROWS * COLS:
            return self.returns()
        uniform = rng.random
        mask = self._stones[0] | self._stones[1]
        lowest = [(mask + _BOTTOM[c]) & ~mask for c in _COLUMNS]
        open_cols = [c for c in _COLUMNS if not mask & _TOP[c]]
        player = self._moves & 1
        mine, theirs = self._stones[player], self._stones[1 - player]
        for _ in range(ROWS * COLS - self._moves):
            i = int(uniform() * len(open_cols))
            c = open_cols[i]
            stone = lowest[c]
            mine |= stone
            # _has_line(mine), unrolled: a call per move is a tenth of the playout's time
            m = mine & (mine >> 1)
            if m & (m >> 2):
                break
            m = mine & (mine >> 7)
            if m & (m >> 14):
                break
            m = mine & (mine >> 6)
            if m & (m >> 12):
                break
            m = mine & (mine >> 8)
            if m & (m >> 16):
                break
            stone <<= 1
            if stone & _SENTINELS:  # the column is full: swap-remove it (order is immaterial)
                open_cols[i] = open_cols[-1]
                open_cols.pop()
            else:
                lowest[c] = stone
            mine, theirs, player = theirs, mine, 1 - player
        else:
            return (0.0, 0.0)  # the board filled up without a line
        return (1.0, -1.0) if player == 0 else (-1.0, 1.0)

    _has_line = staticmethod(_has_line)

    @classmethod
    def _check_board(cls, board: np.ndarray) -> None:
        filled = board != 0
        # gravity: below a stone (a larger row index) there is a stone
        if (filled[:-1] & ~filled[1:]).any():
            raise ValueError("a stone floats above an empty cell")

    def __str__(self) -> str:
        return super().__str__() + "\n" + " ".join(str(c) for c in range(COLS))
