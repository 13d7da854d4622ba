"""Fill PostgreSQL database dh_bench for django-helpdesk 2.6.1 with our benchmark's shape.

    bench/peers/django_helpdesk/.venv/bin/python bench/peers/django_helpdesk/generate.py
    .venv/bin/python generate.py --tickets 20000 --people 4000    # smaller
    .venv/bin/python generate.py --reset                          # empty tickets first

Run it with the peer's virtualenv (setup.sh). It creates the database if needed, migrates
it (django-helpdesk's own migrations: its schema and indexes as users get them, nothing
added or dropped), loads django-helpdesk's e-mail templates, creates the staff logins
(``agent`` / ``demo``, is_staff; ``admin`` / ``demo``, superuser; ``agent02`` ..
``agent12`` so that work spreads over 12 agents as in bench/generate.py) and the 6 queues,
then writes tickets, follow-ups and ticket changes with ``COPY`` (psycopg 3
``cursor.copy()``), moves the id sequences past them and runs ``VACUUM ANALYZE``.

The shape follows bench/generate.py (tickets/demo/stories.py): 1,000,000 tickets over the
last 90 days, our 7 states mapped onto django-helpdesk's 5 (new, assigned, in progress,
pending -> Open, pending on hold, a quarter of in-progress -> Reopened; resolved ->
Resolved; closed -> Closed; cancelled -> Closed or Duplicate) with our weights and ages,
~1.9 comments per ticket (our per-state averages) as follow-ups on top of the "Ticket
Opened" follow-up django-helpdesk writes for every ticket, assignment and status changes
as follow-ups with their TicketChange rows as django-helpdesk's update code writes them,
200,000 distinct submitters by e-mail, 6 queues with our group weights, our priority
weights (1 Critical .. 5 Very Low).

Idempotent: the sizes generated are recorded in the Site's name; a second run with the
same sizes does nothing, other sizes need ``--reset``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_PROJECT = HERE / "peer"
CHUNK = 20_000

QUEUES = [
    # (title, slug, weight %): our support groups and their share of tickets
    ("Service Desk", "service-desk", 57.1),
    ("Desktop Support", "desktop-support", 12.8),
    ("Business Applications", "business-applications", 12.1),
    ("Identity & Access", "identity-access", 6.8),
    ("Telephony & Contact Center", "telephony", 5.6),
    ("Network Operations", "network-operations", 5.6),
]
# Priority 1 (Critical) .. 5 (Very Low): the weights of bench/generate.py's tickets.
PRIORITY_WEIGHTS = [0.06, 3.6, 11.7, 67.0, 17.6]
DUE_AFTER = {1: timedelta(hours=4), 2: timedelta(hours=8), 3: timedelta(days=1)}
DUE_AFTER |= {4: timedelta(days=3), 5: timedelta(days=5)}

# Our states, weights and average comments per ticket (measured on hd_bench), and how
# old tickets in each state are (days before now: created in [now - oldest, now - newest]).
STATES = ["new", "assigned", "in_progress", "pending", "resolved", "closed", "cancelled"]
STATE_WEIGHTS = [5, 5, 8, 5, 7, 62, 8]
COMMENTS = {
    "new": (0.30, 0),
    "assigned": (0.54, 0),
    "in_progress": (2.68, 1),
    "pending": (2.71, 1),
    "resolved": (2.17, 1),
    # cancelled has no comment in ours but needs its closing follow-up here: closed is
    # lowered from 2.17 so that the average stays ~1.9.
    "closed": (2.04, 1),
    "cancelled": (1.0, 1),
}
AGE_DAYS = {
    "new": (3, 0),
    "assigned": (3, 0),
    "in_progress": (15, 0),
    "pending": (15, 0),
    "resolved": (10, 0),
    "closed": (90, 7),
    "cancelled": (90, 0),
}

OPEN, REOPENED, RESOLVED, CLOSED, DUPLICATE = 1, 2, 3, 4, 5
STATUS_NAMES = {1: "Open", 2: "Reopened", 3: "Resolved", 4: "Closed", 5: "Duplicate"}

SUBJECTS = {
    "service-desk": [
        ("Password expired and cannot log in", "My Windows password expired over the weekend."),
        ("Outlook keeps asking for my password", "Outlook prompts for credentials every hour."),
        ("Printer on floor 3 jams", "The printer near the kitchen jams on every print job."),
        ("Access to the Finance shared folder", "Please give me read access to the reports."),
        ("Teams meeting has no sound", "Nobody hears me in Teams since this morning."),
        ("New starter needs a laptop", "A new colleague starts on Monday and needs a laptop."),
    ],
    "desktop-support": [
        ("Second monitor not detected on the dock", "The dock only shows one of my monitors."),
        ("Laptop battery drains in an hour", "The battery lasts about an hour now."),
        ("Keyboard keys stuck", "Several keys on my keyboard stick after a coffee spill."),
        ("Laptop very slow after update", "Since the last update everything takes minutes."),
    ],
    "business-applications": [
        ("SAP transaction FB60 ends with a dump", "Posting a vendor invoice ends with an error."),
        ("SAP role for purchase order approval", "I need the approver role for cost centre 4410."),
        ("CRM export times out", "Exporting the customer list from the CRM times out."),
        ("Visio licence", "I need a Visio licence for process diagrams."),
    ],
    "identity-access": [
        ("Account locked", "My account is locked after too many attempts."),
        ("VPN token not accepted", "The VPN rejects my one-time codes."),
        ("Remove access for leaver", "Please remove all access for a colleague who left."),
    ],
    "telephony": [
        ("Desk phone shows 'No service'", "My IP phone shows 'No service' since this morning."),
        ("Company phone does not sync mail", "Outlook on my company phone stopped syncing."),
        ("Call queue greeting is outdated", "The hotline greeting still mentions old hours."),
    ],
    "network-operations": [
        ("Wi-Fi drops on the 4th floor", "The Wi-Fi disconnects every few minutes on floor 4."),
        ("Video system in room 1.02 has no picture", "The room camera shows a black screen."),
        ("Network port in office 2.14 dead", "The wall port in office 2.14 gives no link."),
    ],
}
AGENT_NOTES = [
    "Looking into it now.",
    "Checked the logs, the error is on the server side.",
    "Could you send a screenshot of the message, please?",
    "Escalated to the second line with the diagnostics attached.",
    "Replaced the cable, please test again.",
    "Remote session done, settings corrected.",
    "Waiting for the vendor's answer.",
]
SUBMITTER_REPLIES = [
    "Thanks, here is the screenshot.",
    "It happened again this morning.",
    "Still not working for me.",
    "Yes, you can connect to my laptop now.",
]
RESOLUTIONS = [
    "Password reset and account unlocked.",
    "Configuration corrected, confirmed working by the user.",
    "Hardware replaced.",
    "Access granted as approved.",
    "Known issue, fixed by the latest patch.",
]
FIRST = ["anna", "jan", "piotr", "maria", "tomasz", "ewa", "paul", "julia", "marek", "olga"]
LAST = ["nowak", "kowalska", "smith", "muller", "rossi", "dubois", "novak", "jensen", "silva"]


def submitter_emails(count: int) -> list[str]:
    return [
        f"{FIRST[n % len(FIRST)]}.{LAST[(n // len(FIRST)) % len(LAST)]}{n}@example.com"
        for n in range(count)
    ]


def setup_django(database: str) -> None:
    # django-helpdesk's package is `helpdesk`, like the project this file lives in: make
    # sure only the peer project (and the venv's helpdesk) can be imported.
    root = str(HERE.parents[2])
    sys.path[:] = [p for p in sys.path if p not in ("", ".", root, str(HERE))]
    sys.path.insert(0, str(PEER_PROJECT))
    os.environ["DH_DATABASE"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")
    import helpdesk

    if not helpdesk.__file__.startswith(sys.prefix):
        raise SystemExit(f"wrong helpdesk package: {helpdesk.__file__} (use the peer's venv)")
    import django

    django.setup()


def ensure_database(name: str) -> None:
    import psycopg
    from peer import settings

    db = settings.DATABASES["default"]
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": "postgres"}
    if db["PASSWORD"]:
        params["password"] = db["PASSWORD"]
    with psycopg.connect(**params, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def psycopg_connect():
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "server_side_binding", "prepare_threshold"):
        params.pop(key, None)
    conn = psycopg.connect(**params)
    conn.execute("SET synchronous_commit TO off")  # bulk load: no flush wait per commit
    conn.commit()
    return conn


def seed(people: int, tickets: int, seed_value: int) -> dict:
    """Site, e-mail templates, staff logins, queues (through the ORM: signals run)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sites.models import Site
    from django.core.management import call_command

    from helpdesk.models import EmailTemplate, Queue

    Site.objects.update_or_create(
        id=1, defaults={"domain": "127.0.0.1:8100", "name": "django-helpdesk peer"}
    )
    if not EmailTemplate.objects.exists():
        call_command("loaddata", "emailtemplate.json", verbosity=0)
    user_model = get_user_model()
    password = make_password("demo")  # hashed once for all logins
    names = ["agent"] + [f"agent{n:02d}" for n in range(2, 13)] + ["admin"]
    for name in names:
        user, _ = user_model.objects.get_or_create(
            username=name,
            defaults={"email": f"{name}@example.com", "first_name": name.capitalize()},
        )
        user.is_staff = True
        user.is_superuser = name == "admin"
        user.password = password
        user.save()
    agents = list(user_model.objects.filter(username__in=names[:-1]).order_by("id"))
    queues = []
    for title, slug, _weight in QUEUES:
        queue, _ = Queue.objects.get_or_create(
            slug=slug,
            defaults={"title": title, "allow_public_submission": True},
        )
        queues.append(queue)
    return {"agents": [(a.id, a.username) for a in agents], "queues": [q.id for q in queues]}


