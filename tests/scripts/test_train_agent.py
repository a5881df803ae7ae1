"""The main job end to end: files of the run folder, TensorBoard keys, exact resume after a
signal, and bad input refused with exit code 2 and nothing written."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agents
import envs  # noqa: F401
from agents.train import main
from supervised import Run

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_agent.py"


def train(tmp_path, *extra):
    args = ["--logdir", str(tmp_path / "runs"), "--no-progress", *extra]
    assert main(args) == 0
    (run,) = (tmp_path / "runs").glob("*/*/*")
    return run


def q_table(folder):
    with np.load(folder / "arrays.npz") as data:
        return data["q"]


def test_short_run_writes_every_file_and_key(tmp_path, capsys):
    run = train(
        tmp_path,
        "--env",
        "sige/GridWorld-v0",
        "--agent",
        "q_learning",
        "--steps",
        "4000",
        "--seed",
        "1",
        "--eval-every",
        "1000",
        "--save-every",
        "1000",
        "--set",
        "gamma=0.95",
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert run.parent == tmp_path / "runs" / "sige_GridWorld-v0" / "q_learning"
    assert run.name.endswith("_s1")
    assert f"tensorboard --logdir {tmp_path / 'runs'}" in out[-1] and str(run) in out[-1]

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["hyperparams"]["gamma"] == 0.95
    assert config["options"]["steps"] == 4000 and config["options"]["env"] == "sige/GridWorld-v0"
    assert {"gymnasium", "numpy", "torch"} <= set(config["versions"])
    assert "command" in config and "git_commit" in config

    rows = (run / "evaluations.csv").read_text().splitlines()
    assert rows[0] == "step,mean_return,std_return,episodes,optimality_gap"
    assert [r.split(",")[0] for r in rows[1:]] == ["1000", "2000", "3000", "4000"]
    assert [p.name for p in sorted((run / "checkpoints").iterdir())]  # at least one checkpoint
    assert not list((run / "checkpoints").glob(".*"))  # no temporary folder left behind

    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "finished" and summary["steps"] == 4000
    assert summary["steps_per_s"] > 0
    assert summary["final_evaluation"]["optimality_gap"] == pytest.approx(0, abs=1e-9)

    import gymnasium as gym

    loaded = agents.load(run / "final", env=gym.make("sige/GridWorld-v0"))
    assert loaded.num_steps == 4000

    acc = EventAccumulator(str(run))
    acc.Reload()
    keys = set(acc.Tags()["scalars"])
    assert {
        "charts/episodic_return",
        "charts/episodic_length",
        "charts/epsilon",
        "charts/learning_rate",
        "losses/td_loss",
        "losses/q_values",
        "eval/mean_return",
        "eval/std_return",
        "eval/optimality_gap",
    } <= keys
    assert acc.Scalars("eval/optimality_gap")[-1].step == 4000


def test_value_iteration_run_on_gymnasium_env(tmp_path):
    run = train(tmp_path, "--env", "FrozenLake-v1", "--agent", "value_iteration", "--steps", "5000")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "finished"
    assert summary["steps"] < 5000  # converged early
    assert summary["final_evaluation"]["optimality_gap"] == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "sige/GridWrld-v0"], "did you mean 'sige/GridWorld-v0'"),
        (["--agent", "q_learnig"], "did you mean 'q_learning'"),
        (["--set", "alpha=0.1"], "valid keys: gamma, learning_rate"),
        (["--set", "gamma=high"], "gamma (from --set) must be a number"),
        (["--env", "CartPole-v1"], "needs Discrete observation"),
        (["--steps", "-5"], "--steps must be > 0"),
        (["--num-envs", "4"], "--num-envs must be 1"),
        (["--device", "tpu"], "allowed: auto, cpu, cuda"),
        (["--config", "missing.yaml"], "does not exist"),
        (["--resume", "nowhere"], "not a run folder"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["--logdir", str(tmp_path / "runs"), "--no-progress", *args])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_lists(capsys):
    assert main(["--list-envs"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed[: len(envs.ENV_IDS)] == sorted(envs.ENV_IDS) and "FrozenLake-v1" in listed
    assert main(["--list-agents"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == agents.names()


def run_script(*args, **kw):
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def interrupt_when_checkpointed(proc, logdir, sig):
    deadline = time.time() + 60
    while time.time() < deadline and not list(Path(logdir).glob("*/*/*/checkpoints/step_*")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    return proc.communicate(timeout=60)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_checkpoints_and_resume_matches_uninterrupted_run(tmp_path, sig, code):
    common = [
        "--env",
        "sige/SlipperyMaze-v0",
        "--agent",
        "sarsa",
        "--steps",
        "60000",
        "--seed",
        "7",
        "--save-every",
        "2000",
        "--eval-every",
        "20000",
        "--no-progress",
    ]
    logdir = tmp_path / "interrupted"
    proc = run_script(*common, "--logdir", str(logdir))
    out, err = interrupt_when_checkpointed(proc, logdir, sig)
    assert proc.returncode == code, err
    (run,) = logdir.glob("*/*/*")
    assert f"--resume {run}" in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "interrupted" and summary["steps"] < 60000
    assert not (run / "final").exists()

    resumed = subprocess.run(
        [sys.executable, str(SCRIPT), "--resume", str(run), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "summary.json").read_text())["exit_reason"] == "finished"

    straight = train(tmp_path / "straight", *common)
    np.testing.assert_array_equal(q_table(run / "final"), q_table(straight / "final"))
    steps = [r.split(",")[0] for r in (run / "evaluations.csv").read_text().splitlines()[1:]]
    assert steps == ["20000", "40000", "60000"]  # no duplicate rows after the resume


def test_resume_refuses_corrupted_checkpoint(tmp_path, capsys):
    run = train(tmp_path, "--steps", "2000", "--save-every", "500")
    for _, ck in [(0, p) for p in (run / "checkpoints").iterdir()]:
        (ck / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as e:
        main(["--resume", str(run), "--no-progress"])
    assert e.value.code == 2
    assert "truncated or corrupted" in capsys.readouterr().err


def test_import_from_another_directory(tmp_path):
    """Other projects use our envs through gym.make("envs:sige/...")."""
    code = (
        "import gymnasium as gym; e = gym.make('envs:sige/CliffWalking-v0'); "
        "print(e.reset(seed=0)[0], e.unwrapped.P[36][2])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        check=True,
    )
    assert out.stdout.split()[0] == "36"


def test_dqn_on_vector_envs_resumes_exactly(tmp_path):
    """The deep agent through the same front door: two envs, checkpoints mid-episode, and a
    resume from the middle checkpoint ends with the same weights as the uninterrupted run."""
    import torch

    args = [
        "--env",
        "CartPole-v1",
        "--agent",
        "dqn",
        "--steps",
        "1200",
        "--num-envs",
        "2",
        "--save-every",
        "400",
        "--eval-every",
        "600",
        "--eval-episodes",
        "2",
        "--seed",
        "3",
        "--set",
        "learning_starts=200",
        "--set",
        "net_arch=[16]",
        "--set",
        "buffer_size=1000",
    ]
    run = train(tmp_path, *args)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "finished" and summary["steps"] == 1200
    final = torch.load(run / "final" / "tensors.pt", weights_only=True)["q"]

    # Pretend the process died after the checkpoint at step 400 and resume from it.
    for step, ck in Run(run).checkpoints():
        if step > 400:
            shutil.rmtree(ck)
    shutil.rmtree(run / "final")
    assert main(["--resume", str(run), "--no-progress"]) == 0
    resumed = torch.load(run / "final" / "tensors.pt", weights_only=True)["q"]
    for key in final:
        torch.testing.assert_close(resumed[key], final[key], rtol=0, atol=0)
    acc = EventAccumulator(str(run))
    acc.Reload()
    assert {"charts/episodic_return", "losses/td_loss", "eval/mean_return"} <= set(
        acc.Tags()["scalars"]
    )
