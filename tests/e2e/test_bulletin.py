"""The bulletin board in the browser: an agent posts a critical, pinned announcement; the end
user reads it on the portal's home page (in Polish too); the console's queue shows it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_announcement_posted_by_an_agent_reaches_the_portal_and_the_console(new_page, base_url):
    make_user(Role.AGENT, username="anna")
    jan = make_user(Role.END_USER, username="jan")
    agent = new_page()
    login(agent, base_url, "anna", PASSWORD)
    agent.goto(f"{base_url}/kb/announcements/new/")
    agent.get_by_label("Title").fill("E-mail down in every office")
    agent.get_by_label("Text (Markdown)").fill("Outlook cannot connect. **No need to call**.")
    agent.get_by_label("Severity").select_option("critical")
    agent.get_by_label("Pinned").check()
    agent.get_by_role("button", name="Put it on the board").click()
    expect(agent.get_by_test_id("announcement-detail")).to_contain_text("No need to call")

    portal = new_page()
    login(portal, base_url, "jan", PASSWORD)
    board = portal.get_by_test_id("bulletin-board")
    expect(board).to_be_visible()
    item = board.get_by_test_id("announcement").first
    expect(item).to_have_attribute("data-severity", "critical")
    expect(item).to_contain_text("E-mail down in every office")
    expect(item.locator("strong")).to_have_text("No need to call")
    screenshot(portal, "bulletin-portal-en")

    jan.person.language = "pl"
    jan.person.save(update_fields=["language"])
    polish = new_page(locale="pl-PL")
    login(polish, base_url, "jan", PASSWORD)
    expect(polish.get_by_role("heading", name="Tablica ogłoszeń")).to_be_visible()
    expect(polish.get_by_test_id("announcement").first).to_contain_text("Krytyczne")
    screenshot(polish, "bulletin-portal-pl")

    agent.goto(f"{base_url}/console/")
    panel = agent.get_by_test_id("console-bulletin")
    expect(panel).to_have_attribute("open", "")
    expect(panel).to_contain_text("E-mail down in every office")
    screenshot(agent, "bulletin-console-en")
