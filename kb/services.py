"""Every write of the knowledge base: keyword-only, one transaction each, audited.

Later parts of the app (diagnostic scripts, the bulletin board) add their own sections.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from helpdesk.roles import can_work_tickets
from kb.models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Announcement,
    Article,
    ArticleEvent,
    ArticleRating,
    ArticleRevision,
    ArticleTicketLink,
    ArticleVersion,
    Audience,
    Deflection,
    ReviewReminder,
    RevisionState,
    State,
    can_write,
)

logger = logging.getLogger(__name__)

# The workflow, in the order pages offer it.
TRANSITIONS = ("submit", "publish", "send_back", "retire", "revise")
CONTENT_FIELDS = ("title", "summary", "body")


def available_transitions(article: Article, user) -> list[str]:
    """The workflow steps ``user`` may take on ``article`` now (pages offer only these)."""
    return [
        name
        for name in TRANSITIONS
        if can_proceed(getattr(article, name)) and has_transition_perm(getattr(article, name), user)
    ]


def _check_text(title: str, body: str) -> None:
    errors = {}
    if not title.strip():
        errors["title"] = "Give the article a title."
    elif len(title) > TITLE_MAX_LENGTH:
        errors["title"] = f"At most {TITLE_MAX_LENGTH} characters."
    if not body.strip():
        errors["body"] = "Write the article's text."
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = f"At most {BODY_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)


def _version_write(article: Article, by, note: str = "") -> ArticleVersion:
    return ArticleVersion.objects.create(
        article=article,
        number=article.version,
        title=article.title,
        summary=article.summary,
        body=article.body,
        state=article.state,
        note=note[:200],
        created_by=by,
    )


def _next_version_number(article: Article) -> int:
    """The number of the article's next version. Not ``article.version + 1``: a revision
    that was discarded used numbers beyond the live text's, and numbers are never reused."""
    highest = article.versions.aggregate(highest=Max("number"))["highest"] or 0
    return max(highest, article.version) + 1


@transaction.atomic
def article_create(
    *,
    by,
    title: str,
    body: str,
    summary: str = "",
    language: str = "en",
    audience: str = "public",
    category=None,
    services=(),
    owner=None,
    review_by: date | None = None,
    translation_of: Article | None = None,
) -> Article:
    """A new draft, version 1, owned by ``owner`` (the author when not given)."""
    if not can_write(by):
        raise PermissionDenied
    _check_text(title, body)
    article = Article.objects.create(
        title=title.strip(),
        summary=summary.strip()[:300],
        body=body,
        language=language,
        audience=audience,
        category=category,
        owner=owner or by,
        review_by=review_by,
        translation_of=translation_of,
    )
    if services:
        article.services.set(services)
    _version_write(article, by, "created")
    ArticleEvent.objects.create(article=article, kind="created", by=by)
    return article


