"""Steps per second of PowerGridEnv against pandapower's DC power flow, side by side.

In one process, on case14 and case118.

    python scripts/bench/power_grid_speed.py [--repeats 5] [--seconds 3] [--num-envs 256]
                                             [--blas-threads 1]
                                             [--grid2op-python /tmp/g2o-venv/bin/python]

Single env: ``gym.make("sige/PowerGrid14-v0")`` (and 118), full wrapper stack, with the do-nothing
action (0) and with uniformly random legal actions (drawn from ``info["action_mask"]`` with a
seeded numpy generator; the draw is inside the timed loop); ``reset()`` at episode end, inside the
timed loop. The peer: ``pandapower.rundcpp(net)`` on ``pandapower.networks.case14()`` /
``case118()``, one call per step, the loads scaled by a random factor in [0.98, 1.02] before each
call (the load update is timed too); numba is not installed, so pandapower runs with
``numba=False``, and its logger is set to ERROR (it would log a numba warning on every call).
Batched: ``gym.make_vec(id, num_envs=256, vectorization_mode="vector_entry_point")``, do nothing
and random legal actions per sub-env from the batched ``info["action_mask"]``, counting
env-steps; skipped with a message when the vector env is not there. Each measurement runs
``--seconds``; each repeat runs, per case, ours single env, pandapower, then ours batched, one
after the other in this process (the same machine load); medians over the repeats reported, the
ratios as medians of the per-repeat ratios.

numpy's OpenBLAS uses every core unless told otherwise; on a busy machine its threads can slow
the small dense solves (a new topology's factorisation) many times over: ``--blas-threads 1``
sets the thread variables (the script re-executes itself so that they take effect), and the
``threads`` line of the header says what was in force.

With ``--grid2op-python PATH``, ``scripts/bench/grid2op_speed.py`` (Grid2Op with LightSimBackend
and PandaPowerBackend on l2rpn_case14_sandbox, test=True, do nothing) runs in that Python as a
subprocess after the rest, and its medians join the table (no targets).

Targets: single env case14 do nothing >= 20,000 steps/s; ours single env do nothing >= 200x
pandapower's rundcpp calls/s, per case; batched x256 case14 do nothing >= 10x the single env.
A target that could not be measured (no vector env) counts as missed. Exit 0 when all are met.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np

from sige_rl import envs  # noqa: F401  (registers sige/ ids)

CASES = {"case14": "sige/PowerGrid14-v0", "case118": "sige/PowerGrid118-v0"}
POLICIES = ("noop", "random")
SINGLE_CASE14_MIN = 20_000.0  # steps/s
PANDAPOWER_RATIO_MIN = 200.0
BATCHED_RATIO_MIN = 10.0
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
GRID2OP_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grid2op_speed.py")


def single_steps_per_s(env_id: str, policy: str, seconds: float, seed: int) -> tuple[float, int]:
    """Steps/s of one env for ``seconds`` (resets included) and the number of episodes ended."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    random = policy == "random"
    u, k = rng.random(4096), 0
    steps = episodes = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        if random:
            legal = np.flatnonzero(info["action_mask"])
            a = int(legal[int(u[k] * len(legal))])
            k += 1
            if k == len(u):
                u, k = rng.random(4096), 0
        else:
            a = 0
        _, _, terminated, truncated, info = env.step(a)
        steps += 1
        if terminated or truncated:
            episodes += 1
            _, info = env.reset()
        if time.perf_counter() >= end:
            break
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed, episodes


def pandapower_calls_per_s(case: str, seconds: float, seed: int) -> float:
    """``pp.rundcpp(net)`` calls/s, the loads changed a little before each call."""
    import pandapower as pp
    import pandapower.networks as pn

    net = getattr(pn, case)()
    base = net.load["p_mw"].to_numpy().copy()
    rng = np.random.default_rng(seed)
    pp.rundcpp(net)  # first call builds pandapower's lookups: not timed
    calls = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        net.load["p_mw"] = base * rng.uniform(0.98, 1.02, len(base))
        pp.rundcpp(net)
        calls += 1
        if time.perf_counter() >= end:
            break
    return calls / (time.perf_counter() - start)


