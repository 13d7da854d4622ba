"""The AMI listener and click-to-dial against a scripted peer speaking AMI over TCP."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from cti import ami, notify
from cti.models import AgentPresence, Call, CallEvent
from tests.factories import AgentExtensionFactory, PbxFactory, PhoneNumberFactory

pytestmark = pytest.mark.django_db

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def block(**fields) -> bytes:
    return ("".join(f"{key}: {value}\r\n" for key, value in fields.items()) + "\r\n").encode()


class FakeAmiPeer:
    """An asyncio TCP server on 127.0.0.1 that behaves like Asterisk's manager interface.

    Each session gets the banner, answers Login (checking the secret), then plays the next
    script of event blocks; ``drop`` closes the connection after the script.
    """

    def __init__(self, scripts, *, secret="amisecret", drop=True):
        self.scripts = list(scripts)
        self.secret = secret
        self.drop = drop
        self.sessions = 0
        self.actions: list[dict] = []
        self.server = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self):
        self.server.close()
        await self.server.wait_closed()

    async def read_action(self, reader) -> dict:
        data = await reader.readuntil(b"\r\n\r\n")
        fields = {}
        for line in data.decode().split("\r\n"):
            if ": " in line:
                key, value = line.split(": ", 1)
                fields[key] = value
        self.actions.append(fields)
        return fields

    async def handle(self, reader, writer):
        self.sessions += 1
        writer.write(BANNER)
        try:
            login = await self.read_action(reader)
            assert login["Action"] == "Login"
            if login.get("Secret") != self.secret:
                writer.write(
                    block(
                        Response="Error",
                        ActionID=login["ActionID"],
                        Message="Authentication failed",
                    )
                )
                await writer.drain()
                writer.close()
                return
            writer.write(
                block(
                    Response="Success",
                    ActionID=login["ActionID"],
                    Message="Authentication accepted",
                )
            )
            writer.write(block(Event="FullyBooted", Privilege="system,all", Status="Fully Booted"))
            script = self.scripts.pop(0) if self.scripts else []
            for event in script:
                writer.write(block(**event))
                await writer.drain()
            if self.drop:
                writer.close()
                return
            while True:
                action = await self.read_action(reader)
                if action.get("Action") == "Originate":
                    writer.write(
                        block(
                            Response="Success",
                            ActionID=action["ActionID"],
                            Message="Originate successfully queued",
                        )
                    )
                    await writer.drain()
                elif action.get("Action") == "Logoff":
                    writer.write(block(Response="Goodbye", ActionID=action["ActionID"]))
                    await writer.drain()
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


def queue_call(linkedid, caller="+48221234567", agent="201", abandon=False):
    caller_channel = f"PJSIP/trunk-{linkedid}"
    common = {"Linkedid": linkedid, "CallerIDNum": caller, "CallerIDName": "Caller"}
    events = [
        {"Event": "Newchannel", "Channel": caller_channel, "Uniqueid": linkedid, **common},
        {
            "Event": "QueueCallerJoin",
            "Channel": caller_channel,
            "Uniqueid": linkedid,
            "Queue": "service-desk",
            "Position": "1",
            "Count": "1",
            "Exten": "100",
            **common,
        },
        {
            "Event": "AgentCalled",
            "Channel": caller_channel,
            "Uniqueid": linkedid,
            "Queue": "service-desk",
            "Interface": f"PJSIP/{agent}",
            "MemberName": f"Agent {agent}",
            "DestChannel": f"PJSIP/{agent}-0001",
            "DestCallerIDNum": agent,
            "Exten": "100",
            **common,
        },
    ]
    if abandon:
        return [
            *events,
            {
                "Event": "QueueCallerAbandon",
                "Channel": caller_channel,
                "Uniqueid": linkedid,
                "Queue": "service-desk",
                **common,
            },
            {
                "Event": "Hangup",
                "Channel": caller_channel,
                "Uniqueid": linkedid,
                "Cause": "16",
                "Cause-txt": "Normal Clearing",
                **common,
            },
        ]
    return [
        *events,
        {
            "Event": "AgentConnect",
            "Channel": caller_channel,
            "Uniqueid": linkedid,
            "Queue": "service-desk",
            "Interface": f"PJSIP/{agent}",
            "MemberName": f"Agent {agent}",
            "HoldTime": "4",
            **common,
        },
        {
            "Event": "BridgeEnter",
            "Channel": f"PJSIP/{agent}-0001",
            "Uniqueid": f"{linkedid}1",
            "BridgeNumChannels": "2",
            "Linkedid": linkedid,
            "CallerIDNum": agent,
            "ConnectedLineNum": caller,
        },
        # The agent's leg hangs up first: it must not end the call on its own ...
        {
            "Event": "Hangup",
            "Channel": f"PJSIP/{agent}-0001",
            "Uniqueid": f"{linkedid}1",
            "Linkedid": linkedid,
            "CallerIDNum": agent,
            "Cause": "16",
        },
        # ... the caller's channel (Uniqueid == Linkedid) does.
        {
            "Event": "Hangup",
            "Channel": caller_channel,
            "Uniqueid": linkedid,
            "Cause": "16",
            "Cause-txt": "Normal Clearing",
            **common,
        },
    ]


def run_listener(pbx, peer, *, until, timeout=10.0, **listener_options):
    """Run the listener against ``peer`` until ``until(listener)`` holds; return it."""

    async def scenario():
        port = await peer.start()
        pbx.ami_port = port
        listener = ami.AmiListener(pbx, initial_backoff=0.05, max_backoff=0.2, **listener_options)
        task = asyncio.create_task(listener.run())
        try:
            async with asyncio.timeout(timeout):
                while not await sync_to_async(until)(listener):
                    await asyncio.sleep(0.02)
        finally:
            listener.stop()
            await asyncio.wait_for(task, 5)
            await peer.stop()
        return listener

    return async_to_sync(scenario)()


@pytest.fixture
def asterisk():
    return PbxFactory(
        kind="asterisk", ami_host="127.0.0.1", ami_username="helpdesk", ami_secret="amisecret"
    )


def test_listener_logs_in_and_turns_a_queue_call_into_an_answered_call(asterisk, agent):
    AgentExtensionFactory(user=agent, extension="201", pbx=asterisk)
    person = PhoneNumberFactory(raw="+48 22 123 45 67").person
    peer = FakeAmiPeer([queue_call("1700000000.1")], drop=False)
    run_listener(
        asterisk,
        peer,
        until=lambda listener: Call.objects.filter(state=Call.State.ENDED).exists(),
    )
    assert peer.actions[0]["Action"] == "Login"
    assert peer.actions[0]["Username"] == "helpdesk"
    call = Call.objects.get()
    assert call.pbx == asterisk and call.call_id == "1700000000.1"
    assert call.caller_person == person
    assert call.queue_name == "service-desk"
    assert call.answered_by == agent
    assert call.outcome == Call.Outcome.ANSWERED
    assert call.hangup_cause == "normalClearing"
    assert list(call.offered_to.all()) == [agent]
    # join, agent called, agent connect, bridge enter, caller hang-up (not the agent leg)
    assert CallEvent.objects.filter(source=CallEvent.Source.AMI).count() == 5
    presence = AgentPresence.objects.get(user=agent)
    assert presence.state == AgentPresence.State.AFTER_CALL_WORK


def test_abandoned_queue_call(asterisk):
    peer = FakeAmiPeer([queue_call("1700000000.2", abandon=True)], drop=False)
    run_listener(asterisk, peer, until=lambda listener: Call.objects.filter(state="ended").exists())
    assert Call.objects.get().outcome == Call.Outcome.ABANDONED


def test_listener_reconnects_after_the_peer_drops_the_connection(asterisk, agent):
    AgentExtensionFactory(user=agent, extension="201", pbx=asterisk)
    peer = FakeAmiPeer([queue_call("first.1"), queue_call("second.1")], drop=True)
    listener = run_listener(
        asterisk,
        peer,
        until=lambda listener: Call.objects.filter(state="ended").count() == 2,
    )
    assert peer.sessions >= 2
    assert listener.sessions >= 2
    # A successful login resets the back-off: every reconnect waited the initial delay.
    assert set(listener.waits) == {0.05}
    assert set(Call.objects.values_list("call_id", flat=True)) == {"first.1", "second.1"}


def test_wrong_secret_keeps_retrying_with_growing_back_off(asterisk, caplog):
    peer = FakeAmiPeer([], secret="other")
    run_listener(asterisk, peer, until=lambda listener: peer.sessions >= 3)
    assert "login refused" in caplog.text
    assert Call.objects.count() == 0


def test_listener_waits_for_a_pbx_that_is_down(asterisk, caplog):
    async def scenario():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        asterisk.ami_port = port
        listener = ami.AmiListener(asterisk, initial_backoff=0.01, max_backoff=0.04)
        task = asyncio.create_task(listener.run())
        await asyncio.sleep(0.3)
        listener.stop()
        await asyncio.wait_for(task, 5)
        return listener

    listener = async_to_sync(scenario)()
    assert listener.sessions == 0
    assert caplog.text.count("cannot connect") >= 3
    # Exponential back-off, capped: 0.01, 0.02, 0.04, 0.04, ...
    assert listener.waits[:4] == [0.01, 0.02, 0.04, 0.04]


def test_originate_rings_the_agent_then_dials_the_number(asterisk, settings):
    settings.CTI_AMI_ORIGINATE_CHANNEL = "PJSIP/{extension}"
    settings.CTI_AMI_ORIGINATE_CONTEXT = "from-internal"
    peer = FakeAmiPeer([[]], drop=False)

    async def scenario():
        port = await peer.start()
        try:
            return await ami.originate_async(
                host="127.0.0.1",
                port=port,
                username="helpdesk",
                secret="amisecret",
                extension="201",
                number="+48221234567",
            )
        finally:
            await peer.stop()

    response = async_to_sync(scenario)()
    assert response["Response"] == "Success"
    originate = next(a for a in peer.actions if a["Action"] == "Originate")
    assert originate["Channel"] == "PJSIP/201"
    assert originate["Exten"] == "+48221234567"
    assert originate["Context"] == "from-internal"


def test_originate_helper_refuses_a_pbx_without_ami(agent):
    with pytest.raises(ami.AmiError):
        ami.originate(PbxFactory(kind="generic"), "201", "+48221234567")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PJSIP/201-0000001a", "201"),
        ("SIP/201", "201"),
        ("Local/201@from-queue/n", "201"),
        ("", ""),
    ],
)
def test_extension_of_a_channel(name, expected):
    assert ami.extension_of(name) == expected


def test_outbound_dial_from_an_agent_extension():
    event = ami.translate(
        {
            "Event": "DialBegin",
            "Linkedid": "x.1",
            "Uniqueid": "x.1",
            "CallerIDNum": "201",
            "DestChannel": "PJSIP/trunk-01",
            "DestCallerIDNum": "0601234567",
            "DialString": "trunk/0601234567",
        },
        extensions={"201"},
    )
    assert event.direction == "outbound"
    assert event.called == "0601234567"
    assert event.extensions == ("201",)


def test_events_that_are_not_calls_are_ignored():
    assert ami.translate({"Event": "PeerStatus", "Peer": "PJSIP/201"}) is None
    assert ami.translate({"Event": "VarSet", "Linkedid": "1", "Uniqueid": "1"}) is None


def test_cti_ami_command_needs_a_configured_asterisk():
    from django.core.management import CommandError, call_command

    PbxFactory(kind="generic", ami_host="127.0.0.1")
    PbxFactory(kind="asterisk", ami_host="")
    with pytest.raises(CommandError, match="No active Asterisk"):
        call_command("cti_ami")


def test_click_to_dial_call_is_outbound_from_the_agent_channel():
    # Originate rings PJSIP/2001 with the dialled number as its caller ID, then dials out.
    event = ami.translate(
        {
            "Event": "DialBegin",
            "Linkedid": "o.1",
            "Uniqueid": "o.1",
            "Channel": "PJSIP/2001-00000007",
            "CallerIDNum": "+48221234567",
            "DestChannel": "PJSIP/trunk-00000008",
            "DestCallerIDNum": "<unknown>",
            "DialString": "trunk/+48221234567",
        },
        extensions={"2001"},
    )
    assert event.direction == "outbound"
    assert event.caller == "2001"
    assert event.called == "+48221234567"
    assert event.extensions == ("2001",)


def test_queue_dialling_an_agent_through_a_local_channel_is_inbound():
    event = ami.translate(
        {
            "Event": "DialBegin",
            "Linkedid": "q.1",
            "Uniqueid": "q.2",
            "Channel": "Local/2001@from-queue-00000001;2",
            "CallerIDNum": "+48221234567",
            "DestChannel": "PJSIP/2001-00000009",
            "DestCallerIDNum": "2001",
            "Exten": "100",
        },
        extensions={"2001"},
    )
    assert event.direction == "inbound"
    assert event.caller == "+48221234567"
    assert event.extensions == ("2001",)
