"""The SLA sweep over a large register: PostgreSQL, clocks for every open ticket.

    .venv/bin/python bench/generate.py                      # 1M tickets in hd_bench (once)
    .venv/bin/python bench/sla_sweep.py                     # clocks + sweeps, prints figures
    .venv/bin/python bench/sla_sweep.py --runs 10 --reset   # rebuild the clocks first
    createdb -h 127.0.0.1 -U postgres -T hd_bench hd_sweep    # a copy, then 350,000 open:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_sweep \
        .venv/bin/python bench/sla_sweep.py --open 350000 --reset

Uses the tickets ``bench/generate.py`` wrote (DATABASE_URL, default hd_bench). Seeds the SLA
demo (calendars, one policy per priority, thresholds 75 % and 100 %), then writes a first
response (for tickets not answered yet) and a resolution clock for every open ticket with
``COPY``. A clock starts at a random moment of the last ``--spread-days`` days (default 5),
as if every open ticket had been opened then: the generated tickets are up to 90 days old,
and clocks that old would all be long breached, leaving a sweep nothing to do. Thresholds
already passed are written as fired (what ``clocks_start_for_open_tickets`` does at a
roll-out), so each clock waits for its next threshold, computed by ``sla.business_time``.

Then it times sweeps one minute apart (what beat runs every minute: the steady state), and
one sweep an hour later (the catch-up after an hour without beat). Each line: wall time,
alerts written, SQL statements. Notices go to the mail and console listeners as in
production (the mail tasks queue on the broker; no worker is needed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hd_bench"
WARSAW = ZoneInfo("Europe/Warsaw")


def build_clocks(conn, spread_days: float, now, seed: int = 7) -> int:
    import random

    from generate import Copier, bump_sequences

    from sla import demo, services
    from sla.models import SlaAlert, SlaClock, SlaPolicy, Target
    from tickets.models import OPEN_STATUSES, Ticket

    conn.execute(
        f'TRUNCATE "{SlaAlert._meta.db_table}", "{SlaClock._meta.db_table}" RESTART IDENTITY'
    )
    conn.commit()
    # Calendars, policies, thresholds; the ORM backfill is skipped (COPY below instead).
    real = services.clocks_start_for_open_tickets
    services.clocks_start_for_open_tickets = lambda **kwargs: 0
    try:
        demo.seed(stdout=sys.stdout)
    finally:
        services.clocks_start_for_open_tickets = real
    demo._policies()  # one per priority, whatever an older run left
    policies = {p.priority: p for p in SlaPolicy.objects.select_related("calendar")}
    percents = services._thresholds()
    clock_copier = Copier(
        SlaClock,
        [
            "id",
            "ticket_id",
            "target",
            "policy_id",
            "calendar_id",
            "goal",
            "started_at",
            "due_at",
            "next_alert_at",
            "breached_at",
        ],
    )
    alert_copier = Copier(SlaAlert, ["id", "clock_id", "percent", "at", "actions"])
    rows = Ticket.objects.filter(status__in=OPEN_STATUSES).values_list(
        "pk", "priority", "first_response_at"
    )
    rng = random.Random(seed)
    clock_id = alert_id = 0
    clocks, alerts = [], []
    started = time.perf_counter()

    def flush():
        with conn.cursor() as cursor:
            clock_copier.copy(cursor, clocks)
            alert_copier.copy(cursor, alerts)
        conn.commit()
        clocks.clear()
        alerts.clear()

    for pk, priority, first_response_at in rows.iterator(chunk_size=20_000):
        policy = policies[priority]
        begin = now - timedelta(seconds=rng.uniform(0, spread_days * 86400))
        targets = (
            [Target.RESOLUTION] if first_response_at else [Target.FIRST_RESPONSE, Target.RESOLUTION]
        )
        for target in targets:
            clock = SlaClock(goal=policy.goal(target), started_at=begin, calendar=policy.calendar)
            passed = [p for p in percents if services._instant(clock, p / 100) <= now]
            services._schedule_alerts(clock, percents, passed)
            breached = services._instant(clock, 1) if 100 in passed else None
            clock_id += 1
            clocks.append(
                (
                    clock_id,
                    pk,
                    target,
                    policy.pk,
                    policy.calendar_id,
                    clock.goal,
                    begin,
                    clock.due_at,
                    clock.next_alert_at,
                    breached,
                )
            )
            for percent in passed:
                alert_id += 1
                alerts.append((alert_id, clock_id, percent, now, services.ROLL_OUT_NOTE))
        if len(clocks) >= 20_000:
            flush()
    flush()
    bump_sequences(conn, [SlaClock, SlaAlert])
    conn.autocommit = True
    conn.execute(f'VACUUM ANALYZE "{SlaClock._meta.db_table}"')
    conn.execute(f'VACUUM ANALYZE "{SlaAlert._meta.db_table}"')
    conn.autocommit = False
    print(
        f"{clock_id:,} clocks and {alert_id:,} thresholds passed before now written "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return clock_id


def reopen(conn, count: int) -> None:
    """Put ``count`` of the newest finished tickets back in progress (what a register with
    more open work looks like to the sweep: a clock per open ticket)."""
    from tickets.models import OPEN_STATUSES, Ticket

    table = Ticket._meta.db_table
    begin = time.perf_counter()
    conn.execute(
        f"""UPDATE "{table}" SET status = 'in_progress', resolved_at = NULL, closed_at = NULL,
                resolution_code = '', resolution_notes = ''
            WHERE id IN (SELECT id FROM "{table}" WHERE NOT status = ANY(%s)
                         ORDER BY id DESC LIMIT %s)""",
        [[str(status) for status in OPEN_STATUSES], count],
    )
    conn.commit()
    conn.autocommit = True  # VACUUM runs outside a transaction
    conn.execute(f'VACUUM ANALYZE "{table}"')
    conn.autocommit = False
    print(f"reopened {count:,} finished tickets ({time.perf_counter() - begin:.1f} s)")


def working_moment():
    """The next weekday 10:00 in Warsaw that is not a Polish public holiday: office-hours
    clocks move then (at night they all wait for the morning and a sweep has nothing to do)."""
    import holidays
    from django.utils import timezone

    day = timezone.now().astimezone(WARSAW).date() + timedelta(days=1)
    closed = holidays.country_holidays("PL", years=[day.year, day.year + 1])
    while day.weekday() >= 5 or day in closed:
        day += timedelta(days=1)
    return datetime.combine(day, time_of_day(10), tzinfo=WARSAW)


def timed_sweep(now) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sla.services import sla_sweep

    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        begin = time.perf_counter()
        written = sla_sweep(now=now)
        elapsed = time.perf_counter() - begin
    return elapsed, written, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="steady-state sweeps, 1 min apart")
    parser.add_argument("--reset", action="store_true", help="rebuild the clocks")
    parser.add_argument("--spread-days", type=float, default=5.0, help="clock starts spread")
    parser.add_argument(
        "--open",
        type=int,
        default=0,
        help="first reopen the newest finished tickets until this many are open (changes the "
        "database: use a copy)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from generate import psycopg_connect

    from sla.models import SlaClock
    from tickets.models import OPEN_STATUSES, Ticket

    call_command("migrate", verbosity=0)
    at = working_moment()
    print(f"the sweeps run as if it were {at.astimezone(WARSAW):%A %Y-%m-%d %H:%M} in Warsaw")
    conn = psycopg_connect()
    open_tickets = Ticket.objects.filter(status__in=OPEN_STATUSES).count()
    if args.open > open_tickets:
        reopen(conn, args.open - open_tickets)
        open_tickets = Ticket.objects.filter(status__in=OPEN_STATUSES).count()
        args.reset = True
    print(f"{Ticket.objects.count():,} tickets, {open_tickets:,} open")
    if args.reset or not SlaClock.objects.exists():  # (clocks are built around ``at``)
        build_clocks(conn, args.spread_days, at)
    live = SlaClock.objects.filter(stopped_at__isnull=True).count()
    print(f"{live:,} running clocks")
    now = at
    times = []
    for run in range(1, args.runs + 1):
        elapsed, written, queries = timed_sweep(now + timedelta(minutes=run))
        times.append(elapsed)
        print(f"steady sweep {run}: {elapsed * 1000:.1f} ms, {written} alerts, {queries} SQL")
    print(
        f"steady state: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms over {len(times)} runs"
    )
    elapsed, written, queries = timed_sweep(now + timedelta(minutes=args.runs + 60))
    print(
        f"catch-up after an hour without a sweep: {elapsed:.2f} s, {written:,} alerts, "
        f"{queries:,} SQL statements"
    )


if __name__ == "__main__":
    main()
