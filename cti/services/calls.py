"""Applying a PBX event to its call: find or create the call, then ring, answer or hang up.

The call's state changes through its transitions (``Call.answer``, ``hang_up``, ``reject``;
``miss`` is the stale sweep's, in :mod:`cti.services.sweep`); this module decides which to
call, saves, offers the call to agents and updates their presence. It runs inside the
ingest's transaction (:func:`cti.services.ingest.call_event_ingest`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django_fsm import can_proceed

from cti import statements
from cti.models import VOICEMAIL, Call, CallEvent, Pbx, VoicemailBox
from cti.services import presence, routing
from cti.services.identification import (
    NUMBER_FIELDS,
    Caller,
    caller_candidates_add,
    caller_identify,
    caller_identify_by_employee,
    caller_number_set,
    ivr_data,
)

if TYPE_CHECKING:
    from cti.services.ingest import PbxEvent

logger = logging.getLogger(__name__)

Kind = CallEvent.Kind


@dataclass
class Applied:
    """What applying one event did."""

    call: Call
    created: bool  # this event created the call
    rejected: bool = False  # the caller is blocked (now or when the call was created)
    # The agents a ring offered the call to, with their interface language; None when not
    # known here (queue members, a call no longer ringing, other events).
    offered: dict[int, str | None] | None = None
    caller: Caller = field(default_factory=Caller)  # what identifying the caller found


@dataclass
class _Offers:
    """The agents a ring offers its call to, found before its call was written."""

    ids: list[int]
    languages: dict[int, str | None]


def event_apply(
    *,
    pbx: Pbx | None,
    event: PbxEvent,
    reads: statements.RingReads | None = None,
    unstored: CallEvent | None = None,
) -> Applied:
    """Apply one (checked) event to its call.

    ``reads``: what a ring read before its transaction (cti.statements.ring_reads).
    ``unstored``: the event's row, not yet stored, to store together with the call a ring
    creates (one round trip)."""
    # The agents a ring names, found before its call is written, so that the offers go in
    # the same round trip as the call (None: not known ahead, or a blocked caller's call,
    # which is offered to nobody).
    ahead = None
    inbound = event.direction == Call.Direction.INBOUND
    blocked = inbound and reads is not None and reads.lookup.blocked
    names_agents = event.kind == Kind.RING and (event.extensions or event.users)
    named = None  # the agents the ring names, when looked up already
    if names_agents and reads is not None and not blocked:
        named = routing.agents_named(
            extensions=event.extensions, users=event.users, by_extension=reads.agents
        )
        if named:
            ahead = _Offers(ids=sorted(named), languages=named)
    call, created, caller = _call_get_or_create(
        pbx=pbx,
        event=event,
        reads=reads,
        unstored=unstored,
        offer=ahead.ids if ahead is not None else (),
    )
    if call.is_rejected:
        # Later events of a rejected call change nothing.
        return Applied(call=call, created=created, rejected=True, caller=caller)
    # The block list is read together with the caller's identification (one statement).
    if created and inbound and call.caller_e164 and caller.blocked:
        call.reject(at=event.occurred_at)
        call.save(update_fields=["state", "outcome", "ended_at"])
        logger.info("CTI call %s from blocked number %s rejected", call.call_id, call.caller_e164)
        return Applied(call=call, created=created, rejected=True, caller=caller)

    offered = None
    if event.kind == Kind.RING:
        offered = _ring(call, created=created, pbx=pbx, event=event, ahead=ahead, named=named)
    elif event.kind == Kind.ANSWER:
        _answer(call, event=event)
    else:
        call_hang_up(call, at=event.occurred_at, cause=event.cause)
    return Applied(call=call, created=created, offered=offered, caller=caller)


def _call_get_or_create(
    *,
    pbx: Pbx | None,
    event: PbxEvent,
    reads: statements.RingReads | None,
    unstored: CallEvent | None,
    offer: list[int] | tuple = (),
) -> tuple[Call, bool, Caller]:
    """The call this event belongs to, locked; created (and identified) on its first event.
    Also returns whether it was created and what identifying the caller found, if this
    event identified them.

    An empty caller ID on a ring means "withheld", on an answer or hang-up merely "not
    repeated here". A ring is most likely the call's first event, so its call is inserted
    straight away, and read (locked) only if the insert finds it exists already; the event
    row (``unstored``) is stored first in the same round trip, and so are the offers to
    the agents ``offer`` if the call is inserted.
    """
    number_given = bool(event.outside) or event.kind == Kind.RING

    def new_call() -> tuple[Call, Caller]:
        call = Call(
            pbx=pbx,
            call_id=event.call_id,
            direction=event.direction,
            called_number=(event.inside or "")[:64],
            queue=routing.queue_for(event.queue, pbx),
            queue_name=event.queue[:80],
            started_at=event.occurred_at,
            # A ring whose named agents were found ahead is offered to them with its insert.
            routing=Call.Routing.NAMED if offer else Call.Routing.NONE,
        )
        caller = Caller()
        if number_given:
            caller_number_set(call, event.outside)
            caller = caller_identify(call, lookup=reads.lookup if reads is not None else None)
        if event.kind == Kind.RING:
            for name, value in ivr_data(event.payload).items():
                setattr(call, name, value)
            if call.ivr_employee and caller_identify_by_employee(call):
                # Identified by the menu, not the number: the card reads the person itself.
                caller = Caller(blocked=caller.blocked)
        return call, caller

    if event.kind == Kind.RING and pbx is not None:
        call, caller = new_call()
        if statements.ring_insert(unstored, call, offer):
            caller_candidates_add(call, caller.candidates)
            return call, True, caller
    elif unstored is not None:
        statements.insert(unstored)

    calls = Call.objects.select_for_update()
    if pbx is None:  # calls without a PBX are not unique per call id: the oldest one
        call = calls.filter(pbx=None, call_id=event.call_id).order_by("pk").first()
    else:
        # Unique per PBX: get() spares the ORDER BY of first() (the ring path is hot).
        try:
            call = calls.get(pbx=pbx, call_id=event.call_id)
        except Call.DoesNotExist:
            call = None
    if call is not None:
        changed = []
        if event.queue and not call.queue_name:
            call.queue_name = event.queue[:80]
            call.queue = routing.queue_for(event.queue, pbx)
            changed += ["queue_name", "queue"]
        if event.occurred_at < call.started_at:
            call.started_at = event.occurred_at  # an earlier event arrived late
            changed.append("started_at")
        if not call.called_number and event.inside:
            call.called_number = event.inside[:64]
            changed.append("called_number")
        caller = Caller()
        if number_given and not call.caller_number and not call.is_withheld:
            # The call was created by an event that did not name the caller: identify now.
            caller_number_set(call, event.outside)
            caller = caller_identify(call)
            changed += NUMBER_FIELDS
        if changed:
            call.save(update_fields=changed)
        caller_candidates_add(call, caller.candidates)
        return call, False, caller

    call, caller = new_call()
    # A concurrent insert of the same call raises IntegrityError; call_event_ingest retries.
    statements.insert(call)
    caller_candidates_add(call, caller.candidates)
    return call, True, caller


def _ring(
    call: Call,
    *,
    created: bool,
    pbx: Pbx | None,
    event: PbxEvent,
    ahead: _Offers | None,
    named: dict[int, str | None] | None = None,
) -> dict[int, str | None] | None:
    """Offer the call; return the agents it was offered to with their language, or None
    when they were not all named by this event (a fallback) or the call no longer rings.
    ``ahead``: the agents the event names, found before the call was written (and offered
    with its insert, if the event created the call); ``named``: those agents when looked up
    already (found or not).

    A ring that names no agent we know goes to the first of these that has an available
    agent: the queue it names, the PBX's default queue, every available agent of the PBX's
    site. Which one is recorded on the call (``routing``); a ring is never dropped silently:
    an unknown user, extension or queue is logged, and so is a ring nobody could take."""
    if ahead is not None:
        if call.state != Call.State.RINGING:
            return None
        if not created:  # offered (and routed) with the insert only when it inserted
            if call.routing != Call.Routing.NAMED:
                call.routing = Call.Routing.NAMED
                call.save(update_fields=["routing"])
            routing.call_offer(call, ahead.ids)
        return ahead.languages
    languages: dict[int, str | None] | None = named
    if languages is None:
        languages = routing.agents_named(extensions=event.extensions, users=event.users)
    if call.state != Call.State.RINGING:
        return None
    changed = []
    offered = sorted(languages)
    if offered:
        how = Call.Routing.NAMED
    else:
        _unknown_names_log(call, pbx=pbx, event=event)
        languages = None
        how, offered = _fallback(call, pbx=pbx, changed=changed)
    if call.routing != how:
        call.routing = how
        changed.append("routing")
    if changed:
        call.save(update_fields=changed)
    if offered:
        routing.call_offer(call, offered)
    return languages


def _unknown_names_log(call: Call, *, pbx: Pbx | None, event: PbxEvent) -> None:
    """Say which names of a ring match nothing here, so that an admin can fix the mapping."""
    pbx_name = pbx.name if pbx is not None else "-"
    if event.users or event.extensions:
        logger.warning(
            "CTI call %s (PBX %s): no agent has the user %s or extension %s the PBX rang; "
            "set up the agent's user name or extension",
            call.call_id,
            pbx_name,
            ", ".join(event.users) or "-",
            ", ".join(event.extensions) or "-",
        )
    if call.queue_name and call.queue_id is None:
        logger.warning(
            "CTI call %s (PBX %s): the queue %r is not set up; add a call queue with this code",
            call.call_id,
            pbx_name,
            call.queue_name,
        )


def _fallback(call: Call, *, pbx: Pbx | None, changed: list[str]) -> tuple[str, list[int]]:
    """Whom a ring that names no known agent is offered to, and by which rule. Outbound
    calls are the agent's own: they fall back to nobody."""
    if call.direction != Call.Direction.INBOUND:
        logger.warning("CTI outbound call %s names no agent we know", call.call_id)
        return Call.Routing.NOBODY, []
    if call.queue_id is not None:
        offered = routing.queue_available_agents(call.queue)
        if offered:
            return Call.Routing.QUEUE, offered
    queue = routing.default_queue(pbx)
    if queue is not None and queue.pk != call.queue_id:
        offered = routing.queue_available_agents(queue)
        if offered:
            if call.queue_id is None:
                call.queue = queue
                changed.append("queue")
            return Call.Routing.DEFAULT_QUEUE, offered
    offered = routing.site_available_agents(pbx)
    if offered:
        return Call.Routing.SITE, offered
    logger.warning(
        "CTI call %s from %s rang while no agent was available: it is in the call log only",
        call.call_id,
        call.caller_number or "-",
    )
    return Call.Routing.NOBODY, []


