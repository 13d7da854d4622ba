"""The supervisors' wallboard: everything it shows, read in a fixed number of queries.

:func:`wallboard_snapshot` is what the wallboard's websocket (``cti.consumers
.WallboardConsumer``) sends at connect and again, coalesced, after every call event and
presence change (``cti.notify.wallboard_changed``). It carries timestamps, not durations:
the browser ticks "in this state for 3:12" and the longest wait from them, with the server's
``now`` to correct its own clock.

Definitions (the page says them too):

- agents: active members of a call queue, and anyone who has set a presence; never set is
  shown as offline;
- per queue: calls ringing now (waiting to be answered; a call ringing longer than
  CTI_RING_TIMEOUT lost its hang-up and is not counted), the longest of those waits, calls
  talking now, members available;
- today (the local day, ``TIME_ZONE``): inbound calls that started today, answered /
  missed / abandoned; service level: answered within SLA_CALL_ANSWER_SECONDS / calls that
  ended (the managers' dashboard's definition, ``sla.reports.call_figures``);
- alarms: a queue with callers waiting and no member available; lost calls (missed +
  abandoned) of the inbound calls that ended in the last CTI_WALLBOARD_LOST_WINDOW_MINUTES
  above CTI_WALLBOARD_LOST_ALARM_PERCENT of them, once at least
  CTI_WALLBOARD_LOST_ALARM_MIN_CALLS calls ended in that window.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cti import statements
from cti.models import AgentPresence, Call, CallQueue
from helpdesk.phones import format_phone

# The state of an agent who never set a presence (no AgentPresence row).
OFFLINE = "offline"


def can_supervise_calls(user) -> bool:
    """Who sees the wallboard and sets agents' presence from it: the call center's managers
    (and administrators), by the reports permission (docs/roles.md)."""
    return bool(user and user.is_authenticated and user.has_perm("tickets.view_reports"))


def day_start(now: datetime) -> datetime:
    """Midnight of ``now``'s local day, aware (DST-safe: built from the date)."""
    local_date = timezone.localtime(now).date()
    return timezone.make_aware(datetime.combine(local_date, time.min))


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _caller_display(row: dict) -> str:
    """Whom an agent is talking to: the caller's name, else the number (withheld: "")."""
    if row["presence__current_call__caller_person__full_name"]:
        return row["presence__current_call__caller_person__full_name"]
    if row["presence__current_call__is_withheld"]:
        return _("Number withheld")
    e164 = row["presence__current_call__caller_e164"]
    return format_phone(e164) if e164 else row["presence__current_call__caller_number"] or ""


def _agents(now: datetime) -> tuple[list[dict], dict[int, list[int]]]:
    """The agents with their presence and current call (one query) and their queues (one)."""
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(call_queues__isnull=False) | Q(presence__isnull=False))
        .distinct()
        .values(
            "pk",
            "username",
            "first_name",
            "last_name",
            "person__full_name",
            "presence__state",
            "presence__changed_at",
            "presence__version",
            "presence__current_call_id",
            "presence__current_call__direction",
            "presence__current_call__caller_number",
            "presence__current_call__caller_e164",
            "presence__current_call__is_withheld",
            "presence__current_call__caller_person__full_name",
        )
    )
    memberships: dict[int, list[int]] = {}
    for user_id, queue_id in CallQueue.members.through.objects.values_list(
        "user_id", "callqueue_id"
    ):
        memberships.setdefault(user_id, []).append(queue_id)
    labels = dict(AgentPresence.State.choices)
    agents = []
    for row in users:
        state = row["presence__state"] or OFFLINE
        on_call = state == AgentPresence.State.BUSY and row["presence__current_call_id"]
        changed_at = row["presence__changed_at"]
        agents.append(
            {
                "user_id": row["pk"],
                "name": row["person__full_name"]
                or statements.display_name(row["first_name"], row["last_name"], row["username"]),
                "state": state,
                "label": str(labels.get(state, _("Offline"))),
                "since": changed_at.isoformat() if changed_at else None,
                "version": row["presence__version"] or 0,
                "call_with": _caller_display(row) if on_call else "",
                "direction": (row["presence__current_call__direction"] or "") if on_call else "",
                "queues": sorted(memberships.get(row["pk"], [])),
            }
        )
    agents.sort(key=lambda agent: agent["name"].lower())
    return agents, memberships


