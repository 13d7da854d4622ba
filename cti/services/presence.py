"""Agents' presence: set by the agent, and by the calls they answer and end."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cti.models import AgentPresence, Call
from helpdesk.errors import ValidationError


@transaction.atomic
def presence_set(*, user, state: str) -> AgentPresence:
    """Set an agent's presence (the console's status switch). Busy is set by calls only."""
    if state not in AgentPresence.State.values:
        raise ValidationError({"state": _("Unknown presence state.")})
    presence, _created = AgentPresence.objects.select_for_update().get_or_create(user=user)
    presence.state = state
    presence.changed_at = timezone.now()
    if state != AgentPresence.State.BUSY:
        presence.current_call = None
    presence.save(update_fields=["state", "changed_at", "current_call"])
    return presence


def agent_busy(*, user_id: int, call: Call) -> None:
    """The agent is talking on ``call``."""
    updated = AgentPresence.objects.filter(user_id=user_id).update(
        state=AgentPresence.State.BUSY, current_call=call, changed_at=timezone.now()
    )
    if not updated:
        AgentPresence.objects.create(
            user_id=user_id, state=AgentPresence.State.BUSY, current_call=call
        )


def agent_call_ended(call: Call) -> None:
    """``call`` ended: its answering agent, if still on it, goes to CTI_PRESENCE_AFTER_CALL."""
    if not call.answered_by_id:
        return
    after = settings.CTI_PRESENCE_AFTER_CALL
    if after not in AgentPresence.State.values:
        after = AgentPresence.State.AFTER_CALL_WORK
    AgentPresence.objects.filter(user_id=call.answered_by_id, current_call=call).update(
        state=after, current_call=None, changed_at=timezone.now()
    )
