"""Inbound mail throughput of one Celery worker: mails in, tickets and replies out.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_mail_bench \\
    REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/mail_ingest.py --mails 2000

The database named in DATABASE_URL is a scratch database: it is dropped and created again,
then migrated, before each of the two runs (the script refuses a name without "bench" in it).
REDIS_URL is the broker and channel layer the worker publishes to, as in production; the
tasks the run queues (acknowledgements, console events) are purged afterwards.

Each run is one process, as one worker is. It seeds people (known senders), a mailbox, and
``--earlier`` tickets opened by mail (not timed), then times ``mail.services.ingest.
message_receive`` (what both the IMAP fetch and the pipe call per mail: store raw, parse,
thread, create the ticket or the comment with its attachments, commit) on ``--mails`` mails:

- new tickets from known senders, text/plain, some multipart/alternative with HTML;
- HTML-only new tickets;
- replies to the earlier tickets by the tag in the subject ("Re: [INC-000123] ...") and by
  In-Reply-To/References to the earlier mail, with quoted history;
- a few new tickets from unknown senders (a person is created);
- about 20 % with a 50-200 kB attachment (PDF or PNG);
- the 40 real-world mails of ``../shared/corpus/email`` once each (bounces, spam, broken
  MIME), when that directory is there. A few of them share a Message-ID with another
  (mail002, mail060 and mail065; mail010 and mail062; mail064 and mail088), so run 1
  already counts 4 redeliveries: the later one of each is taken as the same mail.

Run 1 delivers each mail once; run 2, on a fresh database with the same seed, delivers every
mail twice, the second copy 1-20 mails after the first (a fetch that died before marking the
mails seen, then fetched again). It prints messages per second (deliveries per second for run
2), p50/p95/max per message, what was created, and for run 2 the duplicates created: tickets,
comments and attachments beyond run 1's counts (must be 0).

Targets (issue 14): at least 100 messages per second per worker; zero duplicates.
``--profile FILE`` writes a cProfile of the timed part of run 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hd_mail_bench"
CORPUS = ROOT.parent / "shared" / "corpus" / "email"
MAILBOX_ADDRESS = "servicedesk@bench.example"
TARGET_PER_SECOND = 100

SENTENCES = [
    "My laptop does not connect to the VPN since this morning.",
    "The printer on the second floor prints blank pages again.",
    "I cannot open the shared calendar of our team.",
    "Outlook keeps asking for my password every few minutes.",
    "Please give me access to the finance folder on the file server.",
    "The phone on my desk shows 'no service' after the power cut.",
    "Our team needs a new distribution list for the project.",
    "The screen flickers when I connect the docking station.",
    "I get an error 0x80070005 when I install the update.",
    "Nie działa mi drukarka w pokoju 214, proszę o pomoc.",
    "Po aktualizacji systemu nie mogę się zalogować do poczty.",
    "Proszę o zmianę hasła do systemu kadrowego.",
    "Zażółć gęślą jaźń: polskie znaki w temacie też muszą dojść.",
    "It worked yesterday, nothing was changed on my side as far as I know.",
    "I attached a screenshot of the message.",
    "This is urgent, the whole department is affected.",
    "Thank you in advance for your help.",
]
REPLIES = [
    "Thanks, it works again.",
    "Still the same problem, I restarted twice.",
    "I tried that, now I get a different error.",
    "Dziękuję, już działa.",
    "When can someone come by? I am in the office until 4 pm.",
    "Here is the information you asked for.",
]


# --- the mails -------------------------------------------------------------------------


def _text(rng: random.Random, lines: int) -> str:
    return "\n".join(rng.choice(SENTENCES) for _ in range(lines))


def _attachment(rng: random.Random) -> tuple[str, str, bytes]:
    size = rng.randint(50_000, 200_000)
    if rng.random() < 0.5:
        body = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(size) + b"\n%%EOF\n"
        return f"report-{rng.randint(1, 99999)}.pdf", "application/pdf", body
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    return f"screenshot-{rng.randint(1, 99999)}.png", "image/png", header + rng.randbytes(size)


def _message(
    *,
    sender: tuple[str, str],
    subject: str,
    text: str,
    rng: random.Random,
    html: str = "",
    html_only: bool = False,
    in_reply_to: str = "",
    attach: bool = False,
) -> tuple[bytes, str]:
    message = EmailMessage()
    message["From"] = f"{sender[0]} <{sender[1]}>"
    message["To"] = MAILBOX_ADDRESS
    message["Subject"] = subject
    message["Date"] = format_datetime(time_of(rng))
    message_id = make_msgid(domain="client.example")
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    if html_only:
        message.set_content(html, subtype="html")
    else:
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
    if attach:
        name, content_type, data = _attachment(rng)
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(), message_id.strip("<>")


def time_of(rng: random.Random):
    from datetime import UTC, datetime, timedelta

    return datetime(2025, 3, 3, 8, 0, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 36000))


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>\n" for line in text.splitlines())
    return (
        "<html><head><style>p {font-family: Calibri}</style></head><body>"
        f'<div dir="ltr">{paragraphs}<p>Kind regards,<br><b>Sent from my desk</b></p>'
        '<img src="https://tracker.example/pixel.gif" width="1" height="1"></div></body></html>'
    )


def known_senders(count: int) -> list[tuple[str, str]]:
    return [(f"Bench Person {number}", f"person{number}@client.example") for number in range(count)]


def earlier_mails(seed: int, count: int, senders) -> list[tuple[bytes, str, tuple[str, str]]]:
    """Mails that opened the tickets the timed mails answer: (raw, Message-ID, sender)."""
    rng = random.Random(seed)
    mails = []
    for number in range(count):
        sender = senders[number % len(senders)]
        subject = f"{rng.choice(SENTENCES)[:60]} #{number}"
        raw, message_id = _message(sender=sender, subject=subject, text=_text(rng, 4), rng=rng)
        mails.append((raw, message_id, sender))
    return mails


def timed_mails(seed: int, count: int, senders, earlier: list[dict]) -> tuple[list, dict]:
    """The mails to time, and how many of each kind.

    ``earlier``: per earlier ticket its number, subject, the Message-ID of the mail that
    opened it and its caller (sender)."""
    rng = random.Random(seed + 1)
    mails: list[bytes] = []
    kinds: dict[str, int] = {}
    corpus = sorted(CORPUS.glob("*.box")) if CORPUS.is_dir() else []
    corpus_at = set(rng.sample(range(count), min(len(corpus), count)))
    corpus_iter = iter(corpus)
    for index in range(count):
        if index in corpus_at:
            mails.append(next(corpus_iter).read_bytes())
            kinds["corpus"] = kinds.get("corpus", 0) + 1
            continue
        roll = rng.random()
        attach = rng.random() < 0.2
        if roll < 0.50:
            kind = "new, text" if rng.random() < 0.6 else "new, text + HTML"
            text = _text(rng, rng.randint(3, 15))
            raw, _ = _message(
                sender=rng.choice(senders),
                subject=rng.choice(SENTENCES)[:70],
                text=text,
                html=_html(text) if kind == "new, text + HTML" else "",
                rng=rng,
                attach=attach,
            )
        elif roll < 0.60:
            kind = "new, HTML only"
            raw, _ = _message(
                sender=rng.choice(senders),
                subject=rng.choice(SENTENCES)[:70],
                text="",
                html=_html(_text(rng, rng.randint(3, 15))),
                html_only=True,
                rng=rng,
                attach=attach,
            )
        elif roll < 0.65:
            kind = "new, unknown sender"
            number = rng.randint(1, 10**9)
            raw, _ = _message(
                sender=(f"Stranger {number}", f"stranger{number}@elsewhere.example"),
                subject=rng.choice(SENTENCES)[:70],
                text=_text(rng, rng.randint(3, 10)),
                rng=rng,
                attach=attach,
            )
        else:
            ticket = rng.choice(earlier)
            quoted = "\n".join(f"> {line}" for line in _text(rng, 6).splitlines())
            text = (
                f"{rng.choice(REPLIES)}\n\nOn Mon, 3 Mar 2025 at 10:00, Service Desk "
                f"<{MAILBOX_ADDRESS}> wrote:\n{quoted}\n"
            )
            if roll < 0.82:
                kind = "reply by subject tag"
                raw, _ = _message(
                    sender=ticket["sender"],
                    subject=f"Re: [{ticket['number']}] {ticket['subject']}",
                    text=text,
                    rng=rng,
                    attach=attach,
                )
            else:
                kind = "reply by References"
                raw, _ = _message(
                    sender=ticket["sender"],
                    subject=f"AW: {ticket['subject']}",
                    text=text,
                    in_reply_to=f"<{ticket['message_id']}>",
                    rng=rng,
                    attach=attach,
                )
        if attach:
            kinds["with attachment"] = kinds.get("with attachment", 0) + 1
        kinds[kind] = kinds.get(kind, 0) + 1
        mails.append(raw)
    return mails, kinds


def twice_interleaved(mails: list[bytes], seed: int) -> list[bytes]:
    """Every mail twice, the second copy 1-20 deliveries after the first."""
    rng = random.Random(seed + 2)
    slots: list[tuple[float, int, bytes]] = []
    for index, raw in enumerate(mails):
        slots.append((index, 0, raw))
        slots.append((index + rng.randint(1, 20) + 0.5, 1, raw))
    return [raw for _position, _copy, raw in sorted(slots, key=lambda slot: slot[:2])]


# --- one run (a child process: one worker) ---------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def run(args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import close_old_connections

    begin = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
    migrated = time.perf_counter() - begin

    from helpdesk.celery import app
    from helpdesk.models import Person, SupportGroup
    from mail.models import InboundMessage, Mailbox
    from mail.services import ingest
    from tickets.models import Attachment, Comment, Ticket

    group, _ = SupportGroup.objects.get_or_create(
        code="bench-mail", defaults={"name": "Mail bench", "tier": SupportGroup.Tier.FIRST}
    )
    mailbox = Mailbox.objects.create(
        name="Bench", address=MAILBOX_ADDRESS, default_group=group, is_active=False
    )
    senders = known_senders(args.senders)
    Person.objects.bulk_create(Person(full_name=name, email=email) for name, email in senders)

    earlier = []
    for raw, message_id, sender in earlier_mails(args.seed, args.earlier, senders):
        row = ingest.message_receive(mailbox=mailbox, raw=raw, source="pipe")
        assert row.ticket_id, (row.status, row.reason, row.detail)
        ticket = Ticket.objects.get(pk=row.ticket_id)
        earlier.append(
            {
                "number": ticket.number,
                "subject": ticket.title,
                "message_id": message_id,
                "sender": sender,
            }
        )
    mails, kinds = timed_mails(args.seed, args.mails, senders, earlier)
    deliveries = twice_interleaved(mails, args.seed) if args.twice else mails
    before = {
        "tickets": Ticket.objects.count(),
        "comments": Comment.objects.count(),
        "attachments": Attachment.objects.count(),
        "stored mails": InboundMessage.objects.count(),
    }
    last_before = InboundMessage.objects.order_by("-pk").values_list("pk", flat=True).first()

    profiler = None
    if args.profile and not args.twice:
        import cProfile

        # CPU time, not wall time: what the worker's own code costs, whatever else runs.
        profiler = cProfile.Profile(time.process_time)
    samples: list[float] = []
    cpu_begin = time.process_time()
    wall_begin = time.perf_counter()
    if profiler:
        profiler.enable()
    for raw in deliveries:
        start = time.perf_counter()
        ingest.message_receive(mailbox=mailbox, raw=raw, source="imap")
        close_old_connections()  # what Celery's Django fix-up does after each task
        samples.append(time.perf_counter() - start)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    wall = time.perf_counter() - wall_begin
    cpu = time.process_time() - cpu_begin

    after = {
        "tickets": Ticket.objects.count(),
        "comments": Comment.objects.count(),
        "attachments": Attachment.objects.count(),
        "stored mails": InboundMessage.objects.count(),
    }
    outcomes = {}
    for status, outcome in InboundMessage.objects.filter(pk__gt=last_before).values_list(
        "status", "outcome"
    ):
        key = f"{status}/{outcome or '-'}"
        outcomes[key] = outcomes.get(key, 0) + 1
    redeliveries = (
        sum(InboundMessage.objects.values_list("deliveries", flat=True)) - after["stored mails"]
    )
    app.control.purge()
    return {
        "migrated": migrated,
        "deliveries": len(deliveries),
        "mails": len(mails),
        "kinds": kinds,
        "bytes": sum(len(raw) for raw in deliveries),
        "wall": wall,
        "cpu": cpu,
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "max": max(samples),
        "mean": statistics.mean(samples),
        "created": {key: after[key] - before[key] for key in after},
        "outcomes": outcomes,
        "redeliveries": redeliveries,
    }


# --- the parent: fresh database per run, figures ---------------------------------------


def fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def child(args, *, twice: bool) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--mails",
        str(args.mails),
        "--earlier",
        str(args.earlier),
        "--senders",
        str(args.senders),
        "--seed",
        str(args.seed),
    ]
    if twice:
        command.append("--twice")
    elif args.profile:
        command += ["--profile", args.profile]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"the run failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(title: str, result: dict) -> None:
    rate = result["deliveries"] / result["wall"]
    print(f"{title}")
    print(
        f"  {result['deliveries']} deliveries of {result['mails']} mails "
        f"({result['bytes'] / 1e6:.1f} MB) in {result['wall']:.1f} s: "
        f"{rate:.1f} msg/s  (python cpu {result['cpu']:.1f} s, migrate {result['migrated']:.1f} s)"
    )
    print(
        f"  per message: p50 {result['p50'] * 1000:.1f} ms  p95 {result['p95'] * 1000:.1f} ms  "
        f"max {result['max'] * 1000:.1f} ms  mean {result['mean'] * 1000:.1f} ms"
    )
    created = result["created"]
    print(
        f"  created: {created['tickets']} tickets, {created['comments']} comments, "
        f"{created['attachments']} attachments, {created['stored mails']} stored mails; "
        f"redeliveries counted {result['redeliveries']}"
    )
    print(f"  outcomes: {json.dumps(result['outcomes'], sort_keys=True)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--earlier", type=int, default=300, help="tickets the replies answer")
    parser.add_argument("--senders", type=int, default=400, help="known senders (people)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--profile", help="write a cProfile of run 1's timed part here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--twice", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/mail_ingest.py needs a PostgreSQL DATABASE_URL")
    if args.child:
        print(json.dumps(run(args)))
        return

    fresh_database(url)
    once = child(args, twice=False)
    fresh_database(url)
    twice = child(args, twice=True)

    print(f"mail mix: {json.dumps(once['kinds'], sort_keys=True)}")
    show("run 1: every mail delivered once", once)
    show("run 2: every mail delivered twice, interleaved", twice)
    duplicates = {
        key: twice["created"][key] - once["created"][key]
        for key in ("tickets", "comments", "attachments", "stored mails")
    }
    rate = once["deliveries"] / once["wall"]
    print(
        f"duplicates created by the second deliveries: {json.dumps(duplicates)}  "
        f"{'OK' if not any(duplicates.values()) else 'DUPLICATES'}"
    )
    print(
        f"throughput {rate:.1f} msg/s per worker (target {TARGET_PER_SECOND}): "
        f"{'OK' if rate >= TARGET_PER_SECOND else 'UNDER TARGET'}"
    )


if __name__ == "__main__":
    main()
