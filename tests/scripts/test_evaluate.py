import importlib.util
import re
import sys

import numpy as np
import pytest
from PIL import Image

from sige_rl import envs  # noqa: F401
from sige_rl.agents.training.evaluate_cli import main as evaluate_main
from sige_rl.agents.training.train import main as train_main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    args = ["--env", "sige/CliffWalking-v0", "--agent", "value_iteration", "--steps", "1000"]
    assert train_main([*args, "--logdir", str(logdir), "--no-progress"]) == 0
    return next(p for p in logdir.glob("*/*/*") if not p.is_symlink())


def test_replay_prints_returns(run_dir, capsys):
    assert evaluate_main([str(run_dir), "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "mean return -13 +/- 0, mean length 13.0 over 3 episodes" in out  # the optimal path


def test_gif_shows_the_agent_walking(run_dir, tmp_path):
    gif = tmp_path / "cliff.gif"
    assert evaluate_main([str(run_dir), "--episodes", "1", "--gif", str(gif)]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 14  # reset frame + 13 steps
        frames = []
        for i in (0, im.n_frames - 1):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    assert frames[0].shape == frames[1].shape and not np.array_equal(frames[0], frames[1])


def test_not_a_run_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        evaluate_main([str(tmp_path)])
    assert e.value.code == 2
    assert "not a run folder" in capsys.readouterr().err


def test_gif_that_cannot_be_drawn_fails_before_evaluating(tmp_path, capsys, monkeypatch):
    """CartPole draws with pygame: without it, --gif says so at once instead of after the whole
    evaluation."""
    if importlib.util.find_spec("pygame") is not None:
        pytest.skip("pygame is installed: CartPole can render")
    logdir = tmp_path / "runs"
    args = ["--env", "CartPole-v1", "--agent", "dqn", "--steps", "300", "--no-progress"]
    sets = ["--set", "learning_starts=100", "--set", "net_arch=[8]", "--set", "buffer_size=500"]
    assert train_main([*args, *sets, "--logdir", str(logdir)]) == 0
    run = next(p for p in logdir.glob("*/*/*") if not p.is_symlink())
    from sige_rl.agents.training import evaluate_cli

    def no_evaluation(*a, **kw):
        raise AssertionError("evaluated before checking that frames can be drawn")

    monkeypatch.setattr(evaluate_cli, "evaluate", no_evaluation)
    assert evaluate_main([str(run), "--gif", str(tmp_path / "cart.gif")]) == 1
    assert "cannot render CartPole-v1 for the GIF" in capsys.readouterr().err


def test_pixel_dqn_on_pong_trains_saves_loads_and_draws_a_gif(tmp_path, capsys):
    """The Atari pipeline end to end at a smoke budget: train_agent.py runs DQN on Pong from
    pixels (NatureCNN, frame-once replay), the saved agent replays a whole game, and the GIF
    shows the full-colour screen (a game is at least 21 points, hundreds of frames)."""
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    logdir = tmp_path / "runs"
    args = ["--env", "sige/Pong-v0", "--agent", "dqn", "--steps", "400", "--no-progress"]
    sets = ["learning_starts=100", "batch_size=8", "buffer_size=1000", "train_freq=4"]
    evals = ["--eval-every", "400", "--eval-episodes", "1"]
    assert (
        train_main(
            [*args, *evals, *[x for s in sets for x in ("--set", s)], "--logdir", str(logdir)]
        )
        == 0
    )
    run = next(p for p in logdir.glob("*/*/*") if not p.is_symlink())
    gif = tmp_path / "pong.gif"
    capsys.readouterr()
    assert evaluate_main([str(run), "--episodes", "1", "--gif", str(gif)]) == 0
    out = capsys.readouterr().out
    score = float(re.search(r"mean return (-?[\d.]+)", out).group(1))
    assert -21 <= score < 0  # the raw score of a whole game, lost by an untrained agent
    with Image.open(gif) as im:
        assert im.n_frames > 21 * 20
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
    assert first.shape == (210, 160, 3)


def read_video(path) -> tuple[dict, list[np.ndarray]]:
    """The metadata and the frames of a video, decoded by imageio-ffmpeg's ffmpeg."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(height, width, 3) for b in reader]


def test_video_shows_every_frame_of_the_episode(run_dir, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    mp4 = tmp_path / "cliff.mp4"
    argv = [str(run_dir), "--episodes", "1", "--video", str(mp4), "--fps", "5"]
    assert evaluate_main(argv) == 0
    meta, frames = read_video(mp4)
    assert len(frames) == 14  # reset frame + 13 steps of the optimal path
    assert meta["size"] == (12 * 24, 4 * 24)  # 12 x 4 cells of 24 pixels
    assert meta["fps"] == 5


def test_video_pads_odd_frames_to_even_without_rescaling(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    from sige_rl.agents.training.evaluation import write_video

    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (40, 40, 40)]
    write_video([np.full((7, 9, 3), c, np.uint8) for c in colours], tmp_path / "odd.mp4", fps=5)
    meta, frames = read_video(tmp_path / "odd.mp4")
    assert meta["size"] == (10, 8)  # 9 x 7 padded by one column and one row
    assert len(frames) == len(colours)
    for frame, colour in zip(frames, colours, strict=True):  # in order; padding repeats the edge
        assert np.abs(frame.astype(int) - colour).max() <= 8


def test_video_without_imageio_ffmpeg_fails_before_evaluating(
    run_dir, tmp_path, capsys, monkeypatch
):
    from sige_rl.agents.training import evaluate_cli

    def no_evaluation(*a, **kw):
        raise AssertionError("evaluated before checking that a video can be written")

    monkeypatch.setattr(evaluate_cli, "evaluate", no_evaluation)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails
    assert evaluate_main([str(run_dir), "--video", str(tmp_path / "x.mp4")]) == 1
    assert "pip install sige-rl[video]" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_policy_map_of_the_run(run_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "maps.png"
    assert evaluate_main([str(run_dir), "--episodes", "1", "--policy-map", str(png)]) == 0
    assert f"written to {png}" in capsys.readouterr().out
    with Image.open(png) as im:
        assert im.format == "PNG"


def test_policy_map_without_matplotlib_fails_before_evaluating(
    run_dir, tmp_path, capsys, monkeypatch
):
    from sige_rl.agents.training import evaluate_cli

    def no_evaluation(*a, **kw):
        raise AssertionError("evaluated before checking that a map can be drawn")

    monkeypatch.setattr(evaluate_cli, "evaluate", no_evaluation)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert evaluate_main([str(run_dir), "--policy-map", str(tmp_path / "x.png")]) == 1
    assert "pip install sige-rl[plots]" in capsys.readouterr().err


def test_policy_map_of_an_env_without_a_model_exits_2(tmp_path, capsys):
    logdir = tmp_path / "runs"
    args = ["--env", "CartPole-v1", "--agent", "do_nothing", "--steps", "50", "--no-progress"]
    assert train_main([*args, "--logdir", str(logdir)]) == 0
    run = next(p for p in logdir.glob("*/*/*") if not p.is_symlink())
    with pytest.raises(SystemExit) as e:
        evaluate_main([str(run), "--policy-map", str(tmp_path / "cart.png")])
    assert e.value.code == 2
    assert "CartPole-v1 has no exact model" in capsys.readouterr().err
    assert not (tmp_path / "cart.png").exists()
