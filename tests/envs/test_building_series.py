"""The building env's exogenous series: seeded generation, its bounds and documented shapes,
the shipped sample week, and the CSV reader's errors."""

import io
from importlib import resources

import numpy as np
import pytest

from sige_rl.envs.building import series as S
from sige_rl.envs.building.series import (
    CLIMATES,
    COLUMNS,
    OFF_PEAK_EUR_KWH,
    PEAK_EUR_KWH,
    SAMPLE_DECIMALS,
    SEASONS,
    SHOULDER_EUR_KWH,
    STEPS_PER_DAY,
    Weather,
    generate,
    read_csv,
    sample_csv_path,
)

WEEK = 7 * STEPS_PER_DAY
CASES = [(c, s, b) for c in CLIMATES for s in SEASONS for b in ("house", "office")]


def arrays(w: Weather) -> list[np.ndarray]:
    return [getattr(w, name) for name in COLUMNS]


def test_the_same_seed_reproduces_the_series_and_another_seed_changes_it():
    a = generate("temperate", "winter", WEEK, np.random.default_rng(7))
    b = generate("temperate", "winter", WEEK, np.random.default_rng(7))
    c = generate("temperate", "winter", WEEK, np.random.default_rng(8))
    assert a.start_step == b.start_step
    for x, y in zip(arrays(a), arrays(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.outdoor_c, c.outdoor_c)
    assert not np.array_equal(a.solar_w_m2, c.solar_w_m2)
    # the day of the week is the generator's first draw, at midnight
    starts = {
        generate("cold", "summer", 10, np.random.default_rng(s)).start_step for s in range(40)
    }
    assert starts == {d * STEPS_PER_DAY for d in range(7)}
    assert a.start_step == int(np.random.default_rng(7).integers(7)) * STEPS_PER_DAY


@pytest.mark.parametrize(("climate", "season", "building"), CASES)
def test_shapes_and_bounds(climate, season, building):
    w = generate(climate, season, 2 * WEEK + 5, np.random.default_rng(3), building)
    p = CLIMATES[climate].season(season)
    assert len(w) == 2 * WEEK + 5
    for x in arrays(w):
        assert x.shape == (len(w),) and x.dtype == np.float64 and np.isfinite(x).all()
    hour = (w.step_of_week % STEPS_PER_DAY) / 4
    night = (hour <= p.sunrise_h) | (hour >= p.sunset_h)
    assert (w.solar_w_m2 >= 0).all() and (w.solar_w_m2 <= p.peak_w_m2 + 1e-9).all()
    assert (w.solar_w_m2[night] == 0).all() and (w.solar_w_m2[~night] > 0).all()
    assert ((w.occupancy >= 0) & (w.occupancy <= 1)).all()
    assert (w.price_eur_kwh > 0).all()
    levels = {OFF_PEAK_EUR_KWH, SHOULDER_EUR_KWH, PEAK_EUR_KWH}
    assert set(np.unique(w.price_eur_kwh).tolist()) == levels


def test_schedules_follow_the_documented_hours():
    def at(day: int, hour: float) -> int:  # day 0 = Monday
        return day * STEPS_PER_DAY + int(hour * 4)

    week = np.arange(WEEK)
    house, price = S.occupancy_shape(week, "house"), S.price_shape(week)
    office = S.occupancy_shape(week, "office")
    for day in range(7):
        weekday = day < 5
        assert house[at(day, 3)] == 1 and house[at(day, 21)] == 1
        assert house[at(day, 12)] == (0 if weekday else 1)
        assert office[at(day, 3)] == 0 and office[at(day, 21)] == 0
        assert office[at(day, 12)] == (1 if weekday else 0)
        assert price[at(day, 23)] == price[at(day, 3)] == OFF_PEAK_EUR_KWH
        assert price[at(day, 12)] == SHOULDER_EUR_KWH
        assert price[at(day, 18)] == (PEAK_EUR_KWH if weekday else SHOULDER_EUR_KWH)
    # one-hour ramps centred on 08:00 and 17:00 (house) / 18:00 (office)
    np.testing.assert_array_equal(house[at(0, 7.5) : at(0, 8.75)], [1, 0.75, 0.5, 0.25, 0])
    np.testing.assert_array_equal(house[at(0, 16.5) : at(0, 17.75)], [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(office[at(2, 17.5) : at(2, 18.75)], [1, 0.75, 0.5, 0.25, 0])


@pytest.mark.parametrize("season", SEASONS)
def test_daily_temperature_extremes_near_5_and_15_on_average(season):
    profiles = []
    for seed in range(10):
        w = generate("temperate", season, 2 * WEEK, np.random.default_rng(seed))
        profiles.append(w.outdoor_c.reshape(-1, STEPS_PER_DAY))
    mean_day = np.concatenate(profiles).mean(axis=0)
    hours = np.arange(STEPS_PER_DAY) / 4
    assert abs(hours[mean_day.argmin()] - 5.0) <= 1.5
    assert abs(hours[mean_day.argmax()] - 15.0) <= 1.5
    swing = CLIMATES["temperate"].season(season).swing_c
    assert mean_day.max() - mean_day.min() == pytest.approx(2 * swing, rel=0.3)
    # the deterministic shape itself: exactly -1 at 05:00, +1 at 15:00, mean 0
    shape = S.daily_temperature_shape(hours)
    assert shape[20] == -1 and shape[60] == 1 and abs(shape.mean()) < 1e-12


@pytest.mark.parametrize("climate", list(CLIMATES))
def test_winter_is_colder_and_darker_than_summer(climate):
    def mean(season: str, field: str) -> float:
        runs = [generate(climate, season, WEEK, np.random.default_rng(s)) for s in range(5)]
        return float(np.mean([getattr(w, field).mean() for w in runs]))

    assert mean("winter", "outdoor_c") + 5 < mean("summer", "outdoor_c")
    assert mean("winter", "solar_w_m2") < mean("summer", "solar_w_m2")


def test_unknown_names_list_the_allowed_ones_and_close_matches():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"climate 'temprate'.*temperate, cold, hot.*mean temp"):
        generate("temprate", "winter", 10, rng)
    with pytest.raises(ValueError, match=r"season 'sumer'.*winter, summer.*mean summer"):
        generate("hot", "sumer", 10, rng)
    with pytest.raises(ValueError, match=r"building 'ofice'.*house, office.*mean office"):
        generate("hot", "summer", 10, rng, building="ofice")
    with pytest.raises(ValueError, match="at least 1"):
        generate("hot", "summer", 0, rng)


def test_the_sample_week_is_the_documented_generate_call_rounded():
    path = resources.files("sige_rl.envs.building").joinpath("data", "sample_week.csv")
    assert path.is_file()
    w = read_csv(sample_csv_path())
    expected = generate("temperate", "winter", WEEK, np.random.default_rng(0))
    assert len(w) == WEEK and w.start_step == expected.start_step
    for name in COLUMNS:
        half = 0.5 * 10.0 ** -SAMPLE_DECIMALS[name] + 1e-9
        np.testing.assert_array_less(np.abs(getattr(w, name) - getattr(expected, name)), half)
    # a Weather's window keeps the step of the week
    part = w.window(100, 50)
    assert len(part) == 50 and part.start_step == (w.start_step + 100) % WEEK
    np.testing.assert_array_equal(part.outdoor_c, w.outdoor_c[100:150])


def test_csv_columns_in_any_order_extras_ignored_step_of_week_optional():
    text = "note,price_eur_kwh,occupancy,solar_w_m2,outdoor_c\nx,0.2,0.5,0,3.5\ny,0.3,1,120,4\n"
    w = read_csv(io.StringIO(text))
    assert w.start_step == 0 and len(w) == 2
    np.testing.assert_array_equal(w.outdoor_c, [3.5, 4.0])
    np.testing.assert_array_equal(w.price_eur_kwh, [0.2, 0.3])
    head = "step_of_week,outdoor_c,solar_w_m2,occupancy,price_eur_kwh\n"
    w = read_csv(io.StringIO(head + "671,1,0,1,0.2\n0,1,0,1,0.2\n"))
    assert w.start_step == 671 and w.step_of_week.tolist() == [671, 0]


HEAD = "outdoor_c,solar_w_m2,occupancy,price_eur_kwh\n"
GOOD = "1.0,0,1,0.2\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (HEAD, "header but no rows"),
        ("outdoor_c,solar_w_m2,price_eur_kwh\n1,0,0.2\n", "lacks column.*occupancy"),
        (HEAD + GOOD + "1.0,0,1\n", "row 2: column 'price_eur_kwh' is missing"),
        (HEAD + GOOD + "warm,0,1,0.2\n", "row 2, column 'outdoor_c': 'warm' is not a number"),
        (HEAD + "nan,0,1,0.2\n", "row 1, column 'outdoor_c'.*not finite"),
        (HEAD + GOOD + GOOD + "1,inf,1,0.2\n", "row 3, column 'solar_w_m2'.*not finite"),
        (HEAD + GOOD + "1,-5,1,0.2\n", "row 2, column 'solar_w_m2'.*negative"),
        (HEAD + GOOD + "1,0,1.2,0.2\n", r"row 2, column 'occupancy'.*outside \[0, 1\]"),
        (HEAD + "1,0,-0.1,0.2\n", r"row 1, column 'occupancy'.*outside \[0, 1\]"),
        (HEAD + GOOD + "1,0,1,0\n", "row 2, column 'price_eur_kwh'.*not a positive price"),
        (
            "step_of_week," + HEAD + "5," + GOOD + "7," + GOOD,
            "row 2, column 'step_of_week': 7 does not follow",
        ),
        ("step_of_week," + HEAD + "672," + GOOD, "row 1, column 'step_of_week'.*whole step"),
    ],
)
def test_csv_errors_name_the_row_and_column(text, message):
    with pytest.raises(ValueError, match=message):
        read_csv(io.StringIO(text))
