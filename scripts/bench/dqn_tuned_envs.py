"""Our DQN with its tuned settings (agents/hyperparams/dqn.yaml) on the classic-control envs
besides CartPole, which scripts/bench/dqn_vs_sb3.py covers: train, then evaluate greedily.

    python scripts/bench/dqn_tuned_envs.py [--seeds 2] [--eval-episodes 20]

Prints per env and seed the mean and worst evaluation return and the training steps/s.
Reference points: Acrobot-v1 counts as solved at -100, MountainCar-v0 at -110.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time

import gymnasium as gym
import torch

from sige_rl import agents
from sige_rl.agents.training.evaluation import evaluate

# env id -> (training steps the YAML entry is meant for, solved threshold)
ENVS = {"Acrobot-v1": (100_000, -100.0), "MountainCar-v0": (120_000, -110.0)}
EVAL_SEED = 10_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--eval-episodes", type=int, default=20)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"command   {' '.join(['python', *sys.argv])}\n")
    print(f"{'env':16} {'seed':>4} {'steps':>8} {'mean':>8} {'worst':>7} {'steps/s':>8}")
    for env_id, (steps, solved) in ENVS.items():
        for seed in range(args.seeds):
            agent = agents.make("dqn", gym.make(env_id), seed=seed, eval_epsilon=0.0)
            start = time.perf_counter()
            agent.learn(steps)
            sps = steps / (time.perf_counter() - start)
            returns, *_ = evaluate(agent, gym.make(env_id), args.eval_episodes, EVAL_SEED)
            mark = "solved" if returns.mean() >= solved else f"below {solved:g}"
            print(
                f"{env_id:16} {seed:4d} {steps:8d} {returns.mean():8.1f} {returns.min():7.0f} "
                f"{sps:8.0f}  {mark}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
