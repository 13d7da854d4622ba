"""Business-time arithmetic at the edges: nights, weekends, holidays, split days, DST."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.business_time import (
    SEARCH_LIMIT_DAYS,
    Schedule,
    add_business_time,
    business_time_between,
)

WAW = ZoneInfo("Europe/Warsaw")
H = timedelta(hours=1)
OFFICE = ((time(8), time(16)),)
SPLIT = ((time(8), time(12)), (time(13), time(17)))


def office(**kwargs) -> Schedule:
    """Mon-Fri 08:00-16:00 Warsaw, Polish public holidays."""
    defaults = {
        "time_zone": "Europe/Warsaw",
        "weekly": (OFFICE,) * 5 + ((), ()),
        "holiday_country": "PL",
    }
    return Schedule(**{**defaults, **kwargs})


def waw(*args) -> datetime:
    return datetime(*args, tzinfo=WAW)


def test_within_one_day():
    assert add_business_time(office(), waw(2026, 12, 1, 9), 3 * H) == waw(2026, 12, 1, 12)
    assert business_time_between(office(), waw(2026, 12, 1, 9), waw(2026, 12, 1, 12)) == 3 * H


def test_across_the_night():
    # Tuesday 15:00 + 2 h: one hour today, one tomorrow from 08:00.
    assert add_business_time(office(), waw(2026, 12, 1, 15), 2 * H) == waw(2026, 12, 2, 9)
    assert business_time_between(office(), waw(2026, 12, 1, 15), waw(2026, 12, 2, 9)) == 2 * H


def test_across_the_weekend():
    # Friday 2026-12-04 15:30 + 1 h lands on Monday 08:30.
    assert add_business_time(office(), waw(2026, 12, 4, 15, 30), H) == waw(2026, 12, 7, 8, 30)
    assert business_time_between(office(), waw(2026, 12, 4, 18), waw(2026, 12, 7, 8)) == timedelta(
        0
    )


def test_ending_exactly_at_closing_time_gives_closing_time():
    assert add_business_time(office(), waw(2026, 12, 1, 8), 8 * H) == waw(2026, 12, 1, 16)


def test_starting_outside_hours_starts_at_the_next_opening():
    assert add_business_time(office(), waw(2026, 12, 1, 6, 15), 30 * timedelta(minutes=1)) == waw(
        2026, 12, 1, 8, 30
    )
    assert add_business_time(office(), waw(2026, 12, 1, 20), H) == waw(2026, 12, 2, 9)


def test_public_holidays_are_closed():
    # 2026-12-24, 25 and 26 are Polish public holidays (Christmas Eve became one in 2025).
    assert add_business_time(office(), waw(2026, 12, 23, 15), 2 * H) == waw(2026, 12, 28, 9)
    # 11 November, Independence Day, is a Wednesday in 2026.
    assert business_time_between(office(), waw(2026, 11, 10, 0), waw(2026, 11, 13, 0)) == 16 * H


def test_custom_closed_and_working_days():
    schedule = office(
        closed_days=frozenset({date(2026, 12, 2)}),
        open_days={date(2026, 12, 5): ((time(10), time(14)),)},  # a working Saturday
    )
    assert business_time_between(schedule, waw(2026, 12, 1, 0), waw(2026, 12, 3, 0)) == 8 * H
    assert add_business_time(schedule, waw(2026, 12, 4, 15), 2 * H) == waw(2026, 12, 5, 11)
    # A working day declared on a public holiday is worked.
    holiday_worked = office(open_days={date(2026, 12, 24): OFFICE})
    assert add_business_time(holiday_worked, waw(2026, 12, 23, 15), 2 * H) == waw(2026, 12, 24, 9)


def test_split_days():
    schedule = office(weekly=(SPLIT,) * 5 + ((), ()))
    assert add_business_time(schedule, waw(2026, 12, 1, 11), 2 * H) == waw(2026, 12, 1, 14)
    assert add_business_time(schedule, waw(2026, 12, 1, 12, 30), H) == waw(2026, 12, 1, 14)
    assert business_time_between(schedule, waw(2026, 12, 1, 0), waw(2026, 12, 2, 0)) == 8 * H


def test_office_hours_are_wall_clock_hours_across_dst_changes():
    # Spring forward: Sunday 2026-03-29; autumn back: Sunday 2026-10-25.
    assert business_time_between(office(), waw(2026, 3, 27, 0), waw(2026, 3, 31, 0)) == 16 * H
    assert add_business_time(office(), waw(2026, 3, 27, 15), 2 * H) == waw(2026, 3, 30, 9)
    assert business_time_between(office(), waw(2026, 10, 23, 0), waw(2026, 10, 27, 0)) == 16 * H
    assert add_business_time(office(), waw(2026, 10, 23, 15), 2 * H) == waw(2026, 10, 26, 9)


def test_a_24x7_day_is_23_or_25_hours_when_the_clocks_move():
    always = Schedule(time_zone="Europe/Warsaw", always_open=True)
    assert business_time_between(always, waw(2026, 3, 29), waw(2026, 3, 30)) == 23 * H
    assert business_time_between(always, waw(2026, 10, 25), waw(2026, 10, 26)) == 25 * H
    start = waw(2026, 3, 28, 12)
    assert add_business_time(always, start, 24 * H) == start.astimezone(UTC) + 24 * H
    assert add_business_time(always, start, 24 * H).astimezone(WAW).hour == 13


def test_night_shift_interval_through_midnight_and_dst():
    # A 22:00-24:00 interval every day: on the autumn DST night it is still 2 wall hours.
    nights = Schedule(time_zone="Europe/Warsaw", weekly=(((time(22), time(0)),),) * 7)
    assert business_time_between(nights, waw(2026, 10, 24, 0), waw(2026, 10, 27, 0)) == 6 * H


def test_durations_of_several_weeks():
    # 6 weeks of 40 h from Monday 2026-01-12 08:00, no holidays in between: Friday 2026-02-20 16:00.
    start = waw(2026, 1, 12, 8)
    assert add_business_time(office(), start, 240 * H) == waw(2026, 2, 20, 16)
    assert business_time_between(office(), start, waw(2026, 2, 20, 16)) == 240 * H


def test_exact_to_the_second_and_result_in_the_callers_zone():
    start = datetime(2026, 12, 1, 7, 0, 1, tzinfo=UTC)  # 08:00:01 in Warsaw
    due = add_business_time(office(), start, timedelta(seconds=59))
    assert due == waw(2026, 12, 1, 8, 1) and due.tzinfo is UTC


def test_negative_ranges_and_bad_input():
    assert business_time_between(office(), waw(2026, 12, 1, 12), waw(2026, 12, 1, 9)) == -3 * H
    with pytest.raises(ValueError):
        add_business_time(office(), waw(2026, 12, 1, 9), -H)
    with pytest.raises(ValueError):
        add_business_time(office(), datetime(2026, 12, 1, 9), H)
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(Schedule(), waw(2026, 12, 1, 9), H)
    assert add_business_time(office(), waw(2026, 12, 5, 9), timedelta(0)) == waw(2026, 12, 5, 9)


# --- properties on random calendars ---------------------------------------------------------

ZONES = ["Europe/Warsaw", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]


@st.composite
def day_intervals(draw):
    cuts = sorted(draw(st.sets(st.integers(0, 24 * 4), min_size=0, max_size=6)))
    cuts = cuts[: len(cuts) // 2 * 2]
    result = []
    for begin, end in zip(cuts[::2], cuts[1::2], strict=True):
        if end == begin:
            continue
        end_time = time(0) if end == 96 else time(end // 4, end % 4 * 15)
        result.append((time(begin // 4, begin % 4 * 15), end_time))
    return tuple(result)


@st.composite
def schedules(draw):
    weekly = tuple(draw(day_intervals()) for _day in range(7))
    base = date(2026, 1, 1)
    offsets = st.integers(0, 400)
    closed = frozenset(
        base + timedelta(days=draw(offsets)) for _n in range(draw(st.integers(0, 5)))
    )
    opened = {base + timedelta(days=draw(offsets)): draw(day_intervals()) for _n in range(3)}
    schedule = Schedule(
        time_zone=draw(st.sampled_from(ZONES)),
        always_open=draw(st.integers(0, 9)) == 0,
        weekly=weekly,
        closed_days=closed,
        open_days=opened,
        holiday_country=draw(st.sampled_from(["", "PL"])),
    )
    if not schedule.always_open and not any(weekly):
        weekly = (((time(9), time(17)),), *weekly[1:])
        schedule = dataclasses.replace(schedule, weekly=weekly)
    return schedule


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 3, 1)).map(
    lambda value: value.replace(tzinfo=UTC)
)
durations = st.integers(0, 90 * 24 * 3600).map(lambda seconds: timedelta(seconds=seconds))


@settings(max_examples=300, deadline=None)
@given(schedules(), instants, durations)
def test_adding_then_measuring_gives_the_duration(schedule, start, duration):
    try:
        due = add_business_time(schedule, start, duration)
    except ValueError:
        # Only when the calendar really offers less than that within the search limit
        # (a quarter of an hour a week cannot hold 90 days of work).
        horizon = start + timedelta(days=SEARCH_LIMIT_DAYS - 2)
        assert business_time_between(schedule, start, horizon) < duration
        return
    assert due >= start
    assert business_time_between(schedule, start, due) == duration


@settings(max_examples=300, deadline=None)
@given(schedules(), instants, instants, instants)
def test_measuring_is_additive(schedule, a, b, c):
    assert business_time_between(schedule, a, b) + business_time_between(
        schedule, b, c
    ) == business_time_between(schedule, a, c)


@settings(max_examples=200, deadline=None)
@given(schedules(), instants, instants)
def test_adding_the_measured_time_never_passes_the_end(schedule, start, end):
    if end < start:
        start, end = end, start
    measured = business_time_between(schedule, start, end)
    due = add_business_time(schedule, start, measured)
    assert start <= due <= end
    assert business_time_between(schedule, due, end) == timedelta(0)


def test_intervals_that_meet_in_the_spring_forward_gap_count_once():
    # 29 March 2026 in Warsaw: 02:00 becomes 03:00. Wall 02:15 does not exist (read as
    # 01:15 UTC), so 00:00-02:15 and 03:00-03:15 overlap at 01:00-01:15 UTC.
    sunday = ((time(0, 0), time(2, 15)), (time(3, 0), time(3, 15)))
    schedule = Schedule(time_zone="Europe/Warsaw", weekly=((),) * 6 + (sunday,))
    start = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    end = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    measured = business_time_between(schedule, start, end)
    assert measured == timedelta(hours=2, minutes=15)  # 23:00-01:15 UTC, once
    due = add_business_time(schedule, start, measured)
    assert due == datetime(2026, 3, 29, 1, 15, tzinfo=UTC)
    assert business_time_between(schedule, due, end) == timedelta(0)
