"""The main job end to end: files of the run folder, TensorBoard keys, exact resume after a
signal, and bad input refused with exit code 2 and nothing written."""

import csv
import json
import os
import re
import shlex
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

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl import agents
from sige_rl.agents.training.train import main
from sige_rl.supervised import Run

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_agent.py"


def train(tmp_path, *extra):
    args = ["--logdir", str(tmp_path / "runs"), "--no-progress", *extra]
    assert main(args) == 0
    (run,) = [p for p in (tmp_path / "runs").glob("*/*/*") if not p.is_symlink()]
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
    assert str(run) in out[-1]
    tensorboard = shlex.split(out[-1].split("view it: ")[1])  # pasteable: an existing program
    assert Path(tensorboard[0]).is_file() and tensorboard[-2:] == [
        "--logdir",
        str(tmp_path / "runs"),
    ]

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["hyperparams"]["gamma"] == 0.95
    assert config["options"]["steps"] == 4000 and config["options"]["env"] == "sige/GridWorld-v0"
    assert {"gymnasium", "numpy", "torch"} <= set(config["versions"])
    assert "command" in config and "git_commit" in config

    rows = (run / "evaluations.csv").read_text().splitlines()
    assert rows[0] == "step,mean_return,std_return,episodes,capped,optimality_gap"
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
        "losses/td_error",
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
        (["--env-kwarg", "bogus=1"], "unexpected keyword argument 'bogus'"),
        (["--env-kwarg", "bogus"], "--env-kwarg expects KEY=VALUE"),
        (["--name", "two words"], "a tag is 1-64 letters"),
        (["--name", "../up"], "a tag is 1-64 letters"),
        (["--run-dir", str(Path(__file__).parent)], "exists and is not an empty folder"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["--logdir", str(tmp_path / "runs"), "--no-progress", *args])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_name_tags_the_folder_and_latest_points_at_the_newest_run(tmp_path):
    logdir = tmp_path / "runs"
    common = ["--env", "sige/GridWorld-v0", "--steps", "300", "--logdir", str(logdir)]
    assert main([*common, "--no-progress", "--name", "first"]) == 0
    assert main([*common, "--no-progress", "--name", "second", "--seed", "4"]) == 0
    folder = logdir / "sige_GridWorld-v0" / "q_learning"
    runs = sorted(p.name for p in folder.iterdir() if not p.is_symlink())
    assert len(runs) == 2 and runs[0].endswith("_s0_first") and runs[1].endswith("_s4_second")
    latest = folder / "latest"
    assert latest.is_symlink() and os.readlink(latest) == runs[1]  # relative: the tree can move
    config = yaml.safe_load((latest / "config.yaml").read_text())
    assert config["options"]["name"] == "second"
    assert json.loads((latest / "summary.json").read_text())["name"] == "second"
    # --run-dir places a run exactly there, and leaves latest alone
    there = tmp_path / "elsewhere" / "mine"
    assert main([*common, "--no-progress", "--run-dir", str(there)]) == 0
    assert (there / "final").is_dir() and os.readlink(latest) == runs[1]


def test_a_listener_stops_the_run_as_pruned_and_it_resumes(tmp_path, capsys):
    """A listener that says stop at the second evaluation: the run ends there with a checkpoint
    (exit 0, summary "pruned"); --resume finishes it with the same table as an uninterrupted
    run."""
    seen = []

    def stop_at_second(row):
        seen.append(row["step"])
        return len(seen) == 2

    args = ["--env", "sige/GridWorld-v0", "--steps", "3000", "--eval-every", "1000"]
    assert main([*args, "--no-progress", "--logdir", str(tmp_path / "a")], [stop_at_second]) == 0
    (run,) = [p for p in (tmp_path / "a").glob("*/*/*") if not p.is_symlink()]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "pruned" and 2000 <= summary["steps"] < 3000
    assert seen == [1000, 2000] and "pruned" in capsys.readouterr().out
    assert main(["--resume", str(run), "--no-progress"]) == 0
    whole = train(tmp_path, *args)
    np.testing.assert_array_equal(q_table(run / "final"), q_table(whole / "final"))


