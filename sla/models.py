"""Service levels: business-hours calendars (the clocks' time base)."""

from __future__ import annotations

from datetime import time
from itertools import pairwise
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sla.business_time import MIDNIGHT, Schedule


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(_("Unknown time zone: %(zone)s."), params={"zone": value})


def _time_zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def _check_interval(start: time | None, end: time | None, *, field: str = "end") -> None:
    # An end of 00:00 is midnight at the end of the day.
    if start is None or end is None:
        return
    if end != MIDNIGHT and end <= start:
        raise ValidationError({field: _("The end must be after the start (00:00 is midnight).")})


def _check_overlaps(rows: list[tuple[time, time]], *, field: str = "start") -> None:
    def minutes(value: time, *, is_end: bool) -> float:
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return 86400 if is_end and value == MIDNIGHT else seconds

    spans = sorted((minutes(s, is_end=False), minutes(e, is_end=True)) for s, e in rows)
    for (_s1, e1), (s2, _e2) in pairwise(spans):
        if s2 < e1:
            raise ValidationError({field: _("Working hours of one day must not overlap.")})


class BusinessCalendar(models.Model):
    """When the clocks run: weekly hours in a time zone, public holidays, exceptions."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Warsaw", validators=[validate_time_zone]
    )
    always_open = models.BooleanField(
        _("24x7"),
        default=False,
        help_text=_("Open every hour of every day; working hours and holidays are ignored."),
    )
    holiday_country = models.CharField(
        _("public holidays of"),
        max_length=2,
        blank=True,
        help_text=_("Country code (PL, DE, GB ...); its public holidays are closed days."),
    )
    holiday_subdivision = models.CharField(_("region"), max_length=10, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self):
        return self.name

    def clean(self):
        if self.holiday_country:
            import holidays

            self.holiday_country = self.holiday_country.upper()
            try:
                holidays.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision or None
                )
            except NotImplementedError as error:
                raise ValidationError(
                    {
                        "holiday_country": _(
                            "No public holidays are known for this country or region."
                        )
                    }
                ) from error

    def schedule(self) -> Schedule:
        """The calendar as a ``Schedule`` (two queries; use ``prefetch_related`` for many)."""
        weekly: list[list[tuple[time, time]]] = [[] for _day in range(7)]
        for hours in self.hours.all():
            weekly[hours.weekday].append((hours.start, hours.end))
        closed, opened = set(), {}
        for day in self.days.all():
            if day.is_working:
                opened.setdefault(day.date, []).append((day.start, day.end))
            else:
                closed.add(day.date)
        return Schedule(
            time_zone=self.time_zone,
            always_open=self.always_open,
            weekly=tuple(tuple(sorted(day)) for day in weekly),
            closed_days=frozenset(closed),
            open_days={key: tuple(sorted(value)) for key, value in opened.items()},
            holiday_country=self.holiday_country,
            holiday_subdivision=self.holiday_subdivision,
        )


class WorkingHours(models.Model):
    """One interval of a weekday (08:00-12:00); a day may have several."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self):
        _check_interval(self.start, self.end)
        if self.calendar_id and self.start is not None and self.end is not None:
            siblings = self.calendar.hours.filter(weekday=self.weekday).exclude(pk=self.pk)
            _check_overlaps([(self.start, self.end), *siblings.values_list("start", "end")])


class CalendarDay(models.Model):
    """An exception: a closed day (a company holiday) or a working day with its own hours."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="days"
    )
    date = models.DateField(_("date"))
    is_working = models.BooleanField(
        _("working day"),
        default=False,
        help_text=_("Unticked: closed all day. Ticked: open in the hours given here."),
    )
    start = models.TimeField(_("from"), null=True, blank=True)
    end = models.TimeField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=120, blank=True)

    class Meta:
        ordering = ["calendar", "date", "start"]
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date", "start"], name="calendar_day_unique_start"
            )
        ]

    def __str__(self):
        return f"{self.date} {self.note}".strip()

    def clean(self):
        if self.is_working:
            if self.start is None or self.end is None:
                raise ValidationError({"start": _("A working day needs its hours.")})
            _check_interval(self.start, self.end)
        elif self.start is not None or self.end is not None:
            raise ValidationError({"start": _("A closed day has no hours.")})
