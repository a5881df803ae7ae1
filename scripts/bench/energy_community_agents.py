"""Does a shared PPO policy beat the rule-based thermostat in the energy community? Cost (EUR),
comfort violation (K h), feeder excess (kWh) and the community return per week, on one fixed
evaluation set of ``sige/EnergyCommunity-v0``.

    python scripts/bench/energy_community_agents.py [--seeds 5] [--workers 2] [--episodes 10]
                                                    [--steps N] [--runs RUN_DIR ...]

Every policy plays the same weeks: ``reset(seed=10_000 + i)`` for i < ``--episodes`` (4 houses,
temperate winter, the env's defaults), scored as ``train_agent.py`` scores a multi-agent run
(``evaluate_parallel``): the return is the community's, every agent's rewards summed; cost and
violation are summed over the buildings, the feeder excess is the community's. The baselines:
uniformly random actions (a seeded generator) and the thermostat (``thermostat_actions()``:
heat to the occupied band's lower edge, cool to its upper edge, batteries idle) for every
building. PPO trains through ``scripts/train_agent.py``'s code path (``--env
sige/EnergyCommunity-v0 --agent sb3-ppo``: the adapter of ``agents/multiagent/``, the tuned
entry of ``agents/hyperparams/sb3-ppo.yaml``, ``--steps`` steps, default its n_timesteps), one
seed per process, then plays the weeks greedily; ``--runs`` evaluates finished run folders
instead. Exits 0 if every seed's mean return beats the thermostat's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import sige_rl.envs  # noqa: E402, F401  (registers the ids in each worker)
from sige_rl.agents.multiagent import ids  # noqa: E402
from sige_rl.agents.training.evaluation import evaluate_parallel  # noqa: E402

ENV_ID = "sige/EnergyCommunity-v0"
EVAL_SEED = 10_000


class Baseline:
    """The thermostat or uniformly random actions, for every building of the adapter's env."""

    def __init__(self, venv, kind: str):
        self.venv, self.kind = venv, kind
        self.rng = np.random.default_rng(0)

    def act(self, obs, deterministic=True):
        if self.kind == "random":
            return self.rng.uniform(-1.0, 1.0, (len(obs), 3))
        (env,) = self.venv.envs
        return np.stack([env.thermostat_actions()[a] for a in self.venv.agents])


def play(agent_or_kind, episodes: int) -> dict[str, np.ndarray]:
    venv = ids.make_vec_env(ENV_ID, 1)
    agent = Baseline(venv, agent_or_kind) if isinstance(agent_or_kind, str) else agent_or_kind
    result = evaluate_parallel(agent, venv, episodes, EVAL_SEED, metrics=ids.eval_metrics(ENV_ID))
    return {"return": result.returns, **result.metrics}


def train_and_play(seed: int, steps: int | None, episodes: int, logdir: str) -> tuple:
    import torch

    from sige_rl.agents.training.train import main as train_main

    torch.set_num_threads(1)
    start = time.perf_counter()
    args = ["--env", ENV_ID, "--agent", "sb3-ppo", "--seed", str(seed), "--logdir", logdir]
    args += ["--no-progress", "--eval-episodes", "3"]
    if steps:
        args += ["--steps", str(steps)]
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the table only
        code = train_main(args)
    if code != 0:
        raise RuntimeError(f"training seed {seed} failed")
    seconds = time.perf_counter() - start
    root = os.path.join(logdir, ENV_ID.replace("/", "_"), "sb3-ppo")
    run_dir = sorted(os.path.join(root, d) for d in os.listdir(root) if d.endswith(f"_s{seed}"))
    return evaluate_run(run_dir[-1], episodes), seconds, run_dir[-1]


def evaluate_run(run_dir: str, episodes: int) -> dict[str, np.ndarray]:
    import warnings

    from sige_rl.agents.common import registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3's inexact-resume note: we only evaluate
        agent = registry.load(os.path.join(run_dir, "final"), ids.make_vec_env(ENV_ID, 1))
    return play(agent, episodes)


def row(name: str, r: dict[str, np.ndarray], seconds: float | None = None) -> str:
    time_s = f"{seconds:8.0f}" if seconds is not None else f"{'':8}"
    return (
        f"{name:<16} {r['cost_eur'].mean():9.2f} {r['violation_kh'].mean():10.2f} "
        f"{r['feeder_excess_kwh'].mean():10.2f} {r['return'].mean():9.2f} {time_s}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--episodes", type=int, default=10, help="evaluation weeks")
    p.add_argument("--steps", type=int, default=None, help="default: the YAML's n_timesteps")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs", nargs="*", help="evaluate these finished run folders instead")
    p.add_argument("--logdir", default=None, help="where the runs go (default: a temp folder)")
    args = p.parse_args(argv)
    from sige_rl.agents.common.config import tuned_job_options

    steps = args.steps or tuned_job_options("sb3-ppo", ENV_ID).get("n_timesteps")
    print(f"date      {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(
        f"machine   {platform.platform()} | {platform.processor() or 'cpu'} | "
        f"{os.cpu_count()} cpus | torch threads 1 a process, {args.workers} workers"
    )
    print(f"command   {' '.join(['python', *sys.argv])}")
    print(
        f"weeks     {ENV_ID} (4 houses, defaults), reset(seed={EVAL_SEED} + i), i < "
        f"{args.episodes}; PPO {steps} steps (agent-steps: 4 per community step)\n"
    )
    print(
        f"{'policy':<16} {'EUR/week':>9} {'K h/week':>10} {'kWh excess':>10} {'return':>9} "
        f"{'seconds':>8}"
    )
    logdir = args.logdir or tempfile.mkdtemp(prefix="community_runs_")
    with concurrent.futures.ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool:
        if args.runs:
            ppo = [pool.submit(evaluate_run, run, args.episodes) for run in args.runs]
        else:
            ppo = [
                pool.submit(train_and_play, s, steps, args.episodes, logdir)
                for s in range(args.seeds)
            ]
        random = play("random", args.episodes)
        thermostat = play("thermostat", args.episodes)
        print(row("random", random), flush=True)
        print(row("thermostat", thermostat), flush=True)
        wins, returns = [], []
        for s, future in enumerate(ppo):
            if args.runs:
                r, seconds, name = future.result(), None, f"ppo run {s}"
            else:
                r, seconds, _ = future.result()
                name = f"ppo seed {s}"
            win = r["return"].mean() > thermostat["return"].mean()
            wins.append(win)
            returns.append(r["return"].mean())
            print(row(name, r, seconds) + ("  beats the thermostat" if win else ""), flush=True)
    returns = np.array(returns)
    what = "runs" if args.runs else "seeds"
    print(
        f"\nPPO over {len(returns)} {what}: return {returns.mean():.2f} per week (min "
        f"{returns.min():.2f}, max {returns.max():.2f}; thermostat "
        f"{thermostat['return'].mean():.2f}); {sum(wins)}/{len(wins)} beat the thermostat"
    )
    print(f"runs      {logdir if not args.runs else ' '.join(args.runs)}")
    return 0 if all(wins) else 1


if __name__ == "__main__":
    sys.exit(main())
