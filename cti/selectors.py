"""Reads of the telephony app: the routing hint for the PBX and call lookups."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from cti.models import (
    AgentExtension,
    Call,
    CallQueue,
    OutboundCallerIdRule,
    Pbx,
    caller_id_prefix_clean,
)
from cti.services.identification import caller_number_read
from cti.services.routing import default_queue
from helpdesk.models import Person
from helpdesk.selectors import people_by_e164, person_text_search


@dataclass(frozen=True)
class RouteHint:
    """Where the PBX should send a caller."""

    target: str  # "agent" or "queue"
    destination: str  # the agent's extension or the queue's code ("" when none is set up)
    reason: str  # "sticky", "vip" or "default"
    person_id: int | None = None
    ticket_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "extension" if self.target == "agent" else "queue": self.destination,
            "destination": self.destination,
            "reason": self.reason,
            "person": self.person_id,
            "ticket": self.ticket_id,
        }

    def as_text(self) -> str:
        """One line a dial plan can split on spaces: ``agent 201 sticky``."""
        return f"{self.target} {self.destination or '-'} {self.reason}"


def route_hint(*, number: str, pbx: Pbx | None = None) -> RouteHint:
    """Where to send a call from ``number``.

    1. sticky: the caller has an open ticket assigned to an agent with an extension (the
       most recently updated such ticket wins), or handled by a group that has a queue;
    2. vip: the caller is a VIP and a VIP queue exists;
    3. default: the PBX's default queue, else CTI_DEFAULT_QUEUE, else the queue marked
       default.
    """
    from tickets.models import OPEN_STATUSES, Ticket

    e164 = caller_number_read(number).e164  # "" when withheld or not a number
    people = list(people_by_e164(e164).filter(is_active=True)[:10]) if e164 else []
    if people:
        ticket = (
            Ticket.objects.filter(caller__in=people, status__in=OPEN_STATUSES)
            .filter(assignee__isnull=False, assignee__extensions__isnull=False)
            .order_by("-updated_at")
            .only("pk", "assignee_id")
            .first()
        )
        if ticket is not None:
            extension = (
                AgentExtension.objects.filter(user_id=ticket.assignee_id)
                .order_by("extension")
                .values_list("extension", flat=True)
                .first()
            )
            return RouteHint("agent", extension, "sticky", ticket.caller_id, ticket.pk)
        ticket = (
            Ticket.objects.filter(
                caller__in=people, status__in=OPEN_STATUSES, group__call_queues__isnull=False
            )
            .order_by("-updated_at")
            .only("pk", "group_id", "caller_id")
            .first()
        )
        if ticket is not None:
            queue = CallQueue.objects.filter(support_group_id=ticket.group_id).first()
            return RouteHint("queue", queue.code, "sticky", ticket.caller_id, ticket.pk)
        vip = next((person for person in people if person.is_vip), None)
        if vip is not None:
            queue = CallQueue.objects.filter(is_vip=True).order_by("pk").first()
            if queue is not None:
                return RouteHint("queue", queue.code, "vip", vip.pk)
    queue = default_queue(pbx)
    return RouteHint(
        "queue", queue.code if queue else "", "default", people[0].pk if people else None
    )


def outbound_caller_id(*, pbx: Pbx, number: str) -> str | None:
    """The caller ID the PBX should present when dialling ``number`` (as the PBX sent it):
    the rule of ``pbx`` with the longest prefix of the number's international digits, or
    None when no rule matches. A number that is not readable is compared as written."""
    e164 = caller_number_read(number).e164
    digits = e164[1:] if e164.startswith("+") else caller_id_prefix_clean(number)
    rules = OutboundCallerIdRule.objects.filter(pbx=pbx).values_list("prefix", "caller_id")
    matching = [(len(prefix), to) for prefix, to in rules if digits.startswith(prefix)]
    return max(matching)[1] if matching else None


# Outcomes of calls nobody talked on, which someone should deal with (call back ...).
MISSED_OUTCOMES = (Call.Outcome.MISSED, Call.Outcome.ABANDONED)


def missed_calls(calls: QuerySet[Call] | None = None) -> QuerySet[Call]:
    """The missed or abandoned inbound calls among ``calls`` (all calls when None) that
    nobody has dealt with yet: the call log's "unhandled" filter and what can be marked
    handled. An outbound call nobody answered is the agent's own, not a call-back to make."""
    calls = Call.objects.all() if calls is None else calls
    return calls.filter(
        direction=Call.Direction.INBOUND,
        outcome__in=MISSED_OUTCOMES,
        missed_handled_at__isnull=True,
    )


