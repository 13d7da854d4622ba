"""Mail in (``mail.services.ingest``): what a received mail becomes.

Mails are built as a client writes them (``tests/mail/builders.py``) and go in through
``message_receive``, the one way in of the IMAP fetcher and the mail server's pipe. Tickets
are made and changed through ``tickets.services``, as in production.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.models import Person
from mail import parsing
from mail.models import InboundMessage, MailAddress, Mailbox, OutboundMessage, TicketCc
from mail.services import ingest, outbound
from tests.factories import PNG, PersonFactory, make_ticket
from tests.mail.builders import HELPDESK, delivery_status_notification, mail, make_id
from tests.mail.smtp import eager_celery  # noqa: F401 (fixture)
from tickets import services as ticket_services
from tickets.models import (
    Attachment,
    Channel,
    Impact,
    PendingReason,
    ResolutionCode,
    Status,
    Ticket,
    TicketType,
    TimelineEntry,
    Urgency,
)

pytestmark = pytest.mark.django_db

Kind = OutboundMessage.Kind
Outcome = InboundMessage.Outcome
Reason = InboundMessage.Reason
MailStatus = InboundMessage.Status
ALICE = "Alice Example <alice@example.com>"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@pytest.fixture
def mailbox(first_line):
    return Mailbox.objects.create(name="Service desk", address=HELPDESK, default_group=first_line)


@pytest.fixture
def alice(db):
    return PersonFactory(full_name="Alice Example", email="alice@example.com")


@pytest.fixture
def ticket(alice, first_line):
    return make_ticket(caller=alice, group=first_line, title="VPN drops every hour")


@pytest.fixture
def committed(django_capture_on_commit_callbacks, eager_celery):  # noqa: F811
    """Run what the mail's transaction schedules (notifications, sending) at the end."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def receive(mailbox, raw: bytes) -> InboundMessage:
    return ingest.message_receive(mailbox=mailbox, raw=raw, source=InboundMessage.Source.PIPE)


def notification(ticket, *, to="alice@example.com") -> OutboundMessage:
    """One of our mails about ``ticket``, as outbound writes it (bare Message-ID)."""
    return OutboundMessage.objects.create(
        ticket=ticket,
        kind=Kind.ACKNOWLEDGEMENT,
        dedupe_key=f"test:{uuid.uuid4().hex}",
        from_address=f"Service Desk <{HELPDESK}>",
        to=to,
        subject=f"[{ticket.number}] We received your request",
        body_text="We received your request.",
        message_id=outbound.new_message_id(),
        status=OutboundMessage.Status.SENT,
    )


def resolve(ticket, agent):
    return ticket_services.ticket_resolve(
        ticket=ticket, by=agent, code=ResolutionCode.SOLVED, notes="Replaced the cable."
    )


def answers(kind=None):
    rows = OutboundMessage.objects.filter(ticket__isnull=True)
    return list(rows.filter(kind=kind) if kind else rows)


# --- a new mail -------------------------------------------------------------------------


def test_new_mail_from_a_known_person_becomes_an_email_ticket_for_them(mailbox, alice, first_line):
    raw = mail("Printer on floor 3 does not print", body="The paper jam light is on.")

    message = receive(mailbox, raw)

    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.EMAIL
    assert ticket.caller == alice
    assert ticket.title == "Printer on floor 3 does not print"
    assert ticket.description == "The paper jam light is on."
    assert ticket.group == first_line
    assert ticket.opened_by is None
    assert ticket.status == Status.NEW
    assert [e.kind for e in ticket.timeline.all()] == [TimelineEntry.Kind.CREATED]
    assert not ticket.comments.exists()
    message.refresh_from_db()
    assert (message.status, message.outcome, message.reason) == (
        MailStatus.PROCESSED,
        Outcome.TICKET_CREATED,
        "",
    )
    assert message.ticket == ticket
    assert message.source == InboundMessage.Source.PIPE
    assert message.attempts == 1 and message.deliveries == 1
    assert message.processed_at is not None
    assert message.sender == "alice@example.com" and message.sender_name == "Alice Example"
    assert bytes(message.raw) == raw
    assert not Person.objects.filter(origin=Person.Origin.MAIL).exists()


def test_a_new_ticket_by_mail_is_acknowledged_to_the_caller(mailbox, alice, committed):
    with committed():
        message = receive(mailbox, mail("Screen flickers"))

    [acknowledgement] = OutboundMessage.objects.filter(kind=Kind.ACKNOWLEDGEMENT)
    assert acknowledgement.ticket == message.ticket
    assert acknowledgement.to == "alice@example.com"
    assert acknowledgement.in_reply_to == message.message_id


def test_attachments_become_ticket_attachments_and_a_refused_one_is_noted_internally(
    mailbox, alice
):
    raw = mail(
        "Scanner error",
        attachments=[
            ("screenshot.png", "image/png", PNG),
            ("report.pdf", "application/pdf", PDF),
            ("invoice.pdf.exe", "application/octet-stream", EXE),
        ],
    )

    message = receive(mailbox, raw)

    ticket = message.ticket
    kept = {a.original_name: a for a in Attachment.objects.filter(ticket=ticket)}
    assert set(kept) == {"screenshot.png", "report.pdf"}
    assert kept["screenshot.png"].content_type == "image/png"
    assert kept["report.pdf"].content_type == "application/pdf"
    assert kept["screenshot.png"].file.read() == PNG
    assert all(not a.is_internal for a in kept.values())
    [note] = ticket.comments.all()
    assert note.is_internal
    assert note.channel == Channel.EMAIL
    assert "invoice.pdf.exe" in note.body
    assert "not accepted" in note.body
    assert "screenshot.png" not in note.body
    assert message.outcome == Outcome.TICKET_CREATED


