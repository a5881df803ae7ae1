"""The quick version of the power-grid learning claim: DQN trained through train_agent.py on the
14-bus grid with alerts keeps the grid alive longer than doing nothing.

A guard on one seed with a small, fast configuration (10,000 decisions, a 64x64 net), not the
evidence: at this budget 5 of seeds 0-5 beat do-nothing on these weeks (by 13-50%; seed 1 falls
short). The guard trains seed 4, the widest margin, because a one-seed result this short is
chaotic: at 4,000 decisions 3 of the 6 seeds won on the machine the guard was first written on
and none on the next one (2026-12-02), with the same code and packages (float results differ
between CPUs, and training amplifies them). The claim (the tuned entry, 30,000 decisions, 5 of 5
seeds) is measured by scripts/bench/power_grid_agents.py (BENCHMARKS.md).
"""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.training.train import main

WEEKS = 6


def survival(agent, env_id: str) -> np.ndarray:
    """Grid steps survived in each evaluation week."""
    env = gym.make(env_id)
    out = []
    for i in range(WEEKS):
        obs, _ = env.reset(seed=10_000 + i)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(agent.act(obs))
            done = terminated or truncated
        out.append(env.unwrapped.t)
    return np.array(out)


@pytest.mark.slow
def test_dqn_with_alerts_outlives_doing_nothing(tmp_path):
    args = ["--env", "sige/PowerGrid14Alert-v0", "--agent", "dqn", "--steps", "10000",
            "--seed", "4", "--eval-episodes", "1", "--eval-every", "10000",
            "--logdir", str(tmp_path), "--no-progress",
            "--set", "net_arch=[64, 64]", "--set", "exploration_fraction=0.1",
            "--set", "learning_starts=500"]  # fmt: skip
    assert main(args) == 0
    (run,) = [p for p in Path(tmp_path).glob("*/*/*") if not p.is_symlink()]
    dqn = agents.load(run / "final", env=gym.make("sige/PowerGrid14Alert-v0"))
    nothing = agents.make("do_nothing", gym.make("sige/PowerGrid14-v0"))
    ours, baseline = (
        survival(dqn, "sige/PowerGrid14Alert-v0"),
        survival(nothing, "sige/PowerGrid14-v0"),
    )
    assert ours.mean() > baseline.mean(), (ours, baseline)
