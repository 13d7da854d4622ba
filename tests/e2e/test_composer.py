"""The agent's composer and keyboard in Chromium: canned replies, @mentions with their toast,
the shortcut overlay, and the portal's upload hint."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, PersonFactory, SupportGroupFactory, make_ticket, make_user
from tickets.models import CannedReply, CommentMention

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(db):
    first_line = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    marta = make_user(Role.AGENT, username="marta.nowak", first_name="Marta", last_name="Nowak")
    first_line.members.add(anna, marta)
    caller = PersonFactory(full_name="Jan Kowalski", language="pl", user=None)
    ticket = make_ticket(caller=caller, opened_by=anna, group=first_line, title="VPN drops")
    CannedReply.objects.create(
        title="Sprawdzamy zgłoszenie",
        language="pl",
        body="Dzień dobry {caller_name},\nsprawdzamy {ticket_number}. {unknown}",
    )
    CannedReply.objects.create(
        title="We are looking into it", language="en", body="Hello {caller_first_name}"
    )
    return {"anna": anna, "marta": marta, "ticket": ticket}


def test_agent_inserts_a_canned_reply_filled_for_the_caller(page, base_url, desk):
    ticket = desk["ticket"]
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    composer = page.get_by_test_id("composer")
    picker = composer.get_by_label("Insert canned reply")
    # The caller's language first, the others after it.
    expect(picker.locator("optgroup").first).to_have_attribute(
        "label", re.compile(r"caller's language \(Polish\)")
    )
    body = composer.get_by_label("Text")
    body.fill("Call logged.")
    picker.select_option(label="Sprawdzamy zgłoszenie")
    expect(body).to_have_value(
        f"Call logged.\nDzień dobry Jan Kowalski,\nsprawdzamy {ticket.number}. {{unknown}}"
    )
    expect(picker).to_have_value("")
    screenshot(page, "composer-canned-reply", full_page=False)
    composer.get_by_label("Public reply (the caller sees it)").check()
    composer.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Dzień dobry Jan Kowalski")


def test_note_mentions_a_colleague_picked_from_the_autocomplete(new_page, asgi_server, desk):
    ticket = desk["ticket"]
    # Marta's console is open on the queue: she is told at once.
    marta = new_page()
    login(marta, asgi_server, "marta.nowak", PASSWORD)
    marta.goto(f"{asgi_server}/console/")
    expect(marta.locator("#cti-console")).to_have_attribute("data-connected", "true")

    anna = new_page()
    login(anna, asgi_server, "anna", PASSWORD)
    anna.goto(f"{asgi_server}/console/tickets/{ticket.number}/")
    composer = anna.get_by_test_id("composer")
    body = composer.get_by_label("Text")
    body.click()
    body.press_sequentially("Can you check the tunnel, @mar")
    suggestions = composer.get_by_role("listbox", name="Colleagues")
    expect(suggestions.get_by_role("option")).to_have_count(1)
    expect(suggestions.get_by_role("option").first).to_contain_text("@marta.nowak Marta Nowak")
    screenshot(anna, "composer-mention-autocomplete", full_page=False)
    body.press("Enter")
    expect(suggestions).to_be_hidden()
    body.press_sequentially("please?")
    expect(body).to_have_value("Can you check the tunnel, @marta.nowak please?")
    composer.get_by_role("button", name="Save").click()

    note = anna.get_by_test_id("timeline").locator("[data-mention='marta.nowak']")
    expect(note).to_have_text("@marta.nowak")
    assert CommentMention.objects.filter(user=desk["marta"]).count() == 1

    toast = marta.get_by_test_id("mention-toast")
    expect(toast).to_contain_text(f"Anna Agent mentioned you in {ticket.number}")
    screenshot(marta, "console-mention-toast", full_page=False)
    toast.get_by_role("link", name="Open the ticket").click()
    marta.wait_for_url(f"**/console/tickets/{ticket.number}/")


def test_shortcut_overlay_and_go_to_new_ticket(page, base_url, desk):
    ticket = desk["ticket"]
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    # Typing "?" in a field types it; it opens no overlay.
    body = page.get_by_test_id("composer").get_by_label("Text")
    body.click()
    body.press("?")
    expect(body).to_have_value("?")
    overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(overlay).to_be_hidden()
    body.press("Escape")

    page.keyboard.press("?")
    expect(overlay).to_be_visible()
    expect(overlay.get_by_test_id("shortcut-list")).to_contain_text("New ticket for a caller")
    expect(overlay).to_be_focused()  # shown (the fade is over): Esc closes it
    expect(page.locator(".modal-backdrop.show")).to_have_css("opacity", "0.5")
    screenshot(page, "shortcut-overlay", full_page=False)
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    # n: a work note, r: a public reply, with the text box focused.
    page.keyboard.press("r")
    expect(page.get_by_label("Public reply (the caller sees it)")).to_be_checked()
    expect(body).to_be_focused()
    body.press("Escape")
    page.keyboard.press("a")
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("Anna Agent")

    page.keyboard.press("g")
    page.keyboard.press("q")
    page.wait_for_url("**/console/")
    page.keyboard.press("j")
    expect(page.locator("tr[data-shortcut=row].table-active")).to_have_count(1)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/tickets/{ticket.number}/")
    page.keyboard.press("g")
    page.keyboard.press("n")
    page.wait_for_url("**/console/new/")


def test_portal_says_which_files_may_be_attached_before_the_upload(page, base_url):
    make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    login(page, base_url, "ewa", PASSWORD)
    page.goto(f"{base_url}/tickets/new/")
    hint = page.get_by_test_id("upload-limits")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("at most 10")
    expect(hint).to_contain_text("Allowed types: PNG, JPEG")
    file_input = page.locator("input[type=file][name=attachments]")
    expect(file_input).to_have_attribute("accept", re.compile(r"image/png,\.png,"))
    expect(file_input).to_have_attribute("aria-describedby", re.compile("limits"))
    hint_box = hint.bounding_box()
    input_box = file_input.bounding_box()
    assert hint_box["y"] < input_box["y"]
    screenshot(page, "portal-upload-hint", full_page=False)