def test_cc_addresses_are_kept_except_our_own_mailboxes_the_caller_and_the_sender(mailbox, alice):
    Mailbox.objects.create(name="Second desk", address="it@helpdesk.test")
    raw = mail(
        to=f"{HELPDESK}, Bob Builder <bob@example.com>",
        cc=(
            "Carol <carol@example.org>, SERVICEDESK@helpdesk.test, it@helpdesk.test,"
            " alice@example.com, BOB@example.com"
        ),
    )

    message = receive(mailbox, raw)

    ccs = list(TicketCc.objects.filter(ticket=message.ticket).values_list("address", "name"))
    assert ccs == [("bob@example.com", "Bob Builder"), ("carol@example.org", "Carol")]


def test_headers_never_set_ticket_fields(mailbox, alice):
    raw = mail(
        "URGENT!!! everything is down",
        headers={
            "X-Priority": "1 (Highest)",
            "Importance": "high",
            "Priority": "urgent",
            "Reply-To": "Mallory <mallory@example.net>",
            "X-Ticket-Group": "network",
        },
    )

    ticket = receive(mailbox, raw).ticket

    default = ticket_services.priority_for(impact=Impact.SINGLE, urgency=Urgency.MEDIUM)
    assert (ticket.impact, ticket.urgency, ticket.priority) == (
        Impact.SINGLE,
        Urgency.MEDIUM,
        default,
    )
    assert ticket.caller == alice
    assert ticket.group == mailbox.default_group
    assert not Person.objects.filter(email="mallory@example.net").exists()


# --- replies ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["Re:", "RE:", "AW:", "Odp:", "Fwd:", "Re: AW:", "Fw: Re:"])
def test_a_reply_tagged_with_the_ticket_number_is_a_public_comment_by_the_caller(
    mailbox, alice, ticket, prefix
):
    raw = mail(f"{prefix} [{ticket.number}] VPN drops every hour", body="It dropped again.")

    message = receive(mailbox, raw)

    [comment] = ticket.comments.all()
    assert not comment.is_internal
    assert comment.author is None and comment.author_person == alice
    assert comment.channel == Channel.EMAIL
    assert comment.body == "It dropped again."
    assert (message.status, message.outcome) == (MailStatus.PROCESSED, Outcome.COMMENT_ADDED)
    assert (message.ticket, message.comment) == (ticket, comment)
    assert ticket.timeline.filter(kind=TimelineEntry.Kind.COMMENT, comment=comment).exists()
    assert Ticket.objects.count() == 1


def test_the_tag_is_found_whatever_its_case_and_spacing(mailbox, alice, ticket):
    number = ticket.number.lower()
    message = receive(mailbox, mail(f"Re: question [ {number} ]"))
    assert message.ticket == ticket and message.outcome == Outcome.COMMENT_ADDED


def test_a_tag_of_no_ticket_makes_a_new_ticket(mailbox, alice, ticket):
    message = receive(mailbox, mail("Re: [INC-999999] old problem"))
    assert message.outcome == Outcome.TICKET_CREATED
    assert message.ticket != ticket


def test_the_callers_reply_puts_a_ticket_waiting_for_them_back_to_work(
    mailbox, alice, ticket, agent
):
    ticket_services.ticket_start(ticket=ticket, by=agent)
    ticket_services.ticket_pend(
        ticket=ticket, by=agent, reason=PendingReason.USER, note="Which VPN client?"
    )

    receive(mailbox, mail(f"Re: [{ticket.number}] VPN drops", body="Cisco AnyConnect 5."))

    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.pending_reason == ""
    resume = ticket.timeline.get(transition="resume")
    assert (resume.old_value, resume.new_value) == (Status.PENDING, Status.IN_PROGRESS)
    assert ticket.comments.get().body == "Cisco AnyConnect 5."


def test_a_reply_while_waiting_for_a_third_party_leaves_the_ticket_pending(
    mailbox, alice, ticket, agent
):
    ticket_services.ticket_start(ticket=ticket, by=agent)
    ticket_services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.THIRD_PARTY)

    receive(mailbox, mail(f"Re: [{ticket.number}] any news?"))

    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.comments.count() == 1


@pytest.mark.parametrize(
    ("header", "form"),
    [
        ("In-Reply-To", "<{id}>"),
        ("In-Reply-To", "{id}"),
        ("References", "<first@client.example> <{id}> <later@client.example>"),
        ("References", "{id}"),
    ],
)
def test_a_reply_naming_our_message_id_is_threaded_without_a_tag(
    mailbox, alice, ticket, header, form
):
    sent = notification(ticket)
    value = form.format(id=sent.message_id)
    raw = mail(
        "Re: your mail",
        body="Thanks, it works now.",
        in_reply_to=value if header == "In-Reply-To" else "",
        references=value if header == "References" else "",
    )

    message = receive(mailbox, raw)

    assert message.ticket == ticket
    assert message.outcome == Outcome.COMMENT_ADDED
    assert ticket.comments.get().body == "Thanks, it works now."
    assert Ticket.objects.count() == 1


