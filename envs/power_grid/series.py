"""The exogenous side of a power-grid episode: loads, renewable availability and the
generators' market schedule, one row per five-minute step.

- Loads follow a daily shape (night trough at 60% of the case's load, a morning and a higher
  evening peak at 100%) times a weekly one (weekends at 85%, with three-hour transitions),
  times AR(1) noise of 3% per load.
- Solar follows a clear-sky bell from 6:00 to 18:00 times a cloud factor; wind is an AR(1)
  process around 35% of capacity. Both are availabilities: what the units could produce.
- Generators follow a merit-order dispatch with ramp limits, computed step by step
  (:class:`Dispatcher`); the slack unit closes the balance.

Episodes start at midnight on a day of the week drawn from the seed; ``reset(seed=)`` therefore
reproduces the whole series. Users can pass their own loads and renewables as CSV
(:func:`read_csv`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import IO

import numpy as np

from sige_rl.envs.csv_table import read_table
from sige_rl.envs.power_grid.case import DISPATCHABLE, SOLAR, WIND, Case

STEPS_PER_DAY = 288  # five-minute steps
LOAD_NOISE = 0.03
LOAD_NOISE_PERSISTENCE = 0.95  # AR(1) coefficient per step
WIND_MEAN, WIND_SPREAD, WIND_PERSISTENCE = 0.35, 0.25, 0.995
CLOUD_PERSISTENCE = 0.98


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """``load`` (steps, n_load) MW demanded; ``available`` (steps, n_gen) MW the renewable units
    could produce (0 for dispatchable ones); ``start_step`` the step of the week (0 = Monday
    00:00) of row 0."""

    load: np.ndarray
    available: np.ndarray
    start_step: int = 0

    def __len__(self) -> int:
        return len(self.load)


def daily_load_shape(step_of_day: np.ndarray) -> np.ndarray:
    """Fraction of peak load at each step of the day: 0.6 at 4:00, 0.9 at 9:00, 1.0 at 19:00."""
    hour = np.asarray(step_of_day) * 24.0 / STEPS_PER_DAY

    def bump(centre: float) -> np.ndarray:  # hours measured around the clock, so it wraps
        d = (hour - centre + 12.0) % 24.0 - 12.0
        return np.exp(-0.5 * (d / 2.5) ** 2)

    morning, evening = bump(9.0), bump(19.0)
    base = 0.6 + 0.3 * morning + 0.4 * evening
    return np.minimum(base, 1.0)


def weekly_load_shape(step_of_week: np.ndarray) -> np.ndarray:
    """Fraction of the weekday load: 1 from Monday to Friday, 0.85 at the weekend, with
    three-hour linear transitions centred on Saturday and Monday midnight (a sudden 15% step
    would outrun every generator's ramp)."""
    # hours since Monday noon, so that both transitions fall inside one week without wrapping
    h = (np.asarray(step_of_week) * 24.0 / STEPS_PER_DAY - 12.0) % (7 * 24.0)
    into = np.clip((h - 106.5) / 3.0, 0.0, 1.0)  # Friday 22:30 to Saturday 01:30
    out = np.clip((h - 154.5) / 3.0, 0.0, 1.0)  # Sunday 22:30 to Monday 01:30
    return 1.0 - 0.15 * (into - out)


def solar_shape(step_of_day: np.ndarray) -> np.ndarray:
    """Clear-sky solar output, fraction of capacity: 0 outside 6:00-18:00, 1 at noon."""
    hour = np.asarray(step_of_day) * 24.0 / STEPS_PER_DAY
    return np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None) ** 1.5


def _ar1(rng: np.random.Generator, steps: int, width: int, rho: float) -> np.ndarray:
    """Stationary AR(1) noise with unit variance, (steps, width): ``x[t] = rho x[t-1] + e[t]``,
    computed in closed form, ``x[t] = rho^t sum_{k<=t} rho^-k e[k]``, over blocks short enough
    that ``rho^-k`` stays below 1e260 (a week in one block). Each rounding error is relative to
    the partial sum then, and scaled back by ``rho^t``: it stays at machine precision."""
    out = np.empty((steps, width))
    shocks = rng.standard_normal((steps, width)) * np.sqrt(1.0 - rho * rho)
    shocks[0] = rng.standard_normal(width)  # the stationary start
    block = max(1, min(steps, int(600 / np.log(1.0 / rho))))
    up, down = _powers(rho, block)
    carry = np.zeros(width)
    for start in range(0, steps, block):
        e = shocks[start : start + block]
        n = len(e)
        x = up[:n] * (rho * carry + np.cumsum(down[:n] * e, axis=0))
        out[start : start + n] = x
        carry = x[-1]
    return out


