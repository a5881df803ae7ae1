"""Agents that plan on the environment's own state rather than learn: the search-state protocols
(``protocol.py``), the do-nothing, greedy and thermostat baselines (``baselines.py``), UCT with the
MCTS-Solver (``mcts.py``), perfect play by minimax (``minimax.py``) and Connect Four's endgame
solver (``connect_four_solver.py``). AlphaZero comes here too (ARCHITECTURE.md)."""