def test_references_win_over_a_tag_naming_another_ticket(mailbox, alice, ticket):
    other = make_ticket(caller=alice, title="Other")
    sent = notification(ticket)
    raw = mail(f"Re: [{other.number}] forwarded", in_reply_to=f"<{sent.message_id}>")

    assert receive(mailbox, raw).ticket == ticket
    assert not other.comments.exists()


def test_a_reply_to_the_callers_own_first_mail_is_threaded_to_its_ticket(mailbox, alice):
    first_id = make_id()
    first = receive(mailbox, mail("Laptop fan loud", message_id=first_id))
    second = receive(mailbox, mail("Re: Laptop fan loud", references=first_id))

    assert second.ticket == first.ticket
    assert second.outcome == Outcome.COMMENT_ADDED


def test_a_staff_member_replying_by_mail_writes_an_agent_comment(mailbox, ticket, agent):
    raw = mail(
        f"RE: [{ticket.number}] VPN drops every hour",
        sender=f"Agent <{agent.email}>",
        body="Please update the VPN client.",
    )

    message = receive(mailbox, raw)

    [comment] = ticket.comments.all()
    assert comment.author == agent
    assert comment.author_person == agent.person
    assert not comment.is_internal
    assert comment.channel == Channel.EMAIL
    assert message.outcome == Outcome.COMMENT_ADDED
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    assert ticket.timeline.get(kind=TimelineEntry.Kind.COMMENT).actor == agent


# --- replies to finished tickets --------------------------------------------------------


def test_a_reply_to_a_resolved_ticket_within_the_reopen_window_reopens_it(
    mailbox, alice, ticket, agent, settings
):
    settings.TICKET_REOPEN_DAYS = 7
    resolve(ticket, agent)

    message = receive(mailbox, mail(f"Re: [{ticket.number}] solved?", body="Still broken."))

    ticket.refresh_from_db()
    assert ticket.status in (Status.NEW, Status.ASSIGNED)
    assert ticket.resolved_at is None
    assert ticket.timeline.filter(transition="reopen").exists()
    assert ticket.comments.get().body == "Still broken."
    assert (message.outcome, message.ticket) == (Outcome.TICKET_REOPENED, ticket)
    assert Ticket.objects.count() == 1


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(mailbox, alice, ticket, agent, network_group):
    Ticket.objects.filter(pk=ticket.pk).update(group=network_group)
    ticket.refresh_from_db()
    resolve(ticket, agent)
    ticket_services.ticket_close(ticket=ticket, by=agent)

    message = receive(mailbox, mail(f"Re: [{ticket.number}] VPN", body="It is back."))

    follow_up = message.ticket
    assert follow_up != ticket
    assert follow_up.follow_up_of == ticket
    assert follow_up.caller == alice
    assert follow_up.channel == Channel.EMAIL
    assert follow_up.description == "It is back."
    assert follow_up.group == network_group  # stays with whoever worked on it
    assert message.outcome == Outcome.FOLLOW_UP_CREATED
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert not ticket.comments.exists()


def test_staff_writing_about_a_closed_ticket_continue_the_callers_case(
    mailbox, alice, ticket, agent
):
    resolve(ticket, agent)
    ticket_services.ticket_close(ticket=ticket, by=agent)

    raw = mail(f"Re: [{ticket.number}] VPN", sender=f"Agent <{agent.email}>", body="Back again?")
    message = receive(mailbox, raw)

    assert message.outcome == Outcome.FOLLOW_UP_CREATED
    assert message.ticket.follow_up_of == ticket
    assert message.ticket.caller == alice


def test_a_ccs_out_of_office_about_a_ticket_makes_nobody_a_person(mailbox, ticket):
    TicketCc.objects.create(ticket=ticket, address="bob@example.com", name="Bob")
    people = Person.objects.count()
    raw = mail(
        f"Re: [{ticket.number}] VPN drops",
        sender="Bob <bob@example.com>",
        body="I am away until Monday.",
        headers={"Auto-Submitted": "auto-replied"},
    )

    message = receive(mailbox, raw)

    assert message.outcome == Outcome.AUTO_REPLY_NOTED
    [note] = ticket.comments.all()
    assert note.is_internal and note.author_person is None
    assert Person.objects.count() == people


def test_a_reply_to_a_resolved_ticket_past_the_reopen_window_opens_a_follow_up(
    mailbox, alice, ticket, agent, settings
):
    settings.TICKET_REOPEN_DAYS = 3
    resolve(ticket, agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=4))

    message = receive(mailbox, mail(f"Re: [{ticket.number}] again"))

    assert message.outcome == Outcome.FOLLOW_UP_CREATED
    assert message.ticket.follow_up_of == ticket
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert not ticket.comments.exists()


def test_a_reply_to_a_cancelled_ticket_opens_a_follow_up(mailbox, alice, ticket, agent):
    ticket_services.ticket_cancel(ticket=ticket, by=agent, reason="Duplicate")

    message = receive(mailbox, mail(f"Re: [{ticket.number}] VPN"))

    assert message.outcome == Outcome.FOLLOW_UP_CREATED
    assert message.ticket.follow_up_of == ticket


# --- unknown senders --------------------------------------------------------------------


def test_an_unknown_sender_becomes_a_person_created_from_mail_with_a_ticket(mailbox):
    raw = mail("Need access", sender="Zofia Nowak <zofia.nowak@partner.example>")

    message = receive(mailbox, raw)

    person = Person.objects.get(email="zofia.nowak@partner.example")
    assert person.origin == Person.Origin.MAIL
    assert person.full_name == "Zofia Nowak"
    assert person.user is None
    assert message.ticket.caller == person
    assert message.outcome == Outcome.TICKET_CREATED


