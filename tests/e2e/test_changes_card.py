"""The ticket page shows the changes the ticket waits for (issue 16; the pages of change
management come next)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from changes import services as change_services
from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, PersonFactory, SupportGroupFactory, make_ticket, make_user
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_ticket_turned_into_a_change_shows_the_change_and_waits(page, base_url):
    first_line = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    first_line.members.add(anna)
    ticket = make_ticket(
        caller=PersonFactory(full_name="Ewa Nowak"),
        title="Shared mailbox for the HR team",
        group=first_line,
    )
    change = change_services.change_from_ticket(ticket=ticket, by=anna)
    change_services.change_submit(change=change, by=anna)

    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    card = page.get_by_test_id("ticket-changes")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_have_text("Changes")
    row = card.locator(f"[data-change='{change.number}']")
    expect(row).to_contain_text(change.number)
    expect(row).to_contain_text("Submitted")
    expect(row).to_contain_text("Shared mailbox for the HR team")
    expect(page.get_by_test_id("ticket-state")).to_have_text("Pending")
    assert Ticket.objects.get(pk=ticket.pk).pending_note == change.number
    screenshot(page, "changes-01-ticket-card")
