"""Steps per second of sige GridWorld against Gymnasium FrozenLake, side by side in one process.

    python scripts/bench/gridworld_speed.py [--repeats 5] [--quick]

Single env: ``gym.make("sige/GridWorld-v0")`` vs ``gym.make("FrozenLake-v1")``, both with the full
wrapper stack of ``gym.make``, random actions drawn beforehand, reset at episode end.
Batched: the native ``GridWorldVectorEnv`` vs Gymnasium's ``SyncVectorEnv`` of FrozenLake-v1, both
with 256 envs, counting env-steps. Targets: single >= 1.5x, batched >= 50x.
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
import numpy as np

from sige_rl import envs  # noqa: F401  (registers sige/ ids)

TARGETS = {"single": 1.5, "batched": 50.0}


def single_steps_per_s(env_id: str, steps: int, seed: int) -> float:
    env = gym.make(env_id)
    actions = np.random.default_rng(seed).integers(0, 4, steps).tolist()
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def batched_steps_per_s(env_id: str, mode: str, num_envs: int, steps: int, seed: int) -> float:
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    actions = np.random.default_rng(seed).integers(0, 4, (steps, num_envs))
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        env.step(a)  # NEXT_STEP autoreset: no reset calls needed
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def interleaved(repeats: int, ours, peer) -> tuple[float, float, float]:
    """Alternate ours and the peer so machine noise hits both alike; return the medians of each
    and of the per-repeat ratio."""
    pairs = [(ours(seed), peer(seed)) for seed in range(repeats)]
    return (
        statistics.median(o for o, _ in pairs),
        statistics.median(p for _, p in pairs),
        statistics.median(o / p for o, p in pairs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="fewer steps, for a smoke run")
    parser.add_argument("--num-envs", type=int, default=256)
    args = parser.parse_args(argv)

    single_steps = 20_000 if args.quick else 200_000
    ours_vector_steps = 500 if args.quick else 5_000
    sync_vector_steps = 20 if args.quick else 200

    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {platform.processor() or platform.machine()}")
    print(f"cpus      {os.cpu_count()}")
    print(
        f"versions  python {platform.python_version()}, numpy {np.__version__}, "
        f"gymnasium {gym.__version__}"
    )
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"repeats   {args.repeats} (medians)\n")

    n = args.num_envs
    rows = [
        (
            "single",
            "gym.make sige/GridWorld-v0",
            "gym.make FrozenLake-v1",
            *interleaved(
                args.repeats,
                lambda s: single_steps_per_s("sige/GridWorld-v0", single_steps, s),
                lambda s: single_steps_per_s("FrozenLake-v1", single_steps, s),
            ),
        ),
        (
            "batched",
            f"GridWorldVectorEnv x{n}",
            f"SyncVectorEnv FrozenLake x{n}",
            *interleaved(
                args.repeats,
                lambda s: batched_steps_per_s(
                    "sige/GridWorld-v0", "vector_entry_point", n, ours_vector_steps, s
                ),
                lambda s: batched_steps_per_s("FrozenLake-v1", "sync", n, sync_vector_steps, s),
            ),
        ),
    ]

    print(f"{'case':8} {'ours':30} {'steps/s':>12}   {'peer':30} {'steps/s':>12} {'ratio':>8}")
    ok = True
    for case, ours_name, peer_name, ours_sps, peer_sps, ratio in rows:
        target = TARGETS[case]
        ok &= ratio >= target
        print(
            f"{case:8} {ours_name:30} {ours_sps:12,.0f}   {peer_name:30} {peer_sps:12,.0f} "
            f"{ratio:7.1f}x  (target >= {target}x: {'met' if ratio >= target else 'MISSED'})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
