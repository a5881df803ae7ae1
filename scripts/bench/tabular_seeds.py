"""Multi-seed check of the tabular learners' tuned entries (agents/hyperparams/*.yaml): each one,
trained for its entry's n_timesteps, should end within 1% of V* at the start state.

    python scripts/bench/tabular_seeds.py [--seeds 5] [--first-seed 0] [--agents mc sarsa]
                                          [--envs sige/SlipperyMaze-v0 FrozenLake-v1]

For every (agent, env) pair and seeds first-seed .. first-seed + seeds - 1 it trains a fresh
agent with its tuned values and prints the relative gap |V* - V^pi| / |V*| of the greedy policy
(exact, by dynamic programming on env.unwrapped.P), how many seeds are within 1%, and the wall
seconds of the row. Exits 0 if every pair holds on every seed, else 1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from importlib import metadata

import gymnasium as gym

from sige_rl import agents, envs
from sige_rl.agents.common.config import tuned_job_options
from sige_rl.agents.training.evaluation import OptimalityGap

AGENTS = ("mc", "q_learning", "sarsa", "expected_sarsa")
ENVS = (*envs.ENV_IDS, "FrozenLake-v1")
TOLERANCE = 0.01  # relative gap that counts as "within 1% of V*"


def relative_gap(agent_name: str, env_id: str, steps: int, seed: int) -> float:
    """Train a fresh tuned agent for ``steps`` and return its greedy policy's relative gap."""
    agent = agents.make(agent_name, gym.make(env_id), seed=seed)
    agent.learn(steps)
    gap = OptimalityGap.for_env(agent.env, agent.config.gamma)
    return abs(gap.v_star - gap.policy_value(agent)) / abs(gap.v_star)


def print_header() -> None:
    versions = ", ".join(
        f"{pkg} {metadata.version(pkg)}" for pkg in ("sige-rl", "gymnasium", "numpy")
    )
    print(f"date      {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"command   {' '.join(['python', *sys.argv])}")
    print(f"versions  python {platform.python_version()}, {versions}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="number of seeds per pair")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--agents", nargs="+", default=list(AGENTS), choices=AGENTS)
    p.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS)
    args = p.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print_header()

    gap_cols = " ".join(f"{'s' + str(s):>7}" for s in seeds)
    print(f"{'agent':15} {'env':24} {'steps':>8} {gap_cols} {'<=1%':>5} {'wall s':>7}")
    misses = []
    for agent_name in args.agents:
        for env_id in args.envs:
            steps = tuned_job_options(agent_name, env_id).get("n_timesteps")
            if steps is None:
                print(f"{agent_name:15} {env_id:24} no n_timesteps in the tuned entry", flush=True)
                misses.append(f"{agent_name} on {env_id}: no tuned n_timesteps")
                continue
            start = time.perf_counter()
            gaps = {seed: relative_gap(agent_name, env_id, steps, seed) for seed in seeds}
            wall = time.perf_counter() - start
            missed = {seed: gap for seed, gap in gaps.items() if gap > TOLERANCE}
            held = len(gaps) - len(missed)
            cells = " ".join(f"{100 * gap:6.2f}%" for gap in gaps.values())
            print(
                f"{agent_name:15} {env_id:24} {steps:8d} {cells} {held:3d}/{len(gaps)} {wall:7.1f}",
                flush=True,
            )
            if missed:
                listed = ", ".join(f"seed {seed}: {100 * gap:.2f}%" for seed, gap in missed.items())
                misses.append(f"{agent_name} on {env_id}: {listed}")

    n_pairs = len(args.agents) * len(args.envs)
    print(f"\n{n_pairs - len(misses)} of {n_pairs} pairs within 1% of V* on all {len(seeds)} seeds")
    for miss in misses:
        print(f"  miss: {miss}")
    return 0 if not misses else 1


if __name__ == "__main__":
    sys.exit(main())
