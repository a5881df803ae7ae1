"""PQN against our DQN on MinAtar Breakout at equal wall-clock, seed by seed in one run.

    python scripts/bench/minatar_pqn_vs_dqn.py [--seeds 5] [--seconds 60] [--eval-episodes 20]

Each side is built as train_agent.py builds it, with its tuned entry (agents/hyperparams/pqn.yaml:
128 envs x 32 steps, budget 1M steps; agents/hyperparams/dqn.yaml: one env, budget 500k steps):
the schedules (epsilon, step size) are laid over that budget, as a user would run it. Training
stops at the first safe point (each PQN update, each DQN vector step) after ``--seconds`` of
training wall-clock (construction included), one torch thread. Then each plays the same
``--eval-episodes`` seeded episodes greedily (``agents.training.evaluation.evaluate``, the
training job's evaluation). Per seed: env steps reached, steps/s, greedy mean return; summary:
medians over seeds, and the seeds where PQN scored more. Target (issue 15): PQN's median greedy
return above DQN's at equal wall-clock.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import gymnasium as gym
import torch

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.common.config import tuned_job_options
from sige_rl.agents.training.evaluation import evaluate
from sige_rl.agents.training.run_setup import make_train_env

ENV_ID = "sige/MinAtarBreakout-v0"
SIDES = ("pqn", "dqn")
EVAL_SEED = 10_000


class StopAfter(agents.Callback):
    def __init__(self, seconds: float) -> None:
        self.deadline = time.perf_counter() + seconds

    def at_safe_point(self, agent) -> bool:
        return time.perf_counter() < self.deadline


def run(side: str, seed: int, seconds: float, episodes: int) -> tuple[int, float, float]:
    """Train ``side`` for ``seconds``; return (env steps, steps/s, greedy mean return)."""
    start = time.perf_counter()
    stop = StopAfter(seconds)
    options = tuned_job_options(side, ENV_ID)
    env = make_train_env(ENV_ID, options.get("n_envs", 1), agents.agent_class(side))
    agent = agents.make(side, env, seed=seed)
    agent.learn(options["n_timesteps"], callback=stop)
    elapsed = time.perf_counter() - start
    returns, *_ = evaluate(agent, gym.make(ENV_ID), episodes, EVAL_SEED)
    return agent.num_steps, agent.num_steps / elapsed, float(returns.mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--seconds", type=float, default=60.0, help="training wall-clock per side")
    p.add_argument("--eval-episodes", type=int, default=20)
    args = p.parse_args(argv)
    if args.seeds < 1 or args.seconds <= 0 or args.eval_episodes < 1:
        p.error("--seeds, --seconds and --eval-episodes must be positive")
    torch.set_num_threads(1)
    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"budget    {args.seconds:g} s of training per side and seed\n")
    print(f"{'seed':>4} {'side':5} {'steps':>9} {'steps/s':>8} {'greedy mean':>11}", flush=True)
    scores: dict[str, list[float]] = {s: [] for s in SIDES}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for side in SIDES:
            steps, sps, mean = run(side, seed, args.seconds, args.eval_episodes)
            scores[side].append(mean)
            print(f"{seed:4d} {side:5} {steps:9d} {sps:8.0f} {mean:11.2f}", flush=True)
    medians = {s: statistics.median(v) for s, v in scores.items()}
    wins = sum(a > b for a, b in zip(scores["pqn"], scores["dqn"], strict=True))
    print(f"\nmedian greedy return: pqn {medians['pqn']:.2f}, dqn {medians['dqn']:.2f}")
    print(f"pqn scored more on {wins}/{args.seeds} seeds")
    ok = medians["pqn"] > medians["dqn"]
    print(f"target (pqn's median above dqn's at equal wall-clock): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
