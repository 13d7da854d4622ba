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

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from cti import notify
from cti.models import Call
from tickets import events
from tickets.models import Ticket

KINDS = (events.Kind.CREATED, events.Kind.UPDATED, events.Kind.TRANSITIONED)


def live_calls_of_ticket(ticket_id: int) -> list[int]:
    """The calls on the consoles now whose caller is the ticket's caller or that are
    linked to the ticket (one query). Ringing calls past CTI_RING_TIMEOUT lost their
    hang-up and are on no console (``notify.cards_for_agent``)."""
    ringing_since = timezone.now() - timedelta(seconds=settings.CTI_RING_TIMEOUT)
    caller = Ticket.objects.filter(pk=ticket_id).values("caller_id")
    return list(
        Call.objects.filter(
            Q(state=Call.State.ANSWERED)
            | Q(state=Call.State.RINGING, started_at__gte=ringing_since)
        )
        .filter(Q(caller_person__in=caller) | Q(tickets=ticket_id))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


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
