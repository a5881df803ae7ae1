"""The Atari pipeline against SB3's: DQN on Pong from pixels with identical hyperparameters, each
side in a process of its own, one torch thread each, in one run.

    python scripts/bench/atari_pipeline.py [--steps 30000] [--repeats 3]

Ours: ``sige/Pong-v0`` (Gymnasium's AtariPreprocessing + FrameStackObservation), our DQN and its
frame-once replay. SB3: ``PongNoFrameskip-v4`` through SB3's ``make_atari_env`` (AtariWrapper) and
``VecFrameStack(4)``, SB3's DQN with ``CnnPolicy`` and its ReplayBuffer. Both: sticky actions off
(v4 has none), the same NatureCNN, RL Zoo's Atari settings (buffer 100k, Adam 1e-4, batch 32,
train every 4 steps, target copy every 1,000, epsilon 1 -> 0.01 over 10% of the budget, rewards
clipped) with learning starting after 5,000 steps instead of 100k, so the budget is mostly
training. Reported per side: training steps/s, peak resident memory, and the replay's allocated
bytes. Target: ours >= 1.5x SB3's steps/s (median over repeats).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

BUFFER = 100_000
SETTINGS = dict(
    learning_rate=1e-4,
    batch_size=32,
    buffer_size=BUFFER,
    learning_starts=5000,
    train_freq=4,
    gradient_steps=1,
    target_update_interval=1000,
    exploration_fraction=0.1,
    gamma=0.99,
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def train(side: str, steps: int, seed: int) -> tuple[float, float, float]:
    """Train one side in this (fresh) process; return (steps/s, peak RSS MB, replay MB)."""
    import gymnasium as gym
    import torch

    torch.set_num_threads(1)
    if side == "ours":
        import sige_rl.envs  # noqa: F401
        from sige_rl.agents.dqn.dqn import DQN

        env = gym.make("sige/Pong-v0", repeat_action_probability=0.0)
        agent = DQN(
            env, seed=seed, clip_rewards=True, epsilon_final=0.01, backbone="nature_cnn",
            **SETTINGS,
        )  # fmt: skip
        start = time.perf_counter()
        agent.learn(steps)
        replay = agent.buffer.nbytes
    else:
        import ale_py
        from stable_baselines3 import DQN as SB3DQN
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack

        gym.register_envs(ale_py)
        env = VecFrameStack(make_atari_env("PongNoFrameskip-v4", n_envs=1, seed=seed), 4)
        model = SB3DQN(
            "CnnPolicy", env, seed=seed, device="cpu", verbose=0, exploration_final_eps=0.01,
            **SETTINGS,
        )  # fmt: skip
        start = time.perf_counter()
        model.learn(steps)
        buf = model.replay_buffer
        replay = sum(
            getattr(buf, name).nbytes
            for name in ("observations", "next_observations", "actions", "rewards", "dones")
            if getattr(buf, name, None) is not None
        )
    sps = steps / (time.perf_counter() - start)
    return sps, peak_rss_mb(), replay / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    import stable_baselines3
    import torch

    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1 a side")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"versions  torch {torch.__version__}, sb3 {stable_baselines3.__version__}")
    print(f"settings  {SETTINGS}\n")
    print(
        f"{'repeat':>6} {'side':>5} {'steps/s':>8} {'peak RSS MB':>12} {'replay MB':>10}",
        flush=True,
    )
    results: dict[str, list[tuple[float, float, float]]] = {"ours": [], "sb3": []}
    with concurrent.futures.ProcessPoolExecutor(1, max_tasks_per_child=1) as pool:
        for r in range(args.repeats):
            for side in ("ours", "sb3"):  # one after the other: each has the machine alone
                out = pool.submit(train, side, args.steps, r).result()
                results[side].append(out)
                print(f"{r:6d} {side:>5} {out[0]:8.0f} {out[1]:12.0f} {out[2]:10.0f}", flush=True)
    ratios = [o[0] / s[0] for o, s in zip(results["ours"], results["sb3"], strict=True)]
    ratio = statistics.median(ratios)
    med = {k: np.median(np.array(v), axis=0) for k, v in results.items()}
    print(
        f"\nmedian steps/s: ours {med['ours'][0]:.0f}, SB3 {med['sb3'][0]:.0f}; "
        f"median ratio {ratio:.2f}x"
    )
    print(
        f"peak RSS after {args.steps} steps: ours {med['ours'][1]:.0f} MB, "
        f"SB3 {med['sb3'][1]:.0f} MB; replay allocated for {BUFFER} transitions: "
        f"ours {med['ours'][2]:.0f} MB, SB3 {med['sb3'][2]:.0f} MB"
    )
    ok = ratio >= 1.5
    print(f"target (>= 1.5x steps/s): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
