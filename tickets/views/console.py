"""The agent console: queues, the ticket page with its actions, tickets taken by phone."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from helpdesk.models import PhoneNumber
from helpdesk.roles import can_work_tickets
from helpdesk.selectors import people_by_phone, person_list, person_text_search
from tickets import display, selectors, services, transitions
from tickets.forms import (
    ClassificationForm,
    CommentForm,
    ConsoleTicketForm,
    add_service_errors,
)
from tickets.models import Attachment, Channel
from tickets.views.common import (
    agent_required,
    staff_required,
    ticket_or_404,
    transition_submit,
)

# The queue and its tools (saved views, bulk actions) are in tickets.views.queue.


def _actions(ticket, user, forms):
    """The buttons of the ticket page: only the transitions the user may take now."""
    actions = []
    for name in services.available_transitions(ticket, user):
        declared = transitions.REGISTRY[name]
        if not declared.offered_to(ticket, user):
            continue
        form = forms.get(name) or declared.make_form(
            initial={"version": ticket.version}, ticket=ticket
        )
        actions.append(
            {
                "name": name,
                "label": declared.label,
                "style": declared.style,
                "form": form,
                "one_click": declared.one_click,
                "open": name in forms,
            }
        )
    return actions


def _render_detail(request, ticket, *, status=200, conflict=False, forms=None):
    user = request.user
    forms = forms or {}
    open_tickets, recent = selectors.caller_tickets(ticket.caller_id, exclude_id=ticket.pk)
    caller = ticket.caller  # joined with its site by ticket_get_for
    prefetch_related_objects(
        [caller], Prefetch("phone_numbers", queryset=PhoneNumber.objects.all())
    )
    timeline = selectors.timeline_for(user, ticket).prefetch_related(
        Prefetch("comment__attachments", queryset=Attachment.objects.order_by("id"))
    )
    worker = can_work_tickets(user)
    # The time left before the due time, as the queue rows show it (the SLA app's preparer).
    display.prepare_queue_rows([ticket], user)
    context = {
        "ticket": ticket,
        "caller": caller,
        "caller_open_tickets": open_tickets,
        "caller_recent_tickets": recent,
        "timeline": timeline,
        "attachments": selectors.attachments_for(user, ticket).order_by("id"),
        "actions": _actions(ticket, user, forms) if worker else [],
        "can_work": worker,
        "edit_form": forms.get("edit")
        or ClassificationForm(initial=ClassificationForm.values_of(ticket)),
        "comment_form": forms.get("comment") or CommentForm(),
        "conflict": conflict,
        # "Your input is kept" only when there is some: a one-click action carries none.
        "conflict_kept_input": conflict and _has_input(forms),
    }
    return render(request, "tickets/console/detail.html", context, status=status)


def _has_input(forms) -> bool:
    """Whether a re-shown form carries something the user typed or chose (more than the
    version it was read at)."""
    return any(
        value not in ("", None)
        for form in forms.values()
        if form.is_bound
        for name, value in form.data.items()
        if name not in ("version", "csrfmiddlewaretoken")
    )


@staff_required
def console_detail(request, number):
    ticket = ticket_or_404(request.user, number)
    return _render_detail(request, ticket)


@agent_required
@require_POST
def console_action(request, number, action):
    """Take one transition; its form's fields are the service's keyword arguments."""
    declared = transitions.get(action)
    if declared is None:
        raise Http404
    ticket = ticket_or_404(request.user, number)
    submitted = transition_submit(request, ticket, declared)
    if submitted.conflict:
        return _render_detail(
            request, ticket, status=409, conflict=True, forms={action: submitted.form}
        )
    if submitted.refused:
        messages.error(request, submitted.refused.message)
        return redirect("tickets:console_detail", number=ticket.number)
    if submitted.taken:
        group = submitted.form.cleaned_data.get("group")
        messages.success(request, declared.done % {"group": group})
        return redirect("tickets:console_detail", number=ticket.number)
    return _render_detail(request, ticket, status=400, forms={action: submitted.form})


@agent_required
@require_POST
def console_edit(request, number):
    """Change the classification, refusing to overwrite someone else's newer change."""
    ticket = ticket_or_404(request.user, number)
    form = ClassificationForm(request.POST)
    if form.is_valid() and not form.changes():
        messages.info(request, _("Nothing was changed."))
        return redirect("tickets:console_detail", number=ticket.number)
    if form.is_valid():
        read_version = form.cleaned_data["version"]
        try:
            # Only what the user changed: a colleague's newer edit of other fields is kept.
            saved = services.ticket_update(
                ticket=ticket,
                by=request.user,
                expected_version=read_version,
                read=form.read_values(),
                **form.changes(),
            )
        except ConflictError as error:
            ticket.refresh_from_db()
            form = ClassificationForm.on_top_of(ticket, form, both_changed=error.fields)
            return _render_detail(request, ticket, status=409, conflict=True, forms={"edit": form})
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The classification was saved."))
            if saved.version > read_version + 1:
                messages.info(
                    request,
                    _("Someone else had changed this ticket meanwhile; their changes are kept."),
                )
            return redirect("tickets:console_detail", number=ticket.number)
    return _render_detail(request, ticket, status=400, forms={"edit": form})