def _queues(now: datetime, agents: list[dict]) -> list[dict]:
    """Calls ringing and talking per queue (one query over live calls) and the queues (one);
    calls of no queue are a row of their own when there are any."""
    ring_cutoff = now - timedelta(seconds=settings.CTI_RING_TIMEOUT)
    ringing = Q(state=Call.State.RINGING, started_at__gte=ring_cutoff)
    live = (
        Call.objects.filter(
            ringing | Q(state=Call.State.ANSWERED, answered_at__isnull=False),
        )
        .exclude(outcome=Call.Outcome.REJECTED)
        .values("queue_id")
        .annotate(
            waiting=Count("id", filter=ringing),
            oldest=Min("started_at", filter=ringing),
            talking=Count("id", filter=Q(state=Call.State.ANSWERED)),
        )
    )
    by_queue = {row["queue_id"]: row for row in live}
    available = {
        agent["user_id"] for agent in agents if agent["state"] == AgentPresence.State.AVAILABLE
    }
    members: dict[int, set[int]] = {}
    for agent in agents:
        for queue_id in agent["queues"]:
            members.setdefault(queue_id, set()).add(agent["user_id"])
    everyone = {agent["user_id"] for agent in agents}
    rows = [(queue["pk"], queue["name"]) for queue in CallQueue.objects.values("pk", "name")]
    if None in by_queue:
        rows.append((None, _("No queue")))
    queues = []
    for queue_id, name in rows:
        figures = by_queue.get(queue_id, {})
        # A call of no queue may be offered to anyone: every agent counts for it.
        queue_members = members.get(queue_id, set()) if queue_id else everyone
        free = len(queue_members & available)
        waiting = figures.get("waiting", 0)
        oldest = figures.get("oldest")
        queues.append(
            {
                "id": queue_id,
                "name": name,
                "waiting": waiting,
                "longest_wait_since": oldest.isoformat() if oldest else None,
                "talking": figures.get("talking", 0),
                "members": len(queue_members),
                "available": free,
                "alarm": waiting > 0 and free == 0,
            }
        )
    return queues


def _figures(now: datetime) -> dict:
    """Today's inbound calls and the lost-call window, in one aggregate query."""
    start = day_start(now)
    window_minutes = settings.CTI_WALLBOARD_LOST_WINDOW_MINUTES
    window_start = now - timedelta(minutes=window_minutes)
    answer_seconds = settings.SLA_CALL_ANSWER_SECONDS
    today = Q(started_at__gte=start)
    in_window = Q(state=Call.State.ENDED, ended_at__gte=window_start)
    lost = Q(outcome__in=[Call.Outcome.MISSED, Call.Outcome.ABANDONED])
    counted = Q(outcome__in=[Call.Outcome.ANSWERED, Call.Outcome.MISSED, Call.Outcome.ABANDONED])
    row = (
        Call.objects.filter(direction=Call.Direction.INBOUND)
        .filter(today | in_window)
        .aggregate(
            answered=Count("id", filter=today & Q(answered_at__isnull=False)),
            missed=Count("id", filter=today & Q(outcome=Call.Outcome.MISSED)),
            abandoned=Count("id", filter=today & Q(outcome=Call.Outcome.ABANDONED)),
            ended=Count("id", filter=today & Q(state=Call.State.ENDED)),
            in_time=Count(
                "id",
                filter=today
                & Q(
                    outcome=Call.Outcome.ANSWERED,
                    answered_at__isnull=False,
                    answered_at__lte=F("started_at") + timedelta(seconds=answer_seconds),
                ),
            ),
            window_calls=Count("id", filter=in_window & counted),
            window_lost=Count("id", filter=in_window & lost),
        )
    )
    threshold = settings.CTI_WALLBOARD_LOST_ALARM_PERCENT
    minimum = settings.CTI_WALLBOARD_LOST_ALARM_MIN_CALLS
    lost_share = _share(row["window_lost"], row["window_calls"])
    return {
        "answered": row["answered"],
        "missed": row["missed"],
        "abandoned": row["abandoned"],
        "ended": row["ended"],
        "answered_in_time": row["in_time"],
        "answer_seconds": answer_seconds,
        "service_level": _share(row["in_time"], row["ended"]),
        "window_minutes": window_minutes,
        "window_calls": row["window_calls"],
        "window_lost": row["window_lost"],
        "lost_share": lost_share,
        "lost_threshold": threshold,
        "lost_minimum_calls": minimum,
        "lost_alarm": row["window_calls"] >= minimum
        and lost_share is not None
        and lost_share > threshold,
    }


def wallboard_snapshot(*, now: datetime | None = None, language: str | None = None) -> dict:
    """Everything the wallboard shows, as JSON-ready data (five queries, whatever the number
    of agents, queues and calls). Labels in ``language`` (default: the active one)."""
    now = now or timezone.now()
    with translation.override(language or translation.get_language()):
        agents, _memberships = _agents(now)
        queues = _queues(now, agents)
        figures = _figures(now)
        alarms = [
            {
                "kind": "queue_unstaffed",
                "queue_id": queue["id"],
                "text": _("%(queue)s: %(count)d waiting and no agent available")
                % {"queue": queue["name"], "count": queue["waiting"]},
            }
            for queue in queues
            if queue["alarm"]
        ]
        if figures["lost_alarm"]:
            alarms.append(
                {
                    "kind": "lost_calls",
                    "queue_id": None,
                    "text": _(
                        "%(lost)d of %(calls)d calls lost in the last %(minutes)d minutes "
                        "(%(share)s%%, alarm above %(threshold)s%%)"
                    )
                    % {
                        "lost": figures["window_lost"],
                        "calls": figures["window_calls"],
                        "minutes": figures["window_minutes"],
                        "share": f"{figures['lost_share']:g}",
                        "threshold": f"{figures['lost_threshold']:g}",
                    },
                }
            )
    return {
        "type": "snapshot",
        "now": now.isoformat(),
        "agents": agents,
        "queues": queues,
        "today": figures,
        "alarms": alarms,
    }
