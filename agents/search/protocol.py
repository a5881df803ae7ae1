"""The search-state protocol: what an environment offers so that an agent can try actions
without touching the live episode (DESIGN: envs satisfy it structurally, agents use it through
this protocol only)."""

from __future__ import annotations

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
