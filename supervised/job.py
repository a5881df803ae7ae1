"""The supervised training job behind ``scripts/train_supervised.py``: one command trains a task
of :mod:`~sige_rl.supervised.tasks` with the run folder, ``--set`` / ``--config``, TensorBoard,
checkpoints, ``--resume`` and bad-input handling of the RL job (the same
:class:`~sige_rl.supervised.tracking.Run`, :func:`~sige_rl.supervised.config.resolve` and exit
codes).

Run folder ``<logdir>/supervised/<task>/<YYYYmmdd-HHMMSS>_s<seed>/``: config.yaml, TensorBoard
events, ``epochs.csv`` (one row per epoch), ``checkpoints/step_<epoch>/``, ``best/``, ``final/``
and summary.json. A task that trains several networks in turn (a pre-trained model, a judge of
generated samples) gives each a folder of that layout inside the run, named after its phase.

Exit codes: 0 done, 2 bad input (nothing written), 130 / 143 stopped by SIGINT / SIGTERM at the
next batch (resumable from the last epoch's checkpoint, with the command printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sige_rl.supervised.checkpoint import CheckpointError
from sige_rl.supervised.config import (
    ConfigError,
    field_table,
    parse_sets,
    read_config_file,
    resolve,
)
from sige_rl.supervised.device import resolve_device
from sige_rl.supervised.fit import Interrupted
from sige_rl.supervised.seeding import seed_everything
from sige_rl.supervised.tasks import TASKS, Context, Task
from sige_rl.supervised.tracking import (
    EXIT_SIGNAL,
    Run,
    point_latest,
    run_name,
    tensorboard_command,
)

VERSIONED = ("sige-rl", "numpy", "torch", "tensorboard", "scikit-learn", "mnist1d")
RESUME_OPTIONS = ("device", "no_progress")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train_supervised.py",
        description="Train a supervised task; logs, checkpoints and results go to "
        "<logdir>/supervised/<task>/<time>_s<seed>/.",
    )
    p.add_argument("--task", help=f"one of: {', '.join(TASKS)} (--list-tasks describes them)")
    p.add_argument("--seed", type=int, help="seed of the whole run: data split, weights (0)")
    p.add_argument("--config", metavar="FILE", help="YAML file of settings (keys as for --set)")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="KEY=VALUE",
        help="override one setting (repeatable); wins over --config; --list-settings shows them",
    )
    p.add_argument("--logdir", help="root of the run folders (default: runs)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--device", help="auto | cpu | cuda (default: the task's setting, auto)")
    p.add_argument("--list-tasks", action="store_true", help="list the tasks and exit")
    p.add_argument(
        "--list-settings", action="store_true", help="list the settings of --task and exit"
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        default=None,
        help="no progress bar: a line per epoch instead",
    )
    return p


@dataclasses.dataclass
class Plan:
    options: dict[str, Any]
    task: Task
    config: Any
    run_dir: Path
    resuming: bool = False


class AlreadyFinished(Exception):
    """``--resume`` of a run that finished."""


def find_task(name: str | None) -> Task:
    if name is None:
        raise ValueError(f"--task is required; one of: {', '.join(TASKS)}")
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown task {name!r}; {hint}allowed: {', '.join(TASKS)}")
    return TASKS[name]


def plan(args: argparse.Namespace) -> Plan:
    """Check every argument and decide the run; ``ValueError`` / ``ConfigError`` /
    ``CheckpointError`` on bad input, before anything is written."""
    if args.resume:
        return _plan_resume(args)
    task = find_task(args.task)
    layers = []
    if args.config:
        layers.append((args.config, read_config_file(args.config)))
    layers.append(("--set", parse_sets(args.sets or [])))
    if args.device is not None:
        layers.append(("--device", {"device": args.device}))
    config = resolve(task.config, *layers)
    resolve_device(config.device)  # an unknown or unavailable device is bad input
    task.check(config)
    seed = 0 if args.seed is None else args.seed
    options = {
        "task": task.name,
        "seed": seed,
        "logdir": args.logdir or "runs",
        "no_progress": bool(args.no_progress),
    }
    base = Path(options["logdir"]) / "supervised" / task.name
    run_dir, n = base / run_name(seed), 1
    while run_dir.exists():
        run_dir, n = base / f"{run_name(seed)}-{n}", n + 1
    return Plan(options, task, config, run_dir)


def _plan_resume(args: argparse.Namespace) -> Plan:
    run_dir = Path(args.resume)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"--resume {run_dir}: not a run folder (no config.yaml)")
    fixed = [
        "--set" if name == "sets" else f"--{name.replace('_', '-')}"
        for name, value in vars(args).items()
        if value not in (None, False) and name not in (*RESUME_OPTIONS, "resume")
    ]
    if fixed:
        allowed = ", ".join(f"--{o.replace('_', '-')}" for o in RESUME_OPTIONS)
        raise ValueError(
            f"--resume continues {run_dir} as it was configured: {', '.join(fixed)} cannot "
            f"change it (allowed with --resume: {allowed}); start a new run instead"
        )
    run = Run(run_dir)
    saved = run.read_yaml("config.yaml")
    summary = run.read_json("summary.json") or {}
    if summary.get("exit_reason") == "finished":
        raise AlreadyFinished(f"{run_dir} already finished; nothing to resume")
    options = dict(saved["options"])
    if args.no_progress is not None:
        options["no_progress"] = True
    task = find_task(options["task"])
    layers = [("config.yaml", saved["hyperparams"])]
    if args.device is not None:
        layers.append(("--device", {"device": args.device}))
    config = resolve(task.config, *layers)
    resolve_device(config.device)
    return Plan(options, task, config, run_dir, resuming=True)


def this_command() -> list[str]:
    script = Path(sys.argv[0])
    if script.name == "train_supervised.py" and script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "sige_rl.supervised.job"]


def settings_table(task: Task) -> str:
    """Each setting of ``task``: name, type, default (the task's own) and its documentation."""
    return "\n".join([f"{task.name} settings (--set KEY=VALUE)", *field_table(task.config)])


def errors() -> tuple[type[Exception], ...]:
    return (ValueError, ConfigError, CheckpointError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_tasks:
        for t in TASKS.values():
            print(f"{t.name:20s} {t.dataset}  ->  {t.model}")
        return 0
    try:
        if args.list_settings:
            print(settings_table(find_task(args.task)))
            return 0
        the_plan = plan(args)
    except AlreadyFinished as e:
        print(e)
        return 0
    except errors() as e:
        parser.error(str(e))
    return train(the_plan)


class StopRequest:
    """SIGINT / SIGTERM handlers for the length of a job: the first signal asks the fit loop to
    stop at the next batch, a second one aborts at once."""

    def __init__(self):
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None

    def handle(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        print(
            f"\n{signal.Signals(signum).name} received: stopping at the next batch "
            "(send it again to abort at once)",
            file=sys.stderr,
            flush=True,
        )


def train(p: Plan) -> int:
    """Run the planned task; return the exit code."""
    opts = p.options
    seed_everything(opts["seed"])
    run = Run(p.run_dir)
    command = shlex.join([sys.executable, *sys.argv])
    hyperparams = dataclasses.asdict(p.config)
    if p.resuming:
        run.record_resume(opts, command)
    else:
        run.record_start(
            opts,
            hyperparams,
            command,
            VERSIONED,
            {"task": p.task.name, "seed": opts["seed"], **hyperparams},
            {f"test/{p.task.metric}": float("nan")},
        )
        point_latest(p.run_dir)
    stop = StopRequest()
    handlers = {s: signal.signal(s, stop.handle) for s in EXIT_SIGNAL}
    ctx = Context(p.config, opts["seed"], p.run_dir, not opts["no_progress"], stop, run)
    start, cpu_start = time.perf_counter(), time.process_time()
    exit_reason, results = "failed", {}
    try:
        results = p.task.run(ctx)
        exit_reason = "finished"
        for key, value in results.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                run.log_scalar(f"test/{key}", value, ctx.epochs_done)
    except Interrupted:
        exit_reason = "interrupted"
    except KeyboardInterrupt:
        exit_reason = "aborted"
        raise
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
        run.write_json(
            "summary.json",
            {
                "exit_reason": exit_reason,
                "task": p.task.name,
                "seed": opts["seed"],
                "epochs": ctx.epochs_done,
                "wall_time_s": time.perf_counter() - start,
                "cpu_time_s": time.process_time() - cpu_start,
                **results,
                "run_dir": str(p.run_dir),
            },
        )
        run.close()
    if exit_reason == "interrupted":
        resume = shlex.join([*this_command(), "--resume", str(p.run_dir)])
        print(f"Interrupted; resumable from the last epoch's checkpoint. Resume with:\n  {resume}")
        return EXIT_SIGNAL[stop.signal]
    shown = {k: v for k, v in results.items() if isinstance(v, float | int)}
    print("Test: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    print(f"Run saved in {p.run_dir}  |  view it: {tensorboard_command(opts['logdir'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
