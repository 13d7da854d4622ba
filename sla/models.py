"""Service levels: business-hours calendars (the clocks' time base)."""

from __future__ import annotations

from datetime import time, timedelta
from itertools import pairwise
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Service
from sla.business_time import MIDNIGHT, Schedule
from tickets.models import Priority, Ticket, TicketType


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


# --- policies and the clocks they start ------------------------------------------------------


class Target(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class SlaPolicy(models.Model):
    """Targets in business time for the tickets of one priority, optionally narrowed.

    The policy for a ticket is the active one of its priority whose narrowing fields all
    match; the most specific wins (a service outweighs a ticket type, which outweighs the VIP
    flag), then the lowest id.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        help_text=_("Empty: any service."),
    )
    ticket_type = models.CharField(
        _("ticket type"),
        max_length=12,
        choices=TicketType.choices,
        blank=True,
        help_text=_("Empty: any type."),
    )
    vip_only = models.BooleanField(_("VIP callers only"), default=False)
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        on_delete=models.PROTECT,
        related_name="policies",
    )
    first_response = models.DurationField(_("first response within"))
    next_response = models.DurationField(
        _("next response within"),
        null=True,
        blank=True,
        help_text=_("After the caller writes again; empty: no target."),
    )
    resolution = models.DurationField(_("resolution within"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self):
        return self.name

    @property
    def specificity(self) -> int:
        return 4 * (self.service_id is not None) + 2 * bool(self.ticket_type) + self.vip_only

    def goal(self, target: str):
        return {
            Target.FIRST_RESPONSE: self.first_response,
            Target.NEXT_RESPONSE: self.next_response,
            Target.RESOLUTION: self.resolution,
        }[target]

    def clean(self):
        for name in ("first_response", "next_response", "resolution"):
            value = getattr(self, name)
            if value is not None and value.total_seconds() <= 0:
                raise ValidationError({name: _("A target must be longer than zero.")})


class SlaClock(models.Model):
    """One target of one ticket: running, paused, or stopped (met, breached, cancelled).

    ``due_at`` (indexed) is when the target falls due: ``started_at`` plus the goal plus the
    business time spent paused, in the calendar's working time; it is empty while paused or
    stopped. ``next_alert_at`` is the next threshold instant the sweep looks for. A ticket
    keeps every clock it ever had: its SLA history.
    """

    class Outcome(models.TextChoices):
        RUNNING = "", _("running")
        MET = "met", _("met")
        BREACHED = "breached", _("breached")
        CANCELLED = "cancelled", _("cancelled")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="sla_clocks"
    )
    target = models.CharField(_("target"), max_length=16, choices=Target.choices)
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("policy"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="clocks",
    )
    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT, related_name="+"
    )
    goal = models.DurationField(_("goal"))
    started_at = models.DateTimeField(_("started"))
    paused_since = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_for = models.DurationField(_("paused for"), default=timedelta(0))
    due_at = models.DateTimeField(_("due"), null=True, blank=True, db_index=True)
    next_alert_at = models.DateTimeField(_("next alert"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, blank=True, default=Outcome.RUNNING
    )
    # Business time past the due time when it stopped (breached) or before it (met).
    margin = models.DurationField(_("margin"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breached"), null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "target"],
                condition=models.Q(stopped_at__isnull=True),
                name="sla_clock_one_live_per_target",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_alert_at"],
                condition=models.Q(next_alert_at__isnull=False),
                name="sla_clock_alert_idx",
            ),
            # The dashboard: clocks stopped met or breached in a period (compliance, the
            # business time to resolve and its median, read from the index alone).
            models.Index(
                fields=["stopped_at"],
                include=["target", "outcome", "goal", "margin", "ticket"],
                condition=models.Q(outcome__in=["met", "breached"]),
                name="sla_clock_stopped_idx",
            ),
            # The median business time to resolve: only the clocks it reads.
            models.Index(
                fields=["stopped_at"],
                include=["goal", "margin", "ticket"],
                condition=models.Q(
                    target="resolution", outcome__in=["met", "breached"], margin__isnull=False
                ),
                name="sla_clock_business_idx",
            ),
            # Breaches now: the running clocks by target and due time.
            models.Index(
                fields=["target", "due_at"],
                include=["goal", "ticket"],
                condition=models.Q(
                    stopped_at__isnull=True, paused_since__isnull=True, due_at__isnull=False
                ),
                name="sla_clock_running_idx",
            ),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.target} {self.outcome or 'running'}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None and self.paused_since is None


class SlaThreshold(models.Model):
    """An alert at a share of a target's time (75 %, 100 %), and what it does."""

    percent = models.PositiveSmallIntegerField(
        _("per cent of the target"), unique=True, help_text=_("100 is the breach.")
    )
    notify = models.BooleanField(
        _("notify"), default=True, help_text=_("The assignee, the group's members and managers.")
    )
    raise_priority = models.BooleanField(_("raise the priority one step"), default=False)
    escalate = models.BooleanField(_("escalate a tier"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["percent"]
        verbose_name = _("SLA threshold")
        verbose_name_plural = _("SLA thresholds")

    def __str__(self):
        return f"{self.percent} %"

    def clean(self):
        if self.percent is not None and not 1 <= self.percent <= 500:
            raise ValidationError({"percent": _("Between 1 and 500 per cent.")})


class SlaAlert(models.Model):
    """A threshold reached by a clock: written once, by whichever sweep gets there first."""

    clock = models.ForeignKey(
        SlaClock, verbose_name=_("clock"), on_delete=models.CASCADE, related_name="alerts"
    )
    percent = models.PositiveSmallIntegerField(_("per cent of the target"))
    at = models.DateTimeField(_("when"), default=timezone.now)
    actions = models.CharField(_("actions taken"), max_length=120, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("SLA alert")
        verbose_name_plural = _("SLA alerts")
        constraints = [models.UniqueConstraint(fields=["clock", "percent"], name="sla_alert_once")]

    def __str__(self):
        return f"{self.clock_id} {self.percent} %"


class ReportSubscription(models.Model):
    """A manager's weekly summary of the dashboard, mailed as an XLSX workbook.

    Each Monday (in the site's time zone) the job ``sla.send_weekly_reports`` mails last
    week's figures, narrowed like the dashboard was when the manager subscribed; ``last_week``
    (the Monday of the week last sent) makes it once per week, and a failed send is retried
    by the next run."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        on_delete=models.CASCADE,
        related_name="sla_report_subscription",
    )
    site = models.ForeignKey(
        "helpdesk.Site", verbose_name=_("site"), on_delete=models.SET_NULL, null=True, blank=True
    )
    group = models.ForeignKey(
        "helpdesk.SupportGroup",
        verbose_name=_("group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.SET_NULL, null=True, blank=True
    )
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    last_week = models.DateField(_("last week sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("weekly report subscription")
        verbose_name_plural = _("weekly report subscriptions")

    def __str__(self):
        return str(self.user)


# --- The dashboard's summary (docs/sla.md, "The managers' dashboard") -----------------------
# Per day (in settings.TIME_ZONE) and narrowing, what the dashboard's period figures count;
# rebuilt for recent days by beat (``sla.refresh_dashboard_summary``). The keys are plain
# references without database constraints: a deleted group or service leaves its old counts
# until the day is rebuilt, and deleting one never waits on this table.


def _key(model, name):
    return models.ForeignKey(
        model,
        verbose_name=name,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )


class DashboardRefresh(models.Model):
    """One summarised day and when it was last rebuilt: the figures hold what happened on
    that day up to ``refreshed_at``."""

    day = models.DateField(_("day"), unique=True)
    refreshed_at = models.DateTimeField(_("refreshed"))

    class Meta:
        verbose_name = _("dashboard summary day")
        verbose_name_plural = _("dashboard summary days")

    def __str__(self):
        return f"{self.day} {self.refreshed_at:%H:%M}"


class DashboardTicketDay(models.Model):
    """Ticket figures of one day for one combination of site (the caller's), group, service,
    channel and category, with the ticket's values when the day was rebuilt."""

    day = models.DateField(_("day"))
    site = _key("helpdesk.Site", _("site"))
    group = _key("helpdesk.SupportGroup", _("group"))
    service = _key(Service, _("service"))
    category = _key("helpdesk.Category", _("category"))
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    created = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    first_contact = models.PositiveIntegerField(default=0)
    resolve_time = models.DurationField(default=timedelta(0))
    resolves = models.PositiveIntegerField(default=0)
    reopens = models.PositiveIntegerField(default=0)
    transfers = models.PositiveIntegerField(default=0)
    first_response_met = models.PositiveIntegerField(default=0)
    first_response_breached = models.PositiveIntegerField(default=0)
    next_response_met = models.PositiveIntegerField(default=0)
    next_response_breached = models.PositiveIntegerField(default=0)
    resolution_met = models.PositiveIntegerField(default=0)
    resolution_breached = models.PositiveIntegerField(default=0)
    business_count = models.PositiveIntegerField(default=0)
    business_time = models.DurationField(default=timedelta(0))

    class Meta:
        verbose_name = _("dashboard ticket day")
        verbose_name_plural = _("dashboard ticket days")
        indexes = [models.Index(fields=["day", "group"], name="sla_dash_ticket_day_idx")]

    def __str__(self):
        return f"{self.day} {self.group_id} {self.service_id} {self.channel}"


class DashboardResolveTime(models.Model):
    """One resolved ticket's time to resolve on the day it counts in, with the ticket's
    site (the caller's), group, service and channel when the day was rebuilt: calendar time
    on the day the ticket was resolved, business time on the day its resolution clock
    stopped met or breached. The medians of a narrowed period are read from these rows (an
    index-only scan) instead of joining a week's clocks to a million tickets."""

    class Kind(models.IntegerChoices):
        CALENDAR = 0, _("calendar time")
        BUSINESS = 1, _("business time")

    day = models.DateField(_("day"))
    kind = models.PositiveSmallIntegerField(_("kind"), choices=Kind.choices)
    site = _key("helpdesk.Site", _("site"))
    group = _key("helpdesk.SupportGroup", _("group"))
    service = _key(Service, _("service"))
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    duration = models.DurationField(_("time to resolve"))

    class Meta:
        verbose_name = _("dashboard time to resolve")
        verbose_name_plural = _("dashboard times to resolve")
        indexes = [
            models.Index(
                fields=["kind", "day"],
                include=["site", "service", "channel", "duration"],
                name="sla_dash_resolve_day_idx",
            ),
            models.Index(
                fields=["kind", "group", "day"],
                include=["duration"],
                name="sla_dash_resolve_group_idx",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.get_kind_display()} {self.duration}"


class DashboardAgentDay(models.Model):
    """Tickets an agent resolved on one day (as assignee), per narrowing: handled, solved on
    first contact, and their resolution clocks met and breached."""

    day = models.DateField(_("day"))
    site = _key("helpdesk.Site", _("site"))
    group = _key("helpdesk.SupportGroup", _("group"))
    service = _key(Service, _("service"))
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    assignee = _key(settings.AUTH_USER_MODEL, _("assignee"))
    handled = models.PositiveIntegerField(default=0)
    first_contact = models.PositiveIntegerField(default=0)
    met = models.PositiveIntegerField(default=0)
    breached = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("dashboard agent day")
        verbose_name_plural = _("dashboard agent days")
        indexes = [models.Index(fields=["day", "group"], name="sla_dash_agent_day_idx")]

    def __str__(self):
        return f"{self.day} {self.assignee_id}"


class DashboardCallHour(models.Model):
    """Inbound calls that started in one hour (``settings.TIME_ZONE``) in one queue, per
    answering agent. ``in_time`` was counted with ``SLA_CALL_ANSWER_SECONDS`` of the rebuild."""

    day = models.DateField(_("day"))
    hour = models.PositiveSmallIntegerField(_("hour"))
    queue = _key("cti.CallQueue", _("queue"))
    answered_by = _key(settings.AUTH_USER_MODEL, _("answered by"))
    total = models.PositiveIntegerField(default=0)
    ended = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    other = models.PositiveIntegerField(default=0)
    in_time = models.PositiveIntegerField(default=0)
    wait_count = models.PositiveIntegerField(default=0)
    wait_time = models.DurationField(default=timedelta(0))
    talk_count = models.PositiveIntegerField(default=0)
    talk_time = models.DurationField(default=timedelta(0))

    class Meta:
        verbose_name = _("dashboard call hour")
        verbose_name_plural = _("dashboard call hours")
        indexes = [models.Index(fields=["day", "queue"], name="sla_dash_call_day_idx")]

    def __str__(self):
        return f"{self.day} {self.hour:02d} {self.queue_id}"


class DashboardSnapshot(models.Model):
    """When the dashboard's "now" figures (``DashboardOpenCount``) were last counted."""

    taken_at = models.DateTimeField(_("taken"))

    class Meta:
        verbose_name = _("dashboard snapshot")
        verbose_name_plural = _("dashboard snapshots")

    def __str__(self):
        return f"{self.taken_at:%H:%M:%S}"


class DashboardOpenCount(models.Model):
    """The backlog (``target`` blank: open tickets) and the running clocks of one target, per
    narrowing and priority, as counted at the latest ``DashboardSnapshot``."""

    site = _key("helpdesk.Site", _("site"))
    group = _key("helpdesk.SupportGroup", _("group"))
    service = _key(Service, _("service"))
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), null=True, blank=True)
    target = models.CharField(_("target"), max_length=16, blank=True)
    open = models.PositiveIntegerField(default=0)
    running = models.PositiveIntegerField(default=0)
    breached = models.PositiveIntegerField(default=0)
    near = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("dashboard open count")
        verbose_name_plural = _("dashboard open counts")

    def __str__(self):
        return f"{self.group_id} {self.priority} {self.target}"


class DashboardCallWait(models.Model):
    """Answered inbound calls of one day and queue by their wait in whole seconds (ring to
    answer, rounded down): the 90th-percentile wait, to the second."""

    day = models.DateField(_("day"))
    queue = _key("cti.CallQueue", _("queue"))
    seconds = models.PositiveIntegerField(_("seconds"))
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("dashboard call wait")
        verbose_name_plural = _("dashboard call waits")
        indexes = [models.Index(fields=["day", "queue"], name="sla_dash_wait_day_idx")]

    def __str__(self):
        return f"{self.day} {self.queue_id} {self.seconds} s"