def marker(people: int, tickets: int, seed_value: int) -> str:
    # Site.name holds at most 50 characters
    return f"dh peer: {tickets} tickets {people} people seed {seed_value}"


def sample_count(rng: random.Random, mean: float, minimum: int) -> int:
    base = int(mean)
    n = base + (rng.random() < mean - base)
    if mean >= 1:  # some spread, mean kept
        r = rng.random()
        if r < 0.25 and n - 1 >= minimum:
            n -= 1
        elif r > 0.75:
            n += 1
    return max(n, minimum)


def build_ticket(rng: random.Random, now, ctx: dict):
    """One ticket: its row (without id) and its follow-ups [(row, changes)]."""
    state = rng.choices(STATES, STATE_WEIGHTS)[0]
    queue_index = rng.choices(range(len(QUEUES)), ctx["queue_weights"])[0]
    queue_id = ctx["queues"][queue_index]
    title, description = rng.choice(SUBJECTS[QUEUES[queue_index][1]])
    priority = rng.choices(range(1, 6), PRIORITY_WEIGHTS)[0]
    submitter = rng.choice(ctx["emails"])
    oldest, newest = AGE_DAYS[state]
    created = now - timedelta(seconds=rng.uniform(newest * 86400, oldest * 86400))
    n = sample_count(rng, *COMMENTS[state])

    on_hold = False
    resolution = None
    assignee = None
    if state != "new" and not (state == "cancelled" and rng.random() < 0.61):
        assignee = rng.choice(ctx["agents"])
    final = None  # the status the last follow-ups lead to
    if state == "in_progress" and n >= 3 and rng.random() < 0.4:
        final = "reopened"
    elif state == "pending":
        final = "on_hold"
    elif state == "resolved":
        final = "resolved"
    elif state == "closed":
        final = "closed"
    elif state == "cancelled":
        final = "duplicate" if rng.random() < 0.25 else "cancelled"

    # what each follow-up after "Ticket Opened" does
    roles = ["comment"] * n
    if final == "reopened":
        roles[-2:] = ["resolve", "reopen"]
    elif final == "on_hold":
        roles[-1] = "hold"
    elif final == "resolved":
        roles[-1] = "resolve"
    elif final == "closed" and n >= 2:
        roles[-2:] = ["resolve", "close"]
    elif final in ("closed", "cancelled", "duplicate"):
        roles[-1] = "close"
    # the assignee takes the ticket in the first follow-up (or when it was opened)
    assign_at = 0 if assignee is not None and n >= 1 and final != "cancelled" else None
    if assign_at == 0 and roles[0] == "comment":
        roles[0] = "assign"

    # follow-up times: spread between creation and the end of the ticket's story
    end = min(now, created + timedelta(hours=rng.uniform(1, 120)))
    times = sorted(created + (end - created) * rng.random() for _ in range(n))
    if final == "closed" and n >= 2:  # closed automatically a week after being resolved
        times[-1] = min(now, times[-2] + timedelta(days=7))

    opened_by = rng.choice(ctx["agents"])[0] if rng.random() < 0.3 else None
    follow_ups = [((created, "Ticket Opened", description, True, opened_by, None), [])]
    owner = assignee if assign_at is None else None
    current = OPEN
    for index, (role, when) in enumerate(zip(roles, times, strict=True)):
        changes = []
        if index == assign_at:
            owner = assignee
            changes.append(("Owner", "Unassigned", assignee[1]))
        worker = (owner or rng.choice(ctx["agents"]))[0]
        if role == "assign":
            row = (when, f"Assigned to {assignee[1]}", rng.choice(AGENT_NOTES), False, worker)
            new_status = None
        elif role == "comment" and rng.random() < 0.35:  # the submitter answers by e-mail
            row = (when, f"E-Mail Received from {submitter}", rng.choice(SUBMITTER_REPLIES))
            row += (True, None)
            new_status = None
        elif role == "comment":
            public = rng.random() < 0.6
            title_ = "Comment" if public else "Internal note"
            row = (when, title_, rng.choice(AGENT_NOTES), public, worker)
            new_status = None
        elif role == "hold":
            changes.append(("On Hold", "False", "True"))
            on_hold = True
            row = (when, "Ticket placed on hold", "Waiting for the requester.", False, worker)
            new_status = None
        elif role == "resolve":
            resolution = rng.choice(RESOLUTIONS)
            row = (when, "Resolved", resolution, True, worker)
            new_status = RESOLVED
        elif role == "reopen":
            row = (when, "Reopened", rng.choice(SUBMITTER_REPLIES), True, None)
            new_status = REOPENED
        else:  # close
            new_status = DUPLICATE if final == "duplicate" else CLOSED
            if resolution is None:
                resolution = {
                    "closed": rng.choice(RESOLUTIONS),
                    "duplicate": "Duplicate of an earlier ticket.",
                    "cancelled": "Cancelled by the requester.",
                }[final]
                text = resolution
            else:
                text = "Closed automatically 7 days after resolution."
            title_ = "Marked as duplicate" if new_status == DUPLICATE else "Closed"
            row = (when, title_, text, True, worker)
        if new_status is not None:
            changes.append(("Status", STATUS_NAMES[current], STATUS_NAMES[new_status]))
            current = new_status
        follow_ups.append(((*row, new_status), changes))
    status = current
    modified = follow_ups[-1][0][0]
    ticket = (
        title,
        queue_id,
        created,
        modified,
        submitter,
        owner[0] if owner else None,
        status,
        on_hold,
        description,
        resolution,
        priority,
        created + DUE_AFTER[priority],
        None,  # last_escalation
        str(uuid.UUID(int=rng.getrandbits(128), version=4)),  # secret_key
        None,  # kbitem
        None,  # merged_to
    )
    return ticket, follow_ups


