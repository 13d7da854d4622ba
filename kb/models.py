"""The knowledge base: articles in Markdown with their versions, review workflow, links to
tickets, ratings and the portal's deflections.

Later parts of the app (diagnostic scripts, the bulletin board) add their models below the
article's; nothing here needs to know about them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from helpdesk.models import Service
from helpdesk.roles import can_work_tickets
from kb import text

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 100_000


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    POLISH = "pl", _("Polish")


class Audience(models.TextChoices):
    PUBLIC = "public", _("Public (end users and staff)")
    INTERNAL = "internal", _("Internal (staff only)")


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


def can_write(user) -> bool:
    """Who writes articles and submits them for review: everyone who works tickets."""
    return can_work_tickets(user)


def can_publish(user) -> bool:
    """Who publishes, sends back and retires articles: managers and administrators (the
    people who read the reports, ``tickets.view_reports``)."""
    return user.is_authenticated and user.has_perm("tickets.view_reports")


def _is_writer(instance, user) -> bool:
    return can_write(user)


def _is_publisher(instance, user) -> bool:
    return can_publish(user)


class ArticleCategory(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("article category")
        verbose_name_plural = _("article categories")

    def __str__(self):
        return self.name


class Article(FSMModelMixin, models.Model):
    """One article in one language. ``translation_of`` joins the Polish and the English
    text of the same article. The current text is on the row; every saved text is also an
    :class:`ArticleVersion`.

    ``search_title`` and ``search_body`` are the folded text search reads (``kb.text.fold``),
    kept by ``save``. On PostgreSQL the migration adds a generated ``search_vector`` column
    (title weight A, body weight B) with a GIN index, and a trigram index on the title;
    Django does not know those columns (see ``kb.search``).
    """

    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    body = models.TextField(_("text (Markdown)"), max_length=BODY_MAX_LENGTH)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    translation_of = models.ForeignKey(
        "self",
        verbose_name=_("translation of"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="translations",
    )
    audience = models.CharField(
        _("audience"), max_length=10, choices=Audience.choices, default=Audience.PUBLIC
    )
    category = models.ForeignKey(
        ArticleCategory,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="articles",
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), blank=True, related_name="kb_articles"
    )
    state = FSMField(
        _("state"), max_length=10, choices=State.choices, default=State.DRAFT, protected=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="kb_articles",
    )
    review_by = models.DateField(_("review by"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    search_title = models.CharField(max_length=TITLE_MAX_LENGTH * 2, editable=False, default="")
    search_body = models.TextField(editable=False, default="")

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        # No index on state and audience: three in four articles are visible, and with one
        # the planner walked it for search candidates instead of the text indexes.
        indexes = [
            models.Index(fields=["owner", "review_by"], name="kb_article_owner_review_idx"),
        ]

    def __str__(self):
        return f"KB-{self.pk} {self.title}"

    def save(self, *args, **kwargs):
        self.refresh_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"title", "summary", "body"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_title", "search_body"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("kb:article", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"KB-{self.pk}"

    def refresh_search_text(self) -> None:
        self.search_title = text.fold(self.title)
        self.search_body = text.fold(f"{self.summary} {text.plain_text(self.body)}".strip())

    @property
    def is_public(self) -> bool:
        return self.state == State.PUBLISHED and self.audience == Audience.PUBLIC

    def review_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return (
            self.state == State.PUBLISHED and self.review_by is not None and self.review_by < today
        )

    # --- workflow (fields of self only; kb.services saves, versions and audits) ------------

    @transition(field=state, source=State.DRAFT, target=State.REVIEW, permission=_is_writer)
    def submit(self):
        pass

    @transition(field=state, source=State.REVIEW, target=State.DRAFT, permission=_is_publisher)
    def send_back(self):
        pass

    @transition(field=state, source=State.REVIEW, target=State.PUBLISHED, permission=_is_publisher)
    def publish(self):
        self.published_at = timezone.now()

    # A published article is edited through an ArticleRevision beside its live text; only
    # a retired one goes back to draft to be reworked.
    @transition(field=state, source=State.RETIRED, target=State.DRAFT, permission=_is_writer)
    def revise(self):
        pass

    @transition(
        field=state, source=[State.DRAFT, State.PUBLISHED], target=State.RETIRED,
        permission=_is_publisher,
    )  # fmt: skip
    def retire(self):
        pass


class ArticleVersion(models.Model):
    """An article's text as it was saved, never changed afterwards."""

    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    body = models.TextField(_("text (Markdown)"))
    state = models.CharField(_("state when saved"), max_length=10, choices=State.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    is_revision = models.BooleanField(
        _("revision of the published text"),
        default=False,
        help_text=_("Saved as a revision while the published text stayed live."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["article", "-number"]
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_version_unique")
        ]

    def __str__(self):
        return f"KB-{self.article_id} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Article versions are immutable.")
        super().save(*args, **kwargs)


class RevisionState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    PUBLISHED = "published", _("Published")
    DISCARDED = "discarded", _("Discarded")


OPEN_REVISION_STATES = (RevisionState.DRAFT, RevisionState.REVIEW)


def _revision_writer(instance, user) -> bool:
    return can_write(user)


def _revision_publisher(instance, user) -> bool:
    return can_publish(user)


class ArticleRevision(FSMModelMixin, models.Model):
    """A change of a published article's title, summary or text, kept beside the live text
    until a manager publishes it: readers, search and the API keep the published text
    (``Article``'s row is not touched) while the revision goes through its own review.

    Each save of the revision is an immutable :class:`ArticleVersion` (``is_revision``);
    ``version`` is the latest. Publishing copies that text onto the article, whose
    ``version`` then names it. At most one revision of an article is open (draft or in
    review) at a time."""

    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.CASCADE, related_name="revisions"
    )
    version = models.ForeignKey(
        ArticleVersion,
        verbose_name=_("current text"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    base_number = models.PositiveIntegerField(_("started from version"))
    state = FSMField(
        _("state"),
        max_length=10,
        choices=RevisionState.choices,
        default=RevisionState.DRAFT,
        protected=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("article revision")
        verbose_name_plural = _("article revisions")
        constraints = [
            models.UniqueConstraint(
                fields=["article"],
                condition=models.Q(state__in=["draft", "review"]),
                name="kb_one_open_revision",
            )
        ]

    def __str__(self):
        return f"KB-{self.article_id} revision v{self.version.number}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_REVISION_STATES

    # --- workflow (fields of self only; kb.services copies the text and audits) -----------

    @transition(
        field=state, source=RevisionState.DRAFT, target=RevisionState.REVIEW,
        permission=_revision_writer,
    )  # fmt: skip
    def submit(self):
        pass

    @transition(
        field=state, source=RevisionState.REVIEW, target=RevisionState.DRAFT,
        permission=_revision_publisher,
    )  # fmt: skip
    def send_back(self):
        pass

    @transition(
        field=state, source=RevisionState.REVIEW, target=RevisionState.PUBLISHED,
        permission=_revision_publisher,
    )  # fmt: skip
    def publish(self):
        pass

    @transition(
        field=state, source=list(OPEN_REVISION_STATES), target=RevisionState.DISCARDED,
        permission=_revision_writer,
    )  # fmt: skip
    def discard(self):
        pass


class ArticleEvent(models.Model):
    """The article's audit trail: who moved it through the workflow, when."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("what"), max_length=20)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("article event")
        verbose_name_plural = _("article events")

    def __str__(self):
        return f"KB-{self.article_id} {self.kind}"


class ArticleTicketLink(models.Model):
    """An article that helped with (or solved) a ticket: linked by an agent."""

    article = models.ForeignKey(
        Article, verbose_name=_("article"), on_delete=models.CASCADE, related_name="ticket_links"
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        related_name="kb_links",
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    linked_at = models.DateTimeField(_("linked"), default=timezone.now)

    class Meta:
        ordering = ["-linked_at", "-id"]
        verbose_name = _("article linked to a ticket")
        verbose_name_plural = _("articles linked to tickets")
        constraints = [models.UniqueConstraint(fields=["article", "ticket"], name="kb_link_unique")]

    def __str__(self):
        return f"KB-{self.article_id} -> {self.ticket_id}"


class ArticleRating(models.Model):
    """Helpful or not: one per user and article, changeable."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kb_ratings"
    )
    helpful = models.BooleanField(_("helpful"))
    rated_at = models.DateTimeField(_("rated"), default=timezone.now)

    class Meta:
        verbose_name = _("article rating")
        verbose_name_plural = _("article ratings")
        constraints = [models.UniqueConstraint(fields=["article", "user"], name="kb_rating_unique")]

    def __str__(self):
        return f"KB-{self.article_id} {'+' if self.helpful else '-'}"


class Deflection(models.Model):
    """An end user who, filing a ticket, found the answer in a suggested article and filed
    none."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="deflections")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    query = models.CharField(_("what they typed"), max_length=TITLE_MAX_LENGTH, blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("deflection")
        verbose_name_plural = _("deflections")

    def __str__(self):
        return f"KB-{self.article_id} {self.at:%Y-%m-%d}"


class ReviewReminder(models.Model):
    """The owner was reminded that the article's review-by date passed: once per article
    and date (a new date is a new reminder)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reminders")
    review_by = models.DateField(_("review by"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        verbose_name = _("review reminder")
        verbose_name_plural = _("review reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "review_by"], name="kb_reminder_once_per_date"
            )
        ]

    def __str__(self):
        return f"KB-{self.article_id} {self.review_by}"


# --- the bulletin board ---------------------------------------------------------------------


class Announcement(models.Model):
    """A notice about IT services on the bulletin board: the portal's home page, the console
    and the intranet's feed. Valid from ``valid_from`` until ``valid_until`` (open-ended when
    empty); pinned ones first, then the newest."""

    class Severity(models.TextChoices):
        INFO = "info", _("Information")
        WARNING = "warning", _("Warning")
        CRITICAL = "critical", _("Critical")

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        SITE = "site", _("One site")
        DEPARTMENT = "department", _("One department")

    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    body = models.TextField(_("text (Markdown)"), max_length=20_000, blank=True)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.INFO
    )
    audience = models.CharField(
        _("audience"), max_length=12, choices=Audience.choices, default=Audience.EVERYONE
    )
    site = models.ForeignKey(
        "helpdesk.Site",
        verbose_name=_("site"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("For the audience “one site”."),
    )
    department = models.CharField(
        _("department"),
        max_length=120,
        blank=True,
        help_text=_("For the audience “one department”: as written in people's profiles."),
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), blank=True, related_name="announcements"
    )
    pinned = models.BooleanField(_("pinned"), default=False)
    valid_from = models.DateTimeField(_("shown from"), default=timezone.now)
    valid_until = models.DateTimeField(_("shown until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-pinned", "-valid_from", "-id"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        indexes = [
            models.Index(fields=["valid_from", "valid_until"], name="kb_announcement_valid_idx")
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("kb:announcement", args=[self.pk])

    @property
    def body_html(self):
        return text.render_markdown(self.body)

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.audience == self.Audience.SITE and self.site_id is None:
            errors["site"] = _("Choose the site this announcement is for.")
        if self.audience == self.Audience.DEPARTMENT and not self.department.strip():
            errors["department"] = _("Name the department this announcement is for.")
        if self.valid_until and self.valid_from and self.valid_until <= self.valid_from:
            errors["valid_until"] = _("The end must be after the start.")
        if errors:
            raise ValidationError(errors)


# --- diagnostic scripts ----------------------------------------------------------------------


class Script(models.Model):
    """A diagnostic script: a small decision tree the first line runs with the caller. The
    tree itself lives in immutable :class:`ScriptVersion` rows; a run records the version it
    used, so publishing a new version never changes past runs. Offered on tickets whose
    category or service is among the script's."""

    name = models.CharField(_("name"), max_length=TITLE_MAX_LENGTH)
    description = models.CharField(_("description"), max_length=300, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    categories = models.ManyToManyField(
        "helpdesk.Category", verbose_name=_("categories"), blank=True, related_name="kb_scripts"
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), blank=True, related_name="kb_scripts"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("diagnostic script")
        verbose_name_plural = _("diagnostic scripts")

    def __str__(self):
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("kb:script", args=[self.pk])

    @property
    def current_version(self):
        """The newest version (prefetch ``versions`` to read it without a query)."""
        versions = list(self.versions.all())
        return max(versions, key=lambda version: version.number) if versions else None


class ScriptVersion(models.Model):
    """One published tree of a script, never changed once stored.

    ``tree`` is ``{"start": "<step id>", "steps": [{"id", "instruction", "question",
    "answers": [{"label", "next": "<step id>"} | {"label", "outcome": "solved"} |
    {"label", "outcome": "escalate", "group": "<support group code>"} |
    {"label", "outcome": "article", "article": <published article id>}]}]}``, validated by
    ``kb.scripts.tree_validate`` before it is stored."""

    script = models.ForeignKey(
        Script, verbose_name=_("script"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    tree = models.JSONField(_("steps"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("published"), auto_now_add=True)

    class Meta:
        ordering = ["script", "-number"]
        verbose_name = _("script version")
        verbose_name_plural = _("script versions")
        constraints = [
            models.UniqueConstraint(fields=["script", "number"], name="kb_script_version_unique")
        ]

    def __str__(self):
        return f"{self.script} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("A script version is immutable: publish a new one.")
        super().save(*args, **kwargs)

    @property
    def steps(self) -> dict[str, dict]:
        return {step["id"]: step for step in self.tree.get("steps", [])}

    def step(self, step_id: str) -> dict | None:
        return self.steps.get(step_id)


class ScriptRun(models.Model):
    """An agent running one version of a script on a ticket, step by step."""

    class Outcome(models.TextChoices):
        RUNNING = "", _("Running")
        SOLVED = "solved", _("Solved")
        ESCALATED = "escalate", _("Escalated")
        ARTICLE = "article", _("Handed over to an article")
        ABANDONED = "abandoned", _("Abandoned")

    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        related_name="script_runs",
    )
    version = models.ForeignKey(
        ScriptVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="runs"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    current_step = models.CharField(_("current step"), max_length=50)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.RUNNING, blank=True
    )
    outcome_detail = models.CharField(_("outcome detail"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("last answer"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("script run")
        verbose_name_plural = _("script runs")
        indexes = [models.Index(fields=["ticket", "outcome"], name="kb_script_run_ticket_idx")]

    def __str__(self):
        return f"{self.version} on {self.ticket_id}"

    def get_absolute_url(self) -> str:
        return reverse("kb:script_run", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.outcome == self.Outcome.RUNNING


class ScriptRunAnswer(models.Model):
    """One answer given during a run, with the texts as they were asked (the version's tree
    is immutable, but the row keeps the texts for the ticket page and the figures)."""

    run = models.ForeignKey(
        ScriptRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="answers"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    step = models.CharField(_("step"), max_length=50)
    question = models.CharField(_("question"), max_length=500)
    answer = models.PositiveSmallIntegerField(_("answer number"))
    label = models.CharField(_("answer"), max_length=200)
    answered_at = models.DateTimeField(_("answered"), default=timezone.now)

    class Meta:
        ordering = ["run", "position"]
        verbose_name = _("script answer")
        verbose_name_plural = _("script answers")
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="kb_script_answer_unique")
        ]

    def __str__(self):
        return f"{self.question}: {self.label}"
