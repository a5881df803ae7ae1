"""Perfect Connect Four play near the end of the game: a bitboard alpha-beta solver in the manner
of Pascal Pons' tutorial (http://blog.gamesolver.org/solving-connect-four/), Connect Four's
reference player as :class:`~sige_rl.agents.search.minimax.Minimax` is tic-tac-toe's.

Generic minimax cannot go far on Connect Four: it copies a state object per node and searches
every move. This solver works on two Python ints and cuts the tree with what the game allows:

- the position is (``cur``: the stones of the player to move, ``mask``: every stone) in the
  layout of ``envs/board_games/connect_four.py`` (column ``c`` on bits ``7c .. 7c + 5``, bit
  ``7c + 6`` empty), which is Pons' layout, so ``cur + mask`` is a unique key of the position;
- a move that wins at once ends the search at its root; inside the tree no node is entered where
  the player to move can win at once, because the parent only plays *non-losing* moves: it
  blocks the opponent's single winning cell (two of them: lost), and never fills the cell below
  one of the opponent's winning cells;
- moves are tried by the number of winning cells they leave their player (threats first), ties
  going to the centre columns, so that cut-offs come early;
- a transposition table keeps, per key, the best upper and lower bounds found so far;
- the exact score comes from null-window searches (``[s, s + 1]``: is the score above ``s``?)
  that narrow ``[min, max]``, a binary search on the score that settles its sign first.

Scores follow Pons' definition, so that they can be checked against his published test sets:
for the player to move, ``22 - k`` if they win with their ``k``-th stone, ``k - 22`` if the
opponent wins with their ``k``-th stone, 0 for a draw (sooner wins score higher). ``value`` is
its sign, found by a cheaper search with the window ``[-1, 1]``.

The search is pure Python, so its time grows fast with the empty cells left (BENCHMARKS.md:
a few milliseconds at 12, a fraction of a second at 20, seconds near 30): ``max_empty`` refuses
positions beyond a bound so that nobody waits on the opening by accident.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ConnectFourSolver"]

_WIDTH, _HEIGHT = 7, 6
_CELLS = _WIDTH * _HEIGHT
_BOTTOM = sum(1 << (7 * c) for c in range(_WIDTH))  # the bottom cell of every column
_BOARD = _BOTTOM * ((1 << _HEIGHT) - 1)  # every cell (no sentinel bits)
# the centre first: central moves take part in more lines, so they are more often the best
_ORDER = (3, 2, 4, 1, 5, 0, 6)
_COLUMN_BITS = tuple(((1 << _HEIGHT) - 1) << (7 * c) for c in range(_WIDTH))
# (rank, bits of column c) in the order of _ORDER: a higher rank wins ties between move scores
_COLUMNS = tuple((_WIDTH - i, _COLUMN_BITS[c]) for i, c in enumerate(_ORDER))


def _winning_cells(p: int, mask: int) -> int:
    """The empty cells that would complete a line of four for the stones ``p``.

    For each direction (shift 1 up a column, 7 along a row, 6 and 8 along the diagonals) a cell
    wins when three stones follow it, precede it, or surround it 2 + 1 or 1 + 2. The empty
    sentinel row keeps lines from wrapping from one column into the next; bits shifted past the
    board are dropped by the final mask.
    """
    r = (p << 1) & (p << 2) & (p << 3)  # vertical: only three stones below
    for s in (7, 6, 8):
        pair = (p << s) & (p << (2 * s))  # two stones before the cell
        r |= pair & (p << (3 * s))
        r |= pair & (p >> s)
        pair = (p >> s) & (p >> (2 * s))  # two stones after it
        r |= pair & (p << s)
        r |= pair & (p >> (3 * s))
    return r & (_BOARD ^ mask)


def _negamax(
    cur: int,
    mask: int,
    moves: int,
    alpha: int,
    beta: int,
    upper: dict[int, int],
    lower: dict[int, int],
) -> int:
    """The score of a position where the player to move cannot win at once, within
    ``alpha < beta``: exact if it lies inside the window, else a bound on the same side of it
    (a fail-soft alpha-beta search). ``upper`` and ``lower`` map keys to known bounds."""
    possible = (mask + _BOTTOM) & _BOARD
    threats = _winning_cells(cur ^ mask, mask)  # the opponent's winning cells
    forced = possible & threats
    if forced:
        if forced & (forced - 1):  # two cells to block at once: lost on the next move
            return -((_CELLS - moves) // 2)
        possible = forced
    possible &= ~(threats >> 1)  # never give the opponent the cell above
    if not possible:
        return -((_CELLS - moves) // 2)
    if moves >= _CELLS - 2:
        # at most two cells left: we cannot win with the first (no win in one here) and the
        # opponent cannot with the last (we never hand it over): a draw
        return 0

    # bounds from the board: the opponent cannot win with their next stone, nor we with ours
    low = -((_CELLS - 2 - moves) // 2)
    high = (_CELLS - 1 - moves) // 2
    key = cur + mask
    known = lower.get(key)
    if known is not None and known > low:
        low = known
    known = upper.get(key)
    if known is not None and known < high:
        high = known
    if alpha < low:
        alpha = low
        if alpha >= beta:
            return alpha
    if beta > high:
        beta = high
        if alpha >= beta:
            return beta

    children = []
    for rank, column in _COLUMNS:
        move = possible & column
        if move:
            children.append((_winning_cells(cur | move, mask).bit_count(), rank, move))
    if len(children) > 1:
        children.sort(reverse=True)

    opponent = cur ^ mask  # the player to move next
    for _, _, move in children:
        score = -_negamax(opponent, mask | move, moves + 1, -beta, -alpha, upper, lower)
        if score >= beta:
            lower[key] = score
            return score
        if score > alpha:
            alpha = score
    upper[key] = alpha
    return alpha


class ConnectFourSolver:
    """``value(state)``: the game's value (+1, 0, -1) for the player to move under perfect
    play; ``score(state)``: Pons' exact score (how soon the game is won or lost);
    ``best_actions(state)``: the moves that keep the score (``exact=False``: the value, as
    ``Minimax.best_actions``); ``__call__`` plays one of them, chosen at random (seeded).

    ``exact`` (default True) makes the player win as fast and lose as slowly as it can: it
    always takes a win in one, and in a lost position it makes the opponent find the longest
    win. ``exact=False`` keeps any move of the same value, as ``Minimax`` does, for a cheaper
    search (the sign only).

    It reads a position from ``stones``, ``num_moves``, ``is_terminal`` and ``winner`` of a
    6 x 7 board state (``envs/board_games/connect_four.py``; the agents layer does not import
    envs, so the check is on the board's size).

    ``max_empty``: the most empty cells a position may have (ValueError beyond it). At the
    default, 20, every position measured took under half a second on one core (random and
    Pons' middle-game test positions); the time grows about x1.5 to x2 per further cell
    (BENCHMARKS.md), and the empty board is out of reach in pure Python.

    The transposition table is kept between calls, since its bounds hold whatever window
    found them (``best_actions`` solves each child, whose subtrees overlap), and cleared
    before a search once it holds more than ``table_limit`` entries (about 100 bytes each).
    """

    def __init__(
        self,
        seed: int = 0,
        max_empty: int = 20,
        exact: bool = True,
        table_limit: int = 1_000_000,
    ):
        if not 0 <= max_empty <= _CELLS:
            raise ValueError(f"max_empty must lie in 0..{_CELLS}, not {max_empty}")
        self.max_empty = max_empty
        self.exact = exact
        self.table_limit = table_limit
        self.upper: dict[int, int] = {}
        self.lower: dict[int, int] = {}
        self.rng = np.random.default_rng(seed)

    # -- the player ---------------------------------------------------------------------------
    def value(self, state) -> float:
        cur, mask, moves, over = self._position(state)
        if over is not None:
            return float(np.sign(over))
        return float(np.sign(self._solve(cur, mask, moves, weak=True)))

    def score(self, state) -> int:
        cur, mask, moves, over = self._position(state)
        if over is not None:
            return over
        return self._solve(cur, mask, moves, weak=False)

    def best_actions(self, state, exact: bool | None = None) -> list[int]:
        """The moves that keep the value (``exact``: the score; default: the solver's own
        ``exact``). Empty at the end of the game."""
        exact = self.exact if exact is None else exact
        cur, mask, moves, over = self._position(state)
        if over is not None:
            return []
        wins = _winning_cells(cur, mask) & (mask + _BOTTOM)
        if exact and wins:  # nothing scores higher than winning now: no need to search
            return [c for c in _legal(mask) if wins & _COLUMN_BITS[c]]
        results = {c: self._after(cur, mask, moves, c, weak=not exact) for c in _legal(mask)}
        if not exact:
            results = {c: int(np.sign(r)) for c, r in results.items()}
        best = max(results.values())
        return [c for c, r in results.items() if r == best]

    def __call__(self, state) -> int:
        best = self.best_actions(state)
        return best[int(self.rng.integers(len(best)))]

    # -- the search ---------------------------------------------------------------------------
    def _position(self, state) -> tuple[int, int, int, int | None]:
        """(cur, mask, moves, score if the game is over else None), after the checks."""
        if (getattr(state, "ROWS", None), getattr(state, "COLS", None)) != (_HEIGHT, _WIDTH):
            raise TypeError(f"ConnectFourSolver plays Connect Four (6 x 7) states, not {state!r}")
        s0, s1 = state.stones
        moves = state.num_moves
        empty = _CELLS - moves
        if empty > self.max_empty:
            raise ValueError(
                f"ConnectFourSolver solves positions with at most {self.max_empty} empty cells "
                f"(this one has {empty}): the pure-Python search takes x1.5 to x2 longer per "
                "empty cell, a fraction of a second at 20 and seconds near 30; pass a larger "
                "max_empty to wait for it"
            )
        cur, mask = (s0, s0 | s1) if moves % 2 == 0 else (s1, s0 | s1)
        over = None
        if state.is_terminal():
            # the opponent has just won with their ((moves + 1) // 2)-th stone, or a draw
            over = (moves + 1) // 2 - 22 if state.winner() is not None else 0
        return cur, mask, moves, over

    def _after(self, cur: int, mask: int, moves: int, column: int, weak: bool) -> int:
        """The score (``weak``: a score of the same sign) of playing ``column``, for the
        player who plays it."""
        move = (mask + _BOTTOM) & _COLUMN_BITS[column]
        if move & _winning_cells(cur, mask):
            return (_CELLS + 1 - moves) // 2
        if moves + 1 == _CELLS:
            return 0
        return -self._solve(cur ^ mask, mask | move, moves + 1, weak)

    def _solve(self, cur: int, mask: int, moves: int, weak: bool) -> int:
        """Pons' score of a position not yet over (``weak``: only its sign is right)."""
        if _winning_cells(cur, mask) & (mask + _BOTTOM):
            return (_CELLS + 1 - moves) // 2
        if len(self.upper) + len(self.lower) > self.table_limit:
            self.upper.clear()
            self.lower.clear()
        low, high = (-1, 1) if weak else (-((_CELLS - moves) // 2), (_CELLS + 1 - moves) // 2)
        while low < high:
            # Pons' probe sequence: the middle of the window, pulled in to half the bound on
            # its side of zero, so that the first probes settle the sign (who wins) and the
            # later ones how fast
            probe = low + (high - low) // 2
            if probe <= 0 and _halve(low) < probe:
                probe = _halve(low)
            elif probe >= 0 and _halve(high) > probe:
                probe = _halve(high)
            r = _negamax(cur, mask, moves, probe, probe + 1, self.upper, self.lower)
            if r <= probe:
                high = r
            else:
                low = r
        return low


def _halve(x: int) -> int:
    """x / 2 rounded towards zero (as C does it, which the probe sequence is designed for)."""
    return -((-x) // 2) if x < 0 else x // 2


def _legal(mask: int) -> list[int]:
    return [c for c in range(_WIDTH) if not mask & (1 << (7 * c + _HEIGHT - 1))]
