"""The supervised tasks over several seeds, and ensembles against their best member.

    python scripts/bench/supervised_tasks.py [--seeds 5] [--workers 2] [--tasks a,b,...]
                                             [--no-ensembles] [--epochs-scale 1.0]

Every task of ``scripts/train_supervised.py`` runs with its defaults, once per seed (the seed
also draws the digits' stratified 80/20 split), through the job's own code, one process per run
with one torch thread. For each it prints the headline figures per seed and their mean, min and
max, with each run's CPU seconds. The checks it states (exit 1 if one fails):

- digits-cnn reaches >= 99.0% test accuracy on every seed, in under 60 s of CPU each, and beats
  the digits-mlp baseline of the same seed (same split);
- mnist1d-cnn reaches >= 94% (the MNIST-1D paper's CNN figure) on every seed;
- series-lstm's test MSE is below half the persistence baseline's on every seed;
- digits-gan: on every seed, at least half the samples are recognised with confidence above
  0.9 by the digits CNN (chance is 0.1) and all 10 classes appear among them;
- digits-vae's reconstruction MSE is below half the mean image's on every seed.

Ensembles (in the same run): on a fixed split (seed 0), the digits CNN trained from ``--seeds``
seeds, four digit architectures (mlp, mnist_cnn, vgg, resnet), and the MNIST-1D CNN from
``--seeds`` seeds; each averages its members' predicted probabilities, against the best member.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

TASK_ORDER = (
    "digits-cnn",
    "digits-mlp",
    "mnist1d-cnn",
    "digits-vae",
    "digits-transfer",
    "series-lstm",
    "digits-gan",
    "mnist1d-gru",
    "mnist1d-transformer",
)
SHOWN = {
    "digits-cnn": ("test_accuracy",),
    "digits-mlp": ("test_accuracy",),
    "digits-transfer": (
        "test_accuracy",
        "scratch_accuracy",
        "feature_extraction_accuracy",
        "pretrain_accuracy",
    ),
    "mnist1d-cnn": ("test_accuracy",),
    "mnist1d-gru": ("test_accuracy",),
    "mnist1d-transformer": ("test_accuracy",),
    "series-lstm": ("test_mse", "baseline_mse", "mse_ratio"),
    "digits-vae": ("test_mse", "baseline_mse"),
    "digits-gan": ("confident_fraction", "mean_confidence", "classes_covered"),
}
EPOCH_KEYS = ("epochs", "pretrain_epochs", "head_epochs", "finetune_epochs", "judge_epochs")


def run_task(task: str, seed: int, scale: float) -> dict:
    """One run of ``task`` through the job's code; its summary.json."""
    import torch

    torch.set_num_threads(1)
    from sige_rl.supervised.job import main
    from sige_rl.supervised.tasks import TASKS

    sets = []
    if scale != 1.0:
        fields = {f.name: f.default for f in dataclasses.fields(TASKS[task].config)}
        for key in EPOCH_KEYS:
            if key in fields:
                sets += ["--set", f"{key}={max(1, round(fields[key] * scale))}"]
    with tempfile.TemporaryDirectory() as logdir:
        args = ["--task", task, "--seed", str(seed), "--logdir", logdir, "--no-progress"]
        with open(os.devnull, "w") as null:
            stdout, sys.stdout = sys.stdout, null
            try:
                code = main([*args, *sets])
            finally:
                sys.stdout = stdout
        assert code == 0, f"{task} seed {seed} exited {code}"
        (run,) = Path(logdir, "supervised", task).iterdir()
        return json.loads((run / "summary.json").read_text())


