"""What an agent sees of ticket relations: merging a duplicate from the ticket page, tags
with suggestions, watching, and linking a related ticket (issue 13)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.e2e.conftest import SCREENSHOTS, login, screenshot
from tests.factories import PASSWORD, PersonFactory, SupportGroupFactory, make_ticket, make_user
from tickets import services
from tickets.models import Status, Tag, Ticket, TicketLink, TicketWatcher

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(db):
    first_line = SupportGroupFactory(
        name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
    )
    anna = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    bartek = make_user(Role.AGENT, username="bartek", first_name="Bartek", last_name="Second")
    first_line.members.add(anna, bartek)
    caller = PersonFactory(full_name="Ewa Nowak")
    survivor = make_ticket(caller=caller, title="VPN drops every hour", group=first_line)
    duplicate = make_ticket(
        caller=PersonFactory(full_name="Jan Kowalski"), title="VPN down again", group=first_line
    )
    printer = make_ticket(caller=caller, title="Printer jams on floor 3", group=first_line)
    Tag.objects.bulk_create([Tag(name="vpn-client"), Tag(name="vpn-gateway"), Tag(name="wifi")])
    return {
        "anna": anna,
        "bartek": bartek,
        "survivor": survivor,
        "duplicate": duplicate,
        "printer": printer,
    }


def test_agent_merges_tags_watches_and_links_from_the_ticket_page(page, base_url, desk):
    survivor, duplicate, printer = desk["survivor"], desk["duplicate"], desk["printer"]
    login(page, base_url, "anna", PASSWORD)

    # Merge the duplicate from its page: the form asks for the number of the survivor.
    page.goto(f"{base_url}/console/tickets/{duplicate.number}/")
    page.locator("summary[data-action=merge]").click()
    page.get_by_label("Number of the ticket that continues").fill(survivor.number.lower())
    page.locator("form[action$='/merge/'] button[type=submit]").click()
    expect(page.get_by_text("The ticket was merged; its caller was told")).to_be_visible()
    merged = page.get_by_test_id("merged-into")
    expect(merged).to_have_text(survivor.number)
    expect(page.locator("header dl")).to_contain_text(f"Merged into{survivor.number}")
    expect(page.get_by_test_id("ticket-state")).to_have_text("Closed")
    screenshot(page, "relations-01-merged-duplicate")
    merged.click()
    page.wait_for_url(f"**/console/tickets/{survivor.number}/")
    expect(page.get_by_test_id("merged-here")).to_contain_text(duplicate.number)
    expect(page.get_by_test_id("timeline")).to_contain_text(f"Merged {duplicate.number}")
    assert Ticket.objects.get(pk=duplicate.pk).status == Status.CLOSED

    # A tag through the suggestions: typing "vpn-" offers the existing vpn tags.
    field = page.get_by_label("Tags to add")
    field.click()
    field.press_sequentially("vpn-", delay=50)
    options = page.locator("#tag-suggestions option")
    expect(options).to_have_count(2)
    assert options.evaluate_all("os => os.map(o => o.value)") == ["vpn-client", "vpn-gateway"]
    field.fill("vpn-gateway, Urgent_Fix")
    page.get_by_role("button", name="Add tags").click()
    tags = page.get_by_test_id("tags")
    expect(tags.locator("[data-tag=vpn-gateway]")).to_be_visible()
    expect(tags.locator("[data-tag=urgent_fix]")).to_be_visible()
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["urgent_fix", "vpn-gateway"]
    # A bad tag is refused with a message saying why.
    page.get_by_label("Tags to add").fill("no;way")
    page.get_by_role("button", name="Add tags").click()
    expect(page.get_by_text("“no;way” is not a tag")).to_be_visible()

    # Watch, and have a colleague watch too.
    page.get_by_test_id("watch").click()
    expect(page.get_by_test_id("watchers")).to_contain_text("Anna Agent")
    page.get_by_label("Colleague to add as a watcher").select_option(label="Bartek Second")
    page.locator("form[action$='/watchers/add/'] button", has_text="Add").click()
    expect(page.get_by_test_id("watchers")).to_contain_text("Bartek Second")

    # Link a related ticket by its number.
    page.get_by_label("Number of a related ticket").fill(printer.number)
    page.get_by_role("button", name="Link", exact=True).click()
    related = page.get_by_test_id("related")
    expect(related).to_contain_text(printer.number)
    expect(related).to_contain_text("Printer jams on floor 3")
    assert TicketLink.objects.count() == 1
    page.get_by_test_id("relations").scroll_into_view_if_needed()
    screenshot(page, "relations-02-sidebar")
    page.get_by_test_id("relations").screenshot(path=str(SCREENSHOTS / "relations-03-card.png"))

    # Stop watching: the colleague stays.
    page.get_by_test_id("unwatch").click()
    expect(page.get_by_test_id("watch")).to_be_visible()
    assert list(TicketWatcher.objects.values_list("user__username", flat=True)) == ["bartek"]


def test_end_user_sees_where_their_merged_ticket_continues(page, base_url, desk):
    ewa = make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    own = make_ticket(caller=ewa.person, title="VPN again")
    services.ticket_merge(ticket=own, by=desk["anna"], into=desk["survivor"])
    services.ticket_tags_set(ticket=own, by=desk["anna"], names=["secret-tag"])
    login(page, base_url, "ewa", PASSWORD)
    page.goto(f"{base_url}/tickets/{own.number}/")
    notice = page.get_by_test_id("merged-into")
    # Someone else's ticket: its number, no link.
    expect(notice).to_have_text(f"Merged into {desk['survivor'].number}")
    expect(notice.get_by_role("link")).to_have_count(0)
    expect(page.get_by_text("secret-tag")).to_have_count(0)
    expect(page.locator(".conversation")).to_contain_text(desk["survivor"].number)
    screenshot(page, "relations-04-portal-merged")
