"""The search-state protocol: what an environment offers so that an agent can try actions
without touching the live episode (DESIGN: envs satisfy it structurally, agents use it through
this protocol only)."""

from __future__ import annotations

import random
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Restorable(Protocol):
    """An env whose whole episode state can be snapshot and put back: ``restore_state(s)``
    after any number of ``step`` calls returns it to the moment ``s = clone_state()`` was
    taken."""

    def clone_state(self) -> Any: ...

    def restore_state(self, state: Any) -> None: ...

    def step(self, action: Any) -> tuple: ...


@runtime_checkable
class Planner(Protocol):
    """An agent that looks ahead on the env it plays: evaluations and recordings call
    ``attach(env)`` with that env before each episode."""

    def attach(self, env: Any) -> None: ...


@runtime_checkable
class GameState(Protocol):
    """A turn-based game position that a search copies and steps without touching the live game
    (OpenSpiel's ``State`` in five methods). ``step`` returns the next position and leaves this
    one as it was; ``returns`` gives each player's final payoff (zeros before the end). The board
    games' states (``sige_rl.envs.board_games``) satisfy it structurally, as can any simulator."""

    def legal_actions(self) -> list[int]: ...

    def step(self, action: int) -> GameState: ...

    def is_terminal(self) -> bool: ...

    def returns(self) -> tuple[float, ...]: ...

    def current_player(self) -> int: ...


@runtime_checkable
class FastRollout(Protocol):
    """An optional hook beside :class:`GameState`, kept out of it so that the protocol stays
    five methods: ``rollout_returns(rng)`` plays uniformly random legal moves from this
    position to the end, drawing from ``rng`` (a ``random.Random``), and returns the payoffs
    there. It must draw from the same distribution as stepping ``legal_actions``/``step``
    with uniform choices; it exists for speed (the board games play out on their raw
    bitboards without a state per move), and the MCTS uses it where a position has it."""

    def rollout_returns(self, rng: random.Random) -> tuple[float, ...]: ...


@runtime_checkable
class WinningActions(Protocol):
    """An optional hook beside :class:`GameState`: ``winning_actions()`` lists the legal moves
    that end the game at once in a win for the player to move. It must agree with stepping each
    legal move and reading ``returns``; it exists for speed (the board games find them with a
    few bitboard operations), and the searches' one-move win checks use it where a position has
    it."""

    def winning_actions(self) -> list[int]: ...
