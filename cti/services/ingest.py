"""Every write of the telephony app.

:func:`call_event_ingest` is the one entry point for PBX events: the webhook, the
Zammad-compatible endpoint, the AMI listener and the simulator only translate what they
receive into its arguments. It stores the raw event first, then applies it to the call, and
pushes the change to the consoles once the transaction has committed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cti import notify, statements
from cti.models import (
    AgentPresence,
    BlockedNumber,
    Call,
    CallEvent,
    CallQueue,
    Pbx,
)
from helpdesk.phones import InvalidPhoneNumber, is_withheld, normalize_phone

logger = logging.getLogger(__name__)
User = get_user_model()

Kind = CallEvent.Kind
Outcome = Call.Outcome

# More matches than this for one number is a data problem (a switchboard number on every
# profile); showing a dozen candidates helps nobody and would make the ring path unbounded.
MAX_CANDIDATES = 10


class InvalidCallEvent(ValueError):
    """The event cannot be read: unknown kind, missing call id, unknown direction."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


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


@dataclass(frozen=True)
class CallerNumber:
    raw: str
    e164: str  # "" when withheld or unreadable
    is_withheld: bool


def caller_number_read(raw: str | None) -> CallerNumber:
    """Normalise a caller ID as the PBX sent it (withheld and unreadable numbers included)."""
    return _caller_number_read((raw or "").strip(), settings.PHONE_DEFAULT_REGION)


@functools.lru_cache(maxsize=1024)
def _caller_number_read(raw: str, region: str) -> CallerNumber:
    # Remembered per process: a ring reads its caller's number twice (before and in its
    # transaction), and the same numbers call again.
    if is_withheld(raw):
        return CallerNumber(raw=raw, e164="", is_withheld=True)
    try:
        return CallerNumber(
            raw=raw, e164=normalize_phone(raw, region=region).e164, is_withheld=False
        )
    except InvalidPhoneNumber:
        return CallerNumber(raw=raw, e164="", is_withheld=False)


