"""Where DQN's time goes against Stable-Baselines3's, on identical RL Zoo CartPole settings:
the cost of one gradient step, side by side in one process.

    python scripts/bench/dqn_update_cost.py [--repeats 7] [--warmup 3000]

Both agents first learn ``--warmup`` steps (filling replay and training a little). Then, in
alternation, ours runs one training round (``DQN._train``) and SB3 runs ``model.train`` with the
same 128 gradient steps at batch 64, once as it ships and once inside ``flush_denormals()``.
Prints the median microseconds per gradient step of each, one torch thread.
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
from dqn_vs_sb3 import ENV_ID, OURS_AS_ZOO, ZOO

from sige_rl.agents.dqn.dqn import DQN
from sige_rl.supervised import flush_denormals


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=3000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from stable_baselines3 import DQN as SB3DQN

    print(f"date      {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}\n")
    steps = ZOO["gradient_steps"]
    ours = DQN(gym.make(ENV_ID), seed=0, **OURS_AS_ZOO).learn(args.warmup)
    sb3 = SB3DQN("MlpPolicy", gym.make(ENV_ID), seed=0, device="cpu", verbose=0, **ZOO)
    sb3.learn(args.warmup)

    def per_step(fn, flush: bool) -> float:
        start = time.perf_counter()
        if flush:
            with flush_denormals():
                fn()
        else:
            fn()
        return (time.perf_counter() - start) / steps * 1e6

    times: dict[str, list[float]] = {"ours": [], "sb3": [], "sb3 flushed": []}
    for _ in range(args.repeats):
        times["ours"].append(per_step(ours._train, flush=True))  # as DQN.learn runs it
        sb3_round = lambda: sb3.train(gradient_steps=steps, batch_size=ZOO["batch_size"])  # noqa: E731
        times["sb3"].append(per_step(sb3_round, flush=False))
        times["sb3 flushed"].append(per_step(sb3_round, flush=True))
    for name, values in times.items():
        print(f"{name:12s} {statistics.median(values):7.0f} us per gradient step (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
