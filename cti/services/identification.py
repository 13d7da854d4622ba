"""Who is calling: reading the caller's number and finding the person behind it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.conf import settings

from cti import statements
from cti.models import Call
from helpdesk.phones import InvalidPhoneNumber, is_withheld, normalize_phone

# More matches than this for one number is a data problem (a switchboard number on every
# profile); showing a dozen candidates helps nobody and would make the ring path unbounded.
MAX_CANDIDATES = 10

# The fields caller_number_set and caller_identify change.
NUMBER_FIELDS = [
    "caller_number",
    "caller_e164",
    "is_withheld",
    "caller_person",
    "identification",
    "candidates_total",
]


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


def caller_number_set(call: Call, raw: str) -> None:
    """Set the call's number fields from the caller ID ``raw`` (not saved)."""
    number = caller_number_read(raw)
    call.caller_number = number.raw[:64]
    call.caller_e164 = number.e164
    call.is_withheld = number.is_withheld


@dataclass
class Caller:
    """What identifying a call's caller found."""

    candidates: list[int] = field(default_factory=list)  # several possible people: their ids
    # The card's rows of the caller (one) or of the candidates (several, by name), when the
    # directory said who it is; None when it did not (history match, unknown, withheld).
    people: list | None = None
    blocked: bool = False  # the number is on the block list


def caller_identify(call: Call, *, lookup: statements.CallerLookup | None = None) -> Caller:
    """Set caller_person/identification on ``call`` (not saved); return what was found.
    ``lookup``: the directory's answer for the call's number, when read already."""
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
        call.candidates_total = max(lookup.total, len(people))
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


def caller_candidates_add(call: Call, people: list[int]) -> None:
    """Store the possible callers of a saved call (only when there are several)."""
    if len(people) > 1:
        statements.links_insert(Call.candidate_people.through, "call", call.pk, "person", people)


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


# --- data from the PBX's voice menu (docs/pbx.md, "Data from the voice menu") ------------

# field -> longest value kept; keypad input (digits, * and #, or a whole ticket number).
IVR_FIELDS = {"ivr_option": 16, "ivr_ticket": 20, "ivr_employee": 20, "ivr_service": 40}
_KEYPAD = frozenset("0123456789*#-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def ivr_data(payload: dict | None) -> dict[str, str]:
    """What the voice menu gathered, from a ring's payload (top-level ``ivr_*`` fields or
    an ``ivr`` object with ``option``, ``ticket``, ``employee``, ``service``): bounded, and
    dropped when it is not what a keypad or a menu sends."""
    if not isinstance(payload, dict):
        return {}
    nested = payload.get("ivr") if isinstance(payload.get("ivr"), dict) else {}
    found = {}
    for name, limit in IVR_FIELDS.items():
        value = payload.get(name, nested.get(name.removeprefix("ivr_")))
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(int(value))
        if not isinstance(value, str):
            continue
        value = value.strip()
        if not value or len(value) > limit:
            continue
        if name == "ivr_service":
            if not value.isprintable():
                continue
        elif not set(value) <= _KEYPAD:
            continue
        found[name] = value
    return found


def caller_identify_by_employee(call: Call) -> bool:
    """A caller the number did not identify, named by the employee number typed in the
    voice menu (the person's id in the directory): set on ``call`` (not saved)."""
    typed = call.ivr_employee
    if call.caller_person_id or not typed.isdigit() or len(typed) > 18:
        return False
    from helpdesk.models import Person

    person_id = Person.objects.filter(pk=int(typed), is_active=True).values_list("pk", flat=True)
    found = person_id.first()
    if found is None:
        return False
    call.caller_person_id = found
    call.identification = Call.Identification.IVR
    return True
