"""What agents see of service levels, and the demo's SLA data."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.urls import reverse
from django.utils import timezone

from sla import demo
from sla.models import BusinessCalendar, SlaClock, SlaPolicy, Target
from sla.templatetags.sla_tags import business_duration
from tests.factories import make_ticket
from tickets import services
from tickets.models import PendingReason, Priority, Status, Ticket

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def policies(db):
    calendar = BusinessCalendar.objects.create(name="24x7", always_open=True)
    for priority in Priority.values:
        SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=calendar,
            first_response=2 * H,
            resolution=10 * H,
        )


@pytest.fixture
def events_now(monkeypatch):
    from tickets import events

    def deliver_now(event):
        listeners = [
            entry[0]
            for entry in events._subscriptions
            if entry[1] is None or event.kind in entry[1]
        ]
        events._deliver(event, listeners)

    monkeypatch.setattr(events, "emit_on_commit", deliver_now)


def page(client, user, ticket):
    client.force_login(user)
    return client.get(reverse("tickets:console_detail", args=[ticket.number]))


def test_the_ticket_page_shows_time_left_colour_coded(
    client, agent, end_user, policies, events_now
):
    ticket = make_ticket(caller=end_user.person)
    html = page(client, agent, ticket).content.decode()
    assert 'data-testid="ticket-sla"' in html
    # The header shows the earliest target's time left, as the queue row does.
    assert re.search(r'data-testid="ticket-due"[^>]*>1 h (59|5\d) min left<', html)
    assert 'data-target="resolution" data-state="running" data-level="ok"' in html
    assert "9 h 59 min left" in html or "10 h 00 min left" in html
    # Nine of ten hours gone: a warning; past due: danger, with how much.
    SlaClock.objects.filter(ticket=ticket, target=Target.RESOLUTION).update(
        started_at=timezone.now() - 9 * H
    )
    assert (
        'data-target="resolution" data-state="running" data-level="warning"'
        in page(client, agent, ticket).content.decode()
    )
    SlaClock.objects.filter(ticket=ticket, target=Target.RESOLUTION).update(
        started_at=timezone.now() - 12 * H
    )
    html = page(client, agent, ticket).content.decode()
    assert 'data-level="danger"' in html
    assert re.search(r"overdue (2 h 00|1 h 59) min", html)


def test_no_policy_says_so(client, agent, end_user):
    html = page(client, agent, make_ticket(caller=end_user.person)).content.decode()
    assert "No service level applies to this ticket." in html
    assert 'data-testid="ticket-due"' not in html


def test_the_portal_shows_no_sla(client, end_user, policies, events_now):
    ticket = make_ticket(caller=end_user.person)
    client.force_login(end_user)
    html = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    assert "ticket-sla" not in html


def test_business_duration_words():
    assert business_duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert business_duration(-timedelta(minutes=90)) == "-1 h 30 min"
    assert business_duration(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert business_duration(timedelta(seconds=59)) == "0 min"


def test_demo_policies_and_clocks_for_open_tickets(end_user):
    ticket = make_ticket(caller=end_user.person)
    demo.seed(stdout=StringIO())
    demo.seed(stdout=StringIO())
    assert SlaPolicy.objects.count() == 5
    assert set(
        SlaClock.objects.filter(ticket=ticket, stopped_at=None).values_list("target", flat=True)
    ) == {Target.FIRST_RESPONSE, Target.RESOLUTION}
    assert ticket.status == Status.NEW


def queue(client, user, **params):
    client.force_login(user)
    return client.get(reverse("tickets:console"), params)


def test_the_ticket_keeps_its_earliest_due_time(agent, end_user, policies, events_now):
    ticket = make_ticket(caller=end_user.person)
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + 2 * H  # the first response comes first
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + 10 * H  # now the resolution
    services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.USER, note="?")
    ticket.refresh_from_db()
    assert ticket.due_at is None


def test_the_due_queue_lists_the_most_urgent_first_with_time_left(
    client, agent, end_user, policies, events_now
):
    relaxed = make_ticket(caller=end_user.person, title="Relaxed")
    late = make_ticket(caller=end_user.person, title="Late")
    SlaClock.objects.filter(ticket=late).update(started_at=timezone.now() - 3 * H)
    from sla.services import due_sync

    for clock in SlaClock.objects.filter(ticket=late).select_related("calendar"):
        from sla.services import _schedule_alerts

        _schedule_alerts(clock, [])
        clock.save()
    due_sync([late.pk])
    no_sla = make_ticket(caller=end_user.person, title="No clock")
    Ticket.objects.filter(pk=no_sla.pk).update(due_at=None)
    SlaClock.objects.filter(ticket=no_sla).delete()
    html = queue(client, agent, queue="due").content.decode()
    numbers = re.findall(r'data-number="([^"]+)"', html)
    assert numbers == [late.number, relaxed.number]  # no_sla is not in the due queue
    assert "due-danger" in html and "overdue 1 h 00 min" in html.replace("59 min", "00 min")
    assert re.search(r"due-ok\"[^>]*>1 h (59|5\d) min left|due-ok\"[^>]*>2 h 00 min left", html)
    # Every queue sorts by due time, both ways; tickets without one come last.
    html = queue(client, agent, queue="open", sort="-due").content.decode()
    assert re.findall(r'data-number="([^"]+)"', html) == [
        relaxed.number,
        late.number,
        no_sla.number,
    ]


def test_the_due_column_costs_one_query_per_page(client, agent, end_user, policies, events_now):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _n in range(3):
        make_ticket(caller=end_user.person)
    queue(client, agent, queue="open")  # caches filled (schedules, the priority matrix)
    with CaptureQueriesContext(connection) as few:
        queue(client, agent, queue="open")
    for _n in range(12):
        make_ticket(caller=end_user.person)
    with CaptureQueriesContext(connection) as many:
        queue(client, agent, queue="open")
    assert len(many) == len(few)
