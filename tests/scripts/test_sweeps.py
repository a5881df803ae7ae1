"""Several runs at once: ``train_agent.py --seeds`` (its statistics, its resume) and
``scripts/tune.py`` on Optuna (the best of a clear choice, resume after a killed trial, pruning),
and both on a local Ray instance."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl.agents.common import registry
from sige_rl.agents.training import tune
from sige_rl.agents.training.cli import build_parser, plan
from sige_rl.agents.training.multiseed import parse_seeds, seeds_label
from sige_rl.agents.training.train import main as train_main
from sige_rl.supervised import Run

GRID = ["--env", "sige/GridWorld-v0", "--agent", "q_learning"]


def group_of(logdir):
    (group,) = [p for p in logdir.glob("*/*/*") if not p.is_symlink()]
    return group


def last_eval(run_dir):
    with open(run_dir / "evaluations.csv") as fh:
        return list(csv.DictReader(fh))[-1]


# -- multi-seed ---------------------------------------------------------------------------------
def test_seed_lists_and_their_folder_label():
    assert parse_seeds("0-4,10") == [0, 1, 2, 3, 4, 10]
    assert parse_seeds("3, 1,2") == [1, 2, 3]
    assert seeds_label([0, 1, 2, 5, 7, 8]) == "0-2+5+7-8"
    for bad in ("4-1", "a", "-3", "1-"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_seeds_run_side_by_side_and_summarise_their_final_evaluations(tmp_path, capsys):
    logdir = tmp_path / "runs"
    args = [*GRID, "--steps", "1500", "--seeds", "0-2", "--jobs", "2", "--logdir", str(logdir)]
    assert train_main([*args, "--name", "trio", "--set", "learning_rate=0.8"]) == 0
    group = group_of(logdir)
    assert group.name.endswith("_seeds0-2_trio")
    assert (group.parent / "latest").resolve() == group.resolve()
    finals = []
    for seed in (0, 1, 2):
        run = group / f"s{seed}"
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["options"]["seed"] == seed and config["options"]["name"] == "trio"
        assert config["hyperparams"]["learning_rate"] == 0.8
        assert (run / "final").is_dir()
        finals.append(float(last_eval(run)["mean_return"]))
    summary = json.loads((group / "summary.json").read_text())
    st = summary["statistics"]["mean_return"]
    assert st["mean"]["value"] == pytest.approx(np.mean(finals))
    assert st["median"]["value"] == pytest.approx(np.median(finals))
    assert st["mean"]["low"] <= st["mean"]["value"] <= st["mean"]["high"]
    assert summary["finished"] == [0, 1, 2]
    with open(group / "scores.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["mean_return"]) for r in rows] == finals
    from PIL import Image

    with Image.open(group / "curves.png") as im:
        assert im.size[0] > 200
    assert "3 of 3 seeds finished" in capsys.readouterr().out


def test_an_interrupted_group_resumes_only_what_is_left(tmp_path):
    logdir = tmp_path / "runs"
    base = [*GRID, "--steps", "1200", "--logdir", str(logdir)]
    assert train_main([*base, "--seeds", "0-2", "--jobs", "1"]) == 0
    group = group_of(logdir)
    # Seed 1 stopped at its first evaluation (as a signal would stop it), seed 2 never started.
    kept = (group / "s0" / "summary.json").stat().st_mtime_ns
    for seed in (1, 2):
        (group / f"s{seed}").rename(tmp_path / f"old{seed}")
    assert (
        train_main(
            [*base, "--seed", "1", "--run-dir", str(group / "s1"), "--no-progress"],
            listeners=[lambda row: True],
        )
        == 0
    )
    assert json.loads((group / "s1" / "summary.json").read_text())["exit_reason"] == "pruned"
    assert train_main(["--resume", str(group)]) == 0
    assert (group / "s0" / "summary.json").stat().st_mtime_ns == kept
    resumed = yaml.safe_load((group / "s1" / "config.yaml").read_text())
    assert len(resumed["resumed_with"]) == 1
    for seed in (1, 2):  # the same run as one never interrupted (the job's exact resume)
        with (
            np.load(group / f"s{seed}" / "final" / "arrays.npz") as a,
            np.load(tmp_path / f"old{seed}" / "final" / "arrays.npz") as b,
        ):
            np.testing.assert_array_equal(a["q"], b["q"])
    assert json.loads((group / "summary.json").read_text())["finished"] == [0, 1, 2]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seeds", "3-1"], "--seeds"),
        (["--seeds", "0-1", "--seed", "4"], "drop --seed"),
        (["--jobs", "2"], "only with --seeds"),
        (["--seeds", "0-1", "--jobs", "0"], "--jobs must be > 0"),
        (["--seeds", "0-1", "--address", "auto"], "--address goes with --backend ray"),
    ],
)
def test_bad_multi_seed_input_exits_2_and_writes_nothing(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as e:
        train_main([*GRID, "--logdir", str(tmp_path / "runs"), *extra])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# -- tune.py on Optuna --------------------------------------------------------------------------
def tune_args(tmp_path, *extra):
    space = tmp_path / "space.yaml"
    if not space.exists():
        space.write_text("learning_rate: [0.05, 0.2, 1.0]\n")
    return [
        *GRID,
        "--space",
        str(space),
        "--steps",
        "2500",
        "--metric",
        "optimality_gap",
        "--logdir",
        str(tmp_path / "runs"),
        *extra,
    ]


def study_results(tmp_path):
    """The study folder of tune_args' study, and its trials.csv rows."""
    folder = tmp_path / "runs" / "sige_GridWorld-v0" / "q_learning" / "tune_q_learning"
    with open(folder / "trials.csv") as fh:
        return folder, list(csv.DictReader(fh))


