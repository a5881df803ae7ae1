"""A non-editable install carries its package data and works from any directory."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

USE = """
import envs, agents, gymnasium as gym
assert envs.__file__.startswith({site!r}), envs.__file__
env = gym.make("envs:sige/WindyGridWorld-v0")
agent = agents.make("q_learning", env, seed=0)
print(len(envs.ENV_IDS), agent.config.learning_rate, env.unwrapped.nrow)
"""


def test_wheel_holds_maps_and_hyperparams_and_runs_elsewhere(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("sige_rl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    maps = {Path(n).name for n in names if n.startswith("envs/maps/")}
    assert {"gridworld.txt", "windy_gridworld.txt", "cliff_walking.txt"} <= maps
    assert "agents/hyperparams/q_learning.yaml" in names
    assert not any(n.startswith("tests/") for n in names)

    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-c", USE.format(site=str(site))],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    n_ids, _, nrow = out.stdout.split()
    assert int(n_ids) >= 6 and nrow == "7"
