"""Knowledge base in the browser: an end user typing a new ticket's title sees a matching
article and ends there (a deflection), or keeps their ticket; an agent links an article from
the ticket page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from kb import services
from kb.models import Audience, Deflection
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, SupportGroupFactory, make_ticket, make_user
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _published(title, body, *, audience=Audience.PUBLIC):
    author = make_user(Role.AGENT, username=f"author{abs(hash(title)) % 10_000}")
    manager = make_user(Role.MANAGER, username=f"boss{abs(hash(title)) % 10_000}")
    article = services.article_create(by=author, title=title, body=body, audience=audience)
    services.article_transition(article=article, by=author, name="submit")
    return services.article_transition(article=article, by=manager, name="publish")


def test_end_user_typing_a_title_sees_an_article_and_it_solves_the_problem(page, base_url):
    article = _published(
        "Drukarka zgłasza zacięcie papieru", "Otwórz **tylną klapkę** i usuń skrawki papieru."
    )
    _published("Zacięcie papieru: notatki agentów", "Wewnętrzne.", audience=Audience.INTERNAL)
    make_user(Role.END_USER, username="jan")
    login(page, base_url, "jan", PASSWORD)
    page.goto(f"{base_url}/tickets/new/")
    # Typed without Polish letters, as people often do.
    page.locator("#id_title").press_sequentially("drukarka zaciecie", delay=30)
    suggestions = page.get_by_test_id("kb-suggestion-list")
    expect(suggestions).to_be_visible()
    items = suggestions.locator("[data-article]")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Drukarka zgłasza zacięcie papieru")
    expect(items.first.locator("mark").first).to_have_text("Drukarka")
    screenshot(page, "kb-01-portal-suggestion")
    items.first.get_by_test_id("kb-solved").click()
    page.wait_for_url(f"{base_url}/")
    expect(page.get_by_text("Glad it helped. No ticket was filed.")).to_be_visible()
    screenshot(page, "kb-02-deflected")
    deflection = Deflection.objects.get()
    assert (deflection.article_id, deflection.query) == (article.pk, "drukarka zaciecie")
    assert not Ticket.objects.exists()


def test_no_file_my_ticket_keeps_what_was_typed(page, base_url):
    _published("VPN does not connect from home", "Restart GlobalProtect.")
    make_user(Role.END_USER, username="ewa")
    login(page, base_url, "ewa", PASSWORD)
    page.goto(f"{base_url}/tickets/new/")
    title = page.locator("#id_title")
    title.press_sequentially("vpn home", delay=30)
    expect(page.get_by_test_id("kb-suggestion-list")).to_be_visible()
    page.get_by_test_id("kb-file-anyway").click()
    expect(page.get_by_test_id("kb-suggestion-list")).to_have_count(0)
    expect(title).to_have_value("vpn home")
    expect(page.locator("#id_description")).to_be_focused()
    page.locator("#id_description").fill("Since this morning.")
    # Typing more in the title asks for nothing now that the user chose to file.
    title.press("End")
    title.press_sequentially(" office", delay=30)
    page.wait_for_timeout(700)
    expect(page.get_by_test_id("kb-suggestion-list")).to_have_count(0)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/filed/")
    assert Ticket.objects.get().title == "vpn home office"


def test_agent_finds_and_links_an_article_from_the_ticket_page(page, base_url):
    # A public article: an internal one is not cited to the caller (the card marks it).
    article = _published("Unlock an account after verification", "Ask two facts.")
    group = SupportGroupFactory(name="Service Desk", code="sd", tier=SupportGroup.Tier.FIRST)
    anna = make_user(Role.AGENT, username="anna")
    group.members.add(anna)
    ticket = make_ticket(title="Account locked", group=group)
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    card = page.get_by_test_id("ticket-kb")
    card.get_by_test_id("ticket-kb-search").press_sequentially("unlok acount", delay=30)
    result = card.get_by_test_id("ticket-kb-results").locator(f"[data-article='{article.pk}']")
    expect(result).to_be_visible()
    screenshot(page, "kb-03-ticket-search")
    result.get_by_role("button", name="Link to ticket").click()
    expect(page.get_by_test_id("ticket-kb-links")).to_contain_text(article.title)
    assert ticket.kb_links.get().article_id == article.pk
    # The article goes into the resolution: the Resolve form opens with it in its notes.
    page.get_by_test_id("kb-cite").click()
    notes = page.locator("details.action[open] textarea[name='notes']")
    expect(notes).to_have_value(re.compile(rf"^KB-{article.pk} “{article.title}”: http"))
    notes.press("End")
    notes.type(" Account unlocked.")
    page.locator("details.action[open] select[name='code']").select_option(index=1)
    page.locator("details.action[open] button[type=submit]").click()
    expect(page.get_by_test_id("kb-cite")).to_have_count(1)  # back on the ticket page
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert ticket.resolution_notes.startswith(f"KB-{article.pk} “{article.title}”")
    assert ticket.resolution_notes.endswith("Account unlocked.")


def test_manager_publishes_an_article_in_review_and_sees_the_figures(page, base_url):
    author = make_user(Role.AGENT, username="piotr", first_name="Piotr", last_name="Agent")
    make_user(Role.MANAGER, username="gosia")
    article = services.article_create(
        by=author,
        title="Outlook keeps asking for the password",
        body="1. Close Outlook.\n2. Remove the `MicrosoftOffice` entries.\n\n**Then** sign in.",
    )
    services.article_transition(article=article, by=author, name="submit")
    login(page, base_url, "gosia", PASSWORD)
    page.goto(f"{base_url}/kb/")
    page.get_by_test_id("kb-in-review").get_by_role("link", name=article.title).click()
    expect(page.get_by_test_id("kb-state")).to_have_text("In review")
    expect(page.get_by_test_id("kb-body").locator("strong")).to_have_text("Then")
    screenshot(page, "kb-04-article-in-review")
    page.locator("[data-transition='publish']").click()
    expect(page.get_by_test_id("kb-state")).to_have_text("Published")
    page.get_by_test_id("kb-rate").get_by_role("button", name="No").click()
    expect(page.get_by_test_id("kb-rate").get_by_role("button", name="No")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.goto(f"{base_url}/kb/stats/")
    expect(page.get_by_test_id("kb-least-helpful")).to_contain_text(article.title)
    screenshot(page, "kb-05-stats")


def test_agent_searches_the_knowledge_base_from_the_telephone_widget(page, base_url):
    article = _published("Reset a forgotten password", "Verify two facts, then reset.")
    make_user(Role.AGENT, username="ola")
    login(page, base_url, "ola", PASSWORD)
    page.goto(f"{base_url}/console/")
    page.get_by_test_id("phone-kb-search").press_sequentially("pasword", delay=30)
    result = page.get_by_test_id("phone-kb-results").locator(f"[data-article='{article.pk}']")
    expect(result).to_be_visible()
    expect(result.get_by_role("link")).to_have_attribute("target", "_blank")
    screenshot(page, "kb-06-phone-search")
