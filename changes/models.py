"""Change management: requests for change, their risk, approval by the board, freezes."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from helpdesk.models import Category, Person, Service, Site, SupportGroup
from helpdesk.roles import can_work_tickets
from tickets.models import Impact


class ChangeType(models.TextChoices):
    STANDARD = "standard", _("Standard (pre-approved)")
    NORMAL = "normal", _("Normal")
    EMERGENCY = "emergency", _("Emergency")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ASSESSMENT = "assessment", _("In assessment")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SCHEDULED = "scheduled", _("Scheduled")
    IMPLEMENTING = "implementing", _("Implementing")
    REVIEW = "review", _("In review")
    CLOSED = "closed", _("Closed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# What may still be withdrawn: everything before the work starts. A change being
# implemented is finished (and reviewed, closed as failed or backed out) instead.
WITHDRAWABLE_STATES = [
    State.DRAFT,
    State.SUBMITTED,
    State.ASSESSMENT,
    State.AWAITING_APPROVAL,
    State.APPROVED,
    State.SCHEDULED,
]
OPEN_STATES = [*WITHDRAWABLE_STATES, State.IMPLEMENTING, State.REVIEW]
# The states whose planned window is booked: they conflict with each other.
BOOKED_STATES = [State.APPROVED, State.SCHEDULED, State.IMPLEMENTING]


class CloseCode(models.TextChoices):
    SUCCESSFUL = "successful", _("Successful")
    FAILED = "failed", _("Failed")
    BACKED_OUT = "backed_out", _("Backed out")


class ChangeCounter(models.Model):
    """The last change number handed out (one row); incremented atomically by services."""

    prefix = models.CharField(max_length=8, unique=True, default="CHG")
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.prefix}: {self.value}"


class ChangeTemplate(models.Model):
    """A standard change: pre-approved work done the same way each time."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("affected services"), blank=True, related_name="+"
    )
    risk = models.CharField(
        _("risk"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.LOW
    )
    implementation_plan = models.TextField(_("implementation plan"), blank=True)
    backout_plan = models.TextField(_("back-out plan"), blank=True)
    test_plan = models.TextField(_("test plan"), blank=True)
    assigned_group = models.ForeignKey(
        SupportGroup,
        verbose_name=_("assigned group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("standard change template")
        verbose_name_plural = _("standard change templates")

    def __str__(self):
        return self.name


# --- risk questionnaire --------------------------------------------------------------------


class RiskQuestion(models.Model):
    """One question of the risk assessment; each answer carries points."""

    text = models.CharField(_("question"), max_length=250)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("risk question")
        verbose_name_plural = _("risk questions")

    def __str__(self):
        return self.text


class RiskAnswer(models.Model):
    question = models.ForeignKey(
        RiskQuestion, verbose_name=_("question"), on_delete=models.CASCADE, related_name="answers"
    )
    text = models.CharField(_("answer"), max_length=200)
    points = models.PositiveSmallIntegerField(_("points"), default=0)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["question", "order", "id"]
        verbose_name = _("risk answer")
        verbose_name_plural = _("risk answers")

    def __str__(self):
        return f"{self.text} ({self.points})"


class RiskThreshold(models.Model):
    """From ``min_score`` points up, the risk is ``level`` (the highest threshold reached
    wins; below every threshold the risk is low)."""

    level = models.CharField(_("risk"), max_length=8, choices=RiskLevel.choices, unique=True)
    min_score = models.PositiveSmallIntegerField(_("from score"))

    class Meta:
        ordering = ["min_score"]
        verbose_name = _("risk threshold")
        verbose_name_plural = _("risk thresholds")

    def __str__(self):
        return f"{self.get_level_display()} ≥ {self.min_score}"


# --- transition guards (no I/O beyond the user's roles) ------------------------------------


def _is_worker(instance, user) -> bool:
    # Agents, engineers, managers and administrators prepare and carry out changes.
    return can_work_tickets(user)


def _is_worker_or_requester(instance, user) -> bool:
    return can_work_tickets(user) or instance.is_requester(user)


def _system_only(instance, user) -> bool:
    # Approval and rejection follow from the votes (changes.services.vote_cast); no person
    # takes them directly. The system (user None) passes: only conditions apply to it.
    return False


def _is_standard(instance) -> bool:
    return instance.type == ChangeType.STANDARD


def _needs_approval(instance) -> bool:
    return instance.type != ChangeType.STANDARD


def _is_emergency(instance) -> bool:
    return instance.type == ChangeType.EMERGENCY


class Change(FSMModelMixin, models.Model):
    """A request for change (RFC).

    ``state`` is protected: only the transitions below change it, and only services
    (``changes.services``) call them, so each step is saved with its timeline entry.
    ``version`` is the optimistic lock, as on tickets.
    """

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    justification = models.TextField(_("business justification"), blank=True)
    requester = models.ForeignKey(
        Person, verbose_name=_("requester"), on_delete=models.PROTECT, related_name="changes"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    type = models.CharField(
        _("type"), max_length=10, choices=ChangeType.choices, default=ChangeType.NORMAL
    )
    template = models.ForeignKey(
        ChangeTemplate,
        verbose_name=_("template"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="changes",
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("affected services"), blank=True, related_name="changes"
    )
    sites = models.ManyToManyField(
        Site, verbose_name=_("affected sites"), blank=True, related_name="changes"
    )
    risk = models.CharField(
        _("risk"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.LOW
    )
    risk_score = models.PositiveSmallIntegerField(_("risk score"), null=True, blank=True)
    impact = models.PositiveSmallIntegerField(
        _("impact"), choices=Impact.choices, default=Impact.GROUP
    )
    estimated_cost = models.DecimalField(
        _("estimated cost"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    budget_line = models.CharField(_("budget line"), max_length=120, blank=True)
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True)
    planned_end = models.DateTimeField(_("planned end"), null=True, blank=True)
    implementation_plan = models.TextField(_("implementation plan"), blank=True)
    backout_plan = models.TextField(_("back-out plan"), blank=True)
    test_plan = models.TextField(_("test plan"), blank=True)
    assigned_group = models.ForeignKey(
        SupportGroup,
        verbose_name=_("assigned group"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
    )
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("implementer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="implemented_changes",
    )
    tickets = models.ManyToManyField(
        "tickets.Ticket", verbose_name=_("linked tickets"), blank=True, related_name="changes"
    )
    related_changes = models.ManyToManyField(
        "self", verbose_name=_("linked changes"), blank=True, symmetrical=True
    )
    state = FSMField(
        _("state"), max_length=20, choices=State.choices, default=State.DRAFT, protected=True
    )
    close_code = models.CharField(
        _("close code"), max_length=12, choices=CloseCode.choices, blank=True
    )
    review_result = models.TextField(_("review result"), blank=True)
    review_problems = models.TextField(_("what went wrong"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    started_at = models.DateTimeField(_("implementation started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("implementation finished"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("change")
        verbose_name_plural = _("changes")
        indexes = [
            models.Index(fields=["state", "planned_start"], name="change_state_window_idx"),
            models.Index(fields=["requester", "-created_at"], name="change_requester_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_start__isnull=True)
                | models.Q(planned_end__isnull=True)
                | models.Q(planned_start__lt=models.F("planned_end")),
                name="change_window_ordered",
            )
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    # --- reading --------------------------------------------------------------------------

    def is_requester(self, user) -> bool:
        person = getattr(user, "person", None) if user.is_authenticated else None
        return person is not None and person.pk == self.requester_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- lifecycle (transitions change fields of self only; services save and audit) -------

    @transition(
        field=state,
        source=State.DRAFT,
        target=State.SUBMITTED,
        permission=_is_worker_or_requester,
    )
    def submit(self):
        self.submitted_at = timezone.now()

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.ASSESSMENT,
        conditions=[_needs_approval],
        permission=_is_worker,
    )
    def assess(self):
        pass

    # An emergency change may go to its board straight from submission: there is no time
    # for a separate assessment round.
    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.AWAITING_APPROVAL,
        conditions=[_is_emergency],
        permission=_is_worker,
    )
    @transition(
        field=state,
        source=State.ASSESSMENT,
        target=State.AWAITING_APPROVAL,
        conditions=[_needs_approval],
        permission=_is_worker,
    )
    def request_approval(self):
        pass

    @transition(
        field=state,
        source=State.AWAITING_APPROVAL,
        target=State.APPROVED,
        permission=_system_only,
    )
    def approve(self):
        self.approved_at = timezone.now()

    @transition(
        field=state,
        source=State.AWAITING_APPROVAL,
        target=State.REJECTED,
        permission=_system_only,
    )
    def reject(self):
        self.closed_at = timezone.now()

    # A standard change is pre-approved: from submission it is scheduled directly.
    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.SCHEDULED,
        conditions=[_is_standard],
        permission=_is_worker,
    )
    @transition(field=state, source=State.APPROVED, target=State.SCHEDULED, permission=_is_worker)
    def schedule(self, *, planned_start, planned_end):
        self.planned_start = planned_start
        self.planned_end = planned_end

    @transition(
        field=state, source=State.SCHEDULED, target=State.IMPLEMENTING, permission=_is_worker
    )
    def implement(self, *, by):
        self.started_at = timezone.now()
        if self.implementer_id is None:
            self.implementer = by

    @transition(field=state, source=State.IMPLEMENTING, target=State.REVIEW, permission=_is_worker)
    def finish(self, *, code):
        self.finished_at = timezone.now()
        self.close_code = code

    @transition(field=state, source=State.REVIEW, target=State.CLOSED, permission=_is_worker)
    def close(self, *, code, result, problems):
        self.close_code = code
        self.review_result = result
        self.review_problems = problems
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=WITHDRAWABLE_STATES,
        target=State.WITHDRAWN,
        permission=_is_worker_or_requester,
    )
    def withdraw(self):
        self.closed_at = timezone.now()


class ChangeRiskAnswer(models.Model):
    """The answer a change got to one risk question."""

    change = models.ForeignKey(
        Change, verbose_name=_("change"), on_delete=models.CASCADE, related_name="risk_answers"
    )
    question = models.ForeignKey(
        RiskQuestion, verbose_name=_("question"), on_delete=models.PROTECT, related_name="+"
    )
    answer = models.ForeignKey(
        RiskAnswer, verbose_name=_("answer"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("risk answer of a change")
        verbose_name_plural = _("risk answers of changes")
        constraints = [
            models.UniqueConstraint(fields=["change", "question"], name="change_risk_answer_once")
        ]

    def __str__(self):
        return f"{self.change_id}: {self.question_id} -> {self.answer_id}"


class ChangeComment(models.Model):
    change = models.ForeignKey(
        Change, verbose_name=_("change"), on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("change comment")
        verbose_name_plural = _("change comments")

    def __str__(self):
        return f"{self.change_id}: {self.body[:40]}"


def change_attachment_path(instance, filename):
    # Stored under a generated name, as ticket attachments: the uploader's name never
    # reaches the file system.
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    if not suffix[1:].isalnum():
        suffix = ""
    now = timezone.now()
    return f"change-attachments/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class ChangeAttachment(models.Model):
    """A file of a change (a vendor's plan, a diagram, the test log); bounded and checked
    like ticket attachments (``tickets.services.validate_upload``)."""

    change = models.ForeignKey(
        Change, verbose_name=_("change"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=change_attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("change attachment")
        verbose_name_plural = _("change attachments")

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("changes:attachment", kwargs={"number": self.change.number, "pk": self.pk})


class ChangeTimelineEntry(models.Model):
    """One line of a change's history: a step, a field change, a vote, a comment."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("State change")
        FIELD_CHANGE = "field_change", _("Field change")
        VOTE = "vote", _("Vote")
        APPROVAL_STEP = "approval_step", _("Approval step")
        COMMENT = "comment", _("Comment")
        LINK = "link", _("Link")
        UNLINK = "unlink", _("Link removed")
        ATTACHMENT = "attachment", _("Attachment")

    change = models.ForeignKey(
        Change, verbose_name=_("change"), on_delete=models.CASCADE, related_name="timeline"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    field = models.CharField(_("field"), max_length=40, blank=True)
    old_value = models.CharField(_("old value"), max_length=250, blank=True)
    new_value = models.CharField(_("new value"), max_length=250, blank=True)
    transition = models.CharField(_("transition"), max_length=20, blank=True)
    comment = models.ForeignKey(
        ChangeComment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The approval step a vote or a step's opening and completion is about.
    approval = models.ForeignKey(
        "changes.ApprovalRequest",
        verbose_name=_("approval step"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("change timeline entry")
        verbose_name_plural = _("change timeline")
        indexes = [models.Index(fields=["change", "created_at"], name="change_timeline_idx")]

    def __str__(self):
        return f"{self.change_id} {self.kind} {self.field} {self.old_value} -> {self.new_value}"


# --- approval rules and their instances ----------------------------------------------------


class Quorum(models.TextChoices):
    ALL = "all", _("All approvers")
    ANY = "any", _("Any one approver")
    COUNT = "count", _("At least N approvers")
    PERCENT = "percent", _("At least a percentage of approvers")


class ApprovalRule(models.Model):
    """Which approval steps a change of ``change_type`` and ``risk`` (empty: any) goes
    through. A rule for the change's exact risk wins over one for any risk."""

    name = models.CharField(_("name"), max_length=120)
    change_type = models.CharField(_("change type"), max_length=10, choices=ChangeType.choices)
    risk = models.CharField(
        _("risk"),
        max_length=8,
        choices=RiskLevel.choices,
        blank=True,
        help_text=_("Empty: changes of any risk."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["change_type", "risk", "name"]
        verbose_name = _("approval rule")
        verbose_name_plural = _("approval rules")
        constraints = [
            models.UniqueConstraint(
                fields=["change_type", "risk"],
                condition=models.Q(is_active=True),
                name="approval_rule_one_active_per_type_and_risk",
            )
        ]

    def __str__(self):
        return self.name


class ApproverFields(models.Model):
    """Who approves and how many must: shared by a rule's step and its instance."""

    quorum = models.CharField(_("quorum"), max_length=8, choices=Quorum.choices, default=Quorum.ALL)
    quorum_value = models.PositiveSmallIntegerField(
        _("quorum value"),
        null=True,
        blank=True,
        help_text=_("N for “at least N”, the percentage for “at least a percentage”."),
    )

    class Meta:
        abstract = True

    def required_approvals(self, approver_count: int) -> int:
        """How many approvals complete the step among ``approver_count`` approvers."""
        if self.quorum == Quorum.ANY:
            return 1
        if self.quorum == Quorum.COUNT:
            return int(self.quorum_value or 1)
        if self.quorum == Quorum.PERCENT:
            # Ceiling without floats: 50 % of 3 approvers is 2.
            return max(1, -(-approver_count * int(self.quorum_value or 100) // 100))
        return approver_count


class ApprovalStep(ApproverFields):
    """One ordered step of a rule (technical, then financial ...) and its approvers: the
    change board, the owner groups of the affected services, named people; a step with
    ``min_cost`` applies only to changes estimated above it."""

    rule = models.ForeignKey(
        ApprovalRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="steps"
    )
    name = models.CharField(_("name"), max_length=80)
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    change_board = models.BooleanField(
        _("change board"), default=False, help_text=_("Every member of the change-board role.")
    )
    service_owners = models.BooleanField(
        _("service owners"),
        default=False,
        help_text=_("The members of the owner group of each affected service."),
    )
    groups = models.ManyToManyField(
        Group, verbose_name=_("role groups"), blank=True, related_name="+"
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("named approvers"), blank=True, related_name="+"
    )
    min_cost = models.DecimalField(
        _("applies above cost"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Empty: always. Otherwise only for changes estimated above this amount."),
    )

    class Meta:
        ordering = ["rule", "order", "id"]
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")

    def __str__(self):
        return f"{self.rule}: {self.order}. {self.name}"

    def applies_to(self, change: Change) -> bool:
        if self.min_cost is None:
            return True
        return change.estimated_cost is not None and change.estimated_cost > self.min_cost


class ApprovalRequest(ApproverFields):
    """A step of a rule instantiated for one change, with its approvers resolved when the
    change went to approval (later changes to the rule do not move a running vote)."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting for the previous step")
        OPEN = "open", _("Open for votes")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    change = models.ForeignKey(
        Change, verbose_name=_("change"), on_delete=models.CASCADE, related_name="approvals"
    )
    step = models.ForeignKey(
        ApprovalStep,
        verbose_name=_("rule step"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    name = models.CharField(_("name"), max_length=80)
    order = models.PositiveSmallIntegerField(_("order"))
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approvers"),
        related_name="change_approval_requests",
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.WAITING
    )
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        ordering = ["change", "order", "id"]
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")

    def __str__(self):
        return f"{self.change_id}: {self.order}. {self.name} ({self.state})"


class Vote(models.Model):
    class Decision(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")

    request = models.ForeignKey(
        ApprovalRequest,
        verbose_name=_("approval step"),
        on_delete=models.CASCADE,
        related_name="votes",
    )
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("voter"),
        on_delete=models.PROTECT,
        related_name="change_votes",
    )
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("cast"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        constraints = [
            models.UniqueConstraint(fields=["request", "voter"], name="vote_once_per_step")
        ]

    def __str__(self):
        return f"{self.request_id}: {self.voter_id} {self.decision}"


# --- calendar ------------------------------------------------------------------------------


class FreezePeriod(models.Model):
    """A time in which changes should not happen (year-end closing ...): everywhere, or for
    some services and sites; emergency changes may be let through."""

    name = models.CharField(_("name"), max_length=120)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    is_global = models.BooleanField(
        _("everywhere"), default=False, help_text=_("Applies to every service and site.")
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), blank=True, related_name="+"
    )
    sites = models.ManyToManyField(Site, verbose_name=_("sites"), blank=True, related_name="+")
    allows_emergency = models.BooleanField(_("emergency changes allowed"), default=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("freeze period")
        verbose_name_plural = _("freeze periods")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")), name="freeze_period_ordered"
            )
        ]

    def __str__(self):
        return self.name


class CalendarFeedToken(models.Model):
    """A secret in a user's calendar feed URL; only its SHA-256 digest is stored (the
    key is 256 random bits, as API tokens' keys). Revoked tokens stop working."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="change_feed_tokens",
    )
    prefix = models.CharField(_("prefix"), max_length=8)
    key_digest = models.CharField(_("key digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("calendar feed token")
        verbose_name_plural = _("calendar feed tokens")

    def __str__(self):
        return f"{self.user_id} ({self.prefix}…)"
