"""Steps per second of BuildingHVACEnv: one env, the native vector env and SyncVectorEnv.

    python scripts/bench/building_speed.py [--repeats 5] [--seconds 1.5] [--num-envs 256]
                                           [--quick]

All on ``sige/BuildingHVAC-v0`` (temperate winter, a house, weeks of 672 steps), every sub-env
playing the rule-based thermostat's action (``env.unwrapped.thermostat_action()``, fixed):

- single, wrapped: ``gym.make(id)`` (its wrapper stack), ``reset()`` at the end of each week,
  inside the timed loop;
- single, raw: the same on ``env.unwrapped``;
- vector: ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")`` (the native
  ``BuildingHVACVectorEnv``), counting env-steps; its autoresets (every sub-env every 672 steps,
  256 weathers generated) fall inside the timed loop;
- Sync: ``SyncVectorEnv`` of N ``gym.make(id)`` (``vectorization_mode="sync"``). A week of it
  takes seconds, so its steps are timed over the window and one ``reset()`` of all N envs (the
  work of one round of autoresets) apart: its rate is ``672 N / (672 t_step + t_reset)``, one
  week's worth, autoresets included like the others';
- community: ``energy_community_v0.parallel_env(n_buildings=--buildings)`` (the PettingZoo
  ParallelEnv, 10 buildings by default), every agent playing the thermostat with its battery
  idle, counting env-steps (one step moves every building), resets inside the timed loop.

Each measurement runs ``--seconds`` (``--quick``: 0.3 s and 2 repeats, a smoke run); each repeat
runs the four one after the other (the same machine load), and the table gives the medians over
the repeats, the ratios as medians of the per-repeat ratios, by the wall clock and per second of
this process's CPU time (``time.process_time``: on a machine shared with other work, closer to
what an idle one gives). OMP/OpenBLAS threads are set to 1 before numpy loads (unless set
already). Target: vector x256 >= 2,000,000 env-steps/s by the wall clock, on one thread; exit 0
when met.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import sige_rl.envs  # noqa: E402, F401  (registers the sige/ ids)

ENV_ID = "sige/BuildingHVAC-v0"
WEEK = 672  # steps of the registered episode
VECTOR_MIN = 2_000_000.0  # env-steps/s at 256 envs


class Clock:
    """Wall-clock and CPU (this process's) seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def single_steps_per_s(raw: bool, seconds: float, seed: int) -> tuple[float, float]:
    """Steps/s (wall clock, CPU time) of one env (wrapped by ``gym.make`` or raw), resets
    included."""
    wrapped = gym.make(ENV_ID)
    env = wrapped.unwrapped if raw else wrapped
    env.reset(seed=seed)
    action = wrapped.unwrapped.thermostat_action()
    step = env.step
    steps = 0
    clock = Clock()
    end = clock.wall + seconds
    while True:
        for _ in range(96):  # check the clock once a simulated day
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                env.reset()
        steps += 96
        if time.perf_counter() >= end:
            break
    wall, cpu = clock.elapsed()
    wrapped.close()
    return steps / wall, steps / cpu


def vector_steps_per_s(num_envs: int, seconds: float, seed: int) -> tuple[float, float]:
    """Env-steps/s (wall clock, CPU time) of the native vector env, autoresets included."""
    env = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=seed)
    actions = env.unwrapped.thermostat_action()
    steps = 0
    clock = Clock()
    end = clock.wall + seconds
    while True:
        env.step(actions)
        steps += 1
        if time.perf_counter() >= end:
            break
    wall, cpu = clock.elapsed()
    env.close()
    return steps * num_envs / wall, steps * num_envs / cpu