TICKET_COLUMNS = [
    *("title", "queue_id", "created", "modified", "submitter_email", "assigned_to_id"),
    *("status", "on_hold", "description", "resolution", "priority", "due_date"),
    *("last_escalation", "secret_key", "kbitem_id", "merged_to_id"),
]
FOLLOWUP_COLUMNS = [
    *("ticket_id", "date", "title", "comment", "public", "user_id", "new_status"),
    *("message_id", "time_spent", "email_recipients"),
]
CHANGE_COLUMNS = ["followup_id", "field", "old_value", "new_value"]


def check_columns(model, columns: list[str]) -> None:
    """The COPY column lists must cover the model as django-helpdesk 2.6.1 defines it."""
    actual = {f.column for f in model._meta.concrete_fields} - {"id"}
    if actual != set(columns):
        raise SystemExit(f"{model._meta.db_table}: columns {sorted(actual)} != {columns}")


def copy_rows(cursor, table: str, columns: list[str], rows) -> int:
    names = ", ".join(f'"{c}"' for c in columns)
    count = 0
    with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def generate(conn, tickets: int, people: int, seed_value: int, ctx: dict) -> None:
    from django.utils import timezone

    rng = random.Random(seed_value)
    ctx = {
        **ctx,
        "emails": submitter_emails(people),
        "queue_weights": [w for _t, _s, w in QUEUES],
    }
    now = timezone.now()
    ticket_id = followup_id = change_id = 0
    totals = [0, 0, 0]
    started = time.perf_counter()
    done = 0
    while done < tickets:
        size = min(CHUNK, tickets - done)
        ticket_rows, followup_rows, change_rows = [], [], []
        for _ in range(size):
            ticket, follow_ups = build_ticket(rng, now, ctx)
            ticket_id += 1
            ticket_rows.append((ticket_id, *ticket))
            for (when, title, comment, public, user_id, new_status), changes in follow_ups:
                followup_id += 1
                row = (followup_id, ticket_id, when, title, comment, public, user_id)
                followup_rows.append((*row, new_status, None, None, None))
                for field, old, new in changes:
                    change_id += 1
                    change_rows.append((change_id, followup_id, field, old, new))
        with conn.cursor() as cursor:
            totals[0] += copy_rows(cursor, "helpdesk_ticket", ["id", *TICKET_COLUMNS], ticket_rows)
            totals[1] += copy_rows(
                cursor, "helpdesk_followup", ["id", *FOLLOWUP_COLUMNS], followup_rows
            )
            totals[2] += copy_rows(
                cursor, "helpdesk_ticketchange", ["id", *CHANGE_COLUMNS], change_rows
            )
        conn.commit()
        done += size
        if done % 100_000 == 0 or done == tickets:
            elapsed = time.perf_counter() - started
            print(f"  {done:,} tickets ({done / elapsed:,.0f}/s)", flush=True)
    print(
        f"  {totals[0]:,} tickets, {totals[1]:,} follow-ups "
        f"({(totals[1] - totals[0]) / totals[0]:.2f} per ticket besides 'Ticket Opened'), "
        f"{totals[2]:,} ticket changes"
    )


