"""The supervisors' wallboard in a real browser (issue 15): it changes when a ring arrives
and when it is answered, without a reload and without polling; a queue with callers and
nobody available raises the alarm; the supervisor sets an agent's status; in English and
Polish at 1366x768.

Chromium against uvicorn serving the ASGI app (see test_screen_pop.py); PBX events are
posted to the generic webhook as a PBX would.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta

import pytest
import uvicorn
from django.utils import timezone
from playwright.sync_api import expect

from cti.models import AgentPresence, Call
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.e2e.test_screen_pop import post_event
from tests.factories import (
    PASSWORD,
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
CALLER = "+48 22 555 01 01"


@pytest.fixture
def floor(first_line):
    """Alice (available) and Bob (away) in the service desk queue, Carol in the VIP queue
    (away); a manager; a known caller; a few calls earlier today."""
    alice = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    bob = make_user(Role.AGENT, username="bob", first_name="Bob", last_name="Colleague")
    carol = make_user(Role.AGENT, username="carol", first_name="Carol", last_name="Vip")
    manager = make_user(Role.MANAGER, username="maria", first_name="Maria", last_name="Manager")
    AgentExtensionFactory(user=alice, extension="201")
    desk = CallQueueFactory(code="service-desk", name="Service desk")
    desk.members.add(alice, bob)
    vip = CallQueueFactory(code="vip", name="VIP")
    vip.members.add(carol)
    now = timezone.now()
    AgentPresence.objects.create(user=alice, state=AgentPresence.State.AVAILABLE, version=1)
    AgentPresence.objects.create(
        user=bob, state=AgentPresence.State.AWAY, changed_at=now - timedelta(minutes=7), version=1
    )
    AgentPresence.objects.create(
        user=carol, state=AgentPresence.State.AWAY, changed_at=now - timedelta(minutes=3)
    )
    PhoneNumberFactory(raw=CALLER, person__full_name="Anna Nowak")
    # Earlier today (in the last hour, so inside the local day unless the test runs just
    # after midnight): two answered in time, one late, one missed.
    for number, (answer_after, outcome) in enumerate(
        [(5, "answered"), (8, "answered"), (40, "answered"), (None, "missed")]
    ):
        started = now - timedelta(minutes=30 + number)
        Call.objects.create(
            call_id=f"earlier-{number}",
            queue=desk,
            started_at=started,
            answered_at=started + timedelta(seconds=answer_after) if answer_after else None,
            ended_at=started + timedelta(seconds=90),
            state=Call.State.ENDED,
            outcome=outcome,
        )
    return {"alice": alice, "bob": bob, "manager": manager, "pbx": PbxFactory()}


def open_wallboard(page, base_url: str, username: str = "maria") -> None:
    login(page, base_url, username, PASSWORD)
    page.goto(f"{base_url}/cti/wallboard/")
    expect(page.locator("#wallboard")).to_have_attribute("data-connected", "true")


def queue_row(page, name: str):
    return page.locator(".wallboard__queues tbody tr", has_text=name)


def agent_row(page, user):
    return page.locator(f'.wallboard__agents tbody tr[data-user-id="{user.pk}"]')


def test_wallboard_changes_when_a_ring_arrives_and_when_it_is_answered(
    floor, asgi_server, new_page
):
    page = new_page(viewport=LAPTOP)
    requests = []
    page.on(
        "request",
        lambda request: (
            requests.append(request.url) if request.resource_type in ("fetch", "xhr") else None
        ),
    )
    open_wallboard(page, asgi_server)
    desk = queue_row(page, "Service desk")
    expect(desk.locator('[data-field="waiting"]')).to_have_text("0")
    expect(page.locator('[data-figure="answered"]')).to_have_text("3")
    expect(page.locator('[data-figure="missed"]')).to_have_text("1")
    expect(page.locator('[data-figure="service_level"]')).to_have_text("50%")
    expect(agent_row(page, floor["alice"])).to_have_attribute("data-state", "available")
    expect(page.locator(".wallboard__alarm")).to_have_count(0)

    post_event(
        asgi_server,
        floor["pbx"],
        event="ring",
        call_id="wb-1",
        queue="service-desk",
        **{"from": CALLER},
    )
    expect(desk.locator('[data-field="waiting"]')).to_have_text("1")
    # The longest wait counts up in the browser from the ring's time.
    expect(desk.locator('[data-field="longest-wait"]')).to_have_text(re.compile(r"^0:0[1-5]$"))

    post_event(asgi_server, floor["pbx"], event="answer", call_id="wb-1", answered_by="201")
    expect(desk.locator('[data-field="waiting"]')).to_have_text("0")
    expect(desk.locator('[data-field="talking"]')).to_have_text("1")
    alice = agent_row(page, floor["alice"])
    expect(alice).to_have_attribute("data-state", "busy")
    expect(alice.locator(".wallboard__call")).to_have_text("with Anna Nowak")
    expect(page.locator('[data-figure="answered"]')).to_have_text("4")

    # A caller in the VIP queue, where nobody is available: the alarm.
    post_event(
        asgi_server,
        floor["pbx"],
        event="ring",
        call_id="wb-2",
        queue="vip",
        **{"from": "+48225550199"},
    )
    alarm = page.locator(".wallboard__alarm")
    expect(alarm).to_have_count(1)
    expect(alarm).to_contain_text("VIP: 1 waiting and no agent available")
    expect(queue_row(page, "VIP")).to_have_class("table-danger")
    screenshot(page, "cti-wallboard-1366-en", full_page=False)

    # The supervisor brings Bob in: his row, and the desk's available count, change.
    bob = agent_row(page, floor["bob"])
    bob.locator("select").select_option("available")
    bob.locator("button").click()
    expect(bob).to_have_attribute("data-state", "available")
    expect(page.locator(".wallboard__notice")).to_have_text("Status of Bob Colleague changed.")
    assert AgentPresence.objects.get(user=floor["bob"]).state == AgentPresence.State.AVAILABLE
    # Everything came over the websocket: the page's only request is the status change.
    # (The telephone widget of the supervisor's own console reloads its "Recent calls" when a
    # call offered to the supervisor too is answered elsewhere: not the wallboard's doing;
    # every page loads the outage notices once: not the wallboard's either.)
    wallboard_requests = [
        url
        for url in requests
        if "/cti/calls/recent/" not in url and "/outages/notices/" not in url
    ]
    assert wallboard_requests == [f"{asgi_server}/cti/wallboard/agents/{floor['bob'].pk}/presence/"]


def test_wallboard_in_polish(floor, asgi_server, new_page):
    manager = floor["manager"]
    manager.person.language = "pl"
    manager.person.save(update_fields=["language"])
    page = new_page(viewport=LAPTOP, locale="pl-PL")
    open_wallboard(page, asgi_server)
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    post_event(
        asgi_server, floor["pbx"], event="ring", call_id="wb-pl", queue="vip", **{"from": CALLER}
    )
    expect(page.locator(".wallboard__alarm")).to_have_count(1)
    expect(agent_row(page, floor["alice"]).locator(".badge")).to_have_text("Dostępny")
    screenshot(page, "cti-wallboard-1366-pl", full_page=False)


def test_agents_are_refused_the_wallboard(floor, asgi_server, page):
    login(page, asgi_server, "alice", PASSWORD)
    expect(page.locator('[data-testid="nav-wallboard"]')).to_have_count(0)
    response = page.goto(f"{asgi_server}/cti/wallboard/")
    assert response.status == 403


def serve(port: int):
    """The ASGI application on ``port`` (a server this test can stop and start again)."""
    from helpdesk.asgi import application

    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return server, thread


def stop(server, thread) -> None:
    server.should_exit = True
    thread.join(timeout=10)


def test_wallboard_says_reconnecting_and_comes_back_when_the_server_returns(floor, new_page):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    server, thread = serve(port)
    try:
        page = new_page(viewport=LAPTOP)
        open_wallboard(page, base_url)
        link = page.locator('[data-testid="wallboard-link"]')
        expect(link).to_have_text("Live")

        stop(server, thread)
        expect(link).to_have_text("Connection lost, reconnecting…")
        expect(page.locator("#wallboard")).to_have_attribute("data-connected", "false")

        server, thread = serve(port)
        # Back-off: 0.25-0.5 s, then up to 1 s, 2 s ...: back within a few seconds.
        expect(link).to_have_text("Live", timeout=15_000)
        post_event(base_url, floor["pbx"], event="ring", call_id="wb-back", queue="vip")
        expect(page.locator(".wallboard__alarm")).to_have_count(1)
    finally:
        stop(server, thread)
