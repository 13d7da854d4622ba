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
import json
import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk import refdata
from helpdesk.errors import (
    ConflictError,
    PermissionDenied,
    TransitionNotAllowedError,
    ValidationError,
)
from helpdesk.models import Category, Person, Service, SupportGroup
from helpdesk.roles import can_work_tickets
from tickets import events, resolution, selectors
from tickets.models import (
    TICKET_NUMBER_PREFIX,
    Attachment,
    CannedReply,
    Channel,
    Comment,
    CommentMention,
    CreationKey,
    Impact,
    PendingReason,
    Priority,
    PriorityRule,
    ResolutionCode,
    SavedView,
    Status,
    Tag,
    Ticket,
    TicketCounter,
    TicketLink,
    TicketType,
    TicketWatcher,
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


def _counter_increment(ticket_type: str) -> int | None:
    """The type's counter plus one, or None when the type has no counter row yet."""
    # UPDATE ... RETURNING (PostgreSQL, SQLite 3.35+): the increment and the value read back
    # in one statement. The ORM has no UPDATE ... RETURNING.
    meta = TicketCounter._meta
    quote = connection.ops.quote_name
    value = quote(meta.get_field("value").column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {value} = {value} + 1 "  # noqa: S608 - names
            f"WHERE {quote(meta.get_field('type').column)} = %s RETURNING {value}",
            [ticket_type],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def _next_number(ticket_type: str) -> str:
    # The UPDATE takes the row lock, so concurrent creates never share a number on
    # PostgreSQL; SQLite serialises writers anyway. The counter row exists after the type's
    # first ticket: one statement per ticket from then on.
    value = _counter_increment(ticket_type)
    if value is None:
        TicketCounter.objects.get_or_create(type=ticket_type)
        value = _counter_increment(ticket_type)
    return f"{TICKET_NUMBER_PREFIX[TicketType(ticket_type)]}-{value:06d}"


def default_group() -> SupportGroup | None:
    """The queue new tickets land in: the configured group, else the first first-line group."""
    code = settings.TICKET_DEFAULT_GROUP
    # The kept groups (helpdesk.refdata) come in the model's order: tier, then name.
    groups = refdata.active(SupportGroup)
    found = next((group for group in groups if code and group.code == code), None)
    if found is None:
        found = next((group for group in groups if group.tier == SupportGroup.Tier.FIRST), None)
    return refdata.get(SupportGroup, found.pk) if found is not None else None


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, models.Model):
        # Reference data prints in the reader's language (Service.name_localized ...); the
        # history keeps the stored name, whatever language the acting user reads.
        with translation.override(settings.LANGUAGE_CODE):
            return str(value)[:250]
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
        _attachment_store(ticket=ticket, by=opened_by, upload=upload)
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
    # Apps add what the caller should read with the notes (the knowledge base's articles).
    notes = resolution.notes_with_references(ticket, notes.strip())
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


# --- creating once per submission --------------------------------------------------------


@dataclass(frozen=True)
class CreatedOnce:
    """What :func:`ticket_create_once` did. ``created`` is False for a repeated submission,
    which gets the first one's ticket; ``same_input`` is False when the key came back with
    different input (the API refuses that, a page simply shows the ticket)."""

    ticket: Ticket
    created: bool
    same_input: bool = True


def creation_fingerprint(fields: dict[str, Any]) -> str:
    """sha256 of a creation's input, normalised: related rows by id, files by name and size."""

    def normal(value):
        if isinstance(value, list | tuple):
            return [normal(item) for item in value]
        if isinstance(value, UploadedFile):
            return [value.name, value.size]
        value = _stored(value)
        return value if value is None or isinstance(value, bool | int | float) else str(value)

    body = json.dumps({name: normal(value) for name, value in fields.items()}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def ticket_create_once(
    *,
    user: AbstractBaseUser,
    key: str,
    create: Callable[..., Ticket] | None = None,
    **fields: Any,
) -> CreatedOnce:
    """Create a ticket once per submission of a form or an API request.

    ``key`` is the form's one-time token or the API's ``Idempotency-Key``, unique per user;
    ``create`` is :func:`ticket_create` (the default) or
    :func:`ticket_create_solved_on_first_contact`, called with ``fields``. A repeated
    submission (a double click, a retried request) gets the ticket the first one created.
    Without a key every call creates.

    The key is claimed in the creating transaction, before the ticket: of two submissions
    in parallel, the second one's INSERT of the same key waits until the first commits
    (PostgreSQL; SQLite serialises writers) and then fails on the unique constraint, and the
    second answers with the first one's ticket. A creation that fails rolls its claim back,
    so the same key may be sent again.
    """
    create = create or ticket_create
    if not key:
        return CreatedOnce(create(**fields), created=True)
    fingerprint = creation_fingerprint(fields)
    earlier = _created_with_key(user, key, fingerprint)
    if earlier is not None:
        return earlier
    try:
        with transaction.atomic():
            claim = CreationKey.objects.create(user=user, key=key, fingerprint=fingerprint)
            ticket = create(**fields)
            claim.ticket = ticket
            claim.save(update_fields=["ticket"])
    except IntegrityError:
        earlier = _created_with_key(user, key, fingerprint)
        if earlier is None:
            raise
        return earlier
    return CreatedOnce(ticket, created=True)


def _created_with_key(user, key: str, fingerprint: str) -> CreatedOnce | None:
    claim = (
        CreationKey.objects.filter(user=user, key=key, ticket__isnull=False)
        .select_related("ticket")
        .first()
    )
    if claim is None:
        return None
    return CreatedOnce(claim.ticket, created=False, same_input=claim.fingerprint == fingerprint)


def creation_keys_delete(*, older_than_days: int = 30) -> int:
    """Forget creation keys older than ``older_than_days`` (a repeat is minutes apart, not
    weeks); returns how many went."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _detail = CreationKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


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
        _comment_write(ticket=ticket, by=by, body=reason, is_internal=False)
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
    _comment_write(ticket=ticket, by=by, body=diagnostic_notes, is_internal=True)
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
    return _comment_write(
        ticket=ticket,
        by=by,
        body=body,
        is_internal=is_internal,
        channel=channel,
        author_person=author_person,
        attachments=attachments,
    )


def _comment_write(
    *,
    ticket: Ticket,
    by,
    body: str,
    is_internal: bool = False,
    channel: str = Channel.PORTAL,
    author_person: Person | None = None,
    attachments: Iterable[UploadedFile] = (),
) -> Comment:
    """:func:`comment_add` inside a transaction a service of this module already holds.

    Services that write a comment as part of their own change call this rather than
    ``comment_add``: the same checks, rows and event, without a savepoint (a round trip each
    way) nested in their transaction; whatever raises here rolls their whole change back."""
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
        _attachment_store(ticket=ticket, by=by, upload=upload, comment=comment)
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
    # Only a work note notifies the colleagues it names: a public reply goes to the caller.
    mentioned = _mentions_record(comment, by) if is_internal and worker else ()
    _emit(
        events.Kind.COMMENTED,
        ticket,
        by,
        timeline_ids=(entry.pk,),
        comment_id=comment.pk,
        is_internal=is_internal,
        channel=channel,
        mentions=mentioned,
    )
    return comment


# ``@login`` not inside a word or an e-mail address; a sentence's final dot is not part of it.
MENTION = re.compile(r"(?<![\w@.+-])@([\w][\w.+-]*)")
MENTIONS_MAX = 20


def mentioned_logins(body: str) -> list[str]:
    """The logins named with ``@login`` in ``body``, in order, each once (case kept)."""
    logins = (match.rstrip(".-") for match in MENTION.findall(body or ""))
    return list(dict.fromkeys(login for login in logins if login))[:MENTIONS_MAX]


def _mentions_record(comment: Comment, by) -> tuple[int, ...]:
    """One ``CommentMention`` per colleague who may work tickets named in the note (the
    author, unknown logins, end users and read-only staff are not); their ids."""
    logins = mentioned_logins(comment.body)
    if not logins:
        return ()
    named = Q()
    for login in logins:
        named |= Q(username__iexact=login)
    # One query for the lookup, whatever the number of names.
    user_ids = sorted(
        set(selectors.ticket_workers().filter(named).exclude(pk=by.pk).values_list("pk", flat=True))
    )
    CommentMention.objects.bulk_create(
        [CommentMention(comment=comment, user_id=user_id) for user_id in user_ids],
        ignore_conflicts=True,
    )
    return tuple(user_ids)


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
    comment = _comment_write(
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
) -> Attachment:
    """Store an upload under a generated name after checking its size and real type."""
    attachment = _attachment_store(
        ticket=ticket, by=by, upload=upload, comment=comment, is_internal=is_internal
    )
    entry = _timeline(
        ticket,
        by,
        TimelineEntry.Kind.ATTACHMENT,
        new_value=attachment.original_name,
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


def _attachment_store(
    *,
    ticket: Ticket,
    by,
    upload: UploadedFile,
    comment: Comment | None = None,
    is_internal: bool = False,
) -> Attachment:
    """The checks and the row of :func:`attachment_add`, in the transaction of a service of
    this module that adds the file with its own change (a ticket created or a reply written
    with files): no savepoint, and no timeline entry or event of its own, since the
    change's own entry and event cover it."""
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


# --- canned replies ------------------------------------------------------------------------

CANNED_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def canned_reply_placeholders(*, ticket: Ticket, agent) -> dict[str, str]:
    """What each placeholder of a canned reply stands for on ``ticket``, written by ``agent``."""
    caller = ticket.caller
    caller_user = caller.user if caller.user_id else None
    first_name = (caller_user.first_name if caller_user else "") or (
        caller.full_name.split()[0] if caller.full_name.split() else ""
    )
    agent_person = getattr(agent, "person", None)
    agent_name = (
        (agent_person.full_name if agent_person else "")
        or agent.get_full_name()
        or agent.get_username()
    )
    return {
        "caller_name": caller.full_name,
        "caller_first_name": first_name,
        "ticket_number": ticket.number,
        "ticket_title": ticket.title,
        "agent_name": agent_name,
        "group_name": ticket.group.name if ticket.group_id else "",
    }


def canned_reply_render(*, reply: CannedReply, ticket: Ticket, agent) -> str:
    """``reply``'s text with its placeholders filled for ``ticket``.

    A plain substitution of ``{name}``, not ``str.format``: the text is written by people,
    and format would raise on an unknown name or a lone brace and would follow attribute
    and index lookups (``{ticket.caller.user.password}``). Unknown placeholders stay as typed.
    """
    values = canned_reply_placeholders(ticket=ticket, agent=agent)
    return CANNED_PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), reply.body)


