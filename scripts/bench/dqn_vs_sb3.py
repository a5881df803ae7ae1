"""Our DQN against Stable-Baselines3 DQN on CartPole-v1, interleaved seed by seed in one run, one
torch thread each.

    python scripts/bench/dqn_vs_sb3.py [--settings tuned|identical] [--seeds 10] [--steps 50000]
                                       [--eval-episodes 20] [--flush-sb3]

``--settings tuned`` (default): ours with its tuned entry (agents/hyperparams/dqn.yaml), SB3 with
RL Zoo's tuned CartPole settings; this compares two tuned configurations. ``--settings
identical``: ours with exactly RL Zoo's settings too (same network, batch, train_freq,
gradient_steps, buffer, learning rate, target schedule and exploration; no Double, dueling,
n-step or prioritized replay), which measures the implementations apart from tuning.

For each seed: train ours, then SB3, for the same number of environment steps; evaluate each
greedily on the same 20 seeded episodes; print the final mean return and training steps/s. Then:
seeds reaching >= 475 for each, and the median of the per-seed steps/s ratio. Targets: tuned,
ours solves >= 9 of 10 seeds and runs >= 2x SB3's steps/s; identical, >= 1.5x. ``--flush-sb3``
gives SB3 the CPU setting our ``learn`` uses (subnormals flushed, ``supervised.flush_denormals``),
to show how much of the ratio that setting is.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import os
import platform
import statistics
import sys
import time

import gymnasium as gym
import numpy as np
import torch

from sige_rl import agents
from sige_rl.agents.dqn.dqn import DQN
from sige_rl.agents.training.evaluation import evaluate
from sige_rl.supervised import flush_denormals

ENV_ID = "CartPole-v1"
SOLVED = 475.0
# RL Zoo (rl-baselines3-zoo, hyperparams/dqn.yml, CartPole-v1).
ZOO = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)
# The same settings in our DQNConfig's names; everything else keeps DQNConfig's defaults, which
# are SB3's (Huber loss, Adam, max_grad_norm 10, gamma 0.99, hard target copies).
OURS_AS_ZOO = dict(
    learning_rate=ZOO["learning_rate"],
    batch_size=ZOO["batch_size"],
    buffer_size=ZOO["buffer_size"],
    learning_starts=ZOO["learning_starts"],
    gamma=ZOO["gamma"],
    target_update_interval=ZOO["target_update_interval"],
    tau=1.0,
    train_freq=ZOO["train_freq"],
    gradient_steps=ZOO["gradient_steps"],
    epsilon=1.0,
    epsilon_final=ZOO["exploration_final_eps"],
    exploration_fraction=ZOO["exploration_fraction"],
    net_arch=ZOO["policy_kwargs"]["net_arch"],
    eval_epsilon=0.0,
)
EVAL_SEED = 10_000
TARGETS = {"tuned": 2.0, "identical": 1.5}


class SB3Policy:
    """Gives an SB3 model our ``act`` so both are evaluated by the same function."""

    def __init__(self, model):
        self.model = model

    def act(self, obs, deterministic=True):
        return int(self.model.predict(obs, deterministic=deterministic)[0])


def train_ours(seed: int, steps: int, settings: str = "tuned"):
    if settings == "identical":
        agent = DQN(gym.make(ENV_ID), seed=seed, **OURS_AS_ZOO)  # no tuned YAML underneath
    else:  # eval_epsilon 0: the final evaluation is greedy for both (SB3 predicts greedily)
        agent = agents.make("dqn", gym.make(ENV_ID), seed=seed, eval_epsilon=0.0)
    start = time.perf_counter()
    agent.learn(steps)
    return agent, steps / (time.perf_counter() - start)


def train_sb3(seed: int, steps: int, flush: bool = False):
    from stable_baselines3 import DQN as SB3DQN

    model = SB3DQN("MlpPolicy", gym.make(ENV_ID), seed=seed, device="cpu", verbose=0, **ZOO)
    start = time.perf_counter()
    with flush_denormals() if flush else contextlib.nullcontext():
        model.learn(steps)
    return SB3Policy(model), steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settings", choices=tuple(TARGETS), default="tuned")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument(
        "--flush-sb3",
        action="store_true",
        help="run SB3's learn with subnormals flushed too, as our DQN.learn does",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    import stable_baselines3

    print(
        f"versions  torch {torch.__version__}, sb3 {stable_baselines3.__version__}, "
        f"gymnasium {gym.__version__}\n"
    )
    print(
        f"{'seed':>4} {'ours return':>12} {'ours steps/s':>13} {'sb3 return':>11} "
        f"{'sb3 steps/s':>12} {'ratio':>6}",
        flush=True,
    )
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        result = []
        ours = functools.partial(train_ours, settings=args.settings)
        for train in (ours, functools.partial(train_sb3, flush=args.flush_sb3)):
            policy, sps = train(seed, args.steps)
            returns, *_ = evaluate(policy, gym.make(ENV_ID), args.eval_episodes, EVAL_SEED)
            result += [float(returns.mean()), sps]
        rows.append(result)
        ours_r, ours_sps, sb3_r, sb3_sps = result
        print(
            f"{seed:4d} {ours_r:12.1f} {ours_sps:13.0f} {sb3_r:11.1f} {sb3_sps:12.0f} "
            f"{ours_sps / sb3_sps:5.2f}x",
            flush=True,
        )

    rows = np.array(rows)
    ours_solved = int((rows[:, 0] >= SOLVED).sum())
    sb3_solved = int((rows[:, 2] >= SOLVED).sum())
    ratio = statistics.median(rows[:, 1] / rows[:, 3])
    n = len(rows)
    print(
        f"\nsolved (mean eval return >= {SOLVED:g}): ours {ours_solved}/{n}, SB3 {sb3_solved}/{n}"
    )
    print(
        f"median steps/s: ours {np.median(rows[:, 1]):.0f}, SB3 {np.median(rows[:, 3]):.0f}; "
        f"median per-seed ratio {ratio:.2f}x"
    )
    target = TARGETS[args.settings]
    if args.settings == "tuned":
        ok = ours_solved >= 0.9 * n and ratio >= target
        print(f"targets (>= 90% solved, >= {target:g}x steps/s): {'met' if ok else 'MISSED'}")
    else:
        ok = ratio >= target
        print(f"target (>= {target:g}x steps/s on identical settings): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
