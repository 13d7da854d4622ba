"""Sending: a real SMTP server that accepts, refuses (4xx, 5xx) or is not there at all."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from mail.models import MailAddress, Mailbox, OutboundMessage
from mail.services import outbound
from tests.mail.smtp import eager_celery, free_port, smtp  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status
ADDRESS = "stranger@example.net"


@pytest.fixture
def wired(smtp, eager_celery):  # noqa: F811
    Mailbox.objects.create(name="Service desk", address="servicedesk@helpdesk.test")
    return smtp


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def answer_unknown_sender(number=1, to=ADDRESS, **extra):
    return outbound.outbound_queue(
        kind=Kind.UNKNOWN_SENDER,
        to=to,
        context={
            "subject": "Printer broken",
            "mailbox_address": "support@helpdesk.test",
            **extra.pop("context", {}),
        },
        in_reply_to="<their.mail@example.net>",
        dedupe_key=f"unknown_sender:{number}",
        **extra,
    )


def make_due(message):
    OutboundMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_an_answer_to_incoming_mail_is_sent_after_the_commit_as_an_auto_reply(wired, committed):
    with committed():
        message = answer_unknown_sender()
        assert wired.messages == []  # not before the commit
    [received] = wired.messages
    assert received.rcpt_tos == [ADDRESS]
    msg = received.message
    assert msg["From"] == "Service Desk <support@helpdesk.test>"
    assert msg["Subject"] == "Your mail to the Service Desk: Printer broken"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Precedence"] == "bulk"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["In-Reply-To"] == "<their.mail@example.net>"
    assert msg["References"] == "<their.mail@example.net>"
    assert "support@helpdesk.test" in received.text
    assert received.html.startswith("<!DOCTYPE html>")
    message.refresh_from_db()
    assert (message.status, message.attempts, message.ticket) == (Status.SENT, 1, None)
    assert msg["Message-ID"] == f"<{message.message_id}>"


@pytest.mark.parametrize(
    ("kind", "context", "subject"),
    [
        (Kind.TOO_LARGE, {"limit_mb": 25, "size": 30_000_000}, "Your mail was too large: Big"),
        (Kind.RATE_LIMITED, {"limit": 40}, "Too many mails to the Service Desk"),
    ],
)
def test_the_other_answers_render_and_go(wired, committed, kind, context, subject):
    with committed():
        outbound.outbound_queue(
            kind=kind,
            to=ADDRESS,
            context={"subject": "Big", "mailbox_address": "support@helpdesk.test", **context},
            dedupe_key=f"{kind}:1",
        )
    [received] = wired.messages
    assert received.message["Subject"] == subject
    assert received.message["Auto-Submitted"] == "auto-replied"


def test_nothing_is_sent_for_a_rolled_back_transaction(wired, committed):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        answer_unknown_sender()
        raise RuntimeError("the mail's processing failed")
    assert not OutboundMessage.objects.exists()
    assert wired.messages == []


def test_the_same_dedupe_key_queues_once(wired, committed):
    with committed():
        first = answer_unknown_sender()
        again = answer_unknown_sender()
    assert first is not None and again is None
    assert len(wired.messages) == 1


def test_a_temporary_refusal_is_retried_and_sent_once_the_server_accepts(
    wired, committed, settings, caplog
):
    settings.MAIL_SEND_BACKOFF_SECONDS = 60
    wired.refuse(ADDRESS, "451 4.7.1 Greylisted, try again later")
    with caplog.at_level(logging.WARNING, logger="mail.outbound"), committed():
        message = answer_unknown_sender()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.RETRYING, 1)
    assert "451 4.7.1 Greylisted" in message.status_detail
    wait = message.next_attempt_at - timezone.now()
    assert timedelta(seconds=55) < wait <= timedelta(seconds=60)
    assert "retrying in 60s" in caplog.text
    assert outbound.send_due() == 0  # not due yet
    wired.accept(ADDRESS)
    make_due(message)
    assert outbound.send_due() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert "Sent on attempt 2" in message.status_detail
    assert len(wired.messages) == 1
    assert outbound.send_due() == 0


def test_a_permanent_refusal_fails_at_once_and_marks_the_address(wired, committed, caplog):
    wired.refuse(ADDRESS, "550 5.1.1 <stranger@example.net>: no such user")
    with caplog.at_level(logging.WARNING, logger="mail.outbound"), committed():
        message = answer_unknown_sender()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == (Status.FAILED, 1, None)
    assert "550 5.1.1" in message.status_detail
    state = MailAddress.objects.get(address=ADDRESS)
    assert state.permanently_failing
    assert "no such user" in state.last_problem
    assert "marked permanently failing" in caplog.text
    # Nothing more goes to it.
    with committed():
        later = answer_unknown_sender(number=2, to=ADDRESS.upper())
    assert later.status == Status.SUPPRESSED
    assert "refused this address for good" in later.status_detail
    assert wired.messages == []


def test_a_cc_refused_for_good_is_marked_and_the_others_get_the_mail(wired, committed):
    wired.refuse("gone@example.org", "550 5.1.1 unknown user")
    with committed():
        message = answer_unknown_sender(cc=["gone@example.org", "fine@example.org"])
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert "gone@example.org: 550 5.1.1 unknown user" in message.status_detail
    assert MailAddress.objects.get(address="gone@example.org").permanently_failing
    [received] = wired.messages
    assert received.rcpt_tos == [ADDRESS, "fine@example.org"]


def test_mail_the_server_refuses_to_take_fails_without_blaming_the_address(wired, committed):
    wired.refuse_data("552 5.3.4 Message size exceeds fixed limit")
    with committed():
        message = answer_unknown_sender()
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "552 5.3.4" in message.status_detail
    assert not MailAddress.objects.exists()


def test_a_server_that_is_down_is_retried_with_back_off_then_given_up(
    wired, committed, settings, caplog
):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.MAIL_SEND_ATTEMPTS = 3
    settings.MAIL_SEND_BACKOFF_SECONDS = 10
    with caplog.at_level(logging.WARNING, logger="mail.outbound"), committed():
        message = answer_unknown_sender()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.RETRYING, 1)
    assert "ConnectionRefusedError" in message.status_detail
    make_due(message)
    outbound.send_due()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.RETRYING, 2)
    wait = message.next_attempt_at - timezone.now()
    assert timedelta(seconds=15) < wait <= timedelta(seconds=20)  # 10 s x 2 ** (2 - 1)
    make_due(message)
    outbound.send_due()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == (Status.FAILED, 3, None)
    assert "Gave up after 3 attempts" in message.status_detail
    assert caplog.text.count("not sent (attempt") == 2
    assert "failed for good after 3 attempts" in caplog.text
    assert wired.messages == []


def test_a_sent_message_is_never_sent_again(wired, committed):
    with committed():
        message = answer_unknown_sender()
    assert outbound.outbound_send(outbound_id=message.pk) is None
    make_due(message)
    OutboundMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(1))
    assert outbound.send_due() == 0
    assert len(wired.messages) == 1


def test_a_message_another_sender_holds_is_left_alone(wired, committed):
    with committed():
        message = answer_unknown_sender()
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=Status.QUEUED, next_attempt_at=timezone.now() + outbound.CLAIM_LEASE
    )
    assert outbound.outbound_send(outbound_id=message.pk) is None
    assert outbound.send_due() == 0
    assert len(wired.messages) == 1


def test_queued_mail_whose_task_never_ran_is_sent_by_the_sweep(
    wired, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = answer_unknown_sender()
    assert len(callbacks) == 1  # the send task, lost here (broker down)
    assert outbound.send_due() == 0  # young: its task may still come
    OutboundMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - outbound.QUEUED_GRACE - timedelta(seconds=1)
    )
    assert outbound.send_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(wired.messages) == 1


def test_the_per_recipient_cap_holds_answers_back(wired, committed, settings):
    settings.MAIL_OUTBOUND_PER_RECIPIENT_PER_HOUR = 1
    with committed():
        first = answer_unknown_sender(number=1)
        second = answer_unknown_sender(number=2)
    assert (first.status, second.status) == (Status.QUEUED, Status.SUPPRESSED)
    assert "This address got 1 mail in the last hour" in second.status_detail
    assert len(wired.messages) == 1


def test_the_send_task_is_idempotent_by_name(wired, committed):
    from helpdesk.celery import app

    with committed():
        message = answer_unknown_sender()
    app.tasks["mail.send_outbound"].apply(args=[message.pk])
    app.tasks["mail.send_due_outbound"].apply()
    assert len(wired.messages) == 1


def test_other_mail_backends_are_used_as_django_configures_them(
    settings,
    eager_celery,  # noqa: F811
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        message = answer_unknown_sender()
    [sent] = mailoutbox
    assert sent.to == [ADDRESS]
    assert sent.extra_headers["Auto-Submitted"] == "auto-replied"
    message.refresh_from_db()
    assert message.status == Status.SENT