# --- relations: merged duplicates, related tickets, watchers, tags ---------------------------
# Links, watchers and tags are bookkeeping beside the ticket: they do not bump its version
# (an agent tagging a ticket must not turn a colleague's open edit into a conflict). Links
# and tags are written to the timeline as internal lines: they name other tickets and words
# of the agents, which the caller has no use for.

# Letters (Polish ones too), digits, "-" and "_".
TAG_NAME = re.compile(r"[\w-]+")
TAG_MAX_LENGTH = 50
TAGS_PER_TICKET = 20


def _require_worker(by, message: str) -> None:
    if by is None or not can_work_tickets(by):
        raise PermissionDenied(message)


def _visible_to(by, other: Ticket | None, field: str) -> Ticket:
    """``other`` as stored, if ``by`` may see it; a ticket they may not see does not exist."""
    missing = ValidationError({field: _("There is no such ticket.")})
    if other is None or other.pk is None:
        raise missing
    queryset = Ticket.objects.all() if by is None else selectors.ticket_queryset_for(by)
    found = queryset.filter(pk=other.pk).first()
    if found is None:
        raise missing
    return found


@transaction.atomic
def ticket_merge(
    *, ticket: Ticket, by, into: Ticket, expected_version: int | None = None
) -> Ticket:
    """Close ``ticket`` as a duplicate of ``into``, which continues.

    The duplicate's replies and notes stay where they were written (moving them would
    rewrite two timelines); the survivor gets a work note naming the duplicate and how much
    was said on it, the duplicate's caller a public reply saying where their request
    continues, and the duplicate's watchers watch the survivor. Refused: into itself, into
    a ticket that was merged (merge into the ticket it points to) or is finished.
    """
    _require_worker(by, _("Only agents merge tickets."))
    if into is None:
        raise ValidationError({"into": _("Name the ticket this one duplicates.")})
    if into.pk == ticket.pk:
        raise ValidationError({"into": _("A ticket cannot be merged into itself.")})
    survivor = _visible_to(by, into, "into")
    # Both rows locked in one order, so two merges of the same pair cannot deadlock.
    locked = {
        row.pk: row
        for row in Ticket.objects.select_for_update(of=("self",))
        .filter(pk__in=[ticket.pk, survivor.pk])
        .order_by("pk")
    }
    survivor = locked[survivor.pk]
    duplicate = locked[ticket.pk]
    _check_version(duplicate, expected_version)
    if survivor.merged_into_id is not None:
        raise ValidationError(
            {
                "into": _("%(number)s was itself merged; merge into the ticket it points to.")
                % {"number": survivor.number}
            }
        )
    if not (survivor.is_open or survivor.status == Status.RESOLVED):
        raise ValidationError(
            {
                "into": _("%(number)s is finished; merge only into a ticket still in work.")
                % {"number": survivor.number}
            }
        )
    if "merge" not in available_transitions(duplicate, by):
        raise transition_not_allowed(duplicate, by, "merge")
    said = duplicate.comments.count()
    caller = duplicate.caller
    # The caller's reply first, so that their history reads: told, then closed.
    with translation.override(caller.language or None):
        _comment_write(
            ticket=duplicate,
            by=by,
            body=_(
                "Your request %(duplicate)s is about the same problem as %(survivor)s. We "
                "continue working on it there, and this ticket is closed."
            )
            % {"duplicate": duplicate.number, "survivor": survivor.number},
            is_internal=False,
        )
    duplicate = _transition(
        duplicate,
        by=by,
        name="merge",
        expected_version=None,
        kwargs={"into": survivor},
        extra_fields=[
            "merged_into",
            "resolution_code",
            "resolved_at",
            "closed_at",
            "pending_reason",
            "pending_note",
        ],
    )
    # The number only: the survivor may be another caller's ticket.
    _timeline(
        duplicate,
        by,
        TimelineEntry.Kind.FIELD_CHANGE,
        field="merged_into",
        new_value=survivor.number,
    )
    names = {"number": duplicate.number, "title": duplicate.title, "caller": caller.full_name}
    if said:
        note = ngettext(
            "Merged %(number)s: %(title)s (caller %(caller)s), with its %(count)s reply or note.",
            "Merged %(number)s: %(title)s (caller %(caller)s), with its %(count)s replies and "
            "notes.",
            said,
        ) % {**names, "count": said}
    else:
        note = _("Merged %(number)s: %(title)s (caller %(caller)s).") % names
    _comment_write(ticket=survivor, by=by, is_internal=True, body=note)
    watchers = TicketWatcher.objects.filter(ticket=duplicate).values_list("user_id", flat=True)
    TicketWatcher.objects.bulk_create(
        [TicketWatcher(ticket=survivor, user_id=user_id) for user_id in watchers],
        ignore_conflicts=True,
    )
    return duplicate


