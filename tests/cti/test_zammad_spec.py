"""The requests of Zammad's own request spec for its generic CTI endpoint, replayed against
ours: the same numbers, users, queues, directions and bodies, in the same order.

Where we claim compatibility the test asserts Zammad's answer (status and body) and what
Zammad's call log records, read in our terms (``Call``); where we differ on purpose it
asserts our documented answer instead (docs/pbx.md, "Differences from Zammad"). The spec
itself is Ruby and reads Zammad's models; this is our own test of the same facts.
"""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cti import notify
from cti.models import (
    AgentPresence,
    BlockedNumber,
    Call,
    CallEvent,
    OutboundCallerIdRule,
)
from cti.selectors import missed_calls
from helpdesk.roles import Role
from tests.factories import PbxFactory, PhoneNumberFactory, SiteFactory, make_user

pytestmark = pytest.mark.django_db

TOKEN = "zammad-spec-token"
URL = f"/api/v1/cti/{TOKEN}"


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)
    monkeypatch.setattr(notify, "call_pushed", lambda call, **_kwargs: None)


class Clock:
    """Zammad's spec travels in time between requests; so do we (the endpoint takes the
    time of an event from its arrival, as Zammad does)."""

    def __init__(self):
        self.at = timezone.now()

    def now(self):
        return self.at

    def travel(self, seconds):
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def pbx():
    """Zammad's cti_config of the spec, as our PBX and its rows."""
    site = SiteFactory(code="spec")
    pbx = PbxFactory(token=TOKEN, kind="zammad", site=site)
    # outbound: routing_table 41* and 491714000000 -> 41715880339000, default 4930777000000
    OutboundCallerIdRule.objects.create(pbx=pbx, prefix="41*", caller_id="41715880339000")
    OutboundCallerIdRule.objects.create(pbx=pbx, prefix="491714000000", caller_id="41715880339000")
    OutboundCallerIdRule.objects.create(pbx=pbx, prefix="", caller_id="4930777000000")
    # inbound: block_caller_ids 491715000000
    BlockedNumber.objects.create(e164="+491715000000", reason="some note")
    return pbx


@pytest.fixture
def agent_on_duty(pbx):
    """Zammad shows every call to its agents; the spec's users ("user 1") are nobody here,
    so our rings fall back to the available agents of the PBX's site."""
    user = make_user(Role.AGENT, username="agent-on-duty")
    user.person.site = pbx.site
    user.person.save()
    AgentPresence.objects.create(user=user, state=AgentPresence.State.AVAILABLE)
    return user


def post(client, params, *, as_json=False):
    if as_json:
        return client.post(URL, json.dumps(params), content_type="application/json")
    return client.post(URL, params)


def call(call_id):
    return Call.objects.get(call_id=call_id)


def test_token_check(client, pbx):
    response = client.post(
        "/api/v1/cti/not_existing_token",
        {
            "event": "newCall",
            "direction": "in",
            "from": "4912347114711",
            "to": "4930600000000",
            "call_id": "4991155921769858278-1",
            "user": "user 1",
        },
    )
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token, please contact your admin!"}


def test_basic_call(client, pbx, agent_on_duty):
    # inbound - I
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "from": "4912347114711",
            "to": "4930600000000",
            "call_id": "4991155921769858278-1",
            "user[]": ["user+1", "user+2"],
        },
    )
    assert response.status_code == 200
    assert response.json() == {}

    # inbound - II - block caller
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "from": "491715000000",
            "to": "4930600000000",
            "call_id": "4991155921769858278-2",
            "user[]": ["user+1", "user+2"],
        },
    )
    assert response.status_code == 200
    assert response.json() == {"action": "reject", "reason": "busy"}
    assert call("4991155921769858278-2").outcome == Call.Outcome.REJECTED

    # outbound - I - default caller id; II - by the explicit number; III - by 41*
    for call_id, to, caller_id in [
        ("8621106404543334274-3", "4912347114711", "4930777000000"),
        ("8621106404543334274-4", "491714000000", "41715880339000"),
        ("8621106404543334274-5", "4147110000000", "41715880339000"),
    ]:
        response = post(
            client,
            {
                "event": "newCall",
                "direction": "out",
                "from": "4930600000000",
                "to": to,
                "call_id": call_id,
                "user": "user 1",
            },
        )
        assert response.status_code == 200
        assert response.json() == {"action": "dial", "caller_id": caller_id, "number": to}

    # Difference: "no config" is a 422 "Feature not configured" in Zammad. Here the PBX's
    # row is its configuration; without caller ID rules and block list a call is accepted.
    OutboundCallerIdRule.objects.all().delete()
    BlockedNumber.objects.all().delete()
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "from": "4912347114711",
            "to": "4930600000000",
            "call_id": "4991155921769858278-6",
            "user[]": ["user+1", "user+2"],
        },
    )
    assert response.status_code == 200
    assert response.json() == {}


