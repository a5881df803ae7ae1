"""Hyperparameter resolution: dataclass default < per-env YAML < ``--config FILE`` < ``--set k=v``.

Every agent declares a ``@dataclass`` of typed, documented hyperparameters. Tuned values live in
``agents/hyperparams/<agent>.yaml`` keyed by env id (RL Zoo style). Each layer is checked against
the dataclass: an unknown key is an error listing the valid ones, a value of the wrong type is an
error naming the expected type. An entry may also carry RL Zoo's ``n_timesteps`` and ``n_envs``:
not hyperparameters of the agent but the training job's defaults for that env
(:func:`tuned_job_options`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A hyperparameter key or value that the agent does not accept."""


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


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML mapping of hyperparameters given with ``--config``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value")
    return data


def without_job_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in JOB_KEYS}


def parse_sets(pairs: Iterable[str]) -> dict[str, Any]:
    """``["lr=0.1", "double=true"]`` -> ``{"lr": 0.1, "double": True}`` (values read as YAML)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def resolve(cls: type, *layers: tuple[str, Mapping[str, Any]]) -> Any:
    """Build ``cls`` from its defaults overlaid by each ``(source_name, values)`` layer in turn."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for source, layer in layers:
        for key, value in layer.items():
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=3)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise ConfigError(
                    f"unknown hyperparameter {key!r} (from {source}) for {cls.__name__}{hint} "
                    f"valid keys: {', '.join(fields)}"
                )
            values[key] = coerce(value, hints[key], f"{key} (from {source})")
    return cls(**values)


def coerce(value: Any, hint: Any, what: str) -> Any:
    """Check ``value`` against the type ``hint``; convert the harmless cases (int -> float,
    ``"1e-3"`` -> 0.001). Raise :class:`ConfigError` otherwise."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option, what)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(
                f"{what} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
            )
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{what} must be true or false; got {value!r}")
    if hint in (int, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{what} must be a number; got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{what} must be a number; got {value!r}")
        if hint is int:
            if float(value) != int(value):
                raise ConfigError(f"{what} must be an integer; got {value!r}")
            return int(value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{what} must be a string; got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{what} must be a list; got {value!r}")
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return [coerce(v, item, what) for v in value] if item is not Any else list(value)
    return value