def _related_line(ticket: Ticket, by, *, old: str, new: str) -> TimelineEntry:
    return _timeline(
        ticket,
        by,
        TimelineEntry.Kind.FIELD_CHANGE,
        field="related",
        old_value=old,
        new_value=new,
        is_internal=True,
    )


@transaction.atomic
def ticket_link(*, ticket: Ticket, other: Ticket, by) -> TicketLink:
    """Say that ``ticket`` and ``other`` are about related things (both ways, stored once).

    Linking again changes nothing; each ticket's timeline says it once."""
    _require_worker(by, _("Only agents link tickets."))
    if other is not None and other.pk == ticket.pk:
        raise ValidationError({"other": _("A ticket cannot be linked to itself.")})
    other = _visible_to(by, other, "other")
    source, target = sorted((ticket, other), key=lambda row: row.pk)
    link, created = TicketLink.objects.get_or_create(
        source_id=source.pk, target_id=target.pk, defaults={"created_by": by}
    )
    if created:
        for one, two in ((ticket, other), (other, ticket)):
            entry = _related_line(one, by, old="", new=two.number)
            _emit(
                events.Kind.UPDATED,
                one,
                by,
                changes=(events.FieldChange("related", None, two.pk),),
                timeline_ids=(entry.pk,),
            )
    return link


