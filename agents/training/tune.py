"""``scripts/tune.py``: hyperparameter search with Optuna over ordinary training runs.

Each trial is one run of the training job (:func:`sige_rl.agents.training.train.main`) with the
trial's values given as ``--set key=value``, in its own run folder, so ``compare_runs.py`` reads
a study like any other runs. The evaluations that the job makes every ``--eval-every`` steps are
the trial's intermediate values: a pruner may stop a trial there (the run ends ``pruned``,
resumable like an interrupted one). The objective is the final evaluation's ``--metric``.

The study lives in its storage (``--storage``, by default an SQLite file in the study folder):
running the same command again continues it. Finished and pruned trials are kept; a trial whose
process died (killed, machine lost) is marked failed and queued again with the same values, and
its run resumes from its last checkpoint.

Study folder ``<logdir>/<env>/<agent>/tune_<study>/``: ``study.db``, ``space.yaml`` (a copy of
the search space), ``trials/t<number>/`` (run folders), ``logs/t<number>.log``, ``trials.csv``
and ``best.yaml`` (the best trial's hyperparameters, for ``train_agent.py --config``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import yaml

from sige_rl.agents.common import registry
from sige_rl.agents.training import cli
from sige_rl.supervised import Run
from sige_rl.supervised.config import ConfigError, parse_sets, read_config_file, resolve
from sige_rl.supervised.tracking import EXIT_SIGNAL

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("median", "none")
DEFAULT_TRIALS = 20
#: Metrics where lower is better, so the direction need not be given.
MINIMIZED = ("optimality_gap",)
#: Options of the training job that a study passes on to every trial.
PASSED_ON = (
    "env",
    "env_kwargs",
    "agent",
    "steps",
    "seed",
    "config",
    "sets",
    "eval_every",
    "eval_episodes",
    "num_envs",
    "device",
    "logdir",
)


class StudyInterrupted(Exception):
    """A trial's run was stopped by a signal: the study stops too, resumable; the trial is
    queued again (trial ``number``) to resume its run folder."""

    def __init__(self, message: str, number: int):
        super().__init__(message)
        self.number = number


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tune.py",
        description="Search hyperparameters with Optuna; every trial is a run of train_agent.py "
        "(folder <logdir>/<env>/<agent>/tune_<study>/trials/t<N>/). Run the same command again "
        "to continue a study.",
    )
    p.add_argument("--env", required=True, help="env id, as for train_agent.py")
    p.add_argument("--agent", required=True, help="agent name, as for train_agent.py")
    p.add_argument(
        "--space",
        required=True,
        metavar="FILE",
        help="YAML search space: per hyperparameter (the keys of --set) a distribution, e.g. "
        "alpha: {type: float, low: 0.01, high: 1.0, log: true}; gamma: [0.9, 0.99]",
    )
    p.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="default: tpe")
    p.add_argument(
        "--trials",
        type=int,
        metavar="N",
        help=f"finished trials the study should have (default: the grid's size, else "
        f"{DEFAULT_TRIALS})",
    )
    p.add_argument("--pruner", choices=PRUNERS, default="median", help="default: median")
    p.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage, e.g. sqlite:///study.db (default: study.db in the study folder)",
    )
    p.add_argument("--study", metavar="NAME", help="study name (default: <agent>)")
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="trials at once, in processes (1)"
    )
    p.add_argument(
        "--metric",
        default="mean_return",
        help="the final evaluation's column to optimise (default: mean_return)",
    )
    p.add_argument(
        "--direction",
        choices=("maximize", "minimize"),
        help=f"default: minimize for {', '.join(MINIMIZED)}, else maximize",
    )
    p.add_argument("--steps", type=int, help="environment steps per trial")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of every trial's run and of the sampler (0)"
    )
    p.add_argument("--config", metavar="FILE", help="YAML hyperparameters under the search")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="KEY=VALUE",
        help="a fixed hyperparameter of every trial (repeatable)",
    )
    p.add_argument(
        "--env-kwarg",
        dest="env_kwargs",
        action="append",
        metavar="KEY=VALUE",
        help="as for train_agent.py",
    )
    p.add_argument("--eval-every", type=int, metavar="N", help="evaluate (and maybe prune) every N")
    p.add_argument("--eval-episodes", type=int, metavar="K", help="episodes per evaluation")
    p.add_argument("--num-envs", type=int, metavar="N", help="parallel envs per trial")
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--logdir", default="runs", help="root of the run folders (default: runs)")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="default: local")
    p.add_argument("--address", help="with --backend ray: the cluster to join (default: local)")
    return p


# -- the search space ---------------------------------------------------------------------------
def read_space(path: str, config_cls: type) -> dict[str, Any]:
    """The YAML search space as Optuna distributions, each key a field of ``config_cls`` and
    each bound or choice a value that field accepts."""
    import optuna.distributions as d

    raw = read_config_file(path)
    if not raw:
        raise ConfigError(f"search space {path} is empty: give at least one hyperparameter")
    space: dict[str, Any] = {}
    for key, spec in raw.items():
        where = f"search space {path}, {key}"
        if isinstance(spec, list):
            spec = {"type": "categorical", "choices": spec}
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError(
                f"{where}: expected a list of choices or a mapping with 'type' (float, int or "
                f"categorical), got {spec!r}"
            )
        kind = spec["type"]
        extra = set(spec) - {"type", "low", "high", "log", "step", "choices"}
        if extra:
            raise ConfigError(f"{where}: unknown fields {sorted(extra)}")
        try:
            if kind == "categorical":
                choices = spec.get("choices")
                if not isinstance(choices, list) or not choices:
                    raise ConfigError(f"{where}: categorical needs a non-empty list 'choices'")
                for c in choices:
                    resolve(config_cls, (where, {key: c}))
                space[key] = d.CategoricalDistribution(choices)
            elif kind in ("float", "int"):
                if "low" not in spec or "high" not in spec:
                    raise ConfigError(f"{where}: {kind} needs 'low' and 'high'")
                number = float if kind == "float" else int
                low, high = number(spec["low"]), number(spec["high"])
                for v in (low, high):
                    resolve(config_cls, (where, {key: v}))
                log, step = bool(spec.get("log", False)), spec.get("step")
                if kind == "float":
                    step = None if step is None else float(step)
                    space[key] = d.FloatDistribution(low, high, log=log, step=step)
                else:
                    space[key] = d.IntDistribution(low, high, log=log, step=int(step or 1))
            else:
                raise ConfigError(f"{where}: type {kind!r}; allowed: float, int, categorical")
        except (TypeError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"{where}: {e}") from e
    return space


def grid_of(space: dict[str, Any]) -> dict[str, list]:
    """Every point of each distribution, for the grid sampler: choices, or steps from low to
    high; a continuous range has no grid."""
    import numpy as np
    import optuna.distributions as d

    grid = {}
    for key, dist in space.items():
        if isinstance(dist, d.CategoricalDistribution):
            grid[key] = list(dist.choices)
        elif isinstance(dist, d.IntDistribution) and not dist.log:
            grid[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, d.FloatDistribution) and dist.step is not None and not dist.log:
            n = int(round((dist.high - dist.low) / dist.step)) + 1
            grid[key] = [float(v) for v in np.round(dist.low + dist.step * np.arange(n), 12)]
        else:
            raise ConfigError(
                f"--sampler grid: {key} is a continuous or log range; give it 'choices' or a "
                "'step' (without log)"
            )
    return grid


# -- the study ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Study:
    """A checked study: where it lives and what each trial runs."""

    name: str
    env: str
    agent: str
    folder: Path
    storage: str
    space: dict[str, Any]
    sampler: str
    pruner: str
    trials: int
    metric: str
    direction: str
    seed: int
    base_argv: list[str]
    fixed: dict[str, Any]
    jobs: int
    backend: str
    address: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "space"}


def plan(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Study:
    """Check every argument (a single training is planned with them, as train_agent.py would)
    before anything is written."""
    cli.positive("--trials", args.trials)
    cli.positive("--jobs", args.jobs)
    if args.address is not None and args.backend != "ray":
        raise ValueError("--address goes with --backend ray")
    name = cli.check_name(args.study or args.agent)
    train_parser = cli.build_parser()
    single = train_parser.parse_args([])
    for key in PASSED_ON:
        setattr(single, key, getattr(args, key))
    trial_plan = cli.plan(single)  # the env, agent, config and sets are checked here
    cls = registry.agent_class(args.agent)
    space = read_space(args.space, cls.Config)
    fixed = {
        **(cli.config_file_layer(args.config, trial_plan.opts["env"]) if args.config else {}),
        **parse_sets(args.sets or []),
    }
    clash = sorted(set(parse_sets(args.sets or [])) & set(space))
    if clash:
        raise ConfigError(f"{', '.join(clash)}: both searched (--space) and fixed (--set)")
    trials = args.trials
    if args.sampler == "grid":
        size = math.prod(len(v) for v in grid_of(space).values())
        trials = trials or size
    trials = trials or DEFAULT_TRIALS
    folder = trial_plan.run_dir.parent / f"tune_{name}"
    storage = args.storage or f"sqlite:///{(folder / 'study.db').resolve()}"
    direction = args.direction or ("minimize" if args.metric in MINIMIZED else "maximize")
    base = cli.to_argv(train_parser, single, drop=("no_progress",))
    return Study(
        name=name,
        env=args.env,
        agent=args.agent,
        folder=folder,
        storage=storage,
        space=space,
        sampler=args.sampler,
        pruner=args.pruner,
        trials=trials,
        metric=args.metric,
        direction=direction,
        seed=args.seed,
        base_argv=base,
        fixed=fixed,
        jobs=args.jobs,
        backend=args.backend,
        address=args.address,
    )


def make_sampler(study: Study, worker: int = 0):
    import optuna

    if study.sampler == "grid":  # one order of the points in every worker: ids name points
        return optuna.samplers.GridSampler(grid_of(study.space), seed=study.seed)
    seed = study.seed + 1000 * worker  # the other samplers draw differently in each worker
    if study.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(study: Study):
    import optuna

    if study.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def load_study(study: Study, worker: int = 0):
    import optuna

    # Our own lines report each trial (a failure with its log); Optuna's would repeat them.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(
        study_name=study.name,
        storage=study.storage,
        sampler=make_sampler(study, worker),
        pruner=make_pruner(study),
        direction=study.direction,
        load_if_exists=True,
    )


def finished_count(optuna_study) -> int:
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(optuna_study.get_trials(deepcopy=False, states=done))


def recover_dead_trials(optuna_study) -> list[int]:
    """Trials left running by a process of this machine that no longer exists: marked failed and
    tried again (:func:`retry`)."""
    from optuna.trial import TrialState

    host, recovered = socket.gethostname(), []
    for t in optuna_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("host") != host or _alive(t.user_attrs.get("pid")):
            continue
        optuna_study.tell(t.number, state=TrialState.FAIL)
        retry(optuna_study, t.number)
        recovered.append(t.number)
    return recovered


def retry(optuna_study, number: int) -> None:
    """Queue failed trial ``number`` again, as Optuna's own retry of stale trials does: a waiting
    trial with its values, its attributes (the grid sampler's point among them) and
    ``retry_of``. The new trial finds the failed one's ``run_dir`` among its user attributes and
    resumes that run."""
    import optuna

    (failed,) = [t for t in optuna_study.get_trials(deepcopy=False) if t.number == number]
    optuna_study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=failed.params,
            distributions=failed.distributions,
            user_attrs={**failed.user_attrs, "retry_of": number},
            system_attrs=failed.system_attrs,
        )
    )


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trial_argv(
    study: Study, label: str, params: dict[str, Any], resume: str | Path | None = None
) -> tuple[list[str], Path]:
    """The training command of trial ``label`` (``t0003``): the study's options, the trial's
    values as ``--set``, its own folder ``trials/<label>``; or, when ``resume`` is a run folder
    with a checkpoint (a trial interrupted before), the resume of that run."""
    if resume is not None and Path(resume).is_dir():
        if (Path(resume) / "config.yaml").is_file() and Run(resume).latest_checkpoint():
            return ["--resume", str(resume), "--no-progress"], Path(resume)
        shutil.rmtree(resume)  # stopped before its first checkpoint: nothing to keep
    run_dir = study.folder / "trials" / label
    sets = [x for k, v in params.items() for x in ("--set", f"{k}={_yaml_value(v)}")]
    name = ["--name", f"{study.name}-{label}"]
    return [*study.base_argv, *sets, *name, "--run-dir", str(run_dir), "--no-progress"], run_dir


def _yaml_value(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def suggest(trial, key: str, dist) -> Any:
    """The trial's value of ``key``, drawn by the study's sampler from ``dist``."""
    import optuna.distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, d.IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def objective(study: Study):
    """The function Optuna calls per trial: one training run, in this process, its output in
    ``logs/t<N>.log``."""
    import optuna

    from sige_rl.agents.training import train

    def run_trial(trial: optuna.Trial) -> float:
        params = {k: suggest(trial, k, dist) for k, dist in study.space.items()}
        resume = trial.user_attrs.get("run_dir")  # set on a trial only by a retry
        argv, run_dir = trial_argv(study, f"t{trial.number:04d}", params, resume)
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())

        def listen(row: dict[str, Any]) -> bool:
            if study.metric not in row:
                raise ConfigError(f"--metric {study.metric}: the evaluations have {', '.join(row)}")
            trial.report(float(row[study.metric]), int(row["step"]))
            return trial.should_prune()

        log = study.folder / "logs" / f"t{trial.number:04d}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            code = train.main(argv, listeners=[listen])
        summary = Run(run_dir).read_json("summary.json") or {}
        reason = summary.get("exit_reason")
        final = summary.get("final_evaluation") or {}
        shown = ", ".join(f"{k}={_yaml_value(v)}" for k, v in params.items())
        if reason == "pruned":
            print(f"trial {trial.number} ({shown}): pruned at step {summary.get('steps')}")
            raise optuna.TrialPruned()
        if reason != "finished" or study.metric not in final:
            if code in EXIT_SIGNAL.values():
                raise StudyInterrupted(
                    f"trial {trial.number} was interrupted ({run_dir})", trial.number
                )
            message = f"trial {trial.number} ({shown}) failed (exit code {code}); see {log}"
            print(message, file=sys.stderr)
            raise RuntimeError(message)
        value = float(final[study.metric])
        print(f"trial {trial.number} ({shown}): {study.metric} {value:.4g}", flush=True)
        return value

    return run_trial


def optimize(study: Study, worker: int = 0) -> bool:
    """Run trials in this process until the study has ``study.trials`` finished ones; False if
    a signal stopped a trial (it is queued again, to resume its run)."""
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    s = load_study(study, worker)
    if finished_count(s) >= study.trials:
        return True
    stop = MaxTrialsCallback(study.trials, states=(TrialState.COMPLETE, TrialState.PRUNED))
    try:
        s.optimize(objective(study), callbacks=[stop], catch=(RuntimeError,), gc_after_trial=True)
    except StudyInterrupted as e:
        retry(s, e.number)
        print(f"{e}; it resumes when the study is run again", file=sys.stderr)
        return False
    return True


def _worker(study: Study, worker: int) -> None:
    import torch

    torch.set_num_threads(1)  # several trials share the cores
    sys.exit(0 if optimize(study, worker) else 130)


def run_local(study: Study) -> bool:
    """The trials in this process, or in ``study.jobs`` worker processes sharing the storage;
    False if a signal stopped the study."""
    if study.jobs == 1:
        return optimize(study)
    import multiprocessing as mp
    import signal

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(study, w)) for w in range(study.jobs)]
    for p in procs:
        p.start()
    # The workers see the terminal's Ctrl-C themselves and stop their trials at a checkpoint.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for p in procs:
            p.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    return all(p.exitcode == 0 for p in procs)


def optuna_rows(study: Study) -> list[dict[str, Any]]:
    """Every trial of the study's storage: label, state, value, params, run folder."""
    rows = []
    for t in load_study(study).get_trials(deepcopy=False):
        rows.append(
            {
                "trial": f"t{t.number:04d}",
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "run_dir": t.user_attrs.get("run_dir", ""),
            }
        )
    return rows


def write_results(study: Study, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """trials.csv (every trial) and best.yaml (the best finished trial's hyperparameters with the
    study's fixed ones, as ``train_agent.py --config`` reads them); the best trial's row, or None
    when no trial finished."""
    import csv

    keys = list(study.space)
    with open(study.folder / "trials.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["trial", "state", study.metric, *keys, "run_dir"])
        for r in rows:
            value = "" if r["value"] is None else r["value"]
            params = [r["params"].get(k, "") for k in keys]
            out.writerow([r["trial"], r["state"], value, *params, r["run_dir"]])
    done = [r for r in rows if r["state"] == "COMPLETE" and r["value"] is not None]
    if not done:
        return None
    sign = 1.0 if study.direction == "maximize" else -1.0
    best = max(done, key=lambda r: sign * r["value"])  # the first of equals: the earliest
    use = shlex.join(["--env", study.env, "--agent", study.agent])
    header = (
        f"# Best trial {best['trial']} of study {study.name!r}: {study.metric} "
        f"{best['value']:.6g} ({study.direction}).\n# Run folder: {best['run_dir']}\n"
        f"# Use: train_agent.py {use} --config {study.folder / 'best.yaml'}\n"
    )
    body = yaml.safe_dump({**study.fixed, **best["params"]}, sort_keys=False)
    (study.folder / "best.yaml").write_text(header + body)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        study = plan(parser, args)
        if study.backend == "local":
            import optuna  # noqa: F401  (a clear error now rather than in a worker)
    except ImportError as e:
        print(f"{e}: pip install optuna (or sige-rl[sweeps])", file=sys.stderr)
        return 2
    except cli.errors() as e:
        parser.error(str(e))
    study.folder.mkdir(parents=True, exist_ok=True)
    space_copy = study.folder / "space.yaml"
    if not space_copy.exists():
        space_copy.write_text(Path(args.space).read_text())
    if study.backend == "ray":
        from sige_rl.agents.training import ray_backend

        rows = ray_backend.tune(study)
    else:
        s = load_study(study)
        recovered = recover_dead_trials(s)
        done = finished_count(s)
        print(
            f"study {study.name} ({study.storage}): {done} of {study.trials} trials finished"
            + (f"; trials {recovered} had died and run again" if recovered else "")
        )
        if not run_local(study):
            write_results(study, optuna_rows(study))
            print(f"Study interrupted; run the same command again to continue ({study.folder})")
            return 130
        rows = optuna_rows(study)
    best = write_results(study, rows)
    if best is None:
        print(f"No trial finished yet; trials in {study.folder / 'trials.csv'}")
        return 1
    shown = ", ".join(f"{k}={v}" for k, v in best["params"].items())
    print(f"Best trial {best['trial']}: {study.metric} {best['value']:.4g} with {shown}")
    print(f"Study in {study.folder}; best config: {study.folder / 'best.yaml'}")
    return 0
