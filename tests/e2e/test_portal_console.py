"""What people see: an end user and agents working a ticket through the portal and console."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.e2e.conftest import PHONE, login, logout, screenshot
from tests.factories import (
    PASSWORD,
    PNG,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    SupportGroupFactory,
    make_ticket,
    make_user,
)
from tickets.models import Comment, Status, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(db):
    """A first-line group with two agents, a second-line group, a few services, an end user."""
    first_line = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    network = SupportGroupFactory(name="Network", code="network", tier=SupportGroup.Tier.SECOND)
    for name in ("E-mail", "VPN", "Printing", "Telephony"):
        ServiceFactory(name=name, owner_group=network)
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    bartek = make_user(Role.AGENT, username="bartek", first_name="Bartek", last_name="Second")
    first_line.members.add(anna, bartek)
    user = make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    return {"anna": anna, "bartek": bartek, "user": user, "first_line": first_line}


def test_ticket_round_trip_between_end_user_and_agent(page, new_page, base_url, desk):
    # The end user files a ticket with an attachment.
    login(page, base_url, "ewa", PASSWORD)
    expect(page.get_by_role("heading", name="Hello, Ewa User")).to_be_visible()
    screenshot(page, "01-portal-home-empty")
    page.get_by_role("link", name="Report a problem").first.click()
    page.get_by_label("What is the problem?").fill("Outlook keeps asking for my password")
    page.get_by_label("Details").fill("Since this morning, after the laptop restarted.")
    page.get_by_placeholder("Type to narrow the list").fill("mai")
    page.get_by_label("Affected service (optional)").select_option(label="E-mail")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "prompt.png", "mimeType": "image/png", "buffer": PNG}],
    )
    screenshot(page, "02-portal-file-ticket")
    page.get_by_role("button", name="Send").click()
    number = page.get_by_test_id("ticket-number").inner_text().strip()
    assert re.fullmatch(r"INC-\d{6}", number)
    screenshot(page, "03-portal-confirmation")
    ticket = Ticket.objects.get(number=number)
    assert ticket.attachments.get().original_name == "prompt.png"

    # An agent finds it in the unassigned queue and takes it.
    agent = new_page()
    login(agent, base_url, "anna", PASSWORD)
    agent.goto(f"{base_url}/console/?queue=unassigned")
    expect(agent.get_by_test_id("count-unassigned")).to_have_text("1")
    row = agent.locator(f"tr[data-number='{number}']")
    expect(row).to_contain_text("Outlook keeps asking for my password")
    screenshot(agent, "04-console-unassigned-queue")
    row.get_by_role("link", name=number).click()
    expect(agent.get_by_test_id("caller-name")).to_have_text("Ewa User")
    agent.locator("[data-action=assign]").click()
    expect(agent.get_by_test_id("ticket-assignee")).to_have_text("Anna Agent")
    expect(agent.get_by_test_id("ticket-state")).to_have_text("Assigned")

    # A work note, then a public reply.
    agent.get_by_label("Internal work note (agents only)").check()
    agent.get_by_label("Text", exact=True).fill("Credential manager holds a stale token.")
    agent.get_by_role("button", name="Save", exact=True).click()
    expect(agent.get_by_text("The work note was added.")).to_be_visible()
    agent.get_by_label("Public reply (the caller sees it)").check()
    agent.get_by_label("Text", exact=True).fill("Please sign out of Outlook and sign in again.")
    agent.get_by_role("button", name="Save", exact=True).click()
    expect(agent.get_by_text("The reply was sent.")).to_be_visible()

    # Resolve with a code and notes.
    agent.locator("summary[data-action=resolve]").click()
    agent.get_by_label("Resolution code").select_option("user_instructed")
    agent.get_by_label("Resolution notes (the caller sees them)").fill(
        "Stale token removed; user signed in again."
    )
    agent.locator("form[action$='/resolve/'] button[type=submit]").click()
    expect(agent.get_by_test_id("ticket-state")).to_have_text("Resolved")
    timeline = agent.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Credential manager holds a stale token.")
    expect(timeline).to_contain_text("Please sign out of Outlook and sign in again.")
    screenshot(agent, "05-console-ticket-resolved")

    # The end user sees the reply but not the note, and reopens it.
    page.goto(f"{base_url}/tickets/{number}/")
    expect(page.get_by_text("Please sign out of Outlook and sign in again.")).to_be_visible()
    expect(page.get_by_text("Credential manager holds a stale token.")).to_have_count(0)
    expect(page.get_by_test_id("history")).to_contain_text("Your ticket was resolved.")
    screenshot(page, "06-portal-ticket-resolved")
    page.get_by_label("Why is the problem not solved?").fill("It asks again after an hour.")
    page.get_by_role("button", name="Reopen the ticket").click()
    expect(page.get_by_text("The ticket was reopened.")).to_be_visible()
    expect(page.get_by_test_id("history")).to_contain_text("Your ticket was reopened.")
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED
    assert Comment.objects.filter(ticket=ticket, body="It asks again after an hour.").exists()

    page.get_by_role("link", name="My tickets").click()
    expect(page.locator("table")).to_contain_text(number)
    screenshot(page, "07-portal-my-tickets")
    logout(page)
    expect(page.get_by_role("heading", name="Sign in to the IT Help Desk")).to_be_visible()
    screenshot(page, "00-login")


def test_stale_edit_by_a_second_agent_shows_the_conflict(page, new_page, base_url, desk):
    ticket = make_ticket(caller=desk["user"].person, title="Printer jams on floor 2")
    login(page, base_url, "anna", PASSWORD)
    second = new_page()
    login(second, base_url, "bartek", PASSWORD)
    url = f"{base_url}/console/tickets/{ticket.number}/"
    page.goto(url)
    second.goto(url)

    page.get_by_label("Urgency").select_option("2")
    page.get_by_role("button", name="Save classification").click()
    expect(page.get_by_text("The classification was saved.")).to_be_visible()

    # Bartek changes the same field (changes of other fields would go on top of Anna's).
    form = second.get_by_test_id("classification-form")
    form.get_by_label("Impact").select_option("1")
    form.get_by_label("Urgency").select_option("4")
    form.get_by_label("Service").select_option(label="Printing")
    form.get_by_role("button", name="Save classification").click()
    expect(second.get_by_test_id("conflict")).to_contain_text(
        "Someone else changed this ticket while you were editing it."
    )
    expect(second.get_by_role("link", name="reload the ticket")).to_be_visible()
    form = second.get_by_test_id("classification-form")
    expect(form.get_by_label("Impact")).to_have_value("1")
    selected = form.get_by_label("Service").evaluate("s => s.selectedOptions[0].text")
    assert selected == "Printing"
    screenshot(second, "09-console-conflict")
    ticket.refresh_from_db()
    assert ticket.urgency == 2 and ticket.impact == 4


def test_console_search_refreshes_the_list_without_reloading(page, base_url, desk):
    caller = PersonFactory(full_name="Zofia Nowak")
    PhoneNumberFactory(person=caller, raw="+48 22 555 01 23")
    wanted = make_ticket(caller=caller, title="Headset crackles")
    other = make_ticket(title="Monitor flickers")
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/?queue=open")
    page.evaluate("window.noFullReload = true")
    expect(page.locator(f"tr[data-number='{other.number}']")).to_be_visible()
    page.get_by_label("Search", exact=True).fill("22 555 01 23")
    expect(page.locator(f"tr[data-number='{other.number}']")).to_have_count(0)
    expect(page.locator(f"tr[data-number='{wanted.number}']")).to_be_visible()
    assert page.evaluate("window.noFullReload") is True
    assert "q=22%20555%2001%2023" in page.url
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_label("Channel").select_option("portal")
    expect(page.locator(f"tr[data-number='{other.number}']")).to_be_visible()
    assert page.evaluate("window.noFullReload") is True
    screenshot(page, "10-console-all-open")


def test_phone_ticket_for_a_caller_solved_on_first_contact(page, base_url, desk):
    caller = PersonFactory(full_name="Barbara Kowalska", department="Payroll", is_vip=True)
    PhoneNumberFactory(person=caller, raw="+48 601 111 222")
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/new/?title=Call+from+601111222")
    expect(page.get_by_label("Title")).to_have_value("Call from 601111222")
    expect(page.get_by_label("Channel")).to_have_value("phone")
    page.get_by_label("Find by name, e-mail or phone number").fill("601 111 222")
    page.get_by_label(re.compile("Barbara Kowalska")).check()
    page.get_by_label("Title").fill("Forgot the SAP password")
    page.get_by_label("Solved on first contact").check()
    page.get_by_label("Resolution code").select_option("user_instructed")
    page.get_by_label("Resolution notes").fill("Reset the password, user signed in.")
    screenshot(page, "11-console-new-phone-ticket")
    page.get_by_role("button", name="Register the ticket").click()
    expect(page.get_by_test_id("ticket-state")).to_have_text("Resolved")
    expect(page.get_by_test_id("caller-name")).to_have_text("Barbara Kowalska")
    ticket = Ticket.objects.get(title="Forgot the SAP password")
    assert ticket.caller == caller and ticket.first_contact_resolution


def test_portal_on_a_phone(new_page, base_url, desk):
    make_ticket(caller=desk["user"].person, title="Wi-Fi drops in room 204")
    phone = new_page(viewport=PHONE)
    login(phone, base_url, "ewa", PASSWORD)
    expect(phone.get_by_text("Wi-Fi drops in room 204")).to_be_visible()
    phone.get_by_role("button", name="Toggle navigation").click()
    expect(phone.get_by_role("link", name="My tickets", exact=True)).to_be_visible()
    expect(phone.locator("#main-nav.show:not(.collapsing)")).to_be_visible()
    phone.get_by_test_id("user-menu").click()
    expect(phone.get_by_role("button", name="Sign out")).to_be_in_viewport()
    screenshot(phone, "12-portal-home-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page scrolls sideways: {width}px"


def test_console_on_a_phone(new_page, base_url, desk):
    caller = PersonFactory(full_name="Mobile Caller", is_vip=True)
    PhoneNumberFactory(person=caller, raw="+48 601 222 333")
    ticket = make_ticket(caller=caller, title="Laptop does not charge")
    phone = new_page(viewport=PHONE)
    login(phone, base_url, "anna", PASSWORD)
    phone.goto(f"{base_url}/console/?queue=open")
    expect(phone.locator(f"tr[data-number='{ticket.number}']")).to_be_visible()
    screenshot(phone, "13-console-queue-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.get_by_role("link", name=ticket.number).click()
    expect(phone.get_by_test_id("caller-name")).to_have_text("Mobile Caller")
    screenshot(phone, "14-console-ticket-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_agent_waits_for_the_caller_and_the_callers_reply_hands_it_back(
    page, new_page, base_url, desk
):
    """Put on hold waiting for the user (a form from the transition registry), the caller
    answers on the portal, and the console shows the ticket back in progress."""
    ticket = make_ticket(caller=desk["user"].person, title="Docking station not detected")
    agent = new_page()
    login(agent, base_url, "anna", PASSWORD)
    agent.goto(f"{base_url}/console/tickets/{ticket.number}/")
    agent.locator("[data-action=start]").click()
    expect(agent.get_by_test_id("ticket-state")).to_have_text("In progress")
    agent.locator("summary[data-action=pend]").click()
    agent.get_by_label("Waiting for").select_option("user")
    agent.get_by_label("Note", exact=True).fill("Which model is the docking station?")
    agent.locator("form[action$='/pend/'] button[type=submit]").click()
    expect(agent.get_by_test_id("ticket-state")).to_have_text("Pending")
    screenshot(agent, "15-console-pending-for-the-caller")

    login(page, base_url, "ewa", PASSWORD)
    page.goto(f"{base_url}/tickets/{ticket.number}/")
    page.get_by_label("Your reply").fill("It is a Dell WD19.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("the ticket is back with the help desk")).to_be_visible()
    screenshot(page, "16-portal-reply-resumes")

    agent.reload()
    expect(agent.get_by_test_id("ticket-state")).to_have_text("In progress")
    expect(agent.get_by_test_id("timeline")).to_contain_text("It is a Dell WD19.")
    screenshot(agent, "17-console-back-in-progress")
