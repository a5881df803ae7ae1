"""The exogenous side of a building episode: outdoor temperature, solar irradiance, occupancy
and the electricity price, one row per fifteen-minute step.

Row ``t`` holds the values at the start of its step, hour of day ``h = (t mod 96) / 4``. Hours
are local *solar* time (the sun is highest at 12:00); time zones and daylight saving are
ignored, and the occupancy and tariff schedules read the same clock. ``generate`` draws, for a
climate's season (:data:`CLIMATES`, :class:`SeasonClimate`):

- outdoor air, deg C: ``mean_c + swing_c * daily(h) + noise_c * x[t]``, where ``daily`` is the
  two-half-cosine day: ``-cos(pi (h - 5) / 10)`` from 05:00 to 15:00 (minimum -1 at 05:00,
  maximum +1 at 15:00) and ``cos(pi ((h - 15) mod 24) / 14)`` for the other 14 hours. Both
  halves average zero, so ``mean_c`` is the daily mean. ``x`` is stationary unit-variance AR(1)
  noise with a two-day correlation time, drawn every three hours and interpolated linearly
  between (``x[k] = rho x[k-1] + sqrt(1 - rho^2) e[k]``, ``rho = exp(-3 / 48)``): warm and cold
  spells that last days, without a quarter-hourly jitter that real air does not have.
- global horizontal irradiance, W/m2: ``peak_w_m2 * sin(pi (h - sunrise_h) /
  (sunset_h - sunrise_h))^1.5`` between sunrise and sunset, 0 otherwise (the exponent stands in
  for the thicker air at low sun), times a cloud factor
  ``clip(cloud_mean + cloud_sd * y[t], 0.1, 1)``, ``y`` another AR(1) with a four-hour
  correlation time.
- occupancy, fraction present, with one-hour linear ramps centred on the hours named:
  ``"house"``: 1, except Monday to Friday 08:00-17:00, when it is 0 (home at weekends);
  ``"office"``: 1 Monday to Friday 08:00-18:00, 0 at night and at weekends.
- price, EUR/kWh, a time-of-use tariff: off-peak :data:`OFF_PEAK_EUR_KWH` from 22:00 to 06:00
  every day, peak :data:`PEAK_EUR_KWH` from 17:00 to 20:00 Monday to Friday, shoulder
  :data:`SHOULDER_EUR_KWH` otherwise. The levels are illustrative all-in household prices
  (energy, network, taxes) of the order European households pay, shaped like French "heures
  creuses" and Spanish 2.0TD tariffs; they are no particular supplier's.

Episodes start at midnight on a day of the week drawn first from the generator
(``int(rng.integers(7))``), then the temperature noise, then the clouds: the same generator state
reproduces the whole series. Users can pass their own series as CSV (:func:`read_csv`).

The shipped sample ``data/sample_week.csv`` (:func:`sample_csv_path`) is
``generate("temperate", "winter", 672, np.random.default_rng(0))`` (which starts on a Saturday),
written with :data:`SAMPLE_DECIMALS` decimals per column, ``-0.00`` written ``0.00``, after a
``step_of_week`` column; ``tests/envs/test_building_series.py`` checks that it still matches.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
from importlib import resources
from typing import IO, TYPE_CHECKING

import numpy as np

from sige_rl.envs.csv_table import read_table

if TYPE_CHECKING:  # importlib.resources.abc is Python 3.11+
    from importlib.abc import Traversable

STEP_HOURS = 0.25
STEPS_PER_DAY = 96  # fifteen-minute steps
STEPS_PER_WEEK = 7 * STEPS_PER_DAY
SEASONS = ("winter", "summer")
BUILDINGS = ("house", "office")

TEMPERATURE_MIN_HOUR, TEMPERATURE_MAX_HOUR = 5.0, 15.0
TEMPERATURE_NOISE_HOURS = 48.0  # correlation time of the weather noise
TEMPERATURE_KNOT_STEPS = 12  # the noise is drawn every three hours, linear between
CLOUD_HOURS = 4.0  # correlation time of the cloud factor
CLOUD_MIN, CLOUD_MAX = 0.1, 1.0
SOLAR_EXPONENT = 1.5
OCCUPANCY_RAMP_HOURS = 1.0

OFF_PEAK_EUR_KWH = 0.18  # 22:00-06:00 every day
SHOULDER_EUR_KWH = 0.26  # the rest
PEAK_EUR_KWH = 0.34  # 17:00-20:00 Monday to Friday
OFF_PEAK_HOURS = (22.0, 6.0)
PEAK_HOURS = (17.0, 20.0)

COLUMNS = ("outdoor_c", "solar_w_m2", "occupancy", "price_eur_kwh")
SAMPLE_DECIMALS = {"outdoor_c": 2, "solar_w_m2": 2, "occupancy": 2, "price_eur_kwh": 4}


@dataclasses.dataclass(frozen=True)
class SeasonClimate:
    """One season of a climate, for a representative month (January, July).

    ``mean_c``: daily mean outdoor temperature, deg C. ``swing_c``: the daily amplitude, deg C
    (the 15:00 maximum is ``mean_c + swing_c``, the 05:00 minimum ``mean_c - swing_c``).
    ``noise_c``: standard deviation of the multi-day weather noise, deg C. ``peak_w_m2``:
    clear-sky global horizontal irradiance at solar noon (Haurwitz's model,
    ``1098 cos z exp(-0.057 / cos z)``, at the month's noon zenith angle ``z``).
    ``sunrise_h``, ``sunset_h``: solar hours (sunrise equation, 0.833 deg below the horizon).
    ``cloud_mean``, ``cloud_sd``: centre and spread of the cloud factor (the fraction of the
    clear-sky irradiance that gets through; 1 = clear sky) before it is clipped to [0.1, 1]:
    roughly the month's measured irradiation over its clear-sky one.
    """

    mean_c: float
    swing_c: float
    noise_c: float
    peak_w_m2: float
    sunrise_h: float
    sunset_h: float
    cloud_mean: float
    cloud_sd: float

    @property
    def day_length_h(self) -> float:
        return self.sunset_h - self.sunrise_h


@dataclasses.dataclass(frozen=True)
class Climate:
    """A place's ``winter`` and ``summer`` (:class:`SeasonClimate`). The temperatures are
    rounded monthly normals of the reference city (``place``, at ``latitude`` deg N); the sun's
    figures follow from the latitude; the clouds are rounded estimates. Illustrative, not a
    weather file: for measured series, use :func:`read_csv`."""

    name: str
    place: str
    latitude: float
    winter: SeasonClimate
    summer: SeasonClimate

    def season(self, season: str) -> SeasonClimate:
        return getattr(self, _check(season, SEASONS, "season"))


CLIMATES: dict[str, Climate] = {
    "temperate": Climate(
        "temperate", "Strasbourg (Central Europe)", 48.6,
        winter=SeasonClimate(mean_c=1.5, swing_c=3.0, noise_c=3.0, peak_w_m2=320.0,
                             sunrise_h=7.65, sunset_h=16.35, cloud_mean=0.5, cloud_sd=0.3),
        summer=SeasonClimate(mean_c=20.0, swing_c=5.5, noise_c=2.5, peak_w_m2=915.0,
                             sunrise_h=4.15, sunset_h=19.85, cloud_mean=0.75, cloud_sd=0.25),
    ),
    "cold": Climate(
        "cold", "Helsinki (Nordic)", 60.2,
        winter=SeasonClimate(mean_c=-4.0, swing_c=2.0, noise_c=5.0, peak_w_m2=110.0,
                             sunrise_h=8.7, sunset_h=15.3, cloud_mean=0.5, cloud_sd=0.3),
        summer=SeasonClimate(mean_c=17.5, swing_c=4.5, noise_c=2.5, peak_w_m2=800.0,
                             sunrise_h=2.95, sunset_h=21.05, cloud_mean=0.75, cloud_sd=0.25),
    ),
    "hot": Climate(
        "hot", "Seville (Mediterranean)", 37.4,
        winter=SeasonClimate(mean_c=11.0, swing_c=5.5, noise_c=2.0, peak_w_m2=510.0,
                             sunrise_h=7.1, sunset_h=16.9, cloud_mean=0.8, cloud_sd=0.25),
        summer=SeasonClimate(mean_c=28.0, swing_c=8.0, noise_c=2.0, peak_w_m2=995.0,
                             sunrise_h=4.75, sunset_h=19.25, cloud_mean=0.95, cloud_sd=0.1),
    ),
}  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class Weather:
    """One episode's exogenous inputs, one row per fifteen-minute step: ``outdoor_c`` (deg C),
    ``solar_w_m2`` (global horizontal irradiance, >= 0), ``occupancy`` (fraction present, 0..1),
    ``price_eur_kwh`` (> 0), all ``(steps,)`` float64; ``start_step`` the step of the week
    (0 = Monday 00:00) of row 0."""

    outdoor_c: np.ndarray
    solar_w_m2: np.ndarray
    occupancy: np.ndarray
    price_eur_kwh: np.ndarray
    start_step: int = 0

    def __post_init__(self):
        n = len(self.outdoor_c)
        for name in COLUMNS:
            a = getattr(self, name)
            if np.ndim(a) != 1 or len(a) != n:
                raise ValueError(
                    f"Weather.{name} must be 1-D with {n} rows like outdoor_c, "
                    f"got shape {np.shape(a)}"
                )
        if not 0 <= self.start_step < STEPS_PER_WEEK:
            raise ValueError(f"start_step must be in [0, {STEPS_PER_WEEK}), got {self.start_step}")

    def __len__(self) -> int:
        return len(self.outdoor_c)

    def window(self, start: int, steps: int | None = None) -> Weather:
        """Rows ``start`` to ``start + steps`` (to the end if None), with their step of week."""
        end = None if steps is None else start + steps
        return Weather(
            *(getattr(self, name)[start:end] for name in COLUMNS),
            start_step=(self.start_step + start) % STEPS_PER_WEEK,
        )

    def clock(self, row: int) -> str:
        """The day and time of ``row``, e.g. ``"Mon 08:15"``."""
        step = (self.start_step + row) % STEPS_PER_WEEK
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[step // STEPS_PER_DAY]
        minutes = (step % STEPS_PER_DAY) * 15
        return f"{day} {minutes // 60:02d}:{minutes % 60:02d}"

    @property
    def step_of_week(self) -> np.ndarray:
        """The step of the week (0 = Monday 00:00) of every row."""
        return (self.start_step + np.arange(len(self))) % STEPS_PER_WEEK


def _check(name: str, allowed: tuple[str, ...] | list[str], what: str) -> str:
    if name in allowed:
        return name
    close = difflib.get_close_matches(str(name), allowed, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown {what} {name!r}: choose from {', '.join(allowed)}{hint}")


def daily_temperature_shape(hour: np.ndarray) -> np.ndarray:
    """The day's temperature in units of the swing: -1 at 05:00, +1 at 15:00, mean 0; a
    half-cosine rising over the ten hours between, another falling over the other fourteen."""
    h = np.asarray(hour, dtype=np.float64) % 24.0
    lo, hi = TEMPERATURE_MIN_HOUR, TEMPERATURE_MAX_HOUR
    rising = -np.cos(np.pi * (h - lo) / (hi - lo))
    falling = np.cos(np.pi * ((h - hi) % 24.0) / (24.0 - (hi - lo)))
    return np.where((h >= lo) & (h < hi), rising, falling)


def clear_sky_shape(hour: np.ndarray, sunrise_h: float, sunset_h: float) -> np.ndarray:
    """Clear-sky irradiance, fraction of the noon peak: 0 outside sunrise-sunset, 1 midway."""
    h = np.asarray(hour, dtype=np.float64) % 24.0
    day = (h > sunrise_h) & (h < sunset_h)
    phase = np.where(day, (h - sunrise_h) / (sunset_h - sunrise_h), 0.0)
    return np.where(day, np.sin(np.pi * phase) ** SOLAR_EXPONENT, 0.0)


def _ramp(hour: np.ndarray, centre: float) -> np.ndarray:
    """0 before ``centre`` less half a ramp, 1 after it plus half, linear between."""
    return np.clip((hour - centre) / OCCUPANCY_RAMP_HOURS + 0.5, 0.0, 1.0)


def occupancy_shape(step_of_week: np.ndarray, building: str = "house") -> np.ndarray:
    """Fraction of the occupants present at each step of the week (0 = Monday 00:00)."""
    _check(building, BUILDINGS, "building")
    s = np.asarray(step_of_week) % STEPS_PER_WEEK
    hour = (s % STEPS_PER_DAY) * STEP_HOURS
    weekday = s // STEPS_PER_DAY < 5
    if building == "house":
        away = _ramp(hour, 8.0) - _ramp(hour, 17.0)
        return np.where(weekday, 1.0 - away, 1.0)
    return np.where(weekday, _ramp(hour, 8.0) - _ramp(hour, 18.0), 0.0)


def price_shape(step_of_week: np.ndarray) -> np.ndarray:
    """The time-of-use tariff, EUR/kWh, at each step of the week (0 = Monday 00:00)."""
    s = np.asarray(step_of_week) % STEPS_PER_WEEK
    hour = (s % STEPS_PER_DAY) * STEP_HOURS
    weekday = s // STEPS_PER_DAY < 5
    off = (hour >= OFF_PEAK_HOURS[0]) | (hour < OFF_PEAK_HOURS[1])
    peak = weekday & (hour >= PEAK_HOURS[0]) & (hour < PEAK_HOURS[1])
    return np.where(off, OFF_PEAK_EUR_KWH, np.where(peak, PEAK_EUR_KWH, SHOULDER_EUR_KWH))


@functools.lru_cache(maxsize=1)
def _day_temperature() -> np.ndarray:
    return daily_temperature_shape(np.arange(STEPS_PER_DAY) * STEP_HOURS)


@functools.lru_cache(maxsize=16)
def _day_sun(sunrise_h: float, sunset_h: float) -> np.ndarray:
    return clear_sky_shape(np.arange(STEPS_PER_DAY) * STEP_HOURS, sunrise_h, sunset_h)


@functools.lru_cache(maxsize=4)
def week_schedules(building: str) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy and price for every step of the week (Monday 00:00 first)."""
    week = np.arange(STEPS_PER_WEEK)
    return occupancy_shape(week, building), price_shape(week)


def _ar1(shocks: np.ndarray, rho: float) -> np.ndarray:
    """Stationary AR(1) noise with unit variance from unit normal ``shocks`` (k, steps), one
    series a row: ``x[t] = rho x[t-1] + sqrt(1 - rho^2) e[t]``, ``x[0] = e[0]``, in closed form,
    ``x[t] = rho^t sum_{k<=t} rho^-k e[k]``, over blocks short enough that ``rho^-k`` stays below
    1e260 (months in one block at these persistences), so that each rounding error stays
    relative to the partial sum and is scaled back by ``rho^t``. ``cumsum`` runs left to right
    along a row, so a row's result does not depend on the other rows. ``shocks`` is scaled in
    place."""
    steps = shocks.shape[1]
    out = np.empty(shocks.shape)
    shocks[:, 1:] *= np.sqrt(1.0 - rho * rho)  # shocks[:, 0] unscaled: the stationary start
    block = max(1, min(steps, int(600 / np.log(1.0 / rho))))
    up, down = _powers(rho, block)
    carry = np.zeros((len(shocks), 1))
    for start in range(0, steps, block):
        e = shocks[:, start : start + block]
        n = e.shape[1]
        x = up[:n] * (rho * carry + np.cumsum(down[:n] * e, axis=1))
        out[:, start : start + n] = x
        carry = x[:, -1:]
    return out


@functools.lru_cache(maxsize=16)
def _powers(rho: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(n)
    return rho**k, rho ** (-k)


_TEMPERATURE_RHO = float(np.exp(-STEP_HOURS * TEMPERATURE_KNOT_STEPS / TEMPERATURE_NOISE_HOURS))
_CLOUD_RHO = float(np.exp(-STEP_HOURS / CLOUD_HOURS))


def generate(
    climate: str | Climate,
    season: str,
    steps: int,
    rng: np.random.Generator,
    building: str = "house",
) -> Weather:
    """``steps`` fifteen-minute steps of weather, occupancy and price, drawn from ``rng`` (the
    episode's generator) as the module docstring describes. ``climate``: a name in
    :data:`CLIMATES` or a :class:`Climate` of one's own; ``season``: one of :data:`SEASONS`;
    ``building``: one of :data:`BUILDINGS`."""
    params = season_climate(climate, season)
    _check(building, BUILDINGS, "building")
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    start = int(rng.integers(7)) * STEPS_PER_DAY
    knots = rng.standard_normal((1, knot_count(steps)))
    clouds = rng.standard_normal((1, steps))
    outdoor, solar = weather_rows(params, knots, clouds)
    week_step = (start + np.arange(steps)) % STEPS_PER_WEEK
    occupancy, price = week_schedules(building)
    return Weather(outdoor[0], solar[0], occupancy[week_step], price[week_step], start)


def season_climate(climate: str | Climate, season: str) -> SeasonClimate:
    """A climate's season: ``climate`` a name in :data:`CLIMATES` or a :class:`Climate`."""
    if not isinstance(climate, Climate):
        climate = CLIMATES[_check(climate, list(CLIMATES), "climate")]
    return climate.season(season)


def knot_count(steps: int) -> int:
    """How many three-hourly temperature knots ``steps`` rows need."""
    return steps // TEMPERATURE_KNOT_STEPS + 2


def weather_rows(
    params: SeasonClimate, knot_shocks: np.ndarray, cloud_shocks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Outdoor temperature (deg C) and irradiance (W/m2), ``(k, steps)`` each, from the unit
    normal shocks of ``k`` episodes that start at midnight: ``knot_shocks`` ``(k,
    knot_count(steps))`` for the temperature noise, ``cloud_shocks`` ``(k, steps)`` for the
    clouds (both scaled in place). :func:`generate` draws them from one episode's generator;
    a batched env draws each row from its own and computes all rows at once, equal bit for bit.
    """
    k, steps = cloud_shocks.shape
    day_step = np.arange(steps) % STEPS_PER_DAY
    knots = _ar1(knot_shocks, _TEMPERATURE_RHO)
    x, xp = np.arange(steps) / TEMPERATURE_KNOT_STEPS, np.arange(knots.shape[1])
    noise = np.empty((k, steps))
    for j in range(k):  # np.interp is 1-D; a row at a time
        noise[j] = np.interp(x, xp, knots[j])
    outdoor = params.mean_c + params.swing_c * _day_temperature()[day_step] + params.noise_c * noise
    clouds = _ar1(cloud_shocks, _CLOUD_RHO)
    clouds = np.clip(params.cloud_mean + params.cloud_sd * clouds, CLOUD_MIN, CLOUD_MAX)
    solar = params.peak_w_m2 * _day_sun(params.sunrise_h, params.sunset_h)[day_step] * clouds
    return outdoor, solar


def sample_csv_path() -> Traversable:
    """The shipped sample week (temperate winter, house), for :func:`read_csv`."""
    return resources.files("sige_rl.envs.building").joinpath("data", "sample_week.csv")


def read_csv(source: str | os.PathLike | IO[str] | Traversable) -> Weather:
    """A :class:`Weather` from CSV: a header, then one row per fifteen-minute step.

    Columns (any order, other columns ignored): ``outdoor_c`` (deg C), ``solar_w_m2`` (>= 0),
    ``occupancy`` (0 to 1), ``price_eur_kwh`` (> 0); optionally ``step_of_week``, the step of
    the week (0 = Monday 00:00) of each row, which must count up by one (wrapping at 672) and
    sets ``start_step`` (0 without it). ``source``: a path, a resources Traversable (such as
    :func:`sample_csv_path`) or an open text file. Raises ``ValueError`` naming the
    row (1 = the first row after the header) and column of anything missing, non-numeric, not
    finite or out of range, and for an empty or header-only file.
    """
    hint = f"it needs {', '.join(COLUMNS)} (any order; step_of_week optional)"
    data, names, rows = read_table(
        source, COLUMNS, "weather", _out_of_range, hint, optional=("step_of_week",)
    )
    start = 0
    if len(names) > len(COLUMNS):
        steps = data[:, -1]
        start = int(steps[0])
        expected = (start + np.arange(len(steps))) % STEPS_PER_WEEK
        bad = np.flatnonzero(steps != expected)
        if len(bad):
            r, got = rows[bad[0]], int(steps[bad[0]])
            raise ValueError(
                f"weather CSV row {r}, column 'step_of_week': {got} does not follow the row "
                f"before (expected {int(expected[bad[0]])}: one row per fifteen-minute step)"
            )
    return Weather(*(data[:, i].copy() for i in range(len(COLUMNS))), start_step=start)


def _out_of_range(name: str, v: float) -> str | None:
    if not np.isfinite(v):
        return "is not finite"
    if name == "solar_w_m2" and v < 0:
        return "is negative: irradiance must be >= 0 W/m2"
    if name == "occupancy" and not 0.0 <= v <= 1.0:
        return "is outside [0, 1]: occupancy is the fraction of occupants present"
    if name == "price_eur_kwh" and v <= 0:
        return "is not a positive price in EUR/kWh"
    if name == "step_of_week" and (not v.is_integer() or not 0 <= v < STEPS_PER_WEEK):
        return f"is not a whole step of the week in [0, {STEPS_PER_WEEK})"
    return None
