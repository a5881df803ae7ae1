"""SARSA (Rummery & Niranjan 1994; Sutton & Barto 2nd ed., section 6.4): on-policy TD control
that bootstraps from the action the behaviour policy actually takes next."""

from __future__ import annotations

from agents.td import TDAgent


class Sarsa(TDAgent):
    """SARSA with epsilon-greedy behaviour; hyperparameters in :class:`agents.td.TDConfig`."""

    name = "sarsa"
    next_action_first = True

    def bootstrap(self, s2, a2, epsilon):
        return self.q[s2, a2]
