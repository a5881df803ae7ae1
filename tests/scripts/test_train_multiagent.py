"""A multi-agent env through the main job: sb3-ppo on a small energy community (two buildings,
one-day episodes) writes the usual run folder with the community's evaluations, replays with
scripts/evaluate.py, resumes, and agents that cannot share a policy are refused with exit 2."""

import csv
import json
import shutil

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl.agents.training.evaluate_cli import main as evaluate_main
from sige_rl.agents.training.train import main
from sige_rl.supervised import Run

ENV = "sige/EnergyCommunity-v0"
SMALL = ["--env-kwarg", "n_buildings=2", "--env-kwarg", "episode_days=1"]
# 2 copies x 2 buildings = 4 slots; a rollout of 64 steps a slot is 256 steps
FAST = ["--num-envs", "2", "--set", "n_steps=64", "--set", "batch_size=64", "--set", "n_epochs=1"]


def train(tmp_path, *extra):
    args = ["--env", ENV, "--agent", "sb3-ppo", *SMALL, *FAST, "--eval-episodes", "2"]
    args += ["--logdir", str(tmp_path / "runs"), "--no-progress", *extra]
    assert main(args) == 0
    (run,) = [p for p in (tmp_path / "runs").glob("*/*/*") if not p.is_symlink()]
    return run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("community")
    return train(tmp, "--steps", "1024", "--eval-every", "512", "--save-every", "256")


def test_ppo_run_writes_the_usual_folder_with_community_evaluations(run_dir):
    assert run_dir.parent.parent.name == "sige_EnergyCommunity-v0"
    config = yaml_options(run_dir)
    assert config["env_kwargs"] == {"n_buildings": 2, "episode_days": 1}
    assert config["num_envs"] == 2
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["exit_reason"] == "finished" and summary["steps"] == 1024
    assert (run_dir / "final" / "tensors.pt").is_file()
    assert [s for s, _ in Run(run_dir).checkpoints()] == [512, 768, 1024]
    with open(run_dir / "evaluations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "step",
        "mean_return",
        "std_return",
        "episodes",
        "capped",
        "cost_eur",
        "violation_kh",
        "feeder_excess_kwh",
    ]
    assert [r["step"] for r in rows] == ["512", "1024"]
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    keys = set(acc.Tags()["scalars"])
    assert {"eval/mean_return", "eval/cost_eur", "eval/violation_kh"} <= keys
    assert {"eval/feeder_excess_kwh", "charts/episodic_return", "losses/value_loss"} <= keys
    # a day is 96 steps: each slot finished 2 episodes in its 256 steps
    assert len(acc.Scalars("charts/episodic_return")) == 4 * 2


def yaml_options(run_dir):
    import yaml

    return yaml.safe_load((run_dir / "config.yaml").read_text())["options"]


def test_evaluate_replays_the_run_as_training_scored_it(run_dir, tmp_path, capsys):
    """Training evaluates on seeds 10_000 + i (seed 0 + 10_000): evaluate.py on the same seeds
    gives the last row's mean return and metrics. (It replays the checkpoint of that step, the
    weights that were evaluated: final/ holds them after PPO's update on the last rollout.)"""
    with open(run_dir / "evaluations.csv", newline="") as fh:
        last = list(csv.DictReader(fh))[-1]
    copy = shutil.copytree(run_dir, tmp_path / "run")
    shutil.rmtree(copy / "final")  # evaluate.py then takes the latest checkpoint, step 1024
    with pytest.warns(UserWarning):  # SB3's inexact-resume note on loading
        assert evaluate_main([str(copy), "--episodes", "2", "--seed", "10000"]) == 0
    out = capsys.readouterr().out
    assert f"all agents' rewards summed) {float(last['mean_return']):.4g} +/-" in out
    assert f"mean cost_eur per episode {float(last['cost_eur']):.4g}" in out
    assert "mean length 96.0 over 2 episodes" in out


def test_evaluate_refuses_a_gif_of_a_multi_agent_run(run_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        evaluate_main([str(run_dir), "--gif", str(tmp_path / "x.gif")])
    assert e.value.code == 2
    assert "renders text only" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize(
    ("agent", "extra", "message"),
    [
        ("q_learning", [], "q_learning cannot train on the multi-agent env"),
        ("sb3-dqn", [], "agents that can: sb3-ppo, sb3-a2c"),
        ("thermostat", [], "agents that can: sb3-ppo, sb3-a2c"),
        ("sb3-ppo", ["--env-kwarg", "n_houses=2"], "unexpected keyword argument 'n_houses'"),
    ],
)
def test_agents_that_cannot_share_a_policy_are_refused(tmp_path, capsys, agent, extra, message):
    with pytest.raises(SystemExit) as e:
        main(["--env", ENV, "--agent", agent, *extra, "--logdir", str(tmp_path / "runs")])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_an_interrupted_community_run_resumes(tmp_path):
    run = train(tmp_path, "--steps", "1024", "--eval-every", "512", "--save-every", "256")
    for step, ck in Run(run).checkpoints():  # as if killed after the checkpoint at step 512
        if step > 512:
            shutil.rmtree(ck)
    shutil.rmtree(run / "final")
    (run / "summary.json").unlink()
    with pytest.warns(UserWarning, match="will not equal"):
        assert main(["--resume", str(run), "--no-progress"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exit_reason"] == "finished" and summary["steps"] == 1024
    assert (run / "final" / "tensors.pt").is_file()
    steps = [r.split(",")[0] for r in (run / "evaluations.csv").read_text().splitlines()[1:]]
    assert steps == ["512", "1024"]  # the row after the checkpoint was dropped and redone
    assert yaml_options(run)["env_kwargs"] == {"n_buildings": 2, "episode_days": 1}
