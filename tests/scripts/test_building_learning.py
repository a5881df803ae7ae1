"""The quick version of the building's learning claim: SB3's PPO, trained through train_agent.py
with its tuned entry (100k steps, about half a minute), heats the house for less than the
rule-based thermostat at no worse comfort.

A guard on one seed and two evaluation weeks, not the evidence: the claim (five seeds, ten weeks)
is measured by scripts/bench/building_agents.py (BENCHMARKS.md).
"""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.training.train import main

ENV_ID = "sige/BuildingHVACDiscrete-v0"
WEEKS = 2


def bill(agent) -> np.ndarray:
    """Mean cost (EUR) and comfort violation (K h) per evaluation week."""
    env = gym.make(ENV_ID)
    total = np.zeros(2)
    for i in range(WEEKS):
        obs, _ = env.reset(seed=10_000 + i)
        if hasattr(agent, "attach"):
            agent.attach(env)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, deterministic=True))
            total += info["cost_eur"], info["violation_kh"]
            done = terminated or truncated
    return total / WEEKS


@pytest.mark.slow
def test_ppo_heats_for_less_than_the_thermostat_at_no_worse_comfort(tmp_path):
    args = ["--env", ENV_ID, "--agent", "sb3-ppo", "--seed", "2", "--eval-episodes", "1",
            "--eval-every", "100000", "--logdir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    (run,) = [p for p in Path(tmp_path).glob("*/*/*") if not p.is_symlink()]
    ppo = bill(agents.load(run / "final", env=gym.make(ENV_ID)))
    thermostat = bill(agents.make("thermostat", gym.make(ENV_ID)))
    assert ppo[0] < 0.97 * thermostat[0], (ppo, thermostat)  # at least 3% cheaper
    assert ppo[1] <= thermostat[1] + 0.1, (ppo, thermostat)  # K h per week
