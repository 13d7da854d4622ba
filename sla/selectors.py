"""Reads of SLA state for pages: a ticket's clocks with what is left, colour-coded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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


def clock_views(ticket_id: int, *, limit: int = 20) -> list[ClockView]:
    """The ticket's clocks, live ones first, newest first (one query)."""
    now = timezone.now()
    clocks = list(
        SlaClock.objects.select_related("calendar", "policy")
        .filter(ticket_id=ticket_id)
        .order_by("-started_at", "-pk")[:limit]
    )
    views = []
    for clock in clocks:
        if clock.stopped_at is not None:
            state = clock.outcome
            level = {"met": "ok", "breached": "danger"}.get(clock.outcome, "muted")
            views.append(ClockView(clock, state, level, clock.margin, None))
            continue
        left = remaining(clock, now)
        state = "paused" if clock.paused_since else "running"
        level = "muted" if clock.paused_since else level_for(left, clock.goal)
        views.append(ClockView(clock, state, level, left, clock.due_at))
    views.sort(key=lambda view: view.clock.stopped_at is not None)
    return views
