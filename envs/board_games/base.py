"""What the two board games share: a two-player, alternating, zero-sum game state on two
bitboards (Python ints), immutable: :meth:`BoardState.step` returns a new state.

The five methods ``legal_actions``, ``step``, ``is_terminal``, ``returns`` and
``current_player`` are the search protocol of issue 13; the rest (``board``, ``clone``,
``__str__``, equality and hashing on the bitboards) is for envs, tests and transposition
tables. Each game also plays a uniformly random game to the end on its raw bitboards,
``rollout_returns(rng)`` (the optional ``FastRollout`` hook of ``agents/search/protocol.py``):
the MCTS's rollouts, three to four times faster than stepping state objects.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoardState"]


class BoardState:
    """A position of a two-player game: ``stones[p]`` is player ``p``'s bitboard.

    Subclasses set ``ROWS``, ``COLS``, ``NUM_ACTIONS``, ``SYMBOLS`` and ``_CELL_BITS`` (the
    bit of each cell, rows x cols, row 0 at the top as PettingZoo draws it) and implement
    ``legal_actions``, ``step`` and ``_has_line``.
    """

    __slots__ = ("_moves", "_stones", "_winner")

    ROWS: int
    COLS: int
    NUM_ACTIONS: int
    MAX_MOVES: int
    _CELL_BITS: tuple[tuple[int, ...], ...]
    SYMBOLS = (".", "X", "O")

    def __init__(self, stones: tuple[int, int] = (0, 0), moves: int = 0, winner: int = -1):
        self._stones = stones
        self._moves = moves
        self._winner = winner  # -1: nobody (yet), else the player with a line

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_CELL_BITS" in cls.__dict__:  # the bit index of each cell, row by row
            cells = [b for row in cls._CELL_BITS for b in row]
            cls._CELL_SHIFTS = np.array([b.bit_length() - 1 for b in cells], dtype=np.uint64)

    # -- the search protocol ----------------------------------------------------------------------
    def legal_actions(self) -> list[int]:
        raise NotImplementedError

    def step(self, action: int) -> BoardState:
        raise NotImplementedError

    def is_terminal(self) -> bool:
        return self._winner >= 0 or self._moves == self.MAX_MOVES

    def returns(self) -> tuple[float, float]:
        """(+1, -1) if player 0 has won, (-1, +1) if player 1 has, zeros otherwise (a draw or a
        game not over)."""
        if self._winner == 0:
            return (1.0, -1.0)
        if self._winner == 1:
            return (-1.0, 1.0)
        return (0.0, 0.0)

    def current_player(self) -> int:
        """The player to move (0 moves first); at the end, the one who would move next."""
        return self._moves & 1

    # -- the rest -------------------------------------------------------------------------------
    @property
    def stones(self) -> tuple[int, int]:
        """The two bitboards (player 0's, player 1's)."""
        return self._stones

    @property
    def num_moves(self) -> int:
        return self._moves

    def winner(self) -> int | None:
        """The player with a line, or None."""
        return self._winner if self._winner >= 0 else None

    def clone(self) -> BoardState:
        """A copy (states are immutable, so ``step`` never needs one; here for the protocol)."""
        return type(self)(self._stones, self._moves, self._winner)

    def legal_mask(self) -> np.ndarray:
        """``NUM_ACTIONS`` int8, 1 where the action is legal."""
        mask = np.zeros(self.NUM_ACTIONS, dtype=np.int8)
        mask[self.legal_actions()] = 1
        return mask

    def board(self) -> np.ndarray:
        """ROWS x COLS int8: 0 empty, 1 player 0's stone, 2 player 1's (row 0 at the top)."""
        s0, s1 = self._stones
        return np.array(
            [[1 if s0 & b else 2 if s1 & b else 0 for b in row] for row in self._CELL_BITS],
            dtype=np.int8,
        )

    def planes(self, player: int) -> np.ndarray:
        """2 x ROWS x COLS uint8: ``player``'s stones, then the other player's."""
        b = self.board()
        return np.stack([b == player + 1, b == 2 - player]).astype(np.uint8)

    @classmethod
    def planes_to_move(cls, states) -> np.ndarray:
        """``len(states) x 2 x ROWS x COLS`` uint8: each state's ``planes`` for its player to
        move, read off the bitboards in one numpy pass (a network evaluating search leaves asks
        for thousands of these a second)."""
        bits = cls._CELL_SHIFTS
        stones = np.array([s._stones for s in states], dtype=np.uint64).reshape(-1, 2)
        second = np.array([s._moves & 1 for s in states], dtype=bool)
        stones[second] = stones[second, ::-1]  # the player to move first
        planes = (stones[:, :, None] >> bits) & np.uint64(1)
        return planes.astype(np.uint8).reshape(len(stones), 2, cls.ROWS, cls.COLS)

    @classmethod
    def from_board(cls, board) -> BoardState:
        """The state with this board (ROWS x COLS of 0/1/2, row 0 at the top); the player to
        move follows from the counts (player 0 moves first). Checks the counts and, where the
        game has one, gravity; the winner is the player with a line (both: ValueError)."""
        b = np.asarray(board)
        if b.shape != (cls.ROWS, cls.COLS) or not np.isin(b, (0, 1, 2)).all():
            raise ValueError(f"expected a {cls.ROWS}x{cls.COLS} board of 0, 1 and 2")
        n0, n1 = int((b == 1).sum()), int((b == 2).sum())
        if n0 - n1 not in (0, 1):
            raise ValueError(f"player 0 has {n0} stones and player 1 {n1}: not a game position")
        s0 = s1 = 0
        for r in range(cls.ROWS):
            for c in range(cls.COLS):
                if b[r, c] == 1:
                    s0 |= cls._CELL_BITS[r][c]
                elif b[r, c] == 2:
                    s1 |= cls._CELL_BITS[r][c]
        cls._check_board(b)
        w0, w1 = cls._has_line(s0), cls._has_line(s1)
        if w0 and w1:
            raise ValueError("both players have a line")
        return cls((s0, s1), n0 + n1, 0 if w0 else 1 if w1 else -1)

    @classmethod
    def _check_board(cls, board: np.ndarray) -> None:
        pass

    @staticmethod
    def _has_line(bits: int) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        b = self.board()
        rows = [" ".join(self.SYMBOLS[v] for v in row) for row in b]
        return "\n".join(rows)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(stones=({self._stones[0]:#x}, {self._stones[1]:#x}))"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._stones == self._stones

    def __hash__(self) -> int:
        return hash(self._stones)
