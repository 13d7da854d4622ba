"""Every write to tickets goes through these functions.

Each owns its transaction, writes the timeline and announces the change as a
:class:`tickets.events.TicketEvent` on commit, so nothing is announced for a change that was
rolled back. Errors are those of :mod:`helpdesk.errors`: ``ValidationError`` naming the
field, ``PermissionDenied``, ``ConflictError`` (a stale version) and
``TransitionNotAllowedError``.

Optimistic locking, the one mechanism: every ticket has a ``version``. A page or an API
client sends back the version it read (``expected_version``); the service re-reads the row
locked for the rest of its transaction (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
transactions here begin IMMEDIATE, which serialises writers), refuses with
``ConflictError`` if the version moved on, and saves with the version incremented
(:func:`_save`). Internal callers that pass no version work on the row as stored.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import (
    ConflictError,
    PermissionDenied,
    TransitionNotAllowedError,
    ValidationError,
)
from helpdesk.models import Category, Person, Service, SupportGroup
from helpdesk.roles import can_work_tickets
from tickets import events
from tickets.models import (
    TICKET_NUMBER_PREFIX,
    Attachment,
    Channel,
    Comment,
    Impact,
    PendingReason,
    Priority,
    PriorityRule,
    ResolutionCode,
    Status,
    Ticket,
    TicketCounter,
    TicketType,
    TimelineEntry,
    Urgency,
)
from tickets.transitions import REGISTRY as TRANSITIONS
from tickets.uploads import detect_content_type

# The ITIL default matrix; administrators override cells with PriorityRule rows.
DEFAULT_PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1, (1, 2): 2, (1, 3): 2, (1, 4): 3,
    (2, 1): 2, (2, 2): 2, (2, 3): 3, (2, 4): 4,
    (3, 1): 2, (3, 2): 3, (3, 3): 4, (3, 4): 4,
    (4, 1): 3, (4, 2): 4, (4, 3): 4, (4, 4): 5,
}  # fmt: skip
PRIORITY_CACHE_KEY = "tickets:priority-matrix"
# Fields a transition changes that get their own old -> new line in the timeline (the
# milestone timestamps and notes are on the transition's own line).
TRANSITION_RECORDED_FIELDS = frozenset({"group", "assignee", "pending_reason", "resolution_code"})
# A ticket that went through one of these was not solved during the first contact.
FIRST_CONTACT_BREAKERS = ("escalate", "transfer", "reopen")

# Fields an agent may edit directly; status, group and assignee change through transitions.
EDITABLE_FIELDS = (
    "title",
    "description",
    "type",
    "service",
    "category",
    "impact",
    "urgency",
    "parent",
)


# --- priority ----------------------------------------------------------------------------


def priority_matrix() -> dict[tuple[int, int], int]:
    matrix = cache.get(PRIORITY_CACHE_KEY)
    if matrix is None:
        matrix = dict(DEFAULT_PRIORITY_MATRIX)
        for rule in PriorityRule.objects.all():
            matrix[(rule.impact, rule.urgency)] = rule.priority
        cache.set(PRIORITY_CACHE_KEY, matrix, 300)
    return matrix


def priority_for(*, impact: int, urgency: int) -> int:
    """Priority from impact x urgency through the configured matrix."""
    if impact not in Impact.values:
        raise ValidationError({"impact": _("Unknown impact.")})
    if urgency not in Urgency.values:
        raise ValidationError({"urgency": _("Unknown urgency.")})
    return priority_matrix().get((impact, urgency), Priority.P4)


@transaction.atomic
def priority_rule_set(*, impact: int, urgency: int, priority: int) -> PriorityRule:
    """Change one cell of the matrix (existing tickets keep their priority)."""
    errors = {}
    if impact not in Impact.values:
        errors["impact"] = _("Unknown impact.")
    if urgency not in Urgency.values:
        errors["urgency"] = _("Unknown urgency.")
    if priority not in Priority.values:
        errors["priority"] = _("Unknown priority.")
    if errors:
        raise ValidationError(errors)
    rule, _created = PriorityRule.objects.update_or_create(
        impact=impact, urgency=urgency, defaults={"priority": priority}
    )
    _priority_cache_clear()
    return rule


@transaction.atomic
def priority_rule_delete(*, impact: int, urgency: int) -> int:
    """Give one cell of the matrix back to the ITIL default; returns how many rows went."""
    deleted, _detail = PriorityRule.objects.filter(impact=impact, urgency=urgency).delete()
    _priority_cache_clear()
    return deleted


def _priority_cache_clear() -> None:
    # Now for this process, and again after commit: a reader between the two could have
    # cached the old rows.
    cache.delete(PRIORITY_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(PRIORITY_CACHE_KEY))


# --- numbering, defaults -------------------------------------------------------------------


def _next_number(ticket_type: str) -> str:
    # UPDATE ... SET value = value + 1 takes the row lock, so concurrent creates never share
    # a number on PostgreSQL; SQLite serialises writers anyway. The counter row exists after
    # the type's first ticket: two queries per ticket (the update, the value read back).
    counters = TicketCounter.objects.filter(type=ticket_type)
    if not counters.update(value=F("value") + 1):
        TicketCounter.objects.get_or_create(type=ticket_type)
        counters.update(value=F("value") + 1)
    value = counters.values_list("value", flat=True).get()
    return f"{TICKET_NUMBER_PREFIX[TicketType(ticket_type)]}-{value:06d}"


def default_group() -> SupportGroup | None:
    """The queue new tickets land in: the configured group, else the first first-line group."""
    code = settings.TICKET_DEFAULT_GROUP
    groups = SupportGroup.objects.filter(is_active=True)
    if code:
        group = groups.filter(code=code).first()
        if group:
            return group
    return groups.filter(tier=SupportGroup.Tier.FIRST).order_by("name").first()


def _display(value: Any) -> str:
    if value is None:
        return ""
    return str(value)[:250]


def _timeline(ticket: Ticket, actor, kind: str, **fields) -> TimelineEntry:
    return TimelineEntry.objects.create(ticket=ticket, actor=actor, kind=kind, **fields)


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != ticket.version:
        raise ConflictError(
            _("This ticket was changed by someone else. Reload it to see the changes."),
            current_version=ticket.version,
        )


def _save(ticket: Ticket, update_fields: Iterable[str]) -> None:
    """Save a ticket read by :func:`_lock` in this transaction, with the next version."""
    ticket.version += 1
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=[*update_fields, "version", "updated_at"])


def _lock(ticket: Ticket) -> Ticket:
    """The ticket as stored, locked until the end of the transaction."""
    # of=("self",): PostgreSQL refuses to lock the nullable side of the outer join to group.
    return Ticket.objects.select_for_update(of=("self",)).select_related("group").get(pk=ticket.pk)


def _stored(value: Any) -> Any:
    """A field value as events carry it: related rows by id, everything else as stored."""
    return getattr(value, "pk", value)


def _emit(kind: events.Kind, ticket: Ticket, by, **payload) -> None:
    events.emit_on_commit(
        events.TicketEvent(
            kind=kind,
            ticket_id=ticket.pk,
            actor_id=getattr(by, "pk", None),
            at=timezone.now(),
            **payload,
        )
    )


# --- create / update ----------------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    caller: Person,
    title: str,
    description: str = "",
    opened_by: AbstractBaseUser | None = None,
    channel: str = Channel.PORTAL,
    type: str = TicketType.INCIDENT,
    service: Service | None = None,
    category: Category | None = None,
    impact: int = Impact.SINGLE,
    urgency: int = Urgency.MEDIUM,
    group: SupportGroup | None = None,
    parent: Ticket | None = None,
    follow_up_of: Ticket | None = None,
    attachments: Iterable[UploadedFile] = (),
) -> Ticket:
    """Register a ticket: number it, prioritise it, queue it, record its creation.

    ``follow_up_of`` links a finished ticket this one continues (a late reply by mail)."""
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = _("A title is required.")
    if channel not in Channel.values:
        errors["channel"] = _("Unknown channel.")
    if type not in TicketType.values:
        errors["type"] = _("Unknown ticket type.")
    if errors:
        raise ValidationError(errors)
    ticket = Ticket(
        number=_next_number(type),
        type=type,
        title=title[:200],
        description=description or "",
        caller=caller,
        opened_by=opened_by,
        channel=channel,
        service=service,
        category=category,
        impact=impact,
        urgency=urgency,
        priority=priority_for(impact=impact, urgency=urgency),
        group=group or default_group(),
        parent=parent,
        follow_up_of=follow_up_of,
    )
    ticket.save()
    entry = _timeline(
        ticket, opened_by, TimelineEntry.Kind.CREATED, field="status", new_value=ticket.status
    )
    for upload in attachments:
        attachment_add(ticket=ticket, by=opened_by, upload=upload, _audit=False)
    _emit(
        events.Kind.CREATED,
        ticket,
        opened_by,
        changes=tuple(
            events.FieldChange(name, None, _stored(getattr(ticket, name)))
            for name in ("status", "type", "priority", "group", "caller", "service", "parent")
        ),
        timeline_ids=(entry.pk,),
        channel=ticket.channel,
    )
    return ticket


@transaction.atomic
def ticket_update(
    *,
    ticket: Ticket,
    by: AbstractBaseUser,
    expected_version: int | None,
    read: dict[str, Any] | None = None,
    **changes: Any,
) -> Ticket:
    """Edit classification and text fields, recording each change (old -> new).

    Pass only the fields the user changed. Raises :class:`ConflictError` when
    ``expected_version`` is not the stored version, unless ``read`` says what the user's copy
    held for each changed field (stored values: ids, choice keys, text): then the changes go
    on top of the newer version, so a colleague's edit of other fields is kept, and only a
    field someone else changed meanwhile (to another value) is a conflict, named in
    ``ConflictError.fields``.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: _("This field cannot be changed here.") for name in unknown})
    if not can_work_tickets(by):
        raise PermissionDenied(_("Only agents edit tickets."))
    ticket = _lock(ticket)
    if read is None or expected_version is None or int(expected_version) == ticket.version:
        _check_version(ticket, expected_version)
    else:
        _check_fields_unchanged_since_read(ticket, read, changes)
    changed = []
    for name, value in changes.items():
        old = getattr(ticket, name)
        if name == "title":
            value = (value or "").strip()[:200]
            if not value:
                raise ValidationError({"title": _("A title is required.")})
        if name == "parent" and value is not None and _is_ancestor_or_self(ticket, value):
            raise ValidationError({"parent": _("A ticket cannot be its own parent.")})
        if name == "type" and value not in TicketType.values:
            raise ValidationError({"type": _("Unknown ticket type.")})
        if old == value:
            continue
        setattr(ticket, name, value)
        changed.append((name, old, value))
    if not changed:
        return ticket
    names = [name for name, _old, _new in changed]
    if "impact" in names or "urgency" in names:
        new_priority = priority_for(impact=ticket.impact, urgency=ticket.urgency)
        if new_priority != ticket.priority:
            changed.append(("priority", ticket.priority, new_priority))
            ticket.priority = new_priority
    _save(ticket, [name for name, _old, _new in changed])
    entries = [
        _timeline(
            ticket,
            by,
            TimelineEntry.Kind.FIELD_CHANGE,
            field=name,
            old_value=_display_field(ticket, name, old),
            new_value=_display_field(ticket, name, new),
        )
        for name, old, new in changed
    ]
    _emit(
        events.Kind.UPDATED,
        ticket,
        by,
        changes=tuple(
            events.FieldChange(name, _stored(old), _stored(new)) for name, old, new in changed
        ),
        timeline_ids=tuple(entry.pk for entry in entries),
    )
    return ticket


