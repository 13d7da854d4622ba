"""Search: ranking, highlighting, typos and diacritics, and who sees what (pages and API).
Runs on SQLite and on PostgreSQL (DATABASE_URL): each uses its own search path."""

from __future__ import annotations

import pytest

from kb import search, selectors, services
from kb.models import Article, Audience

pytestmark = pytest.mark.django_db


def titles(hits):
    return [hit.article.title for hit in hits]


def test_title_match_ranks_above_body_match(publish, end_user):
    publish("Printer settings", "How to choose the default tray.")
    publish("Network drives", "Map a drive. The printer on floor two uses this drive.")
    hits = selectors.article_search(end_user, "printer")
    assert titles(hits) == ["Printer settings", "Network drives"]


def test_exact_phrase_ranks_above_scattered_words(publish, end_user):
    publish(
        "Laptop care",
        "Keep the battery charged. Paper notes on the keyboard are not a good idea. "
        "The docking station may jam when the lid is closed.",
    )
    publish("Office printers", "When a paper jam is reported, open the rear door first.")
    hits = selectors.article_search(end_user, "paper jam")
    assert titles(hits)[0] == "Office printers"
    assert titles(hits) == ["Office printers", "Laptop care"]


def test_snippet_highlights_matches_and_escapes_the_text(publish, end_user):
    publish("Mail rules", "Rules run <script>alert(1)</script> before the VPN connects to Outlook.")
    (hit,) = selectors.article_search(end_user, "outlook")
    assert "<mark>Outlook</mark>" in hit.snippet
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet or "script" not in hit.snippet


def test_folded_query_finds_polish_diacritics_and_marks_the_original_word(publish, end_user):
    publish("Żółty wykrzyknik przy zasięgu", "Pojawia się, gdy brakuje ustawień APN w Łodzi.")
    (hit,) = selectors.article_search(end_user, "zolty")
    assert hit.article.title == "Żółty wykrzyknik przy zasięgu"
    assert "<mark>Żółty</mark>" in hit.title_html
    (hit,) = selectors.article_search(end_user, "lodzi")
    assert "<mark>Łodzi</mark>" in hit.snippet
    # And the other way: a query with diacritics finds the same article.
    assert titles(selectors.article_search(end_user, "ŻÓŁTY")) == [hit.article.title]


def test_a_typo_still_finds_the_title(publish, end_user):
    publish("Reset a forgotten password", "Use the self-service page.")
    publish("Printer paper jam", "Open the rear door.")
    assert titles(selectors.article_search(end_user, "pasword")) == ["Reset a forgotten password"]
    assert titles(selectors.article_search(end_user, "forgoten pasword"))[0] == (
        "Reset a forgotten password"
    )
    # Every word misspelt.
    assert titles(selectors.article_search(end_user, "forgoten pasword resett"))[0] == (
        "Reset a forgotten password"
    )


def test_word_prefix_matches_while_typing(publish, end_user):
    publish("Connect to the VPN from home", "GlobalProtect client.")
    assert titles(selectors.article_search(end_user, "conn")) == ["Connect to the VPN from home"]


def test_every_word_matches_as_a_prefix_when_whole_words_find_too_little(publish, end_user):
    # Only "printers" in the text: the whole word "printer" is not there, nor in a title.
    publish("Office equipment", "The printers on floor two jam often.")
    assert titles(selectors.article_search(end_user, "printer jam")) == ["Office equipment"]
    assert titles(selectors.article_search(end_user, "printer floor two")) == ["Office equipment"]


def test_some_words_match_when_not_all_do(publish, end_user):
    publish("Printer paper jam", "Open the rear door.")
    hits = selectors.article_search(end_user, "my printer on floor three")
    assert titles(hits) == ["Printer paper jam"]


def test_end_user_never_finds_internal_or_unpublished_articles(publish, agent, end_user):
    publish("VPN for agents", "Internal VPN notes.", audience=Audience.INTERNAL)
    publish("VPN at home", "Public VPN help.")
    services.article_create(by=agent, title="VPN draft", body="Not reviewed yet.")
    retired = publish("VPN old client", "Retired VPN help.")
    services.article_transition(article=retired, by=selectors_manager(), name="retire")
    assert titles(selectors.article_search(end_user, "vpn")) == ["VPN at home"]


