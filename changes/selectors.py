"""Reads of changes: permission-scoped querysets, conflicts, the calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.http import Http404

from changes.models import (
    BOOKED_STATES,
    ApprovalRequest,
    Change,
    ChangeAttachment,
    ChangeType,
    FreezePeriod,
    Vote,
)
from helpdesk.roles import is_staff_member


def change_queryset_for(user) -> QuerySet[Change]:
    """The changes ``user`` may see: staff (agents, engineers, the change board, managers,
    administrators) every change; anyone else the changes they requested, and those they
    are asked to approve."""
    changes = Change.objects.select_related("requester", "assigned_group", "implementer")
    if user is None or not user.is_authenticated:
        return changes.none()
    if is_staff_member(user):
        return changes
    return changes.filter(Q(requester__user=user) | Q(approvals__approvers=user)).distinct()


def change_get_for(user, number: str) -> Change:
    """The change ``number`` if ``user`` may see it; a 404 otherwise (never a 403)."""
    change = change_queryset_for(user).filter(number=number).first()
    if change is None:
        raise Http404(number)
    return change


def change_attachment_get_for(user, number: str, pk: int) -> ChangeAttachment:
    """A file of change ``number`` if ``user`` may see the change; a 404 otherwise."""
    change = change_get_for(user, number)
    attachment = ChangeAttachment.objects.filter(change=change, pk=pk).first()
    if attachment is None:
        raise Http404(pk)
    attachment.change = change
    return attachment


def changes_awaiting_vote(user) -> QuerySet[Change]:
    """Changes with an open approval step where ``user`` is an approver who has not voted."""
    open_steps = ApprovalRequest.objects.filter(
        state=ApprovalRequest.State.OPEN, approvers=user
    ).exclude(votes__voter=user)
    return (
        Change.objects.filter(approvals__in=open_steps)
        .distinct()
        .prefetch_related("services", "sites")
        .order_by("planned_start", "id")
    )


def changes_for_ticket(ticket) -> list[Change]:
    """The changes linked to ``ticket`` (the ticket page's card)."""
    return list(ticket.changes.order_by("-created_at", "-id"))


def _utc(value: datetime) -> datetime:
    # Stored datetimes are UTC; comparing in UTC makes windows given in different zones (and
    # across a DST switch) compare as the instants they are.
    return value.astimezone(UTC)


@dataclass
class ChangeConflicts:
    changes: list[Change] = field(default_factory=list)
    freezes: list[FreezePeriod] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.freezes)


def change_conflicts(change: Change) -> ChangeConflicts:
    """Other approved, scheduled or implementing changes touching one of the change's
    services or sites in an overlapping window, and the freeze periods it falls into (an
    emergency change passes freezes that let emergencies through).

    Windows are half-open, [start, end): one ending at 10:00 and one starting at 10:00 do
    not overlap."""
    if change.planned_start is None or change.planned_end is None:
        return ChangeConflicts()
    start, end = _utc(change.planned_start), _utc(change.planned_end)
    service_ids = list(change.services.values_list("pk", flat=True))
    site_ids = list(change.sites.values_list("pk", flat=True))
    others = Change.objects.none()
    if service_ids or site_ids:
        others = (
            Change.objects.filter(
                state__in=BOOKED_STATES, planned_start__lt=end, planned_end__gt=start
            )
            .filter(Q(services__in=service_ids) | Q(sites__in=site_ids))
            .exclude(pk=change.pk)
            .distinct()
            .order_by("planned_start", "id")
        )
    freezes = freezes_in_window(
        start=start,
        end=end,
        service_ids=service_ids,
        site_ids=site_ids,
        emergency=change.type == ChangeType.EMERGENCY,
    )
    return ChangeConflicts(changes=list(others), freezes=freezes)


def freezes_in_window(
    *, start: datetime, end: datetime, service_ids, site_ids, emergency: bool
) -> list[FreezePeriod]:
    """The freeze periods overlapping [start, end) that bind work on these services and
    sites: global ones and ones naming one of them; an emergency passes the freezes that
    allow emergencies."""
    freezes = FreezePeriod.objects.filter(start__lt=_utc(end), end__gt=_utc(start)).filter(
        Q(is_global=True) | Q(services__in=list(service_ids)) | Q(sites__in=list(site_ids))
    )
    if emergency:
        freezes = freezes.filter(allows_emergency=False)
    return list(freezes.distinct().order_by("start", "id"))


def calendar_changes(user, *, start: datetime, end: datetime) -> QuerySet[Change]:
    """The changes ``user`` may see with a planned window overlapping [start, end)."""
    return (
        change_queryset_for(user)
        .filter(planned_start__lt=end, planned_end__gt=start)
        .exclude(planned_start__isnull=True)
        .prefetch_related("services", "sites")
        .order_by("planned_start", "id")
    )


def _window_overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


def conflicts_for_changes(changes) -> dict[int, ChangeConflicts]:
    """``change_conflicts`` for many changes at once (the board, the calendar): a fixed
    number of queries for any number of changes. ``changes`` have their services and sites
    prefetched."""
    windowed = [c for c in changes if c.planned_start is not None and c.planned_end is not None]
    result = {change.pk: ChangeConflicts() for change in changes}
    if not windowed:
        return result
    start = min(_utc(c.planned_start) for c in windowed)
    end = max(_utc(c.planned_end) for c in windowed)
    booked = list(
        Change.objects.filter(state__in=BOOKED_STATES, planned_start__lt=end, planned_end__gt=start)
        .prefetch_related("services", "sites")
        .order_by("planned_start", "id")
    )
    freezes = list(
        FreezePeriod.objects.filter(start__lt=end, end__gt=start)
        .prefetch_related("services", "sites")
        .order_by("start", "id")
    )
    for change in windowed:
        services = {s.pk for s in change.services.all()}
        sites = {s.pk for s in change.sites.all()}
        found = result[change.pk]
        for other in booked:
            if other.pk == change.pk or not _window_overlaps(
                change.planned_start, change.planned_end, other.planned_start, other.planned_end
            ):
                continue
            if services & {s.pk for s in other.services.all()} or sites & {
                s.pk for s in other.sites.all()
            }:
                found.changes.append(other)
        for freeze in freezes:
            if not _window_overlaps(
                change.planned_start, change.planned_end, freeze.start, freeze.end
            ):
                continue
            if change.type == ChangeType.EMERGENCY and freeze.allows_emergency:
                continue
            if (
                freeze.is_global
                or services & {s.pk for s in freeze.services.all()}
                or sites & {s.pk for s in freeze.sites.all()}
            ):
                found.freezes.append(freeze)
    return result


def freezes_between(*, start: datetime, end: datetime) -> list[FreezePeriod]:
    """Every freeze period overlapping [start, end) (the calendar shows them all)."""
    return list(
        FreezePeriod.objects.filter(start__lt=end, end__gt=start)
        .prefetch_related("services", "sites")
        .order_by("start", "id")
    )


def votes_of(user, *, limit: int = 20):
    """The user's latest votes, with their step and change (the board's "my votes")."""
    return (
        Vote.objects.filter(voter=user)
        .select_related("request__change")
        .order_by("-updated_at", "-id")[:limit]
    )
