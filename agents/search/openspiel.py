"""OpenSpiel's games for our search, and our board games in OpenSpiel's form.

:class:`OpenSpielState` wraps a ``pyspiel.State`` so that it satisfies
:class:`~sige_rl.agents.search.protocol.GameState`: ``step`` clones and applies the action and
leaves the wrapped state as it was, ``returns`` is a tuple. Our MCTS (and minimax) then plays any
deterministic sequential OpenSpiel game; the MCTS-Solver assumes two players with opposite
payoffs, so give ``MCTSConfig(solver=False)`` for others.

:func:`from_openspiel` and :func:`to_openspiel` carry a position of tic-tac-toe or Connect Four
across. The numbering is the same on both sides (checked move for move by
tests/agents/test_openspiel.py): a tic-tac-toe action is the cell ``3 * row + col``, a Connect Four
action the column, and player 0 moves first. Our games' state classes live in ``sige_rl.envs``,
which this layer never imports (ARCHITECTURE.md): :func:`from_openspiel` takes the class from the
caller (e.g. ``type(env.unwrapped.state)``), :func:`to_openspiel` works from the position itself
(its class's name, ``board()``, ``from_board``), and :data:`OPENSPIEL_NAMES` names the games.

open-spiel is a development and benchmark dependency (``pip install open-spiel``), imported only
here and only when a function needs it, so the rest of the package never requires it.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from sige_rl.agents.search.protocol import GameState

__all__ = [
    "OPENSPIEL_NAMES",
    "OpenSpielState",
    "from_openspiel",
    "load",
    "require_pyspiel",
    "to_openspiel",
]

OPENSPIEL_NAMES: dict[str, str] = {
    "TicTacToeState": "tic_tac_toe",
    "ConnectFourState": "connect_four",
}
"""OpenSpiel's name of each of our board games (with OpenSpiel's default parameters), by the
name of our state class (``sige_rl.envs.board_games``)."""


def require_pyspiel() -> Any:
    """The pyspiel module, or an ImportError that says how to get it."""
    try:
        import pyspiel as module
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "this needs OpenSpiel: pip install open-spiel (a dev/bench dependency of sige-rl)"
        ) from e
    return module


class OpenSpielState:
    """A ``pyspiel.State`` as a :class:`~sige_rl.agents.search.protocol.GameState`.

    Only deterministic games with sequential moves: our search has no chance or simultaneous
    nodes, so the constructor refuses such games rather than letting a search misread them.
    Two wrapped states are equal when their games and histories are, which is what the MCTS's
    tree reuse compares.
    """

    __slots__ = ("_state",)

    def __init__(self, state: Any):
        spiel = require_pyspiel()
        game_type = state.get_game().get_type()
        if game_type.dynamics != spiel.GameType.Dynamics.SEQUENTIAL:
            raise ValueError(f"{game_type.short_name}: only games with sequential moves")
        if game_type.chance_mode != spiel.GameType.ChanceMode.DETERMINISTIC:
            raise ValueError(f"{game_type.short_name}: only deterministic games (no chance nodes)")
        self._state = state

    @classmethod
    def _wrap(cls, state: Any) -> OpenSpielState:
        """Wraps without the game checks: for the states that ``step`` makes from a checked one."""
        wrapped = cls.__new__(cls)
        wrapped._state = state
        return wrapped

    @property
    def state(self) -> Any:
        """The wrapped ``pyspiel.State`` (clone it before applying actions: searches assume a
        position never changes)."""
        return self._state

    # -- the search protocol ----------------------------------------------------------------------
    def legal_actions(self) -> list[int]:
        return self._state.legal_actions()

    def step(self, action: int) -> OpenSpielState:
        after = self._state.clone()
        after.apply_action(int(action))
        return OpenSpielState._wrap(after)

    def is_terminal(self) -> bool:
        return self._state.is_terminal()

    def returns(self) -> tuple[float, ...]:
        return tuple(self._state.returns())

    def current_player(self) -> int:
        return self._state.current_player()

    # -- the optional rollout hook (protocol.FastRollout) ---------------------------------------
    def rollout_returns(self, rng: random.Random) -> tuple[float, ...]:
        """A uniformly random playout on one clone, applied in place: the generic loop's
        distribution without a clone per move."""
        state = self._state.clone()
        uniform = rng.random
        while not state.is_terminal():
            legal = state.legal_actions()
            state.apply_action(legal[int(uniform() * len(legal))])
        return tuple(state.returns())

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is OpenSpielState
            and str(other._state.get_game()) == str(self._state.get_game())
            and other._state.history() == self._state.history()
        )

    def __hash__(self) -> int:
        return hash(tuple(self._state.history()))

    def __str__(self) -> str:
        return str(self._state)

    def __repr__(self) -> str:
        return f"OpenSpielState({self._state.get_game()}, history={self._state.history()})"


def load(game: str, **params: Any) -> OpenSpielState:
    """The initial position of the OpenSpiel game ``game`` (e.g. ``"connect_four"``), wrapped."""
    return OpenSpielState(require_pyspiel().load_game(game, params).new_initial_state())


def _openspiel_name(cls: type) -> str:
    """OpenSpiel's name of the game whose positions are ``cls``'s; ValueError for another."""
    name = OPENSPIEL_NAMES.get(cls.__name__)
    if name is None:
        known = ", ".join(OPENSPIEL_NAMES)
        raise ValueError(f"no OpenSpiel game for {cls.__name__} (OpenSpiel's games: {known})")
    return name


def from_openspiel(state: Any, game_cls: type[GameState]) -> GameState:
    """Our position for an OpenSpiel tic-tac-toe or Connect Four state (a ``pyspiel.State`` or
    an :class:`OpenSpielState`): its history replayed on ``game_cls()``, our empty board of the
    same game, as the action numbering is the same. ``game_cls`` is our state class
    (``TicTacToeState`` or ``ConnectFourState``, or ``type(env.unwrapped.state)`` of the game's
    env); ValueError if the OpenSpiel state is of another game or has other parameters."""
    if isinstance(state, OpenSpielState):
        state = state.state
    name, game = _openspiel_name(game_cls), state.get_game()
    game_type = game.get_type()
    if game_type.short_name != name or game.get_parameters() != game_type.parameter_specification:
        raise ValueError(
            f"{game} is not {name} with its default parameters, the game of {game_cls.__name__}"
        )
    ours = game_cls()
    for action in state.history():
        ours = ours.step(action)
    return ours


def to_openspiel(state: GameState) -> Any:
    """The ``pyspiel.State`` of our tic-tac-toe or Connect Four position (its game from its
    class's name, :data:`OPENSPIEL_NAMES`).

    Our positions keep stones, not the moves that placed them, and OpenSpiel builds a position
    only by playing moves, so this looks for a move order that reaches it: take back a stone of
    the last mover (in Connect Four, the top of a column) while the position before has no
    line, depth first. Raises ValueError for a position that no game reaches.
    """
    name = _openspiel_name(type(state))
    moves = _move_order(type(state), state.board(), state.num_moves, set())
    if moves is None:
        raise ValueError(f"no sequence of legal moves reaches\n{state}")
    spiel_state = require_pyspiel().load_game(name).new_initial_state()
    for action in moves:
        spiel_state.apply_action(action)
    return spiel_state


def _move_order(cls: Any, board: np.ndarray, moves: int, dead_ends: set[bytes]) -> list[int] | None:
    """Moves from the empty board to ``board`` (``moves`` stones; 1 and 2 mark players 0 and
    1) in ``cls``'s game (a board game's state class: ``NUM_ACTIONS``, ``COLS``, ``from_board``),
    found backwards; None if there are none. ``dead_ends`` remembers boards already
    known to have none."""
    if moves == 0:
        return []
    if board.tobytes() in dead_ends:
        return None
    last_mover_mark = 2 - moves % 2  # player 0 (mark 1) made the odd-numbered moves
    for action in range(cls.NUM_ACTIONS):
        cell = _last_stone_of(cls, board, action)
        if cell is None or board[cell] != last_mover_mark:
            continue
        before = board.copy()
        before[cell] = 0
        if cls.from_board(before).winner() is not None:
            continue  # the game would have ended before this move
        earlier = _move_order(cls, before, moves - 1, dead_ends)
        if earlier is not None:
            return [*earlier, action]
    dead_ends.add(board.tobytes())
    return None


def _last_stone_of(cls: Any, board: np.ndarray, action: int) -> tuple | None:
    """The cell of the stone that ``action`` would have placed if it was the last move (None if
    it cannot have been): the action's cell ``COLS * row + col`` in tic-tac-toe, the top stone of
    the action's column in Connect Four (row 0 is the top row)."""
    if _openspiel_name(cls) != "connect_four":
        cell = divmod(action, cls.COLS)
        return cell if board[cell] else None
    filled = np.flatnonzero(board[:, action])
    return (int(filled[0]), action) if filled.size else None
