"""Reads of SLA state for pages: a ticket's clocks with what is left, colour-coded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from sla.models import SlaClock
from sla.services import remaining

# Below this share of the goal left, a running clock shows as a warning.
WARNING_SHARE = 0.25


@dataclass(frozen=True)
class ClockView:
    clock: SlaClock
    state: str  # running, paused, met, breached, cancelled
    level: str  # ok, warning, danger, muted
    remaining: timedelta | None
    due_at: datetime | None


def level_for(left: timedelta, goal: timedelta) -> str:
    if left < timedelta(0):
        return "danger"
    if goal and left < goal * WARNING_SHARE:
        return "warning"
    return "ok"


def ticket_clocks(ticket, *, limit: int = 20) -> list[SlaClock]:
    """The ticket's clocks, live ones first, then newest first: read once per ticket object
    (the ticket page's due time and its SLA box share the one query)."""
    clocks = getattr(ticket, "_sla_clocks", None)
    if clocks is None:
        clocks = list(
            SlaClock.objects.select_related("calendar", "policy")
            .filter(ticket_id=ticket.pk)
            .order_by(F("stopped_at").asc(nulls_first=True), "-started_at", "-pk")[:limit]
        )
        ticket._sla_clocks = clocks
    return clocks


def clock_views(ticket, *, limit: int = 20) -> list[ClockView]:
    """The ticket's clocks with what is left of each, live ones first, newest first."""
    now = timezone.now()
    views = []
    for clock in ticket_clocks(ticket, limit=limit):
        if clock.stopped_at is not None:
            state = clock.outcome
            level = {"met": "ok", "breached": "danger"}.get(clock.outcome, "muted")
            views.append(ClockView(clock, state, level, clock.margin, None))
            continue
        left = remaining(clock, now)
        state = "paused" if clock.paused_since else "running"
        level = "muted" if clock.paused_since else level_for(left, clock.goal)
        views.append(ClockView(clock, state, level, left, clock.due_at))
    return views


def queue_rows_prepare(tickets: list, user) -> None:
    """Queue row preparer (``tickets.display``): each ticket's earliest live clock, in words.

    One query for the page's tickets: their live clocks with calendars (schedules are cached);
    for a single ticket, the read its SLA box shares (:func:`ticket_clocks`).
    """
    from django.utils.translation import gettext as _

    from sla.templatetags.sla_tags import business_duration

    by_ticket: dict[int, list[SlaClock]] = {}
    if len(tickets) == 1:
        # One ticket (its page): the clocks its SLA box shows, live ones among them.
        live = [clock for clock in ticket_clocks(tickets[0]) if clock.stopped_at is None]
        by_ticket[tickets[0].pk] = live
    else:
        for clock in SlaClock.objects.select_related("calendar").filter(
            ticket_id__in=[ticket.pk for ticket in tickets], stopped_at__isnull=True
        ):
            by_ticket.setdefault(clock.ticket_id, []).append(clock)
    now = timezone.now()
    for ticket in tickets:
        clocks = by_ticket.get(ticket.pk)
        if not clocks:
            continue
        running = [clock for clock in clocks if clock.paused_since is None]
        if not running:
            ticket.due_level, ticket.due_text = "paused", _("paused")
            continue
        clock = min(running, key=lambda clock: clock.due_at or now)
        left = remaining(clock, now)
        ticket.due_level = level_for(left, clock.goal)
        if left < timedelta(0):
            ticket.due_text = _("overdue %(time)s") % {"time": business_duration(-left)}
        else:
            ticket.due_text = _("%(time)s left") % {"time": business_duration(left)}
