"""Fill a PostgreSQL database with a large help desk: 1,000,000 tickets, 200,000 people.

    .venv/bin/python bench/generate.py                 # hd_bench on 127.0.0.1, 1M / 200k
    .venv/bin/python bench/generate.py --reset         # empty the generated data first
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/other .venv/bin/python bench/generate.py \\
        --tickets 100000 --people 20000

It creates the database if needed, migrates it, seeds the demo organisation (sites, groups,
services, categories and the demo logins, password ``demo``) through the ORM, then writes
people, phone numbers, tickets, comments and timeline entries with ``COPY`` (psycopg 3
``cursor.copy()``), in the same shapes ``manage.py seed_demo`` writes them
(:mod:`tickets.demo.stories`). The schema is left as migrations made it: no index or
constraint is dropped. Identity sequences and the ticket number counters are moved past the
generated rows, so tickets created afterwards get the next numbers.

Running it again on a database that already holds the requested sizes does nothing; a
database with some other amount of tickets needs ``--reset``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hd_bench"
CHUNK = 20_000


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1)) as conn:
        conn.autocommit = True
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def psycopg_connect():
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("server_side_binding", None)
    params.pop("prepare_threshold", None)
    conn = psycopg.connect(**params)
    # Bulk load: losing the last commits in a crash is fine, waiting for each flush is not.
    conn.execute("SET synchronous_commit TO off")
    conn.commit()
    return conn


class Copier:
    """COPY rows of a model given some columns; every other column gets its field default."""

    def __init__(self, model, attnames: list[str]):
        from django.db import connection

        self.table = model._meta.db_table
        fields = model._meta.concrete_fields
        by_attname = {f.attname: f for f in fields}
        self.columns = [by_attname[name].column for name in attnames]
        extra = [f for f in fields if f.attname not in attnames]
        self.columns += [f.column for f in extra]
        self.defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in extra)
        missing = [f.column for f, d in zip(extra, self.defaults, strict=True) if d is None]
        not_null = [f.column for f in extra if not f.null and f.column in missing]
        if not_null:
            raise SystemExit(f"{self.table}: no value for NOT NULL columns {not_null}")

    def copy(self, cursor, rows) -> int:
        columns = ", ".join(f'"{c}"' for c in self.columns)
        count = 0
        with cursor.copy(f'COPY "{self.table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row((*row, *self.defaults))
                count += 1
        return count


def reset(conn) -> None:
    from helpdesk.models import Person, PhoneNumber
    from tickets.models import Attachment, Comment, Ticket, TicketCounter, TimelineEntry

    tables = [
        m._meta.db_table
        for m in (TimelineEntry, Attachment, Comment, Ticket, PhoneNumber, Person, TicketCounter)
    ]
    # CASCADE also empties other apps' rows that point at people or tickets (call records):
    # this is a benchmark database.
    conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    conn.commit()
    print("emptied people, tickets, comments, timeline")


def generate_people(conn, count: int, sites: dict, rng: random.Random) -> list:
    from helpdesk.demo.organisation import person_rows
    from helpdesk.models import Person, PhoneNumber
    from helpdesk.phones import normalize_phone
    from tickets.demo.stories import Caller

    start_id = (conn.execute(f'SELECT max(id) FROM "{Person._meta.db_table}"').fetchone()[0]) or 0
    start_phone = (
        conn.execute(f'SELECT max(id) FROM "{PhoneNumber._meta.db_table}"').fetchone()[0] or 0
    )
    person_copier = Copier(
        Person,
        [
            *("id", "full_name", "email", "department", "job_title", "site_id"),
            *("is_vip", "language", "created_at"),
        ],
    )
    phone_copier = Copier(PhoneNumber, ["id", "person_id", "kind", "raw", "e164", "extension"])
    from django.utils import timezone

    now = timezone.now()
    rows = list(person_rows(count, rng=rng, site_codes=list(sites), start=1))
    people, phones, callers = [], [], []
    phone_id = start_phone
    for offset, row in enumerate(rows, start=1):
        person_id = start_id + offset
        people.append(
            (
                person_id,
                row["full_name"],
                row["email"],
                row["department"],
                row["job_title"],
                sites[row["site"]].id,
                row["is_vip"],
                row["language"],
                now,
            )
        )
        for kind, raw in row["phones"]:
            normalized = normalize_phone(raw)
            phone_id += 1
            phones.append((phone_id, person_id, kind, raw, normalized.e164, normalized.extension))
        callers.append(Caller(person_id, None, row["is_vip"]))
    with conn.cursor() as cursor:
        person_copier.copy(cursor, people)
        phone_copier.copy(cursor, phones)
    conn.commit()
    print(f"  {len(people):,} people, {len(phones):,} phone numbers")
    return callers


def generate_tickets(conn, count: int, context, rng: random.Random) -> None:
    from tickets.demo.stories import (
        COMMENT_COLUMNS,
        TICKET_COLUMNS,
        TIMELINE_COLUMNS,
        build_story,
    )
    from tickets.models import TICKET_NUMBER_PREFIX, Comment, Ticket, TicketType, TimelineEntry

    def start(model):
        return conn.execute(f'SELECT max(id) FROM "{model._meta.db_table}"').fetchone()[0] or 0

    ticket_id, comment_id, entry_id = start(Ticket), start(Comment), start(TimelineEntry)
    numbers = dict.fromkeys(TicketType.values, 0)
    for ticket_type, prefix in TICKET_NUMBER_PREFIX.items():
        last = conn.execute(
            f'SELECT max(number) FROM "{Ticket._meta.db_table}" WHERE number LIKE %s',
            [f"{prefix}-%"],
        ).fetchone()[0]
        numbers[ticket_type] = int(last.split("-")[1]) if last else 0
    ticket_copier = Copier(Ticket, ["id", *TICKET_COLUMNS])
    comment_copier = Copier(Comment, ["id", "ticket_id", *COMMENT_COLUMNS])
    entry_copier = Copier(TimelineEntry, ["id", "ticket_id", "comment_id", *TIMELINE_COLUMNS])
    totals = [0, 0, 0]
    started = time.perf_counter()
    done = 0
    while done < count:
        size = min(CHUNK, count - done)
        tickets, comments, entries = [], [], []
        for _ in range(size):
            ticket, story_comments, story_timeline = build_story(rng, context)
            ticket_id += 1
            kind = ticket["type"]
            numbers[kind] += 1
            ticket["number"] = f"{TICKET_NUMBER_PREFIX[kind]}-{numbers[kind]:06d}"
            tickets.append((ticket_id, *(ticket[c] for c in TICKET_COLUMNS)))
            first_comment = comment_id + 1
            for row in story_comments:
                comment_id += 1
                comments.append((comment_id, ticket_id, *(row[c] for c in COMMENT_COLUMNS)))
            for row in story_timeline:
                entry_id += 1
                index = row["comment"]
                linked = first_comment + index if index is not None else None
                entries.append((entry_id, ticket_id, linked, *(row[c] for c in TIMELINE_COLUMNS)))
        with conn.cursor() as cursor:
            totals[0] += ticket_copier.copy(cursor, tickets)
            totals[1] += comment_copier.copy(cursor, comments)
            totals[2] += entry_copier.copy(cursor, entries)
        conn.commit()
        done += size
        if done % 100_000 == 0 or done == count:
            elapsed = time.perf_counter() - started
            print(f"  {done:,} tickets ({done / elapsed:,.0f}/s)", flush=True)
    print(f"  {totals[0]:,} tickets, {totals[1]:,} comments, {totals[2]:,} timeline entries")
    # New tickets continue after the generated numbers.
    from tickets.models import TicketCounter

    for ticket_type, value in numbers.items():
        conn.execute(
            f'INSERT INTO "{TicketCounter._meta.db_table}" (type, value) VALUES (%s, %s) '
            "ON CONFLICT (type) DO UPDATE SET value = GREATEST(EXCLUDED.value, "
            f'"{TicketCounter._meta.db_table}".value)',
            [ticket_type, value],
        )
    conn.commit()


def bump_sequences(conn, models) -> None:
    for model in models:
        table = model._meta.db_table
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)',
            [f'"{table}"'],
        )
    conn.commit()


def fill(conn, *, people: int, tickets: int, seed: int = 42, reset_first: bool = False):
    """Generate into the migrated database behind ``conn``; False when already there."""
    from helpdesk.demo.organisation import seed_organisation
    from helpdesk.models import Person, PhoneNumber
    from tickets.demo.stories import build_context
    from tickets.models import Comment, Ticket, TimelineEntry

    if reset_first:
        reset(conn)
    existing_tickets = Ticket.objects.count()
    existing_people = Person.objects.filter(user__isnull=True).count()
    if existing_tickets == tickets and existing_people >= people:
        print(
            f"already generated: {existing_tickets:,} tickets, {existing_people:,} people; "
            "nothing to do"
        )
        return False
    if existing_tickets or existing_people:
        raise SystemExit(
            f"the database holds {existing_tickets:,} tickets and {existing_people:,} "
            "people; use --reset"
        )
    organisation = seed_organisation()
    rng = random.Random(seed)
    step = time.perf_counter()
    callers = generate_people(conn, people, organisation.sites, rng)
    print(f"people done ({time.perf_counter() - step:.1f} s)")
    step = time.perf_counter()
    context = build_context(callers=callers)
    generate_tickets(conn, tickets, context, rng)
    print(f"tickets done ({time.perf_counter() - step:.1f} s)")
    bump_sequences(conn, [Person, PhoneNumber, Ticket, Comment, TimelineEntry])
    step = time.perf_counter()
    conn.autocommit = True
    for model in (Person, PhoneNumber, Ticket, Comment, TimelineEntry):
        conn.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    conn.autocommit = False
    print(f"vacuum analyze done ({time.perf_counter() - step:.1f} s)")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--reset", action="store_true", help="empty generated data first")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/generate.py needs a PostgreSQL DATABASE_URL")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    begin = time.perf_counter()
    ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
    print(f"migrated ({time.perf_counter() - begin:.1f} s)")
    with psycopg_connect() as conn:
        fill(
            conn,
            people=args.people,
            tickets=args.tickets,
            seed=args.seed,
            reset_first=args.reset,
        )
    print(f"total {time.perf_counter() - begin:.1f} s")


if __name__ == "__main__":
    main()
