"""Changes as iCalendar (RFC 5545), for calendar programs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from changes.models import Change, State

# The event status calendar programs show: booked work is confirmed, work not yet approved
# tentative, withdrawn or rejected work cancelled.
_EVENT_STATUS = {
    State.APPROVED: "CONFIRMED",
    State.SCHEDULED: "CONFIRMED",
    State.IMPLEMENTING: "CONFIRMED",
    State.REVIEW: "CONFIRMED",
    State.CLOSED: "CONFIRMED",
    State.REJECTED: "CANCELLED",
    State.WITHDRAWN: "CANCELLED",
}


def changes_to_ical(changes: Iterable[Change], *, name: str = "") -> bytes:
    """An iCalendar document with one event per change that has a planned window; times in
    UTC, the change number in the summary and the UID (stable across exports, so a calendar
    program updates the event instead of adding another)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Helpdesk//Change calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name or _("Changes"))
    host = (settings.ALLOWED_HOSTS or ["helpdesk"])[0].lstrip(".") or "helpdesk"
    if host == "*":
        host = "helpdesk"
    stamp = timezone.now().astimezone(UTC)
    for change in changes:
        if change.planned_start is None or change.planned_end is None:
            continue
        event = Event()
        event.add("uid", f"{change.number.lower()}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", change.planned_start.astimezone(UTC))
        event.add("dtend", change.planned_end.astimezone(UTC))
        event.add("summary", f"{change.number} {change.title}")
        event.add(
            "description",
            "\n".join(
                line
                for line in (
                    f"{_('State')}: {change.get_state_display()}",
                    f"{_('Type')}: {change.get_type_display()}",
                    f"{_('Risk')}: {change.get_risk_display()}",
                    change.description,
                )
                if line
            ),
        )
        event.add("status", _EVENT_STATUS.get(change.state, "TENTATIVE"))
        event.add("last-modified", change.updated_at.astimezone(UTC))
        event.add("sequence", change.version)
        calendar.add_component(event)
    return calendar.to_ical()