def test_a_grid_search_finds_the_step_size_of_a_deterministic_maze(tmp_path):
    """On a deterministic maze a step size of 1 makes each Q-learning update the exact Bellman
    backup of the move it saw, so it reaches the optimal policy in the fewest steps: at this
    budget only it closes the optimality gap (V* minus the greedy policy's value)."""
    pytest.importorskip("optuna")
    assert tune.main(tune_args(tmp_path, "--sampler", "grid", "--pruner", "none")) == 0
    folder, trials = study_results(tmp_path)
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best == {"learning_rate": 1.0}
    assert sorted(float(t["learning_rate"]) for t in trials) == [0.05, 0.2, 1.0]
    for t in trials:  # each trial is an ordinary run, its value the run's final evaluation
        assert t["state"] == "COMPLETE"
        assert float(t["optimality_gap"]) == float(last_eval(tune_path(t))["optimality_gap"])
    assert min(trials, key=lambda t: float(t["optimality_gap"]))["learning_rate"] == "1.0"
    # best.yaml is a config that train_agent.py reads
    single = build_parser().parse_args([*GRID, "--config", str(folder / "best.yaml")])
    assert plan(single).config.learning_rate == 1.0


def tune_path(row):
    from pathlib import Path

    return Path(row["run_dir"])


def test_parallel_trials_share_the_storage_and_repeat_no_grid_point(tmp_path):
    """Two worker processes draw from one SQLite study: four grid points, four trials, each
    point once (TPE's or random's draws are per worker; the grid is the clean check)."""
    pytest.importorskip("optuna")
    (tmp_path / "space.yaml").write_text("learning_rate: [0.05, 0.2, 0.5, 1.0]\n")
    args = tune_args(tmp_path, "--sampler", "grid", "--pruner", "none", "--jobs", "2")
    assert tune.main(args) == 0
    folder, trials = study_results(tmp_path)
    assert sorted(float(t["learning_rate"]) for t in trials) == [0.05, 0.2, 0.5, 1.0]
    assert {t["state"] for t in trials} == {"COMPLETE"}
    assert len({t["run_dir"] for t in trials}) == 4


def test_a_killed_study_resumes_without_repeating_finished_trials(tmp_path):
    optuna = pytest.importorskip("optuna")
    args = tune_args(tmp_path, "--sampler", "grid", "--pruner", "none")
    assert tune.main([*args, "--trials", "1"]) == 0
    study_args = tune.build_parser().parse_args(args)
    study = tune.plan(tune.build_parser(), study_args)
    s = tune.load_study(study)
    (first,) = s.get_trials()
    # What a killed process leaves in the storage: a trial still RUNNING, whose process is gone,
    # with a run folder stopped part way (here at its first evaluation).
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    choices = optuna.distributions.CategoricalDistribution([0.05, 0.2, 1.0])
    killed = s.ask({"learning_rate": choices})
    left = killed.params["learning_rate"]
    assert left != first.params["learning_rate"]
    argv, run_dir = tune.trial_argv(study, f"t{killed.number:04d}", {"learning_rate": left})
    assert train_main(argv, listeners=[lambda row: True]) == 0
    killed.set_user_attr("run_dir", str(run_dir))
    killed.set_user_attr("host", __import__("socket").gethostname())
    killed.set_user_attr("pid", dead.pid)
    assert tune.main([*args, "--trials", "3"]) == 0
    trials = tune.load_study(study).get_trials()
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 3 and states.count("FAIL") == 1
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["learning_rate"] for t in done) == [0.05, 0.2, 1.0]
    assert done[0].number == first.number and done[0].datetime_complete == first.datetime_complete
    (retry,) = [t for t in done if t.params["learning_rate"] == left]
    assert retry.user_attrs["run_dir"] == str(run_dir)  # the killed trial's run, resumed
    assert retry.user_attrs["retry_of"] == killed.number
    assert len(yaml.safe_load((run_dir / "config.yaml").read_text())["resumed_with"]) == 1


