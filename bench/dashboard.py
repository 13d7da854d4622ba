"""The managers' dashboard over a large register: PostgreSQL, tickets, SLA clocks and calls.

    .venv/bin/python bench/dashboard.py                          # hd_bench: 1M tickets, 1M calls
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_dash .venv/bin/python bench/dashboard.py \\
        --tickets 20000 --people 5000 --calls 20000 --runs 5    # small, to see it work

Tickets, people and timelines come from ``bench/generate.py`` (``fill``; nothing is done
when the database already holds the requested amount). This script adds what the
dashboard reads besides: SLA clocks for every ticket (a first response and a resolution
clock; stopped, met or breached, for answered and resolved tickets, running for the rest;
one ``INSERT ... SELECT``) and ``--calls`` inbound calls over the same 90 days in the queues
of the demo's groups (``COPY``), answered by the demo's agents, some missed or abandoned.

Then it builds what beat keeps (``sla.summary``) and times each step: the day summary of
the last ``--summary-days`` days (the nightly rebuild; default 31, the 30-day period),
today and yesterday (the five-minute rebuild) and the snapshot of the backlog and the
running clocks (every minute). Then it times the whole page (``GET /sla/dashboard/``
through Django's test client as the demo manager: every query, the template, the JSON of
the charts; after one page of today's figures, so that templates and URLs are loaded) for
each scenario:

- default filters (the last 7 days, every group);
- narrow: one group, the last 7 days;
- wide: the last 30 days.

``cold`` is the first request on a new database connection (no prepared statements, no
cached plans, ``DISCARD ALL`` first; PostgreSQL's shared buffers are not emptied: the OS and
the server keep their page caches) with the medians not in Django's cache (the first page
of that filter after a rebuild); ``cold after beat`` the same with the medians beat
computes after each rebuild (the last 7 days, all groups and each group) in the cache.
``warm`` is the median of ``--runs`` repeated requests.
Then the time of each figure alone (warm) and the number of SQL statements of the page.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hd_bench"


def build_clocks(conn) -> int:
    """A first-response and a resolution clock per ticket, outcomes from its own times."""
    from sla.models import BusinessCalendar, SlaClock
    from tickets.models import Ticket

    table, tickets = SlaClock._meta.db_table, Ticket._meta.db_table
    conn.execute(f'TRUNCATE "{table}" RESTART IDENTITY CASCADE')
    conn.commit()
    calendar, _created = BusinessCalendar.objects.get_or_create(
        name="Bench 24x7", defaults={"always_open": True}
    )
    # Goals by priority (P1 4 h ... P5 5 days); the clocks use wall time (a 24x7 calendar).
    goals = "(ARRAY[4, 8, 24, 48, 120])[t.priority] * interval '1 hour'"
    response = "(ARRAY[0.25, 0.5, 1, 4, 8])[t.priority] * interval '1 hour'"
    conn.execute(
        f"""
        INSERT INTO "{table}" (ticket_id, target, calendar_id, goal, started_at, paused_for,
                               due_at, stopped_at, outcome, margin, breached_at)
        SELECT t.id, 'first_response', %(calendar)s, {response}, t.created_at, interval '0',
               CASE WHEN t.first_response_at IS NULL AND t.resolved_at IS NULL
                    THEN t.created_at + {response} END,
               COALESCE(t.first_response_at, t.resolved_at),
               CASE WHEN COALESCE(t.first_response_at, t.resolved_at) IS NULL THEN ''
                    WHEN COALESCE(t.first_response_at, t.resolved_at) - t.created_at
                         <= {response} THEN 'met' ELSE 'breached' END,
               {response} - (COALESCE(t.first_response_at, t.resolved_at) - t.created_at),
               NULL
          FROM "{tickets}" t
        UNION ALL
        SELECT t.id, 'resolution', %(calendar)s, {goals}, t.created_at, interval '0',
               CASE WHEN t.resolved_at IS NULL AND t.status IN ('new', 'assigned',
                    'in_progress') THEN t.created_at + {goals} END,
               COALESCE(t.resolved_at, CASE WHEN t.status = 'cancelled' THEN t.updated_at END),
               CASE WHEN t.resolved_at IS NULL AND t.status = 'cancelled' THEN 'cancelled'
                    WHEN t.resolved_at IS NULL THEN ''
                    WHEN t.resolved_at - t.created_at <= {goals} THEN 'met'
                    ELSE 'breached' END,
               CASE WHEN t.resolved_at IS NOT NULL
                    THEN {goals} - (t.resolved_at - t.created_at) END,
               CASE WHEN t.resolved_at - t.created_at > {goals}
                    THEN t.created_at + {goals} END
          FROM "{tickets}" t
        """,
        {"calendar": calendar.pk},
    )
    # Pending tickets: their resolution clock is paused.
    conn.execute(
        f"""UPDATE "{table}" c SET paused_since = t.updated_at FROM "{tickets}" t
             WHERE c.ticket_id = t.id AND t.status = 'pending' AND c.target = 'resolution'"""
    )
    conn.commit()
    return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def build_calls(conn, count: int, seed: int) -> int:
    """``count`` inbound calls over the last 90 days, busier on weekday office hours."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from generate import Copier

    from cti.models import Call, CallQueue
    from helpdesk.models import SupportGroup

    conn.execute(f'TRUNCATE "{Call._meta.db_table}" RESTART IDENTITY CASCADE')
    conn.commit()
    queues = []
    for group in (
        SupportGroup.objects.filter(tier=SupportGroup.Tier.FIRST)[:3]
        or (SupportGroup.objects.all()[:3])
    ):
        queue, _created = CallQueue.objects.get_or_create(
            code=f"bench-{group.code}"[:40],
            defaults={"name": f"Bench {group.name}"[:120], "support_group": group},
        )
        queues.append(queue.pk)
    agents = list(
        get_user_model()
        .objects.filter(groups__permissions__codename="work_ticket")
        .values_list("pk", flat=True)
        .distinct()[:50]
    ) or [None]
    rng = random.Random(seed)
    now = timezone.now()
    copier = Copier(
        Call,
        [
            "id",
            "call_id",
            "direction",
            "caller_number",
            "queue_id",
            "state",
            "outcome",
            "answered_by_id",
            "started_at",
            "answered_at",
            "ended_at",
        ],
    )
    rows = []
    for number in range(1, count + 1):
        day = rng.randrange(90)
        weekend = (now - timedelta(days=day)).weekday() >= 5
        hour = rng.choice(range(24)) if weekend or rng.random() < 0.1 else rng.randrange(8, 17)
        started = (now - timedelta(days=day)).replace(
            hour=hour, minute=rng.randrange(60), second=rng.randrange(60)
        )
        if started > now:
            started -= timedelta(days=1)
        draw = rng.random()
        if draw < 0.8:
            wait = timedelta(seconds=rng.expovariate(1 / 15))
            outcome, answered = Call.Outcome.ANSWERED, started + wait
            ended = answered + timedelta(seconds=rng.randrange(30, 900))
            agent = rng.choice(agents)
        else:
            outcome = Call.Outcome.MISSED if draw < 0.9 else Call.Outcome.ABANDONED
            answered, agent = None, None
            ended = started + timedelta(seconds=rng.randrange(5, 60))
        rows.append(
            (
                number,
                f"bench-dash-{number}",
                Call.Direction.INBOUND,
                f"+4822{rng.randrange(10**7):07d}",
                rng.choice(queues),
                Call.State.ENDED,
                outcome,
                agent,
                started,
                answered,
                ended,
            )
        )
        if len(rows) == 20_000:
            with conn.cursor() as cursor:
                copier.copy(cursor, rows)
            rows = []
    with conn.cursor() as cursor:
        copier.copy(cursor, rows)
    conn.commit()
    return count