def _as_read(value: Any) -> str:
    """A field value as a page holds it: the id of a related row, text for everything else."""
    value = _stored(value)
    return "" if value is None else str(value)


def _check_fields_unchanged_since_read(
    ticket: Ticket, read: dict[str, Any], changes: dict[str, Any]
) -> None:
    """Refuse changes to fields someone else changed since the caller read them."""
    both_changed = tuple(
        name
        for name, value in changes.items()
        if name not in read
        or (
            _as_read(getattr(ticket, name)) != _as_read(read[name])
            and _as_read(getattr(ticket, name)) != _as_read(value)
        )
    )
    if both_changed:
        raise ConflictError(
            _("Someone else changed the same fields of this ticket meanwhile."),
            current_version=ticket.version,
            fields=both_changed,
        )


def _is_ancestor_or_self(ticket: Ticket, candidate: Ticket) -> bool:
    """Whether making ``candidate`` the parent of ``ticket`` would close a loop."""
    seen = set()
    node_id = candidate.pk
    while node_id is not None and node_id not in seen:
        if node_id == ticket.pk:
            return True
        seen.add(node_id)
        node_id = Ticket.objects.filter(pk=node_id).values_list("parent_id", flat=True).first()
    return False


def _display_field(ticket: Ticket, name: str, value: Any) -> str:
    # Choice fields keep their stored value; TimelineEntry translates it when displayed.
    if name == "description":
        return _display(value)[:120]
    return _display(value)


