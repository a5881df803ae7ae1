"""Reading run folders back: folders written with supervised.Run in the layouts of both jobs,
found by path, by search and by glob, their settings compared, their tables and summaries read
against the values written."""

import math
import os

import numpy as np
import pytest

from sige_rl.supervised import Run
from sige_rl.supervised.runs import (
    RunFolder,
    config_differences,
    configuration,
    curves,
    final_metrics,
    find_runs,
    flatten,
    is_bookkeeping,
    relative_names,
    tables,
)


def agent_run(root, seed=0, lr=0.5, name="", rows=((100, -5.0, 1.0), (200, -2.0, 0.5)), **extra):
    """A run folder laid out as scripts/train_agent.py writes it."""
    folder = root / "sige_GridWorld-v0" / "q_learning" / f"2026010{seed}-120000_s{seed}"
    run = Run(folder)
    run.write_yaml(
        "config.yaml",
        {
            "options": {
                "env": "sige/GridWorld-v0",
                "env_kwargs": {"map": "4x4", **extra},
                "agent": "q_learning",
                "steps": 200,
                "seed": seed,
                "logdir": str(root),
                "device": "cpu",
                "no_progress": True,
                "name": name,
            },
            "hyperparams": {"gamma": 0.99, "learning_rate": lr},
            "versions": {"python": "3.11.7", "numpy": "2.0"},
            "git_commit": f"abc{seed}",
            "command": f"train_agent.py --seed {seed}",
        },
    )
    for step, ret, gap in rows:
        run.append_row("evaluations", {"step": step, "mean_return": ret, "optimality_gap": gap})
    last = rows[-1]
    run.write_json(
        "summary.json",
        {
            "exit_reason": "finished",
            "env": "sige/GridWorld-v0",
            "agent": "q_learning",
            "seed": seed,
            "steps": last[0],
            "wall_time_s": 1.5 + seed,
            "steps_per_s": 100.0,
            "final_evaluation": {
                "step": last[0],
                "mean_return": last[1],
                "optimality_gap": last[2],
            },
            "run_dir": str(folder),
        },
    )
    return folder


def task_run(root, seed=0, phases=False):
    """A run folder laid out as scripts/train_supervised.py writes it."""
    folder = root / "supervised" / "digits-mlp" / f"20260101-120000_s{seed}"
    run = Run(folder)
    run.write_yaml(
        "config.yaml",
        {
            "options": {"task": "digits-mlp", "seed": seed, "logdir": str(root)},
            "hyperparams": {"epochs": 2, "lr": 0.001, "hidden": [256, 128], "device": "auto"},
            "versions": {"torch": "2.13"},
            "git_commit": None,
            "command": "train_supervised.py",
        },
    )
    target = Run(folder / "pretrain") if phases else run
    target.append_row("epochs", {"step": 1, "train/loss": 1.9, "val/accuracy": 0.7})
    target.append_row("epochs", {"step": 2, "train/loss": 0.8, "val/accuracy": float("nan")})
    run.write_json(
        "summary.json",
        {
            "exit_reason": "interrupted",
            "task": "digits-mlp",
            "seed": seed,
            "epochs": 2,
            "wall_time_s": 3.0,
            "cpu_time_s": 2.5,
            "test_accuracy": 0.9,
            "sensitivity": [0.8, 1.0],
            "run_dir": str(folder),
        },
    )
    return folder


def test_a_run_folder_of_each_job_is_read_with_its_group_label_and_seed(tmp_path):
    rl, sup = agent_run(tmp_path, seed=3, name="baseline"), task_run(tmp_path, seed=1)
    a, b = RunFolder.read(rl), RunFolder.read(sup)
    assert (a.group, a.label, a.seed, a.name) == ("sige/GridWorld-v0", "q_learning", 3, "baseline")
    assert (b.group, b.label, b.seed, b.name) == ("supervised/digits-mlp", "digits-mlp", 1, "")
    assert a.config["hyperparams"]["learning_rate"] == 0.5
    assert a.summary["final_evaluation"]["mean_return"] == -2.0
    assert (a.exit_reason, a.wall_time_s, a.steps) == ("finished", 4.5, 200)
    assert (b.exit_reason, b.steps) == ("interrupted", 2)  # the supervised job counts epochs


