"""A published article edited while it stays published: the pending revision."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from kb import selectors, services
from kb.models import Article, ArticleRevision, ArticleVersion, RevisionState, State

pytestmark = pytest.mark.django_db

LIVE = "Open GlobalProtect and press Connect."
REVISED = "Open GlobalProtect, choose the Warsaw gateway and press Connect. Zanzibarite token."


def _kinds(article):
    return list(article.events.order_by("at", "id").values_list("kind", flat=True))


def test_a_revision_keeps_the_published_text_live_until_it_is_published(publish, agent, manager):
    article = publish("VPN at home", LIVE, summary="Connecting from home")
    live_version = article.version
    revision = services.revision_save(
        article=article, by=agent, title="VPN from home", summary="Connecting", body=REVISED
    )
    article.refresh_from_db()
    assert article.state == State.PUBLISHED
    assert (article.title, article.body, article.version) == ("VPN at home", LIVE, live_version)
    assert revision.state == RevisionState.DRAFT
    assert revision.version.is_revision and revision.version.number == live_version + 1

    services.revision_transition(article=article, by=agent, name="submit")
    with pytest.raises(TransitionNotAllowedError):
        services.revision_transition(article=article, by=agent, name="publish")
    revision = services.revision_transition(article=article, by=manager, name="publish")

    article.refresh_from_db()
    assert revision.state == RevisionState.PUBLISHED
    assert (article.title, article.summary, article.body) == (
        "VPN from home",
        "Connecting",
        REVISED,
    )
    assert article.version == revision.version.number and article.state == State.PUBLISHED
    assert "warsaw gateway" in article.search_body and article.search_title == "vpn from home"
    # The history keeps both texts; the diff works between them.
    numbers = list(article.versions.order_by("number").values_list("number", flat=True))
    assert numbers == [1, 2]
    old, new = (ArticleVersion.objects.get(article=article, number=n) for n in numbers)
    assert ("add", REVISED) in selectors.version_diff(old, new)
    assert _kinds(article)[-3:] == ["revision_start", "revision_submit", "revision_publish"]


def test_search_finds_a_revisions_words_only_once_it_is_published(
    publish, agent, manager, end_user
):
    article = publish("VPN at home", LIVE)
    services.revision_save(article=article, by=agent, title="VPN at home", body=REVISED)
    for user in (end_user, agent, manager):
        assert selectors.article_search(user, "zanzibarite") == []
        assert [hit.article.pk for hit in selectors.article_search(user, "globalprotect")] == [
            article.pk
        ]
    services.revision_transition(article=article, by=agent, name="submit")
    assert selectors.article_search(end_user, "zanzibarite") == []
    services.revision_transition(article=article, by=manager, name="publish")
    assert [hit.article.pk for hit in selectors.article_search(end_user, "zanzibarite")] == [
        article.pk
    ]


def test_readers_and_the_api_see_the_published_text(client, publish, agent, end_user, as_end_user):
    article = publish("VPN at home", LIVE)
    services.revision_save(article=article, by=agent, title="VPN revised", body=REVISED)
    client.force_login(end_user)
    page = client.get(reverse("kb:article", args=[article.pk])).content.decode()
    assert "press Connect" in page and "Zanzibarite" not in page and "kb-revision" not in page
    answer = as_end_user.get(f"/api/kb/articles/{article.pk}/").json()
    assert answer["title"] == "VPN at home" and "Zanzibarite" not in str(answer)


def test_sent_back_edited_again_and_every_edit_is_a_version(publish, agent, manager):
    article = publish("VPN", LIVE)
    services.revision_save(article=article, by=agent, title="VPN", body="First try")
    services.revision_transition(article=article, by=agent, name="submit")
    # In review the text is frozen; the manager sends it back.
    with pytest.raises(ValidationError):
        services.revision_save(article=article, by=agent, title="VPN", body="Sneaky")
    services.revision_transition(article=article, by=manager, name="send_back")
    revision = services.revision_save(article=article, by=agent, title="VPN", body="Second try")
    assert revision.version.number == 3
    assert ArticleRevision.objects.filter(article=article).count() == 1
    assert _kinds(article)[-4:] == [
        "revision_start",
        "revision_submit",
        "revision_send_back",
        "revision_edit",
    ]


def test_a_stale_revision_save_is_a_conflict(publish, agent):
    article = publish("VPN", LIVE)
    services.revision_save(article=article, by=agent, title="VPN", body="Mine", expected_version=1)
    with pytest.raises(ConflictError):
        services.revision_save(
            article=article, by=agent, title="VPN", body="Theirs", expected_version=1
        )


def test_discarding_keeps_the_live_text_and_numbers_are_not_reused(publish, agent, manager):
    article = publish("VPN", LIVE)
    services.revision_save(article=article, by=agent, title="VPN", body="Discard me")
    revision = services.revision_transition(article=article, by=agent, name="discard")
    assert revision.state == RevisionState.DISCARDED
    article.refresh_from_db()
    assert article.body == LIVE and article.version == 1
    assert services.revision_open_for(article) is None
    again = services.revision_save(article=article, by=agent, title="VPN", body="Keep me")
    assert again.version.number == 3 and again.base_number == 1
    assert "revision_discard" in _kinds(article)


def test_an_unchanged_text_starts_no_revision(publish, agent):
    article = publish("VPN", LIVE)
    with pytest.raises(ValidationError):
        services.revision_save(article=article, by=agent, title="VPN", body=LIVE)


def test_only_published_articles_get_revisions_and_end_users_none(publish, agent, end_user):
    draft = services.article_create(by=agent, title="Draft", body="Text")
    with pytest.raises(ValidationError):
        services.revision_save(article=draft, by=agent, title="Draft", body="Other")
    from django.core.exceptions import PermissionDenied

    article = publish("VPN", LIVE)
    with pytest.raises(PermissionDenied):
        services.revision_save(article=article, by=end_user, title="VPN", body="Mine")


def test_retiring_discards_the_pending_revision_and_revise_still_works(publish, agent, manager):
    article = publish("VPN", LIVE)
    services.revision_save(article=article, by=agent, title="VPN", body="Pending")
    article = services.article_transition(article=article, by=manager, name="retire")
    assert services.revision_open_for(article) is None
    assert ArticleRevision.objects.get(article=article).state == RevisionState.DISCARDED
    assert services.available_transitions(article, agent) == ["revise"]
    article = services.article_transition(article=article, by=agent, name="revise")
    assert article.state == State.DRAFT
    article = services.article_update(article=article, by=agent, body="Reworked")
    assert article.version == 3  # v2 was the discarded revision's


def test_published_article_offers_no_revise_to_draft(publish, agent, manager):
    article = publish("VPN", LIVE)
    assert "revise" not in services.available_transitions(article, agent)
    assert services.available_transitions(article, manager) == ["retire"]


def test_revision_steps_follow_state_and_role(publish, agent, manager, end_user):
    article = publish("VPN", LIVE)
    assert services.revision_available_transitions(None, agent) == []
    revision = services.revision_save(article=article, by=agent, title="VPN", body="New")
    assert services.revision_available_transitions(revision, agent) == ["submit", "discard"]
    assert services.revision_available_transitions(revision, end_user) == []
    revision = services.revision_transition(article=article, by=agent, name="submit")
    assert services.revision_available_transitions(revision, agent) == ["discard"]
    assert services.revision_available_transitions(revision, manager) == [
        "publish",
        "send_back",
        "discard",
    ]


# --- pages ---------------------------------------------------------------------------------


def test_writer_edits_a_published_article_as_a_revision_through_the_page(client, publish, agent):
    article = publish("VPN", LIVE)
    client.force_login(agent)
    # The draft's edit page sends a published article to the revision form.
    assert client.get(reverse("kb:article_edit", args=[article.pk])).url == reverse(
        "kb:revision_edit", args=[article.pk]
    )
    form = client.get(reverse("kb:revision_edit", args=[article.pk]))
    assert LIVE in form.content.decode()
    response = client.post(
        reverse("kb:revision_edit", args=[article.pk]),
        {"title": "VPN", "summary": "", "body": REVISED, "version": "1"},
    )
    assert response.status_code == 302
    page = client.get(reverse("kb:article", args=[article.pk])).content.decode()
    assert 'data-testid="kb-revision"' in page
    assert "?old=1&amp;new=2" in page  # the diff against the live text
    assert 'data-revision-transition="submit"' in page
    assert 'data-revision-transition="publish"' not in page  # writers do not publish
    assert "press Connect" in page and "Zanzibarite" not in page  # the live text is shown
    diff = client.get(reverse("kb:article_history", args=[article.pk]), {"old": 1, "new": 2})
    assert "Zanzibarite" in diff.content.decode()


def test_manager_publishes_the_revision_from_the_page(client, publish, agent, manager):
    article = publish("VPN", LIVE)
    services.revision_save(article=article, by=agent, title="VPN", body=REVISED)
    services.revision_transition(article=article, by=agent, name="submit")
    client.force_login(manager)
    index = client.get(reverse("kb:index")).content.decode()
    assert 'data-testid="kb-revision-in-review"' in index
    page = client.get(reverse("kb:article", args=[article.pk])).content.decode()
    assert 'data-revision-transition="publish"' in page
    response = client.post(reverse("kb:revision_transition", args=[article.pk, "publish"]))
    assert response.status_code == 302
    assert Article.objects.get(pk=article.pk).body == REVISED


def test_revision_routes_refuse_who_may_not(client, publish, agent, end_user, change_board):
    article = publish("VPN", LIVE)
    services.revision_save(article=article, by=agent, title="VPN", body=REVISED)
    services.revision_transition(article=article, by=agent, name="submit")
    for user in (end_user, change_board):
        client.force_login(user)
        assert client.get(reverse("kb:revision_edit", args=[article.pk])).status_code == 403
        url = reverse("kb:revision_transition", args=[article.pk, "publish"])
        assert client.post(url).status_code == 403
    client.force_login(agent)
    client.post(reverse("kb:revision_transition", args=[article.pk, "publish"]))
    assert Article.objects.get(pk=article.pk).body == LIVE  # refused with a message
    assert (
        client.post(reverse("kb:revision_transition", args=[article.pk, "bogus"])).status_code
        == 302
    )


def test_the_admin_lists_revisions_and_cannot_add_or_change_their_text(
    admin_client, publish, agent
):
    article = publish("VPN at home", LIVE)
    revision = services.revision_save(article=article, by=agent, title="VPN at home", body=REVISED)
    listing = admin_client.get(reverse("admin:kb_articlerevision_changelist"))
    assert listing.status_code == 200
    assert "VPN at home" in listing.content.decode()
    assert admin_client.get(reverse("admin:kb_articlerevision_add")).status_code == 403
    page = admin_client.get(reverse("admin:kb_articlerevision_change", args=[revision.pk]))
    assert page.status_code == 200
    assert 'name="state"' not in page.content.decode()
