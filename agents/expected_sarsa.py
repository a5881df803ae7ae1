"""Expected SARSA (van Seijen et al. 2009; Sutton & Barto 2nd ed., section 6.6): bootstraps from
the expected next value under the epsilon-greedy policy, removing SARSA's sampling variance."""

from __future__ import annotations

from agents.td import TDAgent


class ExpectedSarsa(TDAgent):
    """Expected SARSA, epsilon-greedy behaviour; hyperparameters in :class:`agents.td.TDConfig`."""

    name = "expected_sarsa"

    def bootstrap(self, s2, a2, epsilon):
        return float(self.policy_probs(s2, epsilon) @ self.q[s2])
