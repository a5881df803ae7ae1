"""Experiment management (issue 14): statistics vs rliable, multi-seed runs, Optuna pruning.

Side by side in one run: our bootstrap statistics against rliable's, multi-seed runs in local
processes and on Ray, and Optuna searches with and without pruning.

    python scripts/bench/experiments.py [--repeats 3] [--stat-repeats 5] [--reps 50000]
                                        [--no-ray] [--quick]

1. Statistics. 10 runs x 1 task of skewed scores (lognormal, ``numpy.random.default_rng(0)``),
   50,000 bootstrap resamples: ``supervised.stats.summarize`` (mean, median and IQM from one set
   of resamples), ``stats.bootstrap_ci`` called once per statistic, and rliable's
   ``get_interval_estimates`` with one function returning the three (rliable's own way to get
   several aggregates from one bootstrap). For each statistic: the largest difference of the
   interval ends as a fraction of our interval's width, beside the same difference between two
   rliable calls with different seeds (the Monte-Carlo noise of the bootstrap itself); the wall
   time of each (median of ``--stat-repeats``) and rliable's time over ours. The median is the
   median over runs on both sides: rliable's ``aggregate_median`` is the median over tasks of the
   per-task mean, which for one task is the mean, so rliable is given ``np.median`` instead.
2. Multi-seed runs. ``train_agent.py --env sige/CliffWalking-v0 --agent q_learning --steps 30000
   --seeds 0-3`` with ``--jobs 1``, ``--jobs 2`` (local processes) and ``--backend ray --jobs 2``,
   each a subprocess with its own temporary ``--logdir``; the repeats are interleaved (jobs 1,
   jobs 2, Ray, then again). Wall time of each (median of ``--repeats``), the speed-up of jobs 2
   over jobs 1, the Ray overhead (Ray's wall minus local jobs 2's). Each group's summary.json
   must say every seed finished; its mean_return statistics are printed.
3. Optuna. ``tune.py --env sige/GridWorld-v0 --agent q_learning --space <learning_rate: float
   0.01-1.0, log> --sampler tpe --trials 12 --metric optimality_gap --steps 3000 --eval-every
   500`` with ``--pruner median`` and ``--pruner none``, each in its own logdir: wall time
   (median of ``--repeats``), pruned trials, best value and best learning_rate (trials.csv and
   best.yaml of the study folder). The per-trial overhead: one plain ``train_agent.py`` run with
   the same settings (its wall time as a process, and the training time its summary.json
   records) against the no-pruning study's wall time per trial and the trials' own recorded
   training time.

``--quick`` (a smoke run, about half a minute): 2 seeds of 3000 steps, 3 trials of 1000 steps,
2,000 resamples, one repeat of everything. ``--no-ray`` skips the Ray row (also skipped, with a
note, when Ray is not installed). Every training runs with OMP/OpenBLAS threads at 1. Exits 0
when every run and study succeeded and every group finished all its seeds, else 1.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from sige_rl.supervised import stats  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "scripts" / "train_agent.py"
TUNE = ROOT / "scripts" / "tune.py"
STAT_NAMES = ("mean", "median", "iqm")
SPACE = {"learning_rate": {"type": "float", "low": 0.01, "high": 1.0, "log": True}}
MULTISEED_ENV, TUNE_ENV, AGENT = "sige/CliffWalking-v0", "sige/GridWorld-v0", "q_learning"
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# -- 1. statistics against rliable --------------------------------------------------------------
def rliable_intervals(scores: np.ndarray, reps: int, seed: int) -> dict[str, tuple[float, float]]:
    from rliable import library as rly
    from rliable import metrics

    def aggregates(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_mean(x), np.median(x), metrics.aggregate_iqm(x)])

    with warnings.catch_warnings():  # arch's FutureWarning about RandomState, rliable's choice
        warnings.simplefilter("ignore", FutureWarning)
        _, intervals = rly.get_interval_estimates(
            {"runs": scores}, aggregates, reps=reps, random_state=np.random.RandomState(seed)
        )
    ci = intervals["runs"]  # (2, 3): lows, highs
    return {name: (float(ci[0, i]), float(ci[1, i])) for i, name in enumerate(STAT_NAMES)}


def ours_summarize(scores: np.ndarray, reps: int) -> dict[str, tuple[float, float]]:
    out = stats.summarize(scores, reps=reps, seed=0)
    return {name: (out[name]["low"], out[name]["high"]) for name in STAT_NAMES}


def ours_bootstrap_ci(scores: np.ndarray, reps: int) -> dict[str, tuple[float, float]]:
    return {name: stats.bootstrap_ci(scores, name, reps=reps, seed=0) for name in STAT_NAMES}


def end_gap(a: tuple[float, float], b: tuple[float, float], width: float) -> float:
    """The larger difference of the two intervals' ends, as a fraction of ``width``."""
    return max(abs(a[0] - b[0]), abs(a[1] - b[1])) / width if width > 0 else float("nan")


