"""Drawing the power grid: text (the worst lines) and a one-line diagram in numpy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sige_rl.envs.power_grid.series import STEPS_PER_DAY

if TYPE_CHECKING:
    from sige_rl.envs.power_grid.env import PowerGridEnv

SIZE = 400  # pixels, square
MARGIN = 24
BACKGROUND = np.array([255, 255, 255], np.uint8)
OUT_OF_SERVICE = np.array([170, 170, 170], np.uint8)
BUS = np.array([30, 30, 30], np.uint8)
SPLIT_BUS = np.array([40, 90, 220], np.uint8)


def clock(env: PowerGridEnv) -> str:
    step = env.series.start_step + env.t
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(step // STEPS_PER_DAY) % 7]
    minutes = (step % STEPS_PER_DAY) * 5
    return f"{day} {minutes // 60:02d}:{minutes % 60:02d}"


def render_ansi(env: PowerGridEnv, worst: int = 5) -> str:
    """Time, lines out, and the ``worst`` lines by rho with their flows and timers."""
    c = env.case
    lines = [
        f"{c.name} step {env.t} ({clock(env)})  load {env.series.load[env.t].sum():.1f} MW  "
        f"lines out {int((~env.status).sum())}"
        + (f"  GAME OVER ({env.game_over})" if env.game_over else "")  # fmt: skip
    ]
    order = np.argsort(-np.where(env.status, env.rho, -1.0), kind="stable")[:worst]
    for k in order:
        if not env.status[k]:
            continue
        lines.append(
            f"  line {k:3d} {c.branch_from[k]:3d}->{c.branch_to[k]:<3d} rho {env.rho[k]:6.1%} "
            f"flow {env.flows[k]:8.1f} MW  overflow {env.overflow[k]}"
        )
    out = np.flatnonzero(~env.status)
    if len(out):
        lines.append("  out: " + ", ".join(f"{k} (cooldown {env.cooldown[k]})" for k in out))
    return "\n".join(lines) + "\n"


def rho_colour(rho: float) -> np.ndarray:
    """Green at 0, yellow at 0.75, red at 1 and above."""
    r = float(np.clip(rho / 0.75, 0.0, 1.0))
    g = float(np.clip((1.0 - rho) / 0.25, 0.0, 1.0)) if rho > 0.75 else 1.0
    return np.array([255 * r, 200 * g, 40], np.uint8)


def _positions(env: PowerGridEnv) -> np.ndarray:
    xy = env.case.bus_xy
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    unit = (xy - lo) / span
    pix = MARGIN + unit * (SIZE - 2 * MARGIN)
    pix[:, 1] = SIZE - pix[:, 1]  # y up
    return pix


def _segment(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour, width: int, dash=False):
    n = int(np.ceil(np.abs(b - a).max())) + 1
    t = np.linspace(0.0, 1.0, n)
    if dash:
        t = t[(np.arange(n) // 6) % 2 == 0]
    pts = a[None, :] + t[:, None] * (b - a)[None, :]
    for dx in range(-(width // 2), width - width // 2):
        for dy in range(-(width // 2), width - width // 2):
            x = np.clip(np.round(pts[:, 0]).astype(int) + dx, 0, SIZE - 1)
            y = np.clip(np.round(pts[:, 1]).astype(int) + dy, 0, SIZE - 1)
            img[y, x] = colour


def render_rgb(env: PowerGridEnv) -> np.ndarray:
    """``(SIZE, SIZE, 3)`` uint8: buses at the case's positions (blue when split), lines
    coloured by rho (green, yellow, red), dashed grey when out."""
    c = env.case
    img = np.empty((SIZE, SIZE, 3), np.uint8)
    img[:] = BACKGROUND
    pos = _positions(env)
    for k in range(c.n_branch):
        a, b = pos[c.branch_from[k]], pos[c.branch_to[k]]
        if env.status[k]:
            _segment(img, a, b, rho_colour(env.rho[k]), 3)
        else:
            _segment(img, a, b, OUT_OF_SERVICE, 2, dash=True)
    split = np.zeros(c.n_bus, bool)
    split[env.flow.end_bus[env.bars == 2]] = True
    radius = 5 if c.n_bus <= 30 else 3
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disc = xx**2 + yy**2 <= radius**2
    for s in range(c.n_bus):
        x, y = np.round(pos[s]).astype(int)
        ys = np.clip(y + yy[disc], 0, SIZE - 1)
        xs = np.clip(x + xx[disc], 0, SIZE - 1)
        img[ys, xs] = SPLIT_BUS if split[s] else BUS
    return img
