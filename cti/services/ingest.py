"""The one entry point for PBX events: :func:`call_event_ingest`.

The webhook, the Zammad-compatible endpoint, the AMI listener, the simulator and the demo
only translate what they receive into a :class:`PbxEvent`. The service stores the raw
event first, then applies it to the call (:mod:`cti.services.calls`), and pushes the change
to the consoles once the transaction has committed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cti import notify, statements
from cti.models import Call, CallEvent, Pbx
from cti.services.calls import Applied, event_apply
from cti.services.identification import MAX_CANDIDATES, caller_number_read
from cti.services.routing import extensions_clean
from cti.services.sweep import stale_sweep_schedule
from helpdesk.errors import ValidationError

logger = logging.getLogger(__name__)

Kind = CallEvent.Kind


class InvalidCallEvent(ValidationError):
    """The event cannot be read: unknown kind, missing call id, unknown direction.

    ``message`` is the text the PBX adapters answer with, ``field`` the parameter at fault.
    """

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message, code="invalid")
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class PbxEvent:
    """One call event as a PBX reported it, in the help desk's terms.

    ``kind`` is ring, answer or hangup; ``caller``/``called`` are the numbers as the PBX
    sent them (``caller`` is always the calling side: for an outbound call, the agent's
    extension); ``extensions`` and ``users`` are who the PBX rings (extensions, or user
    names/e-mails), ``answering`` who picked up; ``cause`` the hang-up cause in Zammad's
    vocabulary (normalClearing, busy, cancel, noAnswer, congestion, notFound, forwarded);
    ``occurred_at`` when it happened (when received, if None); ``payload`` what the PBX
    sent, stored with the event (the normalised fields if None).
    """

    kind: str
    call_id: str
    direction: str = Call.Direction.INBOUND
    caller: str = ""
    called: str = ""
    queue: str = ""
    extensions: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    answering: str = ""
    cause: str = ""
    occurred_at: datetime | None = None
    payload: dict | None = None

    def __post_init__(self):
        # Adapters pass lists; the event is immutable. An empty value names nobody (Zammad's
        # form posts send "user=" for a call to a queue).
        object.__setattr__(self, "extensions", _named(self.extensions))
        object.__setattr__(self, "users", _named(self.users))

    @property
    def outside(self) -> str:
        """The outside party: the caller of an inbound call, the dialled number otherwise."""
        return self.caller if self.direction == Call.Direction.INBOUND else self.called

    @property
    def inside(self) -> str:
        return self.called if self.direction == Call.Direction.INBOUND else self.caller

    def fields(self) -> dict:
        """The normalised fields, as stored when the PBX's payload is not given."""
        return {
            "direction": self.direction,
            "caller": self.caller,
            "called": self.called,
            "queue": self.queue,
            "extensions": sorted(self.extensions),
            "users": sorted(self.users),
            "answering": self.answering,
            "cause": self.cause,
        }


def _named(values) -> tuple[str, ...]:
    return tuple(value.strip() for value in values if value and value.strip())


@dataclass
class IngestResult:
    """What happened to one event: its stored row, the call it changed, the PBX's answer."""

    event: CallEvent
    call: Call | None
    status: str  # CallEvent.Status value; "duplicate" for a redelivery
    rejected: bool = False  # the caller is on the block list: tell the PBX to reject

    @property
    def duplicate(self) -> bool:
        return self.status == CallEvent.Status.DUPLICATE


def _event_checked(event: PbxEvent, *, received_at: datetime) -> PbxEvent:
    """``event`` with its call id stripped and its time set; raises InvalidCallEvent."""
    if event.kind not in Kind.values:
        raise InvalidCallEvent(
            _("Unknown event type %(kind)r; expected ring, answer or hangup.")
            % {"kind": event.kind},
            field="kind",
        )
    if event.direction not in Call.Direction.values:
        raise InvalidCallEvent(_("Invalid direction!"), field="direction")
    call_id = (event.call_id or "").strip()
    if not call_id:
        raise InvalidCallEvent(_("The call id is missing."), field="call_id")
    return dataclasses.replace(event, call_id=call_id, occurred_at=event.occurred_at or received_at)