@transaction.atomic
def article_update(
    *, article: Article, by, expected_version: int | None = None, services=None, **fields
) -> Article:
    """Change a draft's text or details. A change of the text is a new version; an
    article that is not a draft is refused (``revise`` makes a published one a draft)."""
    if not can_write(by):
        raise PermissionDenied
    article = Article.objects.select_for_update().get(pk=article.pk)
    if expected_version is not None and expected_version != article.version:
        raise ConflictError(
            "The article was changed since you read it.", current_version=article.version
        )
    if article.state != State.DRAFT:
        raise ValidationError(
            {"state": "Only a draft's details can be edited: a published text gets a revision."}
        )
    allowed = {
        *CONTENT_FIELDS,
        "language",
        "audience",
        "category",
        "owner",
        "review_by",
        "translation_of",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Not an article field."))
    _check_text(fields.get("title", article.title), fields.get("body", article.body))
    text_changed = any(
        name in fields and fields[name] != getattr(article, name) for name in CONTENT_FIELDS
    )
    for name, value in fields.items():
        setattr(article, name, value)
    if text_changed:
        article.version = _next_version_number(article)
    article.updated_at = timezone.now()
    article.save()
    if services is not None:
        article.services.set(services)
    if text_changed:
        _version_write(article, by, "edited")
    ArticleEvent.objects.create(article=article, kind="edited", by=by)
    return article


@transaction.atomic
def article_transition(*, article: Article, by, name: str, note: str = "") -> Article:
    """Take a workflow step (``submit``, ``publish``, ``send_back``, ``retire``,
    ``revise``) if it is open to ``by``."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    allowed = available_transitions(article, by)
    if name not in allowed:
        raise TransitionNotAllowedError(
            f"{name} is not open on this article.",
            transition=name,
            state=article.state,
            allowed=allowed,
        )
    getattr(article, name)()
    article.updated_at = timezone.now()
    article.save()
    ArticleEvent.objects.create(article=article, kind=name, by=by, note=note[:300])
    if name == "retire":
        # A retired article has no live text left to revise.
        revision = _open_revision(article)
        if revision is not None:
            revision.discard()
            revision.updated_at = timezone.now()
            revision.save(update_fields=["state", "updated_at"])
            ArticleEvent.objects.create(
                article=article, kind="revision_discard", by=by, note="retired"
            )
    return article


# --- revisions of a published article ------------------------------------------------------

REVISION_TRANSITIONS = ("submit", "publish", "send_back", "discard")


def _open_revision(article: Article, *, lock: bool = False) -> ArticleRevision | None:
    revisions = ArticleRevision.objects.filter(
        article=article, state__in=[RevisionState.DRAFT, RevisionState.REVIEW]
    ).select_related("version")
    if lock:
        revisions = revisions.select_for_update(of=("self",))
    return revisions.first()


def revision_open_for(article: Article) -> ArticleRevision | None:
    """The article's revision in draft or in review, if there is one."""
    return _open_revision(article)


def revision_available_transitions(revision: ArticleRevision | None, user) -> list[str]:
    """The steps ``user`` may take on the pending ``revision`` now (pages offer only these)."""
    if revision is None:
        return []
    return [
        name
        for name in REVISION_TRANSITIONS
        if can_proceed(getattr(revision, name))
        and has_transition_perm(getattr(revision, name), user)
    ]


@transaction.atomic
def revision_save(
    *,
    article: Article,
    by,
    title: str,
    body: str,
    summary: str = "",
    expected_version: int | None = None,
) -> ArticleRevision:
    """Edit a published article without taking it off the portal: the new text is a new
    immutable version of a pending revision (started here if none is open), and the live
    text, which readers, search and the API see, stays as it is until a manager publishes
    the revision. ``expected_version`` is the revision's version the writer read (the live
    one when they started it): another save since is a conflict."""
    if not can_write(by):
        raise PermissionDenied
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.state != State.PUBLISHED:
        raise ValidationError({"state": "Only a published article gets a revision."})
    _check_text(title, body)
    revision = _open_revision(article, lock=True)
    current = revision.version.number if revision else article.version
    if expected_version is not None and expected_version != current:
        raise ConflictError("The article was changed since you read it.", current_version=current)
    if revision is not None and revision.state != RevisionState.DRAFT:
        raise ValidationError(
            {"state": "The revision is in review: it can be edited once it is sent back."}
        )
    latest = revision.version if revision else None
    title, summary = title.strip(), summary.strip()[:300]
    if latest is None:
        unchanged = (title, summary, body) == (article.title, article.summary, article.body)
    else:
        unchanged = (title, summary, body) == (latest.title, latest.summary, latest.body)
    if unchanged:
        if revision is None:
            raise ValidationError({"body": "Change the text to start a revision."})
        return revision
    version = ArticleVersion.objects.create(
        article=article,
        number=_next_version_number(article),
        title=title,
        summary=summary,
        body=body,
        state=State.DRAFT,
        note="revision",
        is_revision=True,
        created_by=by,
    )
    now = timezone.now()
    if revision is None:
        revision = ArticleRevision.objects.create(
            article=article, version=version, base_number=article.version, created_by=by
        )
        ArticleEvent.objects.create(
            article=article, kind="revision_start", by=by, note=f"v{version.number}"
        )
    else:
        revision.version = version
        revision.updated_at = now
        revision.save(update_fields=["version", "updated_at"])
        ArticleEvent.objects.create(
            article=article, kind="revision_edit", by=by, note=f"v{version.number}"
        )
    return revision


@transaction.atomic
def revision_transition(*, article: Article, by, name: str, note: str = "") -> ArticleRevision:
    """Take a step on the article's pending revision (``submit``, ``publish``,
    ``send_back``, ``discard``) if it is open to ``by``. Publishing makes the revision's
    text the article's live text (and so what search finds); the versions keep both."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    revision = _open_revision(article, lock=True)
    allowed = revision_available_transitions(revision, by)
    if name not in allowed or (name == "publish" and article.state != State.PUBLISHED):
        raise TransitionNotAllowedError(
            f"{name} is not open on this article's revision.",
            transition=name,
            state=revision.state if revision else "none",
            allowed=allowed,
        )
    getattr(revision, name)()
    now = timezone.now()
    revision.updated_at = now
    revision.save(update_fields=["state", "updated_at"])
    if name == "publish":
        version = revision.version
        article.title, article.summary, article.body = version.title, version.summary, version.body
        article.version = version.number
        article.published_at = now
        article.updated_at = now
        # ``save`` refreshes the folded search columns from the new text.
        article.save(
            update_fields=["title", "summary", "body", "version", "published_at", "updated_at"]
        )
    ArticleEvent.objects.create(
        article=article,
        kind=f"revision_{name}",
        by=by,
        note=(note or f"v{revision.version.number}")[:300],
    )
    return revision


@transaction.atomic
def article_rate(*, article: Article, by, helpful: bool) -> ArticleRating:
    """Helpful or not: one rating per user and article; rating again changes it."""
    rating, _created = ArticleRating.objects.update_or_create(
        article=article, user=by, defaults={"helpful": helpful, "rated_at": timezone.now()}
    )
    return rating


@transaction.atomic
def article_link_ticket(*, article: Article, ticket, by) -> ArticleTicketLink:
    """Record that ``article`` helped with ``ticket`` (once per pair)."""
    if not can_write(by):
        raise PermissionDenied
    link, _created = ArticleTicketLink.objects.get_or_create(
        article=article, ticket=ticket, defaults={"linked_by": by}
    )
    return link


@transaction.atomic
def article_unlink_ticket(*, article: Article, ticket, by) -> None:
    if not can_write(by):
        raise PermissionDenied
    ArticleTicketLink.objects.filter(article=article, ticket=ticket).delete()


def resolution_articles(ticket) -> list[Article]:
    """The published public articles linked to ``ticket``, oldest link first: what its
    caller may read (internal articles stay on the staff's card)."""
    return [
        link.article
        for link in ArticleTicketLink.objects.filter(
            ticket=ticket, article__state=State.PUBLISHED, article__audience=Audience.PUBLIC
        )
        .select_related("article")
        .order_by("linked_at", "id")
    ]


def resolution_references(ticket, notes: str) -> list[str]:
    """Lines for the resolution notes of ``ticket`` (``tickets.resolution``): the published
    public articles linked to it that ``notes`` do not name yet (the agent may have cited
    them already), by reference and title, in the caller's language. Internal articles are
    left out: the caller reads the notes."""
    articles = [
        article
        for article in resolution_articles(ticket)
        if not re.search(rf"(?<![\w-]){article.reference}(?!\w)", notes)
    ]
    if not articles:
        return []
    language = getattr(getattr(ticket, "caller", None), "language", None)
    with translation.override(language or translation.get_language()):
        heading = _("Articles in our knowledge base about this:")
    return [heading, *(f"- {article.reference} “{article.title}”" for article in articles)]


@transaction.atomic
def deflection_record(*, article: Article, by, query: str = "") -> Deflection:
    """An end user found the answer in a suggested article and filed no ticket."""
    return Deflection.objects.create(article=article, user=by, query=query.strip()[:200])


def review_reminders_send(*, today: date | None = None) -> int:
    """Remind the owners of published articles whose review-by date has passed: once per
    article and review-by date (a ``ReviewReminder`` row claims it; a second run, even in
    parallel, finds the row and sends nothing). Answers how many were sent."""
    today = today or timezone.localdate()
    reminded = ReviewReminder.objects.filter(
        article=OuterRef("pk"), review_by=OuterRef("review_by")
    )
    due = Article.objects.filter(state=State.PUBLISHED, review_by__lt=today).filter(
        ~Exists(reminded)
    )
    sent = 0
    for article in due.select_related("owner").only("id", "title", "review_by", "owner"):
        try:
            with transaction.atomic():
                ReviewReminder.objects.create(
                    article=article, review_by=article.review_by, owner=article.owner
                )
        except IntegrityError:
            continue
        _notify_owner(article)
        sent += 1
    return sent


def _notify_owner(article: Article) -> None:
    """The reminder itself: the owner's knowledge-base page lists overdue reviews; a mail
    goes to owners with an address (after the reminder's commit)."""
    from django.core.mail import send_mail
    from django.utils.translation import gettext as _

    owner = article.owner
    if not owner.email:
        return
    subject = _("Review due: %(title)s") % {"title": article.title}
    message = _(
        'The knowledge-base article %(reference)s "%(title)s" was due for review on '
        "%(date)s. Please check that it is still right."
    ) % {"reference": article.reference, "title": article.title, "date": article.review_by}
    transaction.on_commit(lambda: _send_quietly(send_mail, subject, message, None, [owner.email]))


def _send_quietly(send, *args) -> None:
    try:
        send(*args, fail_silently=False)
    except Exception:  # a mail server down must not undo the reminder
        logger.exception("kb: review reminder mail failed")


# --- the bulletin board ----------------------------------------------------------------------

ANNOUNCEMENT_FIELDS = (
    "title",
    "body",
    "severity",
    "audience",
    "site",
    "department",
    "pinned",
    "valid_from",
    "valid_until",
)


def can_announce(user) -> bool:
    """Who posts on the bulletin board: those who work tickets (the first line that takes
    the calls a failure brings, engineers, managers, administrators)."""
    return can_work_tickets(user)


@transaction.atomic
def announcement_save(*, by, announcement=None, services=None, **fields):
    """Post a new announcement (``announcement`` None) or change one; ``fields`` are
    ``ANNOUNCEMENT_FIELDS``. Checked as the model's ``clean`` says (audience needs its site
    or department, the end after the start)."""
    if not can_announce(by):
        raise PermissionDenied
    unknown = set(fields) - set(ANNOUNCEMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    announcement = announcement or Announcement(created_by=by)
    for name, value in fields.items():
        setattr(announcement, name, value)
    if not announcement.title.strip():
        raise ValidationError({"title": _("Give the announcement a title.")})
    announcement.full_clean(exclude=["created_by"])
    announcement.save()
    if services is not None:
        announcement.services.set(services)
    logger.info("announcement %s saved by user %s", announcement.pk, by.pk)
    return announcement


@transaction.atomic
def announcement_end(*, by, announcement):
    """Take an announcement off the board now (it stays in the list as past)."""
    if not can_announce(by):
        raise PermissionDenied
    now = timezone.now()
    if announcement.valid_until is None or announcement.valid_until > now:
        announcement.valid_until = max(now, announcement.valid_from)
        announcement.save(update_fields=["valid_until", "updated_at"])
    return announcement
