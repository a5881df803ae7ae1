"""Typed configuration from layers: a dataclass's defaults overlaid by mappings read from YAML
files and ``key=value`` pairs, each value checked against the field's type.

Both training jobs use it (the agents' hyperparameters, the supervised tasks' settings): an
unknown key is an error listing the valid ones, a value of the wrong type an error naming the
expected type, and the harmless cases are converted (int -> float, ``"1e-3"`` -> 0.001).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A key or value that the configuration does not accept."""


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


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a config dataclass (and of its bases), read from the
    source as the class is written."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            tree = ast.parse(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def field_table(cls: type, tuned: Mapping[str, Any] | None = None) -> list[str]:
    """Two lines per field of the dataclass ``cls``: ``name (type): default ...`` (with the
    ``tuned`` value where given), then its documentation (:func:`field_docs`)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    tuned = tuned or {}
    lines = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kind = getattr(hints[f.name], "__name__", None) or str(hints[f.name])
        value = f"default {default!r}"
        if f.name in tuned:
            value += f", tuned {tuned[f.name]!r}"
        lines.append(f"  {f.name} ({kind.replace('typing.', '')}): {value}")
        if f.name in docs:
            lines.append(f"      {docs[f.name]}")
    return lines
