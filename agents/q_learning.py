"""Q-learning (Watkins 1989; Sutton & Barto 2nd ed., section 6.5): off-policy TD control that
bootstraps from the greedy value of the next state."""

from __future__ import annotations

from agents.td import TDAgent


class QLearning(TDAgent):
    """Q-learning with epsilon-greedy behaviour; hyperparameters in :class:`agents.td.TDConfig`."""

    name = "q_learning"

    def bootstrap(self, s2, a2, epsilon):
        return self.q[s2].max()
