"""Calls whose hang-up never came (issue #11): each PBX has its own longest ring and talk
(defaults from CTI_RING_TIMEOUT / CTI_CALL_MAX_SECONDS) which the sweep applies, and the
card of a call answered long ago without a hang-up says so and lets its agent end it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cti import notify, services
from cti.models import AgentPresence, Call, CallEvent, Pbx
from helpdesk.roles import Role
from tests.factories import AgentExtensionFactory, PbxFactory, make_user

CALLER = "+48 22 555 01 01"


def ingest(pbx, kind, call_id="call-1", **kwargs):
    kwargs.setdefault("caller", CALLER)
    kwargs.setdefault("called", "+48 22 555 00 00")
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind=kind, call_id=call_id, **kwargs),
    )


@pytest.fixture
def alice(first_line):
    user = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=user, extension="201")
    return user


def answered_call(pbx, *, call_id: str, ago: timedelta) -> Call:
    ingest(pbx, "ring", call_id=call_id, extensions=["201"])
    ingest(pbx, "answer", call_id=call_id, answering="201")
    call = Call.objects.get(call_id=call_id)
    Call.objects.filter(pk=call.pk).update(
        started_at=timezone.now() - ago - timedelta(seconds=5), answered_at=timezone.now() - ago
    )
    call.refresh_from_db()
    return call


def test_a_pbx_limits_default_to_the_settings(db, settings):
    settings.CTI_RING_TIMEOUT = 77
    settings.CTI_CALL_MAX_SECONDS = 7200
    pbx = Pbx.objects.create(name="Kamailio")
    assert (pbx.ring_timeout_seconds, pbx.call_max_seconds) == (77, 7200)


def test_the_sweep_ends_calls_by_the_limits_of_their_pbx(alice, settings):
    settings.CTI_RING_TIMEOUT = 180
    settings.CTI_CALL_MAX_SECONDS = 4 * 3600
    strict = PbxFactory(ring_timeout_seconds=30, call_max_seconds=600)
    lenient = PbxFactory()
    for pbx in (strict, lenient):
        ingest(pbx, "ring", call_id=f"ring-{pbx.pk}", extensions=["201"])
    Call.objects.filter(state=Call.State.RINGING).update(
        started_at=timezone.now() - timedelta(seconds=60)
    )
    strict_talk = answered_call(strict, call_id="talk-strict", ago=timedelta(minutes=15))

    assert services.calls_end_stale() == 2
    ended = {call.call_id: call for call in Call.objects.filter(state=Call.State.ENDED)}
    assert set(ended) == {f"ring-{strict.pk}", "talk-strict"}
    assert ended[f"ring-{strict.pk}"].outcome == Call.Outcome.MISSED
    assert ended["talk-strict"].outcome == Call.Outcome.ANSWERED
    assert ended["talk-strict"].ended_at == strict_talk.answered_at + timedelta(seconds=600)
    # The other PBX's calls are within its (the default) limits.
    assert Call.objects.get(call_id=f"ring-{lenient.pk}").state == Call.State.RINGING


def test_card_of_a_call_answered_long_ago_without_hang_up_shows_it_stale_with_an_end_button(
    alice,
):
    pbx = PbxFactory()
    fresh = answered_call(pbx, call_id="fresh", ago=timedelta(minutes=5))
    stale = answered_call(pbx, call_id="stale", ago=timedelta(hours=2))

    fresh_html = notify.render_card(notify.load_card(fresh.pk), language="en")
    assert "cti-card--stale" not in fresh_html
    assert reverse("cti:call_end", args=[fresh.pk]) not in fresh_html

    html = notify.render_card(notify.load_card(stale.pk), language="en")
    assert "cti-card--stale" in html
    assert "No hang-up received" in html
    assert f'action="{reverse("cti:call_end", args=[stale.pk])}"' in html


def test_the_answering_agent_ends_a_call_whose_hang_up_never_came(alice, client):
    pbx = PbxFactory()
    call = answered_call(pbx, call_id="lost", ago=timedelta(hours=2))
    client.force_login(alice)
    response = client.post(reverse("cti:call_end", args=[call.pk]), {"next": "/cti/calls/"})
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.state == Call.State.ENDED
    assert call.outcome == Call.Outcome.ANSWERED
    assert call.hangup_cause == "ended_by_agent"
    # The agent is freed as by a hang-up; the console no longer gets the card on connect.
    assert AgentPresence.objects.get(user=alice).state == AgentPresence.State.AFTER_CALL_WORK
    assert notify.cards_for_agent(alice) == []


def test_only_the_agent_on_the_call_ends_it(alice, client):
    bob = make_user(Role.AGENT, username="bob")
    call = answered_call(PbxFactory(), call_id="lost", ago=timedelta(hours=2))
    client.force_login(bob)
    client.post(reverse("cti:call_end", args=[call.pk]))
    call.refresh_from_db()
    assert call.state == Call.State.ANSWERED
