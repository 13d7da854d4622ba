"""The ticket page's relations: related tickets, watchers and tags (merging a duplicate is a
transition, taken through ``console_action``).

Each write is a small form of the ticket page's sidebar: it calls its service and comes back
to the page with a message, so a refused input (an unknown number, a bad tag) is said on
top of the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk.errors import ValidationError
from tickets import selectors, services
from tickets.models import Ticket
from tickets.views.common import agent_required, staff_required, ticket_or_404


def _back(ticket: Ticket):
    return redirect("tickets:console_detail", number=ticket.number)


def _refused(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _other_ticket(request, ticket: Ticket) -> Ticket | None:
    """The ticket named by the posted ``number``, if the user may see it."""
    number = selectors.ticket_number_normalized(request.POST.get("number", ""))
    if number is None:
        return None
    return selectors.ticket_queryset_for(request.user).filter(number=number).first()


@agent_required
@require_POST
def ticket_link_add(request, number):
    """Link the ticket to another one, named by its number."""
    ticket = ticket_or_404(request.user, number)
    other = _other_ticket(request, ticket)
    try:
        if other is None:
            raise ValidationError({"other": _("There is no such ticket.")})
        services.ticket_link(ticket=ticket, other=other, by=request.user)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, _("%(number)s is linked.") % {"number": other.number})
    return _back(ticket)


@agent_required
@require_POST
def ticket_link_remove(request, number):
    ticket = ticket_or_404(request.user, number)
    other = _other_ticket(request, ticket)
    if other is not None and services.ticket_unlink(ticket=ticket, other=other, by=request.user):
        messages.success(request, _("%(number)s is no longer linked.") % {"number": other.number})
    return _back(ticket)


def _watcher(request):
    """The posted ``user`` (a colleague), or the acting user when none is named."""
    user_id = request.POST.get("user", "")
    if not user_id:
        return request.user
    if not user_id.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(user_id)).first()


@agent_required
@require_POST
def ticket_watch(request, number):
    """Watch the ticket, or have a colleague (``user``) watch it."""
    ticket = ticket_or_404(request.user, number)
    user = _watcher(request)
    try:
        services.ticket_watch(ticket=ticket, user=user, by=request.user)
    except ValidationError as error:
        _refused(request, error)
    else:
        if user == request.user:
            messages.success(request, _("You watch this ticket: its updates come to you."))
        else:
            name = user.get_full_name() or user.get_username()
            messages.success(request, _("%(name)s watches this ticket.") % {"name": name})
    return _back(ticket)


@agent_required
@require_POST
def ticket_unwatch(request, number):
    ticket = ticket_or_404(request.user, number)
    user = _watcher(request)
    if user is not None and services.ticket_unwatch(ticket=ticket, user=user, by=request.user):
        if user == request.user:
            messages.success(request, _("You no longer watch this ticket."))
        else:
            name = user.get_full_name() or user.get_username()
            messages.success(request, _("%(name)s no longer watches this ticket.") % {"name": name})
    return _back(ticket)


@agent_required
@require_POST
def ticket_tags(request, number):
    """Add the tags in ``add`` (comma or space separated) and remove those in ``remove``."""
    ticket = ticket_or_404(request.user, number)
    current = list(ticket.tags.values_list("name", flat=True))
    removed = set(request.POST.getlist("remove"))
    try:
        added = services.tag_names_normalized(request.POST.get("add", ""))
        services.ticket_tags_set(
            ticket=ticket,
            by=request.user,
            names=[name for name in current if name not in removed] + added,
        )
    except ValidationError as error:
        _refused(request, error)
    return _back(ticket)


@staff_required
@require_GET
def tag_suggestions(request):
    """Existing tags starting with ``q`` (or ``add``, the ticket page's field), at most 20:
    JSON ``{"tags": [...]}``, or the options of the page's datalist for htmx."""
    prefix = request.GET.get("q", request.GET.get("add", ""))[:50]
    names = selectors.tag_names_starting(prefix)
    if request.headers.get("HX-Request"):
        return render(request, "tickets/console/partials/_tag_options.html", {"names": names})
    return JsonResponse({"tags": names})
