"""The SLA sweep over a large register: PostgreSQL, clocks for every open ticket.

    .venv/bin/python bench/generate.py                      # 1M tickets in hd_bench (once)
    .venv/bin/python bench/sla_sweep.py                     # clocks + sweeps, prints figures
    .venv/bin/python bench/sla_sweep.py --runs 10 --reset   # rebuild the clocks first

Uses the tickets ``bench/generate.py`` wrote (DATABASE_URL, default hd_bench). Seeds the SLA
demo (calendars, one policy per priority, thresholds 75 % and 100 %), then writes a first
response and a resolution clock for every open ticket with ``COPY``, their due and next
alert times computed by ``sla.business_time`` as the event listener would. Then it times:

1. the catch-up: the first sweep after the clocks exist, which finds every threshold the
   generated (up to 90 days old) tickets have already passed;
2. steady state: sweeps one minute apart after that (what beat runs every minute).

Figures: wall time per run, alerts written, SQL statements per run.
"""

from __future__ import annotations

import argparse
import os
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
    from generate import Copier

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
    # One per priority (the demo's); an older run may have left fewer: fill the gaps.
    demo._policies()
    policies = {p.priority: p for p in SlaPolicy.objects.select_related("calendar")}
    thresholds = services._thresholds()
    copier = Copier(
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
        ],
    )
    rows = Ticket.objects.filter(status__in=OPEN_STATUSES).values_list(
        "pk", "priority", "created_at", "first_response_at"
    )
    count = 0
    batch = []
    started = time.perf_counter()

    def flush():
        with conn.cursor() as cursor:
            copier.copy(cursor, batch)
        conn.commit()
        batch.clear()

    for pk, priority, created_at, first_response_at in rows.iterator(chunk_size=20_000):
        policy = policies[priority]
        targets = (
            [Target.RESOLUTION] if first_response_at else [Target.FIRST_RESPONSE, Target.RESOLUTION]
        )
        for target in targets:
            clock = SlaClock(
                goal=policy.goal(target), started_at=created_at, calendar=policy.calendar
            )
            services._schedule_alerts(clock, thresholds)
            count += 1
            batch.append(
                (
                    count,
                    pk,
                    target,
                    policy.pk,
                    policy.calendar_id,
                    clock.goal,
                    created_at,
                    clock.due_at,
                    clock.next_alert_at,
                )
            )
        if len(batch) >= 20_000:
            flush()
    if batch:
        flush()
    from generate import bump_sequences

    bump_sequences(conn, [SlaClock])
    conn.autocommit = True
    conn.execute(f'VACUUM ANALYZE "{SlaClock._meta.db_table}"')
    conn.autocommit = False
    print(f"{count:,} clocks written in {time.perf_counter() - started:.1f} s")
    return count


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
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from generate import psycopg_connect

    from sla.models import SlaClock
    from tickets.models import OPEN_STATUSES, Ticket

    call_command("migrate", verbosity=0)
    conn = psycopg_connect()
    open_tickets = Ticket.objects.filter(status__in=OPEN_STATUSES).count()
    print(f"{Ticket.objects.count():,} tickets, {open_tickets:,} open")
    if args.reset or not SlaClock.objects.exists():
        build_clocks(conn)
    live = SlaClock.objects.filter(stopped_at__isnull=True).count()
    print(f"{live:,} running clocks")
    now = timezone.now()
    elapsed, written, queries = timed_sweep(now)
    print(f"catch-up sweep: {elapsed:.2f} s, {written:,} alerts, {queries:,} SQL statements")
    times = []
    for run in range(1, args.runs + 1):
        elapsed, written, queries = timed_sweep(now + timedelta(minutes=run))
        times.append(elapsed)
        print(f"steady sweep {run}: {elapsed * 1000:.1f} ms, {written} alerts, {queries} SQL")
    print(
        f"steady state: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms over {len(times)} runs"
    )


if __name__ == "__main__":
    main()
