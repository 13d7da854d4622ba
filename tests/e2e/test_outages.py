"""Mass outages in the browser (issue 17): the banner on the portal and the notice on the
console, "add me to the outage" from the portal's new-ticket form, attaching tickets
selected in the queue.

Polish texts the voice menu speaks (msgids for the lead; tests/outages/test_ivr.py reads
them through the catalogue):

- "We know about a problem: %(description)s" -> "Wiemy o problemie: %(description)s"
- "We expect it to be fixed by %(time)s." -> "Spodziewamy się usunięcia awarii do %(time)s."
- "Thank you for your patience." -> "Dziękujemy za cierpliwość."
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from outages import selectors
from outages.models import Outage
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, ServiceFactory, SiteFactory, make_ticket, make_user
from tests.outages.factories import declare
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _active_outages_reloaded():
    selectors.active_changed()
    yield
    selectors.active_changed()


@pytest.fixture
def world(first_line):
    site = SiteFactory(code="waw", name="Warszawa HQ")
    vpn = ServiceFactory(name="VPN & remote access", owner_group=first_line)
    ServiceFactory(name="Printing", owner_group=first_line)
    agent = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    first_line.members.add(agent)
    caller = make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="Nowak")
    caller.person.site = site
    caller.person.save(update_fields=["site"])
    outage = declare(
        agent,
        services_=[vpn],
        sites=[site],
        title="VPN gateway Warsaw degraded",
        description="Connections drop; work from the office network where you can.",
    )
    return {"agent": agent, "caller": caller, "vpn": vpn, "outage": outage}


def test_the_portal_shows_the_banner_and_the_user_adds_themselves(page, base_url, world):
    login(page, base_url, "ewa", PASSWORD)
    banner = page.get_by_test_id("outage-banner")
    expect(banner).to_contain_text("VPN gateway Warsaw degraded")
    expect(banner).to_contain_text("Connections drop")
    screenshot(page, "outages-portal-banner")

    page.goto(f"{base_url}/tickets/new/")
    expect(page.get_by_test_id("outage-known")).to_have_count(0)
    page.select_option("#id_service", label="Printing")
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("outage-known")).to_have_count(0)
    page.select_option("#id_service", label="VPN & remote access")
    known = page.get_by_test_id("outage-known")
    expect(known).to_contain_text("We know about this problem.")
    screenshot(page, "outages-portal-known-problem")
    page.get_by_test_id("outage-join").click()
    page.wait_for_url("**/tickets/INC-*/")
    expect(page.locator(".alert-success")).to_contain_text("You were added to the outage")
    screenshot(page, "outages-portal-added")
    child = Ticket.objects.get(parent=world["outage"].parent_ticket)
    assert child.caller == world["caller"].person
    assert child.number in page.url

    # Back on the form, the service says so instead of offering it again.
    page.goto(f"{base_url}/tickets/new/")
    page.select_option("#id_service", label="VPN & remote access")
    expect(page.get_by_test_id("outage-known")).to_contain_text("already on this outage")
    assert Ticket.objects.filter(parent=world["outage"].parent_ticket).count() == 1


def test_the_console_shows_the_notice_and_attaches_the_selected_tickets(page, base_url, world):
    tickets = [make_ticket(service=world["vpn"], title=f"VPN drops {n}") for n in range(2)]
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/")
    notice = page.get_by_test_id("outage-banner")
    expect(notice).to_contain_text("VPN gateway Warsaw degraded")
    expect(notice.get_by_role("link", name="Open")).to_be_visible()
    for ticket in tickets:
        page.get_by_label(f"Select {ticket.number}").check()
    screenshot(page, "outages-console-notice")
    page.get_by_test_id("bulk-attach-outage").click()
    expect(page.get_by_test_id("attach-ticket")).to_have_count(2)
    page.get_by_role("button", name="Attach here").click()
    expect(page.locator(".alert-success")).to_contain_text("Attached to the outage")
    expect(page.get_by_test_id("outage-children")).to_contain_text(tickets[0].number)
    expect(page.get_by_test_id("outage-children")).to_contain_text(tickets[1].number)
    screenshot(page, "outages-detail")
    outage = Outage.objects.get()
    assert set(outage.parent_ticket.children.values_list("pk", flat=True)) == {
        ticket.pk for ticket in tickets
    }
