"""``train_agent.py --seeds 0-9``: the same training on several seeds, side by side, summarised.

The seeds' runs are ordinary run folders inside one group folder::

    <logdir>/<env>/<agent>/<time>_seeds<list>[_<name>]/
        multiseed.json     the shared command line, the seeds, the backend
        s<seed>/           each seed's run folder (config.yaml, evaluations.csv, final/ ...)
        logs/s<seed>.log   each seed's output
        summary.json       per seed: exit reason and final evaluation; across seeds: mean,
                           median and IQM of each final metric with bootstrap intervals
        scores.csv         the final metrics, one row per seed
        curves.png         the evaluations' mean return against steps: mean and 95% band

``--resume GROUP`` finishes what an interrupted group left: runs that finished are kept,
interrupted ones resume from their checkpoints, and runs never started start.
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

from sige_rl.agents.training import cli
from sige_rl.agents.training.launch import Job, cores, python_command, run_jobs
from sige_rl.supervised import Run
from sige_rl.supervised.tracking import EXIT_SIGNAL, point_latest, run_name

GROUP_FILE = "multiseed.json"
#: Final-evaluation fields that describe the evaluation rather than score the agent.
NOT_SCORES = ("step", "episodes", "capped", "std_return")
MAX_SEEDS = 1000


def is_group(path: str | None) -> bool:
    return path is not None and (Path(path) / GROUP_FILE).is_file()


def parse_seeds(text: str) -> list[int]:
    """``"0-4,10"`` -> ``[0, 1, 2, 3, 4, 10]``: ranges and single seeds, comma-separated."""
    seeds: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(
                f"--seeds {text!r}: expected seeds and ranges such as 0-9 or 0,3,7 or 0-4,10"
            ) from None
        if a < 0 or b < a:
            raise ValueError(f"--seeds {text!r}: {part.strip()!r} is not a range of seeds >= 0")
        seeds.update(range(a, b + 1))
        if len(seeds) > MAX_SEEDS:
            raise ValueError(f"--seeds {text!r}: more than {MAX_SEEDS} seeds")
    return sorted(seeds)


def seeds_label(seeds: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2+5"``: the seeds as a folder name can carry them."""
    parts, start = [], seeds[0]
    for prev, cur in zip(seeds, [*seeds[1:], None], strict=True):
        if cur is None or cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = cur
    return "+".join(parts)


