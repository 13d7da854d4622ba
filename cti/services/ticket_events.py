"""Telephony's part of the ticket events: the cards of live calls follow their tickets.

An agent on the phone sees on the call's card the caller's open and recent tickets and
the tickets linked to the call. When one of those tickets is created, edited or changes
state (resolved on first contact, assigned ...) while the call is ringing or answered,
the card is pushed again, so the agent sees it without reloading. And a ticket that
arrives in a support group's queue is announced to the consoles of the group's members,
whose queue page then offers to show it. Subscribed in ``CtiConfig.ready``; called after
the ticket's transaction committed.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from cti import notify
from cti.models import Call
from tickets import events
from tickets.models import Ticket

KINDS = (events.Kind.CREATED, events.Kind.UPDATED, events.Kind.TRANSITIONED)


@functools.cache
def _live_calls_statement() -> str:
    """The live calls of a ticket, written out once: this runs after every ticket that is
    created or changes, in whatever process changed it (a mail worker creates one ticket
    per mail), and the ORM spent more time building the query than the database running
    it (measured with bench/mail_ingest.py). ``Call.state`` is indexed: with no call on the
    phone the database reads no row of the call log."""
    call, ticket = Call._meta, Ticket._meta
    link = Call.tickets.through._meta
    call_column = Call.tickets.field.m2m_column_name()
    ticket_column = Call.tickets.field.m2m_reverse_name()
    quote = connection.ops.quote_name
    state = quote(call.get_field("state").column)
    started_at = quote(call.get_field("started_at").column)
    # Names from model metadata, every value a bound parameter (as cti/statements.py).
    return (
        f"SELECT c.{quote(call.pk.column)} FROM {quote(call.db_table)} c"  # noqa: S608
        f" WHERE (c.{state} = %s OR (c.{state} = %s AND c.{started_at} >= %s))"
        f" AND (c.{quote(call.get_field('caller_person').column)} ="
        f" (SELECT t.{quote(ticket.get_field('caller').column)} FROM {quote(ticket.db_table)} t"
        f" WHERE t.{quote(ticket.pk.column)} = %s)"
        f" OR EXISTS (SELECT 1 FROM {quote(link.db_table)} l"
        f" WHERE l.{quote(call_column)} = c.{quote(call.pk.column)}"
        f" AND l.{quote(ticket_column)} = %s))"
        f" ORDER BY c.{quote(call.pk.column)}"
    )


def live_calls_of_ticket(ticket_id: int) -> list[int]:
    """The calls on the consoles now whose caller is the ticket's caller or that are
    linked to the ticket (one query). Ringing calls past CTI_RING_TIMEOUT lost their
    hang-up and are on no console (``notify.cards_for_agent``)."""
    ringing_since = timezone.now() - timedelta(seconds=settings.CTI_RING_TIMEOUT)
    with connection.cursor() as cursor:
        cursor.execute(
            _live_calls_statement(),
            [
                Call.State.ANSWERED.value,
                Call.State.RINGING.value,
                connection.ops.adapt_datetimefield_value(ringing_since),
                ticket_id,
                ticket_id,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def live_calls_refresh_on_ticket_event(event: events.TicketEvent) -> None:
    """Push the cards of the live calls of the event's ticket again (nothing to do for
    most tickets: their caller is not on the phone)."""
    for call_id in live_calls_of_ticket(event.ticket_id):
        notify.call_card_refresh(call_id)


def ticket_queue_push_on_ticket_event(event: events.TicketEvent) -> None:
    """Announce a ticket that arrived in a support group's queue (created there, or moved
    there by a transfer or an edit) to the consoles of that group's members."""
    change = event.change("group")
    if change is None or change.new is None or change.new == change.old:
        return
    kind = "created" if event.kind == events.Kind.CREATED else "moved"
    notify.ticket_queued(event.ticket_id, group_id=change.new, event=kind)
