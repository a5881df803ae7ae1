import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from sige_rl.supervised import Run, resolve_device


def scalars(folder):
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_scalars_and_tables(tmp_path):
    run = Run(tmp_path / "r")
    for step in (1, 2, 3):
        run.log_scalar("charts/episodic_return", step * 10, step)
        run.append_row("evaluations", {"step": step, "mean_return": step / 2})
    run.close()
    assert scalars(tmp_path / "r")["charts/episodic_return"] == [(1, 10), (2, 20), (3, 30)]
    rows = run.read_table("evaluations")
    assert [(r["step"], r["mean_return"]) for r in rows] == [
        ("1", "0.5"),
        ("2", "1.0"),
        ("3", "1.5"),
    ]


def test_resume_drops_what_came_after_the_checkpoint(tmp_path):
    run = Run(tmp_path / "r")
    for step in range(1, 6):
        run.log_scalar("x", step, step)
        run.append_row("evaluations", {"step": step, "v": step})
    run.close()
    resumed = Run(tmp_path / "r", resume_step=3)
    assert [r["step"] for r in resumed.read_table("evaluations")] == ["1", "2", "3"]
    resumed.log_scalar("x", 40, 4)
    resumed.close()
    assert scalars(tmp_path / "r")["x"] == [(1, 1), (2, 2), (3, 3), (4, 40)]


def test_checkpoint_listing_ignores_temporary_folders(tmp_path):
    run = Run(tmp_path)
    for name in ("step_10", "step_200", ".step_300.tmp-x", "step_x"):
        (run.checkpoint_root / name).mkdir(parents=True)
    assert [s for s, _ in run.checkpoints()] == [10, 200]
    assert run.latest_checkpoint()[0] == 200


@pytest.mark.parametrize("cuda", [True, False])
def test_auto_picks_cuda_exactly_when_torch_sees_it(monkeypatch, cuda):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device("auto") == ("cuda" if cuda else "cpu")
    assert resolve_device("cpu") == "cpu"
    if cuda:
        assert resolve_device("cuda:1") == "cuda:1"
    else:
        with pytest.raises(ValueError, match="torch sees no CUDA device"):
            resolve_device("cuda")


def test_unknown_device_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: auto, cpu, cuda"):
        resolve_device("tpu")