def test_a_folder_of_another_layout_is_named_by_its_parents_and_a_missing_summary_is_empty(
    tmp_path,
):
    folder = tmp_path / "study" / "trial" / "r1"
    Run(folder).write_yaml("config.yaml", {"options": {"seed": 4}, "hyperparams": {}})
    run = RunFolder.read(folder)
    assert (run.group, run.label, run.seed, run.summary) == ("study", "trial", 4, {})
    assert run.exit_reason == "unknown" and run.steps is None
    metrics = final_metrics(run)
    assert list(metrics) == ["wall_time_s", "exit_reason"] and math.isnan(metrics["wall_time_s"])
    assert metrics["exit_reason"] == "unknown"


def test_find_runs_by_folder_search_and_glob_each_once_skipping_latest_links(tmp_path):
    runs_root = tmp_path / "runs"
    a, b = agent_run(runs_root, seed=0), agent_run(runs_root, seed=1)
    c = task_run(runs_root)
    os.symlink(b.name, b.parent / "latest", target_is_directory=True)  # as the jobs leave it
    found = find_runs([runs_root])
    assert [r.path for r in found] == [a, b, c]  # sorted by path; latest not a fourth run
    # a run named twice, directly, by a search and through the link, is read once
    again = find_runs([str(b), runs_root / "sige_GridWorld-v0", b.parent / "latest"])
    assert [r.path for r in again] == [b, a]
    # a pattern the shell did not expand, and a recursive one
    assert [r.path for r in find_runs(str(runs_root / "sige_*" / "*" / "*"))] == [a, b]
    assert [r.path for r in find_runs(str(runs_root / "**" / "config.yaml"))] == [a, b, c]
    assert [r.path for r in find_runs(str(a / "config.yaml"))] == [a]


def test_find_runs_names_the_argument_that_found_nothing(tmp_path):
    agent_run(tmp_path / "runs")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"empty: holds no run folder \(a folder with a config"):
        find_runs([tmp_path / "runs", tmp_path / "empty"])
    with pytest.raises(ValueError, match="nope: no such file or folder"):
        find_runs([tmp_path / "nope"])
    with pytest.raises(ValueError, match=r"zz\*: no file or folder matches this pattern"):
        find_runs([str(tmp_path / "zz*")])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.yaml").write_text("just text")
    with pytest.raises(ValueError, match="bad/config.yaml: not a run's config"):
        find_runs([tmp_path / "bad"])


def test_flatten_gives_dotted_keys_and_keeps_lists():
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": {}}) == {
        "a.b": 1,
        "a.c.d": None,
        "e": [1, 2],
    }


def test_config_differences_name_the_settings_that_differ_and_leave_out_bookkeeping(tmp_path):
    base = RunFolder.read(agent_run(tmp_path / "1", seed=0))
    other_seed = RunFolder.read(agent_run(tmp_path / "2", seed=5, name="tag"))
    faster = RunFolder.read(agent_run(tmp_path / "3", seed=0, lr=0.1))
    new_map = RunFolder.read(agent_run(tmp_path / "4", seed=0, slip=0.2))
    # seed, logdir, name, commit, command and versions differ here: none is a difference
    assert config_differences([base, other_seed]) == []
    assert config_differences([base, faster, other_seed]) == ["learning_rate"]
    assert config_differences([base, new_map]) == ["env_kwargs.slip"]  # missing in one run
    assert config_differences([base]) == []
    assert configuration(base) == configuration(RunFolder.read(agent_run(tmp_path / "5", seed=9)))
    assert configuration(base) != configuration(faster)
    assert configuration(base) != configuration(other_seed)  # the tag sets configurations apart
    # a resumed run records a switch of the resume, off, that its first start did not
    resumed = RunFolder.read(agent_run(tmp_path / "6", seed=1))
    resumed.config["options"]["stretch_schedules"] = False
    assert config_differences([base, resumed]) == []
    assert configuration(base) == configuration(resumed)
    resumed.config["options"]["stretch_schedules"] = True
    assert config_differences([base, resumed]) == ["stretch_schedules"]
    for key in ("seed", "logdir", "versions.numpy", "git_commit", "start_time", "a.wall_time_s"):
        assert is_bookkeeping(key), key
    for key in ("learning_rate", "env_kwargs.map", "timesteps", "time_limit", "name_of_map"):
        assert not is_bookkeeping(key), key