def analyze(conn) -> None:
    from cti.models import Call
    from sla.models import SlaClock

    conn.autocommit = True
    for model in (SlaClock, Call):
        conn.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    conn.autocommit = False


def time_page(client, params: dict, runs: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sla import summary

    def cold_request() -> float:
        connection.close()  # the next request opens a new connection: cold
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("DISCARD ALL")
        begin = time.perf_counter()
        response = client.get("/sla/dashboard/", params)
        took = time.perf_counter() - begin
        assert response.status_code == 200, response.status_code
        assert b'data-testid="dashboard-figures"' in response.content, "filters refused"
        return took

    cache.clear()  # the medians are computed by the page
    cold = cold_request()
    cache.clear()
    step = time.perf_counter()
    views = summary.warm_medians()  # what the beat rebuild does after it
    warming = time.perf_counter() - step
    cold_after_beat = cold_request()
    warm = []
    for _run in range(runs):
        begin = time.perf_counter()
        client.get("/sla/dashboard/", params)
        warm.append(time.perf_counter() - begin)
    with CaptureQueriesContext(connection) as queries:
        client.get("/sla/dashboard/", params)
    return {
        "cold": cold,
        "cold_after_beat": cold_after_beat,
        "warming": warming,
        "views": views,
        "warm": statistics.median(warm),
        "queries": len(queries.captured_queries),
    }


def build_summary(days: int) -> None:
    """What beat keeps: the day summary (nightly: ``days``; every five minutes: two) and the
    snapshot of the "now" figures (every minute), each timed."""
    from sla import summary

    for label, call in (
        (
            f"day summary, {days} days (nightly)",
            lambda: summary.dashboard_summary_refresh_recent(days=days),
        ),
        (
            "day summary, 2 days (every 5 min)",
            lambda: summary.dashboard_summary_refresh_recent(days=2),
        ),
        ("snapshot of backlog and clocks (every min)", summary.dashboard_snapshot_refresh),
    ):
        step = time.perf_counter()
        rows = call()
        print(f"{label:<44} {(time.perf_counter() - step) * 1000:>9.0f} ms  {rows:,} rows")


def time_figures(report_filter, runs: int) -> dict[str, float]:
    from sla import reports, summary

    # The figures as the page reads them: from the summary and the snapshot when they
    # cover the filter, else from the base rows.
    period = summary if summary.summary_as_of(report_filter) else reports
    now = summary if summary.snapshot_taken_at() else reports
    print(f"  (period figures from {period.__name__}, backlog and breaches from {now.__name__})")
    figures = {
        "backlog": lambda: now.backlog(report_filter),
        "compliance": lambda: period.compliance(report_filter),
        "breaches": lambda: now.breaches(report_filter),
        "resolution_times": lambda: period.resolution_times(report_filter),
        "ticket_rates": lambda: period.ticket_rates(report_filter),
        "by_channel": lambda: period.tickets_by(report_filter, "channel"),
        "by_service": lambda: period.tickets_by(report_filter, "service"),
        "by_category": lambda: period.tickets_by(report_filter, "category"),
        "agent_scorecards": lambda: period.agent_scorecards(report_filter),
        "call_figures": lambda: period.call_figures(report_filter),
        "calls_heatmap": lambda: period.calls_heatmap(report_filter),
        # What a page pays when the medians are not in the cache (the first after a rebuild).
        "medians_uncached": lambda: (
            summary.percentile(reports.resolved_tickets(report_filter), reports.CALENDAR_TIME, 0.5),
            summary.percentile(
                reports.resolution_clocks(report_filter), reports.BUSINESS_TIME, 0.5
            ),
        ),
    }
    timings = {}
    for name, figure in figures.items():
        figure()
        samples = []
        for _run in range(max(runs, 1)):
            begin = time.perf_counter()
            figure()
            samples.append(time.perf_counter() - begin)
        timings[name] = statistics.median(samples)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="warm requests per scenario")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rebuild", action="store_true", help="write clocks and calls again")
    parser.add_argument(
        "--summary-days", type=int, default=31, help="days of the day summary to build"
    )
    parser.add_argument(
        "--base-rows",
        action="store_true",
        help="time the page without the summary and the snapshot (figures from the base rows)",
    )
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/dashboard.py needs a PostgreSQL DATABASE_URL")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from generate import ensure_database, fill, psycopg_connect

    ensure_database(url)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from cti.models import Call
    from helpdesk.models import SupportGroup
    from sla.forms import DashboardFilterForm
    from sla.models import SlaClock

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
    with psycopg_connect() as conn:
        step = time.perf_counter()
        fill(conn, people=args.people, tickets=args.tickets, seed=args.seed)
        print(f"tickets ready ({time.perf_counter() - step:.1f} s)")
        if args.rebuild or not SlaClock.objects.exists():
            step = time.perf_counter()
            clocks = build_clocks(conn)
            print(f"{clocks:,} SLA clocks written ({time.perf_counter() - step:.1f} s)")
        if args.rebuild or Call.objects.count() != args.calls:
            step = time.perf_counter()
            build_calls(conn, args.calls, args.seed)
            print(f"{args.calls:,} calls written ({time.perf_counter() - step:.1f} s)")
        analyze(conn)

    from sla.models import DashboardRefresh, DashboardSnapshot

    if args.base_rows:
        DashboardRefresh.objects.all().delete()
        DashboardSnapshot.objects.all().delete()
    else:
        print()
        build_summary(args.summary_days)

    manager = get_user_model().objects.filter(groups__name="manager").first()
    if manager is None:
        raise SystemExit("no demo manager: bench/generate.py seeds one")
    client = Client()
    client.force_login(manager)
    group = SupportGroup.objects.filter(tier=SupportGroup.Tier.FIRST).first()
    scenarios = {
        "default (7 days, all groups)": {},
        f"narrow ({group.name}, 7 days)": {"period": "7d", "group": group.pk},
        "wide (30 days, all groups)": {"period": "30d"},
    }
    from tickets.models import Ticket

    print(
        f"\n{Ticket.objects.count():,} tickets, {SlaClock.objects.count():,} clocks, "
        f"{Call.objects.count():,} calls; {args.runs} warm runs each\n"
    )
    # The process serves one page first (templates compiled, URLs loaded): cold is about
    # the data, not about the first request of a Python process.
    assert client.get("/sla/dashboard/", {"period": "today"}).status_code == 200
    print(
        f"{'scenario':<32} {'cold ms':>8} {'cold after beat':>16} {'warm ms':>8} {'queries':>8}"
        f"  (beat's median warm-up)"
    )
    for name, params in scenarios.items():
        result = time_page(client, params, args.runs)
        print(
            f"{name:<32} {result['cold'] * 1000:>8.0f} {result['cold_after_beat'] * 1000:>16.0f} "
            f"{result['warm'] * 1000:>8.0f} {result['queries']:>8}"
            f"  ({result['views']} views, {result['warming'] * 1000:.0f} ms)"
        )
    for name, params in list(scenarios.items())[:2]:
        form = DashboardFilterForm(params or {"period": "7d"})
        assert form.is_valid(), form.errors
        timings = time_figures(form.report_filter(), args.runs)
        print(f"\nfigures, warm median ms: {name}")
        for figure, seconds in sorted(timings.items(), key=lambda item: -item[1]):
            print(f"  {figure:<20} {seconds * 1000:>8.1f}")


if __name__ == "__main__":
    main()
