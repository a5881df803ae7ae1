"""Agents that plan on the environment's own state rather than learn: the search-state protocol
(``protocol.py``), and the do-nothing and one-step greedy baselines (``baselines.py``). MCTS and
AlphaZero come here too (ARCHITECTURE.md)."""
