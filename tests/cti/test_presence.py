"""Presence from the console against presence set by calls (issue #11, "Presence and the
console"): the console never undoes a state the PBX set after the console's last view, and
an agent on a call stays busy until its hang-up. Each change reaches a console once."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from cti import services
from cti.models import AgentPresence, Call
from helpdesk.errors import ConflictError
from helpdesk.roles import Role
from tests.cti.test_consumers import TIMEOUT, connected_with_hello, ingest, run
from tests.factories import AgentExtensionFactory, CallQueueFactory, PbxFactory, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pbx():
    return PbxFactory()


@pytest.fixture
def alice(first_line):
    user = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=user, extension="201")
    return user


def presence_of(user) -> AgentPresence:
    return AgentPresence.objects.get(user=user)


def test_every_presence_change_moves_the_version_on(alice, pbx):
    services.presence_set(user=alice, state=AgentPresence.State.AVAILABLE)
    first = presence_of(alice).version
    ingest(pbx, "ring", extensions=["201"])
    ingest(pbx, "answer", answering="201")
    busy = presence_of(alice)
    assert busy.state == AgentPresence.State.BUSY
    assert busy.version > first
    ingest(pbx, "hangup", cause="normal")
    after = presence_of(alice)
    assert after.state == AgentPresence.State.AFTER_CALL_WORK
    assert after.version > busy.version


def test_agent_on_a_call_cannot_leave_busy_from_the_console(alice, pbx):
    services.presence_set(user=alice, state=AgentPresence.State.AVAILABLE)
    ingest(pbx, "ring", extensions=["201"])
    ingest(pbx, "answer", answering="201")
    busy = presence_of(alice)
    with pytest.raises(ConflictError):
        # Even with the version the console saw last (busy): the call decides.
        services.presence_set(
            user=alice, state=AgentPresence.State.AVAILABLE, expected_version=busy.version
        )
    presence = presence_of(alice)
    assert presence.state == AgentPresence.State.BUSY
    assert presence.current_call == Call.objects.get()
    # The hang-up still finds the agent on the call: after-call work follows.
    ingest(pbx, "hangup", cause="normal")
    assert presence_of(alice).state == AgentPresence.State.AFTER_CALL_WORK


def test_console_change_from_an_older_view_does_not_undo_the_pbx(alice, pbx):
    services.presence_set(user=alice, state=AgentPresence.State.AWAY)
    seen = presence_of(alice).version
    ingest(pbx, "ring", extensions=["201"])
    ingest(pbx, "answer", answering="201")
    ingest(pbx, "hangup", cause="normal")
    with pytest.raises(ConflictError) as refused:
        services.presence_set(
            user=alice, state=AgentPresence.State.AVAILABLE, expected_version=seen
        )
    assert refused.value.current_version == presence_of(alice).version
    assert presence_of(alice).state == AgentPresence.State.AFTER_CALL_WORK
    # From the current view the agent may change it.
    services.presence_set(
        user=alice,
        state=AgentPresence.State.AVAILABLE,
        expected_version=presence_of(alice).version,
    )
    assert presence_of(alice).state == AgentPresence.State.AVAILABLE


def test_console_available_sent_as_the_call_is_answered_leaves_the_agent_busy(alice, pbx):
    """The race of the issue: the console chose "available" from its view (away) while the
    PBX's answer made the agent busy. The console gets the current presence back."""
    services.presence_set(user=alice, state=AgentPresence.State.AWAY)

    async def scenario():
        console, hello = await connected_with_hello(alice)
        seen = hello["presence"]["version"]
        await database_sync_to_async(ingest)(pbx, "ring", extensions=["201"])
        await database_sync_to_async(ingest)(pbx, "answer", answering="201")
        await console.send_json_to({"type": "presence", "state": "available", "version": seen})
        messages = []
        while True:
            message = await console.receive_json_from(timeout=TIMEOUT)
            messages.append(message)
            if message["type"] == "error":
                break
        own = [m for m in messages if m["type"] == "presence" and m["user_id"] == alice.pk]
        # The refusal is followed by (or crossed with) the busy the console missed.
        assert own
        assert own[-1]["state"] == "busy"
        assert messages[-1]["code"] == "presence_conflict"
        assert messages[-1]["error"]
        await console.disconnect()

    run(scenario)
    presence = presence_of(alice)
    assert presence.state == AgentPresence.State.BUSY
    assert presence.current_call_id == Call.objects.get().pk
    ingest(pbx, "hangup", cause="normal")
    assert presence_of(alice).state == AgentPresence.State.AFTER_CALL_WORK


@pytest.fixture
def bob():
    user = make_user(Role.AGENT, username="bob")
    AgentExtensionFactory(user=user, extension="202")
    return user


async def presence_messages(console) -> list[dict]:
    """Every presence message the console receives until it is quiet."""
    messages = []
    while not await console.receive_nothing(timeout=0.5):
        message = await console.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "presence":
            messages.append(message)
    return messages


def test_a_presence_change_reaches_each_console_once_however_many_queues_they_share(
    alice, bob, pbx
):
    """Alice and Bob share three queues: Alice's change and the busy of Bob's call arrive
    once on each console, not once per queue."""
    for code in ("helpdesk", "vip", "printers"):
        CallQueueFactory(code=code).members.add(alice, bob)
    services.presence_set(user=bob, state=AgentPresence.State.AVAILABLE)

    async def scenario():
        alice_console, _hello = await connected_with_hello(alice)
        bob_console, _hello = await connected_with_hello(bob)
        await alice_console.send_json_to({"type": "presence", "state": "available"})
        for console in (alice_console, bob_console):
            received = await presence_messages(console)
            assert [(m["user_id"], m["state"]) for m in received] == [(alice.pk, "available")]

        await database_sync_to_async(ingest)(pbx, "ring", extensions=["202"])
        await database_sync_to_async(ingest)(pbx, "answer", answering="202")
        for console in (alice_console, bob_console):
            received = await presence_messages(console)
            assert [(m["user_id"], m["state"]) for m in received] == [(bob.pk, "busy")]
        await alice_console.disconnect()
        await bob_console.disconnect()

    run(scenario)
