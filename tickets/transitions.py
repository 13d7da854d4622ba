"""The ticket transitions, each declared once.

A transition has three halves, each in the one place its kind of code lives:

- *when and who*: the ``@transition`` method of the same name on :class:`tickets.models.Ticket`
  (source states, conditions, the permission guard), which changes fields of the ticket only;
- *the write*: its service in :mod:`tickets.services` (validation, the timeline, the event);
- *everything a page or a client shows of it*: the declaration below.

Pages and the API derive what they offer from :data:`REGISTRY`: the console's buttons (label,
style, form, message), the portal's buttons, the caller's history sentence, the API's
``/transitions/<name>/`` actions with their input serializer and summary, and the list of
transitions a ticket representation says are available. Adding a transition (an SLA pause, a
link to a change) is one model method, one service and one entry here.

Forms and serializers are named by dotted path and imported on first use, so this module
imports neither pages nor the API (they import it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class TicketTransition:
    name: str  # the Ticket method and the API's /transitions/<name>/
    service: str  # dotted path of the service that takes it
    form: str  # dotted path of the page form (validation only; fields = service kwargs)
    serializer: str  # dotted path of the API input serializer
    label: Promise  # the console's button
    done: Promise  # the console's message after it was taken (may use %(group)s)
    history: Promise  # the caller's history line (portal)
    summary: Promise  # the API operation's summary
    style: str = "outline-secondary"  # Bootstrap button variant
    one_click: bool = False  # no input but the version: a plain button, no form to open
    # The service keyword the console fills with the acting user ("Assign to me").
    actor_argument: str = ""
    # Whether the console leaves the button out although the transition is possible.
    hidden_for: Callable[[Any, Any], bool] | None = None
    # The portal's message, where it speaks to the caller differently than the console.
    portal_done: Promise | None = None

    @cached_property
    def service_function(self) -> Callable:
        return import_string(self.service)

    @cached_property
    def form_class(self) -> type:
        return import_string(self.form)

    @cached_property
    def serializer_class(self) -> type:
        return import_string(self.serializer)

    def make_form(self, *args, ticket, **kwargs):
        """The page form, with element ids of its own: a ticket page shows the forms of
        several transitions at once, and fields of the same name (``reason``) must not
        share an id, or a label would name another form's field."""
        return self.form_class(*args, ticket=ticket, auto_id=f"id_{self.name}_%s", **kwargs)

    def offered_to(self, ticket, user) -> bool:
        return self.hidden_for is None or not self.hidden_for(ticket, user)


def _assigned_to(ticket, user) -> bool:
    return ticket.assignee_id == user.pk


_FORMS = "tickets.forms"
_API = "tickets.api"
_SERVICES = "tickets.services"

REGISTRY: dict[str, TicketTransition] = {
    t.name: t
    for t in [
        TicketTransition(
            name="assign",
            service=f"{_SERVICES}.ticket_assign",
            form=f"{_FORMS}.VersionForm",
            serializer=f"{_API}.AssignInputSerializer",
            label=_("Assign to me"),
            done=_("The ticket is assigned to you."),
            history=_("An agent took your ticket."),
            summary=_("Assign the ticket to an agent or engineer"),
            style="primary",
            one_click=True,
            actor_argument="assignee",
            hidden_for=_assigned_to,
        ),
        TicketTransition(
            name="start",
            service=f"{_SERVICES}.ticket_start",
            form=f"{_FORMS}.VersionForm",
            serializer=f"{_API}.TransitionInputSerializer",
            label=_("Start work"),
            done=_("Work on the ticket started."),
            history=_("Work on your ticket started."),
            summary=_("Start work (takes the ticket if unassigned)"),
            style="primary",
            one_click=True,
        ),
        TicketTransition(
            name="pend",
            service=f"{_SERVICES}.ticket_pend",
            form=f"{_FORMS}.PendForm",
            serializer=f"{_API}.PendInputSerializer",
            label=_("Put on hold"),
            done=_("The ticket is on hold."),
            history=_("Your ticket was put on hold."),
            summary=_("Put the ticket on hold with a reason"),
        ),
        TicketTransition(
            name="resume",
            service=f"{_SERVICES}.ticket_resume",
            form=f"{_FORMS}.VersionForm",
            serializer=f"{_API}.TransitionInputSerializer",
            label=_("Resume work"),
            done=_("Work on the ticket resumed."),
            history=_("Work on your ticket resumed."),
            summary=_("Resume work on a pending ticket"),
            one_click=True,
        ),
        TicketTransition(
            name="resolve",
            service=f"{_SERVICES}.ticket_resolve",
            form=f"{_FORMS}.ResolveForm",
            serializer=f"{_API}.ResolveInputSerializer",
            label=_("Resolve"),
            done=_("The ticket is resolved."),
            history=_("Your ticket was resolved."),
            summary=_("Resolve with a code and notes"),
            style="success",
        ),
        TicketTransition(
            name="close",
            service=f"{_SERVICES}.ticket_close",
            form=f"{_FORMS}.VersionForm",
            serializer=f"{_API}.TransitionInputSerializer",
            label=_("Close"),
            done=_("The ticket is closed."),
            history=_("Your ticket was closed."),
            summary=_("Close a resolved ticket"),
            one_click=True,
            portal_done=_("Thank you, the ticket is closed."),
        ),
        TicketTransition(
            name="reopen",
            service=f"{_SERVICES}.ticket_reopen",
            form=f"{_FORMS}.ReopenForm",
            serializer=f"{_API}.ReasonInputSerializer",
            label=_("Reopen"),
            done=_("The ticket was reopened."),
            history=_("Your ticket was reopened."),
            summary=_("Reopen a resolved ticket (the reason becomes a reply)"),
        ),
        TicketTransition(
            name="cancel",
            service=f"{_SERVICES}.ticket_cancel",
            form=f"{_FORMS}.CancelForm",
            serializer=f"{_API}.ReasonInputSerializer",
            label=_("Cancel ticket"),
            done=_("The ticket was cancelled."),
            history=_("Your ticket was cancelled."),
            summary=_("Cancel the ticket"),
            style="outline-danger",
        ),
        TicketTransition(
            name="transfer",
            service=f"{_SERVICES}.ticket_transfer",
            form=f"{_FORMS}.TransferForm",
            serializer=f"{_API}.TransferInputSerializer",
            label=_("Transfer"),
            done=_("The ticket was transferred to %(group)s."),
            history=_("Your ticket was passed to another support team."),
            summary=_("Transfer to another group with a reason"),
        ),
        TicketTransition(
            name="escalate",
            service=f"{_SERVICES}.ticket_escalate",
            form=f"{_FORMS}.EscalateForm",
            serializer=f"{_API}.EscalateInputSerializer",
            label=_("Escalate to second line"),
            done=_("The ticket was escalated to %(group)s."),
            history=_("Your ticket was passed to specialists."),
            summary=_("Escalate to a higher tier with diagnostic notes"),
        ),
        TicketTransition(
            name="merge",
            service=f"{_SERVICES}.ticket_merge",
            form=f"{_FORMS}.MergeForm",
            serializer=f"{_API}.MergeInputSerializer",
            label=_("Merge into"),
            done=_("The ticket was merged; its caller was told where it continues."),
            history=_("Your ticket was merged into another ticket about the same problem."),
            summary=_("Merge a duplicate into the ticket that continues (closes the duplicate)"),
        ),
    ]
}


def get(name: str) -> TicketTransition | None:
    return REGISTRY.get(name)
