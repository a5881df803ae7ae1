"""One-step temporal-difference control (Sutton & Barto 2nd ed., chapter 6): Q-learning, SARSA
and Expected SARSA.

The three share one loop and differ in one thing, the value of the next state that the TD target
``r + gamma * next_value(s')`` bootstraps from. Each class below is that one method. With action
masks (``action_masks``, on by default, where the env offers them) the actions taken are legal and
the next value is over the next state's legal actions: its best one, the one taken, or the
epsilon-greedy expectation over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sige_rl.agents.common import masks
from sige_rl.agents.common.interface import Callback
from sige_rl.agents.tabular.base import TabularAgent


@dataclass
class TDConfig:
    gamma: float = 0.99
    """Discount factor."""
    learning_rate: float = 0.5
    """Step size alpha at the start of training."""
    learning_rate_final: float | None = None
    """Step size at the end of training (linear decay); None keeps it constant."""
    epsilon: float = 1.0
    """Exploration probability at the start of training."""
    epsilon_final: float | None = 0.01
    """Exploration probability after ``exploration_fraction`` of training (None: constant)."""
    exploration_fraction: float = 0.5
    """Fraction of the step budget over which epsilon decays linearly."""
    q_init: float = 0.0
    """Initial action value of every (state, action); optimistic values drive exploration."""
    action_masks: bool = True
    """Honour the env's action masks when it offers them (``info["action_mask"]`` or an
    ``action_masks()`` method): actions taken, the next value bootstrapped from, and evaluations
    keep to the legal actions."""


class TDAgent(TabularAgent):
    """The one-step TD control loop; a subclass supplies :meth:`next_value`."""

    Config = TDConfig

    def next_value(
        self, s2: int, epsilon: float, mask: np.ndarray | None
    ) -> tuple[float, int | None]:
        """The estimate of the next state's value in the TD target, and the next action if the
        estimate committed to one (SARSA), else None; ``mask`` is ``s2``'s legal actions."""
        raise NotImplementedError

    def play_episode(self, seed: int, callback: Callback):
        env, q, gamma = self.env, self.q, self.config.gamma
        s, info = env.reset(seed=seed)
        mask = self.mask_of(info)
        epsilon, alpha = self.epsilon, self.learning_rate
        a = self.explore(s, epsilon, mask)
        ret, length, sq_err, q_sum = 0.0, 0, 0.0, 0.0
        while self.num_steps < self.total_steps:
            s2, r, terminated, truncated, info = env.step(a)
            mask = self.mask_of(info)
            self.num_steps += 1
            length += 1
            ret += r
            value, a2 = self.next_value(s2, epsilon, mask)
            # A terminal transition has no future; a time-limit truncation does (bootstrap).
            target = r if terminated else r + gamma * value
            error = target - q[s, a]
            q[s, a] += alpha * error
            sq_err += error * error
            q_sum += q[s, a]
            callback.on_step(self)
            if terminated or truncated:
                stats = {"losses/td_error": sq_err / length, "losses/q_values": q_sum / length}
                return ret, length, True, stats
            epsilon, alpha = self.epsilon, self.learning_rate
            s, a = s2, a2 if a2 is not None else self.explore(s2, epsilon, mask)
        return ret, length, False, {}


class QLearning(TDAgent):
    """Q-learning (Watkins 1989; Sutton & Barto 6.5): off-policy, bootstraps from the greedy
    value ``max_a Q(s', a)``. Hyperparameters in :class:`TDConfig`."""

    name = "q_learning"

    def next_value(self, s2, epsilon, mask):
        row = self.q[s2] if mask is None else masks.masked_scores(self.q[s2], mask)
        return row.max(), None


class Sarsa(TDAgent):
    """SARSA (Rummery & Niranjan 1994; Sutton & Barto 6.4): on-policy, bootstraps from
    ``Q(s', a')`` for the action ``a'`` the behaviour policy takes next. Hyperparameters in
    :class:`TDConfig`."""

    name = "sarsa"

    def next_value(self, s2, epsilon, mask):
        a2 = self.explore(s2, epsilon, mask)  # chosen before the update, and taken next
        return self.q[s2, a2], a2


class ExpectedSarsa(TDAgent):
    """Expected SARSA (van Seijen et al. 2009; Sutton & Barto 6.6): bootstraps from the expected
    next value under the epsilon-greedy policy, without SARSA's sampling variance.
    Hyperparameters in :class:`TDConfig`."""

    name = "expected_sarsa"

    def next_value(self, s2, epsilon, mask):
        return float(self.policy_probs(s2, epsilon, mask) @ self.q[s2]), None
