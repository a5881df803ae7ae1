"""Our DQN with its tuned settings (agents/hyperparams/dqn.yaml) on envs besides CartPole (which
scripts/bench/dqn_vs_sb3.py covers): train, then evaluate greedily beside a uniformly random policy.

    python scripts/bench/dqn_tuned_envs.py [--envs ENV ...] [--seeds 2] [--eval-episodes 20]
                                           [--steps N] [--workers 1]

Prints per env and seed the mean and worst greedy evaluation return, a random policy's mean on
the same seeded episodes, and the training steps/s. Reference points: Acrobot-v1 counts as solved
at -100, MountainCar-v0 at -110. MinAtar has no such threshold; its rows say how far above random
the greedy policy plays (the games need the ``atari`` extra).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import platform
import sys
import time

import gymnasium as gym
import numpy as np
import torch

import sige_rl.envs  # noqa: F401  (registers the sige/ ids in each worker)
from sige_rl import agents
from sige_rl.agents.training.evaluation import evaluate

# env id -> (training steps, solved threshold or None)
ENVS = {
    "Acrobot-v1": (100_000, -100.0),
    "MountainCar-v0": (120_000, -110.0),
    # 300k of the entry's 500k: the budget of scripts/bench/minatar_vs_sb3.py
    "sige/MinAtarBreakout-v0": (300_000, None),
    "sige/MinAtarSpaceInvaders-v0": (300_000, None),
}
DEFAULT_ENVS = ["Acrobot-v1", "MountainCar-v0"]
EVAL_SEED = 10_000


def run(env_id: str, seed: int, steps: int, eval_episodes: int) -> tuple:
    """Train one seed; return (greedy returns, random returns, steps/s). Its own process."""
    torch.set_num_threads(1)
    agent = agents.make("dqn", gym.make(env_id), seed=seed, eval_epsilon=0.0)
    start = time.perf_counter()
    agent.learn(steps)
    sps = steps / (time.perf_counter() - start)
    returns, *_ = evaluate(agent, gym.make(env_id), eval_episodes, EVAL_SEED)
    random, *_ = evaluate(agent, gym.make(env_id), eval_episodes, EVAL_SEED, epsilon=1.0)
    return returns, random, sps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, choices=sorted(ENVS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--steps", type=int, help="training steps for every env (default: its own)")
    p.add_argument("--workers", type=int, default=1, help="seeds trained at once, one core each")
    args = p.parse_args(argv)
    print(f"date      {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1 a run")
    print(f"command   {' '.join(['python', *sys.argv])}\n")
    print(
        f"{'env':30} {'seed':>4} {'steps':>8} {'mean':>8} {'worst':>7} {'random':>7} {'steps/s':>8}"
    )
    jobs = [(env_id, seed) for env_id in args.envs for seed in range(args.seeds)]
    summary: dict[str, list[tuple[float, float]]] = {env_id: [] for env_id in args.envs}
    with concurrent.futures.ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool:
        futures = [
            pool.submit(run, env_id, seed, args.steps or ENVS[env_id][0], args.eval_episodes)
            for env_id, seed in jobs
        ]
        for (env_id, seed), future in zip(jobs, futures, strict=True):
            returns, random, sps = future.result()
            solved = ENVS[env_id][1]
            if solved is None:
                mark = ""
            else:
                mark = "solved" if returns.mean() >= solved else f"below {solved:g}"
            summary[env_id].append((returns.mean(), random.mean()))
            print(
                f"{env_id:30} {seed:4d} {args.steps or ENVS[env_id][0]:8d} {returns.mean():8.2f} "
                f"{returns.min():7.0f} {random.mean():7.2f} {sps:8.0f}  {mark}",
                flush=True,
            )
    print()
    for env_id, rows in summary.items():
        means = np.array(rows)
        print(
            f"{env_id}: greedy mean over seeds {means[:, 0].mean():.2f} (lowest seed "
            f"{means[:, 0].min():.2f}), random {means[:, 1].mean():.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
