"""The review workflow, versions and their diff, rendering, and the review-by reminder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from helpdesk.errors import TransitionNotAllowedError, ValidationError
from kb import selectors, services, tasks
from kb.models import Article, ReviewReminder, State
from kb.text import render_markdown

pytestmark = pytest.mark.django_db


def test_draft_to_review_to_published_to_retired(agent, manager):
    article = services.article_create(by=agent, title="VPN", body="Connect.")
    assert article.state == State.DRAFT
    article = services.article_transition(article=article, by=agent, name="submit")
    assert article.state == State.REVIEW
    # Writers do not publish their own work: managers do.
    with pytest.raises(TransitionNotAllowedError):
        services.article_transition(article=article, by=agent, name="publish")
    article = services.article_transition(article=article, by=manager, name="publish")
    assert article.state == State.PUBLISHED and article.published_at is not None
    article = services.article_transition(article=article, by=manager, name="retire")
    assert article.state == State.RETIRED
    kinds = list(article.events.order_by("at", "id").values_list("kind", flat=True))
    assert kinds == ["created", "submit", "publish", "retire"]


def test_available_transitions_follow_state_and_role(agent, manager, end_user):
    article = services.article_create(by=agent, title="VPN", body="Connect.")
    assert services.available_transitions(article, agent) == ["submit"]
    assert services.available_transitions(article, end_user) == []
    article = services.article_transition(article=article, by=agent, name="submit")
    assert services.available_transitions(article, agent) == []
    assert services.available_transitions(article, manager) == ["publish", "send_back"]


def test_end_user_cannot_write(end_user):
    with pytest.raises(PermissionDenied):
        services.article_create(by=end_user, title="Mine", body="Text")


def test_every_text_change_is_a_version_and_versions_are_immutable(agent):
    article = services.article_create(by=agent, title="VPN", body="Line one\nLine two")
    article = services.article_update(
        article=article, by=agent, expected_version=1, body="Line one\nLine 2\nLine three"
    )
    article = services.article_update(article=article, by=agent, title="VPN at home")
    assert article.version == 3
    numbers = list(article.versions.order_by("number").values_list("number", "title"))
    assert numbers == [(1, "VPN"), (2, "VPN"), (3, "VPN at home")]
    # A change of details only (review date) is no new text version.
    article = services.article_update(
        article=article, by=agent, review_by=timezone.localdate() + timedelta(days=30)
    )
    assert article.version == 3
    version = article.versions.get(number=1)
    version.title = "Changed"
    with pytest.raises(ValueError):
        version.save()


def test_a_stale_version_is_a_conflict(agent):
    from helpdesk.errors import ConflictError

    article = services.article_create(by=agent, title="VPN", body="Text")
    services.article_update(article=article, by=agent, expected_version=1, body="New")
    with pytest.raises(ConflictError):
        services.article_update(article=article, by=agent, expected_version=1, body="Other")


def test_only_a_draft_can_be_edited(publish, agent, manager):
    # A published article's text changes through a revision (tests/kb/test_revisions.py);
    # a retired one is revised back to a draft.
    article = publish("VPN", "Text")
    with pytest.raises(ValidationError):
        services.article_update(article=article, by=agent, body="Sneaky")
    article = services.article_transition(article=article, by=manager, name="retire")
    article = services.article_transition(article=article, by=agent, name="revise")
    article = services.article_update(article=article, by=agent, body="Better")
    assert article.state == State.DRAFT and article.body == "Better"


def test_diff_between_any_two_versions(agent):
    article = services.article_create(by=agent, title="VPN", body="Step one\nStep two")
    services.article_update(article=article, by=agent, body="Step one\nStep 2\nStep three")
    services.article_update(article=article, by=agent, body="Step zero\nStep one\nStep 2")
    versions = {version.number: version for version in article.versions.all()}
    diff = selectors.version_diff(versions[1], versions[3])
    assert ("remove", "Step two") in diff
    assert ("add", "Step zero") in diff and ("add", "Step 2") in diff
    assert ("context", "Step one") in diff
    assert selectors.version_diff(versions[2], versions[2]) == []


def test_history_page_shows_the_diff_escaped(client, agent):
    article = services.article_create(by=agent, title="VPN", body="Safe")
    services.article_update(article=article, by=agent, body="<script>alert(1)</script>")
    client.force_login(agent)
    response = client.get(f"/kb/{article.pk}/history/?old=1&new=2")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'class="kb-diff-add"' in html and 'class="kb-diff-remove"' in html


def test_markdown_is_rendered_sanitised():
    html = render_markdown(
        "# Title\n\n**bold** [ok](https://example.com) [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script><img src=x onerror=alert(1)>\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<strong>bold</strong>" in html and "<table>" in html
    assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "javascript:" not in html and "<script" not in html and "onerror" not in html
    assert "<img" not in html


# --- review-by reminders -------------------------------------------------------------------


def test_owner_is_reminded_once_per_article_and_date(
    publish, agent, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    agent.email = "agent@example.com"
    agent.save()
    today = timezone.localdate()
    overdue = publish("VPN", "Text", review_by=today - timedelta(days=1))
    publish("Printer", "Text", review_by=today + timedelta(days=1))
    publish("Outlook", "Text", review_by=today)  # due today: not yet passed
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.remind_overdue_reviews() == 1
    assert tasks.remind_overdue_reviews() == 0
    assert list(ReviewReminder.objects.values_list("article_id", "review_by")) == [
        (overdue.pk, today - timedelta(days=1))
    ]
    assert len(mail.outbox) == 1 and "VPN" in mail.outbox[0].subject
    assert mail.outbox[0].to == ["agent@example.com"]
    # A new review-by date that passes again is a new reminder.
    Article.objects.filter(pk=overdue.pk).update(review_by=today - timedelta(days=2))
    assert services.review_reminders_send() == 1
    # Later, once the date has passed a day more, nothing new for the same date.
    assert services.review_reminders_send(today=today + timedelta(days=1)) == 1  # "Outlook"
    assert services.review_reminders_send(today=today + timedelta(days=1)) == 0


def test_drafts_and_retired_articles_are_not_reminded(agent, manager):
    services.article_create(
        by=agent, title="Draft", body="x", review_by=timezone.localdate() - timedelta(days=5)
    )
    assert services.review_reminders_send() == 0


def test_owner_page_lists_overdue_reviews(client, publish, agent):
    publish("VPN old", "Text", review_by=timezone.localdate() - timedelta(days=3))
    publish("VPN new", "Text", review_by=timezone.localdate() + timedelta(days=3))
    client.force_login(agent)
    response = client.get("/kb/")
    assert [article.title for article in response.context["reviews_due"]] == ["VPN old"]
    assert "VPN old" in response.content.decode()
