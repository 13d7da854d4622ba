"""The dashboard's summary: its period figures counted per day, rebuilt by beat.

At 1,000,000 tickets a week holds some 230,000 new tickets, 1.4 million timeline entries,
270,000 stopped clocks and 80,000 calls: counting them for every page is seconds. So the
counts of each day (``settings.TIME_ZONE``) are kept per combination of the dashboard's
narrowing (site, group, service, channel; category for the table by category) in
``DashboardTicketDay``, per agent in ``DashboardAgentDay`` and per hour, queue and agent
in ``DashboardCallHour``. ``dashboard_summary_refresh`` rebuilds whole days from the base
rows with the same definitions as ``sla.reports`` (beat: today and yesterday every five
minutes, the last 31 days every night), and ``DashboardRefresh`` records when each day was
rebuilt.

A period is read from the summary when every one of its days has been summarised and its
bounds are midnights of the summary's time zone; the page then says "figures as of HH:MM"
(the oldest rebuild of a day that had not ended yet). Otherwise (a reader in another time
zone, a day never summarised: the embedded run without beat) the figures come from the base
rows (``sla.reports``). The medians of time to resolve and the 90th-percentile wait come
from the summary too, exact: a row per resolved ticket (``DashboardResolveTime``) and the
answered calls counted per second of wait (``DashboardCallWait``). The backlog and the
breaches are "now": they come from the snapshot that beat takes every minute.

What the summary can miss until its day is rebuilt again: events of a summarised day
after its rebuild (at most five minutes for today), and a change of a ticket's group,
service, channel, category or caller's site after the rebuild of the days it counts in
(tickets created or resolved more than a day ago: until the nightly rebuild, or for ever
for days older than 31).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from cti.models import Call
from helpdesk.models import SupportGroup, in_reader_language
from sla import reports
from sla.models import (
    DashboardAgentDay,
    DashboardCallHour,
    DashboardCallWait,
    DashboardOpenCount,
    DashboardRefresh,
    DashboardResolveTime,
    DashboardSnapshot,
    DashboardTicketDay,
    SlaClock,
    Target,
)
from sla.reports import ReportFilter, duration_value, nth_value
from tickets.models import OPEN_STATUSES, Channel, Ticket, TimelineEntry

Outcome = SlaClock.Outcome
TICKET_KEYS = ("site_id", "group_id", "service_id", "category_id", "channel")
AGENT_KEYS = ("site_id", "group_id", "service_id", "channel", "assignee_id")
CLOCK_COLUMNS = [
    (target, outcome, f"{target}_{outcome}")
    for target in Target.values
    for outcome in (Outcome.MET, Outcome.BREACHED)
]


def summary_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=summary_zone())


# --- rebuilding -----------------------------------------------------------------------------


def _sum(rows: dict, key: tuple, values: dict) -> None:
    target = rows.setdefault(key, {})
    for name, value in values.items():
        if value:
            target[name] = target[name] + value if name in target else value


def _ticket_values(queryset: QuerySet, day_field: str, prefix: str, keys, **aggregates):
    """``queryset`` grouped by the day of ``day_field`` and the ticket's narrowing (reached
    through ``prefix``): ``(key, {aggregate: value})`` pairs."""
    paths = {
        "site_id": f"{prefix}caller__site_id",
        "group_id": f"{prefix}group_id",
        "service_id": f"{prefix}service_id",
        "category_id": f"{prefix}category_id",
        "channel": f"{prefix}channel",
        "assignee_id": f"{prefix}assignee_id",
    }
    rows = (
        queryset.annotate(_day=TruncDate(day_field, tzinfo=summary_zone()))
        .values("_day", *[paths[key] for key in keys])
        .annotate(**aggregates)
        .order_by()
    )
    for row in rows:
        yield (
            (row["_day"], *[row[paths[key]] for key in keys]),
            {name: row[name] for name in aggregates},
        )


def _ticket_days(start: datetime, end: datetime) -> dict[tuple, dict]:
    """Each figure with the definition of ``sla.reports``, per day and narrowing."""
    rows: dict[tuple, dict] = {}
    sources = [
        _ticket_values(
            Ticket.objects.filter(created_at__gte=start, created_at__lt=end),
            "created_at",
            "",
            TICKET_KEYS,
            created=Count("id"),
        ),
        _ticket_values(
            Ticket.objects.filter(resolved_at__gte=start, resolved_at__lt=end),
            "resolved_at",
            "",
            TICKET_KEYS,
            resolved=Count("id"),
            first_contact=Count("id", filter=Q(first_contact_resolution=True)),
            resolve_time=Sum(reports.CALENDAR_TIME),
        ),
        _ticket_values(
            TimelineEntry.objects.filter(
                Q(transition__in=["resolve", "reopen"]) | Q(kind=TimelineEntry.Kind.TRANSFER),
                created_at__gte=start,
                created_at__lt=end,
            ),
            "created_at",
            "ticket__",
            TICKET_KEYS,
            resolves=Count("id", filter=Q(transition="resolve")),
            reopens=Count("id", filter=Q(transition="reopen")),
            transfers=Count("id", filter=Q(kind=TimelineEntry.Kind.TRANSFER)),
        ),
        _ticket_values(
            SlaClock.objects.filter(
                stopped_at__gte=start,
                stopped_at__lt=end,
                outcome__in=[Outcome.MET, Outcome.BREACHED],
            ),
            "stopped_at",
            "ticket__",
            TICKET_KEYS,
            **{
                column: Count("id", filter=Q(target=target, outcome=outcome))
                for target, outcome, column in CLOCK_COLUMNS
            },
            business_count=Count("id", filter=Q(target=Target.RESOLUTION, margin__isnull=False)),
            business_time=Sum(
                reports.BUSINESS_TIME, filter=Q(target=Target.RESOLUTION, margin__isnull=False)
            ),
        ),
    ]
    for source in sources:
        for key, values in source:
            _sum(rows, key, values)
    return rows


def _agent_days(start: datetime, end: datetime) -> dict[tuple, dict]:
    rows: dict[tuple, dict] = {}
    source = _ticket_values(
        Ticket.objects.filter(resolved_at__gte=start, resolved_at__lt=end, assignee__isnull=False),
        "resolved_at",
        "",
        AGENT_KEYS,
        handled=Count("id", distinct=True),
        first_contact=Count("id", filter=Q(first_contact_resolution=True), distinct=True),
        met=Count(
            "sla_clocks",
            filter=Q(sla_clocks__target=Target.RESOLUTION, sla_clocks__outcome=Outcome.MET),
        ),
        breached=Count(
            "sla_clocks",
            filter=Q(sla_clocks__target=Target.RESOLUTION, sla_clocks__outcome=Outcome.BREACHED),
        ),
    )
    for key, values in source:
        _sum(rows, key, values)
    return rows


def _call_hours(start: datetime, end: datetime) -> dict[tuple, dict]:
    zone = summary_zone()
    answer = timedelta(seconds=settings.SLA_CALL_ANSWER_SECONDS)
    answered = Q(answered_at__isnull=False)
    talked = Q(answered_by__isnull=False, answered_at__isnull=False, ended_at__isnull=False)
    rows = (
        Call.objects.filter(
            direction=Call.Direction.INBOUND, started_at__gte=start, started_at__lt=end
        )
        .annotate(
            _day=TruncDate("started_at", tzinfo=zone), _hour=ExtractHour("started_at", tzinfo=zone)
        )
        .values("_day", "_hour", "queue_id", "answered_by_id")
        .annotate(
            total=Count("id"),
            ended=Count("id", filter=Q(state=Call.State.ENDED)),
            answered=Count("id", filter=Q(outcome=Call.Outcome.ANSWERED)),
            missed=Count("id", filter=Q(outcome=Call.Outcome.MISSED)),
            abandoned=Count("id", filter=Q(outcome=Call.Outcome.ABANDONED)),
            other=Count(
                "id",
                filter=Q(outcome__in=[Call.Outcome.BUSY, Call.Outcome.REJECTED, "voicemail"]),
            ),
            in_time=Count(
                "id",
                filter=Q(
                    outcome=Call.Outcome.ANSWERED,
                    answered_at__isnull=False,
                    answered_at__lte=F("started_at") + answer,
                ),
            ),
            wait_count=Count("id", filter=answered),
            wait_time=Sum(reports.WAIT_TIME, filter=answered),
            talk_count=Count("id", filter=talked),
            talk_time=Sum(reports.TALK_TIME, filter=talked),
        )
        .order_by()
    )
    result: dict[tuple, dict] = {}
    for row in rows:
        key = (row.pop("_day"), row.pop("_hour"), row.pop("queue_id"), row.pop("answered_by_id"))
        _sum(result, key, row)
    return result


def _call_waits(start: datetime, end: datetime) -> Counter:
    """Answered inbound calls per day, queue and whole seconds of wait."""
    zone = summary_zone()
    waits: Counter = Counter()
    rows = (
        Call.objects.filter(
            direction=Call.Direction.INBOUND,
            started_at__gte=start,
            started_at__lt=end,
            answered_at__isnull=False,
        )
        .values_list("started_at", "queue_id", "answered_at")
        .order_by()
    )
    for started, queue, answered in rows.iterator(chunk_size=5000):
        seconds = max(0, int((answered - started).total_seconds()))
        waits[(started.astimezone(zone).date(), queue, seconds)] += 1
    return waits


_RESOLVE_COLUMNS = ("day", "kind", "site", "group", "service", "channel", "duration")


def _resolve_times(start: datetime, end: datetime) -> int:
    """Write a ``DashboardResolveTime`` row per ticket resolved and per resolution clock
    stopped met or breached from ``start`` to ``end`` (one ``INSERT ... SELECT`` each, with
    the definitions of ``reports.resolved_tickets`` and ``reports.resolution_clocks``);
    returns the number of rows."""
    zone = summary_zone()
    resolved = Ticket.objects.filter(resolved_at__gte=start, resolved_at__lt=end).annotate(
        _day=TruncDate("resolved_at", tzinfo=zone),
        _kind=Value(DashboardResolveTime.Kind.CALENDAR.value, output_field=IntegerField()),
        _site=F("caller__site_id"),
        _group=F("group_id"),
        _service=F("service_id"),
        _channel=F("channel"),
        _duration=reports.CALENDAR_TIME,
    )
    stopped = SlaClock.objects.filter(
        stopped_at__gte=start,
        stopped_at__lt=end,
        target=Target.RESOLUTION,
        outcome__in=[Outcome.MET, Outcome.BREACHED],
        margin__isnull=False,
    ).annotate(
        _day=TruncDate("stopped_at", tzinfo=zone),
        _kind=Value(DashboardResolveTime.Kind.BUSINESS.value, output_field=IntegerField()),
        _site=F("ticket__caller__site_id"),
        _group=F("ticket__group_id"),
        _service=F("ticket__service_id"),
        _channel=F("ticket__channel"),
        _duration=reports.BUSINESS_TIME,
    )
    meta = DashboardResolveTime._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _RESOLVE_COLUMNS)
    written = 0
    with connection.cursor() as cursor:
        for source in (resolved, stopped):
            select = source.order_by().values_list(*[f"_{name}" for name in _RESOLVE_COLUMNS])
            sql, params = select.query.sql_with_params()
            # Column names from the model, the SELECT compiled by the ORM: nothing from input.
            cursor.execute(f"INSERT INTO {quote(meta.db_table)} ({columns}) {sql}", params)
            written += max(cursor.rowcount, 0)
    return written


def _durations(values: dict, *names: str) -> dict:
    for name in names:
        if name in values:
            values[name] = duration_value(values[name]) or timedelta(0)
    return values


@transaction.atomic
def dashboard_summary_refresh(*, first: date, last: date, now: datetime | None = None) -> int:
    """Rebuild the summary of the days ``first`` to ``last`` (``settings.TIME_ZONE``) from
    the base rows; returns the number of summary rows written. Concurrent rebuilds wait for
    each other (a transaction-level advisory lock on PostgreSQL)."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('sla.dashboard_summary'))")
    start, end = _midnight(first), _midnight(last + timedelta(days=1))
    days = {"day__gte": first, "day__lte": last}
    for model in (
        DashboardTicketDay,
        DashboardAgentDay,
        DashboardCallHour,
        DashboardCallWait,
        DashboardResolveTime,
    ):
        model.objects.filter(**days).delete()
    resolve_times = _resolve_times(start, end)
    tickets = [
        DashboardTicketDay(
            day=key[0],
            **dict(zip(TICKET_KEYS, key[1:], strict=True)),
            **_durations(values, "resolve_time", "business_time"),
        )
        for key, values in _ticket_days(start, end).items()
    ]
    for row in tickets:
        row.channel = row.channel or ""
    agents = [
        DashboardAgentDay(day=key[0], **dict(zip(AGENT_KEYS, key[1:], strict=True)), **values)
        for key, values in _agent_days(start, end).items()
    ]
    calls = [
        DashboardCallHour(
            day=key[0],
            hour=key[1],
            queue_id=key[2],
            answered_by_id=key[3],
            **_durations(values, "wait_time", "talk_time"),
        )
        for key, values in _call_hours(start, end).items()
    ]
    waits = [
        DashboardCallWait(day=day, queue_id=queue, seconds=seconds, calls=count)
        for (day, queue, seconds), count in _call_waits(start, end).items()
    ]
    for model, objects in (
        (DashboardTicketDay, tickets),
        (DashboardAgentDay, agents),
        (DashboardCallHour, calls),
        (DashboardCallWait, waits),
    ):
        model.objects.bulk_create(objects, batch_size=2000)
    day = first
    while day <= last:
        DashboardRefresh.objects.update_or_create(day=day, defaults={"refreshed_at": now})
        day += timedelta(days=1)
    return len(tickets) + len(agents) + len(calls) + len(waits) + resolve_times


