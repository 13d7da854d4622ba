"""The pages of mass outages: the staff list, declare, an outage's page (update, attach
tickets, resolve, cancel), attaching tickets selected in the queue, the notices every page
loads, the portal's "we know; add yourself" and the suggestion's dismissal.

Staff who work tickets (agents, engineers, managers, administrators) see and manage
outages; every signed-in user reads the notices and may add themselves to an active outage.
"""

from __future__ import annotations

import re
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from helpdesk.roles import can_work_tickets
from outages import selectors, services
from outages.forms import (
    LinkNumbersForm,
    OutageCancelForm,
    OutageDeclareForm,
    OutageResolveForm,
    OutageUpdateForm,
    ticket_ids,
)
from outages.models import Outage, OutageSuggestion, State
from tickets.models import OPEN_STATUSES, Ticket

PAGE_SIZE = 50
SKIPPED_NAMED = 10


def worker_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_work_tickets(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _outage(pk: int) -> Outage:
    try:
        return selectors.outage_get(pk)
    except Outage.DoesNotExist as error:
        raise Http404 from error


def _error_messages(request, error: Exception) -> None:
    texts = getattr(error, "messages", None) or [str(getattr(error, "message", error))]
    for text in texts:
        messages.error(request, text)


def _skipped_message(skipped: list[tuple[str, str]]) -> str:
    named = "; ".join(f"{number} ({reason})" for number, reason in skipped[:SKIPPED_NAMED])
    more = len(skipped) - SKIPPED_NAMED
    if more > 0:
        named += " " + _("and %(count)d more") % {"count": more}
    return _("Left as they were: %(tickets)s.") % {"tickets": named}


@worker_required
@require_GET
def outage_list(request):
    state = request.GET.get("state", "")
    if state not in State.values:
        state = ""
    outages = list(selectors.outage_list(state=state)[:PAGE_SIZE])
    return render(
        request,
        "outages/list.html",
        {
            "outages": outages,
            "state": state,
            "states": State.choices,
            "suggestions": selectors.open_suggestions(request.user),
            "section": "list",
        },
    )


@worker_required
@require_http_methods(["GET", "POST"])
def outage_declare(request):
    initial = {}
    suggestion = None
    if request.method == "GET":
        raw_tickets = request.GET.get("tickets", "")
        suggestion_id = request.GET.get("suggestion", "")
        if suggestion_id.isdigit() and len(suggestion_id) < 19:
            suggestion = (
                OutageSuggestion.objects.filter(pk=int(suggestion_id))
                .prefetch_related("tickets")
                .first()
            )
        if suggestion is not None:
            initial["services"] = [suggestion.service_id]
            raw_tickets = ",".join(str(ticket.pk) for ticket in suggestion.tickets.all())
        initial["tickets"] = raw_tickets[:2000]
        form = OutageDeclareForm(initial=initial)
    else:
        form = OutageDeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                ids = ticket_ids(data["tickets"], limit=services.LINK_LIMIT)
                outage = services.outage_declare(
                    by=request.user,
                    title=data["title"],
                    description=data["description"],
                    description_pl=data["description_pl"],
                    services=data["services"],
                    sites=data["sites"],
                    started_at=data["started_at"],
                    expected_end=data["expected_end"],
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, errors in error.error_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, error)
            else:
                messages.success(request, _("Outage declared."))
                if ids:
                    _link(request, outage, Ticket.objects.filter(pk__in=ids))
                return redirect(outage)
    selected = []
    raw = form["tickets"].value() or ""
    try:
        ids = ticket_ids(raw, limit=services.LINK_LIMIT)
    except Exception:
        ids = []
    if ids:
        selected = list(Ticket.objects.filter(pk__in=ids).only("pk", "number", "title"))
    return render(
        request,
        "outages/declare.html",
        {"form": form, "selected": selected, "suggestion": suggestion, "section": "new"},
    )


def _link(request, outage: Outage, tickets) -> None:
    try:
        outcome = services.outage_link_tickets(outage=outage, by=request.user, tickets=tickets)
    except (ValidationError, TransitionNotAllowedError) as error:
        _error_messages(request, error)
        return
    if outcome.linked:
        messages.success(
            request,
            _("Attached to the outage: %(tickets)s.")
            % {"tickets": ", ".join(ticket.number for ticket in outcome.linked)},
        )
    if outcome.skipped:
        messages.warning(request, _skipped_message(outcome.skipped))


@worker_required
@require_GET
def outage_detail(request, pk: int):
    outage = _outage(pk)
    children = list(selectors.outage_children(outage)[:200])
    return render(
        request,
        "outages/detail.html",
        {
            "outage": outage,
            "children": children,
            "updates": list(outage.updates.all()),
            "update_form": OutageUpdateForm(
                initial={
                    "expected_end": outage.expected_end,
                    "description": outage.description,
                    "description_pl": outage.description_pl,
                    "version": outage.version,
                }
            ),
            "resolve_form": OutageResolveForm(initial={"version": outage.version}),
            "cancel_form": OutageCancelForm(initial={"version": outage.version}),
            "link_form": LinkNumbersForm(),
        },
    )


def _post_form(request, form_class, pk: int):
    outage = get_object_or_404(Outage, pk=pk)
    form = form_class(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return outage, None
    return outage, form.cleaned_data


@worker_required
@require_POST
def outage_update(request, pk: int):
    outage, data = _post_form(request, OutageUpdateForm, pk)
    if data is not None:
        try:
            services.outage_update(
                outage=outage,
                by=request.user,
                expected_end=data["expected_end"],
                description=data["description"],
                description_pl=data["description_pl"],
                note=data["note"],
                expected_version=data["version"],
            )
        except (ValidationError, ConflictError, TransitionNotAllowedError) as error:
            _error_messages(request, error)
        else:
            messages.success(request, _("Outage updated."))
    return redirect(outage)


@worker_required
@require_POST
def outage_resolve(request, pk: int):
    outage, data = _post_form(request, OutageResolveForm, pk)
    if data is not None:
        try:
            outcome = services.outage_resolve(
                outage=outage,
                by=request.user,
                notes=data["notes"],
                expected_version=data["version"],
            )
        except (ValidationError, ConflictError, TransitionNotAllowedError) as error:
            _error_messages(request, error)
        else:
            messages.success(
                request,
                _("Outage resolved; %(count)d tickets resolved.")
                % {"count": len(outcome.resolved)},
            )
            if outcome.skipped:
                messages.warning(request, _skipped_message(outcome.skipped))
    return redirect(outage)


@worker_required
@require_POST
def outage_cancel(request, pk: int):
    outage, data = _post_form(request, OutageCancelForm, pk)
    if data is not None:
        try:
            services.outage_cancel(
                outage=outage,
                by=request.user,
                reason=data["reason"],
                expected_version=data["version"],
            )
        except (ValidationError, ConflictError, TransitionNotAllowedError) as error:
            _error_messages(request, error)
        else:
            messages.success(request, _("Outage cancelled."))
    return redirect(outage)


_NUMBER = re.compile(r"[A-Za-z]{2,5}-\d{1,12}")


@worker_required
@require_POST
def outage_link(request, pk: int):
    """Attach tickets by number (the outage's page) or by id (the queue's selection)."""
    outage = get_object_or_404(Outage, pk=pk)
    try:
        ids = ticket_ids(request.POST.getlist("tickets"), limit=services.LINK_LIMIT)
    except Exception as error:
        _error_messages(request, error)
        return redirect(outage)
    numbers = [
        number.upper() for number in _NUMBER.findall(request.POST.get("numbers", "")[:2000])
    ][: services.LINK_LIMIT]
    if not ids and not numbers:
        messages.error(request, _("Select at least one ticket."))
        return redirect(outage)
    tickets = list(Ticket.objects.filter(pk__in=ids)) + list(
        Ticket.objects.filter(number__in=numbers)
    )
    unknown = set(numbers) - {ticket.number for ticket in tickets}
    if unknown:
        messages.warning(
            request, _("Not found: %(numbers)s.") % {"numbers": ", ".join(sorted(unknown))}
        )
    _link(request, outage, {ticket.pk: ticket for ticket in tickets}.values())
    return redirect(outage)


@worker_required
@require_POST
def outage_attach(request):
    """The queue's "Attach to outage…": the selected tickets, and which active outage to
    attach them to (or a new outage declared with them)."""
    try:
        ids = ticket_ids(request.POST.getlist("tickets"), limit=services.LINK_LIMIT)
    except Exception as error:
        _error_messages(request, error)
        return redirect("tickets:console")
    if not ids:
        messages.error(request, _("Select at least one ticket."))
        return redirect("tickets:console")
    tickets = list(
        Ticket.objects.filter(pk__in=ids).only("pk", "number", "title", "status").order_by("pk")
    )
    return render(
        request,
        "outages/attach.html",
        {
            "tickets": tickets,
            "ids": ",".join(str(ticket.pk) for ticket in tickets),
            "outages": list(
                Outage.objects.filter(state=State.ACTIVE).select_related("parent_ticket")
            ),
        },
    )


@login_required
@require_GET
def notices(request):
    """The fragment every page loads (htmx): the active outages (the portal's banner; for
    staff the console's notice with the suggestions to declare one)."""
    worker = can_work_tickets(request.user)
    if worker:
        outages = list(selectors.active_snapshot().outages)
    else:
        outages = selectors.outages_for_person(getattr(request.user, "person", None))
    suggestions = selectors.open_suggestions(request.user) if worker else []
    if not outages and not suggestions:
        return HttpResponse("")
    return render(
        request,
        "outages/partials/_notices.html",
        {"outages": outages, "suggestions": suggestions, "worker": worker},
    )


@login_required
@require_GET
def for_service(request):
    """The portal's new-ticket form: the active outages of the service picked (fragment)."""
    raw = request.GET.get("service", "")
    if not raw.isdigit() or len(raw) > 18:
        return HttpResponse("")
    person = getattr(request.user, "person", None)
    outages = [
        outage for outage in selectors.outages_for_person(person) if int(raw) in outage.service_ids
    ]
    if not outages:
        return HttpResponse("")
    joined = set()
    if person is not None:
        joined = set(
            Ticket.objects.filter(
                caller=person,
                status__in=OPEN_STATUSES,
                parent_id__in=[outage.parent_ticket_id for outage in outages],
            ).values_list("parent_id", flat=True)
        )
    return render(
        request,
        "outages/partials/_for_service.html",
        {"outages": outages, "joined": joined, "has_person": person is not None},
    )


@login_required
@require_POST
def outage_join(request, pk: int):
    """ "We know; add yourself to the outage": a linked ticket for the signed-in user."""
    outage = get_object_or_404(Outage, pk=pk, state=State.ACTIVE)
    try:
        joined = services.outage_add_caller(outage=outage, user=request.user)
    except ValidationError as error:
        _error_messages(request, error)
        return redirect("tickets:create")
    if joined.created:
        messages.success(
            request,
            _("You were added to the outage: ticket %(number)s. We will tell you when it is over.")
            % {"number": joined.ticket.number},
        )
    else:
        messages.info(request, _("You are already on this outage's list."))
    return redirect("tickets:detail", joined.ticket.number)


@worker_required
@require_POST
def suggestion_dismiss(request, pk: int):
    suggestion = get_object_or_404(OutageSuggestion, pk=pk)
    services.suggestion_dismiss(suggestion=suggestion, by=request.user)
    messages.info(request, _("Suggestion dismissed."))
    return redirect(request.POST.get("next") if _safe(request) else "outages:list")


def _safe(request) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