def test_lists(capsys):
    assert main(["--list-envs"]) == 0
    listed = capsys.readouterr().out.split()
    ours = [
        *sige_rl.envs.ENV_IDS,
        *sige_rl.envs.ATARI_IDS,
        *sige_rl.envs.MINATAR_IDS,
        *sige_rl.envs.POWER_GRID_IDS,
        *sige_rl.envs.POWER_GRID_ALERT_IDS,
        *sige_rl.envs.BUILDING_IDS,
        *sige_rl.envs.MULTI_AGENT_IDS,
        *sige_rl.envs.BOARD_GAME_IDS,
    ]
    assert listed[: len(ours)] == sorted(ours)
    assert "FrozenLake-v1" in listed
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
    while time.time() < deadline and not list(Path(logdir).glob("*/*/*/checkpoints/step_[1-9]*")):
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
    (run,) = [p for p in logdir.glob("*/*/*") if not p.is_symlink()]
    lines = out.splitlines()
    printed = lines[[i for i, x in enumerate(lines) if x.endswith("Resume with:")][0] + 1]
    assert shlex.split(printed) == [sys.executable, str(SCRIPT), "--resume", str(run)]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "interrupted" and summary["steps"] < 60000
    assert not (run / "final").exists()

    resumed = subprocess.run(  # the printed command, as pasted
        [*shlex.split(printed), "--no-progress"], capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "summary.json").read_text())["exit_reason"] == "finished"

    straight = train(tmp_path / "straight", *common)
    np.testing.assert_array_equal(q_table(run / "final"), q_table(straight / "final"))
    steps = [r.split(",")[0] for r in (run / "evaluations.csv").read_text().splitlines()[1:]]
    assert steps == ["20000", "40000", "60000"]  # no duplicate rows after the resume


def interrupted_run(tmp_path, *extra):
    """A run that stopped part-way: trained, then its final agent and summary taken away, as
    if the process had been killed after its last checkpoint."""
    run = train(tmp_path, "--steps", "2000", "--save-every", "500", *extra)
    for step, ck in Run(run).checkpoints():
        if step > 1000:
            shutil.rmtree(ck)
    shutil.rmtree(run / "final")
    (run / "summary.json").unlink()
    return run


