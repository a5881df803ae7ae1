"""The agent registry: name -> class, imported on first use so that a tabular run never pays for
torch or Stable-Baselines3."""

from __future__ import annotations

import difflib
import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym

from sige_rl.agents.common.config import resolve, tuned_hyperparams, tuned_job_options
from sige_rl.supervised.checkpoint import CheckpointError

AGENTS: dict[str, str] = {
    "value_iteration": "sige_rl.agents.tabular.value_iteration:ValueIteration",
    "mc": "sige_rl.agents.tabular.monte_carlo:MonteCarlo",
    "q_learning": "sige_rl.agents.tabular.td:QLearning",
    "sarsa": "sige_rl.agents.tabular.td:Sarsa",
    "expected_sarsa": "sige_rl.agents.tabular.td:ExpectedSarsa",
    "dqn": "sige_rl.agents.dqn.dqn:DQN",
    "pqn": "sige_rl.agents.dqn.pqn:PQN",
    "do_nothing": "sige_rl.agents.search.baselines:DoNothing",
    "greedy": "sige_rl.agents.search.baselines:GreedyLookahead",
    "thermostat": "sige_rl.agents.search.baselines:Thermostat",
    "mcts": "sige_rl.agents.search.mcts:MCTSAgent",
    "alphazero": "sige_rl.agents.search.alphazero:AlphaZero",
    "sb3-ppo": "sige_rl.agents.sb3.agent:SB3PPO",
    "sb3-a2c": "sige_rl.agents.sb3.agent:SB3A2C",
    "sb3-dqn": "sige_rl.agents.sb3.agent:SB3DQN",
    "sb3-maskable-ppo": "sige_rl.agents.sb3.agent:SB3MaskablePPO",
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
    """The registered id of ``env``, or None (an env without a spec, or an SB3 ``VecEnv``)."""
    spec = getattr(env, "spec", None) or getattr(getattr(env, "unwrapped", None), "spec", None)
    return spec.id if spec is not None else None


def make(name: str, env: gym.Env, seed: int = 0, **overrides: Any):
    """Build agent ``name`` for ``env``: dataclass defaults < tuned YAML for the env < overrides.

    Warns if the tuned entry was made for another number of envs (its ``n_envs``) than ``env``
    has: on-policy rollouts and batch sizes are tuned together with it.
    """
    cls = agent_class(name)
    tuned_for = env_id(env) or ""
    config = resolve(
        cls.Config,
        (f"agents/hyperparams/{name}.yaml", tuned_hyperparams(name, tuned_for)),
        ("arguments", overrides),
    )
    n_envs = tuned_job_options(name, tuned_for).get("n_envs")
    if n_envs is not None and n_envs != getattr(env, "num_envs", 1):
        warnings.warn(
            f"agents/hyperparams/{name}.yaml's entry for {tuned_for} is tuned for {n_envs} envs "
            f"(n_envs); this env has {getattr(env, 'num_envs', 1)}: pass "
            f"gym.make_vec({tuned_for!r}, num_envs={n_envs}) for the tuned behaviour",
            stacklevel=2,
        )
    return cls(env, seed=seed, config=config)


def load(path: str | Path, env: gym.Env, **overrides: Any):
    """Load an agent saved with ``agent.save(path)``, with ``overrides`` of config fields
    (``device="cpu"``); ``CheckpointError`` if the folder is not a valid checkpoint or does not
    fit ``env``. ``meta.json`` names the agent, whose class reads the rest of the folder."""
    meta_file = Path(path) / "meta.json"
    try:
        name = json.loads(meta_file.read_text()).get("agent")
    except (OSError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{path} is not a checkpoint: cannot read {meta_file.name} ({e})"
        ) from e
    if name not in AGENTS:
        raise CheckpointError(f"{path}: unknown agent {name!r} in meta.json")
    return agent_class(name).load(path, env, **overrides)
