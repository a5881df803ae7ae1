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
