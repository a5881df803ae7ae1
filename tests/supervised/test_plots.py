"""Learning-curve figures, checked in the PNG that matplotlib wrote: its size, and the pixels of
each curve's colour and of its band."""

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from sige_rl.supervised import plots  # noqa: E402

# matplotlib's tab10: the first two curves' colours, and each blended at alpha 0.2 over white
BLUE, ORANGE = (31, 119, 180), (255, 127, 14)


def over_white(rgb, alpha=0.2):
    return tuple(round(255 + alpha * (c - 255)) for c in rgb)


def pixels_of(image, rgb, tolerance=2):
    """How many pixels of ``image`` have the colour ``rgb``."""
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int((np.abs(pixels - rgb).max(axis=-1) <= tolerance).sum())


@pytest.fixture
def legends(monkeypatch):
    """The legend texts of every figure saved during the test."""
    from matplotlib.figure import Figure

    seen, save = [], Figure.savefig

    def savefig(fig, *args, **kwargs):
        seen.append([t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()])
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


def test_two_labels_give_two_curves_and_a_band_only_where_there_are_several_runs(tmp_path, legends):
    x = np.arange(0, 1000, 100)
    rng = np.random.default_rng(0)
    three_runs = np.linspace(0, 1, 10) + rng.normal(0, 0.2, size=(3, 10))
    one_run = np.linspace(1, 0, 10)
    path = plots.learning_curves(
        {"dqn": (x, three_runs), "q_learning": (x, one_run[None, :])},
        tmp_path / "figs" / "curves.png",
        title="return",
        xlabel="step",
        ylabel="mean return",
    )
    assert path == tmp_path / "figs" / "curves.png" and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (840, 540)  # 7 x 4.5 inches at 120 dpi
        assert pixels_of(image, BLUE) > 500 and pixels_of(image, ORANGE) > 500  # the lines
        # the band of the three runs is an area; the one run has none (a line's anti-aliased
        # edge gives a few pixels of that colour)
        assert pixels_of(image, over_white(BLUE)) > 10_000
        assert pixels_of(image, over_white(ORANGE)) < 100
    assert legends == [["dqn (n=3)", "q_learning (n=1)"]]


def test_a_one_dimensional_series_is_one_run_and_size_sets_the_pixels(tmp_path, legends):
    path = plots.learning_curves(
        {"a": ([1, 2, 3], [0.0, 1.0, 4.0])}, tmp_path / "a.png", size=(4, 3)
    )
    with Image.open(path) as image:
        assert image.size == (480, 360)
    assert legends == [["a (n=1)"]]


def test_bad_series_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no series"):
        plots.learning_curves({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"series 'a': x must be \(points,\)"):
        plots.learning_curves({"a": ([1, 2, 3], np.zeros((2, 4)))}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_without_matplotlib_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(ImportError, match=r"pip install sige-rl\[plots\]"):
        plots.learning_curves({"a": ([1, 2], [1.0, 2.0])}, tmp_path / "x.png")
