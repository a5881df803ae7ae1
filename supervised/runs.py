"""Reading run folders back: what each run was (its config.yaml), how it ended (summary.json) and
what it logged (its CSV tables), for comparing runs of either job.

A run folder is any folder holding a ``config.yaml`` as :meth:`~.tracking.Run.record_start`
writes it (ARCHITECTURE.md, "The run folder"): ``options`` (how the job was asked to run),
``hyperparams`` (the settings of what it trained), versions, commit, command. Its tables are its
CSV files, each with a ``step`` column (the training job's ``evaluations.csv``, the supervised
job's ``epochs.csv``); a run that trains several networks in turn keeps a table in each phase's
folder, read here as ``<phase>/<table>``.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

RUN_FILE = "config.yaml"
#: The link a job leaves beside its runs to the newest one; searches skip it (it is a run
#: already found under its own name).
LATEST = "latest"
#: Folders inside a run that hold saved weights, not tables.
NOT_PHASES = frozenset({"checkpoints", "final", "best"})
#: Options that say where or how a run was written, not what it trained (checkpoints change
#: nothing, resume being exact): never a difference between configurations. The seed is one (runs
#: of one configuration differ by it); the name tag is shown on its own.
BOOKKEEPING = frozenset(
    {"seed", "logdir", "no_progress", "device", "name", "run_dir", "save_every"}
)
#: A setting (any part of a dotted key) about times, versions, the commit or the command.
BOOKKEEPING_RE = re.compile(
    r"^((.*_)?(time|time_s|timestamp|date)|versions?|git(_.*)?|command|resumed_with)$"
)
#: Numbers of summary.json that describe the run rather than its result.
SUMMARY_BOOKKEEPING = frozenset({"seed", "steps", "epochs", "steps_per_s", "cpu_time_s"})


@dataclass
class RunFolder:
    """One run, as read from its folder.

    Attributes:
        path: the run folder.
        config: config.yaml as a dict.
        summary: summary.json as a dict; ``{}`` while the run has not written one.
        name: the run's tag (``options.name``), or ``""``.
        group: what the run ran on: the env id (``options.env``) for the training job,
            ``supervised/<task>`` for the supervised job, else the folder two levels up.
        label: what ran: the agent (``options.agent``) or the task, else the parent folder.
        seed: ``options.seed`` (else summary.json's), None if neither has one.
    """

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    group: str = ""
    label: str = ""
    seed: int | None = None

    @classmethod
    def read(cls, path: str | Path) -> RunFolder:
        """Read the run in ``path``; ``ValueError`` if its config.yaml is missing or is not
        a mapping."""
        path = Path(path)
        try:
            config = yaml.safe_load((path / RUN_FILE).read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"{path / RUN_FILE}: cannot be read ({e})") from e
        if not isinstance(config, dict):
            raise ValueError(f"{path / RUN_FILE}: not a run's config (no mapping of settings)")
        summary = _read_summary(path)
        options = config.get("options") or {}
        if "env" in options:  # scripts/train_agent.py
            group, label = str(options["env"]), str(options.get("agent", ""))
        elif "task" in options:  # scripts/train_supervised.py
            group, label = f"supervised/{options['task']}", str(options["task"])
        else:  # <logdir>/<group>/<label>/<run>
            group, label = path.parent.parent.name, path.parent.name
        seed = options.get("seed", summary.get("seed"))
        return cls(
            path=path,
            config=config,
            summary=summary,
            name=str(options.get("name") or ""),
            group=group,
            label=label,
            seed=int(seed) if _is_number(seed) else None,
        )

    @property
    def settings(self) -> dict[str, Any]:
        """``options`` and ``hyperparams`` flattened into one dict (:func:`flatten`); a
        hyperparameter named as an option is kept as ``hyperparams.<key>``."""
        options = flatten(self.config.get("options") or {})
        hyper = flatten(self.config.get("hyperparams") or {})
        return {
            **options,
            **{(f"hyperparams.{k}" if k in options else k): v for k, v in hyper.items()},
        }

    @property
    def exit_reason(self) -> str:
        """summary.json's ``exit_reason`` ("finished", "interrupted", ...), or ``"unknown"``
        without a summary (a run still going, or killed outright)."""
        return str(self.summary.get("exit_reason", "unknown"))

    @property
    def wall_time_s(self) -> float | None:
        value = self.summary.get("wall_time_s")
        return float(value) if _is_number(value) else None

    @property
    def steps(self) -> int | None:
        """How far the run went: summary.json's ``steps`` (or ``epochs``), else the last
        ``step`` of its tables."""
        for key in ("steps", "epochs"):
            if _is_number(self.summary.get(key)):
                return int(self.summary[key])
        last = [
            _number(rows[-1].get("step")) for rows in map(_read_rows, tables(self).values()) if rows
        ]
        last = [s for s in last if s is not None and not math.isnan(s)]
        return int(max(last)) if last else None


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- finding runs -------------------------------------------------------------------------------
def find_runs(paths_or_globs: str | Path | Iterable[str | Path]) -> list[RunFolder]:
    """The runs named by each argument, in the order given, each once.

    An argument is a run folder (one holding config.yaml), a folder holding runs at any depth,
    or a glob pattern (``runs/*/dqn/*``, ``runs/**``), expanded here when the shell did not.
    A search skips the links named :data:`LATEST` that jobs leave beside their runs (a run
    given by such a link is read). Runs reached twice (by two arguments, or by a link) are
    kept once, by their resolved path; within an argument they are sorted by path, which sorts
    a folder's runs by start time.

    Raises:
        ValueError: naming the argument, when it does not exist, matches nothing, or holds no
            run; or naming a config.yaml that cannot be read.
    """
    if isinstance(paths_or_globs, (str, Path)):
        paths_or_globs = [paths_or_globs]
    found: dict[Path, RunFolder] = {}
    for arg in paths_or_globs:
        for folder in _run_folders(str(arg)):
            key = folder.resolve()
            if key not in found:
                found[key] = RunFolder.read(folder)
    return list(found.values())


def _run_folders(arg: str) -> list[Path]:
    given = Path(arg)
    if given.exists():
        candidates = [given]
    elif glob.has_magic(arg):
        candidates = [
            p
            for p in map(Path, sorted(glob.glob(arg, recursive=True)))
            if not (p.name == LATEST and p.is_symlink())
        ]
        if not candidates:
            raise ValueError(f"{arg}: no file or folder matches this pattern")
    else:
        raise ValueError(f"{arg}: no such file or folder")
    folders: list[Path] = []
    for candidate in candidates:
        if candidate.is_dir():
            folders.extend(_search(candidate))
        elif candidate.name == RUN_FILE:
            folders.append(candidate.parent)
    if not folders:
        raise ValueError(f"{arg}: holds no run folder (a folder with a {RUN_FILE})")
    return folders


def _search(root: Path) -> list[Path]:
    """Run folders in ``root`` or below it, sorted; a run's own subfolders are not searched."""
    out: list[Path] = []
    seen: set[Path] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = folder.resolve()
        if real in seen:  # a link back up the tree
            continue
        seen.add(real)
        if (folder / RUN_FILE).is_file():
            out.append(folder)
            continue
        try:
            children = [c for c in folder.iterdir() if c.is_dir()]
        except OSError:
            continue
        stack.extend(c for c in children if not (c.name == LATEST and c.is_symlink()))
    return sorted(out)


# -- configurations -----------------------------------------------------------------------------
def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one dict with dotted keys: ``{"a": {"b": 1}, "c": [2]}`` ->
    ``{"a.b": 1, "c": [2]}``. Lists stay values; an empty mapping gives no key."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def is_bookkeeping(key: str) -> bool:
    """Whether the setting ``key`` records how a run was written rather than what it trained:
    :data:`BOOKKEEPING` options, and any key with a part about times, versions, the commit or
    the command (:data:`BOOKKEEPING_RE`)."""
    return key in BOOKKEEPING or any(BOOKKEEPING_RE.match(part) for part in key.split("."))


def _is_unset(value: Any) -> bool:
    # A setting a run lacks is unset, as one that is None, False or "": a resumed run records
    # options that its first start did not (a switch of the resume, off).
    return value is None or value is False or (isinstance(value, str) and value == "")


def config_differences(runs: Sequence[RunFolder]) -> list[str]:
    """The settings (keys of :attr:`RunFolder.settings`) whose values differ between ``runs``,
    in the order first met. A key some runs lack differs unless its value is None, False or ""
    wherever it is set. Bookkeeping (:func:`is_bookkeeping`), the seed among it, is left out:
    runs that differ only there are one configuration."""
    settings = [r.settings for r in runs]
    keys = list(dict.fromkeys(k for s in settings for k in s))

    def value(s: dict[str, Any], key: str) -> Any:
        v = s.get(key)
        return None if _is_unset(v) else v

    return [
        k
        for k in keys
        if not is_bookkeeping(k) and any(value(s, k) != value(settings[0], k) for s in settings)
    ]


def configuration(run: RunFolder) -> tuple[tuple[str, str], ...]:
    """What makes ``run`` one of a configuration's seeds: its group, label, name tag and every
    setting but the bookkeeping and the unset ones (see :func:`config_differences`), as a
    hashable tuple: runs with equal tuples differ by seed."""
    kept = sorted(
        (k, repr(v)) for k, v in run.settings.items() if not is_bookkeeping(k) and not _is_unset(v)
    )
    return (("group", run.group), ("label", run.label), ("name", run.name), *kept)


# -- tables -------------------------------------------------------------------------------------
def tables(run: RunFolder) -> dict[str, Path]:
    """The run's CSV tables by name: ``<table>`` for one in the run folder, ``<phase>/<table>``
    for one in a phase's folder inside it."""
    found = {p.stem: p for p in sorted(run.path.glob("*.csv"))}
    for phase in sorted(p for p in run.path.iterdir() if p.is_dir()):
        if phase.name not in NOT_PHASES:
            found.update({f"{phase.name}/{p.stem}": p for p in sorted(phase.glob("*.csv"))})
    return found


def _read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(text: Any) -> float | None:
    """A CSV cell as a float: NaN for an empty cell, None for one that is not a number."""
    if text is None:
        return None
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return None


def _columns(run: RunFolder, only: str | None = None) -> list[tuple[str, str, list[dict]]]:
    """``(metric name, column, rows)`` for each numeric column but ``step`` of the run's tables
    (of table ``only`` if given): a root table's columns keep their names (prefixed with the
    table's when two tables share one), a phase's are ``<phase>/<column>``."""
    named = tables(run)
    if only is not None:
        if only not in named:
            raise ValueError(f"{run.path}: no table {only!r}; it has: {', '.join(named) or 'none'}")
        named = {only: named[only]}
    out, taken = [], set()
    for table, path in named.items():
        rows = _read_rows(path)
        if not rows:
            continue
        phase = table.rpartition("/")[0]
        for column in rows[0]:
            if column == "step" or column is None:
                continue
            values = [_number(r.get(column)) for r in rows]
            if any(v is None for v in values) or all(math.isnan(v) for v in values):
                continue
            metric = f"{phase}/{column}" if phase else column
            if metric in taken:
                metric = f"{table}/{column}"
            taken.add(metric)
            out.append((metric, column, rows))
    return out


def final_metrics(run: RunFolder) -> dict[str, float | str]:
    """What a run ended with, by name.

    The numbers of the last row of each of its tables (see :func:`curves` for the names; an
    empty cell is NaN), then the numbers of summary.json: those of its ``final_evaluation``
    when it has one, and its own top-level numbers but the bookkeeping
    (:data:`SUMMARY_BOOKKEEPING`, times) — a test set's figures, for the supervised job. Last,
    ``wall_time_s`` (NaN without a summary) and ``exit_reason`` (a string,
    :attr:`RunFolder.exit_reason`).
    """
    out: dict[str, float | str] = {}
    for metric, column, rows in _columns(run):
        out[metric] = float(_number(rows[-1].get(column)))
    final = run.summary.get("final_evaluation")
    if isinstance(final, Mapping):
        out.update({k: float(v) for k, v in final.items() if _is_number(v) and k != "step"})
    for key, value in run.summary.items():
        if _is_number(value) and key not in SUMMARY_BOOKKEEPING and not is_bookkeeping(key):
            out[key] = float(value)
    wall = run.wall_time_s
    out["wall_time_s"] = math.nan if wall is None else wall
    out["exit_reason"] = run.exit_reason
    return out


def curves(run: RunFolder, table: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every numeric column of the run's tables (or of ``table``, a name of :func:`tables`)
    against its table's ``step`` column: metric -> ``(x, y)``, float arrays without the rows
    where the column is empty. Tables without a ``step`` column give none.

    Raises:
        ValueError: ``table`` is not one of the run's tables.
    """
    out = {}
    for metric, column, rows in _columns(run, table):
        steps = np.array([_number(r.get("step")) for r in rows], dtype=object)
        if any(s is None for s in steps):
            continue
        x = steps.astype(np.float64)
        y = np.array([_number(r.get(column)) for r in rows], dtype=np.float64)
        keep = ~(np.isnan(x) | np.isnan(y))
        out[metric] = (x[keep], y[keep])
    return out


def align_curves(points: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Curves of several runs on one x: the x values they share (seeds of one configuration
    evaluate at the same steps; a run cut short shortens them all), or, where they share none,
    the shortest curve's x within the range they all cover, each curve interpolated there.
    Returns ``(x, values)`` with ``values`` of shape ``(runs, points)``."""
    shared = points[0][0]
    for x, _ in points[1:]:
        shared = np.intersect1d(shared, x)
    if shared.size == 0:
        low = max(x.min() for x, _ in points)
        high = min(x.max() for x, _ in points)
        shortest = min((x for x, _ in points), key=len)
        shared = shortest[(shortest >= low) & (shortest <= high)]
    return shared, np.stack([np.interp(shared, x, y) for x, y in points])


def relative_names(runs: Sequence[RunFolder]) -> list[str]:
    """Each run's folder relative to the folder that holds them all (its own name for a lone
    run), with ``/`` separators."""
    if not runs:
        return []
    paths = [r.path.resolve() for r in runs]
    if len(paths) == 1:
        return [paths[0].name]
    common = Path(os.path.commonpath([p.parent for p in paths]))
    return [p.relative_to(common).as_posix() for p in paths]
