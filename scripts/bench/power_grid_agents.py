"""Who keeps the 14-bus grid alive longest: the do-nothing and greedy baselines, and DQN trained
with alerts, on one fixed set of evaluation weeks.

    python scripts/bench/power_grid_agents.py [--seeds 5] [--episodes 20] [--steps N]
                                              [--workers 2] [--greedy-episodes 10]

Every policy plays the same weeks: ``reset(seed=10_000 + i)`` for i < ``--episodes`` on
``sige/PowerGrid14-v0`` (the greedy baseline on the first ``--greedy-episodes`` of them: it
simulates every legal action at every step). DQN trains on ``sige/PowerGrid14Alert-v0`` (the same
grid; it decides only when a line reaches 95%) with its tuned entry in
``agents/hyperparams/dqn.yaml`` for ``--steps`` decisions (default: the entry's n_timesteps),
one seed per process, then plays the weeks greedily. Survival is counted in grid steps (a week
is 2,016); the return is the grid's own reward (L2RPN's margin), unscaled. Exits 0 if DQN's
mean survival beats do-nothing's on every seed.
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

import sige_rl.envs  # noqa: F401  (registers the ids in each worker)
from sige_rl import agents
from sige_rl.agents.common.config import tuned_job_options
from sige_rl.agents.search.protocol import Planner

GRID, ALERT = "sige/PowerGrid14-v0", "sige/PowerGrid14Alert-v0"
EVAL_SEED = 10_000


def play(agent, env_id: str, episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Survival (grid steps) and grid return per evaluation week."""
    env = gym.make(env_id)
    scale = env.get_wrapper_attr("reward_scale") if env_id == ALERT else 1.0
    survival, returns = np.zeros(episodes), np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        if isinstance(agent, Planner):  # the greedy baseline looks ahead on this week
            agent.attach(env)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic=True))
            returns[i] += reward * scale
            done = terminated or truncated
        survival[i] = env.unwrapped.t
    return survival, returns


def baseline(name: str, episodes: int) -> tuple:
    start = time.perf_counter()
    survival, returns = play(agents.make(name, gym.make(GRID)), GRID, episodes)
    return survival, returns, time.perf_counter() - start


def train_dqn(seed: int, steps: int, episodes: int) -> tuple:
    """One seed: train on the alert env, then play the evaluation weeks."""
    import torch

    torch.set_num_threads(1)
    agent = agents.make("dqn", gym.make(ALERT), seed=seed)
    start = time.perf_counter()
    agent.learn(steps)
    seconds = time.perf_counter() - start
    survival, returns = play(agent, ALERT, episodes)
    return survival, returns, seconds


def row(name: str, survival: np.ndarray, returns: np.ndarray, seconds: float) -> str:
    full = int((survival == survival.max()).sum()) if survival.max() == 2016 else 0
    return (
        f"{name:22} {survival.mean():9.0f} {np.median(survival):8.0f} {full:5d} "
        f"{returns.mean():10.0f} {seconds:8.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--greedy-episodes", type=int, default=10)
    p.add_argument("--steps", type=int, help="DQN decisions to train (default: the YAML entry)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    steps = args.steps or int(tuned_job_options("dqn", ALERT)["n_timesteps"])
    print(f"date      {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1 a process")
    print(f"command   {' '.join(['python', *sys.argv])}")
    print(f"weeks     reset(seed={EVAL_SEED} + i), i < {args.episodes}; DQN {steps} decisions\n")
    print(f"{'policy':22} {'survival':>9} {'median':>8} {'full':>5} {'return':>10} {'seconds':>8}")
    with concurrent.futures.ProcessPoolExecutor(args.workers, max_tasks_per_child=1) as pool:
        dqn = [pool.submit(train_dqn, s, steps, args.episodes) for s in range(args.seeds)]
        nothing = pool.submit(baseline, "do_nothing", args.episodes)
        greedy = pool.submit(baseline, "greedy", args.greedy_episodes)
        base = nothing.result()
        print(row("do_nothing", *base), flush=True)
        g = greedy.result()
        print(row(f"greedy ({args.greedy_episodes} weeks)", *g), flush=True)
        base_first = base[0][: args.greedy_episodes].mean()
        print(f"{'':22} do_nothing on those weeks: {base_first:.0f}", flush=True)
        wins = []
        for seed, future in enumerate(dqn):
            result = future.result()
            wins.append(result[0].mean() > base[0].mean())
            print(row(f"dqn seed {seed}", *result), flush=True)
    print(f"\nDQN beats do-nothing's mean survival on {sum(wins)} of {len(wins)} seeds")
    return 0 if all(wins) else 1


if __name__ == "__main__":
    sys.exit(main())
