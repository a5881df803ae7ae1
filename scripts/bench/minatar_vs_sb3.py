"""Our DQN against Stable-Baselines3 DQN (CnnPolicy) on MinAtar Breakout, seed by seed in one run.

    python scripts/bench/minatar_vs_sb3.py [--seeds 3] [--steps 300000] [--eval-episodes 30]
                                           [--parallel] [--extensions]

Both sides learn from the same 10x10 grids (``sige/MinAtarBreakout-v0``) with the same network,
the MinAtar CNN of Young & Tian 2019 (conv 16 3x3, Linear 128; SB3 gets it as its CnnPolicy's
features extractor), the same budget and the same settings: our tuned entry
(agents/hyperparams/dqn.yaml), plain DQN, which SB3's DQN has every part of. ``--extensions``
adds Double + dueling + 3-step returns to ours (SB3's DQN has none of them): the variant the
tuned entry was chosen against.

Each seed trains ours, then SB3 (``--parallel``: both at once, one core each), one torch thread
each, and evaluates each greedily on the same seeded episodes. Targets: ours' mean return >=
SB3's, and >= 1.5x its training steps/s (median of the per-seed ratios).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import platform
import statistics
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from dqn_vs_sb3 import SB3Policy  # this folder is on sys.path when a bench script runs

import sige_rl.envs  # noqa: F401
from sige_rl import agents
from sige_rl.agents.common.config import tuned_hyperparams
from sige_rl.agents.training.evaluation import evaluate

ENV_ID = "sige/MinAtarBreakout-v0"
EVAL_SEED = 10_000
TARGET_RATIO = 1.5


def sb3_settings() -> dict:
    """Our tuned entry in SB3's names (the parts SB3's DQN has)."""
    t = tuned_hyperparams("dqn", ENV_ID)
    return dict(
        learning_rate=t["learning_rate"],
        batch_size=t["batch_size"],
        buffer_size=t["buffer_size"],
        learning_starts=t["learning_starts"],
        train_freq=t["train_freq"],
        target_update_interval=t["target_update_interval"],
        exploration_fraction=t["exploration_fraction"],
        exploration_final_eps=t["epsilon_final"],
        gamma=t.get("gamma", 0.99),
    )


def minatar_extractor():
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    from sige_rl.supervised.backbones import make_backbone

    class MinAtarExtractor(BaseFeaturesExtractor):
        def __init__(self, observation_space):
            backbone = make_backbone("minatar_cnn", observation_space)
            super().__init__(observation_space, backbone.out_dim)
            self.backbone = backbone

        def forward(self, obs):
            return self.backbone(obs)

    return MinAtarExtractor


EXTENSIONS = {"double": True, "dueling": True, "n_step": 3}


def train(side: str, seed: int, steps: int, eval_episodes: int, extensions: bool = False):
    """Train one side; return (mean eval return, steps/s). Runs in its own process."""
    torch.set_num_threads(1)
    env = gym.make(ENV_ID)
    if side == "ours":
        # eval_epsilon 0: the final evaluation is greedy for both (SB3 predicts greedily).
        extra = EXTENSIONS if extensions else {}
        policy = agents.make("dqn", env, seed=seed, eval_epsilon=0.0, **extra)
        start = time.perf_counter()
        policy.learn(steps)
    else:
        from stable_baselines3 import DQN as SB3DQN

        kwargs = dict(
            features_extractor_class=minatar_extractor(), net_arch=[], normalize_images=False
        )
        model = SB3DQN(
            "CnnPolicy", env, seed=seed, device="cpu", verbose=0, policy_kwargs=kwargs,
            **sb3_settings(),
        )  # fmt: skip
        start = time.perf_counter()
        model.learn(steps)
        policy = SB3Policy(model)
    sps = steps / (time.perf_counter() - start)
    returns, *_ = evaluate(policy, gym.make(ENV_ID), eval_episodes, EVAL_SEED)
    return float(returns.mean()), sps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--extensions", action="store_true", help="ours with Double, dueling, n-step")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=300_000)
    p.add_argument("--eval-episodes", type=int, default=30)
    p.add_argument("--parallel", action="store_true", help="train both sides at once")
    args = p.parse_args(argv)

    import stable_baselines3

    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1 a side")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"versions  torch {torch.__version__}, sb3 {stable_baselines3.__version__}")
    print(f"settings  {sb3_settings()}; ours extended: {args.extensions}\n")
    print(
        f"{'seed':>4} {'ours return':>12} {'ours steps/s':>13} {'sb3 return':>11} "
        f"{'sb3 steps/s':>12} {'ratio':>6}",
        flush=True,
    )
    rows = []
    workers = 2 if args.parallel else 1
    with concurrent.futures.ProcessPoolExecutor(workers, max_tasks_per_child=1) as pool:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            job = (seed, args.steps, args.eval_episodes, args.extensions)
            if args.parallel:
                futures = [pool.submit(train, side, *job) for side in ("ours", "sb3")]
                result = [x for f in futures for x in f.result()]
            else:
                result = []
                for side in ("ours", "sb3"):
                    result += pool.submit(train, side, *job).result()
            rows.append(result)
            ours_r, ours_sps, sb3_r, sb3_sps = result
            print(
                f"{seed:4d} {ours_r:12.2f} {ours_sps:13.0f} {sb3_r:11.2f} {sb3_sps:12.0f} "
                f"{ours_sps / sb3_sps:5.2f}x",
                flush=True,
            )
    rows = np.array(rows)
    ratio = statistics.median(rows[:, 1] / rows[:, 3])
    print(
        f"\nmean eval return over seeds: ours {rows[:, 0].mean():.2f} "
        f"(per seed {', '.join(f'{r:.2f}' for r in rows[:, 0])}), "
        f"SB3 {rows[:, 2].mean():.2f} (per seed {', '.join(f'{r:.2f}' for r in rows[:, 2])})"
    )
    print(
        f"median steps/s: ours {np.median(rows[:, 1]):.0f}, SB3 {np.median(rows[:, 3]):.0f}; "
        f"median per-seed ratio {ratio:.2f}x"
    )
    ok = rows[:, 0].mean() >= rows[:, 2].mean() and ratio >= TARGET_RATIO
    print(f"targets (return >= SB3's, >= {TARGET_RATIO:g}x steps/s): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
