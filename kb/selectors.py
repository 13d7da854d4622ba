"""Reads of the knowledge base, scoped to what the user may see.

End users (and anyone who is not staff) see published public articles only; staff see
published articles of both audiences; those who write articles also see drafts, articles in
review and retired ones. What a user may not see is a 404 (``Article.DoesNotExist``).
"""

from __future__ import annotations

from datetime import date

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from helpdesk.roles import is_staff_member
from kb import search as kb_search
from kb.models import (
    Announcement,
    Article,
    ArticleRating,
    ArticleTicketLink,
    Audience,
    Deflection,
    State,
    can_write,
)


def article_queryset_for(user) -> QuerySet[Article]:
    """Every article ``user`` may read."""
    queryset = Article.objects.all()
    if not user.is_authenticated:
        return queryset.none()
    if can_write(user):
        return queryset
    if is_staff_member(user):
        return queryset.filter(state=State.PUBLISHED)
    return queryset.filter(state=State.PUBLISHED, audience=Audience.PUBLIC)


def published_for(user) -> QuerySet[Article]:
    """What search offers: published articles the user may read (writers find drafts on
    their own page, not among answers)."""
    return article_queryset_for(user).filter(state=State.PUBLISHED)


def article_get_for(user, pk: int) -> Article:
    return (
        article_queryset_for(user)
        .select_related("category", "owner", "translation_of")
        .prefetch_related("services", "translations")
        .get(pk=pk)
    )


def article_search(user, query: str, *, limit: int = 10, language: str | None = None):
    queryset = published_for(user)
    if language:
        queryset = queryset.filter(language=language)
    return kb_search.search(queryset, query, limit=limit)


def rating_of(user, article: Article) -> bool | None:
    rating = ArticleRating.objects.filter(article=article, user=user).only("helpful").first()
    return None if rating is None else rating.helpful


def rating_counts(article: Article) -> dict[str, int]:
    return ArticleRating.objects.filter(article=article).aggregate(
        helpful_votes=Count("pk", filter=Q(helpful=True)),
        unhelpful_votes=Count("pk", filter=Q(helpful=False)),
    )


def ticket_articles(ticket) -> list[ArticleTicketLink]:
    return list(
        ArticleTicketLink.objects.filter(ticket=ticket)
        .select_related("article")
        .order_by("-linked_at", "-id")[:20]
    )


def owner_reviews_due(user, *, today: date | None = None) -> QuerySet[Article]:
    """The user's published articles whose review-by date has passed."""
    today = today or timezone.localdate()
    return Article.objects.filter(owner=user, state=State.PUBLISHED, review_by__lt=today).order_by(
        "review_by", "id"
    )


def owner_articles(user) -> QuerySet[Article]:
    return Article.objects.filter(owner=user).exclude(state=State.RETIRED).order_by("-updated_at")


def stats(*, limit: int = 20) -> dict[str, list]:
    """The managers' figures: most used (tickets linked), least helpful (share of "not
    helpful" among at least one rating), deflections per article. One query each."""
    base = Article.objects.only("id", "title", "language", "state")
    most_used = list(
        base.annotate(uses=Count("ticket_links", distinct=True))
        .filter(uses__gt=0)
        .order_by("-uses", "id")[:limit]
    )
    least_helpful = list(
        base.annotate(
            helpful=Count("ratings", filter=Q(ratings__helpful=True)),
            not_helpful=Count("ratings", filter=Q(ratings__helpful=False)),
        )
        .filter(not_helpful__gt=0)
        .annotate(total=F("helpful") + F("not_helpful"))
        .order_by("-not_helpful", "helpful", "id")[:limit]
    )
    deflections = list(
        base.annotate(deflected=Count("deflections"))
        .filter(deflected__gt=0)
        .order_by("-deflected", "id")[:limit]
    )
    return {
        "most_used": most_used,
        "least_helpful": least_helpful,
        "deflections": deflections,
        "deflections_total": Deflection.objects.count(),
    }


def versions_of(article: Article) -> QuerySet:
    return article.versions.select_related("created_by").order_by("-number")


def version_diff(old, new) -> list[tuple[str, str]]:
    """Line by line from version ``old`` to ``new`` (title, summary and text):
    ``(kind, line)`` with kind ``add``, ``remove``, ``context`` or ``hunk``. The template
    escapes every line."""
    import difflib

    def lines(version):
        return [f"# {version.title}", version.summary, "", *version.body.splitlines()]

    result = []
    for line in difflib.unified_diff(lines(old), lines(new), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            result.append(("hunk", line))
        elif line.startswith("+"):
            result.append(("add", line[1:]))
        elif line.startswith("-"):
            result.append(("remove", line[1:]))
        else:
            result.append(("context", line[1:]))
    return result


# --- the bulletin board ----------------------------------------------------------------------


def announcements_current(*, now=None) -> QuerySet:
    """Announcements shown now, pinned first, then the newest."""
    now = now or timezone.now()
    return (
        Announcement.objects.filter(valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .select_related("site")
        .order_by("-pinned", "-valid_from", "-id")
    )


def announcements_for(user, *, now=None) -> QuerySet:
    """The announcements ``user`` reads now: staff every current one (they answer the phone
    about all of them), others those for everyone, their site and their department. Anonymous
    readers (the intranet's feed) those for everyone."""
    current = announcements_current(now=now)
    if getattr(user, "is_authenticated", False) and is_staff_member(user):
        return current
    audience = Q(audience=Announcement.Audience.EVERYONE)
    person = getattr(user, "person", None) if getattr(user, "is_authenticated", False) else None
    if person is not None and person.site_id:
        audience |= Q(audience=Announcement.Audience.SITE, site_id=person.site_id)
    if person is not None and person.department.strip():
        audience |= Q(
            audience=Announcement.Audience.DEPARTMENT,
            department__iexact=person.department.strip(),
        )
    return current.filter(audience)


def announcement_get_for(user, pk: int):
    """One announcement ``user`` may read now (staff also past and future ones, to edit
    them); ``Announcement.DoesNotExist`` otherwise."""
    if getattr(user, "is_authenticated", False) and is_staff_member(user):
        return Announcement.objects.select_related("site").get(pk=pk)
    return announcements_for(user).get(pk=pk)


def announcements_all() -> QuerySet:
    """Every announcement, for the staff's list (current, coming and past)."""
    return Announcement.objects.select_related("site", "created_by").order_by(
        "-pinned", "-valid_from", "-id"
    )