def test_a_disabled_connection_answers_as_zammads_switched_off_integration(client, pbx):
    pbx.is_active = False
    pbx.save()
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "from": "4912347114711",
            "to": "4930600000000",
            "call_id": "4991155921769858278-1",
            "user": "user 1",
        },
    )
    assert response.status_code == 422
    assert response.json() == {"error": "Feature is disabled, please contact your administrator!"}


def test_log_call(client, pbx, agent_on_duty, clock):
    # outbound - I - new call: logged, the callee (the outside party) is the number dialled.
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "out",
            "from": "4930600000000",
            "to": "4912347114711",
            "call_id": "1234567890-1",
            "user": "user 1",
        },
    )
    assert response.status_code == 200
    first = call("1234567890-1")
    assert first.direction == Call.Direction.OUTBOUND
    assert first.caller_number == "4912347114711" and first.called_number == "4930600000000"
    assert first.state == Call.State.RINGING and first.answered_at is None
    # An outbound call rings on nobody else's console (Zammad pushes only inbound calls).
    assert first.offered_to.count() == 0

    clock.travel(2)
    # outbound - I - hangup by agent
    response = post(
        client,
        {"event": "hangup", "direction": "out", "call_id": "1234567890-1", "cause": "cancel"},
    )
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.state == Call.State.ENDED and first.hangup_cause == "cancel"
    assert first.answered_at is None and first.wait_seconds == 2 and first.talk_seconds is None
    assert first not in missed_calls()  # Zammad: done (an outbound call is nobody's call-back)

    # outbound - II - new call, answer by customer, hangup by customer
    post(
        client,
        {
            "event": "newCall",
            "direction": "out",
            "from": "4930600000000",
            "to": "4912347114711",
            "call_id": "1234567890-2",
            "user[]": ["user 1"],
        },
    )
    clock.travel(2)
    response = post(
        client,
        {
            "event": "answer",
            "direction": "out",
            "call_id": "1234567890-2",
            "from": "4930600000000",
            "to": "4912347114711",
        },
    )
    assert response.status_code == 200
    second = call("1234567890-2")
    assert second.state == Call.State.ANSWERED and second.wait_seconds == 2
    clock.travel(2)
    post(
        client,
        {
            "event": "hangup",
            "direction": "out",
            "call_id": "1234567890-2",
            "cause": "normalClearing",
            "from": "4930600000000",
            "to": "4912347114711",
        },
    )
    second.refresh_from_db()
    assert (second.state, second.outcome) == (Call.State.ENDED, Call.Outcome.ANSWERED)
    assert second.hangup_cause == "normalClearing"
    assert (second.wait_seconds, second.talk_seconds) == (2, 2)

    clock.travel(1)
    # inbound - I - new call, answer, hangup, then an answer after the hangup (as JSON)
    inbound = {"direction": "in", "to": "4930600000000", "from": "4912347114711"}
    response = post(
        client, {**inbound, "event": "newCall", "call_id": "1234567890-3", "user": "user 1"}
    )
    assert response.status_code == 200
    third = call("1234567890-3")
    assert third.direction == Call.Direction.INBOUND and third.state == Call.State.RINGING
    assert list(third.offered_to.all()) == [agent_on_duty]  # shown to the agents
    clock.travel(1)
    post(client, {**inbound, "event": "answer", "call_id": "1234567890-3"})
    third.refresh_from_db()
    assert third.state == Call.State.ANSWERED and third.wait_seconds == 1
    clock.travel(1)
    post(
        client, {**inbound, "event": "hangup", "call_id": "1234567890-3", "cause": "normalClearing"}
    )
    third.refresh_from_db()
    assert third.outcome == Call.Outcome.ANSWERED and third.talk_seconds == 1
    clock.travel(1)
    response = post(client, {**inbound, "event": "answer", "call_id": "1234567890-3"}, as_json=True)
    assert response.status_code == 200
    assert response.json() == {}
    third.refresh_from_db()
    assert (third.outcome, third.talk_seconds) == (Call.Outcome.ANSWERED, 1)
    assert third not in missed_calls()

    clock.travel(1)
    # inbound - II - new call, answer by voicemail, hangup: not done (needs a call-back)
    post(
        client,
        {**inbound, "event": "newCall", "call_id": "1234567890-4", "user[]": ["user 1", "user 2"]},
    )
    clock.travel(1)
    response = post(
        client, {**inbound, "event": "answer", "call_id": "1234567890-4", "user": "voicemail"}
    )
    assert response.status_code == 200
    clock.travel(1)
    post(
        client, {**inbound, "event": "hangup", "call_id": "1234567890-4", "cause": "normalClearing"}
    )
    fourth = call("1234567890-4")
    assert (fourth.state, fourth.outcome) == (Call.State.ENDED, Call.Outcome.MISSED)
    assert fourth.answered_by is None and fourth in missed_calls()

    clock.travel(1)
    # inbound - III - new call ("user 1,user 2" is one user name), hangup: not done
    post(
        client, {**inbound, "event": "newCall", "call_id": "1234567890-5", "user": "user 1,user 2"}
    )
    assert CallEvent.objects.filter(call_id="1234567890-5").get().payload["user"] == [
        "user 1,user 2"
    ]
    clock.travel(1)
    post(
        client, {**inbound, "event": "hangup", "call_id": "1234567890-5", "cause": "normalClearing"}
    )
    fifth = call("1234567890-5")
    assert fifth.outcome == Call.Outcome.MISSED and fifth.answered_at is None
    assert fifth in missed_calls()

    clock.travel(1)
    # inbound - IV - a number several customers share (Zammad: Customer3, Customer2).
    # Difference: +49 99999 2222222 is no number in use in Germany (phonenumbers knows it
    # as invalid), so no person can have it here: the call keeps the number as sent.
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "to": "4930600000000",
            "from": "49999992222222",
            "call_id": "1234567890-6",
            "user": "user 1,user 2",
        },
    )
    assert response.status_code == 200
    sixth = call("1234567890-6")
    assert sixth.caller_number == "49999992222222" and sixth.caller_e164 == ""
    assert sixth.identification == Call.Identification.UNKNOWN

    # inbound - IV - anonymous, with a queue we do not know
    response = post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "to": "4930600000000",
            "from": "anonymous",
            "call_id": "1234567890-7",
            "user": "user 1,user 2",
            "queue": "some_queue_name",
        },
    )
    assert response.status_code == 200
    seventh = call("1234567890-7")
    assert seventh.is_withheld and seventh.identification == Call.Identification.WITHHELD
    assert seventh.queue_name == "some_queue_name"
    assert list(seventh.offered_to.all()) == [agent_on_duty]

    # The call list (Zammad: GET /api/v1/cti/log, 403 without a session): newest first.
    assert client.get(reverse("cti:call_log")).status_code == 302  # to the sign-in page
    client.force_login(agent_on_duty)
    response = client.get(reverse("cti:call_log"))
    assert response.status_code == 200
    # The call log's order: newest first, the later of two at the same time first.
    assert list(Call.objects.values_list("call_id", flat=True)) == [
        f"1234567890-{index}" for index in range(7, 0, -1)
    ]


