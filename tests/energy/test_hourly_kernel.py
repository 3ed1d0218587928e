"""close_hours: interpolation at hour boundaries, exact to the mWh."""

from hypothesis import given
from hypothesis import strategies as st

from energy.hourly import HOUR, Progress, close_hours

MIN = 60_000_000  # a minute in µs


def test_an_hour_is_closed_by_a_reading_at_its_end():
    readings = [(0, 0), (30 * MIN, 500), (60 * MIN, 1000)]

    hours, progress = close_hours(readings, Progress())

    assert hours == [(0, 1000)]
    assert progress == Progress(HOUR, 1000, HOUR)


def test_an_hour_without_a_reading_at_or_after_its_end_stays_open():
    hours, progress = close_hours([(0, 0), (59 * MIN, 590)], Progress())

    assert hours == [] and progress == Progress()


def test_boundaries_are_interpolated_between_the_readings_around_them():
    # 55 min -> 1100, 65 min -> 1300: 20 mWh a minute, 1200 at the hour.
    hours, _ = close_hours([(5 * MIN, 0), (55 * MIN, 1100), (65 * MIN, 1300)], Progress())

    assert hours == [(0, 1200)]  # the first hour starts at the first reading


def test_a_gap_is_apportioned_across_the_hours_it_spans():
    # 30 min -> 0 and 3 h 30 min -> 3000: 1000 a full hour, 500 on each half hour.
    hours, progress = close_hours([(30 * MIN, 0), (210 * MIN, 3000)], Progress())

    assert hours == [(0, 500), (HOUR, 1000), (2 * HOUR, 1000)]
    assert progress == Progress(3 * HOUR, 2500, 30 * MIN)


def test_rounding_down_never_loses_the_remainder():
    # 10 mWh over 3 hours: 3, 3, 4, and not 3 + 3 + 3.
    hours, _ = close_hours([(0, 0), (3 * HOUR, 10)], Progress())

    assert [v for _, v in hours] == [3, 3, 4]


def test_resuming_needs_only_the_readings_from_the_one_before_the_closed_boundary():
    readings = [(0, 0), (50 * MIN, 500), (70 * MIN, 800), (130 * MIN, 1400)]
    first, progress = close_hours(readings[:3], Progress())

    later = [r for r in readings if r[0] >= progress.readings_from]
    second, _ = close_hours(later, progress)

    assert first + second == close_hours(readings, Progress())[0]


readings_strategy = st.lists(
    st.tuples(st.integers(1, 5 * HOUR), st.integers(0, 10**12)), min_size=1, max_size=40
).map(
    lambda steps: [
        (sum(dt for dt, _ in steps[: i + 1]), sum(de for _, de in steps[: i + 1]))
        for i in range(len(steps))
    ]
)


@given(readings_strategy, st.integers(0, HOUR - 1))
def test_hours_add_up_to_the_energy_between_the_first_reading_and_the_last_boundary(
    readings, shift
):
    readings = [(t + shift, e) for t, e in readings]

    hours, progress = close_hours(readings, Progress())

    if hours:
        assert sum(v for _, v in hours) == progress.closed_energy - readings[0][1]
        assert all(v >= 0 for _, v in hours)
        assert [h for h, _ in hours] == [hours[0][0] + i * HOUR for i in range(len(hours))]
        # The last closed boundary is at or before the last reading.
        assert progress.closed_until <= readings[-1][0]
    if readings[-1][0] % HOUR == 0 and len(readings) > 1:
        # A last reading on the hour closes everything: exactly last minus first.
        assert sum(v for _, v in hours) == readings[-1][1] - readings[0][1]


@given(readings_strategy, st.lists(st.integers(1, 40), max_size=6))
def test_the_result_does_not_depend_on_how_the_readings_arrived(readings, cuts):
    once, _ = close_hours(readings, Progress())

    progress, pieces = Progress(), []
    for cut in sorted({min(c, len(readings)) for c in cuts} | {len(readings)}):
        available = readings[:cut]
        start = progress.readings_from
        window = available if start is None else [r for r in available if r[0] >= start]
        hours, progress = close_hours(window, progress)
        pieces += hours

    assert pieces == once