def test_an_unknown_sender_without_a_name_is_named_after_the_address(mailbox):
    receive(mailbox, mail(sender="jdoe@partner.example"))
    assert Person.objects.get(email="jdoe@partner.example").full_name == "jdoe"


def test_a_known_sender_is_found_whatever_the_case_of_the_address(mailbox, alice):
    message = receive(mailbox, mail(sender="Alice <ALICE@Example.COM>"))
    assert message.ticket.caller == alice
    assert Person.objects.count() == 1


def test_an_unknown_sender_gets_a_polite_answer_and_no_ticket_when_the_mailbox_says_so(
    mailbox,
):
    mailbox.unknown_senders = Mailbox.UnknownSenders.REPLY_ONLY
    mailbox.save()
    message_id = make_id()

    message = receive(
        mailbox, mail("Need access", sender="z@partner.example", message_id=message_id)
    )

    assert not Ticket.objects.exists()
    assert not Person.objects.filter(email="z@partner.example").exists()
    assert (message.status, message.outcome) == (
        MailStatus.PROCESSED,
        Outcome.UNKNOWN_SENDER_ANSWERED,
    )
    [answer] = OutboundMessage.objects.all()
    assert answer.kind == Kind.UNKNOWN_SENDER
    assert answer.to == "z@partner.example"
    assert answer.ticket is None
    assert answer.in_reply_to == message_id.strip("<>")
    assert "Need access" in answer.subject
    assert answer.status == OutboundMessage.Status.QUEUED


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-generated"},
        {"Precedence": "bulk"},
        {"List-Id": "<announce.partner.example>"},
        {"X-Autorespond": "yes"},
    ],
)
def test_an_automatic_mail_from_an_unknown_sender_gets_no_answer_at_all(mailbox, headers):
    mailbox.unknown_senders = Mailbox.UnknownSenders.REPLY_ONLY
    mailbox.save()

    message = receive(mailbox, mail("Newsletter", sender="news@partner.example", headers=headers))

    assert message.is_automatic
    assert not OutboundMessage.objects.exists()
    assert not Ticket.objects.exists()
    assert message.outcome != Outcome.UNKNOWN_SENDER_ANSWERED
    assert message.status == MailStatus.IGNORED


# --- who may answer a ticket by its number ----------------------------------------------


def test_a_stranger_naming_someone_elses_ticket_makes_a_new_ticket(mailbox, alice, ticket):
    mallory = PersonFactory(email="mallory@example.net")
    raw = mail(f"Re: [{ticket.number}] VPN drops", sender="mallory@example.net", body="Close it")

    message = receive(mailbox, raw)

    assert not ticket.comments.exists()
    assert message.outcome == Outcome.TICKET_CREATED
    assert message.ticket != ticket
    assert message.ticket.caller == mallory
    assert message.ticket.follow_up_of is None


def test_an_unknown_stranger_naming_a_ticket_does_not_append_either(mailbox, alice, ticket):
    raw = mail(f"Re: [{ticket.number}] VPN drops", sender="bot@spam.example")

    message = receive(mailbox, raw)

    assert not ticket.comments.exists()
    assert message.ticket != ticket


def test_a_cc_of_the_ticket_may_answer_by_its_number(mailbox, alice, ticket):
    TicketCc.objects.create(ticket=ticket, address="Bob@Example.com", name="Bob")
    raw = mail(f"Re: [{ticket.number}] VPN drops", sender="Bob <bob@example.com>", body="Me too")

    message = receive(mailbox, raw)

    [comment] = ticket.comments.all()
    assert not comment.is_internal
    assert comment.author_person.email == "bob@example.com"
    assert message.outcome == Outcome.COMMENT_ADDED
    ticket.refresh_from_db()
    assert ticket.caller == alice


def test_a_cc_of_the_first_mail_may_answer_by_its_number(mailbox, alice):
    first = receive(mailbox, mail("Shared drive full", cc="bob@example.com"))
    ticket = first.ticket

    reply = receive(mailbox, mail(f"Re: [{ticket.number}] Shared drive", sender="bob@example.com"))

    assert reply.ticket == ticket
    assert reply.outcome == Outcome.COMMENT_ADDED


def test_staff_may_answer_any_ticket_by_its_number(mailbox, ticket, engineer):
    raw = mail(f"Re: [{ticket.number}] VPN", sender=engineer.email, body="Checked the firewall.")

    message = receive(mailbox, raw)

    assert message.ticket == ticket
    assert ticket.comments.get().author == engineer


def test_anyone_may_answer_by_the_number_when_the_mailbox_allows_it(mailbox, alice, ticket):
    mailbox.reply_senders = Mailbox.ReplySenders.ANYONE
    mailbox.save()
    raw = mail(f"Re: [{ticket.number}] VPN", sender="Dave <dave@elsewhere.example>", body="Hi")

    message = receive(mailbox, raw)

    [comment] = ticket.comments.all()
    assert comment.author_person.email == "dave@elsewhere.example"
    assert not comment.is_internal
    assert message.outcome == Outcome.COMMENT_ADDED
    assert Ticket.objects.count() == 1


