"""The prepared GPU runs, every part of them, on the CPU at a smoke budget: the Pong script trains
DQN (or PQN, AGENT=pqn) on Pong through AtariVectorEnv, prints its evaluations, and the saved
agent plays a whole game."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# DQN: 300 steps of 2 envs; PQN: two rollouts of 32 steps x 2 envs (its tuned entry otherwise).
SMOKE = {
    "dqn": {"STEPS": "300", "LEARNING_STARTS": "64", "BATCH": "8", "BUFFER": "1000"},
    "pqn": {"STEPS": "128"},
}


@pytest.mark.parametrize("agent", ["dqn", "pqn"])
def test_atari_pong_script_runs_end_to_end_on_cpu(tmp_path, agent):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    smoke = {
        **SMOKE[agent],
        "AGENT": agent,
        "DEVICE": "cpu",
        "NUM_ENVS": "2",
        "TRAIN_SECONDS": "420",  # the budget ends it first; a busy machine may need the slack
        "EVAL_EVERY": SMOKE[agent]["STEPS"],
        "EVAL_EPISODES": "1",
        "TRAIN_EVAL_EPISODES": "1",
        "LOGDIR": str(tmp_path / "runs"),
    }
    out = subprocess.run(
        ["bash", "scripts/gpu/atari_pong.sh"],
        cwd=ROOT,
        env={**os.environ, **smoke},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    csv_head = f"step,mean_return,std_return,episodes,capped\n{SMOKE[agent]['STEPS']},"
    assert csv_head in out.stdout  # evaluations.csv
    assert f"{agent} on sige/Pong-v0" in out.stdout
    assert "steps/s" in out.stdout
    score = float(re.search(r"mean return (-?[\d.]+)", out.stdout).group(1))
    assert -21 <= score < 0  # the raw score of a whole game, lost by an untrained agent


def test_supervised_script_runs_its_tasks_on_cpu(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("mnist1d")
    out = subprocess.run(
        ["bash", "scripts/gpu/supervised.sh"],
        cwd=ROOT,
        env={**os.environ, "DEVICE": "cpu", "EPOCHS": "1", "LOGDIR": str(tmp_path / "runs")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for task in ("digits-cnn", "mnist1d-gru", "series-lstm"):
        assert f"{task} on cpu:" in out.stdout
    assert out.stdout.count("Test: test_accuracy") == 2 and "test_mse" in out.stdout
    finals = (tmp_path / "runs" / "supervised").glob("*/*/final")
    assert len([f for f in finals if not f.parent.is_symlink()]) == 3


def test_alphazero_script_trains_and_plays_uct_on_cpu(tmp_path):
    smoke = {"DEVICE": "cpu", "STEPS": "100", "PARALLEL": "4", "CHANNELS": "8", "BLOCKS": "1",
             "TRAIN_SECONDS": "200", "GAMES": "2", "LOGDIR": str(tmp_path / "runs")}  # fmt: skip
    out = subprocess.run(
        ["bash", "scripts/gpu/alphazero_c4.sh"],
        cwd=ROOT,
        env={**os.environ, **smoke},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    match = re.search(r"(\d+) W (\d+) D (\d+) L \| score", out.stdout)
    assert match and sum(map(int, match.groups())) == 2  # both games played to the end
    # final/ when the budget ran out first, else the time limit's checkpoint: either one played
    (run,) = [
        p for p in (tmp_path / "runs").glob("sige_ConnectFour-v0/alphazero/*") if not p.is_symlink()
    ]
    assert (run / "summary.json").is_file() and f"{run.name} (" in out.stdout
