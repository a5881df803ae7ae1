"""``scripts/compare_runs.py RUN_DIR... | GLOB``: compare runs of either job side by side.

It reads each run folder (:mod:`sige_rl.supervised.runs`), groups the runs into configurations
(same env or task, agent, name tag and settings; they differ by seed), and writes to ``--out``:

    runs.md, runs.csv     one row per run: folder, tag, group, agent or task, seed, each setting
                          that differs between runs, final metrics, steps, wall time, exit reason
    aggregate.md, .csv    per configuration and metric: the number of seeds and the mean, median
                          and IQM of the final values with 95% bootstrap intervals
    curves_<group>_<metric>.png
                          per env (or task) and metric: each configuration's mean curve over its
                          seeds and its 95% bootstrap band (matplotlib, the plots extra)
    tensorboard/<run>/    each run's settings and final metrics for TensorBoard's HPARAMS tab

Exit codes: 0 done, 2 bad input (no run found, an unknown metric).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sige_rl.supervised import stats
from sige_rl.supervised.runs import (
    RunFolder,
    align_curves,
    config_differences,
    configuration,
    curves,
    final_metrics,
    find_runs,
    relative_names,
)
from sige_rl.supervised.tracking import tensorboard_command

#: Settings shown by their own columns (group, agent or task): never a column of differences.
SHOWN = ("env", "agent", "task")
#: Final values with columns of their own in the table, not metrics.
NOT_METRICS = ("wall_time_s", "exit_reason")
#: Columns that describe an evaluation rather than score it: shown only when --metric asks.
COUNTS = ("episodes", "capped")
SAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compare_runs.py",
        description="Compare runs of train_agent.py or train_supervised.py: a table of their "
        "settings and final metrics, the aggregate over the seeds of each configuration, "
        "learning curves, and TensorBoard's HPARAMS view.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUNS",
        help="run folders, folders holding runs (searched at any depth), or glob patterns",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="where the outputs go (default: compare/<YYYYmmdd-HHMMSS> in this folder)",
    )
    p.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="a metric to show (repeatable; default: every numeric column of the runs' tables "
        "and every result in their summaries, less the evaluations' counts: episodes, capped)",
    )
    p.add_argument("--no-plots", action="store_true", help="no curve figures")
    return p


@dataclass
class Config:
    """The runs of one configuration (its seeds) and how they are named."""

    group: str
    label: str
    runs: list[RunFolder] = field(default_factory=list)
    #: per run: its final metrics (:func:`~sige_rl.supervised.runs.final_metrics`)
    finals: list[dict[str, Any]] = field(default_factory=list)
    #: per run: its curves (:func:`~sige_rl.supervised.runs.curves`)
    curves: list[dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        runs = find_runs(args.runs)
    except ValueError as e:
        parser.error(str(e))
    finals = [final_metrics(r) for r in runs]
    available = list(dict.fromkeys(k for f in finals for k in f if k not in NOT_METRICS))
    series = [curves(r) for r in runs]  # their metrics are among the final ones
    metrics = args.metric or [m for m in available if m not in COUNTS]
    unknown = [m for m in metrics if m not in available]
    if unknown:
        parser.error(
            f"--metric {', '.join(unknown)}: not a metric of these runs; they have: "
            f"{', '.join(available) or 'none'}"
        )
    out = output_folder(args.out)
    names = relative_names(runs)

    columns, rows = run_table(runs, names, finals, metrics)
    table = markdown(columns, rows)
    print(table)
    (out / "runs.md").write_text(table + "\n")
    write_csv(out / "runs.csv", columns, rows)

    configs = configurations(runs, finals, series)
    agg_columns, agg_rows = aggregate_table(configs, metrics)
    aggregate = aggregate_markdown(agg_rows)
    print()
    print(aggregate)
    (out / "aggregate.md").write_text(
        "Final values over the seeds of each configuration: mean, median and IQM with 95% "
        "percentile-bootstrap intervals (2,000 resamples of the seeds).\n\n" + aggregate + "\n"
    )
    write_csv(out / "aggregate.csv", agg_columns, agg_rows)

    figures, maps = [], []
    if not args.no_plots:
        try:
            figures = plot_curves(configs, metrics, out)
        except ImportError as e:
            figures = None
            print(f"\nno figures: {e}", file=sys.stderr)
        maps = [] if figures is None else policy_maps(runs, names, out)
    board = out / "tensorboard"
    write_hparams(runs, names, finals, board)

    print(f"\nOutputs in {out}: runs.md, runs.csv, aggregate.md, aggregate.csv", end="")
    print(f", {len(figures)} figure(s) curves_*.png" if figures else "", end="")
    print(f", {len(maps)} policy map(s) policy_*.png" if maps else "", end="")
    print(f", tensorboard/\nHPARAMS view: {tensorboard_command(board)}")
    return 0


# -- the table of runs --------------------------------------------------------------------------
def output_folder(out: str | None) -> Path:
    """``out``, created; by default a new ``compare/<YYYYmmdd-HHMMSS>`` in this folder."""
    if out is not None:
        path = Path(out)
    else:
        base = Path("compare") / time.strftime("%Y%m%d-%H%M%S")
        path, n = base, 1
        while path.exists():
            path, n = base.with_name(f"{base.name}-{n}"), n + 1
    path.mkdir(parents=True, exist_ok=True)
    return path


def differing_settings(runs: Sequence[RunFolder]) -> list[str]:
    """The settings that differ between runs of one group (env or task), over all groups: runs
    of different groups differ by their group, shown on its own."""
    by_group: dict[str, list[RunFolder]] = {}
    for r in runs:
        by_group.setdefault(r.group, []).append(r)
    keys = [k for members in by_group.values() for k in config_differences(members)]
    return [k for k in dict.fromkeys(keys) if k not in SHOWN]


def run_table(
    runs: Sequence[RunFolder],
    names: Sequence[str],
    finals: Sequence[dict[str, Any]],
    metrics: Sequence[str],
) -> tuple[list[str], list[list[Any]]]:
    """The columns and rows of the table of runs (values as read; see :func:`format_cell`)."""
    keys = differing_settings(runs)
    columns = ["folder", "name", "group", "agent/task", "seed", *keys, *metrics]
    columns += ["steps done", "wall time (s)", "exit"]
    rows = []
    for run, name, final in zip(runs, names, finals, strict=True):
        settings = run.settings
        rows.append(
            [
                name,
                run.name,
                run.group,
                run.label,
                run.seed,
                *[settings.get(k) for k in keys],
                *[final.get(m) for m in metrics],
                run.steps,
                final["wall_time_s"],
                final["exit_reason"],
            ]
        )
    return columns, rows


def format_cell(value: Any) -> str:
    """A value as a table shows it: numbers to 4 significant digits, nothing for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table ('|' in a cell escaped)."""

    def line(cells):
        return "| " + " | ".join(format_cell(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(columns), "|" + "---|" * len(columns), *map(line, rows)])


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        out.writerows(
            ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row]
            for row in rows
        )


# -- configurations and their aggregates --------------------------------------------------------
def configurations(
    runs: Sequence[RunFolder],
    finals: Sequence[dict[str, Any]],
    series: Sequence[dict[str, tuple[np.ndarray, np.ndarray]]],
) -> list[Config]:
    """The runs grouped by configuration (group, agent or task, name tag and every setting but
    the seed and bookkeeping), in the order first met; each named by its label and tag and,
    where its group holds several configurations, the settings that tell them apart."""
    found: dict[tuple, Config] = {}
    for run, final, curve in zip(runs, finals, series, strict=True):
        config = found.setdefault(configuration(run), Config(run.group, run.label))
        config.runs.append(run)
        config.finals.append(final)
        config.curves.append(curve)
    configs = list(found.values())
    for group in dict.fromkeys(c.group for c in configs):
        members = [c for c in configs if c.group == group]
        keys = [k for k in config_differences([c.runs[0] for c in members]) if k not in SHOWN]
        for c in members:
            settings = c.runs[0].settings
            parts = [c.label]
            if c.runs[0].name:
                parts.append(f"[{c.runs[0].name}]")
            parts += [f"{k}={settings[k]}" for k in keys if k in settings]
            c.label = " ".join(parts)
    return configs


def aggregate_table(
    configs: Sequence[Config], metrics: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Per configuration and metric, the seeds with a finite final value and their mean,
    median and IQM with 95% bootstrap intervals (:func:`sige_rl.supervised.stats.summarize`)."""
    columns = ["group", "configuration", "metric", "n"]
    for name in stats.STATISTICS:
        columns += [name, f"{name} low", f"{name} high"]
    rows = []
    for c in configs:
        for metric in metrics:
            values = [f.get(metric) for f in c.finals]
            values = [v for v in values if isinstance(v, float) and math.isfinite(v)]
            if not values:
                continue
            summary = stats.summarize(np.array(values))
            row = [c.group, c.label, metric, summary["n"]]
            for name in stats.STATISTICS:
                row += [summary[name]["value"], summary[name]["low"], summary[name]["high"]]
            rows.append(row)
    return columns, rows