def bench_statistics(reps: int, repeats: int) -> dict:
    scores = np.random.default_rng(0).lognormal(mean=0.0, sigma=1.0, size=(10, 1))
    rliable_intervals(scores, 10, seed=0)  # imports (rliable, arch, scipy) outside the timing
    ours_ci = ours_summarize(scores, reps)
    times: dict[str, list[float]] = {"summarize": [], "bootstrap_ci": [], "rliable": []}
    rly_ci = rly_other = None
    for _ in range(repeats):
        t, _ = timed(lambda: ours_summarize(scores, reps))
        times["summarize"].append(t)
        t, _ = timed(lambda: ours_bootstrap_ci(scores, reps))
        times["bootstrap_ci"].append(t)
        t, rly_ci = timed(lambda: rliable_intervals(scores, reps, seed=0))
        times["rliable"].append(t)
    rly_other = rliable_intervals(scores, reps, seed=1)
    rows = {}
    for name in STAT_NAMES:
        width = ours_ci[name][1] - ours_ci[name][0]
        rows[name] = {
            "value": stats.STATISTICS[name](scores),
            "ours": ours_ci[name],
            "rliable": rly_ci[name],
            "gap": end_gap(ours_ci[name], rly_ci[name], width),
            "noise": end_gap(rly_ci[name], rly_other[name], width),
        }
    return {"rows": rows, "times": {k: median(v) for k, v in times.items()}}


