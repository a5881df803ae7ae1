"""Value iteration (Bellman 1957; Sutton & Barto 2nd ed., section 4.4) on the environment's exact
model, acting greedily on the resulting optimal action values.

For this planner one "step" of ``learn`` is one sweep over the model; it stops early once the
largest value change in a sweep drops below ``theta``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sige_rl.agents.common.interface import Callback
from sige_rl.agents.tabular.base import TabularAgent
from sige_rl.agents.tabular.model import TabularModel


@dataclass
class VIConfig:
    gamma: float = 0.99
    """Discount factor."""
    theta: float = 1e-10
    """Stop when no state value changes by more than this in a sweep."""


class ValueIteration(TabularAgent):
    """Plans on ``env.unwrapped.P`` (ours, or Gymnasium's FrozenLake / CliffWalking / Taxi)."""

    name = "value_iteration"
    Config = VIConfig
    epsilon = 0.0
    learning_rate = None

    def __init__(self, env, seed=0, config=None, **overrides):
        super().__init__(env, seed, config, **overrides)
        self.model = TabularModel.from_env(env)
        self.v = np.zeros(self.n_states)
        self.delta = np.array(np.inf)  # an array so that checkpoints carry it

    def extra_arrays(self):
        return {"v": self.v, "delta": self.delta}

    def learn(self, total_steps: int, run=None, callback: Callback | None = None):
        self.total_steps = int(total_steps)
        self.start_schedule(total_steps)
        callback = callback or Callback()
        gamma = self.config.gamma
        while (
            self.num_steps < self.total_steps
            and self.delta >= self.config.theta
            and callback.at_safe_point(self)
        ):
            self.q[...], self.v[...], self.delta[...] = self.model.sweep(self.v, gamma)
            self.num_steps += 1
            if run is not None:
                run.log_scalars({"losses/value_delta": float(self.delta)}, self.num_steps)
            callback.on_step(self)
        return self
