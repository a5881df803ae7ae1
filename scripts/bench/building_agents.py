"""Does a learned controller beat the rule-based thermostat? Cost (EUR) and comfort violation
(K h) per week on one fixed evaluation set of ``sige/BuildingHVACDiscrete-v0``.

    python scripts/bench/building_agents.py [--agent sb3-ppo] [--seeds 5] [--episodes 10]
                                            [--steps N] [--workers 2] [--runs RUN_DIR ...]

Every policy plays the same weeks: ``reset(seed=10_000 + i)`` for i < ``--episodes`` (temperate
winter, a house, the registered defaults). The baselines are the plain thermostat (the occupied
band around the clock) and the schedule-aware one (``--set setback=true``: the band of the
moment, relaxed while the house is empty). The learner (``--agent``: sb3-ppo by default, or
dqn) trains through ``scripts/train_agent.py``'s code path (its tuned entry in
``agents/hyperparams/``, ``--steps`` steps, default the entry's n_timesteps), one seed per
process, then plays the weeks greedily; ``--runs`` evaluates finished run folders instead of
training. A seed *beats the thermostat* when its mean weekly cost is lower and its
mean weekly violation is no higher than the plain thermostat's plus ``--comfort-tolerance`` K h
(default 0.1: the thermostat's own is 0, and a tenth of a kelvin-hour a week is below what a
room thermometer resolves). Exits 0 if every seed does.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import sige_rl.envs  # noqa: E402, F401  (registers the ids in each worker)
from sige_rl import agents  # noqa: E402
from sige_rl.agents.search.protocol import Planner  # noqa: E402

ENV_ID = "sige/BuildingHVACDiscrete-v0"
EVAL_SEED = 10_000


def play(agent, episodes: int, env_id: str = ENV_ID) -> dict[str, np.ndarray]:
    """Cost, violation, electricity and return of each evaluation week."""
    env = gym.make(env_id)
    out = {k: np.zeros(episodes) for k in ("cost", "violation", "energy", "return")}
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        if isinstance(agent, Planner):
            agent.attach(env)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(agent.act(obs, deterministic=True))
            out["cost"][i] += info["cost_eur"]
            out["violation"][i] += info["violation_kh"]
            out["energy"][i] += info["energy_kwh"]
            out["return"][i] += reward
            done = terminated or truncated
    return out


def baseline(setback: bool, episodes: int) -> dict[str, np.ndarray]:
    return play(agents.make("thermostat", gym.make(ENV_ID), setback=setback), episodes)


def train_and_play(agent: str, seed: int, steps: int | None, episodes: int, logdir: str) -> tuple:
    from sige_rl.agents.training.train import main as train_main

    start = time.perf_counter()
    args = ["--env", ENV_ID, "--agent", agent, "--seed", str(seed), "--logdir", logdir]
    args += ["--no-progress", "--eval-episodes", "3"]
    if steps:
        args += ["--steps", str(steps)]
    if train_main(args) != 0:
        raise RuntimeError(f"training seed {seed} failed")
    run_dir = sorted(p for p in _runs(logdir, agent) if p.endswith(f"_s{seed}"))[-1]
    return evaluate_run(run_dir, episodes), time.perf_counter() - start, run_dir


def _runs(logdir: str, agent: str) -> list[str]:
    root = os.path.join(logdir, ENV_ID.replace("/", "_"), agent)
    return [os.path.join(root, d) for d in os.listdir(root)]


def evaluate_run(run_dir: str, episodes: int) -> dict[str, np.ndarray]:
    from sige_rl.agents.common import registry

    agent = registry.load(os.path.join(run_dir, "final"), gym.make(ENV_ID))
    return play(agent, episodes)


def row(name: str, r: dict[str, np.ndarray]) -> str:
    return (
        f"{name:<28} {r['cost'].mean():9.2f} {r['violation'].mean():10.3f} "
        f"{r['energy'].mean():9.1f} {r['return'].mean():9.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agent", default="sb3-ppo", help="the learner (default: sb3-ppo)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs", nargs="*", help="evaluate these finished run folders instead")
    p.add_argument("--comfort-tolerance", type=float, default=0.1)
    p.add_argument("--logdir", default=None, help="where the runs go (default: a temp folder)")
    args = p.parse_args(argv)
    print(
        f"# {datetime.date.today()} | {platform.node()} | {platform.processor() or 'cpu'} | "
        f"{os.cpu_count()} cores | python {platform.python_version()}"
    )
    print(f"# {ENV_ID}, evaluation weeks reset(seed={EVAL_SEED} + i), i < {args.episodes}")
    header = f"{'policy':<28} {'EUR/week':>9} {'K h/week':>10} {'kWh/week':>9} {'return':>9}"
    plain = baseline(False, args.episodes)
    setback = baseline(True, args.episodes)
    print(header)
    print(row("thermostat", plain))
    print(row("thermostat (setback)", setback))
    logdir = args.logdir or tempfile.mkdtemp(prefix="building_runs_")
    results = []
    if args.runs:
        for run_dir in args.runs:
            results.append((run_dir, evaluate_run(run_dir, args.episodes), 0.0))
    else:
        with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
            futures = [
                pool.submit(train_and_play, args.agent, s, args.steps, args.episodes, logdir)
                for s in range(args.seeds)
            ]
            for s, f in enumerate(futures):
                r, seconds, run_dir = f.result()
                results.append((f"{args.agent} seed {s} ({seconds:.0f} s)", r, seconds))
    wins = 0
    for name, r, _ in results:
        win = (
            r["cost"].mean() < plain["cost"].mean()
            and r["violation"].mean() <= plain["violation"].mean() + args.comfort_tolerance
        )
        wins += win
        print(row(name, r) + ("  beats the thermostat" if win else ""))
    costs = np.array([r["cost"].mean() for _, r, _ in results])
    violations = np.array([r["violation"].mean() for _, r, _ in results])
    print(
        f"# {'runs' if args.runs else args.agent} over {len(results)} seeds: "
        f"cost {costs.mean():.2f} EUR/week (min {costs.min():.2f}"
        f", max {costs.max():.2f}; thermostat {plain['cost'].mean():.2f}), violation "
        f"{violations.mean():.3f} K h/week (max {violations.max():.3f}); {wins}/{len(results)} "
        "beat the thermostat"
    )
    return 0 if wins == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
