"""The pages of change management: the list, a change's page with its actions, the board's
votes, the calendar, the calendar feed and the ticket page's "this is a request for change".

Views parse input, call a selector or a service, and render. What a user may not see is a
404 (``selectors.change_get_for``); what they may not do is refused by the service and shown
as a message or beside the field."""

from __future__ import annotations

import calendar as month_calendar
import logging
from datetime import date, datetime, time, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from changes import ical, selectors, services
from changes.forms import (
    AttachmentForm,
    ChangeCreateForm,
    ChangeEditForm,
    ChangeFilterForm,
    CommentForm,
    LinkForm,
    RiskForm,
    VoteForm,
    add_service_errors,
    transition_form,
)
from changes.models import (
    ApprovalRequest,
    CalendarFeedToken,
    Change,
    ChangeAttachment,
    ChangeRiskAnswer,
    ChangeTemplate,
    ChangeTimelineEntry,
    State,
    Vote,
)
from changes.transitions import REGISTRY as TRANSITIONS
from helpdesk.errors import (
    ConflictError,
    TransitionNotAllowedError,
    ValidationError,
)
from helpdesk.models import Person, Service, Site
from helpdesk.roles import can_work_tickets, is_staff_member
from helpdesk.selectors import people_by_email
from tickets import selectors as ticket_selectors
from tickets.models import Ticket
from tickets.uploads import upload_limits

logger = logging.getLogger(__name__)

PAGE_SIZE = 25

# What a calendar program gets: recent and coming work (a feed is read every few hours).
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=365)


def worker_required(view):
    """Writes of the change team: agents, engineers, managers, administrators."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_work_tickets(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _back(request, change: Change):
    """Back to where the form was (the board, the detail), never to another site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("changes:detail", number=change.number)


# --- list ------------------------------------------------------------------------------------


