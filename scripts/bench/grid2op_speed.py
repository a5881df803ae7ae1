"""Do-nothing steps per second of Grid2Op, LightSimBackend and PandaPowerBackend, AC and DC.

    /tmp/g2o-venv/bin/python scripts/bench/grid2op_speed.py [--repeats 5] [--seconds 3]
                                                           [--env l2rpn_case14_sandbox]

Standalone: run it with the Python of a virtual environment holding ``grid2op`` and
``lightsim2grid`` (not the repository's; it imports nothing of sige_rl).
``scripts/bench/power_grid_speed.py --grid2op-python PATH`` runs it as a subprocess and reads its
last line (``result-json {...}``).

``grid2op.make(env, test=True, backend=...)`` uses the environment shipped inside the grid2op
wheel (``grid2op/data/<env>``: no download). Each backend is timed with Grid2Op's defaults (AC
power flow: LightSim's Newton-Raphson, pandapower's ``runpp``) and with ``Parameters.ENV_DC =
True`` (DC power flow, closer to sige's PowerGridEnv). One do-nothing action made beforehand;
``env.reset()`` at episode end, inside the timed loop. Each measurement runs ``--seconds``;
the repeats alternate the variants; medians reported. pandapower's logger is set to ERROR (without
numba it logs a warning on every power flow).
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
import sys
import time
import warnings


def variants():
    from grid2op.Backend import PandaPowerBackend
    from lightsim2grid import LightSimBackend

    return [
        ("LightSimBackend AC", LightSimBackend, False),
        ("LightSimBackend DC", LightSimBackend, True),
        ("PandaPowerBackend AC", PandaPowerBackend, False),
        ("PandaPowerBackend DC", PandaPowerBackend, True),
    ]


def make(env_name: str, backend_cls, dc: bool, seed: int):
    import grid2op
    from grid2op.Parameters import Parameters

    param = Parameters()
    param.ENV_DC = dc
    env = grid2op.make(env_name, test=True, backend=backend_cls(), param=param)
    env.seed(seed)
    env.reset()
    return env


def do_nothing_steps_per_s(env, seconds: float) -> tuple[float, int]:
    """Steps/s of the do-nothing action for ``seconds`` (resets included); episodes ended."""
    noop = env.action_space({})
    steps = episodes = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        _, _, done, _ = env.step(noop)
        steps += 1
        if done:
            episodes += 1
            env.reset()
        if time.perf_counter() >= end:
            break
    return steps / (time.perf_counter() - start), episodes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    p.add_argument("--env", default="l2rpn_case14_sandbox", help="a Grid2Op env (test=True)")
    args = p.parse_args(argv)

    warnings.filterwarnings("ignore")  # grid2op's "development environment", numba warnings
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    import grid2op
    import lightsim2grid
    import numpy as np
    import pandapower

    numba = importlib.util.find_spec("numba") is not None
    versions = (
        f"python {platform.python_version()}, grid2op {grid2op.__version__}, lightsim2grid "
        f"{lightsim2grid.__version__}, pandapower {pandapower.__version__}, numpy "
        f"{np.__version__}, numba {'installed' if numba else 'not installed (numba=False)'}"
    )
    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"versions  {versions}")
    print(f"env       {args.env} (test=True), do nothing, {args.seconds:g} s x {args.repeats}\n")

    runs: dict[str, list[float]] = {name: [] for name, _, _ in variants()}
    episodes: dict[str, int] = {name: 0 for name in runs}
    path = ""
    for seed in range(args.repeats):
        line = []
        for name, backend_cls, dc in variants():
            env = make(args.env, backend_cls, dc, seed)
            path = env.get_path_env()
            sps, eps = do_nothing_steps_per_s(env, args.seconds)
            env.close()
            runs[name].append(sps)
            episodes[name] += eps
            line.append(f"{name} {sps:8,.0f}")
        print(f"repeat {seed}: " + "  ".join(line))
    medians = {name: statistics.median(v) for name, v in runs.items()}
    print(f"\ndata      {path}")
    print(f"{'backend':24} {'steps/s':>10} {'episodes ended':>15}")
    for name, sps in medians.items():
        print(f"{name:24} {sps:10,.0f} {episodes[name]:15}")
    result = {"env": args.env, "versions": versions, "steps_per_s": medians, "episodes": episodes}
    print("result-json " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
