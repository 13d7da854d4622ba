"""The knowledge base in the screen pop, in the browser: on a ticket's page the agent types in
the telephone widget's search, sees internal and public articles, opens one in a new tab and
links another to the ticket."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from kb import services
from kb.models import Audience
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, SupportGroupFactory, make_ticket, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_searches_the_kb_from_the_screen_pop_and_links_an_article(page, base_url):
    author = make_user(Role.AGENT, username="author")
    manager = make_user(Role.MANAGER, username="boss")
    articles = {}
    for title, audience in (
        ("VPN drops every hour", Audience.PUBLIC),
        ("VPN gateway runbook", Audience.INTERNAL),
    ):
        article = services.article_create(
            by=author, title=title, body="Renew the certificate.", audience=audience
        )
        services.article_transition(article=article, by=author, name="submit")
        articles[title] = services.article_transition(article=article, by=manager, name="publish")
    group = SupportGroupFactory(name="Service Desk", code="sd", tier=SupportGroup.Tier.FIRST)
    anna = make_user(Role.AGENT, username="anna")
    group.members.add(anna)
    ticket = make_ticket(title="VPN keeps dropping", group=group)

    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    widget = page.locator("#cti-console")
    expect(widget.get_by_test_id("phone-kb-ticket")).to_contain_text(ticket.number)
    widget.get_by_test_id("phone-kb-search").press_sequentially("vpn", delay=40)
    results = widget.locator("#kb-phone-results")
    runbook = results.locator(f"[data-article='{articles['VPN gateway runbook'].pk}']")
    public = results.locator(f"[data-article='{articles['VPN drops every hour'].pk}']")
    expect(runbook).to_be_visible()
    expect(public).to_be_visible()
    expect(runbook).to_contain_text("Internal")
    screenshot(page, "kb-phone-01-results", full_page=False)

    # The article opens in a new tab: the console stays where it is.
    with page.context.expect_page() as opened:
        runbook.get_by_role("link").first.click()
    tab = opened.value
    tab.wait_for_load_state()
    expect(tab.get_by_role("heading", name="VPN gateway runbook")).to_be_visible()
    tab.close()
    assert page.url.endswith(f"/console/tickets/{ticket.number}/")

    runbook.get_by_role("button", name="Link to ticket").click()
    page.wait_for_url(f"**/console/tickets/{ticket.number}/")
    expect(page.get_by_test_id("ticket-kb-links")).to_contain_text("VPN gateway runbook")
    assert ticket.kb_links.get().article_id == articles["VPN gateway runbook"].pk
    screenshot(page, "kb-phone-02-linked", full_page=False)
