"""Baselines of the L2RPN competitions (Grid2Op's ``DoNothingAgent`` and ``GreedyAgent``): always
one fixed action, or try every legal action one step ahead and take the best. And the building's
rule-based thermostat (``thermostat``), which reads the comfort band from the env it controls.

Greedy: at each step the agent snapshots the env (``clone_state``), plays each candidate action
for one step, records its reward, and restores the snapshot; it then takes the action with the
highest reward (a terminating action counts as minus infinity; ties go to the lowest index, so
do-nothing wins when nothing helps). Candidates are the legal actions of the env's
``action_mask()`` when it has one, else every action. The lookahead steps the unwrapped env, so
wrappers (time limits, statistics) see only the real step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from sige_rl.agents.search.base import PlanningAgent
from sige_rl.agents.search.protocol import Restorable


@dataclass
class ConstantConfig:
    action: int = 0
    """The action played at every step (0: do nothing on the power grid)."""


class DoNothing(PlanningAgent):
    """Plays ``config.action`` at every step."""

    name = "do_nothing"
    Config = ConstantConfig

    def __init__(self, env: gym.Env, seed: int = 0, config: Any = None, **overrides: Any):
        super().__init__(env, seed, config, **overrides)
        if not env.action_space.contains(self.config.action):
            raise ValueError(f"action {self.config.action} is not in {env.action_space}")

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        if np.ndim(obs) > len(self.env.observation_space.shape):  # a batch
            return np.full(len(obs), self.config.action)
        return self.config.action


@dataclass
class GreedyConfig:
    use_mask: bool = True
    """Try only the actions the env's ``action_mask()`` marks legal (when it has one)."""


class GreedyLookahead(PlanningAgent):
    """One-step greedy search over the env's discrete actions (needs ``clone_state`` /
    ``restore_state`` on the unwrapped env)."""

    name = "greedy"
    Config = GreedyConfig

    def attach(self, env: gym.Env) -> None:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(f"greedy needs a Discrete action space, got {env.action_space}")
        if not isinstance(env.unwrapped, Restorable):
            raise ValueError(
                f"greedy plans on the env's state: {type(env.unwrapped).__name__} needs "
                "clone_state() and restore_state()"
            )
        super().attach(env)

    def act(self, obs: Any, deterministic: bool = True) -> int:
        """The best action one step ahead of the attached env's current state (``obs`` is not
        needed: the state is)."""
        sim = self.env.unwrapped
        n = self.env.action_space.n
        mask = getattr(sim, "action_mask", None)
        candidates = np.flatnonzero(mask()) if self.config.use_mask and mask else np.arange(n)
        snapshot = sim.clone_state()
        best, best_value = int(candidates[0]), -np.inf
        for a in candidates:
            _, reward, terminated, _, _ = sim.step(int(a))
            sim.restore_state(snapshot)
            value = -np.inf if terminated else float(reward)
            if value > best_value:
                best, best_value = int(a), value
        return best


@dataclass
class ThermostatConfig:
    setback: bool = False
    """Follow the comfort band of the moment, relaxed while the occupants are away (a
    schedule-aware thermostat); False holds the occupied band around the clock."""


class Thermostat(PlanningAgent):
    """The rule-based thermostat of ``sige/BuildingHVAC-v0`` (either action space): heat to the
    comfort band's lower edge, cool to its upper edge (``BuildingHVACEnv.thermostat_action``)."""

    name = "thermostat"
    Config = ThermostatConfig

    def attach(self, env: gym.Env) -> None:
        if not callable(getattr(env.unwrapped, "thermostat_action", None)):
            raise ValueError(
                f"thermostat needs a building env (sige/BuildingHVAC-v0 or its Discrete "
                f"variant), got {type(env.unwrapped).__name__}"
            )
        super().attach(env)

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        return self.env.unwrapped.thermostat_action(self.config.setback)