@transaction.atomic
def dashboard_snapshot_refresh(*, now: datetime | None = None) -> int:
    """Count the backlog and the running clocks (breached, near) now, per narrowing, for the
    dashboard's "now" tables; returns the number of rows written."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('sla.dashboard_snapshot'))")
    keys = ("caller__site_id", "group_id", "service_id", "channel", "priority")
    rows = [
        DashboardOpenCount(
            site_id=row["caller__site_id"],
            group_id=row["group_id"],
            service_id=row["service_id"],
            channel=row["channel"] or "",
            priority=row["priority"],
            open=row["open"],
        )
        for row in Ticket.objects.filter(status__in=OPEN_STATUSES)
        .values(*keys)
        .annotate(open=Count("id"))
        .order_by()
    ]
    running = reports.running_clocks(ReportFilter(start=now, end=now))
    clock_keys = [f"ticket__{key}" for key in keys[:-1]]
    rows += [
        DashboardOpenCount(
            site_id=row["ticket__caller__site_id"],
            group_id=row["ticket__group_id"],
            service_id=row["ticket__service_id"],
            channel=row["ticket__channel"] or "",
            target=row["target"],
            running=row["running"],
            breached=row["breached"],
            near=row["near"],
        )
        for row in running.values(*clock_keys, "target")
        .annotate(**reports.running_clock_counts(running, now))
        .order_by()
    ]
    DashboardOpenCount.objects.all().delete()
    DashboardSnapshot.objects.all().delete()
    DashboardOpenCount.objects.bulk_create(rows, batch_size=2000)
    DashboardSnapshot.objects.create(taken_at=now)
    return len(rows)


def dashboard_summary_refresh_recent(*, days: int, now: datetime | None = None) -> int:
    """Rebuild the last ``days`` days, today included (the beat job)."""
    now = now or timezone.now()
    today = now.astimezone(summary_zone()).date()
    return dashboard_summary_refresh(
        first=today - timedelta(days=max(days, 1) - 1), last=today, now=now
    )


# --- reading --------------------------------------------------------------------------------


def summary_as_of(filters: ReportFilter) -> datetime | None:
    """When the summary's figures for ``filters`` were current (the oldest rebuild of a day
    that had not ended then), or None when the summary cannot answer for this period (one
    query)."""
    if timezone.get_current_timezone_name() != settings.TIME_ZONE:
        return None
    zone = summary_zone()
    first = filters.start.astimezone(zone).date()
    last = (filters.end.astimezone(zone) - timedelta(microseconds=1)).date()
    if filters.start != _midnight(first) or filters.end != _midnight(last + timedelta(days=1)):
        return None
    refreshed = dict(
        DashboardRefresh.objects.filter(day__gte=first, day__lte=last).values_list(
            "day", "refreshed_at"
        )
    )
    if len(refreshed) != (last - first).days + 1:
        return None
    unfinished = [at for day, at in refreshed.items() if at < _midnight(day + timedelta(days=1))]
    return min(unfinished) if unfinished else max(refreshed.values())


def snapshot_taken_at(*, now: datetime | None = None) -> datetime | None:
    """When the backlog and the breaches were last counted, or None when never or longer ago
    than ``SLA_DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS`` (then the page counts them itself)."""
    now = now or timezone.now()
    taken = DashboardSnapshot.objects.order_by("-taken_at").values_list("taken_at", flat=True)
    taken_at = next(iter(taken[:1]), None)
    max_age = timedelta(seconds=settings.SLA_DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS)
    return taken_at if taken_at and now - taken_at <= max_age else None


def _narrowed(model, filters: ReportFilter) -> QuerySet:
    condition = Q()
    if filters.site_id:
        condition &= Q(site_id=filters.site_id)
    if filters.group_id:
        condition &= Q(group_id=filters.group_id)
    if filters.service_id:
        condition &= Q(service_id=filters.service_id)
    if filters.channel:
        condition &= Q(channel=filters.channel)
    return model.objects.filter(condition)


def backlog(filters: ReportFilter) -> dict:
    """As ``reports.backlog``, from the latest snapshot (one query)."""
    rows = (
        _narrowed(DashboardOpenCount, filters)
        .filter(target="", open__gt=0)
        .values("group_id", "group__name", "group__name_pl", "priority")
        .annotate(count=Sum("open"))
        .order_by("group__name", "priority")
    )
    return reports.backlog_table(rows)


def breaches(filters: ReportFilter) -> list[dict]:
    """As ``reports.breaches``, from the latest snapshot (one query)."""
    counts = (
        _narrowed(DashboardOpenCount, filters)
        .exclude(target="")
        .values("target")
        .annotate(breached=Sum("breached"), near=Sum("near"), running=Sum("running"))
        .order_by()
    )
    return reports.breaches_table(counts)


def _days(model, filters: ReportFilter) -> QuerySet:
    zone = summary_zone()
    return _narrowed(model, filters).filter(
        day__gte=filters.start.astimezone(zone).date(),
        day__lt=filters.end.astimezone(zone).date(),
    )


def _call_days(model, filters: ReportFilter) -> QuerySet:
    zone = summary_zone()
    condition = Q(
        day__gte=filters.start.astimezone(zone).date(),
        day__lt=filters.end.astimezone(zone).date(),
    )
    if filters.site_id:
        condition &= Q(queue__site_id=filters.site_id)
    if filters.group_id:
        condition &= Q(queue__support_group_id=filters.group_id)
    return model.objects.filter(condition)


def _totals(queryset: QuerySet, *names: str) -> dict:
    totals = queryset.aggregate(**{name: Sum(name) for name in names})
    return {name: value or 0 for name, value in totals.items()}


def _mean(total, count: int) -> timedelta | None:
    total = duration_value(total) if total else timedelta(0)
    return total / count if count else None


def compliance(filters: ReportFilter) -> list[dict]:
    """As ``reports.compliance``, from the summary (one query)."""
    totals = _totals(_days(DashboardTicketDay, filters), *[c for _t, _o, c in CLOCK_COLUMNS])
    result = []
    for target in Target:
        met, breached = totals[f"{target.value}_met"], totals[f"{target.value}_breached"]
        result.append(
            {
                "target": target.value,
                "label": target.label,
                "met": met,
                "breached": breached,
                "percent": reports._share(met, met + breached),
            }
        )
    return result


def medians(filters: ReportFilter) -> tuple[timedelta | None, timedelta | None]:
    """The calendar and the business median time to resolve, exact, from the summary's
    times to resolve (``DashboardResolveTime``: an index-only scan of the period's rows,
    where the base rows meant joining a week's clocks to a group's 575,000 tickets at 1M),
    kept in the cache until the period's summary is rebuilt: the key holds the latest
    rebuild of its days (one query when cached, three when not)."""
    zone = summary_zone()
    rebuilt = DashboardRefresh.objects.filter(
        day__gte=filters.start.astimezone(zone).date(),
        day__lt=filters.end.astimezone(zone).date(),
    ).aggregate(at=Max("refreshed_at"))["at"]
    narrowing = (filters.site_id, filters.group_id, filters.service_id, filters.channel)
    key = "sla:dashboard:medians:" + ":".join(
        str(part)
        for part in (
            filters.start.timestamp(),
            filters.end.timestamp(),
            rebuilt.timestamp() if rebuilt else "",
            *narrowing,
        )
    )
    cached = cache.get(key)
    if cached is None:
        times = _days(DashboardResolveTime, filters)
        cached = (
            percentile(times.filter(kind=DashboardResolveTime.Kind.CALENDAR), F("duration"), 0.5),
            percentile(times.filter(kind=DashboardResolveTime.Kind.BUSINESS), F("duration"), 0.5),
        )
        cache.set(key, cached, timeout=settings.SLA_DASHBOARD_MEDIANS_CACHE_SECONDS)
    return cached


def warm_medians(*, now: datetime | None = None) -> int:
    """Compute the medians of the default period (the last seven days) for every group and
    for each active support group into the cache, so that the first page of those views
    after a rebuild does not wait for them; returns the number of views."""
    today = (now or timezone.now()).astimezone(summary_zone()).date()
    groups = [None, *SupportGroup.objects.filter(is_active=True).values_list("pk", flat=True)]
    with timezone.override(summary_zone()):
        for group in groups:
            medians(ReportFilter.for_days(today - timedelta(days=6), today, group_id=group))
    return len(groups)


def resolution_times(filters: ReportFilter) -> dict:
    """As ``reports.resolution_times``: counts and means from the summary, the medians from
    the base rows or the cache (two or four queries)."""
    totals = _totals(
        _days(DashboardTicketDay, filters),
        "resolved",
        "resolve_time",
        "business_count",
        "business_time",
    )
    calendar_median, business_median = medians(filters)
    return {
        "count": totals["resolved"],
        "calendar_mean": _mean(totals["resolve_time"], totals["resolved"]),
        "calendar_median": calendar_median,
        "business_count": totals["business_count"],
        "business_mean": _mean(totals["business_time"], totals["business_count"]),
        "business_median": business_median,
    }


def ticket_rates(filters: ReportFilter) -> dict:
    """As ``reports.ticket_rates``, from the summary (one query)."""
    totals = _totals(
        _days(DashboardTicketDay, filters),
        "resolved",
        "first_contact",
        "resolves",
        "reopens",
        "transfers",
        "created",
    )
    created, transfers = totals["created"], totals["transfers"]
    return {
        **totals,
        "first_contact_percent": reports._share(totals["first_contact"], totals["resolved"]),
        "reopen_percent": reports._share(totals["reopens"], totals["resolves"]),
        "transfers_per_ticket": round(transfers / created, 2) if created else None,
    }


def tickets_by(filters: ReportFilter, dimension: str) -> list[dict]:
    """As ``reports.tickets_by``, from the summary (one query)."""
    days = _days(DashboardTicketDay, filters).filter(created__gt=0)
    if dimension == "channel":
        labels = dict(Channel.choices)
        rows = days.values("channel").annotate(count=Sum("created")).order_by("-count", "channel")
        return [
            {"key": row["channel"], "label": labels.get(row["channel"], row["channel"]), **row}
            for row in rows
        ]
    field = {"service": "service", "category": "category"}[dimension]
    name = "service__name" if field == "service" else "category__path"
    polish = "service__name_pl" if field == "service" else "category__path_pl"
    rows = (
        days.values(f"{field}_id", name, polish)
        .annotate(count=Sum("created"))
        .order_by("-count", name)
    )
    if field == "service":
        rows = rows[: reports.TOP_SERVICES]
    return [
        {
            "key": row[f"{field}_id"],
            "label": in_reader_language(row[name] or "", row[polish] or ""),
            "count": row["count"],
        }
        for row in rows
    ]


def agent_scorecards(filters: ReportFilter) -> list[dict]:
    """As ``reports.agent_scorecards``, from the summary (two queries)."""
    tickets = (
        _days(DashboardAgentDay, filters)
        .values("assignee_id")
        .annotate(
            handled=Sum("handled"),
            first_contact=Sum("first_contact"),
            met=Sum("met"),
            breached=Sum("breached"),
        )
        .order_by("-handled")[: reports.TOP_AGENTS]
    )
    calls = (
        _call_days(DashboardCallHour, filters)
        .filter(answered_by__isnull=False, talk_count__gt=0)
        .values("answered_by_id")
        .annotate(answered=Sum("talk_count"), talk=Sum("talk_time"))
        .order_by("-answered")[: reports.TOP_AGENTS]
    )
    empty = {"handled": 0, "first_contact": 0, "sla_percent": None, "answered": 0, "handling": None}
    agents: dict[int, dict] = {}
    for row in tickets:
        agents[row["assignee_id"]] = {
            **empty,
            "user_id": row["assignee_id"],
            "handled": row["handled"],
            "first_contact": row["first_contact"],
            "sla_percent": reports._share(row["met"], row["met"] + row["breached"]),
        }
    for row in calls:
        agent = agents.setdefault(
            row["answered_by_id"], {**empty, "user_id": row["answered_by_id"]}
        )
        agent["answered"] = row["answered"]
        agent["handling"] = _mean(row["talk"], row["answered"])
    return sorted(agents.values(), key=lambda a: (-a["handled"], -a["answered"], a["user_id"]))


def call_figures(filters: ReportFilter) -> dict:
    """As ``reports.call_figures``: counts and the mean wait from the summary, the 90th
    percentile wait from the base rows (three queries)."""
    totals = _totals(
        _call_days(DashboardCallHour, filters),
        "total",
        "ended",
        "answered",
        "missed",
        "abandoned",
        "other",
        "in_time",
        "wait_count",
        "wait_time",
    )
    wait_count, wait_time = totals.pop("wait_count"), totals.pop("wait_time")
    return {
        **totals,
        "answer_seconds": settings.SLA_CALL_ANSWER_SECONDS,
        "service_level": reports._share(totals["in_time"], totals["ended"]),
        "wait_mean": _mean(wait_time, wait_count),
        "wait_p90": _wait_percentile(filters, 0.9),
    }


class PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile: the first value whose rank reaches ``share`` of
    the rows, the same value as ``reports.nth_value``, in one pass."""

    function = "percentile_disc"
    template = "%(function)s(%(share)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, share: float, **extra):
        super().__init__(expression, share=float(share), **extra)


