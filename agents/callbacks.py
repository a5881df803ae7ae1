"""What an agent tells the code that drives it while it learns."""

from __future__ import annotations

from typing import Any


class Callback:
    """Hooks called by ``agent.learn``; the defaults do nothing. Subclass what you need.

    ``at_safe_point`` marks the moments where the agent's state is complete (between episodes for
    episodic learners, between sweeps for planners): a checkpoint taken there resumes exactly, and
    that is where learning may stop early.
    """

    def on_step(self, agent: Any) -> None:
        """After every environment step (every sweep for planners), already counted in
        ``agent.num_steps``."""

    def on_episode(self, agent: Any, episode_return: float, episode_length: int) -> None:
        """After every finished (terminated or truncated) training episode."""

    def at_safe_point(self, agent: Any) -> bool:
        """Return False to stop learning here."""
        return True
