"""Who a call is offered to: the agents a ring names, its queue, the default queue."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from cti import statements
from cti.models import AgentPresence, Call, CallQueue, Pbx


def queue_for(code: str, pbx: Pbx | None) -> CallQueue | None:
    """The queue with the PBX's queue name ``code``, if it is set up."""
    # Queue codes are unique across PBXes; ``pbx`` is kept for per-PBX queue names later.
    if not code:
        return None
    try:
        return CallQueue.objects.get(code=code)  # unique
    except CallQueue.DoesNotExist:
        return None


def default_queue(pbx: Pbx | None = None) -> CallQueue | None:
    """The queue for calls the PBX sends to no queue (or to one that is not set up): the
    PBX's default queue, else CTI_DEFAULT_QUEUE, else the queue marked is_default."""
    if pbx is not None and pbx.default_queue_id:
        queue = CallQueue.objects.filter(pk=pbx.default_queue_id).first()
        if queue is not None:
            return queue
    return (
        CallQueue.objects.filter(Q(code=settings.CTI_DEFAULT_QUEUE) | Q(is_default=True))
        .order_by("-is_default", "pk")
        .first()
    )


def queue_available_agents(queue: CallQueue) -> list[int]:
    """User ids of the queue's members who are available now (same site as the queue)."""
    members = queue.members.filter(is_active=True, presence__state=AgentPresence.State.AVAILABLE)
    if queue.site_id:
        members = members.filter(person__site_id=queue.site_id)
    return list(members.values_list("pk", flat=True))


def site_available_agents(pbx: Pbx | None) -> list[int]:
    """User ids of the agents who are available now at the PBX's site (every available
    agent when the PBX has no site): the last fallback of a ring, so none is dropped."""
    agents = AgentPresence.objects.filter(state=AgentPresence.State.AVAILABLE, user__is_active=True)
    if pbx is not None and pbx.site_id:
        agents = agents.filter(user__person__site_id=pbx.site_id)
    return sorted(agents.values_list("user_id", flat=True))


def extensions_clean(extensions: Sequence[str]) -> list[str]:
    return [e.strip() for e in extensions if e and e.strip()]


def agents_named(
    *,
    extensions: Sequence[str],
    users: Sequence[str],
    by_extension: dict[int, str | None] | None = None,
) -> dict[int, str | None]:
    """The agents named by extension or by user name/e-mail: user id -> interface language.

    ``by_extension``: the agents with ``extensions`` and their language, when read already.
    """
    found: dict[int, str | None] = {}
    if by_extension is None:
        by_extension = statements.agents_by_extension(extensions_clean(extensions))
    found.update(by_extension)
    names = [u.strip() for u in users if u and u.strip()]
    if names:
        # Zammad's "user" is free text: PBX bridges send the login, the e-mail or the name.
        found.update(
            get_user_model()
            .objects.filter(
                Q(username__in=names) | Q(email__in=names) | Q(person__full_name__in=names),
                is_active=True,
            )
            .values_list("pk", "person__language")
        )
    return found


def call_offer(call: Call, user_ids: Sequence[int]) -> None:
    """Offer a saved call to these agents (existing offers are kept)."""
    # One INSERT whatever the number of agents (add() reads the existing rows first).
    statements.links_insert(Call.offered_to.through, "call", call.pk, "user", user_ids)
