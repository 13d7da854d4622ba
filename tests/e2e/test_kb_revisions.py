"""A published article edited in the browser while it stays published: the writer's
revision is pending beside the live text, a reader still sees the live text, and the
manager's "Publish the revision" makes the new text live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from kb import services
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_writer_revises_a_published_article_and_the_manager_publishes_it(page, new_page, base_url):
    author = make_user(Role.AGENT, username="ewa")
    make_user(Role.MANAGER, username="marek")
    make_user(Role.END_USER, username="jan")
    article = services.article_create(by=author, title="VPN at home", body="Press **Connect**.")
    services.article_transition(article=article, by=author, name="submit")
    article = services.article_transition(
        article=article, by=make_user(Role.MANAGER, username="boss"), name="publish"
    )
    url = f"{base_url}{article.get_absolute_url()}"

    login(page, base_url, "ewa", PASSWORD)
    page.goto(url)
    page.get_by_test_id("kb-revision-start").click()
    page.locator("textarea[name='body']").fill("Choose the **Warsaw** gateway, then Connect.")
    page.get_by_role("button", name="Save the revision").click()
    expect(page.get_by_test_id("kb-revision")).to_contain_text("pending")
    expect(page.get_by_test_id("kb-body").locator("strong")).to_have_text("Connect")
    page.locator("[data-revision-transition='submit']").click()
    expect(page.get_by_test_id("kb-revision")).to_contain_text("In review")
    expect(page.locator("[data-revision-transition='publish']")).to_have_count(0)
    page.get_by_test_id("kb-revision-diff").click()
    expect(page.get_by_test_id("kb-diff")).to_contain_text("Warsaw")

    reader = new_page()
    login(reader, base_url, "jan", PASSWORD)
    reader.goto(url)
    expect(reader.get_by_test_id("kb-body").locator("strong")).to_have_text("Connect")
    expect(reader.get_by_test_id("kb-revision")).to_have_count(0)

    boss = new_page()
    login(boss, base_url, "marek", PASSWORD)
    boss.goto(url)
    screenshot(boss, "kb-07-revision-in-review")
    boss.locator("[data-revision-transition='publish']").click()
    expect(boss.get_by_test_id("kb-body").locator("strong")).to_have_text("Warsaw")
    expect(boss.get_by_test_id("kb-revision")).to_have_count(0)
    reader.reload()
    expect(reader.get_by_test_id("kb-body").locator("strong")).to_have_text("Warsaw")
