"""A ring that names no agent or queue we know is never dropped: it falls back to the named
queue, then the PBX's default queue, then every available agent of the site."""

import logging

import pytest

from cti import notify, services
from cti.models import AgentPresence, Call, CallEvent
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    SiteFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)
    monkeypatch.setattr(notify, "call_pushed", lambda call, **_kwargs: None)


@pytest.fixture
def site():
    return SiteFactory(code="hq", name="Headquarters")


@pytest.fixture
def pbx(site):
    return PbxFactory(site=site)


def available(username, *, site):
    user = make_user(Role.AGENT, username=username)
    user.person.site = site
    user.person.save()
    AgentPresence.objects.create(user=user, state=AgentPresence.State.AVAILABLE)
    return user


def ring(pbx, call_id="c1", **kwargs):
    kwargs.setdefault("caller", "+48 22 555 01 01")
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind="ring", call_id=call_id, **kwargs),
    ).call


def test_a_known_user_gets_the_ring_and_it_is_recorded_as_named(pbx, site):
    anna = available("anna", site=site)
    call = ring(pbx, users=["anna"], queue="nosuch")
    assert list(call.offered_to.all()) == [anna]
    assert call.routing == Call.Routing.NAMED


def test_an_unknown_user_falls_back_to_the_named_queue_and_is_logged(pbx, site, caplog):
    anna = available("anna", site=site)
    available("piotr", site=site)
    queue = CallQueueFactory(code="service-desk")
    queue.members.add(anna)
    with caplog.at_level(logging.WARNING, logger="cti"):
        call = ring(pbx, users=["user 1"], queue="service-desk")
    assert list(call.offered_to.all()) == [anna]
    assert call.routing == Call.Routing.QUEUE
    assert "user 1" in caplog.text


def test_an_unknown_extension_is_logged_and_falls_back(pbx, site, caplog):
    anna = available("anna", site=site)
    AgentExtensionFactory(user=anna, extension="201")
    with caplog.at_level(logging.WARNING, logger="cti"):
        call = ring(pbx, extensions=["999"])
    assert "999" in caplog.text
    assert list(call.offered_to.all()) == [anna]
    assert call.routing == Call.Routing.SITE


def test_an_unknown_queue_falls_back_to_the_pbxs_default_queue_and_is_logged(pbx, site, caplog):
    anna = available("anna", site=site)
    available("piotr", site=site)
    default = CallQueueFactory(code="first-line")
    default.members.add(anna)
    pbx.default_queue = default
    pbx.save()
    with caplog.at_level(logging.WARNING, logger="cti"):
        call = ring(pbx, queue="some_queue_name")
    assert list(call.offered_to.all()) == [anna]
    assert call.routing == Call.Routing.DEFAULT_QUEUE
    assert call.queue == default and call.queue_name == "some_queue_name"
    assert "some_queue_name" in caplog.text


def test_without_any_queue_every_available_agent_of_the_site_gets_the_ring(pbx, site):
    anna = available("anna", site=site)
    piotr = available("piotr", site=site)
    elsewhere = available("ewa", site=SiteFactory(code="branch"))
    away = make_user(Role.AGENT, username="away")
    AgentPresence.objects.create(user=away, state=AgentPresence.State.AWAY)
    call = ring(pbx, users=["user 1", "user 2"], queue="some_queue_name")
    assert set(call.offered_to.all()) == {anna, piotr}
    assert elsewhere not in call.offered_to.all()
    assert call.routing == Call.Routing.SITE


def test_a_named_queue_without_available_members_falls_back_too(pbx, site):
    anna = available("anna", site=site)
    queue = CallQueueFactory(code="service-desk")
    queue.members.add(make_user(Role.AGENT, username="off"))  # no presence: away
    call = ring(pbx, queue="service-desk")
    assert list(call.offered_to.all()) == [anna]
    assert call.routing == Call.Routing.SITE
    assert call.queue == queue


def test_a_ring_nobody_can_take_is_recorded_and_logged(pbx, caplog):
    with caplog.at_level(logging.WARNING, logger="cti"):
        call = ring(pbx, users=["user 1"])
    assert call.offered_to.count() == 0
    assert call.routing == Call.Routing.NOBODY
    assert "no agent was available" in caplog.text


def test_an_outbound_call_of_an_unknown_user_pops_on_nobody_elses_console(pbx, site):
    available("anna", site=site)
    call = ring(pbx, users=["user 1"], direction="outbound", caller="201", called="601234567")
    assert call.offered_to.count() == 0
    assert call.routing == Call.Routing.NOBODY


def test_zammad_ring_with_unknown_users_and_queue_is_shown_to_the_agents(client, pbx, site):
    pbx.token = "zammad-token"
    pbx.save()
    anna = available("anna", site=site)
    response = client.post(
        "/api/v1/cti/zammad-token",
        {
            "event": "newCall",
            "direction": "in",
            "from": "anonymous",
            "to": "4930600000000",
            "call_id": "1234567890-7",
            "user": "user 1,user 2",
            "queue": "some_queue_name",
        },
    )
    assert response.json() == {}
    call = Call.objects.get()
    assert list(call.offered_to.all()) == [anna]
    assert call.routing == Call.Routing.SITE
