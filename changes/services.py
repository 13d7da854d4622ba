"""Every write to changes goes through these functions.

As in :mod:`tickets.services`: keyword-only, each owns its transaction, writes the change's
timeline; errors are those of :mod:`helpdesk.errors`. Optimistic locking is the tickets'
mechanism: callers send back the ``version`` they read as ``expected_version``; the service
re-reads the row locked (``SELECT ... FOR UPDATE``), refuses a moved-on version with
``ConflictError`` and saves with the version incremented. Votes do not bump the version (a
vote never makes an open edit stale) but lock the change row, so the last two votes of a
step arriving at once complete it once.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from changes.models import (
    WITHDRAWABLE_STATES,
    ApprovalRequest,
    ApprovalRule,
    CalendarFeedToken,
    Change,
    ChangeAttachment,
    ChangeComment,
    ChangeCounter,
    ChangeRiskAnswer,
    ChangeTemplate,
    ChangeTimelineEntry,
    ChangeType,
    CloseCode,
    RiskAnswer,
    RiskLevel,
    RiskQuestion,
    RiskThreshold,
    State,
    Vote,
)
from changes.transitions import REGISTRY as TRANSITIONS
from helpdesk.errors import (
    ConflictError,
    PermissionDenied,
    TransitionNotAllowedError,
    ValidationError,
)
from helpdesk.models import Person
from helpdesk.roles import Role, can_work_tickets
from helpdesk.selectors import people_by_email
from tickets import services as ticket_services
from tickets.models import PendingReason, Ticket
from tickets.models import Status as TicketStatus

logger = logging.getLogger("changes")

Kind = ChangeTimelineEntry.Kind

# Fields edited directly; the state, the close code and the review change by transitions.
EDITABLE_FIELDS = (
    "title",
    "description",
    "justification",
    "category",
    "impact",
    "estimated_cost",
    "budget_line",
    "planned_start",
    "planned_end",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "assigned_group",
    "implementer",
)
EDITABLE_RELATIONS = ("services", "sites")
# A requester without the right to work changes edits their own change while it is a draft.
REQUESTER_EDITABLE_STATES = (State.DRAFT,)
# Staff edit until the work starts.
WORKER_EDITABLE_STATES = tuple(WITHDRAWABLE_STATES)


# --- small helpers ---------------------------------------------------------------------------


def _next_number() -> str:
    # UPDATE ... SET value = value + 1 takes the row lock: concurrent creates never share a
    # number (the tickets' TicketCounter pattern).
    counters = ChangeCounter.objects.filter(prefix="CHG")
    if not counters.update(value=F("value") + 1):
        ChangeCounter.objects.get_or_create(prefix="CHG")
        counters.update(value=F("value") + 1)
    return f"CHG-{counters.values_list('value', flat=True).get():06d}"


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, models.Model):
        with translation.override(settings.LANGUAGE_CODE):
            return str(value)[:250]
    return str(value)[:250]


def _timeline(change: Change, actor, kind: str, **fields) -> ChangeTimelineEntry:
    return ChangeTimelineEntry.objects.create(change=change, actor=actor, kind=kind, **fields)


def _check_version(change: Change, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != change.version:
        raise ConflictError(
            _("This change was changed by someone else. Reload it to see the changes."),
            current_version=change.version,
        )


def _save(change: Change, update_fields: Iterable[str]) -> None:
    change.version += 1
    change.updated_at = timezone.now()
    change.save(update_fields=[*update_fields, "version", "updated_at"])


def _lock(change: Change) -> Change:
    """The change as stored, locked until the end of the transaction."""
    return Change.objects.select_for_update(of=("self",)).get(pk=change.pk)


def _require_worker(by, message: str) -> None:
    if by is None or not can_work_tickets(by):
        raise PermissionDenied(message)


def _user_person(user) -> Person | None:
    return getattr(user, "person", None) if user is not None and user.is_authenticated else None


def _check_window(start, end) -> None:
    errors = {}
    for field, value in (("planned_start", start), ("planned_end", end)):
        if value is not None and timezone.is_naive(value):
            errors[field] = _("Give the time with its time zone.")
    if errors:
        raise ValidationError(errors)
    # In UTC: Python compares two datetimes of the same zone on the wall clock, so across
    # the autumn DST switch 02:30 (summer time) would wrongly come after 02:00 (winter time).
    if start is not None and end is not None and start.astimezone(UTC) >= end.astimezone(UTC):
        raise ValidationError({"planned_end": _("The planned end must be after the start.")})


def _check_freezes(change: Change, start, end) -> None:
    """Work is not booked into a freeze period; an emergency change passes the freezes that
    allow emergencies (the issue: "freeze periods an admin defines, with exceptions for
    emergency changes")."""
    from changes.selectors import freezes_in_window

    freezes = freezes_in_window(
        start=start,
        end=end,
        service_ids=change.services.values_list("pk", flat=True),
        site_ids=change.sites.values_list("pk", flat=True),
        emergency=change.type == ChangeType.EMERGENCY,
    )
    if freezes:
        raise ValidationError(
            {
                "planned_start": _(
                    "The window falls into the freeze period “%(freeze)s” (%(start)s – "
                    "%(end)s); only emergency changes it allows may be booked then."
                )
                % {
                    "freeze": freezes[0].name,
                    "start": date_format(timezone.localtime(freezes[0].start), "SHORT_DATE_FORMAT"),
                    "end": date_format(timezone.localtime(freezes[0].end), "SHORT_DATE_FORMAT"),
                }
            }
        )


# --- create / update ------------------------------------------------------------------------


@transaction.atomic
def change_create(
    *,
    requester: Person,
    by,
    title: str,
    type: str = ChangeType.NORMAL,
    template: ChangeTemplate | None = None,
    services: Iterable = (),
    sites: Iterable = (),
    **fields: Any,
) -> Change:
    """A draft change. Staff create changes for anyone; anyone else only for themselves.
    A standard change comes from an active template, which fills the plans, services,
    category, risk and group the caller did not give."""
    if by is None:
        raise PermissionDenied(_("Sign in to request a change."))
    if not can_work_tickets(by):
        person = _user_person(by)
        if person is None or person.pk != requester.pk:
            raise PermissionDenied(_("You may request changes only for yourself."))
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the change a title.")})
    if type not in ChangeType.values:
        raise ValidationError({"type": _("Choose the type of change.")})
    if template is not None:
        if not template.is_active:
            raise ValidationError({"template": _("This template is no longer in use.")})
        type = ChangeType.STANDARD
        for name in ("implementation_plan", "backout_plan", "test_plan", "category"):
            if not fields.get(name):
                fields[name] = getattr(template, name)
        if not fields.get("assigned_group") and template.assigned_group_id:
            fields["assigned_group"] = template.assigned_group
        fields.setdefault("description", template.description)
        services = list(services) or list(template.services.all())
    elif type == ChangeType.STANDARD:
        raise ValidationError({"template": _("A standard change comes from a template.")})
    _check_window(fields.get("planned_start"), fields.get("planned_end"))
    if fields.get("implementer") is not None and not can_work_tickets(fields["implementer"]):
        raise ValidationError({"implementer": _("Changes are implemented by the IT staff.")})
    change = Change.objects.create(
        number=_next_number(),
        title=title[:200],
        requester=requester,
        created_by=by,
        type=type,
        template=template,
        risk=template.risk if template is not None else RiskLevel.LOW,
        **fields,
    )
    change.services.set(services)
    change.sites.set(sites)
    _timeline(change, by, Kind.CREATED, field="state", new_value=change.state)
    return change


@transaction.atomic
def change_update(
    *, change: Change, by, expected_version: int | None = None, **fields: Any
) -> Change:
    """Edit the change's fields (and its services and sites); each change is a timeline
    line. Staff edit until the work starts, the requester their own draft."""
    change = _lock(change)
    _check_version(change, expected_version)
    if can_work_tickets(by):
        if change.state not in WORKER_EDITABLE_STATES:
            raise ValidationError(_("A change that has started can no longer be edited."))
    elif change.is_requester(by):
        if change.state not in REQUESTER_EDITABLE_STATES:
            raise PermissionDenied(_("Your change was submitted: ask the change team to edit it."))
    else:
        raise PermissionDenied(_("You may not edit this change."))
    unknown = set(fields) - set(EDITABLE_FIELDS) - set(EDITABLE_RELATIONS)
    if unknown:
        raise ValidationError({name: _("This field cannot be edited.") for name in unknown})
    if "title" in fields and not (fields["title"] or "").strip():
        raise ValidationError({"title": _("Give the change a title.")})
    new_start = fields.get("planned_start", change.planned_start)
    new_end = fields.get("planned_end", change.planned_end)
    _check_window(new_start, new_end)
    moved = (new_start, new_end) != (change.planned_start, change.planned_end)
    if change.state == State.SCHEDULED and moved and new_start and new_end:
        # A booked window moved later is booked again: the freezes apply as to scheduling.
        _check_freezes(change, new_start, new_end)
    if fields.get("implementer") is not None:
        if not can_work_tickets(fields["implementer"]):
            raise ValidationError({"implementer": _("Changes are implemented by the IT staff.")})
        _check_implementer(change, fields["implementer"])
    changed = []
    for name, value in fields.items():
        if name in EDITABLE_RELATIONS:
            continue
        old = getattr(change, name)
        if isinstance(old, Decimal) or name == "estimated_cost":
            value = None if value in (None, "") else Decimal(value)
        if old == value:
            continue
        setattr(change, name, value)
        changed.append(name)
        _timeline(
            change,
            by,
            Kind.FIELD_CHANGE,
            field=name,
            old_value=_display(old),
            new_value=_display(value),
        )
    for name in EDITABLE_RELATIONS:
        if name not in fields:
            continue
        manager = getattr(change, name)
        old_rows = list(manager.all())
        new_rows = list(fields[name])
        if {row.pk for row in old_rows} == {row.pk for row in new_rows}:
            continue
        manager.set(new_rows)
        _timeline(
            change,
            by,
            Kind.FIELD_CHANGE,
            field=name,
            old_value=", ".join(_display(row) for row in old_rows)[:250],
            new_value=", ".join(_display(row) for row in new_rows)[:250],
        )
    if changed or any(name in fields for name in EDITABLE_RELATIONS):
        _save(change, changed)
    if "implementer" in changed:
        _drop_conflicted_approvers(change)
        change.refresh_from_db()
    return change


# --- risk ---------------------------------------------------------------------------------


def risk_level_for(score: int) -> str:
    """The level the thresholds give ``score`` (low below every threshold)."""
    level = RiskLevel.LOW
    for threshold in RiskThreshold.objects.order_by("min_score"):
        if score >= threshold.min_score:
            level = threshold.level
    return level


@transaction.atomic
def change_risk_assess(
    *, change: Change, by, answers: dict[int, int], expected_version: int | None = None
) -> Change:
    """Record the answers to the risk questionnaire (question id -> answer id), every active
    question answered; the points add up to the score, the thresholds give the level."""
    _require_worker(by, _("Only the change team assesses risk."))
    change = _lock(change)
    _check_version(change, expected_version)
    if change.state not in WORKER_EDITABLE_STATES:
        raise ValidationError(_("A change that has started can no longer be assessed."))
    questions = {q.pk: q for q in RiskQuestion.objects.filter(is_active=True)}
    answers = {int(q): int(a) for q, a in answers.items()}
    missing = set(questions) - set(answers)
    if missing or set(answers) - set(questions):
        raise ValidationError({"answers": _("Answer every question of the assessment.")})
    chosen = {a.pk: a for a in RiskAnswer.objects.filter(pk__in=answers.values())}
    for question_id, answer_id in answers.items():
        answer = chosen.get(answer_id)
        if answer is None or answer.question_id != question_id:
            raise ValidationError({"answers": _("An answer does not belong to its question.")})
    change.risk_answers.all().delete()
    ChangeRiskAnswer.objects.bulk_create(
        ChangeRiskAnswer(change=change, question_id=q, answer_id=a) for q, a in answers.items()
    )
    score = sum(chosen[a].points for a in answers.values())
    old_risk, old_score = change.risk, change.risk_score
    change.risk, change.risk_score = risk_level_for(score), score
    _save(change, ["risk", "risk_score"])
    _timeline(
        change,
        by,
        Kind.FIELD_CHANGE,
        field="risk",
        old_value=old_risk,
        new_value=change.risk,
        note=_("Risk score %(old)s → %(new)s") % {"old": old_score or 0, "new": score},
    )
    return change


# --- transitions ----------------------------------------------------------------------------


def available_transitions(change: Change, user) -> list[str]:
    """Names of the transitions ``user`` may take on ``change`` now, in the registry's order.
    ``user`` None is the system: only the conditions apply (``approve``, ``reject``)."""
    if user is None:
        possible = change.get_available_state_transitions()
    else:
        possible = change.get_available_user_state_transitions(user)
    names = {t.name for t in possible}
    return [name for name in TRANSITIONS if name in names]


def transition_not_allowed(change: Change, by, name: str) -> TransitionNotAllowedError:
    return TransitionNotAllowedError(
        _("“%(transition)s” is not possible for this change in state “%(state)s”.")
        % {"transition": name, "state": change.get_state_display()},
        transition=name,
        state=change.state,
        allowed=available_transitions(change, by),
    )


def _transition(
    change: Change,
    *,
    by,
    name: str,
    expected_version: int | None,
    kwargs: dict | None = None,
    note: str = "",
    extra_fields: Iterable[str] = (),
    locked: bool = False,
) -> Change:
    if not locked:
        change = _lock(change)
    _check_version(change, expected_version)
    if name not in available_transitions(change, by):
        raise transition_not_allowed(change, by, name)
    fields = list(dict.fromkeys(["state", *extra_fields]))
    old_values = {field: getattr(change, field) for field in fields}
    getattr(change, name)(**(kwargs or {}))
    _save(change, fields)
    _timeline(
        change,
        by,
        Kind.TRANSITION,
        field="state",
        transition=name,
        old_value=old_values["state"],
        new_value=change.state,
        note=note,
    )
    for field in fields[1:]:
        old, new = old_values[field], getattr(change, field)
        if old != new and not field.endswith("_at"):
            _timeline(
                change,
                by,
                Kind.FIELD_CHANGE,
                field=field,
                old_value=_display(old),
                new_value=_display(new),
            )
    return change


@transaction.atomic
def change_submit(*, change: Change, by, expected_version: int | None = None) -> Change:
    """Hand a draft to the change team."""
    return _transition(
        change,
        by=by,
        name="submit",
        expected_version=expected_version,
        extra_fields=["submitted_at"],
    )


@transaction.atomic
def change_assess(*, change: Change, by, expected_version: int | None = None) -> Change:
    """Start assessing a submitted normal or emergency change."""
    return _transition(change, by=by, name="assess", expected_version=expected_version)


def approval_rule_for(change: Change) -> ApprovalRule | None:
    """The active rule for the change's type and risk; one for its exact risk wins over one
    for any risk."""
    return (
        ApprovalRule.objects.filter(
            is_active=True, change_type=change.type, risk__in=[change.risk, ""]
        )
        .order_by("-risk")
        .first()
    )


def _excluded_approver_ids(change: Change) -> set[int]:
    """Segregation of duties: who requested the change or will implement it."""
    excluded = set()
    requester_user = change.requester.user_id if change.requester_id else None
    if requester_user:
        excluded.add(requester_user)
    if change.implementer_id:
        excluded.add(change.implementer_id)
    return excluded


def resolve_approvers(step, change: Change) -> set[int]:
    """The ids of the active users who approve ``step`` for ``change``, without those the
    segregation of duties excludes."""
    User = get_user_model()
    ids: set[int] = set()
    users = User.objects.filter(is_active=True)
    if step.change_board:
        ids |= set(users.filter(groups__name=Role.CHANGE_BOARD.value).values_list("pk", flat=True))
    group_ids = list(step.groups.values_list("pk", flat=True))
    if group_ids:
        ids |= set(users.filter(groups__in=group_ids).values_list("pk", flat=True))
    if step.service_owners:
        ids |= set(
            users.filter(support_groups__services__in=change.services.all()).values_list(
                "pk", flat=True
            )
        )
    ids |= set(step.users.filter(is_active=True).values_list("pk", flat=True))
    return ids - _excluded_approver_ids(change)


def _instantiate_approvals(change: Change, by) -> None:
    rule = approval_rule_for(change)
    if rule is None:
        raise ValidationError(
            {
                "type": _(
                    "No approval rule applies to a %(type)s change of %(risk)s risk; "
                    "ask an administrator to define one."
                )
                % {"type": change.get_type_display(), "risk": change.get_risk_display()}
            }
        )
    steps = [step for step in rule.steps.order_by("order", "id") if step.applies_to(change)]
    if not steps:
        raise ValidationError(
            {
                "type": _("The approval rule “%(rule)s” has no step for this change.")
                % {"rule": rule.name}
            }
        )
    change.approvals.filter(
        state__in=[ApprovalRequest.State.WAITING, ApprovalRequest.State.OPEN]
    ).update(state=ApprovalRequest.State.CANCELLED, completed_at=timezone.now())
    now = timezone.now()
    first = None
    for index, step in enumerate(steps):
        approvers = resolve_approvers(step, change)
        required = step.required_approvals(len(approvers))
        if not approvers or required > len(approvers):
            raise ValidationError(
                {
                    "approvers": _(
                        "The approval step “%(step)s” needs %(required)s approvals but has "
                        "%(count)s possible approvers."
                    )
                    % {"step": step.name, "required": max(required, 1), "count": len(approvers)}
                }
            )
        request = ApprovalRequest.objects.create(
            change=change,
            step=step,
            name=step.name,
            order=step.order,
            quorum=step.quorum,
            quorum_value=step.quorum_value,
            state=ApprovalRequest.State.OPEN if index == 0 else ApprovalRequest.State.WAITING,
            opened_at=now if index == 0 else None,
        )
        request.approvers.set(approvers)
        first = first or request
    _announce_approval_request(first)
    _timeline(
        change,
        by,
        Kind.APPROVAL_STEP,
        field="approval",
        new_value="open",
        note=first.name,
        approval=first,
    )


@transaction.atomic
def change_request_approval(*, change: Change, by, expected_version: int | None = None) -> Change:
    """Send the change to the approvers of the rule for its type and risk: one approval
    request per applicable step, the first open for votes, the others waiting their turn."""
    change = _transition(change, by=by, name="request_approval", expected_version=expected_version)
    _instantiate_approvals(change, by)
    return change


@transaction.atomic
def change_approve(
    *, change: Change, by=None, expected_version: int | None = None, note: str = ""
) -> Change:
    """Approve the change: the system does it when its last approval step is approved."""
    change = _transition(
        change,
        by=by,
        name="approve",
        expected_version=expected_version,
        note=note,
        extra_fields=["approved_at"],
    )
    _announce_decision(change, note=note)
    return change


@transaction.atomic
def change_reject(
    *, change: Change, by=None, expected_version: int | None = None, note: str = ""
) -> Change:
    """Reject the change: the system does it when a step can no longer be approved."""
    change = _transition(
        change,
        by=by,
        name="reject",
        expected_version=expected_version,
        note=note,
        extra_fields=["closed_at"],
    )
    _release_waiting_tickets(change)
    _announce_decision(change, note=note)
    return change


@transaction.atomic
def change_schedule(
    *,
    change: Change,
    by,
    planned_start=None,
    planned_end=None,
    expected_version: int | None = None,
) -> Change:
    """Book the window (the planned one when none is given): an approved change, or a
    standard change straight from submission."""
    start = planned_start or change.planned_start
    end = planned_end or change.planned_end
    if start is None or end is None:
        raise ValidationError({"planned_start": _("Give the planned start and end of the work.")})
    _check_window(start, end)
    _check_freezes(change, start, end)
    return _transition(
        change,
        by=by,
        name="schedule",
        expected_version=expected_version,
        kwargs={"planned_start": start, "planned_end": end},
        extra_fields=["planned_start", "planned_end"],
    )


@transaction.atomic
def change_implement(*, change: Change, by, expected_version: int | None = None) -> Change:
    """Start the work (the one starting it becomes the implementer when there is none)."""
    stored = _lock(change)
    _check_implementer(stored, stored.implementer or by)
    return _transition(
        change,
        by=by,
        name="implement",
        expected_version=expected_version,
        kwargs={"by": by},
        extra_fields=["implementer", "started_at"],
    )


@transaction.atomic
def change_finish(*, change: Change, by, code: str, expected_version: int | None = None) -> Change:
    """The work is over; its outcome is recorded and the review follows."""
    if code not in CloseCode.values:
        raise ValidationError({"code": _("Choose how the implementation went.")})
    return _transition(
        change,
        by=by,
        name="finish",
        expected_version=expected_version,
        kwargs={"code": code},
        extra_fields=["close_code", "finished_at"],
    )


@transaction.atomic
def change_close(
    *,
    change: Change,
    by,
    code: str = "",
    result: str = "",
    problems: str = "",
    expected_version: int | None = None,
) -> Change:
    """Close after the post-implementation review. The review result is mandatory for an
    emergency change; what went wrong is mandatory when it failed or was backed out."""
    stored = _lock(change)
    code = code or stored.close_code
    result = (result or stored.review_result or "").strip()
    problems = (problems or stored.review_problems or "").strip()
    errors = {}
    if code not in CloseCode.values:
        errors["code"] = _("Choose how the change ended.")
    if stored.type == ChangeType.EMERGENCY and not result:
        errors["result"] = _("An emergency change is closed only after its review.")
    if code in (CloseCode.FAILED, CloseCode.BACKED_OUT) and not problems:
        errors["problems"] = _("Say what went wrong.")
    if errors:
        raise ValidationError(errors)
    change = _transition(
        stored,
        by=by,
        name="close",
        expected_version=expected_version,
        kwargs={"code": code, "result": result, "problems": problems},
        extra_fields=["close_code", "review_result", "review_problems", "closed_at"],
        locked=True,
    )
    _release_waiting_tickets(change)
    return change


@transaction.atomic
def change_withdraw(
    *, change: Change, by, reason: str = "", expected_version: int | None = None
) -> Change:
    """Withdraw a change before its work starts; open votes are cancelled."""
    change = _transition(
        change,
        by=by,
        name="withdraw",
        expected_version=expected_version,
        note=reason or "",
        extra_fields=["closed_at"],
    )
    _cancel_pending_requests(change)
    _release_waiting_tickets(change)
    return change


def transition_take(*, change: Change, by, name: str, **kwargs) -> Change:
    """Take transition ``name`` through its service (pages and the API act by name)."""
    declared = TRANSITIONS.get(name)
    if declared is None or (declared.system and by is not None):
        raise transition_not_allowed(change, by, name)
    return declared.service_function(change=change, by=by, **kwargs)


# --- votes --------------------------------------------------------------------------------


def _cancel_pending_requests(change: Change) -> None:
    change.approvals.filter(
        state__in=[ApprovalRequest.State.WAITING, ApprovalRequest.State.OPEN]
    ).update(state=ApprovalRequest.State.CANCELLED, completed_at=timezone.now())


def _release_waiting_tickets(change: Change) -> None:
    """The change is over (closed, rejected, withdrawn): the linked tickets that wait for it
    (pending, reason "change", its number as the note) go back to work, as the system."""
    waiting = change.tickets.filter(
        status=TicketStatus.PENDING,
        pending_reason=PendingReason.CHANGE,
        pending_note=change.number,
    )
    for ticket in waiting:
        ticket_services.transition_take(ticket=ticket, by=None, name="resume")


def _drop_conflicted_approvers(change: Change) -> None:
    """Segregation of duties after an edit: whoever now implements the change leaves the
    approver sets of its steps still to decide."""
    excluded = _excluded_approver_ids(change)
    for request in change.approvals.filter(
        state__in=[ApprovalRequest.State.WAITING, ApprovalRequest.State.OPEN]
    ):
        request.approvers.remove(*excluded)
        if request.state == ApprovalRequest.State.OPEN:
            # One approver fewer may complete the step either way (the others all approved,
            # or too few are left to reach the quorum).
            _evaluate(request, change)


def _check_implementer(change: Change, user) -> None:
    """Segregation of duties the other way round: who approved the change does not
    implement it."""
    if (
        user is not None
        and Vote.objects.filter(
            request__change=change, voter=user, decision=Vote.Decision.APPROVE
        ).exists()
    ):
        raise ValidationError({"implementer": _("Who approved this change may not implement it.")})


def approval_tally(request: ApprovalRequest) -> tuple[int, int, int, int]:
    """(approvals, rejections, approvers, required) of a step, counting the votes of its
    current approvers only."""
    approver_ids = set(request.approvers.values_list("pk", flat=True))
    approvals = rejections = 0
    for voter_id, decision in request.votes.values_list("voter_id", "decision"):
        if voter_id not in approver_ids:
            continue
        if decision == Vote.Decision.APPROVE:
            approvals += 1
        else:
            rejections += 1
    count = len(approver_ids)
    return approvals, rejections, count, request.required_approvals(count)


def _evaluate(request: ApprovalRequest, change: Change) -> None:
    """Complete the step when its quorum is reached or can no longer be; then open the next
    step, or approve or reject the change (as the system, in this transaction)."""
    approvals, rejections, count, required = approval_tally(request)
    now = timezone.now()
    if approvals >= required:
        request.state, request.completed_at = ApprovalRequest.State.APPROVED, now
        request.save(update_fields=["state", "completed_at"])
        _timeline(
            change,
            None,
            Kind.APPROVAL_STEP,
            field="approval",
            new_value="approved",
            note=request.name,
            approval=request,
        )
        following = (
            change.approvals.filter(state=ApprovalRequest.State.WAITING)
            .order_by("order", "id")
            .first()
        )
        if following is None:
            change_approve(change=change, by=None)
        else:
            following.state, following.opened_at = ApprovalRequest.State.OPEN, now
            following.save(update_fields=["state", "opened_at"])
            _announce_approval_request(following)
            _timeline(
                change,
                None,
                Kind.APPROVAL_STEP,
                field="approval",
                new_value="open",
                note=following.name,
                approval=following,
            )
    elif count - rejections < required:
        request.state, request.completed_at = ApprovalRequest.State.REJECTED, now
        request.save(update_fields=["state", "completed_at"])
        _timeline(
            change,
            None,
            Kind.APPROVAL_STEP,
            field="approval",
            new_value="rejected",
            note=request.name,
            approval=request,
        )
        _cancel_pending_requests(change)
        change_reject(
            change=change,
            by=None,
            note=_("The step “%(step)s” can no longer reach its quorum.") % {"step": request.name},
        )


@transaction.atomic
def vote_cast(*, change: Change, by, decision: str, comment: str = "") -> Vote:
    """``by`` approves or rejects the change's open step (a rejection needs a reason).

    A vote may be changed while its step is open, never after. Nobody approves a change
    they requested or will implement. The change row is locked first, so the votes of one
    change are counted one after the other and a step completes once."""
    if by is None or not by.is_authenticated:
        raise PermissionDenied(_("Sign in to vote."))
    change = _lock(change)
    if by.pk in _excluded_approver_ids(change):
        raise PermissionDenied(
            _("You requested this change or will implement it, so you may not approve it.")
        )
    if decision not in Vote.Decision.values:
        raise ValidationError({"decision": _("Approve or reject.")})
    comment = (comment or "").strip()
    if decision == Vote.Decision.REJECT and not comment:
        raise ValidationError({"comment": _("Give the reason for the rejection.")})
    mine = change.approvals.filter(approvers=by)
    request = mine.filter(state=ApprovalRequest.State.OPEN).first()
    if request is None:
        if mine.filter(
            state__in=[
                ApprovalRequest.State.APPROVED,
                ApprovalRequest.State.REJECTED,
                ApprovalRequest.State.CANCELLED,
            ]
        ).exists():
            raise ConflictError(
                _("The vote on this change is over; votes can no longer change."),
                current_version=change.version,
            )
        if mine.filter(state=ApprovalRequest.State.WAITING).exists():
            raise ValidationError(
                {"decision": _("Your approval step is not open yet: an earlier one comes first.")}
            )
        raise PermissionDenied(_("You are not an approver of this change."))
    vote = Vote.objects.filter(request=request, voter=by).first()
    old = vote.decision if vote else ""
    now = timezone.now()
    if vote is None:
        vote = Vote.objects.create(
            request=request,
            voter=by,
            decision=decision,
            comment=comment,
            created_at=now,
            updated_at=now,
        )
    else:
        vote.decision, vote.comment, vote.updated_at = decision, comment, now
        vote.save(update_fields=["decision", "comment", "updated_at"])
    _timeline(
        change,
        by,
        Kind.VOTE,
        field="vote",
        old_value=old,
        new_value=decision,
        note=comment,
        approval=request,
    )
    _evaluate(request, change)
    return vote


# --- comments and links -------------------------------------------------------------------


def _may_read(change: Change, user) -> bool:
    from changes.selectors import change_queryset_for

    return change_queryset_for(user).filter(pk=change.pk).exists()


@transaction.atomic
def change_comment_add(*, change: Change, by, body: str) -> ChangeComment:
    """A comment on the change by anyone who may see it (requester, staff, approvers)."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write a comment.")})
    if by is None or not _may_read(change, by):
        raise PermissionDenied(_("You may not comment on this change."))
    comment = ChangeComment.objects.create(change=change, author=by, body=body)
    _timeline(change, by, Kind.COMMENT, comment=comment, note=body[:1000])
    return comment


@transaction.atomic
def change_link_ticket(*, change: Change, ticket: Ticket, by) -> None:
    """Link a ticket (the incident that asked for it, or one it caused)."""
    _require_worker(by, _("Only the change team links tickets."))
    if change.tickets.filter(pk=ticket.pk).exists():
        return
    change.tickets.add(ticket)
    _timeline(change, by, Kind.LINK, field="tickets", new_value=ticket.number)


@transaction.atomic
def change_unlink_ticket(*, change: Change, ticket: Ticket, by) -> None:
    """Remove a ticket linked by mistake; the timeline keeps that it was linked."""
    _require_worker(by, _("Only the change team links tickets."))
    if not change.tickets.filter(pk=ticket.pk).exists():
        return
    change.tickets.remove(ticket)
    _timeline(change, by, Kind.UNLINK, field="tickets", old_value=ticket.number)


@transaction.atomic
def change_link_change(*, change: Change, other: Change, by) -> None:
    """Link two changes (one backs out or depends on the other); both timelines say so."""
    _require_worker(by, _("Only the change team links changes."))
    if other.pk == change.pk:
        raise ValidationError({"change": _("A change cannot be linked to itself.")})
    if change.related_changes.filter(pk=other.pk).exists():
        return
    change.related_changes.add(other)  # symmetrical: both ways
    _timeline(change, by, Kind.LINK, field="related_changes", new_value=other.number)
    _timeline(other, by, Kind.LINK, field="related_changes", new_value=change.number)


@transaction.atomic
def change_unlink_change(*, change: Change, other: Change, by) -> None:
    """Remove the link between two changes, on both timelines."""
    _require_worker(by, _("Only the change team links changes."))
    if not change.related_changes.filter(pk=other.pk).exists():
        return
    change.related_changes.remove(other)
    _timeline(change, by, Kind.UNLINK, field="related_changes", old_value=other.number)
    _timeline(other, by, Kind.UNLINK, field="related_changes", old_value=change.number)


@transaction.atomic
def change_attachment_add(*, change: Change, by, upload) -> ChangeAttachment:
    """A file on the change, by anyone who may see it (requester, staff, approvers), checked
    as ticket attachments are (size, real type by content); a timeline line."""
    if by is None or not _may_read(change, by):
        raise PermissionDenied(_("You may not add files to this change."))
    content_type, sha256 = ticket_services.validate_upload(upload)
    original_name = (upload.name or "file").replace("/", "_").replace("\\", "_")[-200:]
    attachment = ChangeAttachment(
        change=change,
        original_name=original_name,
        content_type=content_type,
        size=upload.size,
        sha256=sha256,
        uploaded_by=by,
    )
    # The stored name's suffix comes from the detected type, never from the uploader.
    suffix = mimetypes.guess_extension(content_type, strict=False) or ""
    attachment.file.save(f"upload{suffix}", upload, save=False)
    attachment.save()
    _timeline(change, by, Kind.ATTACHMENT, field="attachments", new_value=original_name)
    return attachment


@transaction.atomic
def change_from_ticket(*, ticket: Ticket, by) -> Change:
    """A draft change from the ticket's text ("this is a request for change"), the ticket's
    caller as requester, linked both ways; the ticket waits for it (pending, reason
    "change", the change's number as the note). A new ticket is started first (taken by
    ``by``), since only a ticket in work can be put on hold; one pending already stays."""
    _require_worker(by, _("Only agents turn tickets into changes."))
    ticket = Ticket.objects.get(pk=ticket.pk)
    if not ticket.is_open:
        raise ValidationError({"ticket": _("A finished ticket cannot become a change.")})
    change = change_create(
        requester=ticket.caller,
        by=by,
        title=ticket.title,
        description=ticket.description,
        category=ticket.category,
        services=[ticket.service] if ticket.service_id else [],
    )
    change.tickets.add(ticket)
    _timeline(change, by, Kind.LINK, field="tickets", new_value=ticket.number)
    if ticket.status != TicketStatus.PENDING:
        if ticket.status == TicketStatus.NEW:
            ticket = ticket_services.transition_take(ticket=ticket, by=by, name="start")
        ticket_services.transition_take(
            ticket=ticket, by=by, name="pend", reason=PendingReason.CHANGE, note=change.number
        )
    return change


# --- calendar feed tokens -----------------------------------------------------------------


def _feed_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def calendar_feed_token_create(*, user) -> tuple[CalendarFeedToken, str]:
    """A new feed token for ``user``; returns it and the key (shown once, only its digest
    is stored)."""
    key = secrets.token_urlsafe(32)
    token = CalendarFeedToken.objects.create(
        user=user, prefix=key[:8], key_digest=_feed_digest(key)
    )
    return token, key


def calendar_feed_authenticate(key: str) -> CalendarFeedToken | None:
    """The unrevoked token with this key, its (active) user joined; else ``None``."""
    token = (
        CalendarFeedToken.objects.select_related("user")
        .filter(key_digest=_feed_digest(key or ""), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is not None:
        CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


@transaction.atomic
def calendar_feed_token_revoke(*, token: CalendarFeedToken, by) -> None:
    """Revoke a feed token; only its owner (or an administrator) may."""
    if token.user_id != by.pk and not by.is_superuser:
        raise PermissionDenied(_("You may revoke only your own calendar feeds."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


# --- hooks for other channels: approval requests and decisions (architecture point 12) ------


@dataclass(frozen=True)
class ApprovalRequested:
    """An approval step just opened: its approvers are to be asked (by mail, when ``mail``
    is installed)."""

    change_id: int
    number: str
    request_id: int
    approver_ids: tuple[int, ...]


@dataclass(frozen=True)
class ChangeDecided:
    """The change was approved or rejected: its requester is to be told, with the reasons."""

    change_id: int
    number: str
    state: str  # State.APPROVED or State.REJECTED
    note: str


ApprovalListener = Callable[[ApprovalRequested], None]
DecisionListener = Callable[[ChangeDecided], None]
_approval_listeners: list[ApprovalListener] = []
_decision_listeners: list[DecisionListener] = []


def subscribe_approval_requests(listener: ApprovalListener) -> None:
    """Call ``listener(ApprovalRequested)`` for each approval step that opens, after the
    commit of the write that opened it."""
    if listener not in _approval_listeners:
        _approval_listeners.append(listener)


def subscribe_decisions(listener: DecisionListener) -> None:
    """Call ``listener(ChangeDecided)`` when a change is approved or rejected, after the
    commit."""
    if listener not in _decision_listeners:
        _decision_listeners.append(listener)


def _deliver(listeners: list, event) -> None:
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:
            # The change stands: a channel that fails is logged, never undoes the vote.
            logger.exception("change listener %s failed for %s", listener, event)


def _announce_approval_request(request: ApprovalRequest) -> None:
    event = ApprovalRequested(
        change_id=request.change_id,
        number=request.change.number,
        request_id=request.pk,
        approver_ids=tuple(sorted(request.approvers.values_list("pk", flat=True))),
    )
    transaction.on_commit(lambda: _deliver(_approval_listeners, event))


def _announce_decision(change: Change, *, note: str = "") -> None:
    event = ChangeDecided(change_id=change.pk, number=change.number, state=change.state, note=note)
    transaction.on_commit(lambda: _deliver(_decision_listeners, event))


# --- votes by mail --------------------------------------------------------------------------

# "[CHG-000012 #34.0123456789abcdef]": the change, the approval request and a signature of
# (request, approver), so that only the approver the mail went to votes with it.
REPLY_TAG = re.compile(
    r"\[\s*(CHG-\d{1,12})(?:\s*#\s*(\d{1,12})\.([0-9a-fA-F]{16}))?\s*\]", re.IGNORECASE
)
_REPLY_SALT = "changes.approval-reply"
# The first word of a reply's first line; English always, Polish for the Polish mail.
VOTE_WORDS = {
    "approve": Vote.Decision.APPROVE,
    "approved": Vote.Decision.APPROVE,
    "zatwierdzam": Vote.Decision.APPROVE,
    "akceptuję": Vote.Decision.APPROVE,
    "reject": Vote.Decision.REJECT,
    "rejected": Vote.Decision.REJECT,
    "odrzucam": Vote.Decision.REJECT,
}


def _reply_signature(request_id: int, user_id: int) -> str:
    return salted_hmac(_REPLY_SALT, f"{request_id}:{user_id}").hexdigest()[:16]


def approval_reply_tag(*, number: str, request_id: int, user_id: int) -> str:
    """The subject tag of the approval mail to one approver, which their reply keeps."""
    return f"[{number} #{request_id}.{_reply_signature(request_id, user_id)}]"


@dataclass(frozen=True)
class MailVote:
    """What came of a reply to an approval mail: the vote taken, or why not."""

    accepted: bool
    reason: str = ""  # why it was refused, in the active language
    change: Change | None = None
    voter: Any = None  # the user whose vote it was (or would have been)
    decision: str = ""
    comment: str = ""


def parse_vote_text(text: str) -> tuple[str, str]:
    """(decision, comment) of a reply's text: the first non-empty line starts with
    "approve" or "reject" (anything after the word on that line, and the lines below, are
    the comment); ("", "") when it does not."""
    lines = (text or "").strip().splitlines()
    if not lines:
        return "", ""
    first = lines[0].strip()
    match = re.match(r"[\W_]*(\w+)[\s:;,.!\-–]*(.*)$", first)
    if match is None:
        return "", ""
    decision = VOTE_WORDS.get(match.group(1).lower(), "")
    if not decision:
        return "", ""
    comment = "\n".join([match.group(2), *lines[1:]]).strip()
    return decision, comment


def vote_by_mail(*, tag: str, sender: str, text: str) -> MailVote:
    """Vote as the approver who replied to an approval mail.

    ``tag`` is the subject tag of the mail answered (:data:`REPLY_TAG`), ``sender`` the
    reply's From address, ``text`` what the approver wrote (without the quoted mail). The
    sender must be a person whose user is the approver the tag was signed for; the vote
    then goes through :func:`vote_cast` (segregation of duties, the step's state, a
    rejection's reason). Never raises for a refusal: the result says why, for the answer."""
    match = REPLY_TAG.search(tag or "")
    if match is None:
        return MailVote(accepted=False, reason=_("This mail names no change."))
    number, request_id, signature = match.group(1).upper(), match.group(2), match.group(3)
    change = Change.objects.filter(number=number).first()
    if change is None:
        return MailVote(
            accepted=False, reason=_("There is no change %(number)s.") % {"number": number}
        )
    users = [
        person.user
        for person in people_by_email(sender, limit=10)
        if person.user_id is not None and person.user.is_active
    ]
    if sender.strip():
        # An approver without a person's address is mailed at their login's address.
        known = {user.pk for user in users}
        logins = get_user_model().objects.filter(email__iexact=sender.strip(), is_active=True)
        users += [user for user in logins if user.pk not in known]
    if not users:
        logger.warning("vote by mail on %s from unknown sender %s refused", number, sender)
        return MailVote(
            accepted=False,
            change=change,
            reason=_("Your address does not belong to an approver of this change."),
        )
    if request_id is None:
        return MailVote(
            accepted=False,
            change=change,
            voter=users[0],
            reason=_(
                "Reply to the approval mail you received for this change, keeping the "
                "reference in its subject."
            ),
        )
    request = ApprovalRequest.objects.filter(pk=int(request_id), change=change).first()
    voter = next(
        (
            user
            for user in users
            if request is not None
            and constant_time_compare(signature.lower(), _reply_signature(request.pk, user.pk))
        ),
        None,
    )
    if voter is None:
        logger.warning(
            "vote by mail on %s from %s refused: the reference was not sent to this address",
            number,
            sender,
        )
        return MailVote(
            accepted=False,
            change=change,
            voter=users[0],
            reason=_(
                "This reply does not answer an approval mail sent to you; only the "
                "approver it was sent to can vote with it."
            ),
        )
    decision, comment = parse_vote_text(text)
    if not decision:
        return MailVote(
            accepted=False,
            change=change,
            voter=voter,
            reason=_(
                "The first line of your reply must be “approve” or “reject”; the reason "
                "goes below it."
            ),
        )
    if request.state != ApprovalRequest.State.OPEN:
        reason = (
            _("Your approval step is not open yet: an earlier one comes first.")
            if request.state == ApprovalRequest.State.WAITING
            else _("The vote on this change is over; votes can no longer change.")
        )
        return MailVote(
            accepted=False, change=change, voter=voter, decision=decision, reason=reason
        )
    try:
        vote_cast(change=change, by=voter, decision=decision, comment=comment)
    except (ValidationError, PermissionDenied, ConflictError, TransitionNotAllowedError) as error:
        if isinstance(error, ValidationError):
            reason = " ".join(error.messages)
        else:
            reason = getattr(error, "message", "") or str(error)
        return MailVote(
            accepted=False,
            change=change,
            voter=voter,
            decision=decision,
            comment=comment,
            reason=reason,
        )
    change.refresh_from_db()
    return MailVote(accepted=True, change=change, voter=voter, decision=decision, comment=comment)
