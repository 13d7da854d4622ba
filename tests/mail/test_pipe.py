"""``manage.py ingest_mail``: the mail server's pipe. Exit 0 once the mail is stored (what
it became is printed), 75 (EX_TEMPFAIL) when it could not be stored, so the mail server
keeps it and tries again."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import OperationalError

from mail.models import InboundMessage, Mailbox, OutboundMessage
from mail.services import ingest
from tests.factories import PersonFactory, make_ticket
from tests.mail.builders import HELPDESK, mail
from tickets import services
from tickets.models import ResolutionCode, Status, Ticket

EX_TEMPFAIL = 75
BASE_DIR = Path(django_settings.BASE_DIR)


@pytest.fixture
def mailbox(db, first_line):
    return Mailbox.objects.create(name="Service desk", address=HELPDESK, default_group=first_line)


@pytest.fixture
def alice(db):
    return PersonFactory(full_name="Alice Example", email="alice@example.com")


class Stdin:
    """What the command reads: ``sys.stdin.buffer``."""

    def __init__(self, raw: bytes):
        self.buffer = io.BytesIO(raw)


def pipe(monkeypatch, raw: bytes, address: str = HELPDESK) -> tuple[int, str, str]:
    """Run the command on ``raw``: (exit status, standard output, standard error)."""
    monkeypatch.setattr(sys, "stdin", Stdin(raw))
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest_mail", "--mailbox", address, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue().strip(), err.getvalue().strip()


def test_a_new_mail_prints_its_ticket_number_and_exits_0(monkeypatch, mailbox, alice):
    code, out, err = pipe(monkeypatch, mail("Monitor is dark"))

    ticket = Ticket.objects.get()
    assert (code, out, err) == (0, ticket.number, "")
    assert ticket.caller == alice and ticket.title == "Monitor is dark"
    message = InboundMessage.objects.get()
    assert message.source == InboundMessage.Source.PIPE
    assert message.ticket == ticket


def test_the_mailbox_address_is_matched_whatever_its_case(monkeypatch, mailbox, alice):
    code, out, _ = pipe(monkeypatch, mail("Case"), address=f"  {HELPDESK.upper()} ")
    assert (code, out) == (0, Ticket.objects.get().number)


def test_a_reply_prints_the_ticket_it_was_added_to(monkeypatch, mailbox, alice):
    ticket = make_ticket(caller=alice)

    code, out, _ = pipe(monkeypatch, mail(f"Re: [{ticket.number}] printer"))

    assert (code, out) == (0, ticket.number)
    assert ticket.comments.count() == 1


def test_a_reply_that_reopens_a_ticket_prints_its_number(monkeypatch, mailbox, alice, agent):
    ticket = make_ticket(caller=alice)
    services.ticket_resolve(ticket=ticket, by=agent, code=ResolutionCode.SOLVED, notes="Done.")

    code, out, _ = pipe(monkeypatch, mail(f"Re: [{ticket.number}] not fixed"))

    assert (code, out) == (0, ticket.number)
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED  # back to whoever resolved it


def test_a_mail_that_is_no_mail_is_quarantined_and_still_exits_0(monkeypatch, mailbox):
    code, out, _ = pipe(monkeypatch, b"\x00\x01 garbage, not a mail")

    message = InboundMessage.objects.get()
    assert (code, out) == (0, f"quarantined {message.pk}")
    assert message.status == InboundMessage.Status.QUARANTINED
    assert message.reason == InboundMessage.Reason.UNPARSEABLE


def test_a_mail_acted_on_without_a_ticket_is_printed_as_ignored(monkeypatch, mailbox, settings):
    raw = mail("Loop", headers={"X-Loop": settings.MAIL_LOOP_ID})

    code, out, _ = pipe(monkeypatch, raw)

    message = InboundMessage.objects.get()
    assert (code, out) == (0, f"ignored {message.pk} (loop)")
    assert not Ticket.objects.exists()


def test_the_same_mail_piped_twice_makes_one_ticket_and_both_runs_exit_0(
    monkeypatch, mailbox, alice
):
    raw = mail("Piped twice")

    first = pipe(monkeypatch, raw)
    second = pipe(monkeypatch, raw)

    ticket = Ticket.objects.get()
    assert first == second == (0, ticket.number, "")
    assert InboundMessage.objects.get().deliveries == 2


def test_an_unknown_mailbox_address_exits_75_and_stores_nothing(monkeypatch, mailbox, alice):
    code, out, err = pipe(monkeypatch, mail("Lost"), address="nobody@helpdesk.test")

    assert code == EX_TEMPFAIL
    assert out == ""
    assert "nobody@helpdesk.test" in err
    assert not InboundMessage.objects.exists()


def test_an_inactive_mailbox_exits_75(monkeypatch, mailbox, alice):
    Mailbox.objects.filter(pk=mailbox.pk).update(is_active=False)

    code, _, _ = pipe(monkeypatch, mail("Switched off"))

    assert code == EX_TEMPFAIL
    assert not InboundMessage.objects.exists()


def test_a_database_that_cannot_store_the_mail_exits_75(monkeypatch, mailbox, alice):
    def unavailable(**kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(ingest, "message_store", unavailable)

    code, out, err = pipe(monkeypatch, mail("Database down"))

    assert code == EX_TEMPFAIL
    assert out == ""
    assert "could not be stored" in err and "Connection refused" in err
    assert not Ticket.objects.exists()


def test_an_oversized_mail_on_stdin_keeps_only_its_headers(monkeypatch, mailbox, alice, settings):
    settings.MAIL_MAX_BYTES = 4096
    raw = mail("Scanned archive", body="z" * 20000)

    code, out, _ = pipe(monkeypatch, raw)

    message = InboundMessage.objects.get()
    assert (code, out) == (0, f"quarantined {message.pk}")
    assert message.is_truncated
    assert message.size == len(raw)
    assert message.reason == InboundMessage.Reason.TOO_LARGE
    stored = bytes(message.raw)
    assert stored == ingest.headers_of(raw)
    assert b"zzz" not in stored
    [told] = OutboundMessage.objects.all()
    assert (told.kind, told.to) == (OutboundMessage.Kind.TOO_LARGE, "alice@example.com")

    code, out, _ = pipe(monkeypatch, raw)  # the mail server tries again: told once

    assert (code, out) == (0, f"quarantined {message.pk}")
    assert OutboundMessage.objects.count() == 1
    assert InboundMessage.objects.get().deliveries == 2


def test_an_oversized_mail_at_exactly_the_limit_is_taken_whole(
    monkeypatch, mailbox, alice, settings
):
    raw = mail("Just fits", body="q" * 3000)
    settings.MAIL_MAX_BYTES = len(raw)

    code, out, _ = pipe(monkeypatch, raw)

    assert (code, out) == (0, Ticket.objects.get().number)
    assert not InboundMessage.objects.get().is_truncated


# --- as the mail server runs it ---------------------------------------------------------


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """A migrated SQLite instance of its own, with one mailbox and one person, for running
    the command as a separate process (the test database lives in this process only)."""
    root = tmp_path_factory.mktemp("pipe-instance")
    # Only what the instance's settings read from the environment is set here: not the
    # Redis or broker of the machine running the tests.
    skip = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"}
    env = {key: value for key, value in os.environ.items() if key not in skip}
    env.update(
        DATABASE_URL=f"sqlite:///{root / 'helpdesk.sqlite3'}",
        HELPDESK_VAR_DIR=str(root / "var"),
        MEDIA_ROOT=str(root / "media"),
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=BASE_DIR, timeout=300)
    setup = (
        "from helpdesk.models import Person;"
        "from mail.models import Mailbox;"
        f"Mailbox.objects.create(name='Desk', address='{HELPDESK}');"
        "Person.objects.create(full_name='Alice Example', email='alice@example.com')"
    )
    subprocess.run([*manage, "shell", "-c", setup], env=env, check=True, cwd=BASE_DIR, timeout=120)
    return manage, env


def run_pipe(instance, raw: bytes, address: str = HELPDESK, **env):
    manage, base_env = instance
    return subprocess.run(
        [*manage, "ingest_mail", "--mailbox", address],
        input=raw,
        capture_output=True,
        env={**base_env, **env},
        cwd=BASE_DIR,
        timeout=120,
    )


def test_the_command_as_a_process_exits_0_and_prints_the_ticket_number(instance):
    raw = mail("Piped by Postfix")

    first = run_pipe(instance, raw)
    again = run_pipe(instance, raw)

    assert first.returncode == 0, first.stderr.decode()
    number = first.stdout.decode().strip()
    assert number.startswith("INC-")
    assert (again.returncode, again.stdout.decode().strip()) == (0, number)


def test_the_command_as_a_process_exits_75_for_an_unknown_mailbox(instance):
    result = run_pipe(instance, mail("Nobody here"), address="other@helpdesk.test")

    assert result.returncode == EX_TEMPFAIL
    assert result.stdout == b""
    assert b"other@helpdesk.test" in result.stderr


def test_the_command_as_a_process_exits_75_when_the_database_is_unreachable(instance, tmp_path):
    missing = tmp_path / "no-such-directory" / "helpdesk.sqlite3"

    result = run_pipe(instance, mail("Database away"), DATABASE_URL=f"sqlite:///{missing}")

    assert result.returncode == EX_TEMPFAIL, result.stderr.decode()
    assert b"could not be stored" in result.stderr


def test_the_command_as_a_process_reads_an_oversized_mail_to_its_end_and_keeps_its_headers(
    instance,
):
    raw = mail("Piped huge", body="w" * (3 * 1024 * 1024))

    result = run_pipe(instance, raw, MAIL_MAX_BYTES="65536")

    assert result.returncode == 0, result.stderr.decode()
    pk = int(result.stdout.decode().removeprefix("quarantined ").strip())
    database = instance[1]["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as db:
        row = db.execute(
            "SELECT is_truncated, size, reason, length(raw) FROM mail_inboundmessage WHERE id = ?",
            (pk,),
        ).fetchone()
    assert row[:3] == (1, len(raw), "too_large")
    assert row[3] < 2048  # the headers only
