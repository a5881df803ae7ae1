"""What the planning agents share: no learning (``learn`` only counts the budget as spent), a
config, checkpoints that hold just that config, and the env they plan on (``attach``)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym

from sige_rl.agents.common.interface import (
    Callback,
    build_config,
    checkpoint_meta,
    open_checkpoint,
    restore_counters,
)
from sige_rl.supervised.checkpoint import save_state


class PlanningAgent:
    """Base of agents that decide from the env's state each step and learn nothing.

    Evaluation calls :meth:`attach` with the env it plays, before each episode, so that a
    search looks ahead on the episode being played (``evaluate``, ``record_episode``).
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    format_version: ClassVar[int] = 1
    supports_vector_env: ClassVar[bool] = False
    supports_action_masks: ClassVar[bool] = False
    eval_epsilon: ClassVar[float] = 0.0

    def __init__(self, env: gym.Env, seed: int = 0, config: Any = None, **overrides: Any):
        self.config = build_config(type(self), config, overrides)
        self.seed = seed
        self.num_steps = 0
        self.num_episodes = 0
        self.total_steps = 0
        self.schedule_steps = None
        self.env = env
        self.attach(env)

    def attach(self, env: gym.Env) -> None:
        """Plan on ``env`` from now on."""
        self.env = env

    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None):
        """Nothing to learn: the budget counts as spent."""
        self.total_steps = int(total_steps)
        self.num_steps = max(self.num_steps, self.total_steps)
        return self

    def save(self, path: Any) -> None:
        save_state(path, checkpoint_meta(self), {})

    @classmethod
    def load(cls, path: Any, env: gym.Env, **overrides: Any):
        meta, _, config = open_checkpoint(cls, path, overrides)
        agent = cls(env, seed=int(meta["seed"]), config=config)
        restore_counters(agent, meta)
        return agent