# --- automatic mail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Re: [{number}] VPN", {"Auto-Submitted": "auto-replied"}),
        ("Re: [{number}] VPN", {"X-Autoreply": "yes"}),
        ("Re: [{number}] VPN", {"Precedence": "bulk"}),
        ("Out of Office: Re: [{number}] VPN", {}),
        ("Automatic reply: [{number}] VPN", {"X-Auto-Response-Suppress": "All"}),
    ],
)
def test_an_auto_reply_about_a_ticket_is_an_internal_note_and_nothing_more(
    mailbox, alice, ticket, agent, committed, subject, headers
):
    ticket_services.ticket_start(ticket=ticket, by=agent)
    ticket_services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.USER)
    sent_before = OutboundMessage.objects.count()
    raw = mail(
        subject.format(number=ticket.number),
        body="I am out of the office until Monday.",
        headers=headers,
    )

    with committed():
        message = receive(mailbox, raw)

    [note] = ticket.comments.all()
    assert note.is_internal
    assert "alice@example.com" in note.body
    assert "I am out of the office until Monday." in note.body
    ticket.refresh_from_db()
    assert (ticket.status, ticket.pending_reason) == (Status.PENDING, PendingReason.USER)
    assert (message.outcome, message.ticket, message.comment) == (
        Outcome.AUTO_REPLY_NOTED,
        ticket,
        note,
    )
    assert message.is_automatic
    assert OutboundMessage.objects.count() == sent_before  # nobody is answered


def test_an_auto_reply_about_no_ticket_is_ignored(mailbox, alice, committed):
    raw = mail("Out of Office: Printer", headers={"Auto-Submitted": "auto-replied"})

    with committed():
        message = receive(mailbox, raw)

    assert (message.status, message.outcome) == (MailStatus.IGNORED, Outcome.NOT_ACTED_ON)
    assert message.ticket is None
    assert not Ticket.objects.exists()
    assert not OutboundMessage.objects.exists()


def test_an_auto_reply_of_a_stranger_about_no_ticket_creates_no_person(mailbox):
    raw = mail("Automatic reply: hello", sender="robot@elsewhere.example")

    message = receive(mailbox, raw)

    assert message.status == MailStatus.IGNORED
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    "headers", [{"List-Id": "Users <users.lists.example>"}, {"Precedence": "list"}]
)
def test_list_mail_is_never_answered(mailbox, alice, ticket, committed, headers):
    with committed():
        new = receive(mailbox, mail("[users] printer tips", headers=headers))
        reply = receive(mailbox, mail(f"Re: [{ticket.number}] VPN", headers=headers))

    assert new.is_automatic and reply.is_automatic
    assert not OutboundMessage.objects.filter(to="alice@example.com").exists()
    assert reply.outcome == Outcome.AUTO_REPLY_NOTED
    assert ticket.comments.get().is_internal


# --- bounces ----------------------------------------------------------------------------


def test_a_bounce_of_our_notification_is_noted_on_its_ticket_and_marks_the_address(
    mailbox, alice, ticket, committed
):
    sent = notification(ticket, to="alice@example.com")
    raw = delivery_status_notification(
        original_message_id=f"<{sent.message_id}>", recipient="alice@example.com"
    )

    with committed():
        message = receive(mailbox, raw)

    [note] = ticket.comments.all()
    assert note.is_internal
    assert "alice@example.com" in note.body
    assert "5.1.1" in note.body
    assert (message.status, message.outcome, message.ticket, message.comment) == (
        MailStatus.PROCESSED,
        Outcome.BOUNCE_RECORDED,
        ticket,
        note,
    )
    state = MailAddress.objects.get(address="alice@example.com")
    assert state.bouncing_since is not None
    assert state.bounce_count == 1
    assert "5.1.1" in state.last_problem
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert Ticket.objects.count() == 1
    assert not Person.objects.filter(origin=Person.Origin.MAIL).exists()
    assert OutboundMessage.objects.count() == 1  # ours; nothing answers the mailer daemon


def test_a_delayed_delivery_notice_is_noted_without_marking_the_address(mailbox, alice, ticket):
    sent = notification(ticket)
    raw = delivery_status_notification(
        original_message_id=f"<{sent.message_id}>",
        recipient="alice@example.com",
        action="delayed",
        status="4.4.1",
    )

    message = receive(mailbox, raw)

    assert message.outcome == Outcome.BOUNCE_RECORDED
    [note] = ticket.comments.all()
    assert note.is_internal and "delayed" in note.body
    assert not MailAddress.objects.filter(
        address="alice@example.com", bouncing_since__isnull=False
    ).exists()


def test_a_bounce_of_a_mail_we_never_sent_marks_no_address(mailbox, alice):
    raw = delivery_status_notification(
        original_message_id="<spam-123@spammer.example>", recipient="alice@example.com"
    )

    message = receive(mailbox, raw)

    assert (message.status, message.outcome) == (MailStatus.IGNORED, Outcome.NOT_ACTED_ON)
    assert not MailAddress.objects.filter(bouncing_since__isnull=False).exists()
    assert not Ticket.objects.exists()


# --- loops ------------------------------------------------------------------------------


def test_our_own_notification_coming_back_is_dropped(mailbox, alice, ticket, settings):
    raw = mail(
        f"[{ticket.number}] We received your request",
        sender=f"Service Desk <{HELPDESK}>",
        message_id=f"<{uuid.uuid4().hex}@{settings.MAIL_MESSAGE_ID_DOMAIN}>",
    )

    message = receive(mailbox, raw)

    assert (message.status, message.outcome) == (MailStatus.IGNORED, Outcome.LOOP_DROPPED)
    assert not ticket.comments.exists()
    assert Ticket.objects.count() == 1
    assert not Person.objects.filter(email=HELPDESK).exists()


