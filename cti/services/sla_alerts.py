"""SLA warnings and breaches on the consoles of the people they concern.

Subscribed in ``CtiConfig.ready`` to the notices of the ``sla`` app (when it is installed);
runs after the sweep's commit, usually in the Celery worker: the push reaches consoles
through the Redis channel layer (with the embedded in-memory layer only what the web process
itself pushes arrives; the mail still goes). One query (the ticket's number and title) and
one group send per recipient with all their alerts, the sends at once; the consumer
(``ConsoleConsumer.cti_sla_alerts``) words each in the console's language. A failed push is
logged and dropped.
"""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer
from django.urls import reverse

from cti import notify
from tickets.models import Ticket

logger = logging.getLogger(__name__)


def sla_alert_push(notices) -> None:
    """Push "INC-…: resolution at 75 % of its target" to each recipient's console: one
    channel-layer message per recipient holding their alerts."""
    layer = get_channel_layer()
    if layer is None or not notices:
        return
    rows = {
        row["pk"]: row
        for row in Ticket.objects.filter(pk__in={n.ticket_id for n in notices}).values(
            "pk", "number", "title"
        )
    }
    # One reverse for all: a number is letters, digits and "-", the same in any path.
    url = reverse("tickets:console_detail", args=["NUMBER"])
    per_recipient: dict[int, list[dict]] = {}
    for notice in notices:
        row = rows.get(notice.ticket_id)
        if row is None:
            continue
        alert = {
            "number": row["number"],
            "title": row["title"],
            "target": notice.target,
            "percent": notice.percent,
            "url": url.replace("NUMBER", row["number"]),
        }
        for user_id in notice.recipient_ids:
            per_recipient.setdefault(user_id, []).append(alert)
    # One message per recipient with their alerts (the consumer shows each): a manager told
    # of every breach of an hour's backlog gets one message, not thousands.
    sends = [
        (notify.agent_group(user_id), {"type": "cti.sla_alerts", "alerts": alerts})
        for user_id, alerts in per_recipient.items()
    ]
    try:
        notify._group_send_many_from_sync(layer, sends)
    except Exception:
        logger.warning("Could not push SLA alerts to %d consoles", len(sends), exc_info=True)
