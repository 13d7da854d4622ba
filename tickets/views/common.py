"""Helpers shared by the portal and console views."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from helpdesk.roles import can_work_tickets, is_staff_member
from tickets import selectors
from tickets.models import Ticket

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
