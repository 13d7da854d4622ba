"""Console pages of the telephony app: the call log and the actions of the caller card."""

from __future__ import annotations

import logging
from datetime import datetime, time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cti import console_services, notify, selectors, services, wallboard
from cti.forms import (
    CallerChoiceForm,
    CallLogFilterForm,
    CallTicketCreateForm,
    CallTicketLinkForm,
    MissedHandledForm,
    NumberAttachForm,
    PersonCreateForm,
)
from cti.models import AgentExtension, AgentPresence, Call
from helpdesk.endpoints import machine_endpoint
from helpdesk.errors import ConflictError
from helpdesk.phones import normalize_phone_or_none
from helpdesk.roles import can_work_tickets
from tickets import selectors as ticket_selectors

logger = logging.getLogger(__name__)
CALL_LOG_PAGE_SIZE = 50


def agent_required(view):
    """Signed in and allowed to work tickets (agents, engineers, managers, admins)."""

    @login_required
    def wrapper(request, *args, **kwargs):
        if not can_work_tickets(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _back(request, fallback: str = "cti:call_log"):
    """Back to the page the card was on (the card lives on every console page)."""
    target = request.POST.get("next") or request.headers.get("referer", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _error_text(error: ValidationError) -> str:
    return " ".join(str(message) for message in error.messages)


# --- call log ---------------------------------------------------------------------------


def call_log_queryset(filters: dict):
    """Calls with what a call log row shows, in a fixed number of queries per page."""
    queryset = Call.objects.select_related(
        "caller_person",
        "answered_by__person",
        "queue",
        "pbx",
        "missed_handled_by__person",
    ).prefetch_related("tickets")
    text = (filters.get("number") or "").strip()
    if text:
        e164 = normalize_phone_or_none(text) if sum(c.isdigit() for c in text) >= 3 else None
        condition = Q(caller_person__full_name__icontains=text) | Q(caller_number__icontains=text)
        if e164:
            condition |= Q(caller_e164=e164)
        queryset = queryset.filter(condition)
    for name in ("outcome", "state", "direction"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("queue"):
        queryset = queryset.filter(queue=filters["queue"])
    if filters.get("agent"):
        queryset = queryset.filter(answered_by=filters["agent"])
    zone = timezone.get_current_timezone()
    if filters.get("date_from"):
        start = datetime.combine(filters["date_from"], time.min, tzinfo=zone)
        queryset = queryset.filter(started_at__gte=start)
    if filters.get("date_to"):
        end = datetime.combine(filters["date_to"], time.max, tzinfo=zone)
        queryset = queryset.filter(started_at__lte=end)
    if filters.get("unhandled"):
        queryset = selectors.missed_calls(queryset)
    return queryset.order_by("-started_at", "-id")


@agent_required
@require_GET
def call_log(request):
    form = CallLogFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    paginator = Paginator(call_log_queryset(filters), CALL_LOG_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    own_extension = (
        AgentExtension.objects.filter(user=request.user).values_list("extension", flat=True).first()
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cti/call_log.html",
        {
            "form": form,
            "page": page,
            "calls": page.object_list,
            "missed_outcomes": selectors.MISSED_OUTCOMES,
            "can_dial": bool(own_extension),
            "query": query.urlencode(),
        },
    )


@agent_required
@require_POST
def missed_mark_handled(request):
    form = MissedHandledForm(request.POST)
    if form.is_valid() and form.cleaned_data["calls"]:
        count = console_services.missed_calls_mark_handled(
            call_ids=form.cleaned_data["calls"], by=request.user
        )
        messages.success(request, _("%(count)d missed calls marked as handled.") % {"count": count})
    else:
        messages.error(request, _("Select at least one missed call."))
    return _back(request)


@agent_required
@require_POST
def call_dial(request, pk):
    """Call the caller back from the agent's own phone through the PBX (AMI Originate)."""
    call = get_object_or_404(Call.objects.select_related("pbx"), pk=pk)
    number = call.caller_e164 or call.caller_number
    extension = (
        AgentExtension.objects.filter(user=request.user)
        .filter(Q(pbx=call.pbx_id) | Q(pbx__isnull=True))
        .first()
    )
    if call.pbx is None or not call.pbx.click_to_dial_configured or extension is None or not number:
        messages.error(request, _("Click-to-dial is not configured for this call."))
        return _back(request)
    try:
        from cti import ami

        ami.originate(pbx=call.pbx, extension=extension.extension, number=number)
    except Exception:
        logger.exception("Click-to-dial for call %s failed", call.pk)
        messages.error(request, _("The telephone system did not accept the call."))
    else:
        messages.success(request, _("Your phone will ring; pick it up to call back."))
    return _back(request)


# --- card actions -----------------------------------------------------------------------


def _call(pk) -> Call:
    return get_object_or_404(Call.objects.select_related("caller_person"), pk=pk)


@agent_required
@require_POST
def call_ticket_create(request, pk):
    """Open a phone ticket for the caller, linked to the call; then show the ticket."""
    call = _call(pk)
    form = CallTicketCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The ticket could not be created."))
        return _back(request)
    caller = None
    if form.cleaned_data.get("caller") and call.caller_person_id is None:
        caller = call.candidate_people.filter(pk=form.cleaned_data["caller"]).first()
        if caller is None:
            raise Http404
    try:
        ticket = console_services.call_ticket_create(
            call=call, by=request.user, title=form.cleaned_data["title"], caller=caller
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request)
    messages.success(
        request, _("Ticket %(number)s created for this call.") % {"number": ticket.number}
    )
    return redirect(ticket.get_absolute_url())


@agent_required
@require_POST
def call_ticket_link(request, pk):
    call = _call(pk)
    form = CallTicketLinkForm(request.POST)
    ticket = None
    number = ticket_selectors.ticket_number_normalized(
        form.cleaned_data["number"] if form.is_valid() else ""
    )
    if number:
        # The exact, indexed number (an iexact match scanned every ticket).
        ticket = ticket_selectors.ticket_queryset_for(request.user).filter(number=number).first()
    if ticket is None:
        messages.error(request, _("There is no ticket with this number."))
        return _back(request)
    console_services.call_ticket_link(call=call, by=request.user, ticket=ticket)
    messages.success(request, _("The call was added to %(number)s.") % {"number": ticket.number})
    return _back(request)


@agent_required
@require_POST
def call_caller_set(request, pk):
    call = _call(pk)
    form = CallerChoiceForm(request.POST)
    person = (
        selectors.call_caller_choosable(call, form.cleaned_data["person"])
        if form.is_valid()
        else None
    )
    if person is None:
        raise Http404
    console_services.call_caller_set(call=call, by=request.user, person=person)
    return _back(request)


@agent_required
@require_GET
def call_candidates(request, pk):
    """Search among the people who have the call's number (more than the card lists)."""
    call = _call(pk)
    query = request.GET.get("q", "")[:200]
    people = selectors.call_candidates_search(call, query)
    return render(
        request,
        "cti/call_candidates.html",
        {"call": call, "query": query, "people": people, "shown": selectors.CANDIDATES_SHOWN},
    )


@agent_required
@require_POST
def call_end(request, pk):
    """End a call whose hang-up never came (the card's button on a stale call)."""
    call = _call(pk)
    try:
        console_services.call_end_by_agent(call=call, by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return _back(request)


@agent_required
@require_POST
def call_person_create(request, pk):
    call = _call(pk)
    form = PersonCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the caller's name."))
        return _back(request)
    try:
        person = console_services.call_person_create(
            call=call, by=request.user, **form.cleaned_data
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request)
    messages.success(request, _("%(name)s was added to the directory.") % {"name": person})
    return _back(request)


@agent_required
@require_POST
def call_number_attach(request, pk):
    """Attach the caller's number to a person named by e-mail or full name."""
    call = _call(pk)
    form = NumberAttachForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the person's name or e-mail."))
        return _back(request)
    people = selectors.person_for_attach(form.cleaned_data["person"])
    if len(people) != 1:
        if people:
            names = ", ".join(
                f"{person.full_name} ({person.email or person.department or person.pk})"
                for person in people[: selectors.ATTACH_SHOWN]
            )
            messages.error(
                request,
                _("Several people match: %(names)s. Give the e-mail address.") % {"names": names},
            )
        else:
            messages.error(request, _("Nobody in the directory has this name or e-mail."))
        return _back(request)
    try:
        console_services.call_number_attach(call=call, by=request.user, person=people[0])
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request)
    messages.success(request, _("The number was added to %(name)s.") % {"name": people[0]})
    return _back(request)


@agent_required
@require_GET
def call_card(request, pk):
    """The card of one call as HTML (the console reloads a card with it)."""
    card = notify.load_card(pk)
    if card is None:
        raise Http404
    return HttpResponse(notify.render_card(card, language=request.LANGUAGE_CODE))


@agent_required
@require_GET
def recent_calls(request):
    """The agent's last ended calls (the console's "Recent calls" list, a partial that
    console.js loads with each page and after each call ends)."""
    return render(
        request,
        "cti/partials/_recent_calls.html",
        {
            "calls": selectors.recent_calls_for_agent(request.user),
            "missed_outcomes": selectors.MISSED_OUTCOMES,
            "today": timezone.localdate(),
        },
    )


# --- the supervisors' wallboard ----------------------------------------------------------


def supervisor_required(view):
    """Signed in and a supervisor (``cti.wallboard.can_supervise_calls``); others get 403."""

    @login_required
    def wrapper(request, *args, **kwargs):
        if not wallboard.can_supervise_calls(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@supervisor_required
@require_GET
def wallboard_page(request):
    """The live wallboard: the page is a frame, its figures come over ws/wallboard/."""
    return render(
        request,
        "cti/wallboard.html",
        {
            "settable": [
                (state, AgentPresence.State(state).label) for state in services.SUPERVISOR_SETTABLE
            ],
            "answer_seconds": settings.SLA_CALL_ANSWER_SECONDS,
        },
    )


@supervisor_required
@require_POST
def wallboard_presence_set(request, user_id):
    """A supervisor sets an agent's presence (``state``, and ``version``: the presence's
    version the wallboard showed). JSON: 200 with the presence, 400 for an unknown state,
    409 when the agent is on a call or the presence changed since; 404 for no such agent."""
    agent = get_object_or_404(get_user_model(), pk=user_id, is_active=True)
    if not can_work_tickets(agent):
        raise Http404
    version = request.POST.get("version", "")
    try:
        presence = services.presence_set_by_supervisor(
            agent=agent,
            state=request.POST.get("state", ""),
            by=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except ValidationError as error:
        return JsonResponse({"error": _error_text(error)}, status=400)
    except ConflictError as conflict:
        return JsonResponse(
            {"error": conflict.message, "version": conflict.current_version}, status=409
        )
    return JsonResponse({"user_id": agent.pk, "state": presence.state, "version": presence.version})


# --- benchmark baseline -----------------------------------------------------------------


@machine_endpoint
@csrf_exempt
@require_POST
def bench_echo(request, user_id):
    """An empty message through the channel layer to one console, with no database work.

    Routed only with ``CTI_BENCH_ENDPOINTS`` on (cti/urls.py): ``bench/cti_screen_pop.py``
    measures its round trip as the baseline of the screen pop.
    """
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(
        notify.agent_group(user_id), {"type": "cti.echo", "seq": request.GET.get("seq", "")}
    )
    return JsonResponse({})
