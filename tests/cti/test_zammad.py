"""The Zammad-compatible generic CTI endpoint: POST /api/v1/cti/<token>."""

import logging

import pytest

from cti import notify
from cti.models import AgentPresence, BlockedNumber, Call, CallEvent
from helpdesk.roles import Role
from tests.factories import AgentExtensionFactory, PbxFactory, PhoneNumberFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


@pytest.fixture
def pbx():
    return PbxFactory(token="zammad-token", kind="zammad")


URL = "/api/v1/cti/zammad-token"

NEW_CALL = {
    "event": "newCall",
    "from": "0221234567",
    "to": "4930600000000",
    "direction": "in",
    "callId": "4991155921769858278-1",
    "user[]": ["agent"],
}


def test_form_encoded_new_call_answer_hangup(client, pbx, agent):
    AgentExtensionFactory(user=agent, extension="201")
    person = PhoneNumberFactory(raw="+48 22 123 45 67").person
    response = client.post(URL, NEW_CALL)
    assert response.status_code == 200
    assert response.json() == {}
    call = Call.objects.get()
    assert call.state == Call.State.RINGING and call.caller_person == person
    assert list(call.offered_to.all()) == [agent]
    assert CallEvent.objects.get().source == CallEvent.Source.ZAMMAD

    response = client.post(
        URL,
        {
            "event": "answer",
            "from": "0221234567",
            "to": "4930600000000",
            "direction": "in",
            "callId": NEW_CALL["callId"],
            "user": "agent",
            "answeringNumber": "201",
        },
    )
    assert response.json() == {}
    call.refresh_from_db()
    assert call.state == Call.State.ANSWERED and call.answered_by == agent
    assert AgentPresence.objects.get(user=agent).state == AgentPresence.State.BUSY

    client.post(
        URL,
        {
            "event": "hangup",
            "direction": "in",
            "callId": NEW_CALL["callId"],
            "cause": "normalClearing",
        },
    )
    call.refresh_from_db()
    assert call.state == Call.State.ENDED and call.outcome == Call.Outcome.ANSWERED