@login_required
@require_GET
def change_list(request):
    form = ChangeFilterForm(request.GET)
    changes = selectors.change_queryset_for(request.user).prefetch_related("services")
    sort, order = form.sort()
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            changes = changes.filter(Q(number__iexact=q) | Q(title__icontains=q))
        for name in ("state", "type", "risk"):
            if data[name]:
                changes = changes.filter(**{name: data[name]})
        if data["service"]:
            changes = changes.filter(services=data["service"])
    page = Paginator(changes.order_by(*order), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filters = query.copy()
    filters.pop("sort", None)
    return render(
        request,
        "changes/list.html",
        {
            "form": form,
            "page": page,
            "changes": page.object_list,
            "sort": sort,
            "query": query.urlencode(),
            "filter_query": filters.urlencode(),
            "templates": ChangeTemplate.objects.filter(is_active=True),
            "section": "list",
        },
    )


# --- create ----------------------------------------------------------------------------------


@login_required
def change_create(request):
    worker = can_work_tickets(request.user)
    template = None
    template_id = request.POST.get("template") or request.GET.get("template")
    if template_id:
        if not str(template_id).isdigit():
            raise Http404
        template = ChangeTemplate.objects.filter(is_active=True, pk=template_id).first()
        if template is None:
            raise Http404
    if request.method == "POST":
        form = ChangeCreateForm(request.POST, worker=worker)
        if form.is_valid():
            requester = _requester(request, form)
            if requester is not None:
                try:
                    change = services.change_create(
                        requester=requester, by=request.user, **form.service_fields()
                    )
                except ValidationError as error:
                    add_service_errors(form, error)
                except PermissionDenied as error:
                    form.add_error(None, str(error))
                else:
                    messages.success(
                        request,
                        _("The change %(number)s was created as a draft.")
                        % {"number": change.number},
                    )
                    return redirect("changes:detail", number=change.number)
        status = 400
    else:
        initial = {}
        if template is not None:
            initial = {
                "template": template.pk,
                "title": template.name,
                "description": template.description,
                "services": [s.pk for s in template.services.all()],
                "category": template.category_id,
                "implementation_plan": template.implementation_plan,
                "backout_plan": template.backout_plan,
                "test_plan": template.test_plan,
            }
            if worker:
                initial["assigned_group"] = template.assigned_group_id
        form = ChangeCreateForm(initial=initial, worker=worker)
        status = 200
    return render(
        request,
        "changes/create.html",
        {"form": form, "template": template, "section": "create"},
        status=status,
    )


def _requester(request, form) -> Person | None:
    """The requester: the staff member's choice by e-mail address, otherwise the user."""
    address = form.cleaned_data.get("requester_email")
    if address:
        people = people_by_email(address)
        if len(people) != 1:
            form.add_error("requester_email", _("Nobody in the directory has this address."))
            return None
        return people[0]
    person = getattr(request.user, "person", None)
    if person is None:
        form.add_error(None, _("Your account has no entry in the directory; ask the service desk."))
    return person


# --- a change's page -------------------------------------------------------------------------


def _change_for_page(user, number: str) -> Change:
    change = selectors.change_get_for(user, number)
    return (
        Change.objects.select_related(
            "requester", "created_by", "assigned_group", "implementer", "template", "category"
        )
        .prefetch_related(
            "services",
            "sites",
            "tickets",
            "related_changes",
            Prefetch(
                "attachments", queryset=ChangeAttachment.objects.select_related("uploaded_by")
            ),
            Prefetch(
                "risk_answers",
                queryset=ChangeRiskAnswer.objects.select_related("question", "answer").order_by(
                    "question__order", "question_id"
                ),
            ),
            Prefetch(
                "approvals",
                queryset=ApprovalRequest.objects.prefetch_related(
                    "approvers",
                    Prefetch("votes", queryset=Vote.objects.select_related("voter")),
                ).order_by("order", "id"),
            ),
        )
        .get(pk=change.pk)
    )


def may_edit(change: Change, user) -> bool:
    """Whether the edit form is offered (the service decides again on saving)."""
    if can_work_tickets(user):
        return change.state in services.WORKER_EDITABLE_STATES
    return change.is_requester(user) and change.state in services.REQUESTER_EDITABLE_STATES


def _steps(change: Change, user) -> list[dict]:
    """Each approval step with its tally, votes and whether the user may vote on it now."""
    steps = []
    for request in change.approvals.all():
        approvers = list(request.approvers.all())
        approver_ids = {a.pk for a in approvers}
        votes = list(request.votes.all())
        counted = [v for v in votes if v.voter_id in approver_ids]
        approvals = sum(1 for v in counted if v.decision == Vote.Decision.APPROVE)
        voted = {v.voter_id for v in votes}
        steps.append(
            {
                "request": request,
                "votes": votes,
                "approvals": approvals,
                "rejections": len(counted) - approvals,
                "required": request.required_approvals(len(approvers)),
                "waiting_for": [a for a in approvers if a.pk not in voted],
                "my_turn": request.state == ApprovalRequest.State.OPEN and user.pk in approver_ids,
                "my_vote": next((v for v in votes if v.voter_id == user.pk), None),
            }
        )
    return steps


def _actions(change: Change, user, forms: dict) -> list[dict]:
    """The buttons: the transitions this user may take now (system ones never)."""
    actions = []
    for name in services.available_transitions(change, user):
        declared = TRANSITIONS[name]
        if declared.system:
            continue
        form = forms.get(name) or transition_form(
            name, initial={"version": change.version}, change=change
        )
        actions.append(
            {
                "name": name,
                "label": declared.label,
                "style": declared.style,
                "one_click": declared.one_click,
                "form": form,
                "open": name in forms,
            }
        )
    return actions


def _current_values(change: Change, form: ChangeEditForm) -> list[tuple[str, str]]:
    """After a conflict: the fields whose stored value differs from the user's input, with
    the stored value (to compare before saving again)."""
    if not form.is_valid():
        return []
    stored = ChangeEditForm.values_of(change)
    shown = []
    for name, field in form.fields.items():
        if name == "version" or name not in form.cleaned_data:
            continue
        mine = form.cleaned_data[name]
        theirs = stored.get(name)
        if hasattr(mine, "all") or isinstance(mine, list | tuple):
            same = {getattr(o, "pk", o) for o in mine} == set(theirs or [])
            text = ", ".join(str(o) for o in getattr(change, name).all()) or "—"
        else:
            same = getattr(mine, "pk", mine) == theirs or (
                mine in ("", None) and theirs in ("", None)
            )
            value = getattr(change, name)
            if hasattr(change, f"get_{name}_display"):
                value = getattr(change, f"get_{name}_display")()
            elif isinstance(value, datetime):
                value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            text = str(value) if value not in (None, "") else "—"
        if not same:
            shown.append((field.label, text))
    return shown


def _render_detail(request, change: Change, *, status=200, forms=None, conflict=False):
    user = request.user
    forms = forms or {}
    change = _change_for_page(user, change.number)
    staff = is_staff_member(user)
    editable = may_edit(change, user)
    edit_form = forms.get("edit")
    if edit_form is None and editable:
        edit_form = ChangeEditForm(
            initial=ChangeEditForm.values_of(change), worker=can_work_tickets(user)
        )
    timeline = (
        ChangeTimelineEntry.objects.filter(change=change)
        .select_related("actor", "comment", "approval")
        .order_by("created_at", "id")
    )
    context = {
        "change": change,
        "staff": staff,
        "worker": can_work_tickets(user),
        "conflicts": selectors.change_conflicts(change) if staff else None,
        "steps": _steps(change, user),
        "actions": _actions(change, user, forms),
        "edit_form": edit_form if editable else None,
        "edit_open": "edit" in forms,
        "current_values": _current_values(change, edit_form) if conflict and edit_form else [],
        "comment_form": forms.get("comment") or CommentForm(),
        "vote_form": forms.get("vote") or VoteForm(),
        "link_form": forms.get("link") or LinkForm(),
        "attachment_form": forms.get("attachment") or AttachmentForm(),
        "upload_limits": upload_limits(),
        "timeline": timeline,
        "conflict": conflict,
        "section": "list",
    }
    return render(request, "changes/detail.html", context, status=status)


@login_required
@require_GET
def change_detail(request, number):
    change = selectors.change_get_for(request.user, number)
    return _render_detail(request, change)


@login_required
@require_POST
def change_edit(request, number):
    """Save the edit form; a version that moved on is a 409 with the form kept and the
    current values shown beside it."""
    change = selectors.change_get_for(request.user, number)
    if not may_edit(change, request.user):
        raise PermissionDenied
    form = ChangeEditForm(request.POST, worker=can_work_tickets(request.user))
    if form.is_valid():
        try:
            services.change_update(
                change=change,
                by=request.user,
                expected_version=form.cleaned_data["version"],
                **form.service_fields(),
            )
        except ConflictError:
            change.refresh_from_db()
            data = request.POST.copy()
            data["version"] = change.version
            kept = ChangeEditForm(data, worker=can_work_tickets(request.user))
            return _render_detail(request, change, status=409, forms={"edit": kept}, conflict=True)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The change was saved."))
            return redirect("changes:detail", number=change.number)
    return _render_detail(request, change, status=400, forms={"edit": form})


@login_required
@require_POST
def change_action(request, number, name):
    """Take one transition through its service; the form's fields are its keywords."""
    declared = TRANSITIONS.get(name)
    if declared is None or declared.system:
        raise Http404
    change = selectors.change_get_for(request.user, number)
    form = transition_form(name, request.POST, change=change)
    if not form.is_valid():
        return _render_detail(request, change, status=400, forms={name: form})
    kwargs = {k: v for k, v in form.cleaned_data.items() if k != "version"}
    try:
        services.transition_take(
            change=change,
            by=request.user,
            name=name,
            expected_version=form.cleaned_data["version"],
            **kwargs,
        )
    except ConflictError:
        change.refresh_from_db()
        data = request.POST.copy()
        data["version"] = change.version
        kept = transition_form(name, data, change=change)
        kept.is_valid()
        return _render_detail(request, change, status=409, forms={name: kept}, conflict=True)
    except TransitionNotAllowedError as error:
        messages.error(request, error.message)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do this."))
    except ValidationError as error:
        add_service_errors(form, error)
        return _render_detail(request, change, status=400, forms={name: form})
    else:
        messages.success(request, declared.done)
    return redirect("changes:detail", number=change.number)


@login_required
@require_POST
def change_comment(request, number):
    change = selectors.change_get_for(request.user, number)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.change_comment_add(
                change=change, by=request.user, body=form.cleaned_data["body"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The comment was added."))
            return redirect("changes:detail", number=change.number)
    return _render_detail(request, change, status=400, forms={"comment": form})


def _link_target(user, number: str):
    """The ticket or change a link form names (what the user may see), or None."""
    if number.startswith("CHG-"):
        return selectors.change_queryset_for(user).filter(number=number).first()
    try:
        return ticket_selectors.ticket_get_for(user, number=number)
    except Ticket.DoesNotExist:
        return None


def _link_write(request, number: str, *, remove: bool):
    change = selectors.change_get_for(request.user, number)
    if not can_work_tickets(request.user):
        raise PermissionDenied
    form = LinkForm(request.POST)
    target = _link_target(request.user, form.data.get("number", "").strip().upper())
    if form.is_valid() and target is None:
        form.add_error("number", _("There is no ticket or change with this number."))
    if not form.is_valid():
        return _render_detail(request, change, status=400, forms={"link": form})
    try:
        if isinstance(target, Change):
            write = services.change_unlink_change if remove else services.change_link_change
            write(change=change, other=target, by=request.user)
        else:
            write = services.change_unlink_ticket if remove else services.change_link_ticket
            write(change=change, ticket=target, by=request.user)
    except ValidationError as error:
        add_service_errors(form, error)
        return _render_detail(request, change, status=400, forms={"link": form})
    if remove:
        messages.success(request, _("%(number)s is no longer linked.") % {"number": target.number})
    else:
        messages.success(request, _("%(number)s is linked.") % {"number": target.number})
    return redirect("changes:detail", number=change.number)


@login_required
@require_POST
def change_link(request, number):
    """Link a ticket (an incident the change caused, the request behind it) or a change."""
    return _link_write(request, number, remove=False)


@login_required
@require_POST
def change_unlink(request, number):
    return _link_write(request, number, remove=True)


@login_required
@require_POST
def change_attachment_upload(request, number):
    """Add a file to the change (anyone who may see it); refusals beside the field."""
    change = selectors.change_get_for(request.user, number)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.change_attachment_add(
                change=change, by=request.user, upload=form.cleaned_data["file"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The file was added."))
            return redirect("changes:detail", number=change.number)
    return _render_detail(request, change, status=400, forms={"attachment": form})


@login_required
@require_GET
def change_attachment(request, number, pk):
    """A file of a change, to those who may see the change (a 404 otherwise), always as a
    download."""
    attachment = selectors.change_attachment_get_for(request.user, number, pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        logger.error("Change attachment %s: stored file %s is missing", pk, attachment.file)
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


@login_required
@require_POST
def change_vote(request, number):
    """Approve or reject from the change's page or the board; every refusal (segregation of
    duties, a vote that is over, a rejection without a reason) is a message."""
    change = selectors.change_get_for(request.user, number)
    form = VoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Approve or reject."))
        return _back(request, change)
    decision = form.cleaned_data["decision"]
    try:
        services.vote_cast(
            change=change, by=request.user, decision=decision, comment=form.cleaned_data["comment"]
        )
    except (PermissionDenied, ConflictError) as error:
        messages.error(
            request, str(error.args[0]) if error.args else _("You may not vote on this change.")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        change.refresh_from_db()
        text = (
            _("You approved %(number)s.")
            if decision == Vote.Decision.APPROVE
            else _("You rejected %(number)s.")
        ) % {"number": change.number}
        if change.state in (State.APPROVED, State.REJECTED):
            text += " " + _("The change is now %(state)s.") % {"state": change.get_state_display()}
        messages.success(request, text)
    return _back(request, change)


@worker_required
def change_risk(request, number):
    """The risk questionnaire: every active question answered sets the score and level."""
    change = selectors.change_get_for(request.user, number)
    if request.method == "POST":
        form = RiskForm(request.POST, change=change)
        if form.is_valid():
            try:
                services.change_risk_assess(
                    change=change,
                    by=request.user,
                    answers=form.answers(),
                    expected_version=form.cleaned_data["version"],
                )
            except ConflictError as error:
                form.add_error(None, str(error.args[0]))
                change.refresh_from_db()
                return render(
                    request,
                    "changes/risk.html",
                    {"change": change, "form": _rebound(form, change), "section": "list"},
                    status=409,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("The risk was assessed."))
                return redirect("changes:detail", number=change.number)
        status = 400
    else:
        form = RiskForm(initial={"version": change.version}, change=change)
        status = 200
    return render(
        request,
        "changes/risk.html",
        {"change": change, "form": form, "section": "list"},
        status=status,
    )


def _rebound(form: RiskForm, change: Change) -> RiskForm:
    data = form.data.copy()
    data["version"] = change.version
    kept = RiskForm(data, change=change)
    kept.is_valid()
    kept.add_error(None, _("This change was changed by someone else. Check it, then save again."))
    return kept


# --- the board -------------------------------------------------------------------------------


@login_required
@require_GET
def board(request):
    """What waits for my vote, with what a decision needs at a glance, and my past votes."""
    user = request.user
    # conflicts_for_changes reads each change's services and sites: prefetched, not per row.
    awaiting = list(
        selectors.changes_awaiting_vote(user)
        .select_related("requester", "implementer")
        .prefetch_related("services", "sites")
    )
    conflicts = selectors.conflicts_for_changes(awaiting)
    for change in awaiting:
        change.conflicts = conflicts[change.pk]
    return render(
        request,
        "changes/board.html",
        {
            "awaiting": awaiting,
            "past_votes": selectors.votes_of(user),
            "vote_form": VoteForm(),
            "section": "board",
        },
    )


# --- the calendar ----------------------------------------------------------------------------


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
@require_GET
def calendar_view(request):
    """Month or week grid of the changes the user may see, freezes shown, conflicts marked."""
    today = timezone.localdate()
    view = "week" if request.GET.get("view") == "week" else "month"
    try:
        anchor = (
            date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else today
        )
    except ValueError:
        anchor = today
    if view == "month":
        first = anchor.replace(day=1)
        grid_start = first - timedelta(days=first.weekday())
        last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
        grid_end = last + timedelta(days=6 - last.weekday())
        previous = (first - timedelta(days=1)).replace(day=1)
        following = last + timedelta(days=1)
    else:
        grid_start = anchor - timedelta(days=anchor.weekday())
        grid_end = grid_start + timedelta(days=6)
        first = grid_start
        previous = grid_start - timedelta(days=7)
        following = grid_start + timedelta(days=7)
    start, end = _local_midnight(grid_start), _local_midnight(grid_end + timedelta(days=1))

    service_id = request.GET.get("service", "")
    site_id = request.GET.get("site", "")
    state = request.GET.get("state", "")
    changes = selectors.calendar_changes(request.user, start=start, end=end)
    if service_id.isdigit():
        changes = changes.filter(services=service_id)
    if site_id.isdigit():
        changes = changes.filter(sites=site_id)
    if state in State.values:
        changes = changes.filter(state=state)
    changes = list(changes.distinct())
    staff = is_staff_member(request.user)
    conflicts = selectors.conflicts_for_changes(changes) if staff else {}
    for change in changes:
        change.conflicts = conflicts.get(change.pk)
    freezes = selectors.freezes_between(start=start, end=end)

    days = []
    day = grid_start
    while day <= grid_end:
        day_start, day_end = _local_midnight(day), _local_midnight(day + timedelta(days=1))
        days.append(
            {
                "date": day,
                "in_month": view == "week" or day.month == first.month,
                "today": day == today,
                "changes": [
                    c for c in changes if c.planned_start < day_end and c.planned_end > day_start
                ],
                "freezes": [f for f in freezes if f.start < day_end and f.end > day_start],
            }
        )
        day += timedelta(days=1)
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    filters = request.GET.copy()
    for name in ("date", "view"):
        filters.pop(name, None)
    return render(
        request,
        "changes/calendar.html",
        {
            "view": view,
            "weeks": weeks,
            "weekdays": [d["date"] for d in weeks[0]],
            "first": first,
            "grid_start": grid_start,
            "grid_end": grid_end,
            "previous": previous,
            "following": following,
            "today": today,
            "freezes": freezes,
            "changes_count": len(changes),
            "conflicted": sum(1 for c in changes if c.conflicts),
            "services": Service.objects.filter(is_active=True).order_by("name"),
            "sites": Site.objects.order_by("name"),
            "states": State.choices,
            "selected": {"service": service_id, "site": site_id, "state": state},
            "filter_query": filters.urlencode(),
            "staff": staff,
            "section": "calendar",
        },
    )


# --- calendar feeds --------------------------------------------------------------------------


@login_required
def feed_tokens(request):
    """The user's calendar feeds: make one (its address is shown this once), revoke one."""
    new_url = None
    if request.method == "POST":
        _token, key = services.calendar_feed_token_create(user=request.user)
        new_url = request.build_absolute_uri(reverse("changes:calendar_feed", args=[key]))
    tokens = CalendarFeedToken.objects.filter(user=request.user).order_by("-created_at", "-id")
    response = render(
        request,
        "changes/feed_tokens.html",
        {"tokens": tokens, "new_url": new_url, "section": "feed"},
    )
    # The secret is in the page: no cache keeps it.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def feed_token_revoke(request, token_id: int):
    token = CalendarFeedToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404
    services.calendar_feed_token_revoke(token=token, by=request.user)
    messages.success(request, _("The feed was revoked; calendars using it get nothing more."))
    return redirect("changes:feed_tokens")


@require_GET
def calendar_feed(request, key: str):
    """The iCalendar feed of the changes the token's owner may see. Calendar programs keep no
    session: the secret in the URL is the authentication; an unknown or revoked one is a 404."""
    token = services.calendar_feed_authenticate(key)
    if token is None:
        raise Http404("feed")
    now = timezone.now()
    changes = selectors.calendar_changes(token.user, start=now - FEED_PAST, end=now + FEED_FUTURE)
    response = HttpResponse(
        ical.changes_to_ical(changes, name=_("Changes")),
        content_type="text/calendar; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- from the ticket page ----------------------------------------------------------------------


@worker_required
@require_POST
def change_from_ticket(request, ticket_number):
    """ "This is a request for change": a draft from the ticket, which then waits for it."""
    try:
        ticket = ticket_selectors.ticket_get_for(request.user, number=ticket_number)
    except Ticket.DoesNotExist:
        raise Http404 from None
    try:
        change = services.change_from_ticket(ticket=ticket, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("tickets:console_detail", number=ticket.number)
    messages.success(
        request,
        _("The change %(number)s was drafted from this ticket; the ticket waits for it.")
        % {"number": change.number},
    )
    return redirect("changes:detail", number=change.number)