def test_a_mail_with_our_loop_header_is_dropped(mailbox, alice, settings):
    raw = mail("Forwarded by a rule", headers={"X-Loop": settings.MAIL_LOOP_ID.upper()})

    message = receive(mailbox, raw)

    assert message.outcome == Outcome.LOOP_DROPPED
    assert not Ticket.objects.exists()
    assert not OutboundMessage.objects.exists()


# --- once only --------------------------------------------------------------------------


def test_the_same_mail_delivered_twice_is_stored_and_acted_on_once(mailbox, alice):
    raw = mail("Keyboard missing keys")

    first = receive(mailbox, raw)
    second = receive(mailbox, raw)

    assert second.pk == first.pk
    row = InboundMessage.objects.get()
    assert row.deliveries == 2
    assert row.attempts == 1
    assert Ticket.objects.count() == 1


def test_the_same_message_id_with_other_bytes_is_one_mail(mailbox, alice):
    message_id = make_id()
    receive(mailbox, mail("Keyboard missing keys", message_id=message_id))
    # Relayed again with a trace header added: other bytes, same mail.
    again = b"Received: from relay.example by mx.example; Mon, 3 Mar 2025\r\n" + mail(
        "Keyboard missing keys", message_id=message_id.upper()
    )

    receive(mailbox, again)

    assert InboundMessage.objects.get().deliveries == 2
    assert Ticket.objects.count() == 1


def test_a_mail_without_message_id_is_deduplicated_by_its_content(mailbox, alice):
    raw = mail("No id here", message_id=None)
    other = mail("No id here either", message_id=None)

    receive(mailbox, raw)
    receive(mailbox, raw)
    receive(mailbox, other)

    rows = InboundMessage.objects.order_by("pk")
    assert [(r.dedupe_key.split(":")[0], r.deliveries) for r in rows] == [
        ("sha256", 2),
        ("sha256", 1),
    ]
    assert Ticket.objects.count() == 2


def test_a_reply_delivered_twice_is_one_comment(mailbox, alice, ticket):
    raw = mail(f"Re: [{ticket.number}] VPN")
    receive(mailbox, raw)
    receive(mailbox, raw)
    assert ticket.comments.count() == 1


def test_a_mail_stored_by_a_run_that_died_is_processed_on_its_next_delivery(mailbox, alice):
    raw = mail("Stored, never processed")
    message, created = ingest.message_store(
        mailbox=mailbox, raw=raw, source=InboundMessage.Source.IMAP
    )
    assert created and message.status == MailStatus.RECEIVED

    again = receive(mailbox, raw)

    assert again.pk == message.pk
    assert again.status == MailStatus.PROCESSED
    assert Ticket.objects.count() == 1


# --- floods -----------------------------------------------------------------------------


def test_a_sender_over_the_hourly_cap_is_quarantined_and_told_once(mailbox, alice, settings):
    settings.MAIL_INBOUND_PER_SENDER_PER_HOUR = 3

    results = [receive(mailbox, mail(f"Mail {n}")) for n in range(6)]

    assert [r.status for r in results] == [MailStatus.PROCESSED] * 3 + [MailStatus.QUARANTINED] * 3
    assert {r.reason for r in results[3:]} == {Reason.RATE_LIMITED}
    assert Ticket.objects.count() == 3
    [told] = answers()
    assert told.kind == Kind.RATE_LIMITED
    assert told.to == "alice@example.com"


def test_the_cap_counts_per_sender(mailbox, alice, settings):
    settings.MAIL_INBOUND_PER_SENDER_PER_HOUR = 2
    for n in range(2):
        receive(mailbox, mail(f"Mail {n}"))

    other = receive(mailbox, mail("From Bob", sender="bob@example.com"))

    assert other.status == MailStatus.PROCESSED


# --- quarantine -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"   \r\n\r\n  ", b"\x00\x01\x02 no mail here"])
def test_bytes_that_are_no_mail_go_to_the_quarantine(mailbox, raw):
    message = receive(mailbox, raw)

    assert message.status == MailStatus.QUARANTINED
    assert message.reason == Reason.UNPARSEABLE
    assert message.detail
    assert bytes(InboundMessage.objects.get().raw) == raw
    assert not Ticket.objects.exists()


def test_a_mail_without_any_sender_address_goes_to_the_quarantine(mailbox):
    message = receive(mailbox, mail(sender="undisclosed-recipients:;"))

    assert (message.status, message.reason) == (MailStatus.QUARANTINED, Reason.UNPARSEABLE)
    assert not Ticket.objects.exists()


