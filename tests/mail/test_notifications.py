"""Ticket events become mails, received by a real SMTP server (aiosmtpd on 127.0.0.1).

Tickets change through ``tickets.services`` as in production; the listener hands the event
to the Celery task (run eagerly), which writes the mails and sends them after the commit.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation

from helpdesk.roles import Role
from mail import tasks
from mail.models import (
    InboundMessage,
    MailAddress,
    Mailbox,
    NotificationMute,
    OutboundMessage,
    TicketCc,
)
from mail.services import notifications, outbound
from tests.factories import PNG, PersonFactory, make_ticket, make_user
from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)
from tickets import services
from tickets.models import Channel

pytestmark = pytest.mark.django_db

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status
SECRET = "SECRET-root-password-hunter2"


@pytest.fixture
def mailbox(db):
    return Mailbox.objects.create(name="Service desk", address="servicedesk@helpdesk.test")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what is scheduled on commit (the events, the tasks, the sending) at the end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def wired(smtp, eager_celery, mailbox):  # noqa: F811
    return smtp


@pytest.fixture
def caller(end_user):
    person = end_user.person
    person.language = "en"
    person.save(update_fields=["language"])
    return person


@pytest.fixture
def colleague(first_line):
    user = make_user(Role.AGENT, username="colleague")
    first_line.members.add(user)
    return user


def header(received, name):
    return received.message[name]


def ticket_by_agent(agent, caller, first_line, **kwargs):
    return make_ticket(caller=caller, opened_by=agent, group=first_line, **kwargs)


# --- created ----------------------------------------------------------------------------


def test_new_ticket_acknowledged_to_the_caller_and_announced_to_the_group(
    wired, committed, settings, agent, caller, colleague, first_line
):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line, title="VPN <drops> every hour")
    [ack] = wired.to(caller.email)
    assert header(ack, "To") == caller.email
    assert header(ack, "From") == "Service Desk <servicedesk@helpdesk.test>"
    assert (
        header(ack, "Subject")
        == f"[{ticket.number}] We have received your request: VPN <drops> every hour"
    )
    assert header(ack, "Auto-Submitted") == "auto-generated"
    assert header(ack, "Precedence") == "bulk"
    assert header(ack, "X-Auto-Response-Suppress") == "All"
    assert header(ack, "X-Loop") == settings.MAIL_LOOP_ID
    assert header(ack, "Message-ID").endswith(f"@{settings.MAIL_MESSAGE_ID_DOMAIN}>")
    assert ticket.number in ack.text
    assert "VPN &lt;drops&gt; every hour" in ack.html
    assert "VPN <drops>" in ack.text
    # The colleague in the ticket's group hears of it; the agent who opened it does not.
    [group_mail] = wired.to(colleague.email)
    assert header(group_mail, "Subject").startswith(f"[{ticket.number}] New ticket for ")
    assert wired.to(agent.email) == []
    rows = OutboundMessage.objects.filter(ticket=ticket)
    assert sorted(rows.values_list("kind", "status")) == [
        (Kind.ACKNOWLEDGEMENT, Status.SENT),
        (Kind.GROUP_NEW_TICKET, Status.SENT),
    ]


def test_a_caller_who_files_their_own_ticket_gets_no_acknowledgement(
    wired, committed, end_user, caller, first_line, agent
):
    with committed():
        make_ticket(caller=caller, opened_by=end_user, group=first_line)
    assert wired.to(caller.email) == []
    assert len(wired.to(agent.email)) == 1  # the group still hears of it


def _inbound(ticket, mailbox, *, message_id, automatic=False):
    raw = f"Message-ID: <{message_id}>\r\nSubject: help\r\n\r\nbody".encode()
    return InboundMessage.objects.create(
        mailbox=mailbox,
        source=InboundMessage.Source.PIPE,
        dedupe_key=f"mid:{message_id}",
        message_id=message_id,
        sha256=hashlib.sha256(raw).hexdigest(),
        raw=raw,
        size=len(raw),
        sender="caller@example.com",
        subject="help",
        is_automatic=automatic,
        ticket=ticket,
        status=InboundMessage.Status.PROCESSED,
    )


def test_a_ticket_from_mail_is_answered_from_its_mailbox_in_its_thread(
    wired, committed, caller, first_line
):
    other = Mailbox.objects.create(name="Finance IT", address="finance-it@helpdesk.test")
    with committed(), transaction.atomic():
        ticket = make_ticket(caller=caller, channel=Channel.EMAIL, group=first_line)
        _inbound(ticket, other, message_id="first.mail@example.com")
    [ack] = wired.to(caller.email)
    assert header(ack, "From") == "Service Desk <finance-it@helpdesk.test>"
    assert header(ack, "In-Reply-To") == "<first.mail@example.com>"
    assert header(ack, "References") == "<first.mail@example.com>"


def test_an_automatic_mail_that_opened_a_ticket_is_never_acknowledged(
    wired, committed, caller, first_line, agent, mailbox
):
    with committed(), transaction.atomic():
        ticket = make_ticket(caller=caller, channel=Channel.EMAIL, group=first_line)
        _inbound(ticket, mailbox, message_id="ooo@example.com", automatic=True)
    assert wired.to(caller.email) == []
    assert not OutboundMessage.objects.filter(kind=Kind.ACKNOWLEDGEMENT).exists()
    assert len(wired.to(agent.email)) == 1


# --- agent's reply ----------------------------------------------------------------------


def test_agent_reply_goes_to_the_caller_and_the_ccs_with_its_files(
    wired, committed, agent, caller, first_line
):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
    TicketCc.objects.create(ticket=ticket, address="Boss@Example.com", name="Boss")
    TicketCc.objects.create(ticket=ticket, address="colleague@example.org")
    [ack] = wired.to(caller.email)
    with committed():
        services.comment_add(
            ticket=ticket,
            by=agent,
            body="Please restart <the router>.\nThen try again.",
            attachments=[SimpleUploadedFile("steps.png", PNG, "image/png")],
        )
    replies = [m for m in wired.messages if m is not ack and m.rcpt_tos != [agent.email]]
    [reply] = [m for m in replies if header(m, "Auto-Submitted") is None]
    assert sorted(reply.rcpt_tos) == sorted(
        [caller.email, "boss@example.com", "colleague@example.org"]
    )
    assert header(reply, "To") == caller.email
    assert header(reply, "Cc") == "boss@example.com, colleague@example.org"
    assert header(reply, "Subject") == f"[{ticket.number}] {ticket.title}"
    # Written by a person: no Auto-Submitted, no Precedence; still ours (X-Loop).
    assert header(reply, "Precedence") is None
    assert header(reply, "X-Loop")
    assert header(reply, "X-Auto-Response-Suppress") == "All"
    # It answers the acknowledgement the caller got.
    assert header(reply, "In-Reply-To") == header(ack, "Message-ID")
    assert header(ack, "Message-ID") in header(reply, "References")
    assert "Please restart <the router>." in reply.text
    assert "Please restart &lt;the router&gt;.<br>Then try again." in reply.html
    assert reply.attachments() == {"steps.png": PNG}
    row = OutboundMessage.objects.get(kind=Kind.AGENT_REPLY)
    assert row.status == Status.SENT
    assert list(row.attachments.values_list("original_name", flat=True)) == ["steps.png"]


def test_the_callers_own_reply_is_not_mailed_back(
    wired, committed, agent, end_user, caller, first_line
):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        services.ticket_reply_by_caller(ticket=ticket, by=end_user, body="More details")
    assert not OutboundMessage.objects.filter(kind=Kind.AGENT_REPLY).exists()


def test_internal_notes_never_leak_into_any_mail(
    wired, committed, agent, caller, first_line, network_group, engineer
):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        TicketCc.objects.create(ticket=ticket, address="cc@example.org")
        services.comment_add(
            ticket=ticket,
            by=agent,
            body=f"Internal: admin password is {SECRET}",
            is_internal=True,
            attachments=[SimpleUploadedFile("secret.txt", SECRET.encode(), "text/plain")],
        )
        services.attachment_add(
            ticket=ticket,
            by=agent,
            upload=SimpleUploadedFile("internal.txt", f"{SECRET} file".encode(), "text/plain"),
            is_internal=True,
        )
        ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        ticket = services.ticket_escalate(
            ticket=ticket, by=agent, group=network_group, diagnostic_notes=f"Tried {SECRET}"
        )
        ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=engineer)
        services.comment_add(ticket=ticket, by=engineer, body="We are on it.")
        ticket = services.ticket_start(ticket=ticket, by=engineer)
        ticket = services.ticket_pend(
            ticket=ticket, by=engineer, reason="user", note="Which floor?"
        )
        services.comment_add(ticket=ticket, by=engineer, body=f"note {SECRET}", is_internal=True)
        ticket = services.ticket_resume(ticket=ticket, by=engineer)
        ticket = services.ticket_resolve(ticket=ticket, by=engineer, code="solved", notes="Fixed.")
        ticket = services.ticket_close(ticket=ticket, by=engineer)
    kinds = set(OutboundMessage.objects.values_list("kind", flat=True))
    assert {Kind.ACKNOWLEDGEMENT, Kind.AGENT_REPLY, Kind.WAITING_FOR_YOU, Kind.RESOLVED} <= kinds
    assert {Kind.CLOSED, Kind.ASSIGNED, Kind.GROUP_NEW_TICKET} <= kinds
    assert len(wired.messages) >= 6
    for received in wired.messages:
        assert SECRET not in received.all_text()
        assert SECRET.encode() not in received.raw
    for row in OutboundMessage.objects.all():
        stored = " ".join([row.subject, row.body_text, row.body_html, row.status_detail])
        assert SECRET not in stored
        assert not row.attachments.filter(is_internal=True).exists()


# --- transitions ------------------------------------------------------------------------


def test_waiting_for_the_user_asks_the_caller_with_the_note(
    wired, committed, agent, caller, first_line
):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        ticket = services.ticket_start(ticket=ticket, by=agent)
        ticket = services.ticket_pend(ticket=ticket, by=agent, reason="user", note="Which floor?")
    [waiting] = [m for m in wired.to(caller.email) if "We need your answer" in header(m, "Subject")]
    assert header(waiting, "Subject") == f"[{ticket.number}] We need your answer: {ticket.title}"
    assert "Which floor?" in waiting.text
    assert "Which floor?" in waiting.html


def test_waiting_for_a_third_party_sends_nothing(wired, committed, agent, caller, first_line):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        ticket = services.ticket_start(ticket=ticket, by=agent)
        services.ticket_pend(ticket=ticket, by=agent, reason="third_party", note="Supplier")
    assert not OutboundMessage.objects.filter(kind=Kind.WAITING_FOR_YOU).exists()


def test_resolved_mail_in_polish_with_the_reopen_deadline_in_the_callers_time_zone(
    wired, committed, settings, agent, caller, first_line
):
    settings.TICKET_REOPEN_DAYS = 5
    caller.language = "pl"
    caller.time_zone = "America/New_York"
    caller.save(update_fields=["language", "time_zone"])
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        ticket = services.ticket_resolve(
            ticket=ticket, by=agent, code="solved", notes="Replaced the <toner>."
        )
    [resolved] = [m for m in wired.to(caller.email) if "Rozwiązano" in m.text]
    deadline = ticket.resolved_at + timedelta(days=5)
    with translation.override("pl"):
        expected = formats.date_format(
            timezone.localtime(deadline, zoneinfo.ZoneInfo("America/New_York")), "DATETIME_FORMAT"
        )
    assert expected in resolved.text
    assert expected in resolved.html
    assert "Replaced the <toner>." in resolved.text
    assert "Replaced the &lt;toner&gt;." in resolved.html
    assert header(resolved, "Content-Language") == "pl"
    # A non-ASCII subject is folded onto an encoded line; unfolded, it starts with the tag.
    assert header(resolved, "Subject").strip().startswith(f"[{ticket.number}] Rozwiązano")
    assert OutboundMessage.objects.get(kind=Kind.RESOLVED).language == "pl"


def test_closed_mail_unless_the_caller_closed_it(
    wired, committed, agent, end_user, caller, first_line
):
    with committed():
        first = ticket_by_agent(agent, caller, first_line)
        first = services.ticket_resolve(ticket=first, by=agent, code="solved", notes="Done")
        services.ticket_close(ticket=first, by=agent)
        second = ticket_by_agent(agent, caller, first_line)
        second = services.ticket_resolve(ticket=second, by=agent, code="solved", notes="Done")
        services.ticket_close(ticket=second, by=end_user)
    closed = OutboundMessage.objects.filter(kind=Kind.CLOSED)
    assert list(closed.values_list("ticket", flat=True)) == [first.pk]
    [mail] = [
        m
        for m in wired.to(caller.email)
        if header(m, "Subject").startswith(f"[{first.number}] Closed")
    ]
    assert first.number in mail.text


def test_assigned_mail_to_the_new_assignee_but_not_to_oneself(
    wired, committed, agent, engineer, caller, first_line
):
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=engineer)
        other = ticket_by_agent(agent, caller, first_line)
        services.ticket_assign(ticket=other, by=agent, assignee=agent)
    [assigned] = wired.to(engineer.email)
    assert header(assigned, "Subject") == f"[{ticket.number}] Assigned to you: {ticket.title}"
    assert OutboundMessage.objects.filter(kind=Kind.ASSIGNED).count() == 1


# --- when mail is not sent --------------------------------------------------------------


def test_a_muted_kind_is_not_sent_and_says_why(wired, committed, agent, caller, first_line):
    NotificationMute.objects.create(person=caller, kind=Kind.RESOLVED)
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done")
    row = OutboundMessage.objects.get(kind=Kind.RESOLVED)
    assert row.status == Status.SUPPRESSED
    assert "turned this kind of mail off" in row.status_detail
    assert [header(m, "Subject") for m in wired.to(caller.email)] == [
        f"[{ticket.number}] We have received your request: {ticket.title}"
    ]


def test_a_caller_who_muted_replies_still_leaves_them_to_the_ccs(
    wired, committed, agent, caller, first_line
):
    NotificationMute.objects.create(person=caller, kind=Kind.AGENT_REPLY)
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        TicketCc.objects.create(ticket=ticket, address="a@example.org")
        TicketCc.objects.create(ticket=ticket, address="b@example.org")
        services.comment_add(ticket=ticket, by=agent, body="Fixed on our side.")
    rows = OutboundMessage.objects.filter(kind=Kind.AGENT_REPLY).order_by("pk")
    assert [(r.to, r.status, r.cc) for r in rows] == [
        (caller.email, Status.SUPPRESSED, []),
        ("a@example.org", Status.SENT, ["b@example.org"]),
    ]
    [reply] = wired.to("a@example.org")
    assert reply.rcpt_tos == ["a@example.org", "b@example.org"]


def test_bouncing_and_refused_addresses_get_nothing(wired, committed, agent, caller, first_line):
    MailAddress.objects.create(address=caller.email, bouncing_since=timezone.now())
    MailAddress.objects.create(address="gone@example.org", permanently_failing=True)
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        TicketCc.objects.create(ticket=ticket, address="gone@example.org")
        TicketCc.objects.create(ticket=ticket, address="fine@example.org")
        services.comment_add(ticket=ticket, by=agent, body="Hello")
    ack = OutboundMessage.objects.get(kind=Kind.ACKNOWLEDGEMENT)
    assert ack.status == Status.SUPPRESSED
    assert "bounces" in ack.status_detail
    sent = OutboundMessage.objects.get(kind=Kind.AGENT_REPLY, status=Status.SENT)
    assert (sent.to, sent.cc) == ("fine@example.org", [])
    assert "gone@example.org" in sent.status_detail
    assert wired.to(caller.email) == []
    assert wired.to("gone@example.org") == []


def test_hourly_cap_per_recipient(wired, committed, settings, agent, caller, first_line):
    settings.MAIL_OUTBOUND_PER_RECIPIENT_PER_HOUR = 2
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)  # acknowledgement: 1
        services.comment_add(ticket=ticket, by=agent, body="First")  # 2
        services.comment_add(ticket=ticket, by=agent, body="Second")  # over
    statuses = list(
        OutboundMessage.objects.filter(to=caller.email)
        .order_by("pk")
        .values_list("status", flat=True)
    )
    assert statuses == [Status.SENT, Status.SENT, Status.SUPPRESSED]
    assert (
        "This address got 2 mails in the last hour"
        in OutboundMessage.objects.filter(to=caller.email).first().status_detail
    )
    assert len(wired.to(caller.email)) == 2


def test_hourly_cap_per_ticket(wired, committed, settings, agent, caller, first_line, colleague):
    settings.MAIL_OUTBOUND_PER_TICKET_PER_HOUR = 1
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        services.comment_add(ticket=ticket, by=agent, body="First")
    rows = OutboundMessage.objects.filter(ticket=ticket).order_by("pk")
    assert [(r.kind, r.status) for r in rows] == [
        (Kind.ACKNOWLEDGEMENT, Status.SENT),
        # The group's mail is not held back by the ticket's cap, nor counted in it.
        (Kind.GROUP_NEW_TICKET, Status.SENT),
        (Kind.AGENT_REPLY, Status.SUPPRESSED),
    ]
    assert "1 mail about this ticket went out in the last hour" in rows[2].status_detail


def test_a_rolled_back_change_sends_nothing(wired, committed, agent, caller, first_line):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        ticket_by_agent(agent, caller, first_line)
        raise RuntimeError("the request failed after the ticket was written")
    assert not OutboundMessage.objects.exists()
    assert wired.messages == []


def test_the_same_event_twice_writes_and_sends_once(
    wired, committed, monkeypatch, agent, caller, first_line
):
    heard = []
    monkeypatch.setattr(tasks.notify_ticket_event, "delay", heard.append)
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        services.comment_add(ticket=ticket, by=agent, body="Hello")
    assert [event["kind"] for event in heard] == ["created", "commented"]
    for _ in range(2):
        with committed():
            for event in heard:
                tasks.notify_ticket_event.apply(args=[event])
    assert OutboundMessage.objects.filter(ticket=ticket).count() == 2  # ack, reply
    assert len(wired.to(caller.email)) == 2
    # A send task delivered twice sends once.
    reply = OutboundMessage.objects.get(kind=Kind.AGENT_REPLY)
    assert outbound.outbound_send(outbound_id=reply.pk) is None
    assert len(wired.to(caller.email)) == 2


def test_events_that_mail_nobody_start_no_task(committed, monkeypatch, agent, caller, first_line):
    heard = []
    monkeypatch.setattr(tasks.notify_ticket_event, "delay", heard.append)
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
        services.comment_add(ticket=ticket, by=agent, body="note", is_internal=True)
        services.ticket_update(ticket=ticket, by=agent, expected_version=None, urgency=1)
        services.ticket_start(ticket=ticket, by=agent)
    assert [event["kind"] for event in heard] == ["created"]
    assert heard[0]["changes"][0] == {"field": "status", "old": None, "new": "new"}


def test_queries_do_not_grow_with_the_ccs(
    django_assert_max_num_queries, monkeypatch, agent, caller, first_line, mailbox
):
    heard = []
    monkeypatch.setattr(tasks.notify_ticket_event, "delay", heard.append)
    ticket = ticket_by_agent(agent, caller, first_line)
    for number in range(8):
        TicketCc.objects.create(ticket=ticket, address=f"cc{number}@example.org")
        MailAddress.objects.create(address=f"cc{number}@example.org")
    NotificationMute.objects.create(person=caller, kind=Kind.CLOSED)
    comment = services.comment_add(
        ticket=ticket,
        by=agent,
        body="Hello",
        attachments=[SimpleUploadedFile("a.png", PNG, "image/png")],
    )
    event = notifications.event_to_dict(
        notifications.events.TicketEvent(
            kind=notifications.events.Kind.COMMENTED,
            ticket_id=ticket.pk,
            actor_id=agent.pk,
            at=timezone.now(),
            comment_id=comment.pk,
            timeline_ids=(1,),
        )
    )
    with django_assert_max_num_queries(22):
        [row] = notifications.notifications_for_event(event)
    assert len(row.cc) == 8


# --- the ticket page --------------------------------------------------------------------


def test_agents_see_the_tickets_mail_and_the_caller_does_not(
    wired, committed, agent, end_user, caller, first_line
):
    MailAddress.objects.create(address=caller.email, permanently_failing=True)
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
    client = Client()
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert 'data-testid="ticket-mails"' in page
    assert "New ticket acknowledged" in page
    assert "Not sent" in page
    assert "refused this address for good" in page
    client.force_login(end_user)
    portal = client.get(reverse("tickets:detail", args=[ticket.number]))
    assert portal.status_code == 200
    assert 'data-testid="ticket-mails"' not in portal.content.decode()
    assert "refused this address" not in portal.content.decode()


def test_people_without_an_address_get_nothing_and_nothing_breaks(
    wired, committed, agent, first_line
):
    phone_only = PersonFactory(email="")
    with committed():
        ticket = ticket_by_agent(agent, phone_only, first_line)
        services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done")
    assert not OutboundMessage.objects.filter(ticket=ticket, kind=Kind.ACKNOWLEDGEMENT).exists()
    assert not OutboundMessage.objects.filter(ticket=ticket, kind=Kind.RESOLVED).exists()


def test_an_admin_overrides_a_template_from_the_projects_templates_directory(
    wired, committed, settings, tmp_path, agent, caller, first_line
):
    override = tmp_path / "mail" / "notifications"
    override.mkdir(parents=True)
    (override / "acknowledgement_subject.txt").write_text("{% load i18n %}Thanks, we are on it")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    with committed():
        ticket = ticket_by_agent(agent, caller, first_line)
    [acknowledged] = wired.to(caller.email)
    # The ticket number is put in front by the code, so no template can lose it.
    assert header(acknowledged, "Subject") == f"[{ticket.number}] Thanks, we are on it"


def test_an_events_json_form_is_what_asdict_and_a_json_round_trip_give():
    import dataclasses
    import json
    from datetime import datetime, timedelta

    from django.core.serializers.json import DjangoJSONEncoder

    events = notifications.events
    at = timezone.now()
    event = events.TicketEvent(
        kind=events.Kind.TRANSITIONED,
        ticket_id=7,
        actor_id=None,
        at=at,
        transition="resolve",
        changes=(
            events.FieldChange("status", "in_progress", "resolved"),
            events.FieldChange("resolved_at", None, at + timedelta(seconds=1)),
            events.FieldChange("group", 3, None),
        ),
        timeline_ids=(11, 12),
        comment_id=5,
        is_internal=False,
        channel="email",
        mentions=(4,),
    )
    expected = json.loads(json.dumps(dataclasses.asdict(event), cls=DjangoJSONEncoder))
    got = notifications.event_to_dict(event)
    assert got == expected
    assert got["kind"] == "transitioned" and got["changes"][1]["new"].startswith(str(at.year))
    # DjangoJSONEncoder keeps milliseconds.
    assert datetime.fromisoformat(got["at"]) == at.replace(
        microsecond=at.microsecond // 1000 * 1000
    )