@transaction.atomic
def ticket_unlink(*, ticket: Ticket, other: Ticket, by) -> bool:
    """Remove the link between ``ticket`` and ``other``; False if there was none."""
    _require_worker(by, _("Only agents link tickets."))
    source_id, target_id = sorted((ticket.pk, other.pk))
    deleted, _detail = TicketLink.objects.filter(source_id=source_id, target_id=target_id).delete()
    if not deleted:
        return False
    for one, two in ((ticket, other), (other, ticket)):
        entry = _related_line(one, by, old=two.number, new="")
        _emit(
            events.Kind.UPDATED,
            one,
            by,
            changes=(events.FieldChange("related", two.pk, None),),
            timeline_ids=(entry.pk,),
        )
    return True


@transaction.atomic
def ticket_watch(*, ticket: Ticket, user, by) -> TicketWatcher:
    """``user`` gets the ticket's updates from now on (``by`` themselves, or a colleague)."""
    _require_worker(by, _("Only agents add watchers."))
    if user is None or not user.is_active or not can_work_tickets(user):
        raise ValidationError({"user": _("Only colleagues who work tickets can watch them.")})
    watcher, _created = TicketWatcher.objects.get_or_create(ticket=ticket, user=user)
    return watcher


@transaction.atomic
def ticket_unwatch(*, ticket: Ticket, user, by) -> bool:
    """``user`` no longer gets the ticket's updates; False if they did not watch it."""
    _require_worker(by, _("Only agents remove watchers."))
    deleted, _detail = TicketWatcher.objects.filter(ticket=ticket, user=user).delete()
    return bool(deleted)


