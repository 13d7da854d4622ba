"""The console's queues over the console websocket: a ticket arriving in a support group
(created by mail, portal, phone or API, or moved there) is announced to the consoles of that
group's members, and only to them. Real websocket clients (Channels' communicator); the
tickets are made by the services, which push on commit as in production.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
from email.message import EmailMessage

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from cti import notify
from cti.consumers import ConsoleConsumer
from helpdesk.asgi import application
from helpdesk.middleware import LANGUAGE_SESSION_KEY
from helpdesk.roles import Role
from mail.models import InboundMessage, Mailbox
from mail.services import ingest
from tests.factories import make_ticket, make_user, session_cookie_for
from tickets import services as ticket_services
from tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 3


def run(scenario):
    async_to_sync(scenario)()


async def connected(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/console/")
    communicator.scope["user"] = user
    ok, _code = await communicator.connect(timeout=TIMEOUT)
    assert ok
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    return communicator


def receive_mail(mailbox: Mailbox, subject: str) -> Ticket:
    """A new mail to ``mailbox`` through the mail channel's entry point."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = "Alice Example <alice@example.com>"
    mail["To"] = mailbox.address
    mail["Subject"] = subject
    mail["Date"] = email.utils.formatdate(localtime=True)
    mail["Message-ID"] = email.utils.make_msgid(domain="client.example")
    mail.set_content("Since this morning.\n\n-- \nAlice, Finance")
    message = ingest.message_receive(
        mailbox=mailbox, raw=mail.as_bytes(), source=InboundMessage.Source.PIPE
    )
    return message.ticket


@pytest.fixture
def mailboxes(first_line, network_group):
    """A mailbox per support group: mail to it opens a ticket in that group's queue."""
    return (
        Mailbox.objects.create(
            name="Service desk", address="servicedesk@helpdesk.test", default_group=first_line
        ),
        Mailbox.objects.create(
            name="Network", address="network@helpdesk.test", default_group=network_group
        ),
    )


@pytest.fixture
def team(first_line, network_group):
    """Alice works in the Service Desk, Bob in Network, Carol is an agent in no group."""
    alice = make_user(Role.AGENT, username="alice")
    bob = make_user(Role.ENGINEER, username="bob")
    carol = make_user(Role.AGENT, username="carol")
    first_line.members.add(alice)
    network_group.members.add(bob)
    return alice, bob, carol


def test_a_mail_ticket_reaches_the_consoles_of_its_groups_members_only(mailboxes, team, first_line):
    service_desk_mailbox, network_mailbox = mailboxes
    alice, bob, carol = team

    async def scenario():
        consoles = [await connected(user) for user in (alice, bob, carol)]
        alices, bobs, carols = consoles

        # A mail to the Network mailbox: Bob hears of it, Alice (Service Desk) does not.
        await database_sync_to_async(receive_mail)(network_mailbox, "Switch port 12 is dead")
        message = await bobs.receive_json_from(timeout=TIMEOUT)
        assert message["ticket"]["title"] == "Switch port 12 is dead"
        assert await alices.receive_nothing(timeout=0.3)

        # A mail to the Service Desk: Alice's console gets it, with its channel.
        ticket = await database_sync_to_async(receive_mail)(
            service_desk_mailbox, "Outlook asks for my password"
        )
        message = await alices.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "ticket"
        assert message["event"] == "created"
        assert message["ticket"] == {
            **message["ticket"],
            "number": ticket.number,
            "title": "Outlook asks for my password",
            "channel": Channel.EMAIL,
            "channel_label": "E-mail",
            "group_id": first_line.pk,
            "status": "new",
            "open": True,
            "assignee_id": None,
            "url": f"/console/tickets/{ticket.number}/",
        }
        assert message["ticket"]["priority_label"]
        assert await bobs.receive_nothing(timeout=0.3)
        # Carol is an agent but in neither group.
        assert await carols.receive_nothing(timeout=0.1)
        for console in consoles:
            await console.disconnect()

    run(scenario)


def test_a_ticket_from_any_channel_is_announced(team, first_line):
    alice, _bob, _carol = team

    async def scenario():
        console = await connected(alice)
        for channel in (Channel.PORTAL, Channel.PHONE, Channel.API):
            await database_sync_to_async(make_ticket)(
                title=f"By {channel}", channel=channel, group=first_line
            )
            message = await console.receive_json_from(timeout=TIMEOUT)
            assert (message["event"], message["ticket"]["channel"]) == ("created", channel)
        await console.disconnect()

    run(scenario)


def test_a_ticket_transferred_to_another_group_is_announced_to_that_group_as_moved(
    team, first_line, network_group
):
    alice, bob, _carol = team
    ticket = make_ticket(title="VPN drops every hour", group=first_line)

    async def scenario():
        alices, bobs = await connected(alice), await connected(bob)
        await database_sync_to_async(ticket_services.ticket_transfer)(
            ticket=ticket, by=alice, group=network_group, reason="A firewall rule."
        )
        message = await bobs.receive_json_from(timeout=TIMEOUT)
        assert message["event"] == "moved"
        assert message["ticket"]["number"] == ticket.number
        assert message["ticket"]["group_id"] == network_group.pk
        # The group it left is not told (its list drops the ticket at its next refresh).
        assert await alices.receive_nothing(timeout=0.3)
        await alices.disconnect()
        await bobs.disconnect()

    run(scenario)


def test_changes_that_do_not_move_a_ticket_announce_nothing(team, first_line):
    alice, _bob, _carol = team
    ticket = make_ticket(title="VPN drops every hour", group=first_line)

    async def scenario():
        console = await connected(alice)
        await database_sync_to_async(ticket_services.ticket_assign)(
            ticket=ticket, by=alice, assignee=alice
        )
        await database_sync_to_async(ticket_services.comment_add)(
            ticket=ticket, by=alice, body="Looking into it.", is_internal=True
        )
        assert await console.receive_nothing(timeout=0.3)
        await console.disconnect()

    run(scenario)


def test_the_labels_follow_the_language_of_the_agents_session(team, first_line):
    alice, _bob, _carol = team
    cookie = session_cookie_for(alice)
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore(session_key=cookie.split("=", 1)[1])
    session[LANGUAGE_SESSION_KEY] = "pl"
    session.save()

    async def scenario():
        console = WebsocketCommunicator(
            application,
            "/ws/console/",
            headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())],
        )
        ok, _code = await console.connect(timeout=TIMEOUT)
        assert ok
        assert (await console.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
        await database_sync_to_async(make_ticket)(
            title="Drukarka", channel=Channel.EMAIL, group=first_line
        )
        message = await console.receive_json_from(timeout=TIMEOUT)
        assert message["ticket"]["channel"] == "email"
        assert message["ticket"]["status_label"] == notify.ticket_labels("pl")["status"]["new"]
        await console.disconnect()

    run(scenario)


def test_announcing_a_ticket_reads_it_in_one_query(first_line, django_assert_num_queries):
    ticket = make_ticket(group=first_line)
    with django_assert_num_queries(1):
        notify.ticket_queued(ticket.pk, group_id=first_line.pk, event="created")


def test_a_ticket_is_created_while_the_channel_layer_is_down(
    settings, first_line, django_capture_on_commit_callbacks, caplog
):
    """The push fails after the commit: the ticket stays, the failure is logged."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},  # the discard port: refused
        }
    }
    with (
        caplog.at_level(logging.WARNING, logger="cti.notify"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticket = make_ticket(title="Mail while Redis is down", group=first_line)
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert "Could not announce ticket" in caplog.text
