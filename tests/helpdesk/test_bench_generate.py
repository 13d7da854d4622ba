"""bench/generate.py at a small size: it must keep writing rows the app can use.

PostgreSQL only (it writes with COPY). Transactional: the generator commits through its
own connection, and the test database is emptied afterwards.
"""

from itertools import pairwise

import pytest
from django.db import connection

from bench import generate
from helpdesk.models import Person, PhoneNumber
from helpdesk.selectors import people_by_phone
from tickets import services
from tickets.models import Channel, Comment, Status, Ticket, TicketCounter, TimelineEntry

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


def test_generator_writes_consistent_tickets_once():
    with generate.psycopg_connect() as conn:
        assert generate.fill(conn, people=80, tickets=500, seed=1)
        assert not generate.fill(conn, people=80, tickets=500, seed=1)

    assert Ticket.objects.count() == 500
    assert Person.objects.filter(user__isnull=True).count() == 80
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Ticket.objects.values_list("channel", flat=True)) == set(Channel.values)
    assert Comment.objects.count() > 500
    for ticket in Ticket.objects.order_by("id")[:40]:
        entries = list(ticket.timeline.filter(field="status").order_by("created_at", "id"))
        assert entries[-1].new_value == ticket.status
        assert all(b.old_value == a.new_value for a, b in pairwise(entries))
    linked = TimelineEntry.objects.filter(comment__isnull=False).select_related("comment")
    assert all(entry.comment.ticket_id == entry.ticket_id for entry in linked[:200])


def test_generated_people_are_found_by_phone_and_numbering_continues():
    with generate.psycopg_connect() as conn:
        generate.fill(conn, people=30, tickets=50, seed=2)

    phone = PhoneNumber.objects.filter(kind=PhoneNumber.Kind.MOBILE).first()
    assert list(people_by_phone(phone.raw)) == [phone.person]
    last = TicketCounter.objects.get(type="incident").value
    ticket = services.ticket_create(caller=phone.person, title="After the generator")
    assert ticket.number == f"INC-{last + 1:06d}"
    # The identity sequences were moved past the copied rows.
    assert PhoneNumber.objects.create(person=phone.person, raw="+48 22 100 00 01").pk