def tag_names_normalized(names: Iterable[str] | str) -> list[str]:
    """Tag names as stored (stripped, lower case, each once, in the order given); a
    ``ValidationError`` on ``tags`` names the first one that is not a tag."""
    if isinstance(names, str):
        names = re.split(r"[,\s]+", names)
    result: list[str] = []
    for raw in names:
        name = (raw or "").strip().lower()
        if not name:
            continue
        if len(name) > TAG_MAX_LENGTH:
            raise ValidationError(
                {
                    "tags": _("“%(tag)s” is too long: a tag has at most %(max)s characters.")
                    % {"tag": name[:20] + "…", "max": TAG_MAX_LENGTH}
                }
            )
        if not TAG_NAME.fullmatch(name):
            raise ValidationError(
                {
                    "tags": _(
                        "“%(tag)s” is not a tag: use letters, digits, “-” and “_”, no spaces."
                    )
                    % {"tag": name}
                }
            )
        if name not in result:
            result.append(name)
    if len(result) > TAGS_PER_TICKET:
        raise ValidationError(
            {"tags": _("At most %(max)s tags per ticket.") % {"max": TAGS_PER_TICKET}}
        )
    return result


@transaction.atomic
def ticket_tags_set(*, ticket: Ticket, by, names: Iterable[str] | str) -> list[str]:
    """Give the ticket exactly the tags ``names`` (new tag names are created); returns the
    names, sorted. The timeline says ``tags: a, b → a, c``."""
    _require_worker(by, _("Only agents tag tickets."))
    wanted = tag_names_normalized(names)
    old = sorted(ticket.tags.values_list("name", flat=True))
    new = sorted(wanted)
    if old == new:
        return new
    Tag.objects.bulk_create([Tag(name=name) for name in new], ignore_conflicts=True)
    ticket.tags.set(Tag.objects.filter(name__in=new))
    entry = _timeline(
        ticket,
        by,
        TimelineEntry.Kind.FIELD_CHANGE,
        field="tags",
        old_value=_display(", ".join(old)),
        new_value=_display(", ".join(new)),
        is_internal=True,
    )
    _emit(
        events.Kind.UPDATED,
        ticket,
        by,
        changes=(events.FieldChange("tags", tuple(old), tuple(new)),),
        timeline_ids=(entry.pk,),
    )
    return new