# --- transitions ----------------------------------------------------------------------------


def available_transitions(ticket: Ticket, user) -> list[str]:
    """Names of the transitions ``user`` may take on ``ticket`` now (for buttons and the API):
    those of :data:`tickets.transitions.REGISTRY` whose model guard lets ``user`` take them,
    in the registry's order.
    ``user`` None is the system (periodic jobs, mail from a caller without a login): only
    the transitions' conditions apply."""
    if user is None:
        possible = ticket.get_available_status_transitions()
    else:
        possible = ticket.get_available_user_status_transitions(user)
    names = {t.name for t in possible}
    # In the registry's order: the order of the console's buttons, the work's usual course.
    return [name for name in TRANSITIONS if name in names]


def transition_not_allowed(ticket: Ticket, by, name: str) -> TransitionNotAllowedError:
    """The error that refuses transition ``name`` to ``by``, naming the ones open to them."""
    return TransitionNotAllowedError(
        _("“%(transition)s” is not possible for this ticket in state “%(state)s”.")
        % {"transition": name, "state": ticket.get_status_display()},
        transition=name,
        state=ticket.status,
        allowed=available_transitions(ticket, by),
    )


def _transition(
    ticket: Ticket,
    *,
    by,
    name: str,
    expected_version: int | None,
    kwargs: dict | None = None,
    note: str = "",
    kind: str = TimelineEntry.Kind.TRANSITION,
    extra_fields: Iterable[str] = (),
) -> Ticket:
    ticket = _lock(ticket)
    _check_version(ticket, expected_version)
    if name not in available_transitions(ticket, by):
        raise transition_not_allowed(ticket, by, name)
    # In the order given: the timeline lists the field changes in it.
    fields = list(dict.fromkeys(["status", *extra_fields, "first_response_at"]))
    old_values = {field: getattr(ticket, field) for field in fields}
    getattr(ticket, name)(**(kwargs or {}))
    if ticket.first_response_at is None and by is not None and can_work_tickets(by):
        ticket.first_response_at = timezone.now()
    _save(ticket, fields)
    entries = [
        _timeline(
            ticket,
            by,
            kind,
            field="status",
            transition=name,
            old_value=old_values["status"],
            new_value=ticket.status,
            note=note,
        )
    ]
    changes = [events.FieldChange("status", old_values["status"], ticket.status)]
    for field in fields[1:]:
        old, new = old_values[field], getattr(ticket, field)
        if old == new:
            continue
        changes.append(events.FieldChange(field, _stored(old), _stored(new)))
        if field in TRANSITION_RECORDED_FIELDS:
            entries.append(
                _timeline(
                    ticket,
                    by,
                    TimelineEntry.Kind.FIELD_CHANGE,
                    field=field,
                    old_value=_display(old),
                    new_value=_display(new),
                )
            )
    _emit(
        events.Kind.TRANSITIONED,
        ticket,
        by,
        transition=name,
        changes=tuple(changes),
        timeline_ids=tuple(entry.pk for entry in entries),
    )
    return ticket


