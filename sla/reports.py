"""The managers' dashboard figures: pure reads, no permission checks (the view checks).

Every function takes a ``ReportFilter`` and runs a fixed number of aggregate queries,
whatever the amount of data: counts and averages are ``GROUP BY``/``FILTER`` aggregates, a
median or a percentile is one ``ORDER BY ... OFFSET`` read after the count. Nothing here
loops over tickets or calls.

Definitions (the notes under the tables say them on the page):

- backlog: open tickets now (new, assigned, in progress, pending), by group and priority;
- compliance: clocks stopped in the period, met / (met + breached), per target;
- breaches: running clocks past their due time; near breaches: running clocks due within a
  quarter of their goal (wall-clock ``due_at`` ranges, one condition per distinct goal);
- time to resolve: tickets resolved in the period, calendar time from creation to
  resolution; business time from their resolution clocks (goal - margin = time used);
- first-contact resolution: share of the tickets resolved in the period solved on first
  contact; reopen rate: reopens / resolutions in the period (timeline transitions);
- transfers per ticket: transfers in the period / tickets created in the period;
- by channel, service, category: tickets created in the period;
- calls: inbound calls that started in the period; wait is ring to answer of answered
  calls; service level: answered within ``SLA_CALL_ANSWER_SECONDS`` / calls that ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import ExtractHour, ExtractWeekDay
from django.utils import timezone

from cti.models import Call
from helpdesk.models import in_reader_language
from sla.models import SlaClock, Target
from tickets.models import OPEN_STATUSES, Channel, Priority, Ticket, TimelineEntry

Outcome = SlaClock.Outcome
NEAR_BREACH_SHARE = 0.25
TOP_SERVICES = 10
TOP_AGENTS = 50


@dataclass(frozen=True)
class ReportFilter:
    """What the figures cover: a period [start, end) and optional narrowing."""

    start: datetime
    end: datetime
    site_id: int | None = None
    group_id: int | None = None
    service_id: int | None = None
    channel: str = ""

    @classmethod
    def for_days(cls, first: date, last: date, **narrowing) -> ReportFilter:
        """From the start of ``first`` to the end of ``last`` in the current time zone."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(first, time.min, tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
        return cls(start=start, end=end, **narrowing)


def ticket_condition(filters: ReportFilter, prefix: str = "") -> Q:
    """The narrowing (not the period) as a condition on tickets, reached through ``prefix``."""
    condition = Q()
    if filters.site_id:
        condition &= Q(**{f"{prefix}caller__site_id": filters.site_id})
    if filters.group_id:
        condition &= Q(**{f"{prefix}group_id": filters.group_id})
    if filters.service_id:
        condition &= Q(**{f"{prefix}service_id": filters.service_id})
    if filters.channel:
        condition &= Q(**{f"{prefix}channel": filters.channel})
    return condition


