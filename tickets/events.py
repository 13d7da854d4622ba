"""Ticket domain events: the contract between ``tickets`` and the apps built on it.

Every service of :mod:`tickets.services` that changes a ticket emits exactly one
:class:`TicketEvent` after its transaction commits. Apps that react to tickets (telephony,
SLA clocks, notifications, surveys, change management) subscribe a listener in their
``AppConfig.ready``::

    from tickets import events

    class SurveysConfig(AppConfig):
        def ready(self):
            events.subscribe(survey_on_ticket_event, kinds=[events.Kind.TRANSITIONED])

and the listener receives the frozen event::

    def survey_on_ticket_event(event: events.TicketEvent) -> None:
        if event.transition == "close":
            survey_send.delay(event.ticket_id)

Rules of the contract (``docs/architecture.md`` says the same for readers of the docs):

- Emitted on commit: a listener never sees a change that was rolled back. A change made
  inside an outer transaction is announced when that outer transaction commits.
- The payload is complete enough that a listener need not re-read the timeline: who
  (``actor_id``), what (``kind``, ``transition``), which fields changed from what to what
  (``changes``, stored values: choice keys, ids of related rows, aware datetimes), the
  timeline rows written (``timeline_ids``), and when (``at``).
- Listeners are called in the order they subscribed; one that raises is logged and the
  others still run. A listener that does slow work (mail, HTTP) hands it to a Celery task:
  it runs inside the request or task that made the change.
- Django signals are not used for this: they are synchronous, inside the transaction, and
  any app could send them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models, transaction

logger = logging.getLogger(__name__)


class Kind(models.TextChoices):
    """What happened to a ticket."""

    CREATED = "created"
    # Classification or text edited by an agent (ticket_update); ``changes`` lists the fields.
    # Also tags set (``tags``) and a related ticket linked or unlinked (``related``).
    UPDATED = "updated"
    # A lifecycle transition (``transition`` names it: assign, resolve, close ...); the
    # status change and every field the transition changed are in ``changes``.
    TRANSITIONED = "transitioned"
    # A public reply or an internal work note (``comment_id``, ``is_internal``; ``mentions``:
    # the colleagues a work note names with ``@login``).
    COMMENTED = "commented"
    # A file added on its own (files sent with a reply come with COMMENTED).
    ATTACHED = "attached"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of the ticket, before and after (stored values, not labels)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class TicketEvent:
    kind: Kind
    ticket_id: int
    actor_id: int | None  # the user who acted; None for the system (periodic jobs, mail)
    at: datetime
    transition: str = ""
    changes: tuple[FieldChange, ...] = ()
    timeline_ids: tuple[int, ...] = ()
    comment_id: int | None = None
    is_internal: bool = False
    channel: str = ""  # the channel of a created ticket or a comment
    # COMMENTED work notes: the colleagues named with ``@login`` (user ids, CommentMention rows)
    mentions: tuple[int, ...] = ()

    def change(self, name: str) -> FieldChange | None:
        """The change of field ``name``, or None if this event did not change it."""
        return next((change for change in self.changes if change.field == name), None)


Listener = Callable[[TicketEvent], None]
_subscriptions: list[tuple[Listener, frozenset[str] | None]] = []


def subscribe(listener: Listener, *, kinds: Iterable[Kind] | None = None) -> None:
    """Call ``listener`` for every event of ``kinds`` (all kinds when None) after commit.

    Subscribing the same listener again replaces its kinds (``ready()`` may run twice).
    """
    unsubscribe(listener)
    _subscriptions.append((listener, None if kinds is None else frozenset(kinds)))


def unsubscribe(listener: Listener) -> None:
    _subscriptions[:] = [entry for entry in _subscriptions if entry[0] is not listener]


def emit_on_commit(event: TicketEvent) -> None:
    """Hand ``event`` to its listeners once the current transaction has committed."""
    listeners = [
        listener for listener, kinds in _subscriptions if kinds is None or event.kind in kinds
    ]
    if listeners:
        transaction.on_commit(lambda: _deliver(event, listeners))


def _deliver(event: TicketEvent, listeners: list[Listener]) -> None:
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            # The change is committed; one broken listener must not keep it from the others.
            logger.exception(
                "Ticket event listener %s failed for %s of ticket %s",
                getattr(listener, "__qualname__", listener),
                event.kind,
                event.ticket_id,
            )
