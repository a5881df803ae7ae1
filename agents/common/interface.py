"""The agent interface: what the training job, evaluation and the registry rely on, stated once
as a :class:`typing.Protocol`, and the few pieces of it that every agent family shares (building
its config, the common checkpoint metadata and the checks on reading it back).

An agent is any class that satisfies :class:`Agent` structurally; it need not inherit from
anything here. ARCHITECTURE.md ("The agent interface") shows how the job drives it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar, Protocol, runtime_checkable

from sige_rl.agents.common.config import ConfigError, resolve
from sige_rl.supervised.checkpoint import CheckpointError, load_state


class Callback:
    """Hooks called by ``agent.learn``; the defaults do nothing. Subclass what you need.

    ``at_safe_point`` marks the moments where the agent's state is complete (between episodes for
    tabular learners, between sweeps for planners, after every vector step for DQN and the
    Stable-Baselines3 agents, after each rollout's update for PQN, after each self-play
    iteration for AlphaZero): a checkpoint taken there resumes exactly, and that is where
    learning may stop early.
    """

    def on_step(self, agent: Any) -> None:
        """After every environment step (every sweep for planners), already counted in
        ``agent.num_steps``."""

    def on_episode(self, agent: Any, episode_return: float, episode_length: int) -> None:
        """After every finished (terminated or truncated) training episode."""

    def at_safe_point(self, agent: Any) -> bool:
        """Return False to stop learning here."""
        return True


@runtime_checkable
class Agent(Protocol):
    """What every registered agent offers.

    Counters: ``num_steps`` counts environment transitions over all sub-envs, ``num_episodes``
    finished training episodes, ``total_steps`` the budget of the last ``learn`` call.
    ``schedule_steps`` is the horizon that the epsilon and step-size schedules are laid over: the
    first ``learn`` call's budget, kept when training goes on past it (assign it to stretch the
    schedules over a new budget).
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    format_version: ClassVar[int]
    supports_vector_env: ClassVar[bool]
    supports_action_masks: ClassVar[bool]
    config: Any
    seed: int
    num_steps: int
    num_episodes: int
    total_steps: int
    schedule_steps: int | None

    @property
    def eval_epsilon(self) -> float:
        """Exploration that evaluations keep (0: they follow the greedy policy exactly)."""

    def learn(self, total_steps: int, run: Any = None, callback: Callback | None = None) -> Agent:
        """Train until ``num_steps`` reaches ``total_steps`` or ``callback.at_safe_point`` returns
        False; return the agent."""

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """The action for one observation, or an array of actions for a batch.
        ``deterministic=True``: the greedy action, with no randomness at all;
        ``deterministic=False``: a draw from the current (exploring) behaviour policy.
        An agent that ``supports_action_masks`` also takes ``action_mask=`` (bools, True for
        the legal actions) and then picks legal actions only."""

    def save(self, path: str | os.PathLike) -> None:
        """Write the agent to the folder ``path`` atomically, pickle-free."""

    @classmethod
    def load(cls, path: str | os.PathLike, env: Any, **overrides: Any) -> Agent:
        """Rebuild a saved agent on ``env``; ``overrides`` change config fields as it loads
        (``device="cpu"``). ``CheckpointError`` if the folder is bad or does not fit ``env``."""


def build_config(cls: type, config: Any, overrides: dict[str, Any]) -> Any:
    """An agent's resolved config: ``config`` (or the class defaults) overlaid by ``overrides``,
    every key and value checked against ``cls.Config``."""
    base = {} if config is None else dataclasses.asdict(config)
    return resolve(cls.Config, ("config", base), ("arguments", overrides))


def checkpoint_meta(agent: Any, **fields: Any) -> dict[str, Any]:
    """The metadata every checkpoint starts with: which agent and format, its config, seed and
    counters; ``fields`` add what the agent family needs besides."""
    return {
        "agent": agent.name,
        "format": agent.format_version,
        "config": dataclasses.asdict(agent.config),
        "seed": agent.seed,
        "num_steps": agent.num_steps,
        "num_episodes": agent.num_episodes,
        "total_steps": agent.total_steps,
        "schedule_steps": agent.schedule_steps,
        **fields,
    }


def open_checkpoint(
    cls: type, path: str | os.PathLike, overrides: dict[str, Any] | None = None
) -> tuple[dict, dict, Any]:
    """Read the folder ``path`` written by ``cls.save``: ``(meta, arrays, config)``, after
    checking that it is a checkpoint of ``cls`` in its current format. ``overrides`` change
    fields of the saved config (checked like any other layer)."""
    meta, arrays = load_state(path)
    if meta.get("agent") != cls.name or meta.get("format") != cls.format_version:
        raise CheckpointError(
            f"{path} is not a format-{cls.format_version} {cls.name} checkpoint (it says agent "
            f"{meta.get('agent')!r}, format {meta.get('format')!r})"
        )
    try:
        saved = resolve(cls.Config, ("checkpoint", meta["config"]))
        int(meta["seed"])
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(f"{path}: checkpoint metadata is incomplete or invalid: {e}") from e
    if not overrides:
        return meta, arrays, saved
    return meta, arrays, resolve(cls.Config, ("checkpoint", meta["config"]), ("load", overrides))


def restore_counters(agent: Any, meta: dict[str, Any]) -> None:
    """Set the counters that :func:`checkpoint_meta` saved."""
    try:
        agent.num_steps = int(meta["num_steps"])
        agent.num_episodes = int(meta["num_episodes"])
        agent.total_steps = int(meta["total_steps"])
        horizon = meta["schedule_steps"]
        agent.schedule_steps = None if horizon is None else int(horizon)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint counters are incomplete or invalid: {e}") from e