def _in_period(field: str, filters: ReportFilter) -> Q:
    return Q(**{f"{field}__gte": filters.start, f"{field}__lt": filters.end})


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def nth_value(queryset: QuerySet, expression, share: float, count: int):
    """The value at ``share`` (0.5: median, nearest rank) of ``expression`` over ``count``
    rows: one ``ORDER BY ... LIMIT 1 OFFSET n`` query."""
    if not count:
        return None
    index = min(count - 1, max(0, int(-(-share * count // 1)) - 1))
    rows = (
        queryset.annotate(_value=expression)
        .order_by("_value")
        .values_list("_value", flat=True)[index : index + 1]
    )
    return next(iter(rows), None)


# --- tickets ----------------------------------------------------------------------------------


def open_tickets(filters: ReportFilter) -> QuerySet[Ticket]:
    return Ticket.objects.filter(ticket_condition(filters), status__in=OPEN_STATUSES)


def backlog(filters: ReportFilter) -> dict:
    """Open tickets now by group and priority (one query)."""
    rows = (
        open_tickets(filters)
        .values("group_id", "group__name", "group__name_pl", "priority")
        .annotate(count=Count("id"))
        .order_by("group__name", "priority")
    )
    return backlog_table(rows)


def backlog_table(rows) -> dict:
    """The backlog from rows of group, its names, priority and count."""
    priorities = list(Priority)
    groups: dict[int | None, dict] = {}
    for row in rows:
        group = groups.setdefault(
            row["group_id"],
            {
                "group_id": row["group_id"],
                "name": in_reader_language(row["group__name"] or "", row["group__name_pl"] or ""),
                "counts": dict.fromkeys(Priority.values, 0),
                "total": 0,
            },
        )
        group["counts"][row["priority"]] = row["count"]
        group["total"] += row["count"]
    totals = {value: sum(g["counts"][value] for g in groups.values()) for value in Priority.values}
    return {
        "priorities": priorities,
        "groups": list(groups.values()),
        "totals": totals,
        "total": sum(totals.values()),
    }


def compliance(filters: ReportFilter) -> list[dict]:
    """Per target: met, breached and met / (met + breached) of clocks stopped in the period."""
    counts = (
        SlaClock.objects.filter(
            _in_period("stopped_at", filters),
            ticket_condition(filters, "ticket__"),
            outcome__in=[Outcome.MET, Outcome.BREACHED],
        )
        .values("target")
        .annotate(
            met=Count("id", filter=Q(outcome=Outcome.MET)),
            breached=Count("id", filter=Q(outcome=Outcome.BREACHED)),
        )
    )
    by_target = {row["target"]: row for row in counts}
    result = []
    for target in Target:
        row = by_target.get(target.value, {"met": 0, "breached": 0})
        result.append(
            {
                "target": target.value,
                "label": target.label,
                "met": row["met"],
                "breached": row["breached"],
                "percent": _share(row["met"], row["met"] + row["breached"]),
            }
        )
    return result


def running_clocks(filters: ReportFilter) -> QuerySet[SlaClock]:
    """Clocks running now (not stopped, not paused, with a due time)."""
    return SlaClock.objects.filter(
        ticket_condition(filters, "ticket__"),
        stopped_at__isnull=True,
        paused_since__isnull=True,
        due_at__isnull=False,
    )


def running_clock_counts(running: QuerySet[SlaClock], now: datetime) -> dict:
    """The aggregates of the breaches table over ``running``: breached, near, running (one
    query for the distinct goals: a near breach is due within a quarter of its own goal)."""
    goals = list(running.order_by().values_list("goal", flat=True).distinct()[:200])
    near = Q(pk__in=[])
    for goal in goals:
        near |= Q(goal=goal, due_at__gte=now, due_at__lt=now + goal * NEAR_BREACH_SHARE)
    return {
        "breached": Count("id", filter=Q(due_at__lt=now)),
        "near": Count("id", filter=near),
        "running": Count("id"),
    }


def breaches(filters: ReportFilter, *, now: datetime | None = None) -> list[dict]:
    """Running clocks now, per target: past due (breached) and due within a quarter of their
    goal (near). Two queries: the distinct goals, then one aggregate."""
    now = now or timezone.now()
    running = running_clocks(filters)
    counts = running.values("target").annotate(**running_clock_counts(running, now))
    return breaches_table(counts)


def breaches_table(counts) -> list[dict]:
    """The breaches table from rows of target, breached, near and running."""
    by_target = {row["target"]: row for row in counts}
    return [
        {
            "target": target.value,
            "label": target.label,
            **{
                key: by_target.get(target.value, {}).get(key, 0)
                for key in ("breached", "near", "running")
            },
        }
        for target in Target
    ]


CALENDAR_TIME = ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())
BUSINESS_TIME = ExpressionWrapper(F("goal") - F("margin"), output_field=DurationField())
WAIT_TIME = ExpressionWrapper(F("answered_at") - F("started_at"), output_field=DurationField())
TALK_TIME = ExpressionWrapper(F("ended_at") - F("answered_at"), output_field=DurationField())


def resolved_tickets(filters: ReportFilter) -> QuerySet[Ticket]:
    """Tickets resolved in the period (time to resolve, first-contact resolution)."""
    return Ticket.objects.filter(
        ticket_condition(filters), _in_period("resolved_at", filters), resolved_at__isnull=False
    )


def resolution_clocks(filters: ReportFilter) -> QuerySet[SlaClock]:
    """Resolution clocks stopped met or breached in the period, with a margin (business time
    to resolve = goal - margin)."""
    return SlaClock.objects.filter(
        ticket_condition(filters, "ticket__"),
        _in_period("stopped_at", filters),
        target=Target.RESOLUTION,
        outcome__in=[Outcome.MET, Outcome.BREACHED],
        margin__isnull=False,
    )


def resolution_times(filters: ReportFilter) -> dict:
    """Mean and median time to resolve, calendar and business (four queries)."""
    resolved = resolved_tickets(filters)
    calendar = CALENDAR_TIME
    summary = resolved.aggregate(count=Count("id"), mean=Avg(calendar))
    clocks = resolution_clocks(filters)
    used = BUSINESS_TIME
    business = clocks.aggregate(count=Count("id"), mean=Avg(used))
    return {
        "count": summary["count"],
        "calendar_mean": duration_value(summary["mean"]),
        "calendar_median": duration_value(nth_value(resolved, calendar, 0.5, summary["count"])),
        "business_count": business["count"],
        "business_mean": duration_value(business["mean"]),
        "business_median": duration_value(nth_value(clocks, used, 0.5, business["count"])),
    }


def duration_value(value) -> timedelta | None:
    # SQLite returns averages of durations as microseconds.
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(microseconds=float(value))


def ticket_rates(filters: ReportFilter) -> dict:
    """First-contact resolution, reopen rate and transfers per ticket (three queries)."""
    narrowing = ticket_condition(filters)
    resolved = Ticket.objects.filter(
        narrowing, _in_period("resolved_at", filters), resolved_at__isnull=False
    ).aggregate(
        resolved=Count("id"),
        first_contact=Count("id", filter=Q(first_contact_resolution=True)),
    )
    entries = TimelineEntry.objects.filter(
        ticket_condition(filters, "ticket__"), _in_period("created_at", filters)
    ).aggregate(
        resolves=Count("id", filter=Q(transition="resolve")),
        reopens=Count("id", filter=Q(transition="reopen")),
        transfers=Count("id", filter=Q(kind=TimelineEntry.Kind.TRANSFER)),
    )
    created = Ticket.objects.filter(narrowing, _in_period("created_at", filters)).count()
    return {
        "resolved": resolved["resolved"],
        "first_contact": resolved["first_contact"],
        "first_contact_percent": _share(resolved["first_contact"], resolved["resolved"]),
        "resolves": entries["resolves"],
        "reopens": entries["reopens"],
        "reopen_percent": _share(entries["reopens"], entries["resolves"]),
        "created": created,
        "transfers": entries["transfers"],
        "transfers_per_ticket": round(entries["transfers"] / created, 2) if created else None,
    }


def tickets_by(filters: ReportFilter, dimension: str) -> list[dict]:
    """Tickets created in the period by ``channel``, ``service`` (top ten) or ``category``."""
    created = Ticket.objects.filter(ticket_condition(filters), _in_period("created_at", filters))
    if dimension == "channel":
        labels = dict(Channel.choices)
        rows = created.values("channel").annotate(count=Count("id")).order_by("-count", "channel")
        return [
            {"key": row["channel"], "label": labels.get(row["channel"], row["channel"]), **row}
            for row in rows
        ]
    field = {"service": "service", "category": "category"}[dimension]
    name = "service__name" if field == "service" else "category__path"
    polish = "service__name_pl" if field == "service" else "category__path_pl"
    rows = (
        created.values(f"{field}_id", name, polish)
        .annotate(count=Count("id"))
        .order_by("-count", name)
    )
    if field == "service":
        rows = rows[:TOP_SERVICES]
    return [
        {
            "key": row[f"{field}_id"],
            "label": in_reader_language(row[name] or "", row[polish] or ""),
            "count": row["count"],
        }
        for row in rows
    ]


def agent_scorecards(filters: ReportFilter) -> list[dict]:
    """Per agent: tickets resolved in the period as assignee, of them solved on first contact,
    their resolution clocks met / (met + breached), and calls answered with the average
    talk time (handling time). Two queries."""
    tickets = (
        Ticket.objects.filter(
            ticket_condition(filters),
            _in_period("resolved_at", filters),
            resolved_at__isnull=False,
            assignee__isnull=False,
        )
        .values("assignee_id")
        .annotate(
            handled=Count("id", distinct=True),
            first_contact=Count("id", filter=Q(first_contact_resolution=True), distinct=True),
            met=Count(
                "sla_clocks",
                filter=Q(sla_clocks__target=Target.RESOLUTION, sla_clocks__outcome=Outcome.MET),
            ),
            breached=Count(
                "sla_clocks",
                filter=Q(
                    sla_clocks__target=Target.RESOLUTION, sla_clocks__outcome=Outcome.BREACHED
                ),
            ),
        )
        .order_by("-handled")[:TOP_AGENTS]
    )
    talk = TALK_TIME
    calls = (
        inbound_calls(filters)
        .filter(answered_by__isnull=False, answered_at__isnull=False, ended_at__isnull=False)
        .values("answered_by_id")
        .annotate(answered=Count("id"), handling=Avg(talk))
        .order_by("-answered")[:TOP_AGENTS]
    )
    agents: dict[int, dict] = {}
    for row in tickets:
        agents[row["assignee_id"]] = {
            "user_id": row["assignee_id"],
            "handled": row["handled"],
            "first_contact": row["first_contact"],
            "sla_percent": _share(row["met"], row["met"] + row["breached"]),
            "answered": 0,
            "handling": None,
        }
    for row in calls:
        agent = agents.setdefault(
            row["answered_by_id"],
            {
                "user_id": row["answered_by_id"],
                "handled": 0,
                "first_contact": 0,
                "sla_percent": None,
                "answered": 0,
                "handling": None,
            },
        )
        agent["answered"] = row["answered"]
        agent["handling"] = duration_value(row["handling"])
    return sorted(agents.values(), key=lambda a: (-a["handled"], -a["answered"], a["user_id"]))


# --- calls ------------------------------------------------------------------------------------


def call_condition(filters: ReportFilter) -> Q:
    """Site and group narrow calls through their queue; service and channel do not apply."""
    condition = Q()
    if filters.site_id:
        condition &= Q(queue__site_id=filters.site_id)
    if filters.group_id:
        condition &= Q(queue__support_group_id=filters.group_id)
    return condition


def inbound_calls(filters: ReportFilter) -> QuerySet[Call]:
    return Call.objects.filter(
        call_condition(filters),
        _in_period("started_at", filters),
        direction=Call.Direction.INBOUND,
    )


def call_figures(filters: ReportFilter, *, answer_seconds: int | None = None) -> dict:
    """Answered / missed / abandoned, wait (mean, 90th percentile) and service level
    (three queries)."""
    if answer_seconds is None:
        answer_seconds = settings.SLA_CALL_ANSWER_SECONDS
    calls = inbound_calls(filters)
    wait = WAIT_TIME
    answered = calls.filter(answered_at__isnull=False)
    counts = calls.aggregate(
        total=Count("id"),
        ended=Count("id", filter=Q(state=Call.State.ENDED)),
        answered=Count("id", filter=Q(outcome=Call.Outcome.ANSWERED)),
        missed=Count("id", filter=Q(outcome=Call.Outcome.MISSED)),
        abandoned=Count("id", filter=Q(outcome=Call.Outcome.ABANDONED)),
        other=Count(
            "id", filter=Q(outcome__in=[Call.Outcome.BUSY, Call.Outcome.REJECTED, "voicemail"])
        ),
        in_time=Count(
            "id",
            filter=Q(
                outcome=Call.Outcome.ANSWERED,
                answered_at__isnull=False,
                answered_at__lte=F("started_at") + timedelta(seconds=answer_seconds),
            ),
        ),
    )
    waits = answered.aggregate(count=Count("id"), mean=Avg(wait))
    return {
        **counts,
        "answer_seconds": answer_seconds,
        "service_level": _share(counts["in_time"], counts["ended"]),
        "wait_mean": duration_value(waits["mean"]),
        "wait_p90": duration_value(nth_value(answered, wait, 0.9, waits["count"])),
    }


def calls_heatmap(filters: ReportFilter) -> list[list[int]]:
    """Inbound calls per weekday (Monday first) and hour of the day, in the current time
    zone (one query)."""
    zone = timezone.get_current_timezone()
    rows = (
        inbound_calls(filters)
        .annotate(
            weekday=ExtractWeekDay("started_at", tzinfo=zone),
            hour=ExtractHour("started_at", tzinfo=zone),
        )
        .values("weekday", "hour")
        .annotate(count=Count("id"))
        .order_by()
    )
    grid = [[0] * 24 for _day in range(7)]
    for row in rows:
        # ExtractWeekDay: 1 = Sunday ... 7 = Saturday.
        grid[(row["weekday"] + 5) % 7][row["hour"]] = row["count"]
    return grid