def _dedup_key(*, pbx: Pbx | None, source: str, event: PbxEvent) -> str:
    material = json.dumps(
        [
            pbx.pk if pbx else None,
            source,
            event.kind,
            event.call_id,
            {**event.fields(), **(event.payload or {})},
        ],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def call_event_ingest(*, pbx: Pbx | None, source: str, event: PbxEvent) -> IngestResult:
    """Store one PBX event and apply it to its call, in one transaction.

    The event row is the first thing written, and its unique dedup key makes the same event
    delivered twice (even at the same moment) stored once: the second delivery changes
    nothing and reports status duplicate. If applying the event fails, the transaction is
    rolled back, the call is left as it was, and the raw event is stored on its own with
    status failed and the error; a redelivery of a failed event applies it again. Raises
    :class:`InvalidCallEvent` for an unknown kind or direction or a missing call id.

    The transaction is explicit rather than ``@transaction.atomic`` so that the happy path
    needs no savepoints: the ring path is latency-critical and each one is a round trip.
    """
    received_at = timezone.now()
    event = _event_checked(event, received_at=received_at)
    dedup_key = _dedup_key(pbx=pbx, source=source, event=event)
    row_fields = {
        "pbx": pbx,
        "source": source,
        "kind": event.kind,
        "call_id": event.call_id,
        "payload": event.payload if event.payload is not None else event.fields(),
        "occurred_at": event.occurred_at,
        "received_at": received_at,
    }
    # A ring reads what it needs of the caller and the agents before its transaction, in
    # one round trip (cti.statements.ring_reads); its event and call are then written in one.
    reads = None
    retry_failed = False
    for _attempt in range(3):
        try:
            if reads is None and event.kind == Kind.RING and pbx is not None:
                reads = _ring_reads(event)
            with transaction.atomic():
                if retry_failed:
                    row = CallEvent.objects.select_for_update().get(dedup_key=dedup_key)
                    if row.status != CallEvent.Status.FAILED:
                        return _duplicate(row, pbx=pbx, call_id=event.call_id)
                    row.status = CallEvent.Status.PROCESSED
                    row.error = ""
                    row.save(update_fields=["status", "error"])
                    unstored = None
                else:
                    # Written as processed: it commits only together with its effects. A
                    # redelivery raises IntegrityError (stored here or with the ring's call).
                    row = CallEvent(
                        dedup_key=dedup_key, status=CallEvent.Status.PROCESSED, **row_fields
                    )
                    unstored = row
                    if reads is None:
                        statements.insert(row)
                        unstored = None
                applied = event_apply(pbx=pbx, event=event, reads=reads, unstored=unstored)
                transaction.on_commit(_pusher(applied, reads=reads))
                if event.kind == Kind.RING:
                    stale_sweep_schedule()
            return IngestResult(
                event=row, call=applied.call, status=row.status, rejected=applied.rejected
            )
        except IntegrityError:
            # Either this event is stored already (a redelivery), or another process created
            # the call between our read and our insert: then the next attempt finds it.
            existing = CallEvent.objects.filter(dedup_key=dedup_key).first()
            if existing is None:
                continue
            if existing.status != CallEvent.Status.FAILED:
                return _duplicate(existing, pbx=pbx, call_id=event.call_id)
            logger.info(
                "CTI event %s for call %s failed before, applying it again",
                event.kind,
                event.call_id,
            )
            retry_failed = True
        except Exception as error:
            logger.exception(
                "CTI event %s for call %s could not be applied", event.kind, event.call_id
            )
            return _event_store_failed(dedup_key, row_fields, error)
    return _event_store_failed(dedup_key, row_fields, RuntimeError("too many conflicts"))


def _ring_reads(event: PbxEvent) -> statements.RingReads:
    """What a ring reads before its transaction: the directory's answer for the outside
    party's number, the agents with the rung extensions, the caller's history (one round
    trip)."""
    return statements.ring_reads(
        caller_number_read(event.outside).e164,
        extensions_clean(event.extensions),
        people=MAX_CANDIDATES + 1,
        tickets=notify.HISTORY_WINDOW,
        calls=notify.LAST_CALLS,
    )


def _pusher(applied: Applied, *, reads: statements.RingReads | None):
    # A call created by this event is pushed as this transaction wrote it: it has no linked
    # tickets yet, and who it was offered to (with their language) and what the card shows
    # of the caller (with the caller's history, when read before) were read here. Any other
    # change is pushed as the database has it.
    call, offered = applied.call, applied.offered
    # A ticket number typed in the voice menu is read by load_card (call_changed).
    if (
        applied.created
        and offered is not None
        and applied.caller.people is not None
        and not call.ivr_ticket
    ):
        history = (reads.tickets, reads.calls) if reads is not None else None
        people = applied.caller.people
        return lambda: notify.call_pushed(call, offered=offered, people=people, history=history)
    if applied.created:
        return lambda call_pk=call.pk: notify.call_changed(call_pk, fresh=True, offered=offered)
    return lambda call_pk=call.pk: notify.call_changed(call_pk)


def _duplicate(row: CallEvent, *, pbx: Pbx | None, call_id: str) -> IngestResult:
    logger.info("CTI event %s for call %s is a duplicate, ignored", row.kind, call_id)
    call = Call.objects.filter(pbx=pbx, call_id=call_id).first()
    return IngestResult(
        event=row,
        call=call,
        status=CallEvent.Status.DUPLICATE,
        rejected=call is not None and call.is_rejected,
    )


def _event_store_failed(dedup_key: str, row_fields: dict, error: Exception) -> IngestResult:
    """Keep the raw event of a failed application, so it is never lost and can be replayed."""
    with transaction.atomic():
        row, _created = CallEvent.objects.update_or_create(
            dedup_key=dedup_key,
            defaults={
                **row_fields,
                "status": CallEvent.Status.FAILED,
                "error": f"{type(error).__name__}: {error}"[:2000],
            },
        )
    return IngestResult(event=row, call=None, status=row.status)
