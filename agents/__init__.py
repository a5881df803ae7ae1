"""RL agents behind one front door: ``agents.make(name, env)``, ``agent.learn``, ``agent.act``,
``agent.save`` and ``agents.load`` (the interface: :class:`Agent`; the rooms: ARCHITECTURE.md)."""

from sige_rl.agents.common.interface import Agent, Callback
from sige_rl.agents.common.registry import AGENTS, agent_class, load, make, names

__all__ = ["AGENTS", "Agent", "Callback", "agent_class", "load", "make", "names"]
