"""Agents' presence: set by the agent, and by the calls they answer and end.

Every change moves ``AgentPresence.version`` on. The console sends the version it last saw
with its choice: a choice made from an older view (the PBX made the agent busy, or put them
in after-call work, meanwhile) is refused, and so is any choice while the agent is on a
call: busy lasts until the call's hang-up, which then starts the after-call work.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cti.models import AgentPresence, Call
from helpdesk.errors import ConflictError, ValidationError


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
