"""Figures of several runs: learning curves as a mean over runs with a bootstrap band.

matplotlib is an optional dependency (``pip install sige-rl[plots]``): it is imported when a
figure is drawn, with its Agg backend, which writes files and needs no display.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sige_rl.supervised.stats import mean_band

DPI = 120
#: Matplotlib's qualitative palette of ten colours, cycled over the curves.
COLOURS = "tab10"


def require_matplotlib() -> Any:
    """The ``matplotlib`` module; ``ImportError`` naming the extra to install when it is
    missing (every figure of the package asks here first)."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "figures need matplotlib, which is not installed: pip install sige-rl[plots]"
        ) from e
    return matplotlib


def new_figure(size: tuple[float, float], **kwargs: Any):
    """A matplotlib ``Figure`` of ``size`` inches drawn by the Agg canvas: no pyplot, no display,
    no global state (``kwargs`` go to ``Figure``, e.g. ``layout="constrained"``)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=kwargs.pop("dpi", DPI), **kwargs)
    FigureCanvasAgg(fig)
    return fig


def learning_curves(
    series: Mapping[str, tuple[Any, Any]],
    path: str | Path,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "",
    confidence: float = 0.95,
    size: tuple[float, float] = (7.0, 4.5),
) -> Path:
    """Write a PNG of learning curves: for each label, the mean over its runs and a shaded
    bootstrap band (:func:`~sige_rl.supervised.stats.mean_band`; none for a single run).

    Args:
        series: label -> ``(x, values)``: ``x`` of shape ``(points,)`` and ``values`` of shape
            ``(runs, points)`` (one curve per run on those x; a ``(points,)`` array is one run).
            The legend names each label with its number of runs, ``"label (n=K)"``.
        path: the PNG to write; its folder is created.
        title, xlabel, ylabel: the axes' texts.
        confidence: coverage of the bands.
        size: the figure's size in inches (pixels: ``size * 120``).

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: no series, or ``x`` and ``values`` that do not match.
        ImportError: matplotlib is not installed.
    """
    if not series:
        raise ValueError("no series to plot")
    checked = []
    for label, (x, values) in series.items():
        xs = np.asarray(x, dtype=np.float64)
        ys = np.asarray(values, dtype=np.float64)
        if ys.ndim == 1:
            ys = ys[None, :]
        if xs.ndim != 1 or ys.ndim != 2 or ys.shape[1] != xs.shape[0]:
            raise ValueError(
                f"series {label!r}: x must be (points,) and values (runs, points), got "
                f"{xs.shape} and {np.shape(values)}"
            )
        checked.append((str(label), xs, ys))
    fig = new_figure(size)
    from matplotlib import colormaps

    palette = colormaps[COLOURS]
    ax = fig.add_subplot()
    for i, (label, xs, ys) in enumerate(checked):
        colour = palette(i % palette.N)
        centre, low, high = mean_band(ys, confidence=confidence)
        ax.plot(xs, centre, color=colour, linewidth=1.6, label=f"{label} (n={ys.shape[0]})")
        if ys.shape[0] > 1:
            ax.fill_between(xs, low, high, color=colour, alpha=0.2, linewidth=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    return out