def sync_steps_per_s(num_envs: int, seconds: float, seed: int) -> tuple[float, float]:
    """Env-steps/s (wall clock, CPU time) of SyncVectorEnv over a week: steps timed for
    ``seconds``, plus one reset of every env (what a round of autoresets costs)."""
    env = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="sync")
    env.reset(seed=seed)
    single = gym.make(ENV_ID).unwrapped.thermostat_action()
    actions = np.stack([single] * num_envs)
    steps = 0
    clock = Clock()
    end = clock.wall + seconds
    while steps < WEEK - 1:  # no autoreset inside this window
        env.step(actions)
        steps += 1
        if time.perf_counter() >= end:
            break
    stepping = clock.elapsed()
    clock = Clock()
    env.reset(seed=seed + 1)
    reset = clock.elapsed()
    env.close()
    (wall, cpu), (reset_wall, reset_cpu) = stepping, reset
    week = WEEK * num_envs
    return week / (WEEK * wall / steps + reset_wall), week / (WEEK * cpu / steps + reset_cpu)


def community_steps_per_s(buildings: int, seconds: float, seed: int) -> tuple[float, float]:
    """Env-steps/s (wall clock, CPU time) of the energy community (all buildings per step)."""
    from sige_rl.envs import energy_community_v0

    env = energy_community_v0.parallel_env(n_buildings=buildings)
    env.reset(seed=seed)
    actions = env.thermostat_actions()
    steps = 0
    clock = Clock()
    end = clock.wall + seconds
    while True:
        for _ in range(96):
            env.step(actions)
            if not env.agents:
                env.reset()
        steps += 96
        if time.perf_counter() >= end:
            break
    wall, cpu = clock.elapsed()
    return steps / wall, steps / cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    p.add_argument("--seconds", type=float, default=1.5, help="seconds per measurement")
    p.add_argument("--num-envs", type=int, default=256, help="sub-envs of the batched envs")
    p.add_argument("--buildings", type=int, default=10, help="buildings of the community")
    p.add_argument("--quick", action="store_true", help="0.3 s per measurement, 2 repeats")
    args = p.parse_args(argv)
    seconds, repeats = (0.3, min(args.repeats, 2)) if args.quick else (args.seconds, args.repeats)

    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {platform.processor() or platform.machine()}")
    print(f"cpus      {os.cpu_count()}")
    print(
        f"versions  python {platform.python_version()}, numpy {np.__version__}, "
        f"gymnasium {gym.__version__}"
    )
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    threads = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in names)
    print(f"threads   {threads}")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"repeats   {repeats} x {seconds:g} s (medians)\n")

    n = args.num_envs
    names = {
        "wrapped": f"single env, gym.make({ENV_ID!r})",
        "raw": "single env, unwrapped",
        "vector": f"BuildingHVACVectorEnv x{n}",
        "sync": f"SyncVectorEnv x{n} (a week, resets included)",
        "community": f"EnergyCommunity-v0, {args.buildings} buildings",
    }
    measure = {
        "wrapped": lambda seed: single_steps_per_s(False, seconds, seed),
        "raw": lambda seed: single_steps_per_s(True, seconds, seed),
        "vector": lambda seed: vector_steps_per_s(n, seconds, seed),
        "sync": lambda seed: sync_steps_per_s(n, seconds, seed),
        "community": lambda seed: community_steps_per_s(args.buildings, seconds, seed),
    }
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for seed in range(repeats):
        for key, run in measure.items():
            w, c = run(seed)
            wall[key].append(w)
            cpu[key].append(c)
        print(f"repeat {seed}: " + " | ".join(f"{k} {v[-1]:,.0f}" for k, v in wall.items()))

    med = statistics.median
    print(f"\n{'what':48} {'steps/s':>12} {'per CPU s':>12}")
    for key, name in names.items():
        print(f"{name:48} {med(wall[key]):12,.0f} {med(cpu[key]):12,.0f}")
    for what, other in (("Sync", "sync"), ("single env (wrapped)", "wrapped")):
        ratios = [
            [v / o for v, o in zip(clock["vector"], clock[other], strict=True)]
            for clock in (wall, cpu)
        ]
        print(f"{'vector / ' + what:48} {med(ratios[0]):11,.1f}x {med(ratios[1]):11,.1f}x")
    print("(steps/s by the wall clock; per CPU s: by this process's CPU time)")
    vector = med(wall["vector"])
    met = vector >= VECTOR_MIN
    print(
        f"\ntarget  vector x{n} >= {VECTOR_MIN:,.0f} env-steps/s (wall clock): {vector:,.0f}  "
        f"{'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
