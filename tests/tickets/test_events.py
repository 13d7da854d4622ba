"""Ticket events: the contract other apps live on (tickets/events.py, docs/architecture.md).

Emitted after the commit, never for a change that was rolled back; each carries who did
what, which fields changed from what to what, and the timeline rows written.
"""

import logging
from datetime import datetime

import pytest
from django.db import transaction

from helpdesk.errors import ValidationError
from tests.factories import make_ticket
from tickets import events, services
from tickets.models import Ticket, TimelineEntry

Kind = events.Kind


@pytest.fixture
def heard():
    """Every event, with whether the ticket was readable when the listener ran."""
    received = []

    def listener(event):
        received.append((event, Ticket.objects.filter(pk=event.ticket_id).exists()))

    events.subscribe(listener)
    yield received
    events.unsubscribe(listener)


def kinds(heard):
    return [(event.kind, event.transition) for event, _exists in heard]


@pytest.mark.django_db
def test_nothing_is_announced_before_the_commit(
    heard, end_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = make_ticket(caller=end_user.person)
    assert heard == []
    assert len(callbacks) == 1
    callbacks[0]()
    [(event, exists)] = heard
    assert (event.kind, event.ticket_id, exists) == (Kind.CREATED, ticket.pk, True)


@pytest.mark.django_db
def test_each_write_announces_its_event_with_a_complete_payload(
    heard, agent, end_user, network_group, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(caller=end_user.person)
        first_group = ticket.group_id
        ticket = services.ticket_update(ticket=ticket, by=agent, expected_version=1, urgency=1)
        ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        comment = services.comment_add(ticket=ticket, by=agent, body="Looking at it.")
        ticket = services.ticket_escalate(
            ticket=ticket, by=agent, group=network_group, diagnostic_notes="Ping fails."
        )
    assert kinds(heard) == [
        (Kind.CREATED, ""),
        (Kind.UPDATED, ""),
        (Kind.TRANSITIONED, "assign"),
        (Kind.COMMENTED, ""),
        (Kind.TRANSITIONED, "escalate"),
        (Kind.COMMENTED, ""),  # the diagnostics as a work note
    ]
    created, updated, assigned, commented, escalated, note = (event for event, _ in heard)
    assert {event.ticket_id for event, _ in heard} == {ticket.pk}
    assert created.actor_id is None  # make_ticket opens it with no login
    assert created.change("status").new == "new" and created.channel == "portal"
    assert updated.actor_id == agent.pk
    assert updated.change("urgency") == events.FieldChange("urgency", 3, 1)
    assert updated.change("priority").old == 4
    assert assigned.change("status") == events.FieldChange("status", "new", "assigned")
    assert assigned.change("assignee") == events.FieldChange("assignee", None, agent.pk)
    assert assigned.change("first_response_at").old is None
    assert isinstance(assigned.change("first_response_at").new, datetime)
    assert assigned.change("title") is None
    assert (commented.comment_id, commented.is_internal) == (comment.pk, False)
    assert escalated.change("group") == events.FieldChange("group", first_group, network_group.pk)
    assert escalated.change("assignee") == events.FieldChange("assignee", agent.pk, None)
    assert note.is_internal is True
    # The timeline rows named are this event's own, so a listener need not search for them.
    entries = TimelineEntry.objects.filter(pk__in=escalated.timeline_ids)
    assert sorted(entries.values_list("kind", "field")) == [
        ("escalation", "status"),
        ("field_change", "assignee"),
        ("field_change", "group"),
    ]
    assert list(
        TimelineEntry.objects.filter(pk__in=commented.timeline_ids).values_list(
            "comment", flat=True
        )
    ) == [comment.pk]


@pytest.mark.django_db
def test_the_payload_is_frozen(heard, end_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(caller=end_user.person)
    [(event, _exists)] = heard
    with pytest.raises(AttributeError):
        event.ticket_id = 0


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_is_never_announced(heard, end_user, agent):
    ticket = make_ticket(caller=end_user.person)
    assert kinds(heard) == [(Kind.CREATED, "")]
    heard.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        services.comment_add(ticket=ticket, by=agent, body="Taking it")
        raise RuntimeError("the view failed after the services ran")
    assert heard == []
    assert Ticket.objects.get(pk=ticket.pk).status == "new"
    # A refused write announces nothing either.
    with pytest.raises(ValidationError):
        services.ticket_resolve(ticket=ticket, by=agent, code="", notes="")
    assert heard == []


@pytest.mark.django_db(transaction=True)
def test_listener_runs_after_a_real_commit_and_sees_the_data(heard, end_user, agent):
    with transaction.atomic():
        ticket = make_ticket(caller=end_user.person)
        services.ticket_start(ticket=ticket, by=agent)
        assert heard == []
    assert [(event.kind, event.transition, exists) for event, exists in heard] == [
        (Kind.CREATED, "", True),
        (Kind.TRANSITIONED, "start", True),
    ]


@pytest.mark.django_db
def test_a_failing_listener_is_logged_and_the_others_still_run(
    end_user, caplog, django_capture_on_commit_callbacks
):
    before, after = [], []

    def first(event):
        before.append(event.kind)

    def broken(event):
        raise ValueError("listener bug")

    def last(event):
        after.append(event.kind)

    for listener in (first, broken, last):
        events.subscribe(listener)
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(caller=end_user.person)
    finally:
        for listener in (first, broken, last):
            events.unsubscribe(listener)
    assert before == after == [Kind.CREATED]
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    [record] = [r for r in caplog.records if "listener" in r.getMessage()]
    assert "broken" in record.getMessage() and f"ticket {ticket.pk}" in record.getMessage()
    assert "listener bug" in caplog.text


@pytest.mark.django_db
def test_listener_for_some_kinds_hears_only_those(
    agent, end_user, django_capture_on_commit_callbacks
):
    heard = []

    def on_transition(event):
        heard.append(event.transition)

    events.subscribe(on_transition, kinds=[Kind.COMMENTED])
    events.subscribe(on_transition, kinds=[Kind.TRANSITIONED])  # again: replaces the kinds
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(caller=end_user.person)
            services.comment_add(ticket=ticket, by=agent, body="Hello")
            services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done.")
    finally:
        events.unsubscribe(on_transition)
    assert heard == ["resolve"]
