"""SLA demo data for ``manage.py seed_demo``: the calendars the demo's clocks run on.

- "Office hours (Poland)": Monday to Friday 08:00-16:00 in Warsaw, Polish public holidays
  closed, and one company closed day (the Friday after Corpus Christi next year);
- "Service desk (split day)": 08:00-12:00 and 13:00-17:00, Polish holidays;
- "24x7": every hour, for critical services.

Idempotent: an existing calendar of the same name is left as an admin may have edited it.
"""

from __future__ import annotations

import sys
from datetime import date, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sla import services
from sla.models import BusinessCalendar, CalendarDay, SlaPolicy, SlaThreshold, WorkingHours
from tickets.models import Priority

OFFICE = "Office hours (Poland)"
SPLIT = "Service desk (split day)"
ALWAYS = "24x7"


def _calendar(name: str, hours: list[tuple[time, time]], **fields) -> bool:
    calendar, created = BusinessCalendar.objects.get_or_create(name=name, defaults=fields)
    if created:
        WorkingHours.objects.bulk_create(
            WorkingHours(calendar=calendar, weekday=weekday, start=start, end=end)
            for weekday in range(5)
            for start, end in hours
        )
    return created


def _corpus_christi_bridge(year: int) -> date:
    import holidays

    corpus = next(
        day
        for day, name in holidays.country_holidays("PL", years=year).items()
        if name == "Corpus Christi"
    )
    return corpus + timedelta(days=1)


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    with transaction.atomic():
        made = _calendar(OFFICE, [(time(8), time(16))], holiday_country="PL")
        if made:
            bridge = _corpus_christi_bridge(timezone.localdate().year + 1)
            CalendarDay.objects.create(
                calendar=BusinessCalendar.objects.get(name=OFFICE),
                date=bridge,
                note="Company day off",
            )
        made += _calendar(SPLIT, [(time(8), time(12)), (time(13), time(17))], holiday_country="PL")
        made += _calendar(ALWAYS, [], always_open=True)
        policies = _policies()
        for percent in (75, 100):
            SlaThreshold.objects.get_or_create(percent=percent)
        started = services.clocks_start_for_open_tickets()
    stdout.write(
        _(
            "Service levels: %(count)d business calendars and %(policies)d policies created, "
            "clocks started for %(started)d open tickets."
        )
        % {"count": made, "policies": policies, "started": started}
        + "\n"
    )


# (priority, calendar, first response, resolution) in hours of the calendar's working time.
POLICIES = [
    (Priority.P1, ALWAYS, 0.5, 4),
    (Priority.P2, OFFICE, 1, 8),
    (Priority.P3, OFFICE, 4, 24),
    (Priority.P4, OFFICE, 8, 40),
    (Priority.P5, OFFICE, 16, 80),
]


def _policies() -> int:
    created = 0
    for priority, calendar_name, respond, resolve in POLICIES:
        _policy, made = SlaPolicy.objects.get_or_create(
            name=str(Priority(priority).label),
            defaults={
                "priority": priority,
                "calendar": BusinessCalendar.objects.get(name=calendar_name),
                "first_response": timedelta(hours=respond),
                "next_response": timedelta(hours=respond),
                "resolution": timedelta(hours=resolve),
            },
        )
        created += made
    return created
