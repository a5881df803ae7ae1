"""What the frame-once replay costs: memory per transition, a 1M buffer's memory and disk, and
what an exact Atari resume costs in time.

    python scripts/bench/frame_replay.py [--capacity 1000000] [--num-envs 8] [--skip-disk]

1. Bytes per transition, from the arrays (frames, per-slot data, sampling bookkeeping, the
   sum tree of prioritized replay), against ``ReplayBuffer``'s obs + next_obs layout.
2. A ``capacity`` buffer (4 x 84 x 84 uint8, 8 envs, 3-step, prioritized) filled to the brim:
   resident memory before and after.
3. Its checkpoint (``state_dict`` as an uncompressed ``.npz``): bytes on disk, seconds to write.
4. Resume: ``EpisodeLog.restore`` replays each sub-env's episode from its seed. Measured as
   replayed steps per second on Pong, single env and ale-py's vector env, and the cost of the
   longest possible episode (27,000 steps).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import sige_rl.envs  # noqa: F401
from sige_rl.agents.common.episodes import EpisodeLog
from sige_rl.agents.common.frame_replay import FrameReplayBuffer
from sige_rl.agents.common.replay import ReplayBuffer

FRAME = 84 * 84
SHAPE = (4, 84, 84)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill(buffer: FrameReplayBuffer, steps: int, num_envs: int) -> float:
    """Add ``steps`` vector steps of 1,000-step episodes; return seconds."""
    obs = np.zeros((num_envs, *SHAPE), np.uint8)
    actions = np.zeros(num_envs, np.int64)
    rewards = np.zeros(num_envs)
    start = time.perf_counter()
    for t in range(steps):
        frame = np.full((num_envs, 1, 84, 84), t % 251, np.uint8)
        next_obs = np.concatenate([obs[:, 1:], frame], axis=1)
        ends = np.full(num_envs, t % 1000 == 999)
        buffer.add(obs, actions, rewards, next_obs, ends, np.zeros(num_envs, bool))
        obs = np.zeros_like(obs) if ends[0] else next_obs
    return time.perf_counter() - start


def replay_rate(env_id: str, num_envs: int, steps: int) -> float:
    """Replayed steps per second of EpisodeLog.restore (one sub-env's episode of ``steps``)."""
    import gymnasium as gym

    if num_envs == 1:
        from sige_rl.agents.common.vector import OneEnvVector

        env = OneEnvVector(gym.make(env_id))
    else:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    log = EpisodeLog(num_envs)
    log.reset(env, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    log.actions = [rng.integers(0, env.single_action_space.n, steps).tolist()] * num_envs
    start = time.perf_counter()
    log.restore(env)
    env.close()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capacity", type=int, default=1_000_000)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--skip-disk", action="store_true", help="do not write the checkpoint")
    args = p.parse_args(argv)
    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}\n")

    cap, n = args.capacity, args.num_envs
    small = ReplayBuffer(1000, SHAPE, np.uint8, num_envs=n, n_step=3, prioritized=True)
    stacks_per = (small.obs.nbytes + small.next_obs.nbytes) / 1000
    before = rss_mb()
    buffer = FrameReplayBuffer(cap, SHAPE, np.uint8, num_envs=n, n_step=3, prioritized=True)
    per = buffer.nbytes / cap
    print(f"1. bytes per transition: {per:,.0f} ({per / FRAME:.3f} x one 84x84 frame of 7,056 B);")
    print(f"   ReplayBuffer's obs + next_obs alone: {stacks_per:,.0f} ({stacks_per / per:.1f}x)")
    print(f"   a {cap:,} buffer allocates {buffer.nbytes / 2**30:.2f} GiB")
    seconds = fill(buffer, buffer.slots, n)
    print(
        f"2. filled ({len(buffer):,} sampleable transitions, {seconds:.0f} s): "
        f"resident memory {before:,.0f} MB -> {rss_mb():,.0f} MB"
    )
    if not args.skip_disk:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "replay.npz"
            start = time.perf_counter()
            np.savez(path, **buffer.state_dict())
            seconds = time.perf_counter() - start
            print(
                f"3. checkpoint: {path.stat().st_size / 2**30:.2f} GiB on disk, "
                f"written in {seconds:.0f} s (checkpoint_replay: false leaves it out)"
            )
    del buffer
    for envs in (1, n):
        rate = replay_rate("sige/Pong-v0", envs, 3000)
        print(
            f"4. resume on Pong, {envs} env(s): {rate:,.0f} replayed steps/s; "
            f"the longest episode (27,000 steps) costs {27_000 / rate:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