# -- 2. multi-seed runs -------------------------------------------------------------------------
def run_process(argv: list[str], log: Path) -> tuple[float, int]:
    """Run ``argv``, its output in ``log``; (wall seconds, exit code)."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        code = subprocess.run(
            argv, stdout=fh, stderr=subprocess.STDOUT, env=CHILD_ENV, cwd=ROOT
        ).returncode
    return time.perf_counter() - start, code


def multiseed_once(extra: list[str], seeds: str, steps: int, work: Path) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix="multiseed_", dir=work))
    argv = [sys.executable, str(TRAIN), "--env", MULTISEED_ENV, "--agent", AGENT]
    argv += ["--steps", str(steps), "--seeds", seeds, *extra, "--logdir", str(logdir)]
    wall, code = run_process([*argv, "--no-progress"], logdir / "output.log")
    groups = sorted(logdir.glob("*/*/*/multiseed.json"))
    summary = json.loads((groups[0].parent / "summary.json").read_text()) if groups else {}
    finished = summary.get("finished", [])
    return {
        "wall": wall,
        "code": code,
        "all_finished": bool(summary) and finished == summary.get("seeds"),
        "ok": code == 0 and bool(summary) and finished == summary.get("seeds"),
        "finished": f"{len(finished)}/{len(summary.get('seeds', [])) or '?'}",
        "mean_return": (summary.get("statistics") or {}).get("mean_return"),
        "log": str(logdir / "output.log"),
    }


def bench_multiseed(configs: dict[str, list[str]], seeds: str, steps: int, repeats: int, work):
    results: dict[str, list[dict]] = {name: [] for name in configs}
    for r in range(repeats):
        for name, extra in configs.items():
            out = multiseed_once(extra, seeds, steps, work)
            results[name].append(out)
            ok = "ok" if out["ok"] else f"FAILED ({out['log']})"
            print(f"  repeat {r}: {name:16} {out['wall']:6.1f} s  seeds {out['finished']} {ok}")
    return results


# -- 3. Optuna search with and without pruning ---------------------------------------------------
def study_once(pruner: str, trials: int, steps: int, eval_every: int, work: Path) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix=f"tune_{pruner}_", dir=work))
    space = logdir / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE, default_flow_style=None))
    argv = [sys.executable, str(TUNE), "--env", TUNE_ENV, "--agent", AGENT, "--space", str(space)]
    argv += ["--sampler", "tpe", "--trials", str(trials), "--metric", "optimality_gap"]
    argv += ["--steps", str(steps), "--eval-every", str(eval_every), "--pruner", pruner]
    wall, code = run_process([*argv, "--logdir", str(logdir / "runs")], logdir / "output.log")
    folder = logdir / "runs" / TUNE_ENV.replace("/", "_") / AGENT / f"tune_{AGENT}"
    rows = []
    if (folder / "trials.csv").is_file():
        with open(folder / "trials.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    done = [float(r["optimality_gap"]) for r in rows if r["state"] == "COMPLETE"]
    best = (
        yaml.safe_load((folder / "best.yaml").read_text())
        if (folder / "best.yaml").is_file()
        else {}
    )
    trained = 0.0  # training seconds the trials' own summary.json record
    for r in rows:
        summary = Path(r["run_dir"]) / "summary.json"
        if r["run_dir"] and summary.is_file():
            trained += float(json.loads(summary.read_text()).get("wall_time_s") or 0.0)
    return {
        "wall": wall,
        "code": code,
        "ok": code == 0 and len(done) > 0,
        "trials": len(rows),
        "pruned": sum(r["state"] == "PRUNED" for r in rows),
        "complete": len(done),
        "best_value": min(done) if done else float("nan"),
        "best_lr": (best or {}).get("learning_rate", float("nan")),
        "trained": trained,
        "log": str(logdir / "output.log"),
    }


def plain_once(steps: int, eval_every: int, work: Path) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix="plain_", dir=work))
    argv = [sys.executable, str(TRAIN), "--env", TUNE_ENV, "--agent", AGENT, "--steps", str(steps)]
    argv += ["--eval-every", str(eval_every), "--logdir", str(logdir / "runs"), "--no-progress"]
    wall, code = run_process(argv, logdir / "output.log")
    summaries = list((logdir / "runs").glob("*/*/*/summary.json"))
    summary = json.loads(summaries[0].read_text()) if summaries else {}
    return {
        "wall": wall,
        "code": code,
        "trained": float(summary.get("wall_time_s") or float("nan")),
        "ok": code == 0 and summary.get("exit_reason") == "finished",
        "log": str(logdir / "output.log"),
    }


def bench_tune(trials: int, steps: int, eval_every: int, repeats: int, work: Path) -> dict:
    results: dict[str, list[dict]] = {"median": [], "none": [], "plain": []}
    for r in range(repeats):
        for pruner in ("median", "none"):
            out = study_once(pruner, trials, steps, eval_every, work)
            results[pruner].append(out)
            ok = "ok" if out["ok"] else f"FAILED ({out['log']})"
            print(
                f"  repeat {r}: pruner {pruner:6}  {out['wall']:6.1f} s  {out['trials']} trials, "
                f"{out['pruned']} pruned, best {out['best_value']:.4g} "
                f"(learning_rate {out['best_lr']:.4g}) {ok}"
            )
        out = plain_once(steps, eval_every, work)
        results["plain"].append(out)
        ok = "ok" if out["ok"] else f"FAILED ({out['log']})"
        print(f"  repeat {r}: plain run     {out['wall']:6.1f} s  {ok}")
    return results


# -- the report ---------------------------------------------------------------------------------
def version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "absent"


def has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def interval(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def report_statistics(st: dict, reps: int, repeats: int) -> None:
    print(f"\n1. statistics against rliable, 10 runs x 1 task, {reps:,} resamples")
    print("   (gap: the larger difference of the interval ends, as a fraction of our width)")
    print(
        f"{'statistic':9} {'value':>8} {'ours 95% CI':>18} {'rliable 95% CI':>18} "
        f"{'gap':>7} {'rliable seed 0 vs 1':>20}"
    )
    for name, row in st["rows"].items():
        print(
            f"{name:9} {row['value']:8.4f} {interval(row['ours']):>18} "
            f"{interval(row['rliable']):>18} {100 * row['gap']:6.2f}% {100 * row['noise']:19.2f}%"
        )
    t = st["times"]
    print(f"{'wall (median of ' + str(repeats) + ')':28} {'ms':>9} {'rliable / it':>13}")
    for key, label in (
        ("summarize", "stats.summarize"),
        ("bootstrap_ci", "stats.bootstrap_ci x3"),
        ("rliable", "rliable get_interval_estimates"),
    ):
        print(f"{label:30} {1000 * t[key]:7.1f} {t['rliable'] / t[key]:12.0f}x")


def report_multiseed(ms: dict, steps: int, seeds: str, repeats: int, ray_note: str) -> None:
    print(
        f"\n2. multi-seed runs: {MULTISEED_ENV}, {AGENT}, {steps} steps, seeds {seeds} "
        f"(wall: median of {repeats})"
    )
    walls = {name: median([o["wall"] for o in outs]) for name, outs in ms.items()}
    print(f"{'backend':14} {'wall s':>7} {'finished':>9}  mean_return: value [95% CI]")
    for name, outs in ms.items():
        last = outs[-1]
        ret = last["mean_return"]
        shown = "none"
        if ret:
            shown = ", ".join(
                f"{k} {ret[k]['value']:.4g} [{ret[k]['low']:.4g}, {ret[k]['high']:.4g}]"
                for k in STAT_NAMES
            )
        finished = "all" if all(o["all_finished"] for o in outs) else last["finished"]
        print(f"{name:14} {walls[name]:7.1f} {finished:>9}  {shown}")
    one, two = walls["local, jobs 1"], walls["local, jobs 2"]
    print(f"speed-up of local jobs 2 over jobs 1: {one / two:.2f}x")
    if "ray, jobs 2" in walls:
        ray = walls["ray, jobs 2"]
        print(f"Ray overhead (Ray jobs 2 - local jobs 2): {ray - two:+.1f} s ({ray / two:.2f}x)")
    else:
        print(f"Ray: skipped ({ray_note})")


def report_tune(tu: dict, trials: int, steps: int, eval_every: int, repeats: int) -> None:
    print(
        f"\n3. optuna: {TUNE_ENV}, {AGENT}, tpe, {trials} trials of {steps} steps, evaluated "
        f"every {eval_every} (wall: median of {repeats})"
    )
    print("   (train s: the trials' training loops, learn + evaluations + checkpoints, summed")
    print("   from the wall_time_s of their summary.json; pruned etc. from the first repeat)")
    print(
        f"{'pruner':8} {'wall s':>7} {'s/trial':>8} {'train s':>8} {'pruned':>7} "
        f"{'complete':>9} {'best gap':>9} {'best learning_rate':>19}"
    )
    for pruner in ("median", "none"):
        outs = tu[pruner]
        first = outs[0]
        wall = median([o["wall"] for o in outs])
        trained = median([o["trained"] for o in outs])
        print(
            f"{pruner:8} {wall:7.1f} {wall / max(first['trials'], 1):8.2f} {trained:8.2f} "
            f"{first['pruned']:7d} {first['complete']:9d} {first['best_value']:9.4g} "
            f"{first['best_lr']:19.4g}"
        )
        found = [(o["pruned"], o["best_value"], o["best_lr"]) for o in outs]
        if len(set(found)) > 1:
            print(f"         (the repeats differ: pruned, best, learning_rate {found})")
    plain_wall = median([o["wall"] for o in tu["plain"]])
    plain_trained = median([o["trained"] for o in tu["plain"]])
    none_wall = median([o["wall"] for o in tu["none"]])
    none_trained = median([o["trained"] for o in tu["none"]])
    n = max(tu["none"][0]["trials"], 1)
    print(
        f"plain train_agent.py, same settings: {plain_wall:.2f} s as a process, "
        f"{plain_trained:.2f} s of it the training loop (its summary.json)"
    )
    print(
        f"study without pruning, per trial: {none_wall / n:.2f} s of wall "
        f"({none_wall / n / plain_wall:.2f}x the plain process), {none_trained / n:.2f} s "
        f"training, {(none_wall - none_trained) / n:.2f} s outside training (the plain "
        f"process: {plain_wall - plain_trained:.2f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="repeats of each run/study (median)")
    p.add_argument("--stat-repeats", type=int, default=5, help="repeats of the statistics")
    p.add_argument("--reps", type=int, default=50_000, help="bootstrap resamples")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray row")
    p.add_argument("--quick", action="store_true", help="tiny budgets and one repeat: a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        repeats, stat_repeats, reps = 1, 1, 2_000
        seeds, steps, trials, tune_steps, eval_every = "0-1", 3_000, 3, 1_000, 250
    else:
        repeats, stat_repeats, reps = args.repeats, args.stat_repeats, args.reps
        seeds, steps, trials, tune_steps, eval_every = "0-3", 30_000, 12, 3_000, 500
    ray_note = ""
    if not args.no_ray and not has_ray():
        ray_note = "Ray is not installed: the Ray row is skipped"
    use_ray = not args.no_ray and not ray_note

    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus")
    pkgs = ("numpy", "rliable", "optuna", "ray")
    print(
        f"versions  python {platform.python_version()}, "
        + ", ".join(f"{pkg} {version(pkg)}" for pkg in pkgs)
    )
    threads = ", ".join(
        f"{k}={os.environ.get(k)}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    )
    print(f"threads   {threads}")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"repeats   runs and studies {repeats}, statistics {stat_repeats} (medians)\n")

    print(
        f"1. statistics: 10 runs x 1 task, {reps:,} resamples, {stat_repeats} repeat(s)", flush=True
    )
    st = bench_statistics(reps, stat_repeats)

    print(
        f"\n2. multi-seed: train_agent.py --env {MULTISEED_ENV} --agent {AGENT} --steps {steps} "
        f"--seeds {seeds} --logdir <tmp> ...",
        flush=True,
    )
    configs = {"local, jobs 1": ["--jobs", "1"], "local, jobs 2": ["--jobs", "2"]}
    if use_ray:
        configs["ray, jobs 2"] = ["--backend", "ray", "--jobs", "2"]
    work = Path(tempfile.mkdtemp(prefix="bench_experiments_"))
    ms = bench_multiseed(configs, seeds, steps, repeats, work)
    print(
        f"\n3. optuna: tune.py --env {TUNE_ENV} --agent {AGENT} --space <learning_rate: "
        f"float 0.01-1.0, log> --sampler tpe --trials {trials} --metric optimality_gap "
        f"--steps {tune_steps} --eval-every {eval_every} --pruner median|none; plain "
        f"train_agent.py with the same settings",
        flush=True,
    )
    tu = bench_tune(trials, tune_steps, eval_every, repeats, work)
    failures = [
        out["log"] for outs in (*ms.values(), *tu.values()) for out in outs if not out["ok"]
    ]
    if not failures:
        shutil.rmtree(work, ignore_errors=True)  # kept, with the logs, when a run failed

    print("\n== results ==")
    report_statistics(st, reps, stat_repeats)
    report_multiseed(ms, steps, seeds, repeats, ray_note or "--no-ray")
    report_tune(tu, trials, tune_steps, eval_every, repeats)
    if failures:
        print(f"\nFAILED runs, logs: {', '.join(failures)}")
    print(f"\ncommand   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