def test_the_median_pruner_stops_a_trial_behind_the_others(tmp_path):
    """The slow step size 0.01 is still far from optimal at every evaluation while 1.0 and 0.9
    have closed the gap by step 2000: judged after those two (the pruner's two start-up trials),
    it is pruned there; judged before, it has nothing to be compared with and finishes. The
    grid's order is drawn from --seed (seed 3 puts it last with this repository's Optuna)."""
    pytest.importorskip("optuna")
    (tmp_path / "space.yaml").write_text("learning_rate: [1.0, 0.9, 0.01]\n")
    args = tune_args(tmp_path, "--sampler", "grid", "--seed", "3", "--eval-every", "500")
    assert tune.main(args) == 0
    folder, trials = study_results(tmp_path)
    slow = next(i for i, t in enumerate(trials) if float(t["learning_rate"]) == 0.01)
    if slow < 2:
        assert [t["state"] for t in trials] == ["COMPLETE"] * 3
        return
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    pruned = Run(tune_path(trials[2]))
    summary = pruned.read_json("summary.json")
    assert summary["exit_reason"] == "pruned" and summary["steps"] < 2500
    # The median rule, checked on the runs' own tables: at the last step the pruned run
    # reported, its gap was worse than the median of the other two runs' gaps at that step.
    last = pruned.read_table("evaluations")[-1]
    others = [
        next(r for r in Run(tune_path(t)).read_table("evaluations") if r["step"] == last["step"])
        for t in trials[:2]
    ]
    median = np.median([float(r["optimality_gap"]) for r in others])
    assert float(last["optimality_gap"]) > median


def test_with_this_optuna_seed_3_puts_the_slow_trial_last(tmp_path):
    """Keeps the test above on its pruning branch for the Optuna this repository installs."""
    optuna = pytest.importorskip("optuna")
    sampler = optuna.samplers.GridSampler({"learning_rate": [1.0, 0.9, 0.01]}, seed=3)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_categorical("learning_rate", [1.0, 0.9, 0.01]), 3)
    assert study.trials[2].params["learning_rate"] == 0.01


@pytest.mark.parametrize(
    "space, message",
    [
        ("alpha: [0.1]\n", "unknown hyperparameter 'alpha'"),
        ("learning_rate: {type: float, low: 0.1}\n", "needs 'low' and 'high'"),
        ("learning_rate: {type: beta}\n", "allowed: float, int, categorical"),
        ("learning_rate: {type: float, low: 0.1, high: 1.0}\n", "--sampler grid"),
    ],
)
def test_bad_search_spaces_exit_2(tmp_path, capsys, space, message):
    pytest.importorskip("optuna")
    (tmp_path / "space.yaml").write_text(space)
    with pytest.raises(SystemExit) as e:
        tune.main(tune_args(tmp_path, "--sampler", "grid"))
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_space_distributions_and_grid_points(tmp_path):
    optuna = pytest.importorskip("optuna")
    path = tmp_path / "s.yaml"
    path.write_text(
        "learning_rate: {type: float, low: 0.1, high: 0.5, step: 0.2}\n"
        "epsilon: {type: float, low: 0.01, high: 1.0, log: true}\n"
        "gamma: [0.9, 0.99]\n"
    )
    space = tune.read_space(str(path), registry.agent_class("q_learning").Config)
    d = optuna.distributions
    assert space["epsilon"] == d.FloatDistribution(0.01, 1.0, log=True)
    assert space["gamma"] == d.CategoricalDistribution([0.9, 0.99])
    del space["epsilon"]
    assert tune.grid_of(space) == {"learning_rate": [0.1, 0.3, 0.5], "gamma": [0.9, 0.99]}


# -- Ray -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
        )
    except Exception as e:  # no shared memory, no sockets: say why, as the issue asks
        pytest.skip(f"Ray cannot start here: {e}")
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_runs_two_trials_and_two_seeds_into_ordinary_run_folders(tmp_path, local_ray):
    (tmp_path / "space.yaml").write_text("learning_rate: [0.2, 1.0]\n")
    args = tune_args(
        tmp_path, "--sampler", "grid", "--pruner", "none", "--backend", "ray", "--jobs", "2"
    )
    assert tune.main(args) == 0
    folder, trials = study_results(tmp_path)
    assert sorted(float(t["learning_rate"]) for t in trials) == [0.2, 1.0]
    for t in trials:
        assert t["state"] == "COMPLETE"
        assert float(t["optimality_gap"]) == float(last_eval(tune_path(t))["optimality_gap"])
    assert yaml.safe_load((folder / "best.yaml").read_text()) == {"learning_rate": 1.0}

    logdir = tmp_path / "seeds"
    seeds = [
        *GRID,
        "--steps",
        "1000",
        "--seeds",
        "0-1",
        "--backend",
        "ray",
        "--logdir",
        str(logdir),
    ]
    assert train_main(seeds) == 0
    group = group_of(logdir)
    for seed in (0, 1):
        assert Run(group / f"s{seed}").read_json("summary.json")["exit_reason"] == "finished"
    assert json.loads((group / "summary.json").read_text())["finished"] == [0, 1]


def test_tune_script_help_runs_from_a_shell():
    out = subprocess.run(
        [sys.executable, "scripts/tune.py", "--help"],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert out.returncode == 0 and "--sampler" in out.stdout
