"""Hooks for other apps fire after the commit, never for a change that was rolled back."""

import logging
from collections import defaultdict

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from tests.factories import make_ticket
from tickets import hooks, services
from tickets.models import Ticket


@pytest.fixture(autouse=True)
def _only_this_tests_listeners(monkeypatch):
    # Other apps register listeners in AppConfig.ready; these tests hear only their own.
    monkeypatch.setattr(hooks, "_listeners", defaultdict(list))


@pytest.fixture
def heard():
    """Record every event; unregistered afterwards so tests do not leak listeners."""
    events = []

    def listener(*, event, ticket_id, **data):
        # What a listener would see if it read the database now.
        exists = Ticket.objects.filter(pk=ticket_id).exists()
        events.append((event, ticket_id, data, exists))

    hooks.register("*", listener)
    yield events
    hooks.unregister("*", listener)


@pytest.mark.django_db
def test_nothing_is_announced_before_the_commit(
    heard, end_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = make_ticket(caller=end_user.person)
    assert heard == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert heard == [("ticket_created", ticket.pk, {}, True)]


@pytest.mark.django_db
def test_each_write_announces_its_event(
    heard, agent, end_user, network_group, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(caller=end_user.person)
        ticket = services.ticket_update(ticket=ticket, by=agent, expected_version=1, urgency=1)
        ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        comment = services.comment_add(ticket=ticket, by=agent, body="Looking at it.")
        ticket = services.ticket_escalate(
            ticket=ticket, by=agent, group=network_group, diagnostic_notes="Ping fails."
        )
    names = [event for event, *_rest in heard]
    assert names == [
        "ticket_created",
        "ticket_updated",
        "ticket_assign",
        "ticket_commented",
        "ticket_escalate",
        "ticket_commented",  # the diagnostics as a work note
    ]
    assert heard[3][2] == {"comment_id": comment.pk}
    assert {ticket_id for _event, ticket_id, *_rest in heard} == {ticket.pk}


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_is_never_announced(heard, end_user, agent):
    ticket = make_ticket(caller=end_user.person)
    assert heard == [("ticket_created", ticket.pk, {}, True)]
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
    assert [(event, exists) for event, _id, _data, exists in heard] == [
        ("ticket_created", True),
        ("ticket_start", True),
    ]


@pytest.mark.django_db
def test_broken_listener_does_not_stop_others_or_the_write(
    heard, end_user, caplog, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise ValueError("listener bug")

    hooks.register("ticket_created", broken)
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(caller=end_user.person)
    finally:
        hooks.unregister("ticket_created", broken)
    assert heard == [("ticket_created", ticket.pk, {}, True)]
    assert "ticket hook" in caplog.text
    assert "listener bug" in caplog.text


@pytest.mark.django_db
def test_listener_for_one_event_hears_only_that_event(
    agent, end_user, django_capture_on_commit_callbacks
):
    calls = []

    def on_resolve(**kwargs):
        calls.append(kwargs)

    hooks.register("ticket_resolve", on_resolve)
    hooks.register("ticket_resolve", on_resolve)  # registering twice is harmless
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(caller=end_user.person)
            services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done.")
    finally:
        hooks.unregister("ticket_resolve", on_resolve)
    assert calls == [{"event": "ticket_resolve", "ticket_id": ticket.pk}]


@pytest.mark.django_db
def test_without_listeners_no_callback_is_scheduled(end_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        make_ticket(caller=end_user.person)
    assert callbacks == []
