"""Every write of the outages app: declare, update, attach tickets, add a caller, resolve,
cancel, and the suggestion to declare one.

Tickets are written only through ``tickets.services``: the parent incident is a ticket made
by ``ticket_create``, children are attached with ``ticket_update(parent=...)`` and resolved
with their own transition, each in its own transaction (a child that refuses is reported
and leaves the others done). Every change of an outage moves the active outages' version
on (``selectors.active_changed``), now and on commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import (
    ConflictError,
    PermissionDenied,
    TransitionNotAllowedError,
    ValidationError,
)
from helpdesk.models import Service, Site
from helpdesk.roles import can_work_tickets
from outages import selectors
from outages.models import Outage, OutageSuggestion, OutageUpdate, State
from tickets import events
from tickets import services as ticket_services
from tickets.models import OPEN_STATUSES, Channel, Impact, ResolutionCode, Ticket, Urgency

logger = logging.getLogger(__name__)

DESCRIPTION_MAX = 1000
TITLE_MAX = 200
LINK_LIMIT = ticket_services.BULK_LIMIT


def _changed() -> None:
    selectors.active_changed()
    transaction.on_commit(selectors.active_changed)


def _require_worker(by) -> None:
    if by is None or not can_work_tickets(by):
        raise PermissionDenied(_("Only agents and managers declare and manage outages."))


def _clean_text(value: str, field_name: str, *, required: bool, limit: int) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field_name: _("This field is required.")})
    if len(value) > limit:
        raise ValidationError({field_name: _("At most %(limit)d characters.") % {"limit": limit}})
    return value


def _check_end(started_at: datetime, expected_end: datetime | None) -> None:
    if expected_end is not None and expected_end <= started_at:
        raise ValidationError({"expected_end": _("The expected end must be after the start.")})


def _lock(outage: Outage, expected_version: int | None) -> Outage:
    locked = Outage.objects.select_for_update().get(pk=outage.pk)
    if expected_version is not None and int(expected_version) != locked.version:
        raise ConflictError(
            _("Someone else changed this outage meanwhile."), current_version=locked.version
        )
    return locked


@transaction.atomic
def outage_declare(
    *,
    by,
    title: str,
    description: str,
    services: Iterable[Service],
    description_pl: str = "",
    sites: Iterable[Site] = (),
    started_at: datetime | None = None,
    expected_end: datetime | None = None,
) -> Outage:
    """Declare an outage: its parent incident (a ticket of the declaring agent's, for the
    first affected service, enterprise-wide and critical) and the first history row."""
    _require_worker(by)
    title = _clean_text(title, "title", required=True, limit=TITLE_MAX)
    description = _clean_text(description, "description", required=True, limit=DESCRIPTION_MAX)
    description_pl = _clean_text(
        description_pl, "description_pl", required=False, limit=DESCRIPTION_MAX
    )
    services = list(services)
    sites = list(sites)
    if not services:
        raise ValidationError({"services": _("Name at least one affected service.")})
    started_at = started_at or timezone.now()
    _check_end(started_at, expected_end)
    person = getattr(by, "person", None)
    if person is None:
        raise ValidationError(
            _(
                "Your login has no profile in the people directory: the parent incident "
                "needs a caller."
            )
        )
    parent = ticket_services.ticket_create(
        caller=person,
        title=_("Outage: %(title)s") % {"title": title},
        description=description,
        opened_by=by,
        channel=Channel.PHONE,
        service=services[0],
        impact=Impact.ENTERPRISE if not sites else Impact.DEPARTMENT,
        urgency=Urgency.CRITICAL,
    )
    outage = Outage.objects.create(
        title=title,
        description=description,
        description_pl=description_pl,
        started_at=started_at,
        expected_end=expected_end,
        parent_ticket=parent,
        declared_by=by,
    )
    outage.services.set(services)
    outage.sites.set(sites)
    OutageUpdate.objects.create(
        outage=outage,
        kind=OutageUpdate.Kind.DECLARED,
        by=by,
        expected_end=expected_end,
        description=description,
        description_pl=description_pl,
    )
    OutageSuggestion.objects.filter(
        status=OutageSuggestion.Status.OPEN, service__in=services
    ).update(status=OutageSuggestion.Status.DECLARED, outage=outage, updated_at=timezone.now())
    _changed()
    return outage


@transaction.atomic
def outage_update(
    *,
    outage: Outage,
    by,
    expected_end: datetime | None,
    description: str,
    description_pl: str = "",
    note: str = "",
    expected_version: int | None = None,
) -> Outage:
    """Change the expected end or what users are told; each change is kept as a history
    row with the previous expected end."""
    _require_worker(by)
    outage = _lock(outage, expected_version)
    if outage.state != State.ACTIVE:
        raise TransitionNotAllowedError(
            _("Only an active outage is updated."), transition="", state=outage.state, allowed=[]
        )
    description = _clean_text(description, "description", required=True, limit=DESCRIPTION_MAX)
    description_pl = _clean_text(
        description_pl, "description_pl", required=False, limit=DESCRIPTION_MAX
    )
    note = _clean_text(note, "note", required=False, limit=500)
    _check_end(outage.started_at, expected_end)
    if (
        expected_end == outage.expected_end
        and description == outage.description
        and description_pl == outage.description_pl
        and not note
    ):
        return outage
    OutageUpdate.objects.create(
        outage=outage,
        kind=OutageUpdate.Kind.UPDATED,
        by=by,
        expected_end=expected_end,
        previous_expected_end=outage.expected_end,
        description=description,
        description_pl=description_pl,
        note=note,
    )
    outage.expected_end = expected_end
    outage.description = description
    outage.description_pl = description_pl
    outage.version += 1
    outage.save(update_fields=["expected_end", "description", "description_pl", "version"])
    _changed()
    return outage


@dataclass
class LinkOutcome:
    linked: list[Ticket] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def outage_link_tickets(*, outage: Outage, by, tickets: Iterable[Ticket]) -> LinkOutcome:
    """Make ``tickets`` children of the outage's parent incident, each in its own
    transaction (``ticket_update``): one that refuses is skipped with the reason."""
    _require_worker(by)
    tickets = list(tickets)
    if len(tickets) > LINK_LIMIT:
        raise ValidationError(
            {"tickets": _("At most %(limit)s tickets at a time.") % {"limit": LINK_LIMIT}}
        )
    if outage.state != State.ACTIVE:
        raise TransitionNotAllowedError(
            _("Tickets are attached to an active outage only."),
            transition="",
            state=outage.state,
            allowed=[],
        )
    outcome = LinkOutcome()
    for ticket in tickets:
        if ticket.pk == outage.parent_ticket_id:
            outcome.skipped.append((ticket.number, _("it is the outage's own incident")))
            continue
        if ticket.status not in OPEN_STATUSES:
            outcome.skipped.append((ticket.number, _("it is finished")))
            continue
        try:
            with transaction.atomic():
                changed = ticket_services.ticket_update(
                    ticket=ticket, by=by, expected_version=None, parent=outage.parent_ticket
                )
        except (ValidationError, PermissionDenied, ConflictError) as error:
            reason = " ".join(getattr(error, "messages", [str(error)]))
            outcome.skipped.append((ticket.number, reason.rstrip(".")))
            continue
        outcome.linked.append(changed)
    if outcome.linked:
        OutageUpdate.objects.create(
            outage=outage,
            kind=OutageUpdate.Kind.TICKETS_LINKED,
            by=by,
            note=", ".join(ticket.number for ticket in outcome.linked)[:500],
        )
        _changed()
    return outcome


@dataclass
class Joined:
    ticket: Ticket
    created: bool


@transaction.atomic
def outage_add_caller(*, outage: Outage, user) -> Joined:
    """ "We know; add yourself": a ticket for the portal user, a child of the outage's
    incident. Once per person: a second click finds the open ticket filed the first time."""
    person = getattr(user, "person", None)
    if person is None:
        raise ValidationError(_("Your login has no profile in the people directory."))
    outage = Outage.objects.select_for_update().get(pk=outage.pk)
    if outage.state != State.ACTIVE:
        raise ValidationError(_("This outage is over."))
    existing = (
        Ticket.objects.filter(
            parent_id=outage.parent_ticket_id, caller=person, status__in=OPEN_STATUSES
        )
        .order_by("pk")
        .first()
    )
    if existing is not None:
        return Joined(ticket=existing, created=False)
    ticket = ticket_services.ticket_create(
        caller=person,
        title=outage.title,
        description=_("Affected by the outage: %(description)s")
        % {"description": outage.description_localized},
        opened_by=user,
        channel=Channel.PORTAL,
        service=outage.services.order_by("pk").first(),
        parent=outage.parent_ticket,
    )
    OutageUpdate.objects.create(
        outage=outage, kind=OutageUpdate.Kind.CALLER_ADDED, by=user, note=ticket.number
    )
    return Joined(ticket=ticket, created=True)


@dataclass
class ResolveOutcome:
    outage: Outage
    resolved: list[Ticket] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def outage_resolve(
    *, outage: Outage, by, notes: str, expected_version: int | None = None
) -> ResolveOutcome:
    """End the outage, then resolve its incident and every open child with the outage's
    notes, each ticket in its own transaction: the callers are told as for any resolved
    ticket (the mail app mails them, the portal shows the notes). A child that refuses is
    reported and stays open."""
    _require_worker(by)
    notes = _clean_text(notes, "notes", required=True, limit=4000)
    with transaction.atomic():
        outage = _lock(outage, expected_version)
        if outage.state != State.ACTIVE:
            raise TransitionNotAllowedError(
                _("Only an active outage is resolved."),
                transition="",
                state=outage.state,
                allowed=[],
            )
        outage.resolve(notes=notes)
        outage.version += 1
        outage.save(update_fields=["state", "resolution_notes", "ended_at", "version"])
        OutageUpdate.objects.create(
            outage=outage, kind=OutageUpdate.Kind.RESOLVED, by=by, note=notes[:500]
        )
        _changed()
    outcome = ResolveOutcome(outage=outage)
    children = list(
        Ticket.objects.filter(parent_id=outage.parent_ticket_id, status__in=OPEN_STATUSES)
    )
    parent = Ticket.objects.filter(pk=outage.parent_ticket_id, status__in=OPEN_STATUSES)
    # The children first, then the incident, LINK_LIMIT tickets per bulk call.
    chunks = [children[start : start + LINK_LIMIT] for start in range(0, len(children), LINK_LIMIT)]
    for chunk in [*chunks, list(parent)]:
        if not chunk:
            continue
        bulk = ticket_services.tickets_bulk_transition(
            tickets=[(ticket, None) for ticket in chunk],
            by=by,
            name="resolve",
            code=ResolutionCode.SOLVED,
            notes=notes,
        )
        outcome.resolved += bulk.updated
        outcome.skipped += bulk.skipped
    return outcome


def outage_cancel(
    *, outage: Outage, by, reason: str = "", expected_version: int | None = None
) -> Outage:
    """Declared by mistake: the outage ends without resolving anything; its incident is
    cancelled and the children are detached, back to ordinary work."""
    _require_worker(by)
    reason = _clean_text(reason, "reason", required=False, limit=500)
    with transaction.atomic():
        outage = _lock(outage, expected_version)
        if outage.state != State.ACTIVE:
            raise TransitionNotAllowedError(
                _("Only an active outage is cancelled."),
                transition="",
                state=outage.state,
                allowed=[],
            )
        outage.cancel()
        outage.version += 1
        outage.save(update_fields=["state", "ended_at", "version"])
        OutageUpdate.objects.create(
            outage=outage, kind=OutageUpdate.Kind.CANCELLED, by=by, note=reason
        )
        _changed()
    for child in Ticket.objects.filter(parent_id=outage.parent_ticket_id):
        try:
            with transaction.atomic():
                ticket_services.ticket_update(
                    ticket=child, by=by, expected_version=None, parent=None
                )
        except (ValidationError, PermissionDenied, ConflictError):
            logger.warning("Outage %s cancelled: ticket %s kept its parent", outage.pk, child.pk)
    parent = Ticket.objects.get(pk=outage.parent_ticket_id)
    if parent.status in OPEN_STATUSES:
        ticket_services.transition_take(
            ticket=parent, by=by, name="cancel", reason=reason or _("Outage cancelled.")
        )
    return outage


# --- suggestions -------------------------------------------------------------------------


def suggestion_on_ticket_event(event: events.TicketEvent) -> None:
    """A ticket listener (created): when OUTAGES_SUGGEST_TICKETS tickets for one service
    arrived within OUTAGES_SUGGEST_MINUTES and no active outage covers the service, record
    (or grow) the open suggestion the console shows. One count query per new ticket with a
    service; tickets attached to an incident already (children) do not count."""
    service = event.change("service")
    parent = event.change("parent")
    if service is None or service.new is None or (parent is not None and parent.new):
        return
    service_id = service.new
    if selectors.active_outages(service_ids=(service_id,)):
        return
    window = settings.OUTAGES_SUGGEST_MINUTES
    since = event.at - timedelta(minutes=window)
    recent = list(
        Ticket.objects.filter(
            service_id=service_id, created_at__gte=since, parent__isnull=True
        ).values_list("pk", flat=True)[:LINK_LIMIT]
    )
    if len(recent) < settings.OUTAGES_SUGGEST_TICKETS:
        return
    suggestion_record(service_id=service_id, ticket_ids=recent, window_minutes=window)


def suggestion_record(*, service_id: int, ticket_ids: list[int], window_minutes: int):
    """Create the service's open suggestion, or add the tickets to it."""
    now = timezone.now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                suggestion, _created = OutageSuggestion.objects.select_for_update().get_or_create(
                    service_id=service_id,
                    status=OutageSuggestion.Status.OPEN,
                    defaults={"window_minutes": window_minutes, "created_at": now},
                )
                suggestion.tickets.add(*ticket_ids)
                suggestion.ticket_count = suggestion.tickets.count()
                suggestion.updated_at = now
                suggestion.save(update_fields=["ticket_count", "updated_at"])
                return suggestion
        except IntegrityError:
            continue  # another process created it meanwhile: add to theirs
    return None


@transaction.atomic
def suggestion_dismiss(*, suggestion: OutageSuggestion, by) -> OutageSuggestion:
    _require_worker(by)
    suggestion = OutageSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    if suggestion.status == OutageSuggestion.Status.OPEN:
        suggestion.status = OutageSuggestion.Status.DISMISSED
        suggestion.updated_at = timezone.now()
        suggestion.save(update_fields=["status", "updated_at"])
    return suggestion
