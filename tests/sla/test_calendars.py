"""Business calendars as an admin stores them: validation and the schedule the clocks use."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from sla import demo
from sla.business_time import add_business_time, business_time_between
from sla.models import BusinessCalendar, CalendarDay, WorkingHours

pytestmark = pytest.mark.django_db
WAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def calendar():
    calendar = BusinessCalendar.objects.create(name="Office", holiday_country="PL")
    for weekday in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, start=time(8), end=time(12))
        WorkingHours.objects.create(
            calendar=calendar, weekday=weekday, start=time(13), end=time(17)
        )
    return calendar


def test_the_stored_calendar_drives_the_arithmetic(calendar):
    CalendarDay.objects.create(calendar=calendar, date=date(2026, 12, 1), note="Inventory")
    CalendarDay.objects.create(
        calendar=calendar, date=date(2026, 12, 5), is_working=True, start=time(9), end=time(11)
    )
    start = datetime(2026, 11, 30, 16, tzinfo=WAW)  # Monday
    # Monday 16-17, Tuesday closed, Wednesday from 08:00.
    assert add_business_time(calendar, start, timedelta(hours=2)) == datetime(
        2026, 12, 2, 9, tzinfo=WAW
    )
    saturday = business_time_between(
        calendar, datetime(2026, 12, 5, tzinfo=WAW), datetime(2026, 12, 6, tzinfo=WAW)
    )
    assert saturday == timedelta(hours=2)


def test_schedule_reads_two_queries(calendar, django_assert_num_queries):
    with django_assert_num_queries(2):
        schedule = calendar.schedule()
    assert schedule.weekly[0] == ((time(8), time(12)), (time(13), time(17)))
    assert schedule.weekly[5] == ()


def test_validation_names_the_field(calendar):
    with pytest.raises(ValidationError) as error:
        WorkingHours(calendar=calendar, weekday=0, start=time(11), end=time(14)).full_clean()
    assert "start" in error.value.message_dict  # overlaps 08:00-12:00 and 13:00-17:00
    with pytest.raises(ValidationError) as error:
        WorkingHours(calendar=calendar, weekday=6, start=time(14), end=time(9)).full_clean()
    assert "end" in error.value.message_dict
    WorkingHours(calendar=calendar, weekday=6, start=time(22), end=time(0)).full_clean()
    with pytest.raises(ValidationError) as error:
        BusinessCalendar(name="X", time_zone="Mars/Olympus").full_clean()
    assert "time_zone" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        BusinessCalendar(name="Y", holiday_country="QQ").full_clean()
    assert "holiday_country" in error.value.message_dict
    with pytest.raises(ValidationError):
        CalendarDay(calendar=calendar, date=date(2026, 1, 2), is_working=True).full_clean()
    with pytest.raises(ValidationError):
        CalendarDay(calendar=calendar, date=date(2026, 1, 2), start=time(8)).full_clean()


def test_demo_calendars_are_idempotent():
    demo.seed(stdout=StringIO())
    demo.seed(stdout=StringIO())
    office = BusinessCalendar.objects.get(name=demo.OFFICE)
    assert office.hours.count() == 5 and office.days.count() == 1
    assert BusinessCalendar.objects.get(name=demo.ALWAYS).always_open
    # Christmas Eve 2026 is a Polish public holiday: no office time that day.
    eve = datetime(2026, 12, 24, tzinfo=WAW)
    assert business_time_between(office, eve, eve + timedelta(days=1)) == timedelta(0)
