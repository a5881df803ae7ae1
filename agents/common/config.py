"""Hyperparameter resolution: dataclass default < per-env YAML < ``--config FILE`` < ``--set k=v``.

Every agent declares a ``@dataclass`` of typed, documented hyperparameters. Tuned values live in
``agents/hyperparams/<agent>.yaml`` keyed by env id (RL Zoo style). Each layer is checked against
the dataclass by :func:`sige_rl.supervised.config.resolve`. An entry may also carry RL Zoo's
``n_timesteps`` and ``n_envs``: not hyperparameters of the agent but the training job's defaults
for that env (:func:`tuned_job_options`).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

# The layering itself is not about agents: it lives in supervised/config.py, shared with the
# supervised job. These names are part of this module's interface too.
from sige_rl.supervised.config import (  # noqa: F401
    ConfigError,
    coerce,
    parse_sets,
    read_config_file,
    resolve,
)

#: Keys of a tuned entry that are options of the training job (RL Zoo's names), not of the agent.
JOB_KEYS = ("n_timesteps", "n_envs")


def tuned_entry(agent_name: str, env_id: str) -> dict[str, Any]:
    """The whole entry for ``env_id`` in ``agents/hyperparams/<agent_name>.yaml`` (or ``{}``)."""
    res = resources.files("sige_rl.agents.hyperparams").joinpath(f"{agent_name}.yaml")
    if not res.is_file():
        return {}
    table = yaml.safe_load(res.read_text()) or {}
    return dict(table.get(env_id) or {})


def tuned_hyperparams(agent_name: str, env_id: str) -> dict[str, Any]:
    """The tuned hyperparameters for ``env_id`` (the entry less :data:`JOB_KEYS`)."""
    return without_job_keys(tuned_entry(agent_name, env_id))


def tuned_job_options(agent_name: str, env_id: str) -> dict[str, int]:
    """The entry's ``n_timesteps`` (step budget it was tuned for) and ``n_envs``, where set."""
    entry = tuned_entry(agent_name, env_id)
    return {k: int(entry[k]) for k in JOB_KEYS if k in entry}


def without_job_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in JOB_KEYS}