def test_a_caller_with_a_valid_number_of_the_same_form_is_identified(client, pbx):
    # What the spec's "CallerId Customer1" shows, with a number in use (a German mobile).
    customer = PhoneNumberFactory(raw="+49 171 4711471", person__full_name="CallerId Customer1")
    post(
        client,
        {
            "event": "newCall",
            "direction": "in",
            "from": "491714711471",
            "to": "4930600000000",
            "call_id": "1234567890-3",
            "user": "user 1",
        },
    )
    assert call("1234567890-3").caller_person == customer.person


def test_queue_params(client, pbx, agent_on_duty):
    # inbound - queue & user
    base = {"event": "newCall", "direction": "in", "to": "4930600000000", "from": "anonymous"}
    response = post(
        client,
        {**base, "call_id": "1234567890-1", "user": "user 1,user 2", "queue": "some_queue_name"},
    )
    assert response.status_code == 200
    assert call("1234567890-1").queue_name == "some_queue_name"

    # inbound - queue & no user: the empty user is no user; the queue is what was rung
    response = post(
        client, {**base, "call_id": "1234567890-2", "user": "", "queue": "some_queue_name"}
    )
    assert response.status_code == 200
    assert response.json() == {}
    second = call("1234567890-2")
    assert second.queue_name == "some_queue_name"
    assert list(second.offered_to.all()) == [agent_on_duty]
    assert second.routing == Call.Routing.SITE  # the queue is not set up here


def test_flag_missed_calls_as_done_one_and_in_bulk(client, pbx, agent):
    inbound = {"direction": "in", "to": "4930600000000", "from": "4912347114711"}
    for call_id in ("done-1", "done-2", "done-3"):
        post(client, {**inbound, "event": "newCall", "call_id": call_id, "user": "user 1"})
        post(client, {**inbound, "event": "hangup", "call_id": call_id, "cause": "noAnswer"})
    assert missed_calls().count() == 3
    client.force_login(agent)
    url = reverse("cti:missed_handled")
    client.post(url, {"calls": [call("done-1").pk]})
    assert set(missed_calls().values_list("call_id", flat=True)) == {"done-2", "done-3"}
    client.post(url, {"calls": [call("done-2").pk, call("done-3").pk]})
    assert not missed_calls().exists()


def test_duplicates_and_unknown_call_ids_are_accepted_not_an_error(client, pbx):
    # Difference: Zammad fails on these; we store each event once and answer as usual.
    new_call = {
        "event": "newCall",
        "direction": "in",
        "from": "4912347114711",
        "to": "4930600000000",
        "call_id": "dup-1",
        "user": "user 1",
    }
    assert post(client, new_call).json() == {}
    assert post(client, new_call).json() == {}
    assert Call.objects.filter(call_id="dup-1").count() == 1
    assert CallEvent.objects.filter(call_id="dup-1").count() == 1
    for event in ("answer", "hangup"):
        response = post(client, {"event": event, "direction": "in", "call_id": "never-rang"})
        assert response.status_code == 200
        assert response.json() == {}
    assert call("never-rang").state == Call.State.ENDED
