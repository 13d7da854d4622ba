"""The self-service portal: file a ticket, follow it, reply, reopen, cancel."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.errors import ValidationError
from helpdesk.roles import is_staff_member
from tickets import selectors, services, transitions
from tickets.forms import (
    PortalTicketForm,
    ReplyForm,
    add_service_errors,
)
from tickets.models import (
    OPEN_STATUSES,
    Attachment,
    Channel,
    TimelineEntry,
)
from tickets.views.common import order_by_param, ticket_or_404, transition_submit

MY_TICKETS_PAGE_SIZE = 50
HISTORY_KINDS = [
    TimelineEntry.Kind.CREATED,
    TimelineEntry.Kind.TRANSITION,
    TimelineEntry.Kind.TRANSFER,
    TimelineEntry.Kind.ESCALATION,
]


logger = logging.getLogger(__name__)


@login_required
def attachment_download(request, pk):
    """Serve an attachment to someone who may see its ticket, always as a download."""
    try:
        attachment = selectors.attachment_get_for(request.user, pk)
    except Attachment.DoesNotExist:
        raise Http404 from None
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        # The row survived but the file is gone (restored database, lost volume): say so
        # in the log for the administrator; the user gets a 404, not a server error.
        logger.error("Attachment %s: stored file %s is missing", attachment.pk, attachment.file)
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def _person_or_none(user):
    return getattr(user, "person", None)


@login_required
def my_tickets(request):
    """The tickets where the user is the caller: open, closed or all, sortable, paged."""
    person = _person_or_none(request.user)
    state = request.GET.get("state", "open")
    if state not in {"open", "closed", "all"}:
        state = "open"
    sort, ordering = order_by_param(request.GET.get("sort", "-updated"), "-updated")
    tickets = selectors.ticket_queryset_for(request.user).none()
    if person is not None:
        tickets = selectors.ticket_queryset_for(request.user).filter(caller=person)
    if state == "open":
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    elif state == "closed":
        tickets = tickets.exclude(status__in=OPEN_STATUSES)
    tickets = tickets.only("number", "title", "status", "updated_at", "created_at").order_by(
        *ordering
    )
    page = Paginator(tickets, MY_TICKETS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "tickets/portal/my_tickets.html",
        {"page": page, "state": state, "sort": sort, "has_person": person is not None},
    )


@login_required
def ticket_create(request):
    """File a ticket in a minute: title, details, optionally a service and files."""
    person = _person_or_none(request.user)
    form = PortalTicketForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and person is not None and form.is_valid():
        data = form.cleaned_data
        try:
            # A second submission of the same form (a double click) gets the same ticket.
            ticket = services.ticket_create_once(
                user=request.user,
                key=data["submission_key"],
                caller=person,
                opened_by=request.user,
                channel=Channel.PORTAL,
                title=data["title"],
                description=data["description"],
                service=data["service"],
                attachments=data["attachments"],
            ).ticket
        except ValidationError as error:
            add_service_errors(form, error, aliases={"file": "attachments"})
        else:
            return redirect("tickets:created", number=ticket.number)
    return render(
        request, "tickets/portal/create.html", {"form": form, "has_person": person is not None}
    )


@login_required
def ticket_created(request, number):
    ticket = ticket_or_404(request.user, number)
    return render(request, "tickets/portal/created.html", {"ticket": ticket})


def _history(user, ticket):
    return selectors.timeline_for(user, ticket).filter(kind__in=HISTORY_KINDS)


def _render_detail(request, ticket, *, status=200, **forms):
    user = request.user
    available = services.available_transitions(ticket, user)
    initial = {"version": ticket.version}
    context = {
        "ticket": ticket,
        "comments": selectors.comments_for(user, ticket).filter(is_internal=False),
        "history": _history(user, ticket),
        "ticket_attachments": selectors.attachments_for(user, ticket)
        .filter(is_internal=False, comment__isnull=True)
        .order_by("id"),
        "can_reopen": "reopen" in available,
        "reopen_until": ticket.resolved_at + timedelta(days=settings.TICKET_REOPEN_DAYS)
        if ticket.resolved_at
        else None,
        "can_cancel": "cancel" in available,
        "can_close": "close" in available,
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "reopen_form": forms.get("reopen_form")
        or transitions.REGISTRY["reopen"].make_form(initial=initial, ticket=ticket),
        "cancel_form": forms.get("cancel_form")
        or transitions.REGISTRY["cancel"].make_form(initial=initial, ticket=ticket),
        "conflict": forms.get("conflict", False),
    }
    return render(request, "tickets/portal/detail.html", context, status=status)


@login_required
def ticket_detail(request, number):
    """The caller's view of a ticket: public conversation and history in plain words."""
    ticket = ticket_or_404(request.user, number)
    if is_staff_member(request.user) and not ticket.is_caller(request.user):
        return redirect("tickets:console_detail", number=ticket.number)
    return _render_detail(request, ticket)


@login_required
@require_POST
def ticket_reply(request, number):
    """The caller's reply (staff reading their own ticket here are its caller too)."""
    ticket = ticket_or_404(request.user, number)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            reply = services.ticket_reply_by_caller(
                ticket=ticket,
                by=request.user,
                body=form.cleaned_data["body"],
                channel=Channel.PORTAL,
                attachments=form.cleaned_data["attachments"],
            )
        except ValidationError as error:
            finished = [e for e in error.error_dict.get("body", []) if e.code == "ticket_finished"]
            if finished:
                # The page of a finished ticket has no reply form to show the error on.
                messages.error(request, finished[0].messages[0])
                return redirect(ticket)
            add_service_errors(form, error, aliases={"file": "attachments"})
        else:
            if reply.resumed:
                message = _("Your reply was added and the ticket is back with the help desk.")
            else:
                message = _("Your reply was added.")
            messages.success(request, message)
            return redirect(ticket)
    return _render_detail(request, ticket, status=400, reply_form=form)


def _portal_transition(request, number, *, name, form_key):
    declared = transitions.REGISTRY[name]
    ticket = ticket_or_404(request.user, number)
    submitted = transition_submit(request, ticket, declared)
    if submitted.conflict:
        return _render_detail(
            request, ticket, status=409, conflict=True, **{form_key: submitted.form}
        )
    if submitted.refused:
        messages.error(request, submitted.refused.message)
        return redirect(ticket)
    if submitted.taken:
        messages.success(request, declared.portal_done or declared.done)
        return redirect(ticket)
    return _render_detail(request, ticket, status=400, **{form_key: submitted.form})


@login_required
@require_POST
def ticket_reopen(request, number):
    return _portal_transition(
        request,
        number,
        name="reopen",
        form_key="reopen_form",
    )


@login_required
@require_POST
def ticket_cancel(request, number):
    return _portal_transition(
        request,
        number,
        name="cancel",
        form_key="cancel_form",
    )


@login_required
@require_POST
def ticket_close(request, number):
    return _portal_transition(
        request,
        number,
        name="close",
        form_key="close_form",
    )