def test_json_body_with_a_single_user_string(client, pbx, agent):
    response = client.post(
        URL,
        {**NEW_CALL, "user[]": None, "user": "agent"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert list(Call.objects.get().offered_to.all()) == [agent]


def test_repeated_user_rings_every_named_agent(client, pbx, agent):
    second = make_user(Role.AGENT, username="agent2")
    client.post(URL, {**NEW_CALL, "user[]": ["agent", "agent2"]})
    assert set(Call.objects.get().offered_to.all()) == {agent, second}


def test_json_with_user_list(client, pbx, agent):
    second = make_user(Role.AGENT, username="agent2")
    body = {**NEW_CALL, "user": ["agent", "agent2"]}
    del body["user[]"]
    client.post(URL, body, content_type="application/json")
    assert set(Call.objects.get().offered_to.all()) == {agent, second}


def test_unanswered_call_hung_up_by_the_caller_is_abandoned(client, pbx):
    client.post(URL, NEW_CALL)
    client.post(
        URL, {"event": "hangup", "direction": "in", "callId": NEW_CALL["callId"], "cause": "cancel"}
    )
    assert Call.objects.get().outcome == Call.Outcome.ABANDONED


def test_no_answer_is_a_missed_call(client, pbx):
    client.post(URL, NEW_CALL)
    client.post(
        URL,
        {"event": "hangup", "direction": "in", "callId": NEW_CALL["callId"], "cause": "noAnswer"},
    )
    assert Call.objects.get().outcome == Call.Outcome.MISSED


def test_outbound_call_shows_the_dialled_person(client, pbx, agent):
    person = PhoneNumberFactory(raw="+48 601 234 567").person
    client.post(
        URL,
        {
            "event": "newCall",
            "from": "201",
            "to": "0048601234567",
            "direction": "out",
            "callId": "out-1",
            "user": "agent",
        },
    )
    call = Call.objects.get()
    assert call.direction == Call.Direction.OUTBOUND
    assert call.caller_person == person
    assert list(call.offered_to.all()) == [agent]


def test_bad_token_is_401_as_zammad_answers(client, pbx, caplog):
    with caplog.at_level(logging.WARNING, logger="cti.api"):
        response = client.post("/api/v1/cti/wrong", NEW_CALL)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token, please contact your admin!"}
    assert "invalid token" in caplog.text
    assert Call.objects.count() == 0


@pytest.mark.parametrize("direction", ["sideways", "", None])
def test_invalid_direction_is_422_as_zammad_answers(client, pbx, direction):
    data = {**NEW_CALL, "direction": direction} if direction is not None else dict(NEW_CALL)
    if direction is None:
        del data["direction"]
    response = client.post(URL, data)
    assert response.status_code == 422
    assert response.json() == {"error": "Invalid direction!"}
    assert Call.objects.count() == 0


def test_unknown_event_is_422_with_a_clear_error(client, pbx, caplog):
    with caplog.at_level(logging.WARNING, logger="cti.api"):
        response = client.post(URL, {**NEW_CALL, "event": "transfer"})
    assert response.status_code == 422
    assert "transfer" in response.json()["error"]
    assert "transfer" in caplog.text


def test_blocked_number_gets_reject_busy(client, pbx):
    BlockedNumber.objects.create(e164="+48221234567")
    response = client.post(URL, NEW_CALL)
    assert response.status_code == 200
    assert response.json() == {"action": "reject", "reason": "busy"}
    assert Call.objects.get().outcome == Call.Outcome.REJECTED
    # A redelivered newCall is rejected again; the hang-up that follows just gets {}.
    assert client.post(URL, NEW_CALL).json() == {"action": "reject", "reason": "busy"}
    hangup = {"event": "hangup", "direction": "in", "callId": NEW_CALL["callId"], "cause": "busy"}
    assert client.post(URL, hangup).json() == {}


def test_same_new_call_twice_is_stored_once(client, pbx):
    client.post(URL, NEW_CALL)
    client.post(URL, NEW_CALL)
    assert CallEvent.objects.count() == 1
    assert Call.objects.count() == 1


def test_get_is_not_allowed(client, pbx):
    assert client.get(URL).status_code == 405


def test_user_may_be_named_by_full_name(client, pbx, agent):
    agent.person.full_name = "Anna Nowak"
    agent.person.save()
    client.post(URL, {**NEW_CALL, "user[]": ["Anna Nowak"]})
    assert list(Call.objects.get().offered_to.all()) == [agent]


def test_an_empty_user_is_no_user_and_the_queue_is_offered(client, pbx, agent):
    # Zammad's spec sends "user=" with a queue: the ring goes to the queue's members.
    from cti.models import AgentPresence
    from tests.factories import CallQueueFactory

    queue = CallQueueFactory(code="some_queue_name")
    queue.members.add(agent)
    AgentPresence.objects.create(user=agent, state=AgentPresence.State.AVAILABLE)
    data = {**NEW_CALL, "user": "", "queue": "some_queue_name"}
    del data["user[]"]
    assert client.post(URL, data).json() == {}
    call = Call.objects.get()
    assert call.queue == queue
    assert list(call.offered_to.all()) == [agent]
    assert CallEvent.objects.get().payload["user"] == []


def test_a_late_answer_after_the_hangup_leaves_a_missed_call_missed(client, pbx, agent):
    client.post(URL, NEW_CALL)
    hangup = {"event": "hangup", "direction": "in", "callId": NEW_CALL["callId"]}
    client.post(URL, {**hangup, "cause": "noAnswer"})
    answer = {"event": "answer", "direction": "in", "callId": NEW_CALL["callId"], "user": "agent"}
    assert client.post(URL, answer).json() == {}
    call = Call.objects.get()
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.MISSED)
    assert call.answered_by is None
    assert CallEvent.objects.filter(kind="answer").count() == 1


def _answer(**extra):
    return {"event": "answer", "direction": "in", "callId": NEW_CALL["callId"], **extra}


def test_an_answer_by_voicemail_is_a_missed_call_that_needs_a_call_back(client, pbx, agent):
    from cti.selectors import missed_calls

    client.post(URL, NEW_CALL)
    assert client.post(URL, _answer(user="voicemail")).json() == {}
    call = Call.objects.get()
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.MISSED)
    assert call.hangup_cause == "voicemail" and call.answered_by is None
    client.post(URL, {**_answer(cause="normalClearing"), "event": "hangup"})
    call.refresh_from_db()
    assert call.outcome == Call.Outcome.MISSED
    assert list(missed_calls()) == [call]
    assert not AgentPresence.objects.filter(state=AgentPresence.State.BUSY).exists()


