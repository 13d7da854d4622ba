"""The supervisors' wallboard: the snapshot's figures, who may see it and set presence, and
its websocket (a real client: a ring and an answer each push a snapshot, a burst is
coalesced)."""

from __future__ import annotations

import asyncio
import time as clock
from datetime import datetime, time, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cti import notify, services
from cti.consumers import WallboardConsumer
from cti.models import AgentPresence, Call, CallEvent
from cti.wallboard import day_start, wallboard_snapshot
from helpdesk.asgi import application
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_user,
)

TIMEOUT = 3


def noon_today() -> datetime:
    """Midday of the local day: "today" and "the last 15 minutes" stay inside the day."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), time(12)))


def make_call(now, *, started=60, answered_after=None, ended_after=None, outcome="", **kwargs):
    """A call that started ``started`` seconds before ``now``, answered and ended so many
    seconds after its start (None: not)."""
    started_at = now - timedelta(seconds=started)
    state = Call.State.RINGING
    if answered_after is not None:
        state = Call.State.ANSWERED
    if ended_after is not None:
        state = Call.State.ENDED
    return Call.objects.create(
        call_id=kwargs.pop("call_id", None) or f"c-{Call.objects.count()}-{started}",
        started_at=started_at,
        answered_at=started_at + timedelta(seconds=answered_after)
        if answered_after is not None
        else None,
        ended_at=started_at + timedelta(seconds=ended_after) if ended_after is not None else None,
        state=state,
        outcome=outcome,
        **kwargs,
    )


def presence(user, state, *, since=None, call=None):
    return AgentPresence.objects.create(
        user=user,
        state=state,
        changed_at=since or timezone.now(),
        current_call=call,
        version=3,
    )


# --- the snapshot ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_today_counts_and_service_level_are_of_inbound_calls_of_the_local_day(settings):
    settings.SLA_CALL_ANSWER_SECONDS = 20
    now = noon_today()
    answered = Call.Outcome.ANSWERED
    make_call(now, started=3000, answered_after=10, ended_after=100, outcome=answered)  # in time
    make_call(now, started=2000, answered_after=30, ended_after=100, outcome=answered)  # late
    make_call(now, started=1000, ended_after=25, outcome=Call.Outcome.MISSED)
    make_call(now, started=900, ended_after=5, outcome=Call.Outcome.ABANDONED)
    make_call(now, started=30, answered_after=5)  # talking now: answered, not ended yet
    # Not counted: yesterday's call, an outbound call, a call ringing now is not ended.
    make_call(
        now,
        started=int((now - day_start(now)).total_seconds()) + 60,
        answered_after=3,
        ended_after=50,
        outcome=answered,
    )
    make_call(
        now,
        started=500,
        answered_after=3,
        ended_after=50,
        outcome=answered,
        direction=Call.Direction.OUTBOUND,
    )
    make_call(now, started=5)

    today = wallboard_snapshot(now=now)["today"]

    assert (today["answered"], today["missed"], today["abandoned"]) == (3, 1, 1)
    assert today["ended"] == 4
    assert today["answered_in_time"] == 1
    assert today["service_level"] == 25.0
    assert today["answer_seconds"] == 20


@pytest.mark.django_db
def test_service_level_follows_the_answer_setting(settings):
    now = noon_today()
    make_call(now, started=3000, answered_after=25, ended_after=100, outcome="answered")
    settings.SLA_CALL_ANSWER_SECONDS = 20
    assert wallboard_snapshot(now=now)["today"]["service_level"] == 0.0
    settings.SLA_CALL_ANSWER_SECONDS = 30
    assert wallboard_snapshot(now=now)["today"]["service_level"] == 100.0


@pytest.mark.django_db
def test_no_calls_today_has_no_service_level():
    assert wallboard_snapshot(now=noon_today())["today"]["service_level"] is None


@pytest.mark.django_db
def test_agents_show_their_presence_since_when_and_whom_they_talk_to(first_line):
    now = timezone.now()
    queue = CallQueueFactory(name="Service desk")
    alice = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    bob = make_user(Role.AGENT, username="bob", first_name="Bob", last_name="Busy")
    carol = make_user(Role.AGENT, username="carol", first_name="Carol", last_name="Caller")
    dave = make_user(Role.AGENT, username="dave", first_name="Dave", last_name="Never")
    make_user(Role.AGENT, username="erin")  # in no queue and no presence: not an agent here
    queue.members.add(alice, bob, carol, dave)
    caller = PhoneNumberFactory(raw="+48 22 555 01 01", person__full_name="Anna Nowak").person
    known = make_call(now, started=200, answered_after=10, caller_person=caller)
    unknown = make_call(
        now, started=100, answered_after=10, caller_number="0225550102", caller_e164="+48225550102"
    )
    presence(alice, AgentPresence.State.BUSY, since=now - timedelta(seconds=190), call=known)
    presence(bob, AgentPresence.State.BUSY, since=now - timedelta(seconds=90), call=unknown)
    presence(carol, AgentPresence.State.AFTER_CALL_WORK, since=now - timedelta(seconds=42))

    agents = {agent["name"]: agent for agent in wallboard_snapshot(now=now)["agents"]}

    assert list(agents) == ["Alice Agent", "Bob Busy", "Carol Caller", "Dave Never"]
    assert agents["Alice Agent"]["state"] == "busy"
    assert agents["Alice Agent"]["call_with"] == "Anna Nowak"
    assert agents["Alice Agent"]["since"] == (now - timedelta(seconds=190)).isoformat()
    assert agents["Bob Busy"]["call_with"] == "+48 22 555 01 02"
    assert agents["Carol Caller"]["label"] == "After-call work"
    assert agents["Carol Caller"]["call_with"] == ""
    assert agents["Dave Never"]["state"] == "offline"
    assert agents["Dave Never"]["since"] is None
    assert agents["Dave Never"]["queues"] == [queue.pk]


@pytest.mark.django_db
def test_queue_waiting_longest_wait_and_the_unstaffed_alarm(first_line, settings):
    settings.CTI_RING_TIMEOUT = 180
    now = timezone.now()
    staffed = CallQueueFactory(name="Staffed")
    empty = CallQueueFactory(name="Unstaffed")
    alice = make_user(Role.AGENT, username="alice")
    bob = make_user(Role.AGENT, username="bob")
    staffed.members.add(alice)
    empty.members.add(bob)
    presence(alice, AgentPresence.State.AVAILABLE)
    presence(bob, AgentPresence.State.AWAY)
    make_call(now, started=40, queue=staffed)
    oldest = make_call(now, started=75, queue=staffed)
    make_call(now, started=500, queue=staffed)  # lost its hang-up (past the ring timeout)
    make_call(now, started=20, answered_after=5, queue=staffed)  # talking
    make_call(now, started=10, queue=empty)

    snapshot = wallboard_snapshot(now=now)
    queues = {queue["name"]: queue for queue in snapshot["queues"]}

    assert queues["Staffed"]["waiting"] == 2
    assert queues["Staffed"]["longest_wait_since"] == oldest.started_at.isoformat()
    assert queues["Staffed"]["talking"] == 1
    assert (queues["Staffed"]["available"], queues["Staffed"]["members"]) == (1, 1)
    assert queues["Staffed"]["alarm"] is False
    assert queues["Unstaffed"]["waiting"] == 1
    assert queues["Unstaffed"]["alarm"] is True
    assert [alarm["kind"] for alarm in snapshot["alarms"]] == ["queue_unstaffed"]
    assert "Unstaffed" in snapshot["alarms"][0]["text"]


@pytest.mark.django_db
def test_no_unstaffed_alarm_without_callers_waiting(first_line):
    queue = CallQueueFactory(name="Night")
    bob = make_user(Role.AGENT, username="bob")
    queue.members.add(bob)
    presence(bob, AgentPresence.State.AWAY)
    snapshot = wallboard_snapshot()
    assert snapshot["queues"][0]["alarm"] is False
    assert snapshot["alarms"] == []


def lost_calls(now, *, answered: int, lost: int, ended_minutes_ago: float = 5):
    for number in range(answered + lost):
        is_lost = number < lost
        make_call(
            now,
            started=int(ended_minutes_ago * 60) + 30,
            answered_after=None if is_lost else 5,
            ended_after=30,
            outcome=Call.Outcome.MISSED if is_lost else Call.Outcome.ANSWERED,
            call_id=f"w-{ended_minutes_ago}-{number}",
        )


@pytest.mark.django_db
def test_lost_call_alarm_above_the_threshold_with_enough_calls(settings):
    settings.CTI_WALLBOARD_LOST_ALARM_PERCENT = 20
    settings.CTI_WALLBOARD_LOST_ALARM_MIN_CALLS = 5
    now = noon_today()
    lost_calls(now, answered=3, lost=2)  # 40% of 5

    snapshot = wallboard_snapshot(now=now)

    assert snapshot["today"]["lost_share"] == 40.0
    assert snapshot["today"]["lost_alarm"] is True
    assert [alarm["kind"] for alarm in snapshot["alarms"]] == ["lost_calls"]
    assert "2 of 5 calls lost in the last 15 minutes" in snapshot["alarms"][0]["text"]


@pytest.mark.django_db
def test_no_lost_call_alarm_below_the_minimum_number_of_calls(settings):
    settings.CTI_WALLBOARD_LOST_ALARM_PERCENT = 20
    settings.CTI_WALLBOARD_LOST_ALARM_MIN_CALLS = 5
    now = noon_today()
    lost_calls(now, answered=2, lost=2)  # 50%, but only 4 calls: one bad minute at night

    today = wallboard_snapshot(now=now)["today"]

    assert today["lost_share"] == 50.0
    assert today["lost_alarm"] is False


@pytest.mark.django_db
def test_no_lost_call_alarm_at_or_below_the_threshold_nor_for_older_calls(settings):
    settings.CTI_WALLBOARD_LOST_ALARM_PERCENT = 20
    settings.CTI_WALLBOARD_LOST_ALARM_MIN_CALLS = 5
    now = noon_today()
    lost_calls(now, answered=8, lost=2)  # exactly 20%: not above
    lost_calls(now, answered=0, lost=6, ended_minutes_ago=20)  # outside the window

    today = wallboard_snapshot(now=now)["today"]

    assert (today["window_lost"], today["window_calls"]) == (2, 10)
    assert today["lost_alarm"] is False
    assert today["missed"] == 8  # today counts them all


@pytest.mark.django_db
def test_snapshot_queries_do_not_grow_with_agents_queues_and_calls(first_line):
    now = timezone.now()

    def build(size: int, offset: int) -> None:
        queue = CallQueueFactory(name=f"Queue {offset}")
        for number in range(size):
            user = make_user(Role.AGENT, username=f"agent-{offset}-{number}")
            queue.members.add(user)
            call = make_call(now, started=30 + number, answered_after=5, queue=queue)
            presence(user, AgentPresence.State.BUSY, call=call)
            make_call(now, started=10 + number, queue=queue)
            make_call(now, started=900, ended_after=20, outcome="missed", queue=queue)

    build(1, 0)
    with CaptureQueriesContext(connection) as small:
        wallboard_snapshot(now=now)
    build(15, 1)
    with CaptureQueriesContext(connection) as large:
        snapshot = wallboard_snapshot(now=now)
    assert len(snapshot["agents"]) == 16
    assert len(large.captured_queries) == len(small.captured_queries) <= 5


# --- the page and the presence change ----------------------------------------------------------


def received_by(groups: list[str], action) -> dict[str, list[dict]]:
    """Run ``action`` (in the test's thread: it sees the test's transaction) and collect what
    each group received through the channel layer; one event loop throughout, as the Redis
    pub/sub layer keeps one connection per loop (see tests/cti/test_notify.py)."""

    async def scenario():
        layer = get_channel_layer()
        channels = {group: await layer.new_channel() for group in groups}
        for group, channel in channels.items():
            await layer.group_add(group, channel)
        await sync_to_async(action)()
        received = {}
        for group, channel in channels.items():
            received[group] = []
            while True:
                try:
                    received[group].append(await asyncio.wait_for(layer.receive(channel), 0.3))
                except TimeoutError:
                    break
            await layer.group_discard(group, channel)
        return received

    return async_to_sync(scenario)()


@pytest.mark.django_db
def test_wallboard_page_is_for_supervisors_only(client, agent, manager, end_user):
    url = reverse("cti:wallboard")
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for refused in (agent, end_user):
        client.force_login(refused)
        assert client.get(url).status_code == 403
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code == 200
    assert b'data-ws-path="/ws/wallboard/"' in response.content
    assert b'data-testid="nav-wallboard"' in response.content


@pytest.mark.django_db
def test_agents_do_not_see_the_wallboard_in_the_navbar(client, agent):
    client.force_login(agent)
    assert b"nav-wallboard" not in client.get(reverse("cti:call_log")).content


@pytest.mark.django_db
def test_supervisor_sets_an_agents_presence_and_the_agents_console_is_told(
    client, manager, agent, django_capture_on_commit_callbacks
):
    queue = CallQueueFactory()
    queue.members.add(agent)
    presence(agent, AgentPresence.State.AWAY)
    client.force_login(manager)
    answers = []

    def change():
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(
                client.post(
                    reverse("cti:wallboard_presence_set", args=[agent.pk]),
                    {"state": "available", "version": "3"},
                )
            )

    received = received_by([notify.agent_group(agent.pk), notify.WALLBOARD_GROUP], change)

    assert answers[0].status_code == 200
    assert answers[0].json() == {"user_id": agent.pk, "state": "available", "version": 4}
    assert AgentPresence.objects.get(user=agent).state == AgentPresence.State.AVAILABLE
    [pushed] = received[notify.agent_group(agent.pk)]
    assert (pushed["type"], pushed["state"], pushed["version"]) == ("cti.presence", "available", 4)
    assert notify.WALLBOARD_CHANGED in received[notify.WALLBOARD_GROUP]


@pytest.mark.django_db
def test_an_agents_own_choice_and_the_end_of_after_call_work_nudge_the_wallboards(
    agent, settings, django_capture_on_commit_callbacks
):
    settings.CTI_AFTER_CALL_WORK_SECONDS = 60

    def choose():
        with django_capture_on_commit_callbacks(execute=True):
            services.presence_set(user=agent, state=AgentPresence.State.AFTER_CALL_WORK)

    received = received_by([notify.WALLBOARD_GROUP], choose)
    assert received[notify.WALLBOARD_GROUP] == [notify.WALLBOARD_CHANGED]

    def end_due():
        with django_capture_on_commit_callbacks(execute=True):
            ended = services.after_call_work_end_due(now=timezone.now() + timedelta(seconds=61))
        assert ended == [agent.pk]

    received = received_by([notify.WALLBOARD_GROUP], end_due)
    assert received[notify.WALLBOARD_GROUP] == [notify.WALLBOARD_CHANGED]


@pytest.mark.django_db
def test_nothing_is_nudged_for_a_rolled_back_presence_change(
    agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                services.presence_set(user=agent, state=AgentPresence.State.AVAILABLE)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []


@pytest.mark.django_db
def test_supervisor_presence_change_is_refused_to_non_supervisors(client, agent, engineer):
    presence(engineer, AgentPresence.State.AWAY)
    client.force_login(agent)
    response = client.post(
        reverse("cti:wallboard_presence_set", args=[engineer.pk]), {"state": "available"}
    )
    assert response.status_code == 403
    assert AgentPresence.objects.get(user=engineer).state == AgentPresence.State.AWAY
    client.logout()
    response = client.post(
        reverse("cti:wallboard_presence_set", args=[engineer.pk]), {"state": "available"}
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_supervisor_cannot_take_an_agent_off_a_call_or_set_busy(client, manager, agent, end_user):
    call = make_call(timezone.now(), started=30, answered_after=5)
    presence(agent, AgentPresence.State.BUSY, call=call)
    client.force_login(manager)
    url = reverse("cti:wallboard_presence_set", args=[agent.pk])

    response = client.post(url, {"state": "available"})
    assert response.status_code == 409
    assert "on a call" in response.json()["error"]
    assert client.post(url, {"state": "busy"}).status_code == 400
    assert AgentPresence.objects.get(user=agent).state == AgentPresence.State.BUSY
    # Somebody who answers no calls is no agent here.
    target = reverse("cti:wallboard_presence_set", args=[end_user.pk])
    assert client.post(target, {"state": "available"}).status_code == 404


@pytest.mark.django_db
def test_supervisor_change_over_a_newer_presence_is_refused(client, manager, agent):
    presence(agent, AgentPresence.State.AWAY)  # version 3
    client.force_login(manager)
    response = client.post(
        reverse("cti:wallboard_presence_set", args=[agent.pk]),
        {"state": "available", "version": "2"},
    )
    assert response.status_code == 409
    assert response.json()["version"] == 3


# --- the websocket -------------------------------------------------------------------------------


def run(scenario):
    async_to_sync(scenario)()


def wallboard_for(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(WallboardConsumer.as_asgi(), "/ws/wallboard/")
    communicator.scope["user"] = user
    return communicator


async def snapshot_from(communicator) -> dict:
    message = await communicator.receive_json_from(timeout=TIMEOUT)
    assert message["type"] == "snapshot"
    return message


def ingest(pbx, kind, call_id="call-1", **kwargs):
    kwargs.setdefault("caller", "+48 22 555 01 01")
    kwargs.setdefault("called", "+48 22 555 00 00")
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind=kind, call_id=call_id, **kwargs),
    )


@pytest.fixture
def desk(first_line):
    alice = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    AgentExtensionFactory(user=alice, extension="201")
    queue = CallQueueFactory(code="helpdesk", name="Helpdesk")
    queue.members.add(alice)
    services.presence_set(user=alice, state=AgentPresence.State.AVAILABLE)
    return {"alice": alice, "queue": queue, "pbx": PbxFactory()}


@pytest.mark.django_db(transaction=True)
def test_websocket_refuses_anonymous_and_non_supervisors(agent):
    async def refusal(communicator):
        ok, _code = await communicator.connect(timeout=TIMEOUT)
        assert ok
        message = await communicator.receive_output(timeout=TIMEOUT)
        assert message["type"] == "websocket.close"
        return message["code"], message.get("reason")

    async def scenario():
        anonymous = WebsocketCommunicator(
            application, "/ws/wallboard/", headers=[(b"origin", b"http://localhost")]
        )
        assert await refusal(anonymous) == (4403, "signed_out")
        assert await refusal(wallboard_for(agent)) == (4403, None)

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_ring_and_an_answer_each_push_a_snapshot(desk, manager):
    alice, pbx = desk["alice"], desk["pbx"]

    async def scenario():
        wallboard = wallboard_for(manager)
        ok, _code = await wallboard.connect(timeout=TIMEOUT)
        assert ok
        first = await snapshot_from(wallboard)
        assert first["queues"][0]["waiting"] == 0

        await database_sync_to_async(ingest)(pbx, "ring", queue="helpdesk")
        ringing = await snapshot_from(wallboard)
        assert ringing["queues"][0]["waiting"] == 1
        assert ringing["queues"][0]["longest_wait_since"] is not None

        await database_sync_to_async(ingest)(pbx, "answer", answering="201")
        answered = await snapshot_from(wallboard)
        assert answered["queues"][0]["waiting"] == 0
        assert answered["queues"][0]["talking"] == 1
        [agent] = answered["agents"]
        assert (agent["user_id"], agent["state"]) == (alice.pk, "busy")
        assert "555" in agent["call_with"]
        assert await wallboard.receive_nothing(timeout=1.2)
        await wallboard.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_rings_is_coalesced_into_few_snapshots(desk, manager):
    pbx = desk["pbx"]
    rings = 20

    async def scenario():
        wallboard = wallboard_for(manager)
        ok, _code = await wallboard.connect(timeout=TIMEOUT)
        assert ok
        await snapshot_from(wallboard)
        started = clock.monotonic()
        for number in range(rings):
            await database_sync_to_async(ingest)(
                pbx, "ring", call_id=f"burst-{number}", queue="helpdesk"
            )
        elapsed = clock.monotonic() - started
        # And a burst of bare nudges, as fast as the layer carries them.
        layer = get_channel_layer()
        for _number in range(100):
            await layer.group_send(notify.WALLBOARD_GROUP, notify.WALLBOARD_CHANGED)
        snapshots = []
        # Until a quiet 1.5 s (longer than the interval: nothing more is coming).
        while not await wallboard.receive_nothing(timeout=1.5):
            snapshots.append(await snapshot_from(wallboard))
        await wallboard.disconnect()
        return snapshots, elapsed

    snapshots, elapsed = async_to_sync(scenario)()
    # At most one snapshot per second of the burst, and one at each end of it.
    assert 1 <= len(snapshots) <= int(elapsed) + 3
    assert len(snapshots) < rings
    assert snapshots[-1]["queues"][0]["waiting"] == rings
