"""The statements every ticket event makes in the SLA listener, written out once.

Every new ticket, reply and transition reaches ``sla.services.on_ticket_event``: in a mail
worker that is every mail (issue 14), in the API every create (issue 19). Building its
reads through the ORM (a joined, narrowed ticket; the running clocks) cost more CPU than
the rest of the listener; written out they are a tenth of that, in the manner of
``mail/statements.py`` (names from the models' ``_meta``, values bound, the ORM's
converters, prepared once per connection on PostgreSQL). tests/sla/test_statements.py holds
them to the ORM's answers.
"""

# Every statement here is put together from names in the models' _meta; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import functools

from helpdesk import refdata
from helpdesk.models import Person
from helpdesk.sql import column, columns, instance, prepared_cursor, quoted, table
from sla.models import SlaClock
from tickets.models import Ticket

# What the listener reads of a ticket, and of its caller.
TICKET_FIELDS = (
    "id",
    "status",
    "priority",
    "service",
    "type",
    "pending_reason",
    "first_response_at",
    "created_at",
    "caller",
)
CALLER_FIELDS = ("id", "is_vip", "user")


@functools.cache
def _ticket_sql() -> str:
    return (
        f"SELECT {columns(Ticket, 't', TICKET_FIELDS)}, {columns(Person, 'p', CALLER_FIELDS)} "
        f"FROM {table(Ticket)} t "
        f"INNER JOIN {table(Person)} p ON p.{quoted(Person._meta.pk.column)} = "
        f"t.{column(Ticket, 'caller')} "
        f"WHERE t.{quoted(Ticket._meta.pk.column)} = %s"
    )


def ticket_for_clocks(ticket_id: int) -> Ticket | None:
    """The ticket's fields the clocks depend on (:data:`TICKET_FIELDS`, the rest deferred),
    its caller's VIP flag and login attached: one statement."""
    with prepared_cursor() as cursor:
        cursor.execute(_ticket_sql(), [ticket_id])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(TICKET_FIELDS)
    ticket = instance(Ticket, row[:width], TICKET_FIELDS)
    Ticket.caller.field.set_cached_value(ticket, instance(Person, row[width:], CALLER_FIELDS))
    return ticket


@functools.cache
def _running_clocks_sql() -> str:
    return (
        f"SELECT {columns(SlaClock, 'c')} FROM {table(SlaClock)} c "
        f"WHERE c.{column(SlaClock, 'ticket')} = %s AND c.{column(SlaClock, 'stopped_at')} IS NULL"
    )


def running_clocks(ticket_id: int) -> list[SlaClock]:
    """The ticket's running clocks, their policy and calendar attached from the rows kept in
    the process (``helpdesk.refdata``; the policy's calendar too)."""
    with prepared_cursor() as cursor:
        cursor.execute(_running_clocks_sql(), [ticket_id])
        rows = cursor.fetchall()
    clocks = [instance(SlaClock, row) for row in rows]
    for clock in clocks:
        refdata.attach(clock, "policy", "calendar")
        policy = SlaClock.policy.field.get_cached_value(clock, None)
        if policy is not None:
            refdata.attach(policy, "calendar")
    return clocks


@functools.cache
def _due_sync_sql() -> str:
    clocks = table(SlaClock)
    due = column(SlaClock, "due_at")
    return (
        f"UPDATE {table(Ticket)} SET {column(Ticket, 'due_at')} = ("
        f"SELECT MIN(c.{due}) FROM {clocks} c "
        f"WHERE c.{column(SlaClock, 'ticket')} = %s AND c.{column(SlaClock, 'stopped_at')} IS NULL"
        f") WHERE {quoted(Ticket._meta.pk.column)} = %s"
    )


def due_sync(ticket_id: int) -> None:
    """``sla.services.due_sync`` for one ticket: the earliest due time of its running clocks
    onto the ticket (NULL when none has one)."""
    with prepared_cursor() as cursor:
        cursor.execute(_due_sync_sql(), [ticket_id, ticket_id])
