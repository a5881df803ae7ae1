"""compare_runs.py on real runs of both jobs: the table's settings and final values against the
runs' own CSV files, the aggregate over seeds, the figures as Pillow reads them, TensorBoard's
hparams events read back, and bad input refused with exit code 2."""

import csv
import json

import pytest
import yaml
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl.agents.training import train
from sige_rl.agents.training.compare import main
from sige_rl.supervised import job

pytest.importorskip("matplotlib")


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def header(path):
    with open(path, newline="") as fh:
        return next(csv.reader(fh))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three Q-learning runs (two seeds of learning_rate 0.5, one of 0.1) and a digits run."""
    root = tmp_path_factory.mktemp("runs")
    common = ["--env", "sige/GridWorld-v0", "--agent", "q_learning", "--steps", "2000"]
    common += ["--logdir", str(root), "--no-progress"]
    for extra in (["--seed", "0"], ["--seed", "1"], ["--seed", "0", "--set", "learning_rate=0.1"]):
        assert train.main([*common, *extra]) == 0
    sets = ["--set", "epochs=2", "--set", "hidden=[32]", "--device", "cpu"]
    assert job.main(["--task", "digits-mlp", "--logdir", str(root), "--no-progress", *sets]) == 0
    return root


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "out"
    # a pattern the shell did not expand, and a folder searched for runs
    assert (
        main([str(runs / "sige_*" / "*" / "*"), str(runs / "supervised"), "--out", str(out)]) == 0
    )
    by_folder = {row["folder"]: row for row in read_csv(out / "runs.csv")}
    return out, by_folder


def rl_folders(runs):
    return sorted((runs / "sige_GridWorld-v0" / "q_learning").glob("*_s*"))


def test_the_table_shows_the_differing_setting_and_the_last_evaluations(runs, compared):
    out, rows = compared
    assert len(rows) == 4
    for folder in rl_folders(runs):
        summary = json.loads((folder / "summary.json").read_text())
        row = rows[f"sige_GridWorld-v0/q_learning/{folder.name}"]
        last = read_csv(folder / "evaluations.csv")[-1]
        assert float(row["mean_return"]) == float(last["mean_return"])
        assert float(row["optimality_gap"]) == float(last["optimality_gap"])
        assert row["group"] == "sige/GridWorld-v0" and row["agent/task"] == "q_learning"
        assert int(row["seed"]) == summary["seed"] and row["exit"] == "finished"
        assert int(row["steps done"]) == 2000
        assert float(row["wall time (s)"]) == summary["wall_time_s"]
    # learning_rate is the one setting that differs between the Q-learning runs
    columns = header(out / "runs.csv")
    assert columns[:6] == ["folder", "name", "group", "agent/task", "seed", "learning_rate"]
    assert columns[6] == "mean_return"
    assert sorted(r["learning_rate"] for r in rows.values()) == ["", "0.1", "0.5", "0.5"]
    assert "| learning_rate |" in (out / "runs.md").read_text()


def test_a_supervised_run_is_read_beside_them(runs, compared):
    out, rows = compared
    (folder,) = (runs / "supervised" / "digits-mlp").glob("*_s0")
    row = rows[f"supervised/digits-mlp/{folder.name}"]
    summary = json.loads((folder / "summary.json").read_text())
    last = read_csv(folder / "epochs.csv")[-1]
    assert row["group"] == "supervised/digits-mlp" and row["agent/task"] == "digits-mlp"
    assert float(row["test_accuracy"]) == summary["test_accuracy"]
    assert float(row["val/loss"]) == float(last["val/loss"])
    assert row["steps done"] == "2" and row["mean_return"] == ""
    with Image.open(out / "curves_supervised_digits-mlp_val_loss.png") as image:
        assert image.size == (840, 540)


def test_the_aggregate_is_over_the_seeds_of_each_configuration(runs, compared):
    out, _ = compared
    rows = [r for r in read_csv(out / "aggregate.csv") if r["metric"] == "mean_return"]
    assert [(r["configuration"], r["n"]) for r in rows] == [
        ("q_learning learning_rate=0.5", "2"),
        ("q_learning learning_rate=0.1", "1"),
    ]
    finals = {0.5: [], 0.1: []}
    for folder in rl_folders(runs):
        lr = yaml.safe_load((folder / "config.yaml").read_text())["hyperparams"]["learning_rate"]
        finals[lr].append(float(read_csv(folder / "evaluations.csv")[-1]["mean_return"]))
    assert len(finals[0.5]) == 2
    assert float(rows[0]["mean"]) == pytest.approx(sum(finals[0.5]) / 2)
    assert float(rows[1]["mean"]) == finals[0.1][0]
    assert float(rows[0]["mean low"]) <= float(rows[0]["mean"]) <= float(rows[0]["mean high"])
    assert "q_learning learning_rate=0.1 | mean_return | 1 |" in (out / "aggregate.md").read_text()


def test_one_figure_per_group_and_metric_written_as_png(compared):
    out, _ = compared
    path = out / "curves_sige_GridWorld-v0_mean_return.png"
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (840, 540)
    names = {p.name for p in out.glob("curves_*.png")}
    assert "curves_supervised_digits-mlp_train_loss.png" in names  # '/' made safe
    assert not any("episodes" in n or "capped" in n for n in names)  # counts, not scores


def test_a_policy_map_for_each_run_on_a_grid_with_a_model(runs, compared):
    """The three gridworld runs get a map (V*, each checkpoint, final); the digits run none."""
    out, _ = compared
    maps = sorted(out.glob("policy_*.png"))
    assert len(maps) == len(rl_folders(runs)) == 3
    for path in maps:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 400


def test_each_run_has_hparams_and_its_final_metrics_for_tensorboard(runs, compared):
    out, rows = compared
    for name, row in rows.items():
        events = EventAccumulator(str(out / "tensorboard" / name)).Reload()
        content = events.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
        assert set(content) == {
            hparams_metadata.SESSION_START_INFO_TAG,
            hparams_metadata.SESSION_END_INFO_TAG,
        }
        start = hparams_metadata.parse_session_start_info_plugin_data(
            content[hparams_metadata.SESSION_START_INFO_TAG]
        )
        scalars = {tag: events.Scalars(tag)[-1].value for tag in events.Tags()["scalars"]}
        if row["group"] == "sige/GridWorld-v0":
            assert start.hparams["env"].string_value == "sige/GridWorld-v0"
            lr = start.hparams["learning_rate"].number_value
            assert lr == float(row["learning_rate"])
            assert start.hparams["no_progress"].string_value == "True"
            assert scalars["mean_return"] == pytest.approx(float(row["mean_return"]), rel=1e-6)
        else:
            assert start.hparams["task"].string_value == "digits-mlp"
            assert start.hparams["hidden"].string_value == "[32]"
            assert scalars["test_accuracy"] == pytest.approx(float(row["test_accuracy"]))
            assert scalars["train/loss"] == pytest.approx(float(row["train/loss"]), rel=1e-6)


def test_where_the_outputs_are_is_printed_and_no_plots_writes_no_figure(
    runs, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main([str(runs), "--no-plots", "--metric", "mean_return"]) == 0
    (out,) = (tmp_path / "compare").iterdir()  # the default: compare/<YYYYmmdd-HHMMSS>
    printed = capsys.readouterr().out.strip().splitlines()
    assert f"Outputs in {out.relative_to(tmp_path)}" in printed[-2]
    assert "tensorboard" in printed[-1] and "--logdir" in printed[-1]
    assert not list(out.glob("*.png")) and (out / "runs.md").is_file()
    columns = header(out / "runs.csv")
    assert "mean_return" in columns and "test_accuracy" not in columns


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, r: [str(t / "missing")], "missing: no such file or folder"),
        (lambda t, r: [str(t / "no-match-*")], "no file or folder matches this pattern"),
        (lambda t, r: [str(t)], "holds no run folder"),
        (lambda t, r: [str(r), "--metric", "mean_retrun"], "--metric mean_retrun: not a metric"),
    ],
)
def test_bad_input_exits_2_with_a_message(runs, tmp_path, capsys, make_args, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        main([*make_args(tmp_path / "empty", runs), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
