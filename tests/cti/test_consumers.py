"""The console websocket, driven by real websocket clients (Channels' communicator).

Each test runs one async scenario in one event loop; database work goes through
``database_sync_to_async`` and the services push through the real (in-memory or Redis)
channel layer on commit, as in production.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from cti import services
from cti.consumers import ConsoleConsumer
from cti.models import AgentPresence, Call, CallEvent
from cti.selectors import user_display_name
from helpdesk.asgi import application
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
    session_cookie_for,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+48 22 555 01 01"
TIMEOUT = 3


def run(scenario):
    async_to_sync(scenario)()


def communicator_for(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/console/")
    communicator.scope["user"] = user
    return communicator


async def connected_with_hello(user) -> tuple[WebsocketCommunicator, dict]:
    """A console of ``user``, connected, and the hello message it received."""
    communicator = communicator_for(user)
    ok, _code = await communicator.connect(timeout=TIMEOUT)
    assert ok
    hello = await communicator.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "hello"
    assert hello["user_id"] == user.pk
    return communicator, hello


async def connected(user) -> WebsocketCommunicator:
    communicator, _hello = await connected_with_hello(user)
    return communicator


def ingest(pbx, kind, call_id="call-1", **kwargs):
    kwargs.setdefault("caller", CALLER)
    kwargs.setdefault("called", "+48 22 555 00 00")
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind=kind, call_id=call_id, **kwargs),
    )


@pytest.fixture
def pbx():
    return PbxFactory()


@pytest.fixture
def agents(first_line):
    """Two agents with their own extensions (201, 202)."""
    alice = make_user(Role.AGENT, username="alice")
    bob = make_user(Role.AGENT, username="bob")
    AgentExtensionFactory(user=alice, extension="201")
    AgentExtensionFactory(user=bob, extension="202")
    return alice, bob


@pytest.fixture
def caller_with_ticket():
    person = PhoneNumberFactory(raw=CALLER).person
    ticket = make_ticket(caller=person, title="VPN drops every hour")
    return person, ticket


async def refusal(communicator) -> tuple[int, str | None]:
    """The close code and reason of a refused console: accepted, then closed at once (a
    handshake refused before it is accepted reaches the browser without its code)."""
    ok, _code = await communicator.connect(timeout=TIMEOUT)
    assert ok
    message = await communicator.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close"
    return message["code"], message.get("reason")


def test_anonymous_websocket_is_refused():
    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/console/", headers=[(b"origin", b"http://localhost")]
        )
        assert await refusal(communicator) == (4403, "signed_out")

    run(scenario)


def test_end_user_cannot_connect(end_user):
    async def scenario():
        communicator = communicator_for(end_user)
        assert await refusal(communicator) == (4403, None)

    run(scenario)


def test_agent_signed_in_with_session_cookie_connects_through_the_asgi_app(agent):
    cookie = session_cookie_for(agent)

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            "/ws/console/",
            headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())],
        )
        ok, _code = await communicator.connect(timeout=TIMEOUT)
        assert ok
        hello = await communicator.receive_json_from(timeout=TIMEOUT)
        assert hello == {
            "type": "hello",
            "user_id": agent.pk,
            "presence": None,
            "calls": [],
            "team": [],
        }
        await communicator.disconnect()

    run(scenario)


def test_end_user_with_session_cookie_is_refused(end_user):
    cookie = session_cookie_for(end_user)

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            "/ws/console/",
            headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())],
        )
        assert await refusal(communicator) == (4403, None)

    run(scenario)


def test_agent_joins_own_group_and_queue_groups(agents):
    alice, bob = agents
    queue = CallQueueFactory(code="helpdesk")
    queue.members.add(alice)
    other_queue = CallQueueFactory(code="vip")
    other_queue.members.add(bob)

    async def scenario():
        console = await connected(alice)
        layer = get_channel_layer()
        payload = {"type": "cti.presence", "user_id": 99, "state": "away", "label": "Away"}
        await layer.group_send(f"queue.{queue.pk}", payload)
        assert (await console.receive_json_from(timeout=TIMEOUT))["user_id"] == 99
        await layer.group_send(f"agent.{alice.pk}", {**payload, "user_id": 98})
        assert (await console.receive_json_from(timeout=TIMEOUT))["user_id"] == 98
        # Not a member of the VIP queue: nothing arrives from it.
        await layer.group_send(f"queue.{other_queue.pk}", {**payload, "user_id": 97})
        assert await console.receive_nothing(timeout=0.3)
        await console.disconnect()

    run(scenario)


def test_ring_pops_the_card_with_open_tickets_only_on_the_rung_agents_console(
    pbx, agents, caller_with_ticket
):
    alice, bob = agents
    person, ticket = caller_with_ticket

    async def scenario():
        alice_console = await connected(alice)
        bob_console = await connected(bob)
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["201"])
        message = await alice_console.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "screen_pop"
        assert message["action"] == "show"
        assert message["call"]["state"] == "ringing"
        assert message["call"]["caller"] == person.full_name
        assert person.full_name in message["html"]
        assert ticket.number in message["html"]
        assert "VPN drops every hour" in message["html"]
        assert await bob_console.receive_nothing(timeout=0.3)
        await alice_console.disconnect()
        await bob_console.disconnect()

    run(scenario)


def test_reconnecting_console_gets_the_ringing_card_from_the_database(
    pbx, agents, caller_with_ticket
):
    alice, _bob = agents
    person, _ticket = caller_with_ticket
    # The ring happened while no console was connected: the push went nowhere.
    ingest(pbx, "ring", extensions=["201"])

    async def scenario():
        console = communicator_for(alice)
        ok, _code = await console.connect(timeout=TIMEOUT)
        assert ok
        hello = await console.receive_json_from(timeout=TIMEOUT)
        call_id = await database_sync_to_async(lambda: Call.objects.get().pk)()
        assert hello["calls"] == [call_id]
        message = await console.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "screen_pop"
        assert message["call"]["state"] == "ringing"
        assert person.full_name in message["html"]
        await console.disconnect()

    run(scenario)


def test_reconnecting_console_does_not_pop_a_call_ringing_past_the_ring_timeout(
    pbx, agents, settings
):
    alice, _bob = agents
    settings.CTI_RING_TIMEOUT = 60
    # Its hang-up was lost: it rang 90 seconds ago and the sweep has not ended it yet.
    long_ago = timezone.now() - timedelta(seconds=90)
    ingest(pbx, "ring", call_id="lost", extensions=["201"], occurred_at=long_ago)
    ingest(pbx, "ring", call_id="new", extensions=["201"])

    async def scenario():
        console, hello = await connected_with_hello(alice)
        new = await database_sync_to_async(lambda: Call.objects.get(call_id="new").pk)()
        assert hello["calls"] == [new]
        message = await console.receive_json_from(timeout=TIMEOUT)
        assert message["call"]["id"] == new
        assert await console.receive_nothing(timeout=0.3)
        await console.disconnect()

    run(scenario)


def test_answer_keeps_the_card_for_the_answering_agent_and_closes_it_for_the_others(
    pbx, agents, caller_with_ticket
):
    alice, bob = agents

    async def scenario():
        alice_console = await connected(alice)
        bob_console = await connected(bob)
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["201", "202"])
        for console in (alice_console, bob_console):
            assert (await console.receive_json_from(timeout=TIMEOUT))["type"] == "screen_pop"
        await database_sync_to_async(ingest)(pbx, "answer", answering="202")
        for_bob = await bob_console.receive_json_from(timeout=TIMEOUT)
        assert for_bob["type"] == "call_update"
        assert for_bob["action"] == "show"
        assert for_bob["call"]["state"] == "answered"
        for_alice = await alice_console.receive_json_from(timeout=TIMEOUT)
        assert for_alice["action"] == "close"
        assert for_alice["call"]["answered_by"] == bob.pk
        assert "html" not in for_alice
        # Bob's presence became busy through the event; his console hears about it.
        presence = await bob_console.receive_json_from(timeout=TIMEOUT)
        assert presence.pop("changed_at")  # since when (the after-call work's timer)
        assert presence.pop("ends_at") is None  # only after-call work ends by itself
        assert presence == {
            "type": "presence",
            "user_id": bob.pk,
            "state": "busy",
            "label": "Busy",
            "name": await database_sync_to_async(user_display_name)(bob),
            "version": 1,
        }
        await alice_console.disconnect()
        await bob_console.disconnect()

    run(scenario)


def test_the_card_of_a_call_in_progress_follows_the_callers_tickets(
    pbx, agents, caller_with_ticket
):
    """Ticket events re-push the cards of live calls: the agent on the phone sees the
    caller's ticket resolved, and a new one opened, without reloading."""
    alice, _bob = agents
    person, ticket = caller_with_ticket

    async def scenario():
        console = await connected(alice)
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["201"])
        await database_sync_to_async(ingest)(pbx, "answer", answering="201")
        pop = await console.receive_json_from(timeout=TIMEOUT)
        answered = await console.receive_json_from(timeout=TIMEOUT)
        assert (pop["type"], answered["call"]["state"]) == ("screen_pop", "answered")
        assert (await console.receive_json_from(timeout=TIMEOUT))["type"] == "presence"

        await database_sync_to_async(ticket_services.ticket_resolve)(
            ticket=ticket, by=alice, code="solved", notes="Reset the VPN profile."
        )
        card = await console.receive_json_from(timeout=TIMEOUT)
        assert (card["type"], card["action"]) == ("call_update", "show")
        assert card["call"]["state"] == "answered"
        assert "Resolved" in card["html"]
        # Only the card: the agent's presence did not change.
        assert await console.receive_nothing(timeout=0.3)

        await database_sync_to_async(make_ticket)(caller=person, title="Headset is broken")
        card = await console.receive_json_from(timeout=TIMEOUT)
        assert "Headset is broken" in card["html"]
        await console.disconnect()

    run(scenario)