def ensemble(kind: str, seeds: int, scale: float) -> dict:
    """Members trained on one split; each member's test accuracy and the soft vote's."""
    import torch

    torch.set_num_threads(1)
    from sige_rl.supervised import datasets
    from sige_rl.supervised.backbones import make_network
    from sige_rl.supervised.ensemble import average_probabilities
    from sige_rl.supervised.fit import ClassifierFit
    from sige_rl.supervised.tasks import (
        DigitsCNNConfig,
        DigitsMLPConfig,
        Mnist1DCNNConfig,
        digits_split,
    )

    def scaled(config):
        return dataclasses.replace(config, epochs=max(1, round(config.epochs * scale)))

    if kind == "mnist1d":
        x_tr, y_tr, x_te, y_te = datasets.load_mnist1d()
        x_tr, x_te = x_tr[:, None, :], x_te[:, None, :]
        members = [("cnn1d", Mnist1DCNNConfig(), {}, s) for s in range(seeds)]
    else:
        x_tr, y_tr, x_te, y_te = digits_split(DigitsCNNConfig(), 0)
        if kind == "digits":
            members = [("vgg", DigitsCNNConfig(), {}, s) for s in range(seeds)]
        else:  # digits-mixed: one of each architecture
            members = [
                ("mlp", DigitsMLPConfig(), {"hidden": [256, 128], "dropout": 0.2}, 0),
                ("mnist_cnn", DigitsCNNConfig(network="mnist_cnn"), {"padding": 1}, 0),
                ("vgg", DigitsCNNConfig(), {}, 0),
                ("resnet", DigitsCNNConfig(network="resnet"), {}, 0),
            ]
    probs, accs, names = [], [], []
    for name, config, kw, seed in members:
        torch.manual_seed(seed)
        model = make_network(name, x_tr.shape[1:], 10, **kw)
        loop = ClassifierFit(model, scaled(config), seed=seed)
        loop.fit((x_tr, y_tr))
        p = loop.predict_proba((x_te, y_te))
        probs.append(p)
        accs.append(float((p.argmax(1) == y_te).mean()))
        names.append(f"{name} s{seed}")
    vote = average_probabilities(probs)
    return {
        "members": dict(zip(names, accs, strict=True)),
        "best_member": max(accs),
        "mean_member": float(np.mean(accs)),
        "ensemble": float((vote.argmax(1) == y_te).mean()),
        "test_samples": len(y_te),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tasks", default=",".join(TASK_ORDER), help="comma-separated task names")
    p.add_argument("--no-ensembles", action="store_true")
    p.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        help="multiply every epoch budget (a smoke run: 0.05); the checks are for 1.0",
    )
    args = p.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = set(tasks) - set(TASK_ORDER)
    if unknown:
        p.error(f"unknown tasks {sorted(unknown)}; allowed: {', '.join(TASK_ORDER)}")
    print(
        f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()}"
        f" | {os.cpu_count()} cores | python {platform.python_version()} | "
        f"{args.workers} workers, 1 torch thread each"
    )
    start = time.perf_counter()
    results: dict[str, dict[int, dict]] = {t: {} for t in tasks}
    ensembles: dict[str, dict] = {}
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        jobs = {}
        if not args.no_ensembles:
            for kind in ("digits", "digits-mixed", "mnist1d"):
                jobs[pool.submit(ensemble, kind, args.seeds, args.epochs_scale)] = ("ens", kind)
        for task in tasks:
            for seed in range(args.seeds):
                jobs[pool.submit(run_task, task, seed, args.epochs_scale)] = (task, seed)
        for fut in concurrent.futures.as_completed(jobs):
            a, b = jobs[fut]
            if a == "ens":
                ensembles[b] = fut.result()
            else:
                results[a][b] = fut.result()
                print(f"  done {a} seed {b}: {fut.result()['cpu_time_s']:.0f} s CPU", flush=True)

    failures = []
    print(f"\n{'task':20s} {'figure':28s} {'per seed':44s} mean   min    max    CPU s")
    for task in tasks:
        runs = [results[task][s] for s in sorted(results[task])]
        cpu = [r["cpu_time_s"] for r in runs]
        for key in SHOWN[task]:
            v = np.array([r[key] for r in runs], dtype=float)
            seeds = " ".join(f"{x:.4g}" for x in v)
            print(
                f"{task:20s} {key:28s} {seeds:44s} {v.mean():.4g} {v.min():.4g} {v.max():.4g}"
                f"  {np.median(cpu):.0f} (max {max(cpu):.0f})"
            )
    if args.epochs_scale == 1.0:
        failures += checks(results)
    for kind, r in ensembles.items():
        members = ", ".join(f"{k} {v:.4f}" for k, v in r["members"].items())
        print(
            f"ensemble {kind:13s} ensemble {r['ensemble']:.4f} | best member {r['best_member']:.4f}"
            f" | mean member {r['mean_member']:.4f} | {r['test_samples']} test samples"
            f"\n    members: {members}"
        )
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    for f in failures:
        print(f"FAILED: {f}")
    return 1 if failures else 0


def checks(results: dict[str, dict[int, dict]]) -> list[str]:
    out = []

    def each(task, cond, what):
        for seed, r in results.get(task, {}).items():
            if not cond(r, seed):
                out.append(f"{task} seed {seed}: {what}")

    mlp = results.get("digits-mlp", {})
    each("digits-cnn", lambda r, s: r["test_accuracy"] >= 0.99, "test accuracy below 99.0%")
    each("digits-cnn", lambda r, s: r["cpu_time_s"] < 60, "more than 60 s of CPU")
    each(
        "digits-cnn",
        lambda r, s: s not in mlp or r["test_accuracy"] > mlp[s]["test_accuracy"],
        "not above the MLP baseline",
    )
    each("mnist1d-cnn", lambda r, s: r["test_accuracy"] >= 0.94, "test accuracy below 94%")
    each("series-lstm", lambda r, s: r["mse_ratio"] < 0.5, "MSE not below half persistence's")
    each("digits-gan", lambda r, s: r["confident_fraction"] >= 0.5, "under half confident")
    each("digits-gan", lambda r, s: r["classes_covered"] == 10, "not all 10 classes")
    each(
        "digits-vae",
        lambda r, s: r["test_mse"] < 0.5 * r["baseline_mse"],
        "reconstruction MSE not below half the mean image's",
    )
    return out


if __name__ == "__main__":
    sys.exit(main())
