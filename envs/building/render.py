"""Drawing the building: one line of text, or a strip chart in numpy (no plotting library).

The chart's upper panel holds the comfort band (shaded) and the indoor (red), envelope (brown)
and outdoor (blue) temperatures over the episode so far; the lower panel the heat pump's heat
(orange up for heating, blue down for cooling) and its electric power (black).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sige_rl.envs.building.env import BuildingHVACEnv

WIDTH, HEIGHT = 672, 320
TEMP_PANEL = (8, 216)  # rows of the temperature panel
POWER_PANEL = (228, 312)
BACKGROUND = (255, 255, 255)
BAND = (205, 235, 205)
INDOOR = (220, 40, 40)
ENVELOPE = (140, 90, 40)
OUTDOOR = (40, 90, 220)
HEATING = (240, 150, 40)
COOLING = (60, 150, 240)
POWER = (20, 20, 20)
AXIS = (160, 160, 160)


def render_ansi(env: BuildingHVACEnv) -> str:
    heat, power, cop = env._last
    t = min(env.t, env._rows - 1)
    mode = "heating" if heat > 0 else "cooling" if heat < 0 else "off"
    return (
        f"step {env.t}/{env.episode_steps} {env.clock()}  indoor {env.indoor:5.2f} C  "
        f"envelope {env.envelope:5.2f} C  outdoor {env._outdoor[t]:5.1f} C  band "
        f"{env._low[t]:.1f}-{env._high[t]:.1f} C  heat pump {mode} {abs(heat):.2f} kW "
        f"({power:.2f} kW electric, COP {cop:.2f})  price {env._price[t]:.3f} EUR/kWh"
    )


def _columns(n: int) -> np.ndarray:
    """x pixel of each of ``n`` recorded points, spread over the width."""
    return np.round(np.linspace(0, WIDTH - 1, max(n, 2))[:n]).astype(int)


def _scale(values: np.ndarray, lo: float, hi: float, panel: tuple[int, int]) -> np.ndarray:
    top, bottom = panel
    frac = (np.asarray(values) - lo) / max(hi - lo, 1e-9)
    return np.clip(np.round(bottom - frac * (bottom - top)), top, bottom).astype(int)


def _line(img: np.ndarray, x: np.ndarray, y: np.ndarray, colour: tuple[int, int, int]) -> None:
    """Join consecutive points with vertical runs (a strip chart's trace)."""
    for i in range(len(x)):
        y0 = y[i - 1] if i else y[i]
        lo, hi = min(y0, y[i]), max(y0, y[i])
        img[lo : hi + 1, x[i]] = colour
        if i:
            img[y[i], x[i - 1] : x[i] + 1] = colour


def render_rgb(env: BuildingHVACEnv) -> np.ndarray:
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[:] = BACKGROUND
    h = np.array(env.history) if env.history else np.zeros((0, 7))
    n = len(h)
    if n == 0:
        return img
    # fixed scales for the episode: the temperatures' range so far, padded; the capacity.
    temps = h[:, :5]
    lo, hi = float(np.floor(temps.min() - 1.0)), float(np.ceil(temps.max() + 1.0))
    x = _columns(n)
    band_lo, band_hi = _scale(h[:, 3], lo, hi, TEMP_PANEL), _scale(h[:, 4], lo, hi, TEMP_PANEL)
    for i in range(n):
        x1 = x[i + 1] if i + 1 < n else x[i] + 1
        img[band_hi[i] : band_lo[i] + 1, x[i] : x1] = BAND
    for column, colour in ((2, OUTDOOR), (1, ENVELOPE), (0, INDOOR)):
        _line(img, x, _scale(h[:, column], lo, hi, TEMP_PANEL), colour)
    p = env.params
    top = max(p.heat_max_kw, p.cool_max_kw, 1e-9)
    zero = _scale(0.0, -top, top, POWER_PANEL)
    img[zero, :] = AXIS
    heat = _scale(h[:, 5], -top, top, POWER_PANEL)
    for i in range(n):
        y = heat[i]
        if y < zero:
            img[y:zero, x[i]] = HEATING
        elif y > zero:
            img[zero + 1 : y + 1, x[i]] = COOLING
    _line(img, x, _scale(h[:, 6], -top, top, POWER_PANEL), POWER)
    img[TEMP_PANEL[1] + 5, :] = AXIS
    return img
