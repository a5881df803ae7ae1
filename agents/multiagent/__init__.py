"""Multi-agent learning: a PettingZoo ``ParallelEnv`` trained with one shared policy.

``ParallelEnvVecEnv`` (:mod:`.parallel_vec_env`) turns the env's agents into the slots of one
Stable-Baselines3 ``VecEnv`` (parameter sharing: each agent's observation and its one-hot id,
one batch), so that ``sb3-ppo`` and ``sb3-a2c`` train on it unchanged; :mod:`.ids` names the
multi-agent ids and what our learners add to each (observation scaling, evaluation metrics);
:mod:`.scaling` holds the fixed observation scaling. ``ParallelEnvVecEnv`` is imported on first
use: it needs Stable-Baselines3 (and torch), which the rest of this package does not.
"""

from __future__ import annotations

from typing import Any

from sige_rl.agents.multiagent.scaling import ObservationScaling

__all__ = ["ObservationScaling", "ParallelEnvVecEnv"]


def __getattr__(name: str) -> Any:
    if name == "ParallelEnvVecEnv":
        from sige_rl.agents.multiagent.parallel_vec_env import ParallelEnvVecEnv

        return ParallelEnvVecEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
