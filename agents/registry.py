"""The agent registry: name -> class, imported on first use so that a tabular run never pays for
torch or Stable-Baselines3."""

from __future__ import annotations

import difflib
import importlib
import json
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.config import resolve, tuned_hyperparams
from supervised.checkpoint import CheckpointError

AGENTS: dict[str, str] = {
    "value_iteration": "agents.value_iteration:ValueIteration",
    "mc": "agents.monte_carlo:MonteCarlo",
    "q_learning": "agents.q_learning:QLearning",
    "sarsa": "agents.sarsa:Sarsa",
    "expected_sarsa": "agents.expected_sarsa:ExpectedSarsa",
    "dqn": "agents.dqn:DQN",
    "sb3-ppo": "agents.sb3:SB3PPO",
    "sb3-a2c": "agents.sb3:SB3A2C",
    "sb3-dqn": "agents.sb3:SB3DQN",
}


def names() -> list[str]:
    return list(AGENTS)


def agent_class(name: str) -> type:
    """The class registered as ``name``; ``ValueError`` with close matches if there is none."""
    if name not in AGENTS:
        close = difflib.get_close_matches(name, AGENTS, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown agent {name!r}{hint} (available: {', '.join(AGENTS)})")
    module, _, cls = AGENTS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def env_id(env: gym.Env) -> str | None:
    spec = env.unwrapped.spec if env.spec is None else env.spec
    return spec.id if spec is not None else None


def make(name: str, env: gym.Env, seed: int = 0, **overrides: Any):
    """Build agent ``name`` for ``env``: dataclass defaults < tuned YAML for the env < overrides."""
    cls = agent_class(name)
    config = resolve(
        cls.Config,
        (f"agents/hyperparams/{name}.yaml", tuned_hyperparams(name, env_id(env) or "")),
        ("arguments", overrides),
    )
    return cls(env, seed=seed, config=config)


def load(path: str | Path, env: gym.Env):
    """Load an agent saved with ``agent.save(path)``; ``CheckpointError`` if the folder is not a
    valid checkpoint or does not fit ``env``. ``meta.json`` names the agent, whose class reads the
    rest of the folder."""
    meta_file = Path(path) / "meta.json"
    try:
        name = json.loads(meta_file.read_text()).get("agent")
    except (OSError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{path} is not a checkpoint: cannot read {meta_file.name} ({e})"
        ) from e
    if name not in AGENTS:
        raise CheckpointError(f"{path}: unknown agent {name!r} in meta.json")
    return agent_class(name).load(path, env)
