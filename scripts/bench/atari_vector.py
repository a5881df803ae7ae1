"""Steps per second of ale-py's C++ AtariVectorEnv against Gymnasium's SyncVectorEnv of our
Python-wrapped single env, configured identically, side by side in one process.

    python scripts/bench/atari_vector.py [--game Pong] [--num-envs 8] [--steps 2000] [--repeats 5]

Both are ``sige/<Game>-v0`` made with ``gym.make_vec``: ``vectorization_mode="vector_entry_point"``
(the C++ env, all its threads) and ``"sync"`` (the wrappers, one process). Random actions drawn
beforehand, NEXT_STEP autoreset, counting env-steps (agent steps of 4 frames). The repeats
alternate the two; the medians are reported. Needs the atari extra.
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

import sige_rl.envs  # noqa: F401  (registers sige/ ids)


def steps_per_s(env_id: str, mode: str, num_envs: int, steps: int, seed: int) -> float:
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    actions = np.random.default_rng(seed).integers(0, env.single_action_space.n, (steps, num_envs))
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", default="Pong", help="a registered sige/<Game>-v0 (default: Pong)")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=2000, help="vector steps per measurement")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    env_id = f"sige/{args.game}-v0"
    import ale_py

    print(f"date      {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"versions  ale-py {ale_py.__version__}, gymnasium {gym.__version__}\n")
    pairs = []
    for seed in range(args.repeats):
        c = steps_per_s(env_id, "vector_entry_point", args.num_envs, args.steps, seed)
        s = steps_per_s(env_id, "sync", args.num_envs, args.steps, seed)
        pairs.append((c, s))
        print(f"repeat {seed}: AtariVectorEnv {c:8.0f}  SyncVectorEnv {s:8.0f}  {c / s:.2f}x")
    c = statistics.median(x for x, _ in pairs)
    s = statistics.median(y for _, y in pairs)
    ratio = statistics.median(x / y for x, y in pairs)
    print(
        f"\n{env_id}, {args.num_envs} envs, env-steps/s (medians): AtariVectorEnv {c:.0f}, "
        f"SyncVectorEnv {s:.0f}; median ratio {ratio:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
