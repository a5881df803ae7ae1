"""Tabular agents: dynamic programming on an exact model, Monte Carlo and TD control."""
