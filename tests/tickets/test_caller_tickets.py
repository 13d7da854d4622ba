"""The caller box of the agent's ticket page: the caller's open tickets and newest tickets,
read in one query (tickets.selectors.caller_tickets)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import PersonFactory, make_ticket
from tickets import selectors
from tickets.models import OPEN_STATUSES, Status, Ticket

pytestmark = pytest.mark.django_db


def test_old_open_tickets_and_newer_closed_ones_each_find_their_list(
    django_assert_num_queries,
):
    caller = PersonFactory()
    start = timezone.now() - timedelta(days=100)
    made = []
    for day in range(30):
        ticket = make_ticket(caller=caller, title=f"Ticket {day}")
        # The 12 oldest stay open; the 18 newer ones are closed.
        status = Status.NEW if day < 12 else Status.CLOSED
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=start + timedelta(days=day), status=status
        )
        made.append(ticket.pk)
    this_one = made[5]
    make_ticket(caller=PersonFactory())  # someone else's

    with django_assert_num_queries(1):
        open_tickets, recent = selectors.caller_tickets(caller.pk, exclude_id=this_one, limit=10)

    open_expected = [pk for pk in reversed(made[:12]) if pk != this_one][:10]
    assert [ticket.pk for ticket in open_tickets] == open_expected
    assert all(ticket.status in OPEN_STATUSES for ticket in open_tickets)
    assert [ticket.pk for ticket in recent] == list(reversed(made))[:10]


def test_a_caller_with_few_tickets_has_them_in_both_lists():
    caller = PersonFactory()
    first = make_ticket(caller=caller)
    second = make_ticket(caller=caller)
    open_tickets, recent = selectors.caller_tickets(caller.pk)
    assert [ticket.pk for ticket in open_tickets] == [second.pk, first.pk]
    assert [ticket.pk for ticket in recent] == [second.pk, first.pk]
    assert selectors.caller_tickets(caller.pk, exclude_id=first.pk) == ([second], [second])
