"""``--backend ray``: the same multi-seed runs and hyperparameter searches on Ray, for more than
one machine. Ray is an optional extra (``pip install sige-rl[ray]``) and nothing else imports it.

Each seed or trial is an ordinary run of the training job, called in a Ray worker, in the run
folder the local backend would use: ``--logdir`` must be a path that every machine of the cluster
sees (a shared file system) for the results to land in one place. Without ``--address`` Ray
starts on this machine; with it, the job joins a running cluster (``ray start --head`` on one
machine, ``ray start --address HEAD:6379`` on the others; README, "Sweeps on Ray").

Searches run on Ray Tune: its Optuna searcher with the sampler of ``--sampler`` (or Tune's grid
search), and its median stopping rule as ``--pruner median``. A trial that the rule stops ends
where it is; its run folder keeps its checkpoints and evaluations. Running the command again
resumes the Tune experiment (``<study>/ray/``), and a trial that was cut short resumes its run.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sige_rl.agents.training.launch import Job
from sige_rl.supervised import Run

#: What each Ray worker sets before it trains: one BLAS / OpenMP thread per run.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def start(address: str | None, cpus: int | None = None) -> None:
    """Join the cluster at ``address``, or start Ray here with ``cpus`` cores."""
    try:
        import ray
    except ImportError as e:
        raise ImportError(f"--backend ray needs Ray: pip install sige-rl[ray] ({e})") from e
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "runtime_env": {"env_vars": WORKER_ENV},
        "log_to_driver": False,
    }
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=cpus, **kwargs)


def _train(args: list[str], log: str) -> int:
    """One run of the training job in this (worker) process, its output in ``log``."""
    import torch

    import sige_rl.envs  # noqa: F401  (the sige/ ids)
    from sige_rl.agents.training import train

    torch.set_num_threads(1)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        return train.main(args)


def run_seed_jobs(
    jobs: list[Job],
    parallel: int,
    address: str | None,
    on_done: Callable[[Job, int, float], None] | None = None,
) -> dict[str, int]:
    """Each job's training as a Ray task of one CPU; its exit code by key. ``on_done(job, code,
    seconds since the batch started)`` is called as each one ends."""
    import ray

    start(address, cpus=None if address else parallel)
    task = ray.remote(num_cpus=1, max_retries=0)(_train)
    began = time.perf_counter()
    waiting = {task.remote(job.args, str(job.log)): job for job in jobs}
    codes = {}
    while waiting:
        (ref,), _ = ray.wait(list(waiting), num_returns=1)
        job = waiting.pop(ref)
        try:
            codes[job.key] = ray.get(ref)
        except ray.exceptions.RayError as e:
            print(f"  {job.key}: failed on Ray: {e}", file=sys.stderr)
            codes[job.key] = 1
        if on_done is not None:
            on_done(job, codes[job.key], time.perf_counter() - began)
    return codes


def tune(study) -> list[dict[str, Any]]:
    """The study's trials as a Ray Tune experiment in ``<study folder>/ray``; a row per trial
    (as :func:`~sige_rl.agents.training.tune.optuna_rows`), its value the final evaluation's
    metric when its run finished."""
    start(study.address, cpus=None if study.address else study.jobs)
    from ray import tune as ray_tune

    experiment = (study.folder / "ray").resolve()
    trainable = ray_tune.with_resources(ray_tune.with_parameters(_trial, study=study), {"cpu": 1})
    if ray_tune.Tuner.can_restore(str(experiment)):
        print(f"resuming the Ray Tune experiment in {experiment}")
        tuner = ray_tune.Tuner.restore(str(experiment), trainable, resume_errored=True)
    else:
        param_space, search = _search(study)
        tuner = ray_tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=ray_tune.TuneConfig(
                metric=study.metric,
                mode="max" if study.direction == "maximize" else "min",
                search_alg=search,
                scheduler=_scheduler(study),
                num_samples=1 if search is None else study.trials,
                max_concurrent_trials=study.jobs,
            ),
            run_config=ray_tune.RunConfig(
                name="ray", storage_path=str(experiment.parent), verbose=0
            ),
        )
    rows = []
    for result in tuner.fit():
        if result.error is not None:
            print(f"a trial failed on Ray: {result.error}", file=sys.stderr)
        label = f"ray_{result.metrics.get('trial_id', '')}"
        run_dir = study.folder / "trials" / label
        summary = Run(run_dir).read_json("summary.json") if run_dir.is_dir() else None
        final = (summary or {}).get("final_evaluation") or {}
        finished = (summary or {}).get("exit_reason") == "finished" and study.metric in final
        rows.append(
            {
                "trial": label,
                "state": "COMPLETE" if finished else ("FAIL" if result.error else "STOPPED"),
                "value": float(final[study.metric]) if finished else None,
                "params": {k: result.config[k] for k in study.space if k in result.config},
                "run_dir": str(run_dir),
            }
        )
    return sorted(rows, key=lambda r: r["trial"])


def _search(study):
    """Tune's grid over the points of every distribution, or Optuna as its searcher."""
    from ray import tune as ray_tune

    from sige_rl.agents.training.tune import grid_of, make_sampler

    if study.sampler == "grid":
        return {k: ray_tune.grid_search(v) for k, v in grid_of(study.space).items()}, None
    from ray.tune.search.optuna import OptunaSearch

    search = OptunaSearch(
        space=study.space,
        metric=study.metric,
        mode="max" if study.direction == "maximize" else "min",
        sampler=make_sampler(study),
    )
    return {}, search


def _scheduler(study):
    from ray.tune.schedulers import FIFOScheduler, MedianStoppingRule

    if study.pruner == "none":
        return FIFOScheduler()
    return MedianStoppingRule(time_attr="step", min_samples_required=2, grace_period=0)


def _trial(config: dict[str, Any], study) -> None:
    """A Tune trial: the training run of ``config``'s values, reporting each evaluation."""
    from ray import tune as ray_tune

    import sige_rl.envs  # noqa: F401
    from sige_rl.agents.training import train
    from sige_rl.agents.training.tune import trial_argv

    label = f"ray_{ray_tune.get_context().get_trial_id()}"
    folder = study.folder / "trials" / label
    argv, _ = trial_argv(study, label, dict(config), resume=folder)

    def listen(row: dict[str, Any]) -> bool:
        ray_tune.report({study.metric: float(row[study.metric]), "step": int(row["step"])})
        return False

    log = study.folder / "logs" / f"{label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        train.main(argv, listeners=[listen])