def test_settings_keep_a_hyperparameter_named_as_an_option_apart(tmp_path):
    folder = tmp_path / "r"
    Run(folder).write_yaml(
        "config.yaml", {"options": {"device": "cpu", "seed": 0}, "hyperparams": {"device": "auto"}}
    )
    assert RunFolder.read(folder).settings == {
        "device": "cpu",
        "seed": 0,
        "hyperparams.device": "auto",
    }


def test_final_metrics_are_the_last_rows_and_the_summarys_results(tmp_path):
    rl = RunFolder.read(agent_run(tmp_path, rows=((100, -5.0, 1.0), (200, -2.5, 0.25))))
    assert final_metrics(rl) == {
        "mean_return": -2.5,
        "optimality_gap": 0.25,
        "wall_time_s": 1.5,
        "exit_reason": "finished",
    }
    sup = final_metrics(RunFolder.read(task_run(tmp_path)))
    assert sup["train/loss"] == 0.8 and math.isnan(sup["val/accuracy"])  # an empty cell
    assert sup["test_accuracy"] == 0.9 and sup["wall_time_s"] == 3.0
    assert sup["exit_reason"] == "interrupted"
    # the summary's bookkeeping and lists are not results
    assert not {"seed", "epochs", "cpu_time_s", "sensitivity", "run_dir"} & set(sup)


def test_curves_are_each_column_against_step_without_empty_cells(tmp_path):
    rl = RunFolder.read(agent_run(tmp_path, rows=((100, -5.0, 1.0), (200, -2.0, 0.5))))
    got = curves(rl)
    assert list(got) == ["mean_return", "optimality_gap"]
    np.testing.assert_array_equal(got["mean_return"][0], [100, 200])
    np.testing.assert_array_equal(got["mean_return"][1], [-5.0, -2.0])
    assert list(curves(rl, "evaluations")) == ["mean_return", "optimality_gap"]
    with pytest.raises(ValueError, match="no table 'epochs'; it has: evaluations"):
        curves(rl, "epochs")
    sup = curves(RunFolder.read(task_run(tmp_path)))
    np.testing.assert_array_equal(sup["val/accuracy"][0], [1])  # the NaN row left out
    np.testing.assert_array_equal(sup["val/accuracy"][1], [0.7])


def test_a_phase_folders_table_is_read_under_the_phases_name(tmp_path):
    run = RunFolder.read(task_run(tmp_path, phases=True))
    assert list(tables(run)) == ["pretrain/epochs"]
    assert list(curves(run)) == ["pretrain/train/loss", "pretrain/val/accuracy"]
    assert final_metrics(run)["pretrain/train/loss"] == 0.8
    assert run.steps == 2


def test_relative_names_start_below_the_folder_shared_by_all_runs(tmp_path):
    runs = [RunFolder.read(agent_run(tmp_path, seed=0)), RunFolder.read(task_run(tmp_path))]
    assert relative_names(runs) == [
        "sige_GridWorld-v0/q_learning/20260100-120000_s0",
        "supervised/digits-mlp/20260101-120000_s0",
    ]
    assert relative_names(runs[:1]) == ["20260100-120000_s0"]