def test_a_ticket_filed_from_the_card_of_a_live_call_pushes_the_card_once(
    pbx, agents, caller_with_ticket
):
    """The new ticket's event refreshes the card; the card service adds no second push."""
    from cti import console_services

    alice, _bob = agents

    async def scenario():
        console = await connected(alice)
        result = await database_sync_to_async(ingest)(pbx, "ring", extensions=["201"])
        assert (await console.receive_json_from(timeout=TIMEOUT))["type"] == "screen_pop"
        await database_sync_to_async(console_services.call_ticket_create)(
            call=result.call, by=alice, title="Headset is broken"
        )
        card = await console.receive_json_from(timeout=TIMEOUT)
        assert card["call"]["state"] == "ringing"
        assert "Headset is broken" in card["html"]
        assert await console.receive_nothing(timeout=0.3)
        await console.disconnect()

    run(scenario)


def test_tickets_of_people_not_on_the_phone_push_nothing(pbx, agents, caller_with_ticket):
    alice, _bob = agents

    async def scenario():
        console = await connected(alice)
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["201"])
        assert (await console.receive_json_from(timeout=TIMEOUT))["type"] == "screen_pop"
        await database_sync_to_async(make_ticket)(title="Someone else's printer")
        assert await console.receive_nothing(timeout=0.3)
        await console.disconnect()

    run(scenario)