def legal_per_row(mask: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row of ``mask`` (num_envs, n), the legal action of rank ``floor(u * count)`` (0 for a
    row with none legal)."""
    count = mask.sum(axis=1)
    rank = (u * count).astype(np.int64)
    a = (mask.cumsum(axis=1, dtype=np.int32) <= rank[:, None]).sum(axis=1)
    return np.where(count > 0, a, 0)


def vector_unavailable(env_id: str) -> str | None:
    """Why ``gym.make_vec(..., "vector_entry_point")`` cannot be measured (None: it can)."""
    if importlib.util.find_spec("sige_rl.envs.power_grid.vector") is None:
        return "sige_rl/envs/power_grid/vector.py does not exist (yet)"
    if gym.spec(env_id).vector_entry_point is None:
        return f"{env_id} is registered without a vector_entry_point"
    return None


def batched_steps_per_s(
    env_id: str, policy: str, num_envs: int, seconds: float, seed: int
) -> float:
    """Aggregate env-steps/s of the vector env for ``seconds`` (autoresets included)."""
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    random = policy == "random"
    if random and "action_mask" not in info:
        env.close()
        raise KeyError("the vector env's info has no 'action_mask'")
    noop = np.zeros(num_envs, np.int64)
    steps = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        a = legal_per_row(info["action_mask"], rng.random(num_envs)) if random else noop
        _, _, _, _, info = env.step(a)
        steps += 1
        if time.perf_counter() >= end:
            break
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def run_grid2op(python: str, repeats: int, seconds: float) -> tuple[dict | None, str]:
    """Run grid2op_speed.py in ``python``; its parsed result (None on failure) and its output."""
    cmd = [python, GRID2OP_SCRIPT, "--repeats", str(repeats), "--seconds", str(seconds)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("result-json "):
            return json.loads(line.removeprefix("result-json ")), out
    return None, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    p.add_argument("--num-envs", type=int, default=256, help="sub-envs of the batched env")
    p.add_argument("--grid2op-python", metavar="PATH", help="a Python with grid2op, lightsim2grid")
    p.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="set OPENBLAS/OMP/MKL_NUM_THREADS to N (re-executes this script; the Grid2Op "
        "subprocess inherits them); default: leave the environment as it is",
    )
    args = p.parse_args(argv)
    if args.blas_threads is not None and argv is None:
        wanted = {k: str(args.blas_threads) for k in BLAS_THREAD_VARS}
        if any(os.environ.get(k) != v for k, v in wanted.items()):
            os.environ.update(wanted)  # read by OpenBLAS when numpy loads: start again
            os.execv(sys.executable, [sys.executable, *sys.argv])

    import pandapower

    logging.getLogger("pandapower").setLevel(logging.ERROR)
    numba = importlib.util.find_spec("numba") is not None
    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {platform.processor() or platform.machine()}")
    print(f"cpus      {os.cpu_count()}")
    print(
        f"versions  python {platform.python_version()}, numpy {np.__version__}, gymnasium "
        f"{gym.__version__}, pandapower {pandapower.__version__} "
        f"({'numba installed' if numba else 'numba not installed: numba=False'})"
    )
    blas = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in BLAS_THREAD_VARS)
    print(f"threads   {blas}")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"repeats   {args.repeats} x {args.seconds:g} s (medians)\n")

    n = args.num_envs
    single = {(c, pol): [] for c in CASES for pol in POLICIES}
    episodes = {key: 0 for key in single}
    peer = {c: [] for c in CASES}
    ratio = {c: [] for c in CASES}
    batched: dict[tuple[str, str], list[float]] = {}
    batched_ratio: list[float] = []
    skip = vector_unavailable(CASES["case14"])
    if skip:
        print(f"batched: SKIPPED: {skip}\n")
    for seed in range(args.repeats):
        line = []
        for case, env_id in CASES.items():
            for pol in POLICIES:
                sps, eps = single_steps_per_s(env_id, pol, args.seconds, seed)
                single[case, pol].append(sps)
                episodes[case, pol] += eps
            pp_cps = pandapower_calls_per_s(case, args.seconds, seed)
            peer[case].append(pp_cps)
            ratio[case].append(single[case, "noop"][-1] / pp_cps)
            text = (
                f"{case} noop {single[case, 'noop'][-1]:,.0f} random "
                f"{single[case, 'random'][-1]:,.0f} rundcpp {pp_cps:,.1f}"
            )
            if not skip:
                try:
                    for pol in POLICIES:
                        sps = batched_steps_per_s(env_id, pol, n, args.seconds, seed)
                        batched.setdefault((case, pol), []).append(sps)
                        text += f" x{n} {pol} {sps:,.0f}"
                except Exception as e:  # a vector env being written: say why, measure the rest
                    skip = f"{type(e).__name__}: {e}"
                    print(f"batched: SKIPPED from here on: {skip}")
                    batched.clear()
                    batched_ratio.clear()
                else:
                    if case == "case14":
                        batched_ratio.append(batched[case, "noop"][-1] / single[case, "noop"][-1])
            line.append(text)
        print(f"repeat {seed}: " + " | ".join(line))

    grid2op = None
    if args.grid2op_python:
        grid2op, out = run_grid2op(args.grid2op_python, args.repeats, args.seconds)
        print(f"\ngrid2op_speed.py in {args.grid2op_python}:")
        for line in out.splitlines():
            if not line.startswith("result-json "):
                print(f"  | {line}")
        if grid2op is None:
            print("  grid2op: FAILED (no result line)")

    med = statistics.median
    print(f"\n{'case':8} {'what':46} {'steps/s':>12} {'episodes':>9}")
    for case in CASES:
        for pol in POLICIES:
            what = "ours single env, " + ("do nothing" if pol == "noop" else "random legal")
            print(f"{case:8} {what:46} {med(single[case, pol]):12,.0f} {episodes[case, pol]:9}")
        print(f"{case:8} {'pandapower rundcpp (calls/s)':46} {med(peer[case]):12,.1f}")
        for pol in POLICIES:
            what = f"ours batched x{n}, " + ("do nothing" if pol == "noop" else "random legal")
            if batched:
                print(f"{case:8} {what:46} {med(batched[case, pol]):12,.0f}")
            else:
                print(f"{case:8} {what:46} {'skipped':>12}")
    if grid2op is not None:
        for name, sps in grid2op["steps_per_s"].items():
            what = f"Grid2Op {name}, do nothing"
            print(f"case14   {what:46} {sps:12,.0f} {grid2op['episodes'][name]:9}")
        print(f"         ({grid2op['env']}, test=True; {grid2op['versions']})")

    single14 = med(single["case14", "noop"])
    checks = [
        (f"single env case14 do nothing >= {SINGLE_CASE14_MIN:,.0f} steps/s",
         f"{single14:,.0f}", single14 >= SINGLE_CASE14_MIN),
    ]  # fmt: skip
    for case in CASES:
        r = med(ratio[case])
        checks.append(
            (f"{case} single env / pandapower rundcpp >= {PANDAPOWER_RATIO_MIN:.0f}x",
             f"{r:,.1f}x", r >= PANDAPOWER_RATIO_MIN)
        )  # fmt: skip
    if batched:
        r = med(batched_ratio)
        checks.append(
            (f"batched x{n} / single env, case14 do nothing >= {BATCHED_RATIO_MIN:.0f}x",
             f"{r:,.1f}x", r >= BATCHED_RATIO_MIN)
        )  # fmt: skip
    else:
        checks.append(
            (f"batched x{n} / single env, case14 do nothing >= {BATCHED_RATIO_MIN:.0f}x",
             "not measured", False)
        )  # fmt: skip
    if grid2op is not None:
        for name, sps in grid2op["steps_per_s"].items():
            print(f"(info) case14 single env do nothing / Grid2Op {name}: {single14 / sps:,.1f}x")
    print()
    for name, value, met in checks:
        print(f"target  {name:56} {value:>14}  {'met' if met else 'MISSED'}")
    missed = [name for name, _, met in checks if not met]
    print("targets met" if not missed else f"targets MISSED: {len(missed)} of {len(checks)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
