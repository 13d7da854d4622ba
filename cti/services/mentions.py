"""A colleague named with ``@login`` in a work note hears of it on their console at once.

Subscribed in ``CtiConfig.ready`` to ``commented`` events; runs after the note's commit. One
query (the note's ticket and author) and one group send per colleague named, to their
``agent.<id>`` group; the consumer (``ConsoleConsumer.cti_mention``) words it in the
console's language. A push that fails is logged and dropped: the mail and the note stand.
"""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer
from django.urls import reverse

from cti import notify
from tickets import events
from tickets.models import Comment

logger = logging.getLogger(__name__)

KINDS = (events.Kind.COMMENTED,)


def mention_push_on_ticket_event(event: events.TicketEvent) -> None:
    """Push "X mentioned you in INC-…" to each colleague the work note names."""
    if not event.mentions or not event.comment_id:
        return
    row = (
        Comment.objects.filter(pk=event.comment_id)
        .values(
            "ticket__number",
            "ticket__title",
            "author__username",
            "author__first_name",
            "author__last_name",
            "author_person__full_name",
        )
        .first()
    )
    if row is None:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    by = (
        row["author_person__full_name"]
        or f"{row['author__first_name'] or ''} {row['author__last_name'] or ''}".strip()
        or row["author__username"]
        or ""
    )
    message = {
        "type": "cti.mention",
        "by": by,
        "number": row["ticket__number"],
        "title": row["ticket__title"],
        "url": reverse("tickets:console_detail", args=[row["ticket__number"]]),
    }
    for user_id in event.mentions:
        try:
            notify._group_send_from_sync(layer, notify.agent_group(user_id), message)
        except Exception:
            logger.warning(
                "Could not tell agent %s of a mention on %s",
                user_id,
                row["ticket__number"],
                exc_info=True,
            )
