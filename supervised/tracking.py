"""The run tracker: one folder per run holding its config, TensorBoard events, CSV tables,
checkpoints, the final artefact and a summary.

Agents and the supervised fit loop both log through a :class:`Run`; nothing here knows what is
being trained. Layout (ARCHITECTURE.md, "The run folder")::

    <root>/config.yaml   events.out.tfevents.*   <table>.csv   checkpoints/step_<N>/
    final/   summary.json
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

CHECKPOINT_RE = re.compile(r"^step_(\d+)$")
#: The exit code of a job stopped by a signal (the shell's 128 + signal number).
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def run_name(seed: int) -> str:
    """Folder name of a new run: local time then seed, e.g. ``20261127-142501_s0``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}_s{seed}"


class Run:
    """A run folder with a lazily opened TensorBoard writer.

    Args:
        root: the run folder; created if missing.
        resume_step: when continuing a run, the step of the checkpoint it resumes from: events
            logged after it by the interrupted process are purged from TensorBoard and rows after
            it dropped from every CSV table, so the resumed run's logs read as one run.
    """

    def __init__(self, root: str | Path, resume_step: int | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._resume_step = resume_step
        self._writer = None
        if resume_step is not None:
            for table in self.root.glob("*.csv"):
                self._truncate_table(table, resume_step)

    @property
    def writer(self):
        """The ``torch.utils.tensorboard.SummaryWriter`` of this run (opened on first use)."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            # TensorBoard hides events at steps >= purge_step written by the interrupted process.
            purge = None if self._resume_step is None else self._resume_step + 1
            self._writer = SummaryWriter(str(self.root), purge_step=purge)
        return self._writer

    def log_scalar(self, key: str, value: float, step: int) -> None:
        self.writer.add_scalar(key, float(value), step)

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        for key, value in values.items():
            self.log_scalar(key, value, step)

    def log_hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """Record hyperparameters in TensorBoard's HPARAMS tab and as a text table."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        flat = {
            k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()
        }
        file_writer = self.writer._get_file_writer()
        for summary in hparams_summary(flat, dict(metrics)):
            file_writer.add_summary(summary)
        table = "\n".join(f"|{k}|{v}|" for k, v in flat.items())
        self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{table}")

    def record_start(
        self,
        options: Mapping[str, Any],
        hyperparams: Mapping[str, Any],
        command: str,
        packages: Sequence[str],
        hparams: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> None:
        """config.yaml of a new run (its options, hyperparameters, the versions of ``packages``,
        the git commit and the command) and TensorBoard's hparams (``hparams`` against
        ``metrics``)."""
        self.write_yaml(
            "config.yaml",
            {
                "options": dict(options),
                "hyperparams": dict(hyperparams),
                "versions": package_versions(packages),
                "git_commit": git_commit(),
                "command": command,
            },
        )
        self.log_hparams(hparams, metrics)

    def record_resume(self, options: Mapping[str, Any], command: str) -> None:
        """config.yaml of a resumed run: its options as they are now, and each resume command."""
        saved = self.read_yaml("config.yaml")
        resumed = [*saved.get("resumed_with", []), command]
        self.write_yaml("config.yaml", {**saved, "options": dict(options), "resumed_with": resumed})

    def write_yaml(self, name: str, data: Mapping[str, Any]) -> Path:
        path = self.root / name
        path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
        return path

    def read_yaml(self, name: str) -> dict[str, Any]:
        return yaml.safe_load((self.root / name).read_text())

    def read_json(self, name: str) -> dict[str, Any] | None:
        """``name`` read as JSON, or None if it is missing or unreadable."""
        try:
            data = json.loads((self.root / name).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        path = self.root / name
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(dict(data), indent=2, default=_json_default))
        tmp.replace(path)
        return path

    def append_row(self, table: str, row: Mapping[str, Any]) -> None:
        """Append ``row`` to ``<table>.csv``, writing the header the first time."""
        path = self.root / f"{table}.csv"
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                out.writeheader()
            out.writerow({k: _csv_value(v) for k, v in row.items()})

    def read_table(self, table: str) -> list[dict[str, str]]:
        path = self.root / f"{table}.csv"
        if not path.exists():
            return []
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))

    @property
    def checkpoint_root(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoint_root / f"step_{step}"

    def checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints as ``(step, path)``, oldest first (temporary folders ignored)."""
        if not self.checkpoint_root.is_dir():
            return []
        found = []
        for p in self.checkpoint_root.iterdir():
            m = CHECKPOINT_RE.match(p.name)
            if m and p.is_dir():
                found.append((int(m.group(1)), p))
        return sorted(found)

    def latest_checkpoint(self) -> tuple[int, Path] | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def last_saved(self) -> Path | None:
        """What the run leaves to load: ``final/`` if it finished, else its latest checkpoint;
        None if it has neither."""
        if (self.root / "final").is_dir():
            return self.root / "final"
        latest = self.latest_checkpoint()
        return None if latest is None else latest[1]

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @staticmethod
    def _truncate_table(path: Path, step: int) -> None:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
            fields = rows[0].keys() if rows else None
        if fields is None or "step" not in fields:
            return
        kept = [r for r in rows if int(r["step"]) <= step]
        with open(path, "w", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=list(fields))
            out.writeheader()
            out.writerows(kept)


def point_latest(run_dir: str | Path) -> None:
    """Point the link ``latest`` beside ``run_dir`` at it (relative, replaced atomically), so
    ``<logdir>/<env>/<agent>/latest`` is always the newest run. Where links cannot be made (some
    Windows accounts), there is simply no link."""
    run_dir = Path(run_dir)
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(run_dir.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """The Python version and each installed package's version ("not installed" if absent)."""
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit() -> str | None:
    """The commit of the code that runs, when it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def tensorboard_command(logdir: str | Path) -> str:
    """A TensorBoard command that works when pasted: the one installed beside this interpreter."""
    exe = Path(sys.executable).with_name("tensorboard")
    tb = [str(exe)] if exe.is_file() else [sys.executable, "-m", "tensorboard.main"]
    return shlex.join([*tb, "--logdir", str(logdir)])


def _csv_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