def aggregate_markdown(rows: Sequence[Sequence[Any]]) -> str:
    """The rows of :func:`aggregate_table` as markdown, each statistic as ``value [low, high]``."""
    names = list(stats.STATISTICS)
    cells = []
    for row in rows:
        values = row[4:]
        cells.append(
            [
                *row[:4],
                *[
                    f"{format_cell(values[3 * i])} [{format_cell(values[3 * i + 1])}, "
                    f"{format_cell(values[3 * i + 2])}]"
                    for i in range(len(names))
                ],
            ]
        )
    header = ["group", "configuration", "metric", "n", *[f"{n} [95% CI]" for n in names]]
    return markdown(header, cells)


# -- figures -------------------------------------------------------------------------------------
def safe_name(text: str) -> str:
    """``text`` as part of a file name on any system: runs of other characters than letters,
    digits, '.', '_' and '-' become one '_'."""
    return SAFE_RE.sub("_", text).strip("_") or "_"


def plot_curves(configs: Sequence[Config], metrics: Sequence[str], out: Path) -> list[Path]:
    """One PNG per group and metric with a curve per configuration; returns the files."""
    from sige_rl.supervised.plots import learning_curves

    written, used = [], set()
    for group in dict.fromkeys(c.group for c in configs):
        members = [c for c in configs if c.group == group]
        for metric in metrics:
            lines = {}
            for c in members:
                points = [curve[metric] for curve in c.curves if metric in curve]
                points = [(x, y) for x, y in points if x.size]
                if points:
                    x, values = align_curves(points)
                    if x.size:
                        lines[c.label] = (x, values)
            if not lines:
                continue
            stem, n = f"curves_{safe_name(group)}_{safe_name(metric)}", 1
            name = stem
            while name in used:
                name, n = f"{stem}-{n}", n + 1
            used.add(name)
            written.append(
                learning_curves(
                    lines,
                    out / f"{name}.png",
                    title=f"{group}: {metric}",
                    xlabel="epoch" if group.startswith("supervised/") else "environment steps",
                    ylabel=metric,
                )
            )
    return written


