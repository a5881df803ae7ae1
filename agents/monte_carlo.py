"""On-policy Monte Carlo control with epsilon-soft policies (Sutton & Barto 2nd ed., section 5.4).

After each episode the return following every (first-)visit of a state-action pair updates its
value: a sample average by default, or a constant step size for non-stationary problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.callbacks import Callback
from agents.tabular import TabularAgent


@dataclass
class MCConfig:
    gamma: float = 0.99
    """Discount factor."""
    first_visit: bool = True
    """Average only the return after a pair's first visit in an episode (else every visit)."""
    learning_rate: float | None = None
    """Constant step size; None averages all returns seen so far (1 / visit count)."""
    learning_rate_final: float | None = None
    """Step size at the end of training (linear decay) when ``learning_rate`` is set."""
    epsilon: float = 1.0
    """Exploration probability at the start of training."""
    epsilon_final: float | None = 0.01
    """Exploration probability after ``exploration_fraction`` of training (None: constant)."""
    exploration_fraction: float = 0.5
    """Fraction of the step budget over which epsilon decays linearly."""
    q_init: float = 0.0
    """Initial action value of every (state, action)."""


class MonteCarlo(TabularAgent):
    """Every-visit or first-visit Monte Carlo control; hyperparameters in :class:`MCConfig`."""

    name = "mc"
    Config = MCConfig

    def __init__(self, env, seed=0, config=None, **overrides):
        super().__init__(env, seed, config, **overrides)
        self.visits = np.zeros_like(self.q)

    def extra_arrays(self):
        return {"visits": self.visits}

    def play_episode(self, seed: int, callback: Callback):
        env = self.env
        s, _ = env.reset(seed=seed)
        epsilon = self.epsilon
        states, actions, rewards = [], [], []
        done = False
        while self.num_steps < self.total_steps:
            a = self.explore(s, epsilon)
            s2, r, terminated, truncated, _ = env.step(a)
            self.num_steps += 1
            states.append(s)
            actions.append(a)
            rewards.append(r)
            callback.on_step(self)
            if terminated or truncated:
                done = True
                break
            s = s2
        # A cut-off episode (budget or time limit) still teaches: its returns are truncated.
        sq_err = self._update(states, actions, rewards)
        n = max(len(rewards), 1)
        stats = {
            "losses/td_loss": sq_err / n,
            "losses/q_values": float(self.q[states, actions].mean()),
        }
        return float(sum(rewards)), len(rewards), done, stats

    def _update(self, states, actions, rewards) -> float:
        gamma, alpha = self.config.gamma, self.learning_rate
        first = {}
        if self.config.first_visit:
            for t in range(len(states) - 1, -1, -1):
                first[(states[t], actions[t])] = t
        g, sq_err = 0.0, 0.0
        for t in range(len(states) - 1, -1, -1):
            g = rewards[t] + gamma * g
            s, a = states[t], actions[t]
            if self.config.first_visit and first[(s, a)] != t:
                continue
            self.visits[s, a] += 1
            step = alpha if alpha is not None else 1.0 / self.visits[s, a]
            error = g - self.q[s, a]
            self.q[s, a] += step * error
            sq_err += error * error
        return sq_err
