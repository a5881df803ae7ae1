"""The multi-agent env ids the training job knows, and what our learners add to each (numpy
and Gymnasium only: the training job imports this for every run, and a tabular run never pays
for Stable-Baselines3).

An id's ``ParallelEnv`` factory is named in ``sige_rl.envs.MULTI_AGENT_IDS`` (``"module:factory"``);
this module reads that table by name, as ``agents/training/cli.py`` imports ``sige_rl.envs`` by
name, so the agents layer never imports the envs. Per id it adds:

- :data:`OBSERVATION_SCALING`: the fixed affine scaling (:class:`ObservationScaling`) that
  ``ParallelEnvVecEnv`` applies before the policy sees an observation;
- :data:`EVAL_METRICS`: the info keys that an evaluation reports per episode, summed over the
  agents (``"agents"``) or counted once (``"community"``: the same value in every agent's info);
- :func:`learners`: the agents that train on the id through the adapter (parameter sharing).
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from sige_rl.agents.multiagent.scaling import ObservationScaling

#: The observation scaling per id: ``(obs - centre) / scale`` per feature, so that every feature
#: a policy sees is of order one whatever its unit (PPO's and A2C's networks start from small
#: weights: a temperature of 20 deg C next to a price of 0.2 EUR/kWh would drown the price).
#: Fixed, not running statistics (SB3's VecNormalize), so that checkpoints hold nothing more than
#: the policy and a run evaluates exactly as it trained. Features past the table's length (the
#: env's own ``agent_id_in_obs`` one-hot) pass unscaled.
OBSERVATION_SCALING: dict[str, ObservationScaling] = {
    # envs/building/community.py's OBSERVATION_NAMES_COMMUNITY, in order. Every temperature of
    # the building and its comfort band shares one map (20 deg C, 5 K), so that their
    # differences -- what the comfort violation depends on -- keep their proportions; the
    # outdoor air spans the climates (-10 deg C Helsinki winter to 35 deg C Seville summer).
    "sige/EnergyCommunity-v0": ObservationScaling(
        centre=(
            20.0,  # indoor_c
            20.0,  # envelope_c
            10.0,  # outdoor_c
            0.0,  # solar_kw_m2 (0 to about 1)
            0.5,  # occupancy (0..1)
            0.25,  # price_eur_kwh (the tariff's 0.18 / 0.26 / 0.34)
            20.0,  # band_low_c
            20.0,  # band_high_c
            0.0,  # hour_sin
            0.0,  # hour_cos
            0.5,  # weekday (0 or 1)
            0.5,  # occupancy_next_hour
            0.25,  # price_next_hour
            0.5,  # soc_fraction (0..1)
            1.0,  # feeder_ratio: 0 at the feeder limit, positive above it
            0.0,  # pv_share_kw (up to about 3 kW for 4 kWp)
        ),
        scale=(5.0, 5.0, 10.0, 0.5, 0.5, 0.1, 5.0, 5.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.5, 0.5, 2.0),
    ),
}

#: Per id: info key -> "agents" (summed over the agents) or "community" (counted once).
EVAL_METRICS: dict[str, dict[str, str]] = {
    "sige/EnergyCommunity-v0": {
        "cost_eur": "agents",
        "violation_kh": "agents",
        "feeder_excess_kwh": "community",
    },
}

#: Agents that train with parameter sharing on any multi-agent id: one SB3 policy on the
#: adapter's slots. sb3-dqn joins them where the agents' actions are Discrete.
SHARED_POLICY_LEARNERS = ("sb3-ppo", "sb3-a2c")


def multi_agent_ids() -> dict[str, str]:
    """``sige_rl.envs.MULTI_AGENT_IDS``: id -> ``"module:factory"`` of the ``ParallelEnv``."""
    return dict(importlib.import_module("sige_rl.envs").MULTI_AGENT_IDS)


def is_multi_agent(env_id: str) -> bool:
    """Whether ``env_id`` (with or without a ``module:`` prefix) is a multi-agent id."""
    return env_id.rpartition(":")[2] in multi_agent_ids()


def make_parallel_env(env_id: str, **kwargs: Any):
    """One ``ParallelEnv`` of the id, made by its factory with ``kwargs``."""
    name = env_id.rpartition(":")[2]
    ids = multi_agent_ids()
    if name not in ids:
        raise ValueError(f"{name!r} is not a multi-agent id (they are: {', '.join(ids)})")
    module, _, factory = ids[name].partition(":")
    return getattr(importlib.import_module(module), factory)(**kwargs)


def make_vec_env(env_id: str, num_copies: int = 1, **kwargs: Any):
    """``num_copies`` copies of the id's ``ParallelEnv`` (made with ``kwargs``) as one SB3
    ``VecEnv`` (:class:`~.parallel_vec_env.ParallelEnvVecEnv`), with the id's observation
    scaling and the agents' one-hot ids."""
    from sige_rl.agents.multiagent.parallel_vec_env import ParallelEnvVecEnv  # imports SB3

    name = env_id.rpartition(":")[2]
    make_parallel_env(name, **kwargs).close()  # a bad id or argument fails here, once
    return ParallelEnvVecEnv(
        lambda: make_parallel_env(name, **kwargs),
        num_copies,
        scaling=OBSERVATION_SCALING.get(name),
        agent_ids=True,
    )


def eval_metrics(env_id: str) -> dict[str, str]:
    return dict(EVAL_METRICS.get(env_id.rpartition(":")[2], {}))


def learners(action_space: gym.Space) -> list[str]:
    """The agents that can train on a multi-agent env whose agents act in ``action_space``."""
    extra = ["sb3-dqn"] if isinstance(action_space, gym.spaces.Discrete) else []
    return [*SHARED_POLICY_LEARNERS, *extra]
