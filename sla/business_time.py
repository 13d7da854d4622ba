"""Business-time arithmetic: the public API admins' tools, the SLA clocks and reports use.

``add_business_time(calendar, start, duration)`` and ``business_time_between(calendar, start,
end)`` take a ``sla.models.BusinessCalendar`` (or a ``Schedule`` built from one) and aware
datetimes, and are exact to the microsecond. Working hours are wall-clock times in the
calendar's time zone, so an 08:00-16:00 day is eight hours on both sides of a DST change,
while a 24x7 day is 23 or 25 hours on the days the clocks move.

All sums are done on UTC instants: subtracting two aware datetimes of the same zone in
Python compares wall clocks, which is an hour off across a DST change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# A calendar with no working time at all would make ``add_business_time`` search forever.
SEARCH_LIMIT_DAYS = 3 * 366
MIDNIGHT = time(0, 0)
# Days whose intervals a schedule keeps (about eleven years).
DAY_CACHE_SIZE = 4096

Interval = tuple[time, time]  # end 00:00 means midnight at the end of the day (24:00)


@dataclass(frozen=True)
class Schedule:
    """The plain description of a calendar the arithmetic works on (no database access)."""

    time_zone: str = "UTC"
    always_open: bool = False
    # Monday first: seven tuples of (start, end) wall-clock intervals.
    weekly: tuple[tuple[Interval, ...], ...] = ((),) * 7
    closed_days: frozenset[date] = frozenset()
    # Custom working days: their own intervals, whatever the weekday or a holiday says.
    open_days: dict[date, tuple[Interval, ...]] = field(default_factory=dict)
    holiday_country: str = ""
    holiday_subdivision: str = ""
    # Each day's UTC intervals once computed (a schedule never changes: a calendar's change
    # makes a new one). An SLA sweep asks for the same few days of a calendar for every
    # clock: 1.4 million computations for 50,000 alerts without it.
    # Not an __init__ argument: a copy (dataclasses.replace) must start with its own.
    _day_intervals: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __hash__(self):  # the dict field is not hashable; identity is enough for caches
        return id(self)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_holiday(self, day: date) -> bool:
        if not self.holiday_country:
            return False
        return day in _holidays(self.holiday_country, self.holiday_subdivision, day.year)

    def wall_intervals(self, day: date) -> tuple[Interval, ...]:
        """The working intervals of one local date, before time zones."""
        if self.always_open:
            return ((MIDNIGHT, MIDNIGHT),)
        if day in self.open_days:
            return self.open_days[day]
        if day in self.closed_days or self.is_holiday(day):
            return ()
        return self.weekly[day.weekday()]

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of one local date as UTC instants, in order."""
        known = self._day_intervals.get(day)
        if known is None:
            if len(self._day_intervals) > DAY_CACHE_SIZE:
                self._day_intervals.clear()
            known = self._day_intervals[day] = tuple(self._intervals_of(day))
        return known

    def _intervals_of(self, day: date) -> list[tuple[datetime, datetime]]:
        zone = self.zone
        result = []
        for start, end in self.wall_intervals(day):
            begin = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
            end_day = day + timedelta(days=1) if end == MIDNIGHT else day
            finish = datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
            if finish > begin:
                result.append((begin, finish))
        # On the night the clocks go forward, wall intervals that did not overlap can: with
        # 00:00-02:15 and 03:00-03:15 in Warsaw, 02:15 does not exist and is read as 01:15
        # UTC, after 03:00 (01:00 UTC). Overlaps are merged so that no instant counts twice
        # (measuring counted it twice, adding once; found by the property-based tests).
        merged: list[tuple[datetime, datetime]] = []
        for begin, finish in sorted(result):
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(finish, merged[-1][1]))
            else:
                merged.append((begin, finish))
        return merged


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year)


def _schedule(calendar) -> Schedule:
    if isinstance(calendar, Schedule):
        return calendar
    return calendar.schedule()


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def _days_from(schedule: Schedule, instant: datetime) -> Iterator[date]:
    # Start one day early: the local date of a UTC instant is the right one, but a custom
    # interval of the previous day may not end at midnight.
    day = instant.astimezone(schedule.zone).date() - timedelta(days=1)
    while True:
        yield day
        day += timedelta(days=1)


def business_time_between(calendar, start: datetime, end: datetime) -> timedelta:
    """The working time of ``calendar`` between two instants (negative if ``end`` is earlier)."""
    schedule = _schedule(calendar)
    start, end = _utc(start, "start"), _utc(end, "end")
    if end < start:
        return -business_time_between(schedule, end, start)
    total = timedelta(0)
    last_day = end.astimezone(schedule.zone).date()
    for day in _days_from(schedule, start):
        if day > last_day:
            break
        for begin, finish in schedule.intervals(day):
            overlap = min(finish, end) - max(begin, start)
            if overlap > timedelta(0):
                total += overlap
    return total


def add_business_time(calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant when ``duration`` of working time has passed after ``start``.

    The result is in ``start``'s time zone. A duration that ends exactly when an interval
    closes gives that closing time (16:00), not the next opening. Zero gives ``start``.
    """
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    schedule = _schedule(calendar)
    origin = start
    cursor = _utc(start, "start")
    if duration == timedelta(0):
        return origin
    remaining = duration
    for count, day in enumerate(_days_from(schedule, cursor)):
        if count > SEARCH_LIMIT_DAYS:
            raise ValueError("the calendar has no working time")
        for begin, finish in schedule.intervals(day):
            if finish <= cursor:
                continue
            begin = max(begin, cursor)
            available = finish - begin
            if remaining <= available:
                return (begin + remaining).astimezone(origin.tzinfo)
            remaining -= available
            cursor = finish
    raise AssertionError("unreachable")  # pragma: no cover
