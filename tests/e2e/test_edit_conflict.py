"""Two tabs on one ticket: a colleague's change is never lost (issue 13, first defect)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, ServiceFactory, SupportGroupFactory, make_ticket, make_user
from tickets.models import Impact, Ticket, Urgency

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_tabs(page, base_url):
    """The same agent with the ticket page open in two tabs."""
    group = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    for name in ("E-mail", "Printing"):
        ServiceFactory(name=name)
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    group.members.add(anna)
    ticket = make_ticket(title="Printer jams on floor 2")
    login(page, base_url, "anna", PASSWORD)
    url = f"{base_url}/console/tickets/{ticket.number}/"
    first = page
    second = page.context.new_page()
    first.goto(url)
    second.goto(url)
    return ticket, first, second


def test_saving_another_field_from_a_stale_tab_keeps_the_colleagues_urgency(two_tabs):
    ticket, first, second = two_tabs
    first.get_by_test_id("classification-form").get_by_label("Urgency").select_option(
        str(Urgency.CRITICAL)
    )
    first.get_by_role("button", name="Save classification").click()
    expect(first.get_by_text("The classification was saved.")).to_be_visible()

    form = second.get_by_test_id("classification-form")
    expect(form.get_by_label("Urgency")).to_have_value(str(Urgency.MEDIUM))  # stale
    form.get_by_label("Impact").select_option(str(Impact.DEPARTMENT))
    form.get_by_role("button", name="Save classification").click()

    expect(second.get_by_text("The classification was saved.")).to_be_visible()
    expect(
        second.get_by_text(
            "Someone else had changed this ticket meanwhile; their changes are kept."
        )
    ).to_be_visible()
    expect(second.get_by_test_id("conflict")).to_have_count(0)
    form = second.get_by_test_id("classification-form")
    expect(form.get_by_label("Urgency")).to_have_value(str(Urgency.CRITICAL))
    expect(form.get_by_label("Impact")).to_have_value(str(Impact.DEPARTMENT))
    screenshot(second, "edit-conflict-merged")
    ticket.refresh_from_db()
    assert (ticket.urgency, ticket.impact) == (Urgency.CRITICAL, Impact.DEPARTMENT)


def test_same_field_changed_in_both_tabs_is_marked_and_save_again_keeps_the_rest(two_tabs):
    ticket, first, second = two_tabs
    form = first.get_by_test_id("classification-form")
    form.get_by_label("Urgency").select_option(str(Urgency.CRITICAL))
    form.get_by_label("Service").select_option(label="Printing")
    form.get_by_role("button", name="Save classification").click()
    expect(first.get_by_text("The classification was saved.")).to_be_visible()

    form = second.get_by_test_id("classification-form")
    form.get_by_label("Urgency").select_option(str(Urgency.LOW))
    form.get_by_label("Impact").select_option(str(Impact.GROUP))
    form.get_by_role("button", name="Save classification").click()

    expect(second.get_by_test_id("conflict")).to_be_visible()
    marked = second.get_by_test_id("both-changed-urgency")
    expect(marked).to_have_class("both-changed")
    expect(marked).to_contain_text(
        "Someone else changed this to “Critical: work stopped” meanwhile; your choice is shown."
    )
    expect(second.get_by_test_id("both-changed-impact")).to_have_count(0)
    form = second.get_by_test_id("classification-form")
    # The current values with this tab's own changes on the fields it changed.
    expect(form.get_by_label("Urgency")).to_have_value(str(Urgency.LOW))
    expect(form.get_by_label("Impact")).to_have_value(str(Impact.GROUP))
    assert form.get_by_label("Service").evaluate("s => s.selectedOptions[0].text") == "Printing"
    marked.scroll_into_view_if_needed()
    screenshot(second, "edit-conflict-both-changed", full_page=False)
    ticket.refresh_from_db()
    assert (ticket.urgency, ticket.impact, ticket.service.name) == (
        Urgency.CRITICAL,
        Impact.SINGLE,
        "Printing",
    )

    form.get_by_role("button", name="Save classification").click()
    expect(second.get_by_text("The classification was saved.")).to_be_visible()
    stored = Ticket.objects.select_related("service").get(pk=ticket.pk)
    assert (stored.urgency, stored.impact, stored.service.name) == (
        Urgency.LOW,
        Impact.GROUP,
        "Printing",
    )
