"""One-step temporal-difference control (Sutton & Barto 2nd ed., chapter 6).

Q-learning, SARSA and Expected SARSA share this loop and differ only in the value they bootstrap
from at the next state (``TDAgent.bootstrap``); each lives in its own small file.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.callbacks import Callback
from agents.tabular import TabularAgent


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


class TDAgent(TabularAgent):
    Config = TDConfig
    #: SARSA picks the next action before the update (it bootstraps from it); Q-learning and
    #: Expected SARSA pick it after, from the updated table, as in the book's pseudo-code.
    next_action_first = False

    def bootstrap(self, s2: int, a2: int | None, epsilon: float) -> float:
        """The estimate of the next state's value that the TD target uses."""
        raise NotImplementedError

    def play_episode(self, seed: int, callback: Callback):
        env, q, gamma = self.env, self.q, self.config.gamma
        s, _ = env.reset(seed=seed)
        epsilon, alpha = self.epsilon, self.learning_rate
        a = self.explore(s, epsilon)
        ret, length, sq_err, q_sum = 0.0, 0, 0.0, 0.0
        while self.num_steps < self.total_steps:
            s2, r, terminated, truncated, _ = env.step(a)
            self.num_steps += 1
            length += 1
            ret += r
            a2 = self.explore(s2, epsilon) if self.next_action_first else None
            # A terminal transition has no future; a time-limit truncation does (bootstrap).
            target = r if terminated else r + gamma * self.bootstrap(s2, a2, epsilon)
            error = target - q[s, a]
            q[s, a] += alpha * error
            sq_err += error * error
            q_sum += q[s, a]
            callback.on_step(self)
            if terminated or truncated:
                stats = {"losses/td_loss": sq_err / length, "losses/q_values": q_sum / length}
                return ret, length, True, stats
            epsilon, alpha = self.epsilon, self.learning_rate
            s, a = s2, a2 if a2 is not None else self.explore(s2, epsilon)
        return ret, length, False, {}