def _require(value, field: str, message: str):
    if value in (None, ""):
        raise ValidationError({field: message})
    return value


@transaction.atomic
def ticket_assign(*, ticket: Ticket, by, assignee, expected_version: int | None = None) -> Ticket:
    """Give the ticket to ``assignee`` (an agent or engineer)."""
    _require(assignee, "assignee", _("Choose who gets the ticket."))
    if not can_work_tickets(assignee):
        raise ValidationError({"assignee": _("Tickets can only be assigned to agents.")})
    return _transition(
        ticket,
        by=by,
        name="assign",
        expected_version=expected_version,
        kwargs={"assignee": assignee},
        extra_fields=["assignee"],
    )


@transaction.atomic
def ticket_start(*, ticket: Ticket, by, expected_version: int | None = None) -> Ticket:
    """Start work (takes the ticket when nobody has it)."""
    return _transition(
        ticket,
        by=by,
        name="start",
        expected_version=expected_version,
        kwargs={"by": by},
        extra_fields=["assignee", "pending_reason", "pending_note"],
    )


@transaction.atomic
def ticket_pend(
    *, ticket: Ticket, by, reason: str, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Put work on hold, waiting for the user or a third party."""
    if reason not in PendingReason.values:
        raise ValidationError({"reason": _("Choose why the ticket is pending.")})
    return _transition(
        ticket,
        by=by,
        name="pend",
        expected_version=expected_version,
        kwargs={"reason": reason, "note": (note or "")[:250]},
        note=note or "",
        extra_fields=["pending_reason", "pending_note"],
    )


@transaction.atomic
def ticket_resume(*, ticket: Ticket, by, expected_version: int | None = None) -> Ticket:
    return _transition(
        ticket,
        by=by,
        name="resume",
        expected_version=expected_version,
        extra_fields=["pending_reason", "pending_note"],
    )


@transaction.atomic
def ticket_resolve(
    *,
    ticket: Ticket,
    by,
    code: str,
    notes: str,
    first_contact: bool = False,
    expected_version: int | None = None,
) -> Ticket:
    """Resolve with a resolution code and notes; the caller may still reopen for a while."""
    errors = {}
    if code not in ResolutionCode.values:
        errors["code"] = _("Choose a resolution code.")
    if not (notes or "").strip():
        errors["notes"] = _("Say how the ticket was resolved.")
    if errors:
        raise ValidationError(errors)
    if first_contact:
        # First-contact resolution means the first line solved it during the first contact.
        locked = Ticket.objects.select_related("group").get(pk=ticket.pk)
        if locked.group and locked.group.tier != SupportGroup.Tier.FIRST:
            raise ValidationError(
                {"first_contact": _("Only the first line resolves on first contact.")}
            )
        if locked.timeline.filter(transition__in=FIRST_CONTACT_BREAKERS).exists():
            raise ValidationError(
                {
                    "first_contact": _(
                        "This ticket was escalated, transferred or reopened: it was not "
                        "solved on first contact."
                    )
                }
            )
    return _transition(
        ticket,
        by=by,
        name="resolve",
        expected_version=expected_version,
        kwargs={"code": code, "notes": notes.strip(), "by": by, "first_contact": first_contact},
        note=notes.strip(),
        extra_fields=[
            "resolution_code",
            "resolution_notes",
            "resolved_at",
            "first_contact_resolution",
            "assignee",
            "pending_reason",
            "pending_note",
            "first_response_at",
        ],
    )


@transaction.atomic
def ticket_create_solved_on_first_contact(*, code: str, notes: str, **create: Any) -> Ticket:
    """A ticket an agent takes and solves during the same contact (the console's "Solved on
    first contact"): :func:`ticket_create` with ``create``, then :func:`ticket_resolve` as
    a first-contact resolution, in one transaction, so a refused resolution leaves no
    ticket behind."""
    ticket = ticket_create(**create)
    return ticket_resolve(
        ticket=ticket, by=create.get("opened_by"), code=code, notes=notes, first_contact=True
    )


@transaction.atomic
def ticket_close(*, ticket: Ticket, by, expected_version: int | None = None) -> Ticket:
    return _transition(
        ticket, by=by, name="close", expected_version=expected_version, extra_fields=["closed_at"]
    )


@transaction.atomic
def ticket_reopen(
    *, ticket: Ticket, by, reason: str = "", expected_version: int | None = None
) -> Ticket:
    """Reopen a resolved ticket within ``TICKET_REOPEN_DAYS``; the reason becomes a reply."""
    ticket = _transition(
        ticket,
        by=by,
        name="reopen",
        expected_version=expected_version,
        note=reason or "",
        extra_fields=["resolved_at", "resolution_code", "first_contact_resolution"],
    )
    if (reason or "").strip():
        comment_add(ticket=ticket, by=by, body=reason, is_internal=False)
    return ticket


@transaction.atomic
def ticket_cancel(
    *, ticket: Ticket, by, reason: str = "", expected_version: int | None = None
) -> Ticket:
    return _transition(
        ticket,
        by=by,
        name="cancel",
        expected_version=expected_version,
        note=reason or "",
        extra_fields=["closed_at"],
    )


@transaction.atomic
def ticket_transfer(
    *, ticket: Ticket, by, group: SupportGroup, reason: str, expected_version: int | None = None
) -> Ticket:
    """Move the ticket to another group's queue, unassigned, with the reason in the timeline."""
    _require(group, "group", _("Choose the group to transfer to."))
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why the ticket is transferred.")})
    if group.pk == ticket.group_id:
        raise ValidationError({"group": _("The ticket is already with this group.")})
    if not group.is_active:
        raise ValidationError({"group": _("This group no longer takes tickets.")})
    return _transition(
        ticket,
        by=by,
        name="transfer",
        expected_version=expected_version,
        kwargs={"group": group},
        note=reason.strip(),
        kind=TimelineEntry.Kind.TRANSFER,
        extra_fields=["group", "assignee", "pending_reason", "pending_note"],
    )


@transaction.atomic
def ticket_escalate(
    *,
    ticket: Ticket,
    by,
    group: SupportGroup,
    diagnostic_notes: str,
    expected_version: int | None = None,
) -> Ticket:
    """Escalate from the first line to a higher-tier group, carrying the diagnostics done.

    The notes become an internal work note so the engineer does not repeat the diagnostics.
    """
    _require(group, "group", _("Choose the second-line group."))
    if group.tier <= SupportGroup.Tier.FIRST:
        raise ValidationError({"group": _("Escalate to a second- or third-line group.")})
    if not group.is_active:
        raise ValidationError({"group": _("This group no longer takes tickets.")})
    if not (diagnostic_notes or "").strip():
        raise ValidationError({"diagnostic_notes": _("Describe the diagnostics already done.")})
    ticket = _transition(
        ticket,
        by=by,
        name="escalate",
        expected_version=expected_version,
        kwargs={"group": group},
        # The diagnostics are internal: they go into the work note below, not into this
        # entry, which the caller sees.
        kind=TimelineEntry.Kind.ESCALATION,
        extra_fields=["group", "assignee", "pending_reason", "pending_note"],
    )
    comment_add(ticket=ticket, by=by, body=diagnostic_notes, is_internal=True)
    return ticket


def transition_take(*, ticket: Ticket, by, name: str, **kwargs) -> Ticket:
    """Take the transition ``name`` through its service (pages and the API act by name)."""
    declared = TRANSITIONS.get(name)
    if declared is None:
        raise transition_not_allowed(ticket, by, name)
    return declared.service_function(ticket=ticket, by=by, **kwargs)


# --- comments and attachments ----------------------------------------------------------------


@transaction.atomic
def comment_add(
    *,
    ticket: Ticket,
    by,
    body: str,
    is_internal: bool = False,
    channel: str = Channel.PORTAL,
    author_person: Person | None = None,
    attachments: Iterable[UploadedFile] = (),
) -> Comment:
    """Add a public reply or an internal note (agents only), with optional attachments."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    worker = by is not None and can_work_tickets(by)
    # by None is the system (the mail channel noting a bounce): it may write internal notes.
    if is_internal and by is not None and not worker:
        raise PermissionDenied(_("Only agents write internal notes."))
    if by is not None and not (worker or ticket.is_caller(by)):
        raise PermissionDenied(_("Only agents and the caller comment on a ticket."))
    if author_person is None and by is not None:
        author_person = getattr(by, "person", None)
    comment = Comment.objects.create(
        ticket=ticket,
        author=by,
        author_person=author_person,
        body=body,
        is_internal=is_internal,
        channel=channel,
    )
    for upload in attachments:
        attachment_add(ticket=ticket, by=by, upload=upload, comment=comment, _audit=False)
    entry = _timeline(
        ticket,
        by,
        TimelineEntry.Kind.NOTE if is_internal else TimelineEntry.Kind.COMMENT,
        comment=comment,
        is_internal=is_internal,
    )
    now = timezone.now()
    # Touch updated_at without competing for the version: a reply never conflicts with an edit.
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    # Conditional in SQL: ``ticket`` may be a stale copy whose first response is unset.
    if (
        worker
        and not is_internal
        and Ticket.objects.filter(pk=ticket.pk, first_response_at__isnull=True).update(
            first_response_at=now
        )
    ):
        ticket.first_response_at = now
    _emit(
        events.Kind.COMMENTED,
        ticket,
        by,
        timeline_ids=(entry.pk,),
        comment_id=comment.pk,
        is_internal=is_internal,
        channel=channel,
    )
    return comment


@dataclass(frozen=True)
class CallerReply:
    comment: Comment
    resumed: bool  # the ticket was waiting for the caller and went back to work


@transaction.atomic
def ticket_reply_by_caller(
    *,
    ticket: Ticket,
    by,
    body: str,
    channel: str = Channel.PORTAL,
    author_person: Person | None = None,
    attachments: Iterable[UploadedFile] = (),
) -> CallerReply:
    """The caller answers on their ticket (portal, API, e-mail): a public reply, and a ticket
    that was waiting for them goes back to work, in one transaction.

    ``by`` is the caller's login, or None for a caller known only as ``author_person`` (a
    mail from a known address). A finished ticket (closed, cancelled) takes no more replies:
    ``ValidationError`` on ``body``; a resolved one does (the caller may still reopen it).
    """
    ticket = _lock(ticket)
    if by is not None and not ticket.is_caller(by):
        raise PermissionDenied(_("Only the caller replies as the caller."))
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        message = _("This ticket is finished; file a new one if you need help.")
        raise ValidationError({"body": ValidationError(message, code="ticket_finished")})
    comment = comment_add(
        ticket=ticket,
        by=by,
        body=body,
        is_internal=False,
        channel=channel,
        author_person=author_person,
        attachments=attachments,
    )
    waited_for_caller = (
        ticket.status == Status.PENDING and ticket.pending_reason == PendingReason.USER
    )
    if waited_for_caller:
        _transition(
            ticket,
            by=by,
            name="resume",
            expected_version=None,
            extra_fields=["pending_reason", "pending_note"],
        )
    return CallerReply(comment=comment, resumed=waited_for_caller)


def validate_upload(upload: UploadedFile) -> tuple[str, str]:
    """Check size and real type of an upload; return (content_type, sha256)."""
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            {
                "file": _("The file is too large (limit %(limit)s MB).")
                % {"limit": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)}
            }
        )
    if upload.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        digest.update(chunk)
    upload.seek(0)
    content_type = detect_content_type(head, upload.name or "")
    if content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        raise ValidationError(
            {"file": _("Files of this type are not accepted (%(type)s).") % {"type": content_type}}
        )
    return content_type, digest.hexdigest()


@transaction.atomic
def attachment_add(
    *,
    ticket: Ticket,
    by,
    upload: UploadedFile,
    comment: Comment | None = None,
    is_internal: bool = False,
    _audit: bool = True,
) -> Attachment:
    """Store an upload under a generated name after checking its size and real type."""
    worker = by is not None and can_work_tickets(by)
    if is_internal and by is not None and not worker:
        raise PermissionDenied(_("Only agents add internal attachments."))
    if by is not None and not (worker or ticket.is_caller(by)):
        raise PermissionDenied(_("Only agents and the caller add attachments."))
    content_type, sha256 = validate_upload(upload)
    original_name = (upload.name or "file").replace("/", "_").replace("\\", "_")[-200:]
    attachment = Attachment(
        ticket=ticket,
        comment=comment,
        original_name=original_name,
        content_type=content_type,
        size=upload.size,
        sha256=sha256,
        is_internal=is_internal or bool(comment and comment.is_internal),
        uploaded_by=by,
    )
    # The stored name's suffix comes from the detected type, never from the uploader.
    suffix = mimetypes.guess_extension(content_type, strict=False) or ""
    attachment.file.save(f"upload{suffix}", upload, save=False)
    attachment.save()
    if _audit:
        entry = _timeline(
            ticket,
            by,
            TimelineEntry.Kind.ATTACHMENT,
            new_value=original_name,
            is_internal=attachment.is_internal,
        )
        _emit(
            events.Kind.ATTACHED,
            ticket,
            by,
            timeline_ids=(entry.pk,),
            is_internal=attachment.is_internal,
        )
    return attachment


# --- periodic ---------------------------------------------------------------------------------


def close_resolved_tickets(*, older_than_days: int | None = None) -> int:
    """Close tickets resolved longer ago than the auto-close period; returns how many."""
    days = settings.TICKET_AUTO_CLOSE_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    closed = 0
    for ticket in Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=cutoff).only(
        "pk", "version"
    ):
        with transaction.atomic():
            locked = _lock(ticket)
            # Reopened, or reopened and resolved again, since the list was read.
            if locked.status != Status.RESOLVED or locked.resolved_at > cutoff:
                continue
            _transition(
                locked,
                by=None,
                name="close",
                expected_version=None,
                note=_("Closed automatically after %(days)s days.") % {"days": days},
                extra_fields=["closed_at"],
            )
            closed += 1
    return closed


# --- raised by the system (SLA escalations) ------------------------------------------------


@transaction.atomic
def ticket_priority_raise(*, ticket: Ticket, by=None, reason: str) -> Ticket:
    """Raise an open ticket's priority one step (P3 -> P2), with the reason in the timeline.

    For escalations by rule (an SLA threshold): ``by`` None is the system. A P1 ticket or a
    finished one is left as it is.
    """
    if by is not None and not can_work_tickets(by):
        raise PermissionDenied(_("Only agents edit tickets."))
    ticket = _lock(ticket)
    if ticket.priority <= Priority.P1 or not ticket.is_open:
        return ticket
    old = ticket.priority
    ticket.priority = old - 1
    _save(ticket, ["priority"])
    entry = _timeline(
        ticket,
        by,
        TimelineEntry.Kind.FIELD_CHANGE,
        field="priority",
        old_value=_display_field(ticket, "priority", old),
        new_value=_display_field(ticket, "priority", ticket.priority),
        note=(reason or "").strip()[:500],
    )
    _emit(
        events.Kind.UPDATED,
        ticket,
        by,
        changes=(events.FieldChange("priority", old, ticket.priority),),
        timeline_ids=(entry.pk,),
    )
    return ticket