def test_a_ticket_change_finds_the_live_calls_in_one_query(
    pbx, agents, caller_with_ticket, django_assert_num_queries
):
    from cti.services import ticket_events

    _person, ticket = caller_with_ticket
    ringing = ingest(pbx, "ring", call_id="ringing", extensions=["201"]).call
    ended = ingest(pbx, "ring", call_id="ended", extensions=["201"]).call
    ingest(pbx, "hangup", call_id="ended", cause="cancel")
    other = ingest(pbx, "ring", call_id="other", caller="+48 22 555 09 09").call
    other.tickets.add(ticket)  # linked to the ticket, another caller
    with django_assert_num_queries(1):
        live = ticket_events.live_calls_of_ticket(ticket.pk)
    assert live == sorted([ringing.pk, other.pk])
    assert ended.pk not in live


def test_hangup_without_answer_closes_the_card_as_missed(pbx, agents, caller_with_ticket):
    alice, _bob = agents

    async def scenario():
        console = await connected(alice)
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["201"])
        assert (await console.receive_json_from(timeout=TIMEOUT))["type"] == "screen_pop"
        await database_sync_to_async(ingest)(pbx, "hangup", cause="cancel")
        closed = await console.receive_json_from(timeout=TIMEOUT)
        assert closed["action"] == "close"
        assert closed["call"]["state"] == "ended"
        assert closed["call"]["outcome"] in {"missed", "abandoned"}
        await console.disconnect()

    run(scenario)
    call = Call.objects.get()
    assert call.outcome in {Call.Outcome.MISSED, Call.Outcome.ABANDONED}


def test_queue_ring_reaches_only_available_members_of_that_queue(pbx, agents):
    alice, bob = agents
    outsider = make_user(Role.AGENT, username="carol")
    queue = CallQueueFactory(code="helpdesk")
    queue.members.add(alice, bob)
    services.presence_set(user=alice, state=AgentPresence.State.AVAILABLE)
    services.presence_set(user=bob, state=AgentPresence.State.AWAY)

    async def scenario():
        consoles = [await connected(user) for user in (alice, bob, outsider)]
        # Alice and Bob also receive their own presence on connect? No: only in hello.
        await database_sync_to_async(ingest)(pbx, "ring", queue="helpdesk")
        popped = await consoles[0].receive_json_from(timeout=TIMEOUT)
        assert popped["type"] == "screen_pop"
        assert await consoles[1].receive_nothing(timeout=0.3)
        assert await consoles[2].receive_nothing(timeout=0.1)
        for console in consoles:
            await console.disconnect()

    run(scenario)


