"""Helpers shared by the portal and console views."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from helpdesk.roles import can_work_tickets, is_staff_member
from tickets import selectors, services
from tickets.forms import add_service_errors
from tickets.models import Ticket
from tickets.transitions import TicketTransition

SORTABLE = {
    "number": "number",
    "title": "title",
    "state": "status",
    "priority": "priority",
    "created": "created_at",
    "updated": "updated_at",
    "caller": "caller__full_name",
}


def ticket_or_404(user, number: str, **kwargs) -> Ticket:
    """The ticket if ``user`` may see it; anything else is a 404, never a 403 (no probing)."""
    try:
        return selectors.ticket_get_for(user, number=number, **kwargs)
    except Ticket.DoesNotExist:
        raise Http404 from None


def staff_required(view):
    """Console pages: staff who see all tickets; end users get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_staff_member(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def agent_required(view):
    """Console writes: agents and engineers only."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_work_tickets(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def order_by_param(value: str, default: str) -> tuple[str, list[str]]:
    """(the sort key shown in links, the ORDER BY) for a ``sort=`` value like ``-updated``."""
    if value.lstrip("-") not in SORTABLE:
        value = default
    key = value.lstrip("-")
    field = SORTABLE[key]
    descending = value.startswith("-")
    return value, [f"-{field}" if descending else field, "-id" if descending else "id"]


@dataclass
class TransitionSubmission:
    """What became of a transition posted from a page."""

    form: object  # the posted form, with the service's field errors if it refused the input
    taken: bool = False
    # Someone changed the ticket meanwhile: the ticket is reloaded and ``form`` is the user's
    # input on top of the current version, to show with the conflict.
    conflict: bool = False
    refused: TransitionNotAllowedError | None = None


def transition_submit(request, ticket: Ticket, declared: TicketTransition) -> TransitionSubmission:
    """Validate the posted form of ``declared`` and take the transition through its service.

    The form's fields (less the version) are the service's keyword arguments; the acting
    user fills ``declared.actor_argument`` ("Assign to me")."""
    form = declared.make_form(request.POST, ticket=ticket)
    if not form.is_valid():
        return TransitionSubmission(form)
    kwargs = {k: v for k, v in form.cleaned_data.items() if k != "version"}
    if declared.actor_argument:
        kwargs[declared.actor_argument] = request.user
    try:
        services.transition_take(
            ticket=ticket,
            by=request.user,
            name=declared.name,
            expected_version=form.cleaned_data["version"],
            **kwargs,
        )
    except ConflictError:
        ticket.refresh_from_db()
        data = request.POST.copy()
        data["version"] = ticket.version
        kept = declared.make_form(data, ticket=ticket)
        kept.is_valid()
        return TransitionSubmission(kept, conflict=True)
    except TransitionNotAllowedError as error:
        return TransitionSubmission(form, refused=error)
    except ValidationError as error:
        add_service_errors(form, error)
        return TransitionSubmission(form)
    return TransitionSubmission(form, taken=True)