def selectors_manager():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="manager")


def test_staff_find_internal_articles_but_not_drafts(publish, agent, change_board):
    publish("VPN for agents", "Internal VPN notes.", audience=Audience.INTERNAL)
    services.article_create(by=agent, title="VPN draft", body="Not reviewed yet.")
    assert titles(selectors.article_search(change_board, "vpn")) == ["VPN for agents"]
    assert titles(selectors.article_search(agent, "vpn")) == ["VPN for agents"]


def test_language_filter(publish, end_user):
    publish("Printer paper jam", "Open the rear door.")
    publish("Zacięcie papieru w drukarce", "Otwórz tylną klapkę, papier.", language="pl")
    hits = selectors.article_search(end_user, "papier", language="pl")
    assert titles(hits) == ["Zacięcie papieru w drukarce"]


def test_a_query_of_only_symbols_finds_nothing_and_runs_no_query(
    publish, end_user, django_assert_num_queries
):
    publish("Printer", "Body")
    with django_assert_num_queries(0):
        assert search.search(Article.objects.all(), "%% _ -- ';") == []


def test_search_is_a_bounded_number_of_queries(publish, end_user, django_assert_max_num_queries):
    for number in range(15):
        publish(f"VPN guide {number}", "VPN steps and more VPN steps.")
    # The user's permissions (2), the planner setting on and off (2, PostgreSQL), the
    # candidates, their ranking, the articles.
    with django_assert_max_num_queries(7):
        hits = selectors.article_search(end_user, "vpn steps", limit=10)
    assert len(hits) == 10


# --- the API ---------------------------------------------------------------------------


def test_api_search_and_list_show_end_users_only_public_published(
    publish, agent, as_end_user, django_assert_max_num_queries
):
    public = publish("VPN at home", "Public VPN help.")
    internal = publish("VPN for agents", "Internal VPN notes.", audience=Audience.INTERNAL)
    draft = services.article_create(by=agent, title="VPN draft", body="Draft VPN.")
    others = [publish(f"Printer {number}", "Paper.").pk for number in range(5)]
    response = as_end_user.get("/api/kb/articles/search/", {"q": "vpn"})
    assert response.status_code == 200
    assert [hit["article"]["id"] for hit in response.json()] == [public.pk]
    assert "<mark>VPN</mark>" in response.json()[0]["snippet"]
    with django_assert_max_num_queries(6):
        response = as_end_user.get("/api/kb/articles/")
    assert {row["id"] for row in response.json()["results"]} == {public.pk, *others}
    assert as_end_user.get(f"/api/kb/articles/{public.pk}/").status_code == 200
    assert as_end_user.get(f"/api/kb/articles/{internal.pk}/").status_code == 404
    assert as_end_user.get(f"/api/kb/articles/{draft.pk}/").status_code == 404


def test_api_staff_see_internal_and_the_detail_renders_safe_html(publish, as_agent):
    article = publish(
        "Agents only",
        "Click [here](javascript:alert(1)) <script>x()</script> **now**",
        audience=Audience.INTERNAL,
    )
    response = as_agent.get(f"/api/kb/articles/{article.pk}/")
    assert response.status_code == 200
    html = response.json()["body_html"]
    assert "<strong>now</strong>" in html
    assert "<script>" not in html and "javascript:" not in html
    assert [
        hit["article"]["id"]
        for hit in as_agent.get("/api/kb/articles/search/", {"q": "agents"}).json()
    ] == [article.pk]


def test_api_search_refuses_a_missing_or_too_long_query(as_end_user):
    assert as_end_user.get("/api/kb/articles/search/").status_code == 400
    assert as_end_user.get("/api/kb/articles/search/", {"q": "x" * 201}).status_code == 400
    assert as_end_user.get("/api/kb/articles/search/", {"q": "x", "limit": 51}).status_code == 400
