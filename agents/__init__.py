"""RL agents behind one front door: ``agents.make(name, env)``, ``agent.learn``, ``agent.act``,
``agent.save`` and ``agents.load``."""

from agents.callbacks import Callback
from agents.registry import AGENTS, agent_class, load, make, names

__all__ = ["AGENTS", "Callback", "agent_class", "load", "make", "names"]