def test_a_failure_rolls_back_everything_and_a_retry_then_succeeds(mailbox, monkeypatch):
    raw = mail(
        "Disk full",
        sender="New Person <new@partner.example>",
        cc="carol@example.org",
        attachments=[("df.png", "image/png", PNG)],
    )

    def broken(context, ticket):
        raise RuntimeError("the Cc table is locked")

    with monkeypatch.context() as patched:
        patched.setattr(ingest, "_record_ccs", broken)
        message = receive(mailbox, raw)

    assert message.status == MailStatus.QUARANTINED
    assert message.reason == Reason.PROCESSING_FAILED
    assert "RuntimeError: the Cc table is locked" in message.detail
    assert message.attempts == 1
    assert message.ticket is None
    # Nothing half-written: no ticket, no person, no attachment, no Cc.
    assert not Ticket.objects.exists()
    assert not Person.objects.exists()
    assert not Attachment.objects.exists()
    assert not TicketCc.objects.exists()
    assert not TimelineEntry.objects.exists()

    # Delivered again meanwhile: still one row, still in quarantine, not retried by itself.
    receive(mailbox, raw)
    assert Ticket.objects.count() == 0

    retried = ingest.message_retry(message=message, by="admin")

    assert retried.status == MailStatus.PROCESSED
    assert (retried.reason, retried.detail) == ("", "")
    assert retried.attempts == 2
    ticket = Ticket.objects.get()
    assert retried.ticket == ticket
    assert ticket.caller.email == "new@partner.example"
    assert ticket.attachments.count() == 1
    assert list(TicketCc.objects.values_list("address", flat=True)) == ["carol@example.org"]
    with pytest.raises(ValidationError):
        ingest.message_retry(message=retried, by="admin")
    assert Ticket.objects.count() == 1


def test_a_quarantined_mail_can_be_discarded_and_is_not_processed_again(
    mailbox, alice, monkeypatch
):
    raw = mail("Will be discarded")
    with monkeypatch.context() as patched:
        patched.setattr(ingest, "_new_ticket", lambda *a, **k: 1 / 0)
        message = receive(mailbox, raw)
    assert message.reason == Reason.PROCESSING_FAILED
    assert "ZeroDivisionError" in message.detail

    discarded = ingest.message_discard(message=message, by="admin")

    assert discarded.status == MailStatus.DISCARDED
    receive(mailbox, raw)
    assert InboundMessage.objects.get().status == MailStatus.DISCARDED
    assert not Ticket.objects.exists()
    with pytest.raises(ValidationError):
        ingest.message_retry(message=discarded, by="admin")


def test_only_mail_in_quarantine_is_discarded(mailbox, alice):
    message = receive(mailbox, mail("Fine mail"))

    with pytest.raises(ValidationError):
        ingest.message_discard(message=message, by="admin")

    assert InboundMessage.objects.get().status == MailStatus.PROCESSED


def test_processing_over_the_time_limit_is_quarantined(mailbox, alice, settings, monkeypatch):
    settings.MAIL_PROCESS_SECONDS = 1
    parse = parsing.parse_message

    def slow(raw):
        time.sleep(3)
        return parse(raw)

    raw = mail("Slow to read")
    with monkeypatch.context() as patched:
        patched.setattr(parsing, "parse_message", slow)
        started = time.monotonic()
        message = receive(mailbox, raw)
        assert time.monotonic() - started < 2.5

    assert (message.status, message.reason) == (MailStatus.QUARANTINED, Reason.TIMED_OUT)
    assert "1" in message.detail
    assert not Ticket.objects.exists()

    assert ingest.message_retry(message=message, by="admin").status == MailStatus.PROCESSED
    assert Ticket.objects.count() == 1


# --- oversized mail ---------------------------------------------------------------------


def test_an_oversized_mail_keeps_only_its_headers_and_its_sender_is_told_once(
    mailbox, alice, settings
):
    settings.MAIL_MAX_BYTES = 4000
    raw = mail(
        "Huge scan", body="x" * 2000, attachments=[("scan.pdf", "application/pdf", PDF * 60)]
    )
    assert len(raw) > 4000

    message = receive(mailbox, raw)

    assert message.is_truncated
    assert message.size == len(raw)
    stored = bytes(InboundMessage.objects.get().raw)
    assert stored == ingest.headers_of(raw)
    assert b"Subject: Huge scan" in stored and b"xxxx" not in stored
    assert (message.status, message.reason) == (MailStatus.QUARANTINED, Reason.TOO_LARGE)
    assert str(len(raw)) in message.detail
    assert not Ticket.objects.exists()
    [told] = answers()
    assert (told.kind, told.to) == (Kind.TOO_LARGE, "alice@example.com")

    receive(mailbox, raw)
    ingest.message_retry(message=message, by="admin")

    assert InboundMessage.objects.get().deliveries == 2
    assert len(answers()) == 1
    assert InboundMessage.objects.get().status == MailStatus.QUARANTINED


def test_an_oversized_automatic_mail_is_not_answered(mailbox, alice, settings):
    settings.MAIL_MAX_BYTES = 1000
    raw = mail("Out of Office: big", body="y" * 3000, headers={"Auto-Submitted": "auto-replied"})

    message = receive(mailbox, raw)

    assert message.reason == Reason.TOO_LARGE
    assert message.is_automatic
    assert not OutboundMessage.objects.exists()


# --- bounded queries ---------------------------------------------------------------------


def _queries_for(mailbox, raw) -> int:
    with CaptureQueriesContext(connection) as captured:
        receive(mailbox, raw)
    return len(captured)


def test_queries_of_a_new_mail_grow_only_by_the_insert_of_each_attachment(mailbox, alice):
    few = _queries_for(
        mailbox, mail("One of each", cc="c0@example.org", attachments=[("a.png", "image/png", PNG)])
    )
    many = _queries_for(
        mailbox,
        mail(
            "Many of each",
            cc=", ".join(f"c{n}@example.org" for n in range(1, 9)),
            attachments=[(f"{n}.png", "image/png", PNG) for n in range(4)],
        ),
    )
    # Each more attachment is one INSERT (in the ticket's transaction, no savepoint of its
    # own); each more Cc costs nothing.
    assert many <= few + 3, f"{few} queries for one Cc and file, {many} for 8 and 4"