def policy_maps(runs: Sequence[RunFolder], names: Sequence[str], out: Path) -> list[Path]:
    """``policy_<run>.png`` for each run of ``train_agent.py`` on an env with an exact model and
    a grid: V* beside the greedy policy and its value at each checkpoint and at the end
    (:func:`~sige_rl.agents.training.policy_map.policy_maps_for_run`)."""
    from sige_rl.agents.training.policy_map import policy_maps_for_run

    written = []
    for run, name in zip(runs, names, strict=True):
        if "env" not in (run.config.get("options") or {}):
            continue  # a supervised run
        try:
            path = policy_maps_for_run(run.path, out / f"policy_{safe_name(name)}.png")
        except Exception as e:  # an env that cannot be made here, a damaged checkpoint
            print(f"no policy map for {name}: {e}", file=sys.stderr)
            continue
        if path is not None:
            written.append(path)
    return written


# -- TensorBoard --------------------------------------------------------------------------------
def hparam_value(value: Any) -> int | float | str:
    """A setting as TensorBoard's hparams hold it: numbers as they are, anything else (a bool,
    None, a list) as its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return value if isinstance(value, str) else str(value)


def write_hparams(
    runs: Sequence[RunFolder],
    names: Sequence[str],
    finals: Sequence[dict[str, Any]],
    board: Path,
) -> list[Path]:
    """Under ``board/<run>/``, one event file per run for TensorBoard's HPARAMS tab: its
    session's hyperparameters (every option and hyperparameter of config.yaml, flattened:
    :attr:`~sige_rl.supervised.runs.RunFolder.settings`) and,
    as scalars in the same folder, its final metrics, which the tab shows as the session's
    metrics (what ``SummaryWriter.add_hparams`` writes).

    No run gets an experiment summary: TensorBoard shows the columns of the first one it
    finds, while without any it builds them from every run's hyperparameters and scalars, so
    runs of both jobs, with different settings and metrics, share one table."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    folders = []
    for run, name, final in zip(runs, names, finals, strict=True):
        settings = {k: hparam_value(v) for k, v in run.settings.items()}
        scalars = {
            k: v
            for k, v in final.items()
            if k != "exit_reason" and isinstance(v, float) and math.isfinite(v)
        }
        _, start, end = hparams(settings, scalars)
        folder = board / name
        if folder.is_dir():  # --out used before: this run's old events would be read twice
            for old in folder.glob("events.out.tfevents.*"):
                old.unlink()
        with SummaryWriter(str(folder)) as writer:
            files = writer._get_file_writer()
            files.add_summary(start)
            files.add_summary(end)
            for key, value in scalars.items():
                writer.add_scalar(key, value, run.steps or 0)
        folders.append(folder)
    return folders


if __name__ == "__main__":
    sys.exit(main())