TABLES = ["helpdesk_ticket", "helpdesk_followup", "helpdesk_ticketchange"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=200_000, help="distinct submitters")
    parser.add_argument("--reset", action="store_true", help="empty the tickets first")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database", default=os.environ.get("DH_DATABASE", "dh_bench"))
    args = parser.parse_args()

    begin = time.perf_counter()
    setup_django(args.database)
    ensure_database(args.database)
    from django.contrib.sites.models import Site
    from django.core.management import call_command

    from helpdesk.models import FollowUp, Ticket, TicketChange

    call_command("migrate", interactive=False, verbosity=0)
    print(f"migrated ({time.perf_counter() - begin:.1f} s)")
    for model, columns in ((Ticket, TICKET_COLUMNS), (FollowUp, FOLLOWUP_COLUMNS)):
        check_columns(model, columns)
    check_columns(TicketChange, CHANGE_COLUMNS)

    wanted = marker(args.people, args.tickets, args.seed)
    site = Site.objects.filter(id=1).first()
    existing = Ticket.objects.count()
    if not args.reset and site and site.name == wanted:
        print(f"already generated ({wanted}; {existing:,} tickets now); nothing to do")
        return
    with psycopg_connect() as conn:
        if args.reset:
            conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")
            conn.commit()
            existing = 0
            print("emptied tickets, follow-ups, ticket changes")
        if existing:
            raise SystemExit(f"dh_bench holds {existing:,} other tickets; use --reset")
        ctx = seed(args.people, args.tickets, args.seed)
        print(f"seeded logins and queues ({time.perf_counter() - begin:.1f} s)")
        step = time.perf_counter()
        generate(conn, args.tickets, args.people, args.seed, ctx)
        print(f"tickets done ({time.perf_counter() - step:.1f} s)")
        for table in TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        conn.commit()
        step = time.perf_counter()
        conn.autocommit = True
        for table in TABLES:
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.autocommit = False
        print(f"vacuum analyze done ({time.perf_counter() - step:.1f} s)")
    Site.objects.filter(id=1).update(name=wanted)
    print(f"total {time.perf_counter() - begin:.1f} s")


if __name__ == "__main__":
    main()
