"""SLA warnings and breaches reach people: by mail (a real SMTP receiver) and on the console."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mail.models import Mailbox, NotificationMute, OutboundMessage
from sla import services as sla
from sla.models import BusinessCalendar, SlaClock, SlaPolicy, SlaThreshold, Target
from tests.factories import make_ticket
from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)
from tickets import services
from tickets.models import Priority

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
Kind = OutboundMessage.Kind


@pytest.fixture
def setup(db):
    Mailbox.objects.create(name="Service desk", address="servicedesk@helpdesk.test")
    calendar = BusinessCalendar.objects.create(name="24x7", always_open=True)
    for priority in Priority.values:
        SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=calendar,
            first_response=2 * H,
            resolution=10 * H,
        )
    SlaThreshold.objects.create(percent=75)
    SlaThreshold.objects.create(percent=100)


@pytest.fixture
def wired(smtp, eager_celery):  # noqa: F811
    return smtp


def sla_mails(receiver, address):
    return [m for m in receiver.to(address) if "Service level" in m.message["Subject"]]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_warning_and_a_breach_are_mailed_once_to_the_assignee_and_managers(
    setup, wired, committed, agent, manager, end_user
):
    received = wired
    with committed():
        ticket = make_ticket(caller=end_user.person)
    with committed():
        services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    start = SlaClock.objects.get(ticket=ticket, target=Target.RESOLUTION).started_at
    with committed():
        assert sla.sla_sweep(now=start + 8 * H) == 1
    with committed():
        assert sla.sla_sweep(now=start + 8 * H) == 0
    [warning] = sla_mails(received, agent.email)
    assert (
        warning.message["Subject"]
        == f"[{ticket.number}] Service level at risk: {ticket.number} {ticket.title}"
    )
    assert "has used 75% of the time" in warning.text and "Resolution" in warning.text
    assert len(sla_mails(received, manager.email)) == 1
    assert sla_mails(received, end_user.email) == []
    # The manager turns breach mails off; the agent still hears of the breach.
    NotificationMute.objects.create(person=manager.person, kind=Kind.SLA_ALERT)
    with committed():
        assert sla.sla_sweep(now=start + 11 * H) == 1
    subjects = [received.message["Subject"] for received in sla_mails(received, agent.email)]
    assert len(subjects) == 2
    assert subjects[-1].startswith(f"[{ticket.number}] Service level breached")
    assert len(sla_mails(received, manager.email)) == 1
    assert OutboundMessage.objects.filter(kind=Kind.SLA_ALERT, status="sent").count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_assignees_console_hears_of_the_breach_and_a_bystander_nothing(first_line):
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from cti.consumers import ConsoleConsumer
    from helpdesk.roles import Role
    from tests.factories import make_user

    calendar = BusinessCalendar.objects.create(name="24x7", always_open=True)
    for priority in Priority.values:
        SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=calendar,
            first_response=2 * H,
            resolution=10 * H,
        )
    SlaThreshold.objects.create(percent=100)
    assignee = make_user(Role.AGENT, username="assignee")
    bystander = make_user(Role.AGENT, username="bystander")
    first_line.members.add(assignee)
    ticket = make_ticket(opened_by=assignee, group=first_line, title="VPN drops")
    services.ticket_assign(ticket=ticket, by=assignee, assignee=assignee)
    start = SlaClock.objects.get(ticket=ticket, target=Target.RESOLUTION).started_at

    async def connected(user):
        communicator = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/console/")
        communicator.scope["user"] = user
        ok, _code = await communicator.connect(timeout=3)
        assert ok
        assert (await communicator.receive_json_from(timeout=3))["type"] == "hello"
        return communicator

    async def scenario():
        mine = await connected(assignee)
        other = await connected(bystander)
        written = await database_sync_to_async(sla.sla_sweep)(now=start + 11 * H)
        assert written == 1
        message = await mine.receive_json_from(timeout=3)
        while message["type"] != "notice":
            message = await mine.receive_json_from(timeout=3)
        assert (message["kind"], message["level"]) == ("sla", "danger")
        assert message["text"] == f"{ticket.number}: the resolution target is breached"
        assert message["title"] == "VPN drops"
        assert await other.receive_nothing(timeout=0.3)
        await mine.disconnect()
        await other.disconnect()

    async_to_sync(scenario)()
