"""The periodic job that closes tickets left resolved past the auto-close period."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from helpdesk.celery import app as celery_app
from tests.factories import make_ticket
from tickets import services, tasks
from tickets.models import Status, Ticket, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _auto_close_period(settings):
    settings.TICKET_AUTO_CLOSE_DAYS = 5


@pytest.fixture
def resolve(agent, end_user):
    def resolved(days_ago):
        ticket = make_ticket(caller=end_user.person)
        ticket = services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done.")
        Ticket.objects.filter(pk=ticket.pk).update(
            resolved_at=timezone.now() - timedelta(days=days_ago)
        )
        return ticket

    return resolved


def test_closes_only_tickets_resolved_longer_ago_than_the_period(resolve, agent, end_user):
    old = resolve(6)
    just_over = resolve(5.01)
    recent = resolve(4)
    open_ticket = make_ticket(caller=end_user.person)
    assert tasks.close_resolved_tickets() == 2
    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: Status.CLOSED,
        just_over.pk: Status.CLOSED,
        recent.pk: Status.RESOLVED,
        open_ticket.pk: Status.NEW,
    }
    closed = Ticket.objects.get(pk=old.pk)
    assert closed.closed_at is not None
    assert closed.version == old.version + 1
    entry = closed.timeline.get(transition="close")
    assert (entry.kind, entry.actor, entry.old_value, entry.new_value) == (
        TimelineEntry.Kind.TRANSITION,
        None,
        "resolved",
        "closed",
    )
    assert entry.note == "Closed automatically after 5 days."


def test_running_again_changes_nothing(resolve):
    ticket = resolve(10)
    assert tasks.close_resolved_tickets() == 1
    closed = Ticket.objects.get(pk=ticket.pk)
    assert tasks.close_resolved_tickets() == 0
    again = Ticket.objects.get(pk=ticket.pk)
    assert (again.closed_at, again.version) == (closed.closed_at, closed.version)
    assert again.timeline.filter(transition="close").count() == 1


def test_period_comes_from_settings(resolve, settings):
    ticket = resolve(3)
    assert tasks.close_resolved_tickets() == 0
    settings.TICKET_AUTO_CLOSE_DAYS = 2
    assert tasks.close_resolved_tickets() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_ticket_reopened_and_resolved_again_meanwhile_is_left_alone(resolve, monkeypatch):
    ticket = resolve(10)
    original_lock = services._lock

    def lock_after_a_fresh_resolution(candidate):
        # Between the sweep's query and its lock, the ticket was reopened and resolved again.
        Ticket.objects.filter(pk=candidate.pk).update(resolved_at=timezone.now())
        return original_lock(candidate)

    monkeypatch.setattr(services, "_lock", lock_after_a_fresh_resolution)
    assert tasks.close_resolved_tickets() == 0
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_ticket_reopened_meanwhile_is_left_alone(resolve, monkeypatch):
    ticket = resolve(10)
    original_lock = services._lock

    def lock_after_reopen(candidate):
        Ticket.objects.filter(pk=candidate.pk).update(status=Status.ASSIGNED, resolved_at=None)
        return original_lock(candidate)

    monkeypatch.setattr(services, "_lock", lock_after_reopen)
    assert tasks.close_resolved_tickets() == 0
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


def test_task_runs_through_celery_by_its_name_and_is_scheduled(resolve):
    ticket = resolve(8)
    task = celery_app.tasks["tickets.close_resolved_tickets"]
    result = task.apply()
    assert result.successful()
    assert result.get() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert any(e["task"] == "tickets.close_resolved_tickets" for e in schedule.values())


def test_auto_close_announces_the_close_after_commit(resolve, django_capture_on_commit_callbacks):
    from tickets import events

    heard = []
    ticket = resolve(9)
    events.subscribe(heard.append, kinds=[events.Kind.TRANSITIONED])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.close_resolved_tickets()
    finally:
        events.unsubscribe(heard.append)
    [event] = heard
    assert (event.ticket_id, event.transition, event.actor_id) == (ticket.pk, "close", None)
    assert event.change("status") == events.FieldChange("status", "resolved", "closed")
