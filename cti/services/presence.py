"""Agents' presence: set by the agent, and by the calls they answer and end.

Every change moves ``AgentPresence.version`` on. The console sends the version it last saw
with its choice: a choice made from an older view (the PBX made the agent busy, or put them
in after-call work, meanwhile) is refused, and so is any choice while the agent is on a
call: busy lasts until the call's hang-up, which then starts the after-call work.

After-call work ends by itself after CTI_AFTER_CALL_WORK_SECONDS (0: never): the agent
becomes available again (:func:`after_call_work_end_due`). The consoles of the agent ask for
it when the time is up, and the periodic task ``cti.end_after_call_work`` catches the agents
with no console open.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cti.models import AgentPresence, Call
from helpdesk.errors import ConflictError, ValidationError

logger = logging.getLogger(__name__)

# What an agent chooses, and a supervisor may set; busy is set by calls only.
SUPERVISOR_SETTABLE = (
    AgentPresence.State.AVAILABLE,
    AgentPresence.State.AFTER_CALL_WORK,
    AgentPresence.State.AWAY,
)


@transaction.atomic
def presence_set(*, user, state: str, expected_version: int | None = None) -> AgentPresence:
    """Set an agent's presence (the console's status switch). Busy is set by calls only.

    ``expected_version``: the version the console showed when the agent chose; when the
    presence moved on since, :class:`ConflictError` (with the current version). An agent on
    a call (busy with a current call) cannot leave busy: :class:`ConflictError` too.
    """
    if state not in AgentPresence.State.values:
        raise ValidationError({"state": _("Unknown presence state.")})
    presence, _created = AgentPresence.objects.select_for_update().get_or_create(user=user)
    if presence.state == AgentPresence.State.BUSY and presence.current_call_id is not None:
        raise ConflictError(
            _("You are on a call: your status stays busy until the call ends."),
            current_version=presence.version,
        )
    if expected_version is not None and expected_version != presence.version:
        raise ConflictError(
            _("Your status was changed meanwhile; it is shown as it is now."),
            current_version=presence.version,
        )
    presence.state = state
    presence.changed_at = timezone.now()
    if state != AgentPresence.State.BUSY:
        presence.current_call = None
    presence.version += 1
    presence.save(update_fields=["state", "changed_at", "current_call", "version"])
    from cti import notify

    transaction.on_commit(notify.wallboard_changed)
    return presence


@transaction.atomic
def presence_set_by_supervisor(
    *, agent, state: str, by, expected_version: int | None = None
) -> AgentPresence:
    """A supervisor sets ``agent``'s presence from the wallboard (an agent who left without
    signing off, a colleague to bring in at a peak). The same rules as the agent's own
    choice (:func:`presence_set`: not while on a call, not over a change the supervisor did
    not see); after the commit the agent's consoles and their queues' consoles are told, so
    the agent's own status switch shows it. ``AgentPresence`` keeps no author: who changed
    it is logged."""
    if state not in SUPERVISOR_SETTABLE:
        raise ValidationError({"state": _("Busy is set by calls only.")})
    try:
        presence = presence_set(user=agent, state=state, expected_version=expected_version)
    except ConflictError as conflict:
        current = AgentPresence.objects.get(user=agent)
        if current.state == AgentPresence.State.BUSY and current.current_call_id is not None:
            message = _("The agent is on a call: the status stays busy until the call ends.")
        else:
            message = _("The agent's status changed meanwhile; it is shown as it is now.")
        raise ConflictError(message, current_version=conflict.current_version) from conflict
    logger.info(
        "CTI: presence of agent %s set to %s by supervisor %s (version %s)",
        agent.pk,
        state,
        by.pk,
        presence.version,
    )
    from cti import notify

    transaction.on_commit(lambda: notify.presence_changed([agent.pk]))
    return presence


def agent_busy(*, user_id: int, call: Call) -> None:
    """The agent is talking on ``call``."""
    updated = AgentPresence.objects.filter(user_id=user_id).update(
        state=AgentPresence.State.BUSY,
        current_call=call,
        changed_at=timezone.now(),
        version=F("version") + 1,
    )
    if not updated:
        AgentPresence.objects.create(
            user_id=user_id, state=AgentPresence.State.BUSY, current_call=call, version=1
        )


def agent_call_ended(call: Call) -> None:
    """``call`` ended: its answering agent, if still on it, goes to CTI_PRESENCE_AFTER_CALL."""
    if not call.answered_by_id:
        return
    after = settings.CTI_PRESENCE_AFTER_CALL
    if after not in AgentPresence.State.values:
        after = AgentPresence.State.AFTER_CALL_WORK
    AgentPresence.objects.filter(user_id=call.answered_by_id, current_call=call).update(
        state=after, current_call=None, changed_at=timezone.now(), version=F("version") + 1
    )


def after_call_work_limit() -> timedelta | None:
    """How long after-call work lasts before it ends by itself; None: until the agent ends it."""
    seconds = settings.CTI_AFTER_CALL_WORK_SECONDS
    return timedelta(seconds=seconds) if seconds > 0 else None


def after_call_work_ends_at(presence: AgentPresence) -> datetime | None:
    """When this presence's after-call work ends by itself (None: not in after-call work,
    or no limit)."""
    limit = after_call_work_limit()
    if presence.state != AgentPresence.State.AFTER_CALL_WORK or limit is None:
        return None
    return presence.changed_at + limit


@transaction.atomic
def after_call_work_end_due(
    *, now: datetime | None = None, user_id: int | None = None
) -> list[int]:
    """End the after-call work that has lasted CTI_AFTER_CALL_WORK_SECONDS: those agents
    become available (their version moves on) and, after the commit, their consoles and
    their queues' consoles are told. ``user_id``: only that agent (their console's timer).
    Returns the agents' user ids. Safe to run at any time, from several processes at once
    (rows another run holds are skipped; a run finds only what is still due)."""
    limit = after_call_work_limit()
    if limit is None:
        return []
    now = now or timezone.now()
    due = AgentPresence.objects.select_for_update(skip_locked=True).filter(
        state=AgentPresence.State.AFTER_CALL_WORK, changed_at__lte=now - limit
    )
    if user_id is not None:
        due = due.filter(user_id=user_id)
    ended = []
    for presence in due:
        presence.state = AgentPresence.State.AVAILABLE
        presence.changed_at = now
        presence.current_call = None
        presence.version += 1
        presence.save(update_fields=["state", "changed_at", "current_call", "version"])
        ended.append(presence.user_id)
    if ended:
        from cti import notify

        logger.info("CTI: after-call work ended by itself for %d agents", len(ended))
        transaction.on_commit(lambda: notify.presence_changed(ended))
    return ended
