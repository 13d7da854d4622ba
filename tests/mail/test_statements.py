"""Ingest's written-out statements give what the ORM gives, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.selectors import people_by_email
from mail import statements
from mail.models import InboundMessage, Mailbox, OutboundMessage
from tests.factories import PersonFactory, make_ticket, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(first_line):
    return Mailbox.objects.create(
        name="Service desk", address="servicedesk@example.org", default_group=first_line
    )


@pytest.fixture
def alice_ticket(first_line):
    alice = PersonFactory(full_name="Alice", email="alice@example.org")
    return make_ticket(caller=alice, group=first_line, title="VPN drops")


@contextlib.contextmanager
def django_queries_none():
    with CaptureQueriesContext(connection) as captured:
        yield
    assert not captured.captured_queries


def stored(mailbox, key: str, **fields) -> InboundMessage:
    message = InboundMessage(
        mailbox=mailbox,
        source=InboundMessage.Source.PIPE,
        dedupe_key=key,
        sha256="0" * 64,
        raw=b"From: x@example.org\r\n\r\nHello\r\n",
        size=29,
        **fields,
    )
    assert statements.message_insert(message)
    return message


def test_the_sender_lookup_finds_the_person_the_directorys_selector_finds():
    login = make_user(person=False, username="carla")
    PersonFactory(full_name="Inactive", email="anna@example.org", is_active=False)
    first = PersonFactory(full_name="Anna", email="Anna@Example.org", user=login, is_vip=True)
    PersonFactory(full_name="Anna again", email="anna@example.org")
    PersonFactory(full_name="Bert", email="bert@example.org")

    for address in (
        "anna@example.org",  # exact match of the second Anna, before the case-blind one
        "Anna@Example.org",
        "ANNA@EXAMPLE.ORG",  # only in another case: the first Anna
        " bert@example.org ",
        "nobody@example.org",
        "",
    ):
        expected = (people_by_email(address, limit=1) or [None])[0]
        found = statements.person_by_email(address)
        assert found == expected, address
        if expected is not None:
            assert {
                field.attname: getattr(found, field.attname)
                for field in found._meta.concrete_fields
            } == {
                field.attname: getattr(expected, field.attname)
                for field in expected._meta.concrete_fields
            }
    assert statements.person_by_email("ANNA@EXAMPLE.ORG") == first


def test_a_stored_mail_is_the_row_the_orm_would_have_written(mailbox):
    message = stored(mailbox, "mid:one@example.org", sender="a@example.org", subject="Hi")

    row = InboundMessage.objects.get(pk=message.pk)
    assert not message._state.adding
    assert bytes(row.raw) == bytes(message.raw)
    assert (row.status, row.deliveries, row.attempts) == (InboundMessage.Status.RECEIVED, 1, 0)
    assert row.received_at == message.received_at
    assert (row.sender, row.subject, row.mailbox_id) == ("a@example.org", "Hi", mailbox.pk)


def test_a_mail_stored_before_is_not_inserted_again(mailbox):
    stored(mailbox, "mid:one@example.org")
    again = InboundMessage(
        mailbox=mailbox,
        source=InboundMessage.Source.IMAP,
        dedupe_key="mid:one@example.org",
        sha256="1" * 64,
        raw=b"x",
        size=1,
    )

    assert not statements.message_insert(again)
    assert again.pk is None
    assert InboundMessage.objects.count() == 1


def test_lock_update_and_count_read_and_write_what_the_orm_does(mailbox):
    message = stored(mailbox, "mid:one@example.org", sender="Sam@Example.org")
    stored(mailbox, "mid:two@example.org", sender="sam@example.org")
    old = stored(mailbox, "mid:three@example.org", sender="SAM@example.org")
    InboundMessage.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(hours=2))
    stored(mailbox, "mid:four@example.org", sender="someone@example.org")

    since = timezone.now() - timedelta(hours=1)
    assert statements.sender_recent_count("sam@EXAMPLE.org", since=since, exclude=message.pk) == (
        InboundMessage.objects.filter(sender__iexact="sam@EXAMPLE.org", received_at__gte=since)
        .exclude(pk=message.pk)
        .count()
    )
    assert statements.message_lock(message.pk) == (InboundMessage.Status.RECEIVED, 0)

    message.status = InboundMessage.Status.PROCESSED
    message.outcome = InboundMessage.Outcome.NOT_ACTED_ON
    message.attempts = 1
    message.processed_at = timezone.now()
    statements.message_update(message, ["status", "outcome", "attempts", "processed_at"])

    row = InboundMessage.objects.get(pk=message.pk)
    assert (row.status, row.outcome, row.attempts, row.processed_at) == (
        InboundMessage.Status.PROCESSED,
        InboundMessage.Outcome.NOT_ACTED_ON,
        1,
        message.processed_at,
    )
    assert statements.message_lock(message.pk) == (InboundMessage.Status.PROCESSED, 1)


def fields_of(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def test_the_ticket_lookups_find_what_the_orm_finds(mailbox, alice_ticket):
    ticket = alice_ticket
    other = make_ticket(title="Another")
    mine = OutboundMessage.objects.create(
        ticket=ticket,
        kind=OutboundMessage.Kind.ACKNOWLEDGEMENT,
        to="a@example.org",
        subject=f"[{ticket.number}] Hi",
        message_id="ours-1@helpdesk.example",
        dedupe_key="ours-1",
    )
    OutboundMessage.objects.create(
        ticket=None,
        kind=OutboundMessage.Kind.UNKNOWN_SENDER,
        to="b@example.org",
        subject="Who?",
        message_id="ours-2@helpdesk.example",
        dedupe_key="ours-2",
    )
    first = stored(mailbox, "mid:in-1@example.org", message_id="in-1@example.org")
    InboundMessage.objects.filter(pk=first.pk).update(ticket=other)
    stored(mailbox, "mid:in-2@example.org", message_id="in-2@example.org")

    assert fields_of(statements.ticket_by_number(ticket.number)) == fields_of(
        Ticket.objects.filter(number=ticket.number).first()
    )
    assert statements.ticket_by_number("INC-999999") is None

    for ids in (["in-1@example.org", "<in-1@example.org>"], ["in-2@example.org"], ["nope"]):
        expected = (
            InboundMessage.objects.filter(message_id__in=ids, ticket__isnull=False)
            .select_related("ticket")
            .order_by("-pk")
            .first()
        )
        found = statements.ticket_of_received(ids)
        assert (found and fields_of(found)) == (expected and fields_of(expected.ticket)), ids

    both = ["ours-1@helpdesk.example", "ours-2@helpdesk.example"]
    for ids, kinds in (
        (both, []),
        (both, [OutboundMessage.Kind.UNKNOWN_SENDER]),
        (["ours-2@helpdesk.example"], []),
        ([], []),
    ):
        ours = Q(ticket__isnull=False)
        if kinds:
            ours |= Q(kind__in=kinds)
        expected = (
            OutboundMessage.objects.filter(ours, message_id__in=ids)
            .select_related("ticket")
            .order_by("-pk")
            .first()
        )
        found = statements.outbound_answered(ids, kinds)
        assert (found and found.pk) == (expected and expected.pk), (ids, kinds)
        if expected is not None:
            assert (found.kind, found.subject, found.ticket_id) == (
                expected.kind,
                expected.subject,
                expected.ticket_id,
            )
            with django_queries_none():
                assert (found.ticket and fields_of(found.ticket)) == (
                    expected.ticket and fields_of(expected.ticket)
                )
    assert statements.outbound_answered(["ours-1@helpdesk.example"], []) == mine


def test_a_second_delivery_counts_itself_and_reads_the_row_without_its_bytes(mailbox):
    message = stored(mailbox, "mid:one@example.org", sender="a@example.org", subject="Hi")

    again = statements.message_delivered_again("mid:one@example.org")

    expected = InboundMessage.objects.defer("raw").get(pk=message.pk)
    assert again.get_deferred_fields() == expected.get_deferred_fields() == {"raw"}
    assert fields_of_loaded(again) == fields_of_loaded(expected)
    assert again.deliveries == 2
    with pytest.raises(InboundMessage.DoesNotExist):
        statements.message_delivered_again("mid:none@example.org")


def fields_of_loaded(instance) -> dict:
    fields = type(instance)._meta.concrete_fields
    return {f.attname: getattr(instance, f.attname) for f in fields if f.attname != "raw"}
