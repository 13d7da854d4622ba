"""The screen pop in a real browser, against a real ASGI server (websockets need one).

pytest-django's live server speaks WSGI only, so this runs uvicorn with the project's ASGI
application in a thread of the test process: same test database, same (in-memory or Redis)
channel layer, real websocket between Chromium and the consumer.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from cti.models import Call
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.factories import (
    PASSWORD,
    AgentExtensionFactory,
    PbxFactory,
    PersonFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
)
from tickets.models import Channel, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def post_event(base_url: str, pbx, **event) -> None:
    response = httpx.post(
        f"{base_url}/cti/webhook/{pbx.pk}/",
        json=event,
        headers={"X-Helpdesk-Token": pbx.token},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_agent_sees_the_caller_pop_creates_a_linked_ticket_and_a_missed_call_is_logged(
    first_line, asgi_server, page
):
    agent = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    first_line.members.add(agent)
    AgentExtensionFactory(user=agent, extension="201")
    person = PhoneNumberFactory(
        raw="+48 22 555 01 01", person__full_name="Anna Nowak", person__department="Finance"
    ).person
    open_ticket = make_ticket(caller=person, title="VPN drops every hour")
    pbx = PbxFactory()

    login(page, asgi_server, "alice", PASSWORD)
    page.goto(f"{asgi_server}/cti/calls/")
    console = page.locator("#cti-console")
    expect(console).to_have_attribute("data-connected", "true")

    # The phone rings on Alice's extension: the card pops without a reload.
    post_event(
        asgi_server,
        pbx,
        event="ring",
        call_id="e2e-1",
        **{"from": "022 555 01 01"},
        extension="201",
    )
    card = page.locator(".cti-card[data-call-state=ringing]")
    expect(card).to_be_visible()
    expect(card.locator(".cti-card__caller")).to_contain_text("Anna Nowak")
    expect(card.locator(".cti-card__open-tickets")).to_contain_text(open_ticket.number)
    expect(card.locator(".cti-card__open-tickets")).to_contain_text("VPN drops every hour")
    page.wait_for_timeout(400)  # let the pop-in animation finish before the screenshot
    screenshot(page, "cti-screen-pop", full_page=False)

    # Alice answers; the card stays (now "on call") and she files the ticket from it.
    post_event(asgi_server, pbx, event="answer", call_id="e2e-1", answered_by="201")
    expect(page.locator(".cti-card[data-call-state=answered]")).to_be_visible()
    card = page.locator(".cti-card[data-call-state=answered]")
    card.locator("input[name=title]").fill("Outlook does not start")
    card.locator("button.cti-create-ticket").click()
    page.wait_for_url("**/tickets/**")
    ticket = Ticket.objects.get(title="Outlook does not start")
    assert ticket.caller == person
    assert ticket.channel == Channel.PHONE
    call = Call.objects.get(call_id="e2e-1")
    assert list(call.tickets.all()) == [ticket]
    post_event(asgi_server, pbx, event="hangup", call_id="e2e-1", cause="normalClearing")

    # A second call rings and the caller hangs up before anyone answers.
    page.goto(f"{asgi_server}/cti/calls/")
    expect(page.locator("#cti-console")).to_have_attribute("data-connected", "true")
    post_event(
        asgi_server, pbx, event="ring", call_id="e2e-2", **{"from": "+48225550101"}, extension="201"
    )
    expect(page.locator(".cti-card[data-call-state=ringing]")).to_be_visible()
    post_event(asgi_server, pbx, event="hangup", call_id="e2e-2", cause="cancel")
    # The card goes; the call stays in "Recent calls", marked missed (issue 13).
    expect(page.locator(".cti-card")).to_have_count(0)
    missed_item = page.locator(
        f'.cti-recent__item--missed[data-call-id="{Call.objects.get(call_id="e2e-2").pk}"]'
    )
    expect(missed_item).to_be_visible()

    page.reload()
    missed = Call.objects.get(call_id="e2e-2")
    row = page.locator(f'tr.cti-call-row[data-call-id="{missed.pk}"]')
    expect(row.locator(".cti-call-outcome")).to_contain_text(missed.get_outcome_display())
    assert missed.outcome in {Call.Outcome.MISSED, Call.Outcome.ABANDONED}
    answered_row = page.locator(f'tr.cti-call-row[data-call-id="{call.pk}"]')
    expect(answered_row.locator(".cti-call-tickets")).to_contain_text(ticket.number)
    screenshot(page, "cti-call-log")

    # The missed call is marked done from the log.
    # Wait for the answer (the page comes back with its message) before reading the call:
    # a read from the test while the server writes fails on the shared in-memory database.
    with page.expect_navigation():
        row.locator("button.cti-mark-one").click()
    page.wait_for_load_state()
    missed.refresh_from_db()
    assert missed.missed_handled_by == agent


def test_a_card_never_steps_back_when_messages_of_a_call_overtake_each_other(asgi_server, page):
    """Each event is pushed by the server process that handled it, so a late ringing card
    can arrive after the call's close. The console's websocket is answered here (Playwright
    stands in for the server at the network edge) to deliver messages out of order."""
    import json

    agent = make_user(Role.AGENT, username="alice")
    sockets = []

    def fake_server(ws):
        sockets.append(ws)
        ws.send(json.dumps({"type": "hello", "user_id": agent.pk, "presence": None, "calls": []}))

    page.route_web_socket("**/ws/console/", fake_server)
    login(page, asgi_server, "alice", PASSWORD)
    page.goto(f"{asgi_server}/cti/calls/")
    expect(page.locator("#cti-console")).to_have_attribute("data-connected", "true")

    def push(call_id: int, state: str, action: str = "show") -> None:
        call = {"id": call_id, "state": state, "outcome": "", "outcome_label": ""}
        message = {"type": "call_update", "action": action, "call": call}
        if action == "show":
            message["html"] = (
                f'<article class="cti-card" data-call-id="{call_id}" data-call-state="{state}">'
                f'<span class="cti-card__status">{state}</span></article>'
            )
        sockets[-1].send(json.dumps(message))

    push(901, "ringing")
    expect(page.locator('.cti-card[data-call-id="901"]')).to_be_visible()
    push(901, "ended", action="close")
    expect(page.locator('.cti-card[data-call-id="901"]')).to_have_count(0)  # gone: it ended
    push(901, "ringing")  # the overtaken ring
    push(902, "ringing")  # sent after it: once this shows, the late ring was handled
    expect(page.locator('.cti-card[data-call-id="902"]')).to_be_visible()
    expect(page.locator('.cti-card[data-call-id="901"][data-call-state=ringing]')).to_have_count(0)
    # An answered card does not fall back to ringing either.
    push(902, "answered")
    expect(page.locator('.cti-card[data-call-id="902"][data-call-state=answered]')).to_be_visible()
    push(902, "ringing")
    push(903, "ringing")
    expect(page.locator('.cti-card[data-call-id="903"]')).to_be_visible()
    expect(page.locator('.cti-card[data-call-id="902"]')).to_have_attribute(
        "data-call-state", "answered"
    )


def test_the_team_list_shows_queue_colleagues_and_follows_their_presence(asgi_server, page):
    """The console lists the colleagues of the agent's queues with their presence, from the
    hello message, and updates it from presence messages (the websocket is answered here)."""
    import json

    agent = make_user(Role.AGENT, username="alice")
    sockets = []

    def fake_server(ws):
        sockets.append(ws)
        team = [
            {"user_id": 7001, "name": "Zoe Zielińska", "state": "away", "label": "Away"},
            {"user_id": 7002, "name": "Bob Busy", "state": "busy", "label": "Busy"},
        ]
        ws.send(json.dumps({"type": "hello", "user_id": agent.pk, "presence": None, "team": team}))

    page.route_web_socket("**/ws/console/", fake_server)
    login(page, asgi_server, "alice", PASSWORD)
    page.goto(f"{asgi_server}/cti/calls/")
    team = page.locator(".cti-console__team")
    expect(team).to_be_visible()
    expect(team.locator(".cti-console__team-count")).to_have_text("0/2")
    expect(team.locator(".cti-console__team-count")).to_have_attribute("title", "Available now: 0")
    team.locator("summary").click()
    rows = team.locator(".cti-console__team-list li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Bob Busy")  # by name
    expect(rows.nth(0)).to_have_attribute("data-state", "busy")
    expect(rows.nth(1)).to_contain_text("Zoe Zielińska")

    presence = {"type": "presence", "user_id": 7001, "state": "available", "label": "Available"}
    sockets[-1].send(json.dumps(presence))
    expect(page.locator('.cti-console__team-list li[data-user-id="7001"]')).to_have_attribute(
        "data-state", "available"
    )
    expect(team.locator(".cti-console__team-count")).to_have_text("1/2")
    # A colleague who joined the queue after the hello appears with the first message.
    newcomer = {
        "type": "presence",
        "user_id": 7003,
        "state": "after_call_work",
        "label": "After-call work",
        "name": "Adam New",
    }
    sockets[-1].send(json.dumps(newcomer))
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Adam New")
    # The agent's own presence goes to the status switch, not into the list.
    own = {"type": "presence", "user_id": agent.pk, "state": "away", "label": "Away", "name": "A"}
    sockets[-1].send(json.dumps(own))
    expect(page.locator(".cti-console__presence")).to_have_value("away")
    expect(rows).to_have_count(3)
    page.wait_for_timeout(300)
    screenshot(page, "cti-team-presence", full_page=False)


def test_an_unknown_caller_is_attached_by_name_after_an_ambiguous_try(asgi_server, page):
    """From the card of an unknown number: a name two people share is refused with both
    named; the e-mail then attaches the number, and the card shows the caller."""
    agent = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=agent, extension="201")
    PersonFactory(full_name="Ewa Nowak", email="ewa.nowak@example.com", department="Sales")
    PersonFactory(full_name="Ewa Nowak-Lis", email="ewa.lis@example.com", department="HR")
    pbx = PbxFactory()
    login(page, asgi_server, "alice", PASSWORD)
    page.goto(f"{asgi_server}/cti/calls/")
    expect(page.locator("#cti-console")).to_have_attribute("data-connected", "true")
    post_event(
        asgi_server,
        pbx,
        event="ring",
        call_id="e2e-u",
        **{"from": "+48 601 000 111"},
        extension="201",
    )
    card = page.locator(".cti-card[data-call-state=ringing]")
    expect(card.locator(".cti-card__unknown")).to_contain_text("Unknown caller")

    def attach(text: str) -> None:
        ringing = page.locator(".cti-card[data-call-state=ringing]")
        ringing.locator("summary", has_text="Attach this number to a person").click()
        ringing.locator("input[name=person]").fill(text)
        ringing.locator("input[name=person]").press("Enter")
        page.wait_for_load_state()

    attach("   ")  # blank: the browser lets spaces through, the server does not
    expect(page.locator(".alert-danger")).to_contain_text("Give the person's name or e-mail.")
    attach("nowak")  # both people match
    alert = page.locator(".alert-danger")
    expect(alert).to_contain_text("Several people match")
    expect(alert).to_contain_text("ewa.nowak@example.com")
    expect(alert).to_contain_text("ewa.lis@example.com")
    assert Call.objects.get(call_id="e2e-u").caller_person is None
    screenshot(page, "cti-attach-ambiguous", full_page=False)
    attach("Ewa.Nowak@example.com")
    expect(page.locator(".alert-success")).to_contain_text("Ewa Nowak")
    expect(page.locator(".cti-card .cti-card__caller")).to_contain_text("Ewa Nowak")
    call = Call.objects.get(call_id="e2e-u")
    assert call.caller_person.email == "ewa.nowak@example.com"
    assert call.caller_person.phone_numbers.filter(e164="+48601000111").exists()