def _dedup_key(*, pbx: Pbx | None, source: str, kind: str, call_id: str, fields: dict) -> str:
    material = json.dumps(
        [pbx.pk if pbx else None, source, kind, call_id, fields],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _normalise_kind(kind: str) -> str:
    if kind not in Kind.values:
        raise InvalidCallEvent(
            _("Unknown event type %(kind)r; expected ring, answer or hangup.") % {"kind": kind},
            field="kind",
        )
    return kind


def _normalise_direction(direction: str) -> str:
    if direction not in Call.Direction.values:
        raise InvalidCallEvent(_("Invalid direction!"), field="direction")
    return direction


def call_event_ingest(
    *,
    pbx: Pbx | None,
    source: str,
    kind: str,
    call_id: str,
    direction: str = Call.Direction.INBOUND,
    caller: str = "",
    called: str = "",
    queue: str = "",
    extensions: Sequence[str] = (),
    users: Sequence[str] = (),
    answering: str = "",
    cause: str = "",
    occurred_at: datetime | None = None,
    payload: dict | None = None,
) -> IngestResult:
    """Store one PBX event and apply it to its call, in one transaction.

    ``kind`` is ring, answer or hangup; ``caller``/``called`` are the numbers as the PBX sent
    them (``caller`` is always the calling side: for an outbound call, the agent's
    extension); ``extensions`` and ``users`` are who the PBX rings (extensions, or user
    names/e-mails), ``answering`` who picked up; ``cause`` the hang-up cause in Zammad's
    vocabulary (normalClearing, busy, cancel, noAnswer, congestion, notFound, forwarded).

    The event row is the first thing written, and its unique dedup key makes the same event
    delivered twice (even at the same moment) stored once: the second delivery changes
    nothing and reports status duplicate. If applying the event fails, the transaction is
    rolled back, the call is left as it was, and the raw event is stored on its own with
    status failed and the error; a redelivery of a failed event applies it again. Raises
    :class:`InvalidCallEvent` for an unknown kind or direction or a missing call id.

    The transaction is explicit rather than ``@transaction.atomic`` so that the happy path
    needs no savepoints: the ring path is latency-critical and each one is a round trip.
    """
    kind = _normalise_kind(kind)
    direction = _normalise_direction(direction)
    call_id = (call_id or "").strip()
    if not call_id:
        raise InvalidCallEvent(_("The call id is missing."), field="call_id")
    received_at = timezone.now()
    occurred_at = occurred_at or received_at
    fields = {
        "direction": direction,
        "caller": caller,
        "called": called,
        "queue": queue,
        "extensions": sorted(extensions),
        "users": sorted(users),
        "answering": answering,
        "cause": cause,
    }
    dedup_key = _dedup_key(
        pbx=pbx, source=source, kind=kind, call_id=call_id, fields={**fields, **(payload or {})}
    )
    event_fields = {
        "pbx": pbx,
        "source": source,
        "kind": kind,
        "call_id": call_id,
        "payload": payload if payload is not None else fields,
        "occurred_at": occurred_at,
        "received_at": received_at,
    }
    apply_arguments = {
        "pbx": pbx,
        "kind": kind,
        "call_id": call_id,
        "direction": direction,
        "caller": caller,
        "called": called,
        "queue_code": queue,
        "extensions": extensions,
        "users": users,
        "answering": answering,
        "cause": cause,
        "occurred_at": occurred_at,
    }
    # A ring reads what it needs of the caller and the agents before its transaction, in
    # one round trip (cti.statements.ring_reads); its event and call are then written in one.
    reads = None
    retry_failed = False
    for _attempt in range(3):
        try:
            if reads is None and kind == Kind.RING and pbx is not None:
                reads = _ring_reads(
                    direction=direction, caller=caller, called=called, extensions=extensions
                )
            with transaction.atomic():
                if retry_failed:
                    event = CallEvent.objects.select_for_update().get(dedup_key=dedup_key)
                    if event.status != CallEvent.Status.FAILED:
                        return _duplicate(event, pbx=pbx, call_id=call_id)
                    event.status = CallEvent.Status.PROCESSED
                    event.error = ""
                    event.save(update_fields=["status", "error"])
                    unstored = None
                else:
                    # Written as processed: it commits only together with its effects. A
                    # redelivery raises IntegrityError (stored here or with the ring's call).
                    event = CallEvent(
                        dedup_key=dedup_key, status=CallEvent.Status.PROCESSED, **event_fields
                    )
                    unstored = event
                    if reads is None:
                        statements.insert(event)
                        unstored = None
                call, rejected, created, offered, caller = _apply(
                    **apply_arguments, reads=reads, event=unstored
                )
                transaction.on_commit(
                    _pusher(call, created=created, offered=offered, caller=caller, reads=reads)
                )
                if kind == Kind.RING and _stale_sweep_due():
                    transaction.on_commit(_stale_sweep)
            return IngestResult(event=event, call=call, status=event.status, rejected=rejected)
        except IntegrityError:
            # Either this event is stored already (a redelivery), or another process created
            # the call between our read and our insert: then the next attempt finds it.
            existing = CallEvent.objects.filter(dedup_key=dedup_key).first()
            if existing is None:
                continue
            if existing.status != CallEvent.Status.FAILED:
                return _duplicate(existing, pbx=pbx, call_id=call_id)
            logger.info("CTI event %s for call %s failed before, applying it again", kind, call_id)
            retry_failed = True
        except Exception as error:
            logger.exception("CTI event %s for call %s could not be applied", kind, call_id)
            return _event_store_failed(dedup_key, event_fields, error)
    return _event_store_failed(dedup_key, event_fields, RuntimeError("too many conflicts"))


def _pusher(
    call: Call,
    *,
    created: bool,
    offered: dict[int, str] | None,
    caller: Caller,
    reads: statements.RingReads | None,
):
    # A call created by this event is pushed as this transaction wrote it: it has no linked
    # tickets yet, and who it was offered to (with their language) and what the card shows
    # of the caller (with the caller's history, when read before) were read here. Any other
    # change is pushed as the database has it.
    if created and offered is not None and caller.people is not None:
        history = (reads.tickets, reads.calls) if reads is not None else None
        return lambda: notify.call_pushed(
            call, offered=offered, people=caller.people, history=history
        )
    if created:
        return lambda call_pk=call.pk: notify.call_changed(call_pk, fresh=True, offered=offered)
    return lambda call_pk=call.pk: notify.call_changed(call_pk)


def _duplicate(event: CallEvent, *, pbx: Pbx | None, call_id: str) -> IngestResult:
    logger.info("CTI event %s for call %s is a duplicate, ignored", event.kind, call_id)
    call = Call.objects.filter(pbx=pbx, call_id=call_id).first()
    return IngestResult(
        event=event,
        call=call,
        status=CallEvent.Status.DUPLICATE,
        rejected=call is not None and call.outcome == Outcome.REJECTED,
    )


def _event_store_failed(dedup_key: str, event_fields: dict, error: Exception) -> IngestResult:
    """Keep the raw event of a failed application, so it is never lost and can be replayed."""
    with transaction.atomic():
        event, _created = CallEvent.objects.update_or_create(
            dedup_key=dedup_key,
            defaults={
                **event_fields,
                "status": CallEvent.Status.FAILED,
                "error": f"{type(error).__name__}: {error}"[:2000],
            },
        )
    return IngestResult(event=event, call=None, status=event.status)


# --- applying events ------------------------------------------------------------------


def _apply(
    *,
    pbx: Pbx | None,
    kind: str,
    call_id: str,
    direction: str,
    caller: str,
    called: str,
    queue_code: str,
    extensions: Sequence[str],
    users: Sequence[str],
    answering: str,
    cause: str,
    occurred_at: datetime,
    reads: statements.RingReads | None = None,
    event: CallEvent | None = None,
) -> tuple[Call, bool, bool, dict[int, str] | None, Caller]:
    """Apply one event to its call; return the call, whether it is rejected, whether this
    event created it, the agents a ring offered it to with their language (None when not
    known here), and what identifying the caller found (if this event identified them).

    ``reads``: what a ring read before its transaction (:func:`_ring_reads`). ``event``: the
    event, not yet stored, to store together with the call a ring creates."""
    # The outside party is the caller of an inbound call and the dialled number otherwise.
    outside, inside = (caller, called) if direction == Call.Direction.INBOUND else (called, caller)
    # The agents a ring names, found before its call is written, so that the offers go in
    # the same round trip as the call: their ids and languages (None: not known ahead, or a
    # blocked caller's call, which is offered to nobody).
    ahead = None
    blocked = direction == Call.Direction.INBOUND and reads is not None and reads.lookup.blocked
    if kind == Kind.RING and reads is not None and (extensions or users) and not blocked:
        languages: dict[int, str] = {}
        ahead = _Offers(
            ids=_agents_for(
                extensions=extensions, users=users, languages=languages, by_extension=reads.agents
            ),
            languages=languages,
        )
    call, created, identified = _call_get_or_create(
        pbx=pbx,
        call_id=call_id,
        direction=direction,
        outside=outside,
        inside=inside,
        queue_code=queue_code,
        occurred_at=occurred_at,
        number_given=bool(outside) or kind == Kind.RING,
        insert_first=kind == Kind.RING,
        reads=reads,
        event=event,
        offer=ahead.ids if ahead is not None else (),
    )
    if call.outcome == Outcome.REJECTED:
        # Later events of a rejected call change nothing.
        return call, True, created, None, identified
    # The block list is read together with the caller's identification (one statement).
    if created and direction == Call.Direction.INBOUND and call.caller_e164 and identified.blocked:
        call.state = Call.State.ENDED
        call.outcome = Outcome.REJECTED
        call.ended_at = occurred_at
        call.save(update_fields=["state", "outcome", "ended_at"])
        logger.info("CTI call %s from blocked number %s rejected", call_id, call.caller_e164)
        return call, True, created, None, identified

    offered = None
    if kind == Kind.RING:
        offered = _apply_ring(
            call, created=created, extensions=extensions, users=users, ahead=ahead
        )
    elif kind == Kind.ANSWER:
        _apply_answer(call, answering=answering, extensions=extensions, users=users, at=occurred_at)
    else:
        _apply_hangup(call, cause=cause, at=occurred_at)
    return call, False, created, offered, identified


def _call_get_or_create(
    *,
    pbx: Pbx | None,
    call_id: str,
    direction: str,
    outside: str,
    inside: str,
    queue_code: str,
    occurred_at: datetime,
    number_given: bool,
    insert_first: bool = False,
    reads: statements.RingReads | None = None,
    event: CallEvent | None = None,
    offer: Sequence[int] = (),
) -> tuple[Call, bool, Caller]:
    """The call this event belongs to, locked; created (and identified) on its first event.
    Also returns what identifying the caller found, if this event identified them.

    ``number_given`` says whether this event reports the caller: an empty caller ID on a
    ring means "withheld", on an answer or hang-up merely "not repeated here".
    ``insert_first``: the event is most likely the call's first (a ring), so the call is
    inserted straight away, and read (locked) only if the insert finds it exists already.
    ``reads``: what the event read before (the caller's identification). ``event``: the
    event, not stored yet: stored first, in the same round trip as that insert, and so are
    the offers of the call to the agents ``offer`` if it is inserted.
    """

    def new_call() -> tuple[Call, Caller]:
        call = Call(
            pbx=pbx,
            call_id=call_id,
            direction=direction,
            called_number=(inside or "")[:64],
            queue=_queue_for(queue_code, pbx),
            queue_name=queue_code[:80],
            started_at=occurred_at,
        )
        identified = Caller()
        if number_given:
            _number_set(call, outside)
            identified = _identify(call, lookup=reads.lookup if reads is not None else None)
        return call, identified

    if insert_first and pbx is not None:
        call, identified = new_call()
        if statements.ring_insert(event, call, offer):
            _candidates_add(call, identified.candidates)
            return call, True, identified
    elif event is not None:
        statements.insert(event)

    calls = Call.objects.select_for_update()
    if pbx is None:  # calls without a PBX are not unique per call id: the oldest one
        call = calls.filter(pbx=None, call_id=call_id).order_by("pk").first()
    else:
        # Unique per PBX: get() spares the ORDER BY of first() (the ring path is hot).
        try:
            call = calls.get(pbx=pbx, call_id=call_id)
        except Call.DoesNotExist:
            call = None
    if call is not None:
        changed = []
        if queue_code and not call.queue_name:
            call.queue_name = queue_code[:80]
            call.queue = _queue_for(queue_code, pbx)
            changed += ["queue_name", "queue"]
        if occurred_at < call.started_at:
            call.started_at = occurred_at  # an earlier event arrived late
            changed.append("started_at")
        if not call.called_number and inside:
            call.called_number = inside[:64]
            changed.append("called_number")
        identified = Caller()
        if number_given and not call.caller_number and not call.is_withheld:
            # The call was created by an event that did not name the caller: identify now.
            _number_set(call, outside)
            identified = _identify(call)
            changed += _NUMBER_FIELDS
        if changed:
            call.save(update_fields=changed)
        _candidates_add(call, identified.candidates)
        return call, False, identified

    call, identified = new_call()
    # A concurrent insert of the same call raises IntegrityError; call_event_ingest retries.
    statements.insert(call)
    _candidates_add(call, identified.candidates)
    return call, True, identified


_NUMBER_FIELDS = ["caller_number", "caller_e164", "is_withheld", "caller_person", "identification"]


def _number_set(call: Call, raw: str) -> None:
    number = caller_number_read(raw)
    call.caller_number = number.raw[:64]
    call.caller_e164 = number.e164
    call.is_withheld = number.is_withheld


def _candidates_add(call: Call, people: list[int]) -> None:
    if len(people) > 1:
        statements.links_insert(Call.candidate_people.through, "call", call.pk, "person", people)


@dataclass
class Caller:
    """What identifying a call's caller found."""

    candidates: list[int] = field(default_factory=list)  # several possible people: their ids
    # The card's rows of the caller (one) or of the candidates (several, by name), when the
    # directory said who it is; None when it did not (history match, unknown, withheld).
    people: list | None = None
    blocked: bool = False  # the number is on the block list


def _identify(call: Call, *, lookup: statements.CallerLookup | None = None) -> Caller:
    """Set caller_person/identification on ``call``; return what was found. ``lookup``: the
    directory's answer for the call's number, when read already."""
    if call.is_withheld:
        call.identification = Call.Identification.WITHHELD
        return Caller()
    if not call.caller_e164:
        call.identification = Call.Identification.UNKNOWN
        return Caller()
    if lookup is None:
        lookup = statements.caller_lookup(call.caller_e164, limit=MAX_CANDIDATES + 1)
    people = lookup.people
    if len(people) == 1:
        call.caller_person_id = people[0].pk
        call.identification = Call.Identification.EXACT
        return Caller(people=people, blocked=lookup.blocked)
    if people:
        call.identification = Call.Identification.SEVERAL
        people = people[:MAX_CANDIDATES]
        return Caller(
            candidates=[person.pk for person in people],
            people=sorted(people, key=lambda person: person.full_name),
            blocked=lookup.blocked,
        )
    maybe = caller_candidates_from_history(call.caller_e164)
    if len(maybe) == 1:
        call.caller_person_id = maybe[0]
    call.identification = Call.Identification.MAYBE if maybe else Call.Identification.UNKNOWN
    return Caller(candidates=maybe if len(maybe) > 1 else [], blocked=lookup.blocked)


def caller_candidates_from_history(e164: str) -> list[int]:
    """People whose earlier calls from ``e164`` were identified or linked to their tickets."""
    from tickets.models import Ticket

    from_calls = Call.objects.filter(caller_e164=e164, caller_person__isnull=False).values(
        "caller_person_id"
    )
    from_tickets = Ticket.objects.filter(calls__caller_e164=e164).values("caller_id")
    ids = sorted(
        {row["caller_person_id"] for row in from_calls[:50]}
        | {row["caller_id"] for row in from_tickets[:50]}
    )
    return ids[:MAX_CANDIDATES]


def _queue_for(code: str, pbx: Pbx | None) -> CallQueue | None:
    # Queue codes are unique across PBXes; ``pbx`` is kept for per-PBX queue names later.
    if not code:
        return None
    try:
        return CallQueue.objects.get(code=code)  # unique
    except CallQueue.DoesNotExist:
        return None


def default_queue() -> CallQueue | None:
    """The queue for calls the PBX sends to no queue: CTI_DEFAULT_QUEUE, else is_default."""
    return (
        CallQueue.objects.filter(Q(code=settings.CTI_DEFAULT_QUEUE) | Q(is_default=True))
        .order_by("-is_default", "pk")
        .first()
    )


def _agents_for(
    *,
    extensions: Sequence[str],
    users: Sequence[str],
    pbx: Pbx | None = None,
    languages: dict[int, str] | None = None,
    by_extension: dict[int, str | None] | None = None,
) -> list[int]:
    """User ids of the agents named by extension or by user name/e-mail.

    With ``languages``, also fills it with each agent's interface language (same queries).
    ``by_extension``: the agents with ``extensions`` and their language, when read already.
    """
    ids: set[int] = set()
    found: dict[int, str] = {}
    if by_extension is None:
        by_extension = statements.agents_by_extension(_extensions_clean(extensions))
    found.update(by_extension)
    names = [u.strip() for u in users if u and u.strip()]
    if names:
        # Zammad's "user" is free text: PBX bridges send the login, the e-mail or the name.
        found.update(
            User.objects.filter(
                Q(username__in=names) | Q(email__in=names) | Q(person__full_name__in=names),
                is_active=True,
            ).values_list("pk", "person__language")
        )
    ids.update(found)
    if languages is not None:
        languages.update(found)
    return sorted(ids)


def _extensions_clean(extensions: Sequence[str]) -> list[str]:
    return [e.strip() for e in extensions if e and e.strip()]


def _ring_reads(
    *, direction: str, caller: str, called: str, extensions: Sequence[str]
) -> statements.RingReads:
    """What a ring reads before its transaction: the directory's answer for the outside
    party's number, the agents with the rung extensions, the caller's history (one round
    trip; see :func:`_apply` for who the outside party is)."""
    outside = caller if direction == Call.Direction.INBOUND else called
    return statements.ring_reads(
        caller_number_read(outside).e164,
        _extensions_clean(extensions),
        people=MAX_CANDIDATES + 1,
        tickets=notify.HISTORY_WINDOW,
        calls=notify.LAST_CALLS,
    )


def queue_available_agents(queue: CallQueue) -> list[int]:
    """User ids of the queue's members who are available now (same site as the queue)."""
    members = queue.members.filter(is_active=True, presence__state=AgentPresence.State.AVAILABLE)
    if queue.site_id:
        members = members.filter(person__site_id=queue.site_id)
    return list(members.values_list("pk", flat=True))


@dataclass
class _Offers:
    """The agents a ring offers its call to, and their interface languages."""

    ids: list[int]
    languages: dict[int, str]


def _apply_ring(
    call: Call, *, created: bool, extensions, users, ahead: _Offers | None = None
) -> dict[int, str] | None:
    """Offer the call; return the agents it was offered to with their language, or None
    when they were not all named by this event (queue members). ``ahead``: the agents the
    event names, found before the call was written (and offered with its insert, if the
    event created the call)."""
    if ahead is not None:
        if call.state != Call.State.RINGING:
            return None
        if not created and ahead.ids:  # offered with the insert only when it inserted
            _offer(call, ahead.ids)
        return ahead.languages
    languages: dict[int, str] = {}
    offered = _agents_for(extensions=extensions, users=users, languages=languages)
    if not offered and not extensions and not users:
        queue = call.queue
        if queue is None and not call.queue_name and call.direction == Call.Direction.INBOUND:
            queue = default_queue()
            if queue is not None and created:
                call.queue = queue
                call.save(update_fields=["queue"])
        if queue is not None:
            offered = queue_available_agents(queue)
            languages = None
    if offered and call.state == Call.State.RINGING:
        _offer(call, offered)
    elif call.state != Call.State.RINGING:
        return None
    return languages


def _offer(call: Call, user_ids: Sequence[int]) -> None:
    # One INSERT whatever the number of agents (add() reads the existing rows first).
    statements.links_insert(Call.offered_to.through, "call", call.pk, "user", user_ids)


def _apply_answer(call: Call, *, answering: str, extensions, users, at: datetime) -> None:
    # "answering" names the agent who picked up; without it, the event's extension or user
    # counts only when it names exactly one agent.
    if answering:
        agent_ids = _agents_for(extensions=[answering], users=[answering])
    else:
        agent_ids = _agents_for(extensions=extensions, users=users)
    agent_id = agent_ids[0] if len(agent_ids) == 1 else None
    changed = []
    if call.answered_at is None:
        # A PBX only reports an answer for a call that was answered, even when its hang-up
        # overtook the answer on the way here: then the call was talked until its end.
        call.answered_at = min(at, call.ended_at) if call.ended_at else at
        changed.append("answered_at")
    if agent_id and call.answered_by_id is None:
        call.answered_by_id = agent_id
        changed.append("answered_by")
    if call.state == Call.State.RINGING:
        call.state = Call.State.ANSWERED
        changed.append("state")
    elif call.state == Call.State.ENDED and call.outcome != Outcome.ANSWERED:
        call.outcome = Outcome.ANSWERED
        changed.append("outcome")
    if changed:
        call.save(update_fields=changed)
    if agent_id:
        _offer(call, [agent_id])
        if call.state == Call.State.ANSWERED:
            _presence_update(user_id=agent_id, state=AgentPresence.State.BUSY, call=call)


_BUSY_CAUSES = {"busy", "userbusy", "congestion"}
_ABANDON_CAUSES = {"cancel", "abandon", "abandoned", "originator_cancel"}


def outcome_for(call: Call, cause: str) -> str:
    """The outcome of a call that ends now with hang-up ``cause`` (Zammad's vocabulary)."""
    if call.answered_at is not None:
        return Outcome.ANSWERED
    key = (cause or "").replace("_", "").replace(" ", "").lower()
    if key in _BUSY_CAUSES:
        return Outcome.BUSY
    if key in {c.replace("_", "") for c in _ABANDON_CAUSES}:
        return Outcome.ABANDONED
    return Outcome.MISSED


def _apply_hangup(call: Call, *, cause: str, at: datetime) -> None:
    if call.state == Call.State.ENDED:
        return
    call.state = Call.State.ENDED
    call.ended_at = max(at, call.answered_at or at)
    call.hangup_cause = (cause or "")[:40]
    call.outcome = outcome_for(call, cause)
    call.save(update_fields=["state", "ended_at", "hangup_cause", "outcome"])
    if call.answered_by_id:
        after = settings.CTI_PRESENCE_AFTER_CALL
        if after not in AgentPresence.State.values:
            after = AgentPresence.State.AFTER_CALL_WORK
        AgentPresence.objects.filter(user_id=call.answered_by_id, current_call=call).update(
            state=after, current_call=None, changed_at=timezone.now()
        )


# Calls ended per sweep: a backlog (after an outage) drains over a few sweeps. Each ended
# call is pushed to the consoles (~5 ms, ~20 ms on a loaded 2-core machine), so the sweep a
# ring request runs ends only a few: that request answers its PBX after the sweep, and
# other rings of its process wait for the CPU meanwhile. The periodic task (beat) takes
# the larger batch.
STALE_BATCH = 50
STALE_BATCH_IN_REQUEST = 5
_last_stale_sweep = float("-inf")


def _stale_sweep_due() -> bool:
    """Whether this process last looked for stale calls over CTI_STALE_SWEEP_SECONDS ago."""
    global _last_stale_sweep
    now = time.monotonic()
    if now - _last_stale_sweep < settings.CTI_STALE_SWEEP_SECONDS:
        return False
    _last_stale_sweep = now
    return True


def _stale_sweep() -> None:
    # Rides on ring traffic (at most once a minute per process, after the ring committed)
    # so that no extra scheduler is needed for a lost hang-up to be cleaned up.
    try:
        calls_end_stale(limit=STALE_BATCH_IN_REQUEST)
    except Exception:
        logger.exception("CTI: ending stale calls failed")


@transaction.atomic
def calls_end_stale(*, now: datetime | None = None, limit: int | None = None) -> int:
    """End calls whose hang-up never arrived, at most ``limit`` (STALE_BATCH when None);
    return how many.

    A call still ringing CTI_RING_TIMEOUT seconds after it started becomes missed; one still
    talking after CTI_CALL_MAX_SECONDS ends as answered and frees its agent. Consoles read
    ringing and answered calls from the database, so without this a lost hang-up would pop
    its card on every reconnect. Safe to run at any time and as often as wanted.
    """
    now = now or timezone.now()
    ring_limit = timedelta(seconds=settings.CTI_RING_TIMEOUT)
    talk_limit = timedelta(seconds=settings.CTI_CALL_MAX_SECONDS)
    stale = list(
        Call.objects.select_for_update(skip_locked=True).filter(
            Q(state=Call.State.RINGING, started_at__lt=now - ring_limit)
            | Q(state=Call.State.ANSWERED, answered_at__lt=now - talk_limit)
        )[: limit or STALE_BATCH]
    )
    for call in stale:
        limit = ring_limit if call.state == Call.State.RINGING else talk_limit
        since = call.answered_at if call.state == Call.State.ANSWERED else call.started_at
        _apply_hangup(call, cause="timeout", at=since + limit)
        transaction.on_commit(lambda call_pk=call.pk: notify.call_changed(call_pk))
    if stale:
        logger.info("CTI: ended %d calls whose hang-up never arrived", len(stale))
    return len(stale)


def _presence_update(*, user_id: int, state: str, call: Call | None) -> None:
    updated = AgentPresence.objects.filter(user_id=user_id).update(
        state=state, current_call=call, changed_at=timezone.now()
    )
    if not updated:
        AgentPresence.objects.create(user_id=user_id, state=state, current_call=call)


# --- presence, block list, calls and tickets --------------------------------------------


@transaction.atomic
def presence_set(*, user, state: str) -> AgentPresence:
    """Set an agent's presence (the console's status switch). Busy is set by calls only."""
    if state not in AgentPresence.State.values:
        raise InvalidCallEvent(_("Unknown presence state."), field="state")
    presence, _created = AgentPresence.objects.select_for_update().get_or_create(user=user)
    presence.state = state
    presence.changed_at = timezone.now()
    if state != AgentPresence.State.BUSY:
        presence.current_call = None
    presence.save(update_fields=["state", "changed_at", "current_call"])
    return presence


@transaction.atomic
def blocked_number_add(*, number: str, reason: str = "", by=None) -> BlockedNumber:
    """Block a caller number: the PBX is told to reject its calls."""
    e164 = normalize_phone(number).e164
    blocked, _created = BlockedNumber.objects.get_or_create(
        e164=e164, defaults={"reason": reason, "created_by": by}
    )
    return blocked


@transaction.atomic
def blocked_number_remove(*, number: str) -> int:
    e164 = normalize_phone(number).e164
    deleted, _detail = BlockedNumber.objects.filter(e164=e164).delete()
    return deleted


def is_blocked(number: str) -> bool:
    e164 = caller_number_read(number).e164
    return bool(e164) and BlockedNumber.objects.filter(e164=e164).exists()
