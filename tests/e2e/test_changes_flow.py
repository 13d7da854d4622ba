"""Issue 16 end to end: an agent turns a ticket into a change; the requester submits it; two
board members approve; it becomes approved and appears in the calendar; a third member's
late vote is refused. Screenshots of the detail, board and calendar pages in English and
Polish."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from changes.models import Change, ChangeType, Quorum, State
from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.changes.conftest import add_rule
from tests.e2e.conftest import login, open_user_menu, screenshot
from tests.factories import PASSWORD, SupportGroupFactory, make_ticket, make_user
from tickets.models import Status as TicketStatus
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _vote_on_board(page, base_url, number):
    page.goto(f"{base_url}/changes/board/")
    card = page.locator(f"[data-testid='awaiting'] [data-change='{number}']")
    expect(card).to_be_visible()
    card.locator("[data-vote='approve']").click()
    page.wait_for_load_state()
    return card


def _polish(page):
    open_user_menu(page)  # the language is chosen in the menu under the user's name
    page.get_by_label("Language").select_option("pl")
    page.locator("form[action='/language/'] button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "pl")


def test_ticket_becomes_an_approved_change_in_the_calendar(page, new_page, base_url):
    desk = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    desk.members.add(anna)
    ewa = make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="Nowak")
    for n, name in ((1, "Piotr"), (2, "Marta"), (3, "Jan")):
        make_user(Role.CHANGE_BOARD, username=f"cab{n}", first_name=name, last_name="Board")
    # Two approvals of the change board complete the one step of a normal change.
    add_rule(
        ChangeType.NORMAL,
        steps=[
            {"name": "Technical", "change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}
        ],
    )
    ticket = make_ticket(caller=ewa.person, title="Shared mailbox for the HR team", group=desk)

    # The agent: "This is a request for change" on the ticket page.
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    screenshot(page, "changes-09-ticket-request-for-change-en")
    page.get_by_test_id("request-for-change").click()
    page.wait_for_url("**/changes/CHG-*/")
    change = Change.objects.get()
    expect(page.get_by_test_id("change-title")).to_have_text("Shared mailbox for the HR team")
    expect(page.get_by_test_id("change-state")).to_have_text("Draft")
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.PENDING
    # The window of the work, next week at 18:00 for two hours.
    start = timezone.localtime() + timedelta(days=7)
    start = start.replace(hour=18, minute=0, second=0, microsecond=0)
    page.get_by_test_id("edit-card").locator("summary").click()
    form = page.get_by_test_id("edit-form")
    form.get_by_label("Planned start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Planned end").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Estimated cost").fill("1200")
    form.get_by_role("button", name="Save the change").click()
    expect(page.get_by_text("The change was saved.")).to_be_visible()

    # The requester submits it.
    requester = new_page()
    login(requester, base_url, "ewa", PASSWORD)
    requester.goto(f"{base_url}/changes/{change.number}/")
    requester.locator("[data-action='submit']").click()
    expect(requester.get_by_test_id("change-state")).to_have_text("Submitted")

    # The agent assesses it and sends it to the board.
    page.reload()
    page.locator("[data-action='assess']").click()
    expect(page.get_by_test_id("change-state")).to_have_text("In assessment")
    page.locator("[data-action='request_approval']").click()
    expect(page.get_by_test_id("change-state")).to_have_text("Awaiting approval")

    # The third member opens the board now and votes only after the others.
    late = new_page()
    login(late, base_url, "cab3", PASSWORD)
    expect(late).to_have_url(f"{base_url}/changes/board/")  # the board's landing page
    _polish(late)
    expect(
        late.locator(f"[data-testid='awaiting'] [data-change='{change.number}']")
    ).to_be_visible()
    screenshot(late, "changes-11-board-pl")

    first = new_page()
    login(first, base_url, "cab1", PASSWORD)
    first.goto(f"{base_url}/changes/board/")
    screenshot(first, "changes-10-board-en")
    _vote_on_board(first, base_url, change.number)
    expect(first.get_by_text(f"You approved {change.number}.")).to_be_visible()
    expect(first.get_by_test_id("past-votes")).to_contain_text(change.number)

    second = new_page()
    login(second, base_url, "cab2", PASSWORD)
    _vote_on_board(second, base_url, change.number)
    expect(second.get_by_text("The change is now Approved.")).to_be_visible()
    change.refresh_from_db()
    assert change.state == State.APPROVED

    # The late vote, from the board page opened before: refused, shown on the page.
    late.locator(
        f"[data-testid='awaiting'] [data-change='{change.number}'] [data-vote='approve']"
    ).click()
    late.wait_for_load_state()
    # In Polish, the third member's language: "The vote on this change is over ...".
    expect(late.locator(".alert-danger").first).to_contain_text(
        "Głosowanie nad tą zmianą zakończyło się"
    )
    screenshot(late, "changes-12-board-late-vote-pl")
    assert change.approvals.get().votes.count() == 2

    # Approved, in the calendar.
    first.goto(f"{base_url}/changes/calendar/?date={start.date().isoformat()}")
    entry = first.locator(
        f"[data-date='{start.date().isoformat()}'] [data-change='{change.number}']"
    )
    expect(entry).to_be_visible()
    expect(entry).to_have_attribute("data-state", "approved")
    screenshot(first, "changes-13-calendar-en")
    first.goto(f"{base_url}/changes/calendar/?view=week&date={start.date().isoformat()}")
    expect(first.locator(f"[data-change='{change.number}']")).to_be_visible()
    screenshot(first, "changes-14-calendar-week-en")
    late.goto(f"{base_url}/changes/calendar/?date={start.date().isoformat()}")
    expect(late.locator(f"[data-change='{change.number}']")).to_be_visible()
    screenshot(late, "changes-15-calendar-pl")

    # The change's page: both votes, the step approved.
    first.goto(f"{base_url}/changes/{change.number}/")
    expect(first.get_by_test_id("change-state")).to_have_text("Approved")
    expect(first.get_by_test_id("approvals").locator("[data-voter]")).to_have_count(2)
    screenshot(first, "changes-16-detail-en")
    late.goto(f"{base_url}/changes/{change.number}/")
    expect(late.get_by_test_id("approvals").locator("[data-voter]")).to_have_count(2)
    screenshot(late, "changes-17-detail-pl")
    # The agent's view of it, with the telephone column, at 1280 px.
    page.goto(f"{base_url}/changes/{change.number}/")
    expect(page.locator("[data-action='schedule']")).to_be_visible()
    screenshot(page, "changes-18-detail-agent-en")
    page.goto(f"{base_url}/changes/?state=approved")
    expect(
        page.get_by_test_id("change-list").locator(f"[data-change='{change.number}']")
    ).to_be_visible()
    screenshot(page, "changes-19-list-agent-en")
    page.goto(f"{base_url}/changes/feed/")
    page.get_by_test_id("make-feed").click()
    expect(page.get_by_test_id("new-feed").locator("input")).to_have_value(
        re.compile(r"/changes/feed/[\w-]+\.ics$")
    )
    screenshot(page, "changes-20-feed-en")