def test_processing_a_new_mail_takes_a_bounded_number_of_queries(
    mailbox, alice, django_assert_max_num_queries
):
    raw = mail(
        "Everything at once",
        cc=", ".join(f"colleague{n}@example.org" for n in range(6)),
        attachments=[(f"shot{n}.png", "image/png", PNG) for n in range(4)],
    )

    with django_assert_max_num_queries(40):
        message = receive(mailbox, raw)

    assert message.ticket.attachments.count() == 4
    assert TicketCc.objects.count() == 6


# Issue 14: one worker takes 100 mails a second. The ceilings are today's counts (savepoints
# included: here the mail's transaction is a savepoint in the test's); a query more per mail
# is a regression to look at, not a number to raise. They were 15, 18 and 19 before the
# mail's own statements were written out (mail/statements.py).


def test_a_new_ticket_by_mail_takes_at_most_12_queries(
    mailbox, alice, django_assert_max_num_queries
):
    receive(mailbox, mail("Warm-up"))  # the ticket counter's row exists from now on

    with django_assert_max_num_queries(12):
        message = receive(mailbox, mail("Printer on floor 3 does not print"))

    assert message.outcome == Outcome.TICKET_CREATED


def test_a_reply_by_mail_takes_at_most_14_queries_by_tag_and_15_by_references(
    mailbox, alice, django_assert_max_num_queries
):
    first_id = make_id()
    ticket = receive(mailbox, mail("VPN drops", message_id=first_id)).ticket

    with django_assert_max_num_queries(14):
        by_tag = receive(mailbox, mail(f"Re: [{ticket.number}] VPN drops", body="Again."))
    with django_assert_max_num_queries(15):
        by_references = receive(
            mailbox,
            mail("AW: VPN drops", body="Still.", in_reply_to=first_id, references=first_id),
        )

    assert by_tag.outcome == by_references.outcome == Outcome.COMMENT_ADDED
    assert by_tag.ticket == by_references.ticket == ticket


def test_a_processed_mail_is_saved_without_writing_its_raw_bytes_again(mailbox, alice):
    with CaptureQueriesContext(connection) as captured:
        receive(mailbox, mail("Small"))
    updates = [
        q["sql"] for q in captured if q["sql"].startswith("UPDATE") and "inboundmessage" in q["sql"]
    ]
    assert updates and all('"raw"' not in sql for sql in updates)


# --- more of the same paths -------------------------------------------------------------


def test_a_service_request_is_answered_by_its_req_tag(mailbox, alice):
    request = make_ticket(caller=alice, type=TicketType.REQUEST, title="New laptop")
    assert request.number.startswith("REQ-")

    message = receive(mailbox, mail(f"AW: [{request.number}] New laptop"))

    assert message.ticket == request
    assert request.comments.count() == 1


def test_a_reply_with_a_file_and_a_new_cc_adds_both_to_the_ticket(mailbox, alice, ticket):
    raw = mail(
        f"Re: [{ticket.number}] VPN",
        cc="Dan <dan@example.org>",
        body="Log attached.",
        attachments=[("vpn.log", "text/plain", b"12:00 tunnel down\n")],
    )

    message = receive(mailbox, raw)

    [attachment] = ticket.attachments.all()
    assert attachment.comment == message.comment
    assert attachment.original_name == "vpn.log"
    assert list(TicketCc.objects.filter(ticket=ticket).values_list("address", flat=True)) == [
        "dan@example.org"
    ]


def test_an_html_only_mail_gives_a_text_description_and_keeps_the_sanitised_html(mailbox, alice):
    message = EmailMessage()
    message["From"] = ALICE
    message["To"] = HELPDESK
    message["Subject"] = "Formatted"
    message["Message-ID"] = make_id()
    message.set_content(
        "<html><body><p>The <b>printer</b> is broken.</p>"
        "<script>alert(1)</script><img src='https://tracker.example/p.gif'></body></html>",
        subtype="html",
    )

    received = receive(mailbox, message.as_bytes())

    assert received.ticket.description == "The printer is broken."
    assert "<b>printer</b>" in received.html_sanitized
    assert "script" not in received.html_sanitized
    assert "tracker.example" not in received.html_sanitized


def test_a_mail_without_subject_or_text_still_makes_a_ticket(mailbox, alice, ticket):
    new = receive(mailbox, mail("", body=""))
    assert new.ticket.title == "(no subject)"
    assert new.ticket.description == ""

    reply = receive(mailbox, mail(f"Re: [{ticket.number}]", body="   \n"))
    assert reply.comment.body == "(The mail has no text.)"


@pytest.mark.parametrize("finished", ["resolved", "closed"])
def test_an_auto_reply_about_a_finished_ticket_neither_reopens_it_nor_opens_a_follow_up(
    mailbox, alice, ticket, agent, finished
):
    resolve(ticket, agent)
    if finished == "closed":
        ticket_services.ticket_close(ticket=ticket, by=agent)

    message = receive(
        mailbox,
        mail(f"Automatic reply: [{ticket.number}] Resolved", headers={"X-Autoreply": "yes"}),
    )

    assert message.outcome == Outcome.AUTO_REPLY_NOTED
    ticket.refresh_from_db()
    assert ticket.status == finished
    assert Ticket.objects.count() == 1
    assert ticket.comments.get().is_internal