# --- bulk actions ----------------------------------------------------------------------------

BULK_LIMIT = 100


@dataclass
class BulkOutcome:
    """What became of a bulk action: the tickets changed, and the others with the reason."""

    updated: list[Ticket]
    skipped: list[tuple[str, str]]  # (ticket number, why it was left as it was)


def tickets_bulk_transition(
    *, tickets: Iterable[tuple[Ticket, int | None]], by, name: str, **kwargs: Any
) -> BulkOutcome:
    """Take transition ``name`` on each ``(ticket, version seen)`` through its service.

    Not atomic on purpose: each ticket is its own transaction (the service's), so a ticket
    that refuses (a state that does not allow it, a colleague's newer change, a permission)
    is skipped and reported, and leaves the others done. Every check is the service's own:
    a bulk action never changes a ticket its single action would refuse.
    """
    tickets = list(tickets)
    if len(tickets) > BULK_LIMIT:
        raise ValidationError(
            {"tickets": _("At most %(limit)s tickets at a time.") % {"limit": BULK_LIMIT}}
        )
    outcome = BulkOutcome(updated=[], skipped=[])
    for ticket, version in tickets:
        try:
            changed = transition_take(
                ticket=ticket, by=by, name=name, expected_version=version, **kwargs
            )
        except ConflictError:
            reason = _("changed by someone else")
        except TransitionNotAllowedError as error:
            reason = _("not allowed in state %(state)s") % {
                "state": Status(error.state).label if error.state in Status.values else error.state
            }
        except PermissionDenied:
            reason = _("you may not change it")
        except ValidationError as error:
            # In brackets after the number: without the sentences' final stops.
            reason = " ".join(message.rstrip(".") for message in error.messages)
        else:
            outcome.updated.append(changed)
            continue
        outcome.skipped.append((ticket.number, reason))
    return outcome


# --- saved views -----------------------------------------------------------------------------

SAVED_VIEWS_PER_USER = 50


def _saved_view_owned(view: SavedView, by) -> None:
    if by is None or view.owner_id != by.pk:
        raise PermissionDenied(_("Only the owner changes a saved view."))


def _saved_view_name_taken(owner, name: str, *, exclude: int | None = None) -> bool:
    views = SavedView.objects.filter(owner=owner, name=name)
    if exclude is not None:
        views = views.exclude(pk=exclude)
    return views.exists()


@transaction.atomic
def saved_view_save(
    *, owner, name: str, params: dict[str, str], replace: bool = False
) -> SavedView:
    """Keep the queue's ``params`` (queue, filters, sort) under ``name`` for ``owner``.

    A view of the same name is replaced only with ``replace``; otherwise a ``ValidationError``
    on ``name`` with code ``exists``, so the page can ask first."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    if len(name) > SavedView._meta.get_field("name").max_length:
        raise ValidationError({"name": _("The name is too long.")})
    existing = SavedView.objects.select_for_update().filter(owner=owner, name=name).first()
    if existing is not None:
        if not replace:
            raise ValidationError(
                {
                    "name": ValidationError(
                        _("You already have a view named “%(name)s”.") % {"name": name},
                        code="exists",
                    )
                }
            )
        existing.params = params
        existing.save(update_fields=["params"])
        return existing
    if SavedView.objects.filter(owner=owner).count() >= SAVED_VIEWS_PER_USER:
        raise ValidationError(
            {
                "name": _("You have %(count)s saved views already: delete one first.")
                % {"count": SAVED_VIEWS_PER_USER}
            }
        )
    return SavedView.objects.create(owner=owner, name=name, params=params)


@transaction.atomic
def saved_view_rename(*, view: SavedView, by, name: str) -> SavedView:
    _saved_view_owned(view, by)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    if _saved_view_name_taken(view.owner_id, name, exclude=view.pk):
        raise ValidationError(
            {"name": _("You already have a view named “%(name)s”.") % {"name": name}}
        )
    view.name = name
    view.save(update_fields=["name"])
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, by) -> None:
    _saved_view_owned(view, by)
    view.delete()


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