# What Call.answer may change (attribute names; update_fields takes them too).
_ANSWER_FIELDS = ("state", "outcome", "answered_at", "answered_by_id")


def _answer(call: Call, *, event: PbxEvent) -> None:
    if call.answer_is_late(event.occurred_at):
        # Stored with the call's events (the caller keeps the row), changes nothing.
        logger.info("CTI answer for call %s came after its end; ignored", call.call_id)
        return
    if _by_voicemail(call, event=event):
        if can_proceed(call.voicemail):
            call.voicemail(at=event.occurred_at)
            call.save(update_fields=list(Call.END_FIELDS))
            logger.info("CTI call %s went to voicemail: missed", call.call_id)
        return
    # "answering" names the agent who picked up; without it, the event's extension or user
    # counts only when it names exactly one agent.
    if event.answering:
        agents = routing.agents_named(extensions=[event.answering], users=[event.answering])
    else:
        agents = routing.agents_named(extensions=event.extensions, users=event.users)
    agent_id = next(iter(agents)) if len(agents) == 1 else None
    before = {name: getattr(call, name) for name in _ANSWER_FIELDS}
    call.answer(at=event.occurred_at, agent_id=agent_id)
    changed = [name for name in _ANSWER_FIELDS if getattr(call, name) != before[name]]
    if changed:
        call.save(update_fields=changed)
    if agent_id:
        routing.call_offer(call, [agent_id])
        if call.state == Call.State.ANSWERED:
            presence.agent_busy(user_id=agent_id, call=call)


def _by_voicemail(call: Call, *, event: PbxEvent) -> bool:
    """Whether the answer is the voicemail's: the PBX names the user "voicemail" (Zammad's
    convention), or the answering number is a voicemail box of the call's PBX."""
    names = [event.answering, *event.users]
    if any(name.strip().lower() == VOICEMAIL for name in names if name):
        return True
    answering = event.answering.strip()
    if not answering or call.pbx_id is None:
        return False
    return VoicemailBox.objects.filter(pbx_id=call.pbx_id, number=answering).exists()


def call_hang_up(call: Call, *, at, cause: str) -> None:
    """End ``call`` (a hang-up); a call that ended already is left as it is."""
    if not can_proceed(call.hang_up):
        return
    call.hang_up(at=at, cause=cause)
    call_ended_save(call)


def call_ended_save(call: Call) -> None:
    """Save a call that ``hang_up`` or ``miss`` just ended, and free its agent."""
    call.save(update_fields=list(Call.END_FIELDS))
    presence.agent_call_ended(call)
