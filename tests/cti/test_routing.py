"""Routing hints for the PBX: GET /api/v1/cti/<token>/route?from=<number>."""

import pytest

from cti.models import BlockedNumber
from tests.factories import (
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PhoneNumberFactory,
    SupportGroupFactory,
    make_ticket,
)
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

URL = "/api/v1/cti/route-token/route"


@pytest.fixture
def queues(settings):
    settings.CTI_DEFAULT_QUEUE = "service-desk"
    PbxFactory(token="route-token")
    return {
        "default": CallQueueFactory(code="service-desk", is_default=True),
        "vip": CallQueueFactory(code="vip", is_vip=True),
    }


@pytest.fixture
def caller():
    return PhoneNumberFactory(raw="+48 22 123 45 67").person


def test_unknown_caller_goes_to_the_default_queue(client, queues):
    response = client.get(URL, {"from": "+48 58 000 00 00"})
    assert response.status_code == 200
    assert response.json() == {
        "target": "queue",
        "queue": "service-desk",
        "destination": "service-desk",
        "reason": "default",
        "person": None,
        "ticket": None,
    }


def test_vip_caller_goes_to_the_vip_queue(client, queues, caller):
    caller.is_vip = True
    caller.save()
    data = client.get(URL, {"from": "0221234567"}).json()
    assert (data["target"], data["queue"], data["reason"]) == ("queue", "vip", "vip")
    assert data["person"] == caller.pk


def test_caller_with_an_open_ticket_goes_to_its_agent(client, queues, caller, agent):
    caller.is_vip = True  # sticky beats VIP
    caller.save()
    AgentExtensionFactory(user=agent, extension="201")
    ticket = make_ticket(caller=caller)
    ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    data = client.get(URL, {"from": "+48 22 123 45 67"}).json()
    assert data["target"] == "agent"
    assert data["extension"] == "201"
    assert data["reason"] == "sticky"
    assert data["ticket"] == ticket.pk


def test_resolved_ticket_is_not_sticky(client, queues, caller, agent):
    AgentExtensionFactory(user=agent, extension="201")
    ticket = make_ticket(caller=caller)
    ticket = ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket_services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Fixed.")
    data = client.get(URL, {"from": "+48 22 123 45 67"}).json()
    assert data["reason"] == "default"


def test_open_ticket_of_a_group_with_a_queue_goes_to_that_queue(client, queues, caller):
    network = SupportGroupFactory(code="network")
    CallQueueFactory(code="network-line", support_group=network)
    make_ticket(caller=caller, group=network)
    data = client.get(URL, {"from": "+48 22 123 45 67"}).json()
    assert (data["target"], data["queue"], data["reason"]) == ("queue", "network-line", "sticky")


def test_plain_text_form_for_dial_plans(client, queues, caller, agent):
    AgentExtensionFactory(user=agent, extension="201")
    ticket = make_ticket(caller=caller)
    ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    response = client.get(URL, {"from": "221234567", "format": "text"})
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "agent 201 sticky\n"
    response = client.get(URL, {"from": "", "format": "text"})
    assert response.content.decode() == "queue service-desk default\n"


def test_blocked_caller_is_told_to_reject(client, queues):
    BlockedNumber.objects.create(e164="+48221234567")
    response = client.get(URL, {"from": "0048 22 123 45 67", "format": "text"})
    assert response.content.decode() == "reject - blocked\n"


def test_bad_token_is_401(client, queues):
    assert client.get("/api/v1/cti/nope/route", {"from": "1"}).status_code == 401


def test_route_query_count_does_not_grow_with_tickets(
    client, queues, caller, django_assert_max_num_queries
):
    for _index in range(5):
        make_ticket(caller=caller)
    with django_assert_max_num_queries(8):
        client.get(URL, {"from": "+48 22 123 45 67"})
