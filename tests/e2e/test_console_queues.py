"""New tickets reach an open console queue without a reload, in a real browser.

The agent's console runs against uvicorn serving the project's ASGI application (websockets
need one, see test_screen_pop.py). The mail is received here, in a thread of the test, as a
mail server's pipe or the fetching worker would in another process (not in the test's own
thread: Playwright runs an event loop there). The push crosses processes in production, so
it goes through the Redis pub/sub channel layer here too (the in-memory layer only reaches
consoles of the process that pushed). Without a Redis server the test is skipped.
"""

from __future__ import annotations

import email.policy
import email.utils
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from mail.models import InboundMessage, Mailbox
from mail.services import ingest
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, SupportGroupFactory, make_user
from tickets.models import Channel, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_channel_layer(settings):
    """The production channel layer on a private prefix (before the server starts)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server at {REDIS_URL}")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"e2e-{uuid.uuid4().hex[:8]}"},
        }
    }


@pytest.fixture
def desk(db):
    service_desk = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    SupportGroupFactory(name="Network", code="network", tier=SupportGroup.Tier.SECOND)
    agent = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    service_desk.members.add(agent)
    make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    mailbox = Mailbox.objects.create(
        name="Service desk", address="servicedesk@helpdesk.test", default_group=service_desk
    )
    return {"agent": agent, "mailbox": mailbox, "service_desk": service_desk}


def receive_mail(mailbox: Mailbox, subject: str) -> Ticket:
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(_receive_mail, mailbox, subject).result(timeout=30)


def _receive_mail(mailbox: Mailbox, subject: str) -> Ticket:
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = "Piotr Klient <piotr@client.example>"
    mail["To"] = mailbox.address
    mail["Subject"] = subject
    mail["Date"] = email.utils.formatdate(localtime=True)
    mail["Message-ID"] = email.utils.make_msgid(domain="client.example")
    mail.set_content("The shared drive asks for a password again.\n\n-- \nPiotr")
    message = ingest.message_receive(
        mailbox=mailbox, raw=mail.as_bytes(), source=InboundMessage.Source.PIPE
    )
    assert message.ticket is not None, message.detail
    return message.ticket


def test_mail_and_portal_tickets_appear_in_the_open_queue_without_a_reload(
    redis_channel_layer, desk, asgi_server, page, new_page
):
    login(page, asgi_server, "anna", PASSWORD)
    page.goto(f"{asgi_server}/console/?queue=groups")
    expect(page.locator("#cti-console")).to_have_attribute("data-connected", "true")
    expect(page.get_by_test_id("result-count")).to_have_text("0 tickets")
    expect(page.locator("#queue-news")).to_be_hidden()
    # A second tab of the same agent shows only phone tickets: a mail is none of its business.
    phones_only = new_page()
    login(phones_only, asgi_server, "anna", PASSWORD)
    phones_only.goto(f"{asgi_server}/console/?queue=groups&channel=phone")
    expect(phones_only.locator("#cti-console")).to_have_attribute("data-connected", "true")
    # Anything the page keeps in memory is lost by a reload: this says there was none.
    page.evaluate("window.__notReloaded = true")

    # A mail arrives: the queue offers it at once, without taking the list from under
    # the agent's cursor.
    mailed = receive_mail(desk["mailbox"], "Shared drive asks for a password")
    notice = page.locator("#queue-news")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("New tickets: 1")
    expect(page.locator(f'tr[data-number="{mailed.number}"]')).to_have_count(0)
    page.wait_for_timeout(300)
    expect(phones_only.locator("#queue-news")).to_be_hidden()
    Path("/tmp/console-queue-new-ticket-notice.png").write_bytes(page.screenshot())

    notice.get_by_role("button", name="Show").click()
    row = page.locator(f'tr[data-number="{mailed.number}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("Shared drive asks for a password")
    expect(row).to_contain_text("E-mail")
    expect(row).to_have_class(re.compile(r"\bqueue-row--new\b"))
    expect(notice).to_be_hidden()
    expect(page.get_by_test_id("count-groups")).to_have_text("1")

    # An end user files a ticket in the portal: the same queue offers it too.
    portal = new_page()
    login(portal, asgi_server, "ewa", PASSWORD)
    portal.get_by_role("link", name="Report a problem").first.click()
    portal.get_by_label("What is the problem?").fill("Laptop will not dock")
    portal.get_by_label("Details").fill("The screens stay black.")
    portal.get_by_role("button", name="Send").click()
    filed = portal.get_by_test_id("ticket-number").inner_text().strip()
    assert Ticket.objects.get(number=filed).channel == Channel.PORTAL

    expect(notice).to_contain_text("New tickets: 1")
    notice.get_by_role("button", name="Show").click()
    row = page.locator(f'tr[data-number="{filed}"]')
    expect(row).to_contain_text("Laptop will not dock")
    expect(row).to_contain_text("Portal")
    expect(page.get_by_test_id("result-count")).to_have_text("2 tickets")
    assert page.evaluate("window.__notReloaded") is True
    Path("/tmp/console-queue-new-tickets-shown.png").write_bytes(page.screenshot())
    screenshot(page, "console-queue-new-tickets", full_page=False)

    # The mail's signature is folded on its ticket page, one click away.
    page.locator(f'tr[data-number="{mailed.number}"]').get_by_role("link").click()
    description = page.locator(".description")
    expect(description).to_contain_text("The shared drive asks for a password again.")
    expect(description.get_by_text("Piotr", exact=True)).to_be_hidden()
    description.get_by_text("Show quoted text").click()
    expect(description.locator("details.quoted-text")).to_contain_text("Piotr")
    Path("/tmp/console-ticket-quoted-text.png").write_bytes(page.screenshot())