@functools.lru_cache(maxsize=16)
def _powers(rho: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(n)[:, None]
    return rho**k, rho ** (-k)


@functools.lru_cache(maxsize=1)
def _week_shapes() -> tuple[np.ndarray, np.ndarray]:
    """Load and clear-sky solar shapes for every step of the week (Monday 00:00 first)."""
    week = np.arange(7 * STEPS_PER_DAY)
    day = week % STEPS_PER_DAY
    return daily_load_shape(day) * weekly_load_shape(week), solar_shape(day)


def default_series(case: Case, steps: int, rng: np.random.Generator) -> Series:
    """``steps`` steps of the default profiles, drawn from ``rng`` (the episode's generator)."""
    start = int(rng.integers(7)) * STEPS_PER_DAY
    week_step = (start + np.arange(steps)) % (7 * STEPS_PER_DAY)
    load_shape, sun = _week_shapes()
    shape = load_shape[week_step]
    noise = 1.0 + LOAD_NOISE * _ar1(rng, steps, case.n_load, LOAD_NOISE_PERSISTENCE)
    load = case.load_p_mw[None, :] * shape[:, None] * noise
    available = np.zeros((steps, case.n_gen))
    solar = np.flatnonzero(case.gen_kind == SOLAR)
    wind = np.flatnonzero(case.gen_kind == WIND)
    clouds = np.clip(0.8 + 0.2 * _ar1(rng, steps, len(solar), CLOUD_PERSISTENCE), 0.2, 1.0)
    available[:, solar] = case.gen_pmax[solar] * sun[week_step][:, None] * clouds
    gust = WIND_MEAN + WIND_SPREAD * _ar1(rng, steps, len(wind), WIND_PERSISTENCE)
    available[:, wind] = case.gen_pmax[wind] * np.clip(gust, 0.0, 1.0)
    return Series(np.maximum(load, 0.0), available, start)


class Dispatcher:
    """The market: a merit-order dispatch with ramp limits, one grid and one step at a time
    (``PowerGridVectorEnv`` does the same arithmetic on rows of grids).

    Renewables produce what is available unless that exceeds demand less every dispatchable
    minimum (then they are curtailed in proportion). Dispatchable units fill the rest in order of
    cost, each within ``[max(pmin, p - ramp), min(pmax, p + ramp)]`` of its previous output ``p``
    (on the first step, anywhere in its limits). The slack unit sits in the merit order at its
    own cost with no ramp limit, and then closes the balance exactly: when demand leaves what
    the others can reach, the slack alone follows, and may leave its limits (the environment
    calls that a game over).
    """

    def __init__(self, case: Case):
        self.case = case
        disp = np.flatnonzero(case.gen_kind == DISPATCHABLE)
        self.merit = disp[np.argsort(case.gen_cost[disp], kind="stable")]  # slack included
        self.renewable = np.flatnonzero(case.gen_kind != DISPATCHABLE)
        ramp = case.gen_ramp.copy()
        ramp[case.slack] = np.inf
        self.ramp = ramp
        self.shunt = float(case.bus_gs_mw.sum())
        # the same arrays as Python lists: step_one works in plain floats
        m = self.merit
        self._m = m.tolist()
        self._pmin, self._pmax = case.gen_pmin[m].tolist(), case.gen_pmax[m].tolist()
        self._ramp = ramp[m].tolist()
        self._units = list(zip(self._m, self._pmin, self._pmax, self._ramp, strict=True))
        self._renew = self.renewable.tolist()

    def step_one(self, load: float, renew: list[float], prev: np.ndarray | None = None):
        """Outputs ``(n_gen,)`` from the total ``load``, the renewable units' availabilities
        ``renew`` (in ``self.renewable`` order) and the previous outputs ``prev`` (None: the
        first step). In plain Python floats: a handful of units costs a few microseconds this way
        against about 25 in numpy calls."""
        demand = load + self.shunt
        if prev is None:
            lo, hi = self._pmin, self._pmax
        else:  # the windows: max(pmin, p - ramp) and max(min(pmax, p + ramp), low)
            pv = prev.tolist()
            lo, hi = [], []
            for g, a, b, r in self._units:
                low, high = pv[g] - r, pv[g] + r
                if low < a:
                    low = a
                if high > b:
                    high = b
                if high < low:
                    high = low
                lo.append(low)
                hi.append(high)
        room = demand - sum(lo)
        total = sum(renew)
        if total > room and total > 0:
            scale = max(room, 0.0) / total
            renew = [x * scale for x in renew]
        rest = room - sum(renew)
        out = [0.0] * self.case.n_gen
        for g, low, high in zip(
            self._m, lo, hi, strict=True
        ):  # add = min(max(rest, 0), high - low)
            if rest > 0.0:
                add = high - low
                if add > rest:
                    add = rest
                out[g] = low + add
                rest -= add
            else:
                out[g] = low
        for g, x in zip(self._renew, renew, strict=True):
            out[g] = x
        slack = self.case.slack
        out[slack] = 0.0
        out[slack] = demand - sum(out)
        return np.array(out)


def _mw_check(name: str, v: float) -> str | None:
    return None if np.isfinite(v) and v >= 0 else "is not a finite value >= 0 MW"


def read_csv(source: str | os.PathLike | IO[str], case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Loads and renewable availabilities from CSV: a header, then one row per step.

    Columns: ``load_<i>`` for every load ``i`` of the case and ``renewable_<g>`` for every solar
    or wind unit ``g``, in MW, any order, other columns ignored. Returns ``(load, available)``
    shaped like :class:`Series`' fields. Raises ``ValueError`` naming the row (1 = the first row
    after the header) and column of anything missing, non-numeric, negative or not finite.
    """
    renew = np.flatnonzero(case.gen_kind != DISPATCHABLE)
    needed = [f"load_{i}" for i in range(case.n_load)] + [f"renewable_{g}" for g in renew]
    hint = (
        f"case {case.name!r} needs load_0..load_{case.n_load - 1} and renewable_<g> for units "
        f"{renew.tolist()}"
    )
    data, _, _ = read_table(source, needed, "series", _mw_check, hint)
    load = data[:, : case.n_load]
    available = np.zeros((len(data), case.n_gen))
    available[:, renew] = data[:, case.n_load :]
    return load, available
