"""A double click on "Send" opens one ticket (issue 13, second defect)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, PersonFactory, SupportGroupFactory, make_user
from tickets.models import CreationKey, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(db):
    group = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    group.members.add(anna)
    make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    return group


def _posts_to(page, path: str) -> list:
    posts = []
    page.context.on(
        "request",
        lambda request: (
            posts.append(request.url) if request.method == "POST" and path in request.url else None
        ),
    )
    return posts


def test_double_click_on_send_in_the_portal_opens_one_ticket(page, base_url, desk):
    login(page, base_url, "ewa", PASSWORD)
    page.goto(f"{base_url}/tickets/new/")
    page.get_by_label("What is the problem?").fill("Outlook keeps asking for my password")
    page.get_by_label("Details").fill("Since this morning.")
    # The answer opens in a new tab, so that this page stays to be looked at (and a page
    # without the guard would send the form once per click, each into its own tab).
    page.eval_on_selector("form[data-submit-once]", "form => { form.target = '_blank'; }")
    posts = _posts_to(page, "/tickets/new/")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Send").dblclick()
    answer = opened.value
    expect(answer.get_by_test_id("ticket-number")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    page.wait_for_timeout(500)
    assert len(posts) == 1
    assert len(page.context.pages) == 2
    assert Ticket.objects.count() == 1
    screenshot(answer, "create-once-portal-after-double-click")

    # Back on the form from another page, the button works again.
    page.goto(f"{base_url}/tickets/")
    page.go_back()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_double_click_on_register_in_the_console_opens_one_ticket(page, base_url, desk):
    caller = PersonFactory(full_name="Zofia Nowak")
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/new/?caller={caller.pk}")
    page.get_by_label("Title").fill("Headset crackles")
    page.get_by_role("button", name="Register the ticket").dblclick()
    expect(page.get_by_text("was registered.")).to_be_visible()
    ticket = Ticket.objects.get()
    assert (ticket.title, ticket.caller) == ("Headset crackles", caller)


def test_without_the_page_script_the_server_still_opens_one_ticket(browser, base_url, desk):
    """Two submissions of one form reach the server: the one-time token makes one ticket."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, base_url, "ewa", PASSWORD)
        page.goto(f"{base_url}/tickets/new/")
        page.get_by_label("What is the problem?").fill("Printer jams")
        page.get_by_label("Details").fill("Floor 2.")
        form = page.locator("form[data-submit-once]")
        # Submit the same form twice from the page, as a slow double click can.
        token = form.locator("input[name=submission_key]").input_value()
        for _ in range(2):
            response = page.request.post(
                f"{base_url}/tickets/new/",
                form={
                    "csrfmiddlewaretoken": form.locator(
                        "input[name=csrfmiddlewaretoken]"
                    ).input_value(),
                    "submission_key": token,
                    "title": "Printer jams",
                    "description": "Floor 2.",
                },
                headers={"Referer": f"{base_url}/tickets/new/"},
            )
            assert response.ok
        assert Ticket.objects.count() == 1
        assert CreationKey.objects.get().key == token
    finally:
        context.close()