def test_an_answer_by_a_voicemail_box_the_admin_lists_is_missed(client, pbx, agent):
    from cti.models import VoicemailBox

    VoicemailBox.objects.create(pbx=pbx, number="8000", name="Service desk mailbox")
    client.post(URL, NEW_CALL)
    client.post(URL, _answer(answeringNumber="8000"))
    call = Call.objects.get()
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.MISSED)
    assert call.hangup_cause == "voicemail"


def test_another_pbxs_voicemail_box_is_an_ordinary_answer(client, pbx, agent):
    from cti.models import VoicemailBox

    AgentExtensionFactory(user=agent, extension="8000")
    VoicemailBox.objects.create(pbx=PbxFactory(), number="8000")
    client.post(URL, NEW_CALL)
    client.post(URL, _answer(answeringNumber="8000"))
    call = Call.objects.get()
    assert (call.state, call.answered_by) == (Call.State.ANSWERED, agent)


@pytest.mark.parametrize("direction", ["inbound", "outbound", "IN"])
def test_only_zammads_directions_in_and_out_are_accepted(client, pbx, direction):
    response = client.post(URL, {**NEW_CALL, "direction": direction})
    assert response.status_code == 422
    assert response.json() == {"error": "Invalid direction!"}
    assert Call.objects.count() == 0


def test_a_disabled_pbx_connection_says_so_and_a_wrong_token_stays_401(client, pbx, caplog):
    pbx.is_active = False
    pbx.save()
    with caplog.at_level(logging.WARNING, logger="cti.api"):
        response = client.post(URL, NEW_CALL)
    assert response.status_code == 422
    assert response.json() == {"error": "Feature is disabled, please contact your administrator!"}
    assert "disabled" in caplog.text and pbx.name in caplog.text
    assert Call.objects.count() == 0 and CallEvent.objects.count() == 0
    assert client.post("/api/v1/cti/wrong", NEW_CALL).status_code == 401
    assert client.get(URL + "/route", {"from": "+48221234567"}).status_code == 422


OUTBOUND = {
    "event": "newCall",
    "direction": "out",
    "from": "4930600000000",
    "user": "user 1",
}


def test_outbound_call_gets_the_caller_id_of_the_longest_matching_prefix(client, pbx):
    from cti.models import OutboundCallerIdRule

    for prefix, caller_id in [
        ("", "4930777000000"),
        ("41", "41715880339000"),
        ("491714000000", "41715880339000"),
        ("49", "4930777000001"),
    ]:
        OutboundCallerIdRule.objects.create(pbx=pbx, prefix=prefix, caller_id=caller_id)
    for call_id, to, caller_id in [
        ("o1", "4912347114711", "4930777000001"),
        ("o2", "491714000000", "41715880339000"),
        ("o3", "4147110000000", "41715880339000"),
        ("o4", "+48 22 123 45 67", "4930777000000"),
        ("o5", "0049 30 1234567", "4930777000001"),
    ]:
        response = client.post(URL, {**OUTBOUND, "callId": call_id, "to": to})
        assert response.status_code == 200
        assert response.json() == {"action": "dial", "caller_id": caller_id, "number": to}


def test_outbound_call_without_rules_gets_an_empty_answer(client, pbx):
    from cti.models import OutboundCallerIdRule

    OutboundCallerIdRule.objects.create(pbx=PbxFactory(), prefix="", caller_id="4930777000000")
    response = client.post(URL, {**OUTBOUND, "callId": "o1", "to": "4912347114711"})
    assert response.json() == {}
    # Inbound calls and later events of an outbound call get no caller ID either.
    OutboundCallerIdRule.objects.create(pbx=pbx, prefix="", caller_id="4930777000000")
    assert client.post(URL, NEW_CALL).json() == {}
    hangup = {"event": "hangup", "direction": "out", "callId": "o1", "cause": "cancel"}
    assert client.post(URL, hangup).json() == {}
