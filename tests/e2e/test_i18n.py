"""The Polish interface, as a person sees it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.e2e.conftest import login, open_user_menu, screenshot
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(db):
    return {"user": make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")}


def test_polish_interface_shows_polish_text(page, base_url, desk):
    login(page, base_url, "ewa", PASSWORD)
    open_user_menu(page)
    page.get_by_label("Language").select_option("pl")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page.get_by_role("link", name="Moje zgłoszenia", exact=True)).to_be_visible()
    open_user_menu(page)
    expect(page.get_by_role("button", name="Wyloguj")).to_be_visible()
    page.get_by_role("link", name="Zgłoś problem").first.click()
    page.get_by_role("button", name="Wyślij").click()
    expect(page.get_by_text("To pole jest wymagane.").first).to_be_visible()
    screenshot(page, "08-portal-polish-validation")
    desk["user"].person.refresh_from_db()
    assert desk["user"].person.language == "pl"