@agent_required
@require_POST
def console_comment(request, number):
    ticket = ticket_or_404(request.user, number)
    form = CommentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.comment_add(
                ticket=ticket,
                by=request.user,
                body=form.cleaned_data["body"],
                is_internal=form.is_internal,
                channel=Channel.PORTAL,
                attachments=form.cleaned_data["attachments"],
            )
        except ValidationError as error:
            add_service_errors(form, error, aliases={"file": "attachments"})
        else:
            messages.success(
                request,
                _("The work note was added.") if form.is_internal else _("The reply was sent."),
            )
            return redirect("tickets:console_detail", number=ticket.number)
    return _render_detail(request, ticket, status=400, forms={"comment": form})


def _people_matching(text: str, limit: int = 10):
    text = text.strip()
    if len(text) < 2:
        return []
    people = person_list().filter(is_active=True)
    if not any(c.isalpha() for c in text):
        # A number: only the indexed phone lookup (OR-ed with name matching it scanned people).
        if sum(c.isdigit() for c in text) < 6:
            return []
        people = people_by_phone(text).filter(is_active=True)
    else:
        people = person_text_search(people, text)
    return list(people.order_by("full_name")[:limit])


@agent_required
def caller_search(request):
    """People matching a name, e-mail or phone number (an htmx fragment of the new ticket page)."""
    query = request.GET.get("caller_query", "")
    return render(
        request,
        "tickets/console/partials/_caller_results.html",
        {"people": _people_matching(query), "query": query},
    )


@agent_required
def console_create(request):
    """A ticket taken on behalf of a caller; optionally resolved at once (first contact).

    ``?caller=<person id>&title=...`` prefill the form: the telephony screen pop links here.
    """
    selected = None
    if request.method == "POST":
        form = ConsoleTicketForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            create = {
                "caller": data["caller"],
                "opened_by": request.user,
                "title": data["title"],
                "description": data["description"],
                "type": data["type"],
                "channel": data["channel"],
                "service": data["service"],
                "category": data["category"],
                "impact": data["impact"],
                "urgency": data["urgency"],
                "attachments": data["attachments"],
            }
            if data["first_contact"]:
                create.update(
                    create=services.ticket_create_solved_on_first_contact,
                    code=data["code"],
                    notes=data["notes"],
                )
            try:
                # A second submission of the same form (a double click) gets the same ticket.
                ticket = services.ticket_create_once(
                    user=request.user, key=data["submission_key"], **create
                ).ticket
            except ValidationError as error:
                add_service_errors(form, error, aliases={"file": "attachments"})
            except TransitionNotAllowedError as error:
                form.add_error(None, error.message)
            else:
                if data["first_contact"]:
                    message = _("Ticket %(number)s was registered and resolved.")
                else:
                    message = _("Ticket %(number)s was registered.")
                messages.success(request, message % {"number": ticket.number})
                return redirect("tickets:console_detail", number=ticket.number)
        selected = form.cleaned_data.get("caller") if hasattr(form, "cleaned_data") else None
    else:
        initial = {"channel": Channel.PHONE, "title": request.GET.get("title", "")[:200]}
        caller_id = request.GET.get("caller", "")
        if caller_id.isdigit():
            selected = person_list().filter(pk=caller_id, is_active=True).first()
            if selected:
                initial["caller"] = selected.pk
        form = ConsoleTicketForm(initial=initial)
    return render(
        request,
        "tickets/console/create.html",
        {"form": form, "selected_caller": selected},
    )
