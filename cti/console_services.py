"""Writes an agent makes from the console card and the call log.

Kept apart from ``cti.services`` (the PBX event side) so the two halves of the telephony
app can change independently; the same rules apply: keyword-only, one transaction each,
the consoles are told on commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cti import notify, selectors
from cti.models import Call
from cti.services.calls import call_hang_up
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.models import Person, PhoneNumber
from helpdesk.roles import can_work_tickets
from tickets import services as ticket_services
from tickets.models import Channel, Ticket


def _require_agent(user) -> None:
    if not can_work_tickets(user):
        raise PermissionDenied


def _notify_on_commit(call: Call) -> None:
    call_id = call.pk
    transaction.on_commit(lambda: notify.call_changed(call_id))


@transaction.atomic
def call_ticket_create(
    *, call: Call, by, title: str = "", caller: Person | None = None, description: str = ""
) -> Ticket:
    """Open a phone ticket for the caller of ``call`` and link the call to it."""
    _require_agent(by)
    caller = caller or call.caller_person
    if caller is None:
        raise ValidationError({"caller": _("Identify the caller first.")})
    title = (title or "").strip() or _("Phone call from %(caller)s") % {"caller": caller.full_name}
    ticket = ticket_services.ticket_create(
        caller=caller,
        title=title,
        description=description,
        opened_by=by,
        channel=Channel.PHONE,
    )
    call.tickets.add(ticket)
    if call.caller_person_id is None:
        call.caller_person = caller
        call.save(update_fields=["caller_person"])
    if call.state == Call.State.ENDED:
        # A live call's card follows the new ticket's event (services/ticket_events.py);
        # an ended one is on no console's live list, only on its answering agent's.
        _notify_on_commit(call)
    return ticket


@transaction.atomic
def call_ticket_link(*, call: Call, by, ticket: Ticket) -> None:
    """Add ``call`` to an existing ticket (the ticket's history shows the call)."""
    _require_agent(by)
    call.tickets.add(ticket)
    _notify_on_commit(call)


@transaction.atomic
def call_caller_set(*, call: Call, by, person: Person) -> Call:
    """Pick the caller among the candidates (several people share the number)."""
    _require_agent(by)
    call.caller_person = person
    call.save(update_fields=["caller_person"])
    _notify_on_commit(call)
    return call


def _caller_number(call: Call) -> str:
    if call.is_withheld or not (call.caller_e164 or call.caller_number):
        raise ValidationError(_("The caller's number is withheld."))
    return call.caller_number or call.caller_e164


@transaction.atomic
def call_person_create(
    *, call: Call, by, full_name: str, department: str = "", email: str = ""
) -> Person:
    """Register an unknown caller with the number they call from."""
    _require_agent(by)
    number = _caller_number(call)
    full_name = (full_name or "").strip()
    if not full_name:
        raise ValidationError({"full_name": _("A name is required.")})
    person = Person.objects.create(
        full_name=full_name[:200], department=department[:120], email=email
    )
    _phone_add(person, call, number)
    call.caller_person = person
    call.save(update_fields=["caller_person"])
    _notify_on_commit(call)
    return person


@transaction.atomic
def call_number_attach(*, call: Call, by, person: Person) -> Person:
    """Add the caller's number to ``person`` and make them the caller of ``call``."""
    _require_agent(by)
    number = _caller_number(call)
    _phone_add(person, call, number)
    call.caller_person = person
    call.save(update_fields=["caller_person"])
    _notify_on_commit(call)
    return person


def _phone_add(person: Person, call: Call, number: str) -> None:
    phone = PhoneNumber(person=person, raw=number[:40], kind=PhoneNumber.Kind.OTHER)
    phone.full_clean(exclude=["person"])
    if call.caller_e164 and not phone.e164.startswith("ext:"):
        phone.e164 = call.caller_e164
    if not person.phone_numbers.filter(e164=phone.e164).exists():
        phone.save()


@transaction.atomic
def missed_calls_mark_handled(*, call_ids: Iterable[int], by) -> int:
    """Mark missed or abandoned calls as dealt with (called back, ticket filed ...)."""
    _require_agent(by)
    return selectors.missed_calls(Call.objects.filter(pk__in=list(call_ids))).update(
        missed_handled_at=timezone.now(), missed_handled_by=by
    )


@transaction.atomic
def call_end_by_agent(*, call: Call, by) -> Call:
    """The agent on ``call`` ends it from the card: its hang-up never came (the card shows
    it stale). Ends as a hang-up now would (``Call.hang_up``, cause ``ended_by_agent``) and
    frees the agent (after-call work); a call that ended meanwhile is left as it is."""
    _require_agent(by)
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.state != Call.State.ANSWERED:
        return call
    if call.answered_by_id != by.pk:
        raise ValidationError(_("Only the agent on the call can end it."))
    call_hang_up(call, at=timezone.now(), cause="ended_by_agent")
    _notify_on_commit(call)
    return call
