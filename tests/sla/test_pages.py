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
from tickets.models import Priority, Status

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
