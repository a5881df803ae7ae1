"""What every agent shares: the agent interface, hyperparameter resolution, the registry,
schedules, replay and vector-env bookkeeping (ARCHITECTURE.md, "agents/")."""