def test_resume_refuses_corrupted_checkpoint(tmp_path, capsys):
    run = interrupted_run(tmp_path)
    for _, ck in Run(run).checkpoints():
        (ck / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as e:
        main(["--resume", str(run), "--no-progress"])
    assert e.value.code == 2
    assert "truncated or corrupted" in capsys.readouterr().err


def test_import_from_another_directory(tmp_path):
    """Other projects use our envs through gym.make("sige_rl.envs:sige/...")."""
    code = (
        "import gymnasium as gym; e = gym.make('sige_rl.envs:sige/CliffWalking-v0'); "
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


# -- resume: what it refuses, what it keeps ----------------------------------------------------
@pytest.mark.parametrize(
    "flags",
    [
        ["--seed", "3"],
        ["--agent", "sarsa"],
        ["--env", "sige/CliffWalking-v0"],
        ["--set", "gamma=0.5"],
        ["--set", "nonsense=1"],
        ["--config", "missing.yaml"],
        ["--num-envs", "2"],
        ["--eval-every", "10"],
        ["--env-kwarg", "slip=0.5"],
    ],
)
def test_resume_refuses_flags_that_would_change_the_run(tmp_path, capsys, flags):
    run = interrupted_run(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["--resume", str(run), *flags])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"{flags[0]} cannot change it" in err and "allowed with --resume: --steps" in err


def test_resume_of_a_finished_run_loses_nothing(tmp_path, capsys):
    """A finished run is not restarted from an older checkpoint, with or without --steps."""
    run = train(tmp_path, "--steps", "2000", "--save-every", "500")
    before = {f: (run / f).read_bytes() for f in ("summary.json", "evaluations.csv")}
    final = q_table(run / "final")
    assert main(["--resume", str(run), "--steps", "1000"]) == 0
    assert "already finished at 2000 steps" in capsys.readouterr().out
    assert main(["--resume", str(run)]) == 0
    with pytest.raises(SystemExit) as e:
        main(["--resume", str(run), "--steps", "5000"])
    assert e.value.code == 2 and "continues interrupted runs only" in capsys.readouterr().err
    assert {f: (run / f).read_bytes() for f in before} == before
    np.testing.assert_array_equal(q_table(run / "final"), final)


def test_resume_below_the_steps_done_is_refused(tmp_path, capsys):
    run = interrupted_run(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["--resume", str(run), "--steps", "300"])
    step = Run(run).latest_checkpoint()[0]
    assert e.value.code == 2 and f"already at step {step}" in capsys.readouterr().err


@pytest.mark.parametrize("stretch", [False, True])
def test_resume_with_more_steps_keeps_or_stretches_the_schedules(tmp_path, stretch):
    """Raising --steps on resume keeps the epsilon schedule laid over the original budget
    (epsilon reaches its final value where it would have); --stretch-schedules lays it over
    the new budget. Checked on the logged charts/epsilon."""
    run = interrupted_run(tmp_path, "--set", "exploration_fraction=1.0", "--set", "epsilon=1.0")
    flags = ["--stretch-schedules"] if stretch else []
    assert main(["--resume", str(run), "--steps", "4000", "--no-progress", *flags]) == 0
    acc = EventAccumulator(str(run))
    acc.Reload()
    eps = {e.step: e.value for e in acc.Scalars("charts/epsilon")}
    late = [v for s, v in eps.items() if 2100 < s < 3900]
    assert late
    if stretch:  # 1 - step / 4000, down to 0.01
        assert all(0.02 < v < 0.5 for v in late)
    else:  # final (0.01) from step 2000 on
        assert all(v == pytest.approx(0.01) for v in late)
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["options"]["steps"] == 4000 and len(config["resumed_with"]) == 1


def test_resume_applies_a_new_device_and_says_so(tmp_path, capsys):
    run = interrupted_run(tmp_path)
    assert main(["--resume", str(run), "--device", "cpu", "--no-progress"]) == 0
    assert "resuming with device: cpu (was cpu)" in capsys.readouterr().out


# -- listings, config files, progress --------------------------------------------------------
def test_list_envs_marks_what_cannot_run_here(capsys):
    assert main(["--list-envs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    runnable = [line for line in lines if not line.startswith("#")]
    marked = [line for line in lines if line.startswith("# not runnable here: ")]
    import gymnasium as gym

    multi = list(sige_rl.envs.MULTI_AGENT_IDS)  # PettingZoo envs, listed among ours
    assert len(runnable) + len(marked) == len(gym.registry) + len(multi)
    assert set(multi) <= set(runnable)
    runnable = [i for i in runnable if i not in multi]
    # ale-py registers hundreds of ids on one class once imported: make a sample of those
    ale = [i for i in runnable if str(gym.spec(i).entry_point).startswith("ale_py")]
    for env_id in [i for i in runnable if i not in ale] + ale[::50]:  # listed: can be made
        gym.make(env_id).close()
    for env_id in ("Ant-v2", "GymV26Environment-v0"):  # removed or needing shimmy: marked
        if env_id in gym.registry:
            assert env_id not in runnable
            assert any(line.split()[4] == env_id for line in marked)


def test_list_agents_is_plain_text(capsys):
    assert main(["--list-agents"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == agents.names()
    assert "`" not in out and ":class:" not in out
    assert "Q-learning (Watkins 1989" in out


def test_list_hyperparams_shows_defaults_tuned_values_and_docs(capsys):
    args = ["--list-hyperparams", "--agent", "dqn", "--env", "CartPole-v1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "double (bool): default False, tuned True" in out
    assert "Double DQN targets." in out
    assert "batch_size (int): default 32" in out


def test_config_file_in_our_env_keyed_format(tmp_path):
    """``--config agents/hyperparams/q_learning.yaml`` picks the env's entry (less the job's
    n_timesteps); a file without the env's entry is refused."""
    source = ROOT / "agents" / "hyperparams" / "q_learning.yaml"
    run = train(
        tmp_path, "--env", "sige/SlipperyMaze-v0", "--config", str(source), "--steps", "500"
    )
    tuned = yaml.safe_load(source.read_text())["sige/SlipperyMaze-v0"]
    hyper = yaml.safe_load((run / "config.yaml").read_text())["hyperparams"]
    assert {k: v for k, v in tuned.items() if k != "n_timesteps"}.items() <= hyper.items()
    other = tmp_path / "other.yaml"
    other.write_text("FrozenLake-v1:\n  gamma: 0.5\n")
    with pytest.raises(SystemExit):
        main(["--config", str(other), "--logdir", str(tmp_path / "x")])


def test_only_the_last_three_checkpoints_are_kept(tmp_path):
    run = train(tmp_path, "--steps", "3000", "--save-every", "300")
    steps = [s for s, _ in Run(run).checkpoints()]
    assert len(steps) == 3 and steps == sorted(steps) and steps[-1] >= 2700


def test_progress_bar_reaches_the_end_and_says_when_a_planner_converged(tmp_path, capsys):
    logdir = str(tmp_path / "runs")
    assert main(["--logdir", logdir, "--steps", "3333", "--eval-every", "3333"]) == 0
    err = capsys.readouterr().err
    assert "3333/3333" in err.replace(" ", "").split("\r")[-1]
    args = ["--logdir", logdir, "--agent", "value_iteration", "--env", "FrozenLake-v1"]
    assert main([*args, "--steps", "5000"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"value_iteration converged after (\d+) of 5000 steps", captured.out)
    n = re.search(r"converged after (\d+)", captured.out).group(1)
    assert f"{n}/{n}" in captured.err.replace(" ", "").split("\r")[-1]


def test_no_progress_prints_log_lines(tmp_path, capsys):
    train(tmp_path, "--steps", "2000", "--eval-every", "1000")
    out = capsys.readouterr().out
    assert re.search(r"^step 1000/2000 \(50%\) \| \d+ steps/s .*\| eval ", out, flags=re.M)
    assert re.search(r"^step 2000/2000 \(100%\)", out, flags=re.M)


# -- evaluation that would never end, and a stop signal in it ---------------------------------
def test_an_endless_greedy_policy_is_capped(tmp_path):
    """Gymnasium's CliffWalking-v1 has no time limit: an untrained greedy policy walks into a
    wall (or the cliff) forever. The evaluation cuts each episode at 10,000 steps and says so."""
    run = train(tmp_path, "--env", "CliffWalking-v1", "--steps", "20", "--eval-every", "10",
                "--eval-episodes", "2")  # fmt: skip
    with open(run / "evaluations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["capped"] == "2"
    assert float(rows[0]["mean_return"]) <= -10_000


def test_a_stop_signal_during_a_long_evaluation_stops_within_seconds(tmp_path):
    """SIGTERM while the evaluation plays capped endless episodes: the run stops at once (it
    used to wait for an episode end that never came) and leaves a resumable checkpoint."""
    logdir = tmp_path / "runs"
    args = ["--env", "CliffWalking-v1", "--steps", "100000", "--eval-every", "10"]
    proc = run_script(*args, "--eval-episodes", "100000", "--no-progress", "--logdir", str(logdir))
    deadline = time.time() + 60
    while time.time() < deadline and not list(logdir.glob("*/*/*/checkpoints/step_*")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the first evaluation by now
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert time.time() - sent < 10
    (run,) = [p for p in logdir.glob("*/*/*") if not p.is_symlink()]
    assert json.loads((run / "summary.json").read_text())["exit_reason"] == "interrupted"
    import gymnasium as gym

    step, ck = Run(run).latest_checkpoint()
    assert agents.load(ck, env=gym.make("CliffWalking-v1")).num_steps == step
    assert "Resume with:" in out


def test_resume_loads_a_dqn_onto_the_device_asked_for(tmp_path, monkeypatch):
    """--device on resume reaches the agent as it loads (not only config.yaml)."""
    from sige_rl.agents.common import registry

    run = interrupted_run(
        tmp_path, "--env", "CartPole-v1", "--agent", "dqn", "--set", "learning_starts=100",
        "--set", "net_arch=[8]", "--set", "buffer_size=500",
    )  # fmt: skip
    seen = {}
    real_load = registry.load

    def spy(path, env, **overrides):
        seen.update(overrides)
        return real_load(path, env, **overrides)

    monkeypatch.setattr(registry, "load", spy)
    assert main(["--resume", str(run), "--device", "cpu", "--no-progress"]) == 0
    assert seen == {"device": "cpu"}
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["options"]["device"] == "cpu"