def test_agent_sets_presence_and_queue_colleagues_see_it(agents):
    alice, bob = agents
    queue = CallQueueFactory(code="helpdesk")
    queue.members.add(alice, bob)

    async def scenario():
        alice_console = await connected(alice)
        bob_console = await connected(bob)
        await alice_console.send_json_to({"type": "presence", "state": "available"})
        for console in (alice_console, bob_console):
            message = await console.receive_json_from(timeout=TIMEOUT)
            assert message["type"] == "presence"
            assert message["user_id"] == alice.pk
            assert message["state"] == "available"
        # Busy is set by calls only; the console cannot claim it.
        await alice_console.send_json_to({"type": "presence", "state": "busy"})
        error = await alice_console.receive_json_from(timeout=TIMEOUT)
        assert error["type"] == "error"
        await alice_console.disconnect()
        await bob_console.disconnect()

    run(scenario)
    assert AgentPresence.objects.get(user=alice).state == AgentPresence.State.AVAILABLE


def test_presence_from_the_database_is_sent_on_connect(agents):
    alice, _bob = agents
    services.presence_set(user=alice, state=AgentPresence.State.AFTER_CALL_WORK)

    async def scenario():
        console, hello = await connected_with_hello(alice)
        assert hello["presence"]["state"] == "after_call_work"
        await console.disconnect()

    run(scenario)


def test_echo_event_is_forwarded_for_the_benchmark_baseline(agents):
    alice, _bob = agents

    async def scenario():
        console = await connected(alice)
        await get_channel_layer().group_send(f"agent.{alice.pk}", {"type": "cti.echo", "seq": "7"})
        assert await console.receive_json_from(timeout=TIMEOUT) == {"type": "echo", "seq": "7"}
        await asyncio.sleep(0)
        await console.disconnect()

    run(scenario)


def test_bench_echo_endpoint_reaches_the_agents_console_when_enabled(agents, settings):
    import importlib

    from django.test import Client
    from django.urls import clear_url_caches

    import cti.urls
    import helpdesk.urls

    def urls_reload():  # the endpoint is routed when the URLs are read (at start)
        importlib.reload(cti.urls)
        importlib.reload(helpdesk.urls)
        clear_url_caches()

    alice, _bob = agents
    settings.CTI_BENCH_ENDPOINTS = True
    urls_reload()

    async def scenario():
        console = await connected(alice)
        response = await database_sync_to_async(
            lambda: Client().post(f"/cti/bench/echo/{alice.pk}/?seq=42")
        )()
        assert response.status_code == 200
        assert await console.receive_json_from(timeout=TIMEOUT) == {"type": "echo", "seq": "42"}
        await console.disconnect()

    try:
        run(scenario)
    finally:
        settings.CTI_BENCH_ENDPOINTS = False
        urls_reload()


def test_hello_lists_the_queue_colleagues_and_call_presence_reaches_them(agents, pbx):
    alice, bob = agents
    carol = make_user(Role.AGENT, username="carol", first_name="Carol", last_name="Queue")
    outsider = make_user(Role.AGENT, username="dave")
    queue = CallQueueFactory(code="helpdesk")
    queue.members.add(alice, bob, carol)
    CallQueueFactory(code="other").members.add(outsider)
    services.presence_set(user=bob, state=AgentPresence.State.AVAILABLE)

    async def scenario():
        console, hello = await connected_with_hello(alice)
        team = {member["user_id"]: member for member in hello["team"]}
        # Her queue's colleagues, not herself, not another queue's agent; never set = away.
        assert set(team) == {bob.pk, carol.pk}
        assert team[bob.pk]["state"] == "available"
        assert team[carol.pk] == {
            "user_id": carol.pk,
            "name": "Carol Queue",
            "state": "away",
            "label": "Away",
            "version": 0,
        }
        # Bob answers a call: his presence (busy, set by the event) reaches Alice too.
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["202"])
        await database_sync_to_async(ingest)(pbx, "answer", answering="202")
        message = await console.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "presence"
        assert (message["user_id"], message["state"]) == (bob.pk, "busy")
        assert message["name"] == (bob.get_full_name() or bob.username)
        await console.disconnect()

    run(scenario)