def main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Plan, run and summarise a group; bad input exits 2 through ``parser.error``."""
    try:
        group, spec = _resume(parser, args) if args.resume else _start(parser, args)
    except cli.errors() as e:
        parser.error(str(e))
    return run_group(group, spec)


def _start(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[Path, dict]:
    seeds = parse_seeds(args.seeds)
    if args.seed is not None or args.run_dir is not None:
        raise ValueError("--seeds runs each seed in a folder of the group: drop --seed/--run-dir")
    if args.address is not None and args.backend != "ray":
        raise ValueError("--address goes with --backend ray")
    cli.positive("--jobs", args.jobs)
    single = argparse.Namespace(**vars(args))
    for name in cli.MULTI_RUN_OPTIONS:
        setattr(single, name, None)
    single.seed = seeds[0]
    plan = cli.plan(single)  # every check of a single run, before anything is written
    opts = plan.opts
    base = plan.run_dir.parent
    folder = f"{run_name(seeds[0]).rsplit('_s', 1)[0]}_seeds{seeds_label(seeds)}"
    folder += f"_{opts['name']}" if opts["name"] else ""
    group, n = base / folder, 1
    while group.exists():
        group, n = base / f"{folder}-{n}", n + 1
    spec = {
        "env": opts["env"],
        "agent": opts["agent"],
        "seeds": seeds,
        "argv": cli.to_argv(parser, single, drop=(*cli.MULTI_RUN_OPTIONS, "seed", "no_progress")),
        "jobs": args.jobs,
        "backend": args.backend or "local",
        "address": args.address,
    }
    group.mkdir(parents=True)
    Run(group).write_json(GROUP_FILE, spec)
    point_latest(group)
    return group, spec


def _resume(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[Path, dict]:
    group = Path(args.resume)
    given = [
        f"--{name.replace('_', '-')}"
        for name, value in vars(args).items()
        if value is not None
        and value is not False
        and name not in ("resume", "jobs", "backend", "address", "no_progress")
    ]
    if given:
        raise ValueError(
            f"--resume {group} continues a group of seeds as it was started: {', '.join(given)} "
            "cannot change it (allowed: --jobs, --backend, --address)"
        )
    spec = Run(group).read_json(GROUP_FILE)
    if spec is None:
        raise ValueError(f"--resume {group}: {GROUP_FILE} is unreadable")
    for name in ("jobs", "backend", "address"):
        if getattr(args, name) is not None:
            spec[name] = getattr(args, name)
    return group, spec


def seed_jobs(group: Path, spec: dict[str, Any]) -> list[Job]:
    """What is left to do for each seed: nothing (finished), a resume, or a new run."""
    command = python_command("train_agent.py", "sige_rl.agents.training.train")
    jobs = []
    for seed in spec["seeds"]:
        run_dir = group / f"s{seed}"
        summary = Run(run_dir).read_json("summary.json") if run_dir.is_dir() else None
        if summary is not None and summary.get("exit_reason") == "finished":
            continue
        if run_dir.is_dir() and Run(run_dir).latest_checkpoint() is not None:
            argv = ["--resume", str(run_dir)]
        else:
            if run_dir.is_dir():  # started, but stopped before its first checkpoint
                shutil.rmtree(run_dir)
            argv = [*spec["argv"], "--seed", str(seed), "--run-dir", str(run_dir)]
        log = group / "logs" / f"s{seed}.log"
        jobs.append(Job(f"s{seed}", command, [*argv, "--no-progress"], log))
    return jobs


def run_group(group: Path, spec: dict[str, Any]) -> int:
    jobs = seed_jobs(group, spec)
    parallel = min(spec.get("jobs") or cores(), max(1, len(jobs)))
    print(
        f"{spec['agent']} on {spec['env']}, seeds {seeds_label(spec['seeds'])}: "
        f"{len(jobs)} run(s) to go, {parallel} at a time ({spec['backend']}); group {group}"
    )
    stopped = None

    def report(job: Job, code: int, seconds: float) -> None:
        _report(group, job, code, seconds)

    if jobs and spec["backend"] == "ray":
        from sige_rl.agents.training import ray_backend

        codes = ray_backend.run_seed_jobs(jobs, parallel, spec.get("address"), report)
    elif jobs:
        codes, stopped = run_jobs(jobs, parallel, on_done=report)
    else:
        codes = {}
    summary = summarize(group, spec)
    print_summary(summary)
    if stopped is not None or any(code != 0 for code in codes.values()):
        resume = shlex.join(
            [
                *python_command("train_agent.py", "sige_rl.agents.training.train"),
                "--resume",
                str(group),
            ]
        )
        failed = sorted(k for k, c in codes.items() if c != 0)
        print(
            f"Not all seeds finished ({', '.join(failed)}); logs in {group / 'logs'}. Resume with:"
        )
        print(f"  {resume}")
        return EXIT_SIGNAL.get(stopped, 1) if stopped is not None else 1
    print(f"Group saved in {group}")
    return 0


def _report(group: Path, job: Job, code: int, seconds: float) -> None:
    summary = Run(group / job.key).read_json("summary.json") or {}
    final = summary.get("final_evaluation") or {}
    score = final.get("mean_return")
    what = summary.get("exit_reason", f"exit code {code}")
    tail = f", final mean return {score:.4g}" if isinstance(score, (int, float)) else ""
    print(f"  {job.key}: {what} in {seconds:.1f} s{tail}", flush=True)


def summarize(group: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Read each seed's run and write the group's summary.json, scores.csv and curves.png."""
    from sige_rl.supervised import stats

    rows, per_seed = [], {}
    for seed in spec["seeds"]:
        run = Run(group / f"s{seed}")
        summary = run.read_json("summary.json") if run.root.is_dir() else None
        final = (summary or {}).get("final_evaluation") or {}
        reason = (summary or {}).get("exit_reason", "not started")
        per_seed[seed] = {"exit_reason": reason, "final_evaluation": final}
        if reason == "finished":
            rows.append({"seed": seed, **{k: v for k, v in final.items() if _is_score(k, v)}})
    metrics = [k for k in (rows[0] if rows else {}) if k != "seed"]
    statistics = {}
    for metric in metrics:
        values = [r[metric] for r in rows if metric in r]
        statistics[metric] = stats.summarize(values, seed=0) if values else None
    out = {
        "env": spec["env"],
        "agent": spec["agent"],
        "seeds": spec["seeds"],
        "finished": [r["seed"] for r in rows],
        "statistics": statistics,
        "runs": {f"s{s}": v for s, v in per_seed.items()},
        "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    Run(group).write_json("summary.json", out)
    if rows:
        with open(group / "scores.csv", "w") as fh:
            fh.write(",".join(["seed", *metrics]) + "\n")
            for r in rows:
                fh.write(",".join(str(r.get(k, "")) for k in ["seed", *metrics]) + "\n")
        out["curves"] = _plot(group, spec, [r["seed"] for r in rows])
    return out


def _is_score(key: str, value: Any) -> bool:
    return (
        key not in NOT_SCORES
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _plot(group: Path, spec: dict[str, Any], seeds: list[int]) -> str | None:
    """curves.png: the seeds' evaluation curves, mean and band (None without matplotlib)."""
    from sige_rl.supervised import plots, runs

    curves = []
    for seed in seeds:
        metric = runs.curves(runs.RunFolder.read(group / f"s{seed}")).get("mean_return")
        if metric is not None and metric[0].size:
            curves.append(metric)
    if not curves:
        return None
    grid, values = runs.align_curves(curves)  # the steps every seed evaluated at
    label = spec["agent"]
    try:
        path = plots.learning_curves(
            {label: (grid, values)},
            group / "curves.png",
            title=f"{spec['env']}: evaluation return over {len(curves)} seeds",
            xlabel="environment steps",
            ylabel="mean return (greedy)",
        )
    except ImportError as e:
        print(f"no curves.png: {e}")
        return None
    return str(path)


def print_summary(summary: dict[str, Any]) -> None:
    n, total = len(summary["finished"]), len(summary["seeds"])
    print(f"{n} of {total} seeds finished")
    for metric, st in summary["statistics"].items():
        if st is None:
            continue
        parts = [
            f"{name} {st[name]['value']:.4g} [{st[name]['low']:.4g}, {st[name]['high']:.4g}]"
            for name in ("mean", "median", "iqm")
        ]
        print(f"  {metric}: " + ", ".join(parts) + " (95% bootstrap intervals)")
