"""SLA alerts reach consoles as one channel-layer message per recipient and sweep batch;
the console shows the first few as notices and counts the rest in one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from cti import notify
from cti.consumers import MAX_SLA_NOTICES, ConsoleConsumer
from cti.services.sla_alerts import sla_alert_push
from helpdesk.roles import Role
from sla.services import SlaNotice
from tests.factories import make_ticket, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _notice(ticket, percent, recipients):
    return SlaNotice(
        ticket_id=ticket.pk,
        clock_id=ticket.pk,
        target="resolution",
        percent=percent,
        due_at=datetime(2026, 12, 3, tzinfo=UTC),
        recipient_ids=tuple(recipients),
    )


def test_one_message_per_recipient_holds_all_their_alerts(monkeypatch):
    agent = make_user(Role.AGENT, username="assignee")
    manager = make_user(Role.MANAGER, username="boss")
    tickets = [make_ticket(opened_by=agent, title=f"VPN {n}") for n in range(3)]
    sent = []
    monkeypatch.setattr(
        notify, "_group_send_many_from_sync", lambda layer, sends: sent.extend(sends) or 0
    )
    sla_alert_push(
        [_notice(tickets[0], 75, [agent.pk, manager.pk])]
        + [_notice(ticket, 100, [manager.pk]) for ticket in tickets[1:]]
    )
    by_group = dict(sent)
    assert len(sent) == 2
    assert by_group[notify.agent_group(agent.pk)]["type"] == "cti.sla_alerts"
    assert [a["number"] for a in by_group[notify.agent_group(agent.pk)]["alerts"]] == [
        tickets[0].number
    ]
    assert [a["number"] for a in by_group[notify.agent_group(manager.pk)]["alerts"]] == [
        ticket.number for ticket in tickets
    ]


def test_the_console_shows_the_first_alerts_and_counts_the_rest():
    manager = make_user(Role.MANAGER, username="boss")
    tickets = [make_ticket(opened_by=manager, title=f"Outlook {n}") for n in range(7)]

    async def scenario():
        communicator = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/console/")
        communicator.scope["user"] = manager
        ok, _code = await communicator.connect(timeout=3)
        assert ok
        await communicator.receive_json_from(timeout=3)  # hello
        return communicator

    async def run():
        communicator = await scenario()
        # Through the real (in-memory) layer, as the sweep's listener sends it.
        from asgiref.sync import sync_to_async

        await sync_to_async(sla_alert_push)(
            [_notice(ticket, 100, [manager.pk]) for ticket in tickets]
        )
        notices = []
        while len(notices) < MAX_SLA_NOTICES + 1:
            message = await communicator.receive_json_from(timeout=3)
            if message["type"] == "notice":
                notices.append(message)
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return notices

    notices = async_to_sync(run)()
    shown = [n["number"] for n in notices[:MAX_SLA_NOTICES]]
    assert shown == [ticket.number for ticket in tickets[:MAX_SLA_NOTICES]]
    assert all(n["level"] == "danger" for n in notices[:MAX_SLA_NOTICES])
    rest = notices[-1]
    assert rest["text"] == "2 more tickets reached an SLA threshold"
    assert rest["url"].endswith("?queue=due") and rest["number"] == "2"