# How many people the search among a call's possible callers shows.
CANDIDATES_SHOWN = 20


def call_candidates_search(call: Call, text: str) -> list[Person]:
    """The active people who have the call's number and whose name or e-mail contains
    ``text`` (all of them when empty), by name, at most CANDIDATES_SHOWN: for a number
    shared by more people than the card lists."""
    if not call.caller_e164:
        return []
    people = people_by_e164(call.caller_e164).filter(is_active=True).select_related("site")
    if text.strip():
        people = person_text_search(people, text.strip())
    return list(people.order_by("full_name", "pk")[:CANDIDATES_SHOWN])


def call_caller_choosable(call: Call, person_id: int) -> Person | None:
    """The person an agent may name as the caller: one of the call's candidates, or anybody
    active who has the call's number (the card lists only the first ten)."""
    person = call.candidate_people.filter(pk=person_id).first()
    if person is None and call.caller_e164:
        person = people_by_e164(call.caller_e164).filter(is_active=True, pk=person_id).first()
    return person


# How many of several matching people the "attach number" error names.
ATTACH_SHOWN = 5


def person_for_attach(text: str) -> list[Person]:
    """The active people an agent means by ``text`` when attaching a number to a person:
    the one with that e-mail address, else those with exactly that name, else those whose
    name or e-mail contains it (at most ATTACH_SHOWN + 1, by name)."""
    text = text.strip()
    if not text:
        return []
    people = Person.objects.filter(is_active=True).order_by("full_name", "pk")
    for queryset in (
        people.filter(email__iexact=text),
        people.filter(full_name__iexact=text),
        person_text_search(people, text),
    ):
        found = list(queryset[: ATTACH_SHOWN + 1])
        if found:
            return found
    return []


def user_display_name(user) -> str:
    """How people are named on the console: the person's full name, else the account's
    full name, else the login (a service account without a person)."""
    if user is None:
        return ""
    person = getattr(user, "person", None)  # a missing person raises an AttributeError
    if person is not None and person.full_name:
        return person.full_name
    return user.get_full_name() or user.get_username()


def agents_with_extensions() -> QuerySet:
    """The agents the call log filters by (those with a telephone), by name."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(extensions__isnull=False)
        .select_related("person")
        .distinct()
        .order_by("person__full_name", "first_name", "last_name", "username")
    )


# How many ended calls the console's "Recent calls" list shows.
RECENT_CALLS = 5


def recent_calls_for_agent(user, *, limit: int = RECENT_CALLS) -> list[Call]:
    """The agent's last ended calls, newest first: the calls the agent answered and the
    calls offered to the agent that nobody answered (missed, abandoned); calls a colleague
    took are theirs. What the console's "Recent calls" list shows, from the database, so it
    is the same on every page and after a reload. Two queries, each on an index (answered
    by; offers of the agent) and limited, merged here: an OR of the two made the database
    walk every call by date."""
    fields = ("caller_person", "answered_by")
    answered = list(
        Call.objects.filter(answered_by=user, state=Call.State.ENDED)
        .select_related(*fields)
        .order_by("-started_at", "-id")[:limit]
    )
    offered = list(
        Call.objects.filter(
            pk__in=Call.offered_to.through.objects.filter(user=user).values("call_id"),
            answered_by__isnull=True,
            state=Call.State.ENDED,
        )
        .select_related(*fields)
        .order_by("-started_at", "-id")[:limit]
    )
    calls = {call.pk: call for call in (*answered, *offered)}
    return sorted(calls.values(), key=lambda call: (call.started_at, call.pk), reverse=True)[:limit]
