"""A non-editable install carries its package data and works from any directory, beside a
user's own ``envs`` and ``agents`` packages."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

USE = """
import envs, agents  # the user's own packages, in the working directory
import gymnasium as gym
assert envs.MINE and agents.MINE
env = gym.make("sige_rl.envs:sige/WindyGridWorld-v0")
import sige_rl.envs
from sige_rl import agents as sige_agents
assert sige_rl.envs.__file__.startswith({site!r}), sige_rl.envs.__file__
agent = sige_agents.make("q_learning", env, seed=0)
grid = gym.make("sige/PowerGrid118-v0")  # its case loads from the installed package data
grid.reset(seed=0)
print(len(sige_rl.envs.ENV_IDS), agent.config.learning_rate, env.unwrapped.nrow)
"""


def user_project(root: Path) -> Path:
    """A project with packages of its own named envs and agents, as RL repos often have."""
    for name in ("envs", "agents"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("MINE = True\n")
    return root


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
    maps = {Path(n).name for n in names if n.startswith("sige_rl/envs/maps/")}
    assert {"gridworld.txt", "windy_gridworld.txt", "cliff_walking.txt"} <= maps
    assert "sige_rl/agents/hyperparams/q_learning.yaml" in names
    cases = {Path(n).name for n in names if n.startswith("sige_rl/envs/power_grid/cases/")}
    assert cases == {"case5.npz", "case14.npz", "case30.npz", "case118.npz"}
    assert "sige_rl/envs/building/data/sample_week.csv" in names
    assert not any(n.startswith(("envs/", "agents/", "supervised/")) for n in names)
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
        cwd=user_project(tmp_path / "project"),
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    n_ids, _, nrow = out.stdout.split()
    assert int(n_ids) >= 6 and nrow == "7"