def percentile(queryset: QuerySet, expression, share: float) -> timedelta | None:
    """The value at ``share`` of ``expression`` over ``queryset`` (nearest rank): one query
    on PostgreSQL, a count and an ``OFFSET`` read elsewhere."""
    if connection.vendor != "postgresql":
        return duration_value(nth_value(queryset, expression, share, queryset.count()))
    value = queryset.aggregate(
        value=PercentileDisc(expression, share=share, output_field=DurationField())
    )["value"]
    return duration_value(value)


def _wait_percentile(filters: ReportFilter, share: float) -> timedelta | None:
    """The wait at ``share`` (nearest rank, as ``reports.nth_value``), in whole seconds."""
    waits = list(
        _call_days(DashboardCallWait, filters)
        .values("seconds")
        .annotate(calls=Sum("calls"))
        .order_by("seconds")
        .values_list("seconds", "calls")
    )
    count = sum(calls for _seconds, calls in waits)
    if not count:
        return None
    index = min(count - 1, max(0, int(-(-share * count // 1)) - 1))
    seen = 0
    for seconds, calls in waits:
        seen += calls
        if seen > index:
            return timedelta(seconds=seconds)
    return None


def calls_heatmap(filters: ReportFilter) -> list[list[int]]:
    """As ``reports.calls_heatmap`` (hours of ``settings.TIME_ZONE``), from the summary."""
    rows = (
        _call_days(DashboardCallHour, filters)
        .values("day", "hour")
        .annotate(count=Sum("total"))
        .order_by()
    )
    grid = [[0] * 24 for _day in range(7)]
    for row in rows:
        grid[row["day"].weekday()][row["hour"]] += row["count"]
    return grid
