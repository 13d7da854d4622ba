"""The ticket register: tickets, their lifecycle, comments, attachments and timeline."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from helpdesk.models import Category, Person, Service, SupportGroup
from helpdesk.roles import can_work_tickets


class TicketType(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    REQUEST = "request", _("Service request")


TICKET_NUMBER_PREFIX = {TicketType.INCIDENT: "INC", TicketType.REQUEST: "REQ"}


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    PORTAL = "portal", _("Portal")
    CHAT = "chat", _("Chat")
    SMS = "sms", _("SMS")
    API = "api", _("API")


class Impact(models.IntegerChoices):
    # 1 is the widest impact, as in ITIL.
    ENTERPRISE = 1, _("Enterprise-wide")
    DEPARTMENT = 2, _("Department or site")
    GROUP = 3, _("Group of users")
    SINGLE = 4, _("Single user")


class Urgency(models.IntegerChoices):
    CRITICAL = 1, _("Critical: work stopped")
    HIGH = 2, _("High: work seriously impaired")
    MEDIUM = 3, _("Medium: work impaired, workaround exists")
    LOW = 4, _("Low: inconvenience")


class Priority(models.IntegerChoices):
    P1 = 1, _("P1 critical")
    P2 = 2, _("P2 high")
    P3 = 3, _("P3 medium")
    P4 = 4, _("P4 low")
    P5 = 5, _("P5 planning")


class Status(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    PENDING = "pending", _("Pending")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = [Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING]
# The open tickets, as the partial indexes of the console's queues name them (literal values:
# an index condition is fixed SQL, and the queues' ``status IN (...)`` must match it).
_OPEN = models.Q(status__in=["new", "assigned", "in_progress", "pending"])


def status_rank() -> models.Case:
    """The lifecycle's order of a status (new 0 ... cancelled 6), not the stored keys'
    alphabet (which means nothing in Polish): the queue's "state" sort, and its indexes."""
    return models.Case(
        *(
            models.When(status=status.value, then=models.Value(i))
            for i, status in enumerate(Status)
        ),
        default=models.Value(len(Status)),
        output_field=models.IntegerField(),
    )


class PendingReason(models.TextChoices):
    USER = "user", _("Waiting for the user")
    THIRD_PARTY = "third_party", _("Waiting for a third party")
    CHANGE = "change", _("Waiting for a change")
    OTHER = "other", _("Other")


class ResolutionCode(models.TextChoices):
    SOLVED = "solved", _("Solved")
    WORKAROUND = "workaround", _("Solved with a workaround")
    USER_INSTRUCTED = "user_instructed", _("User instructed")
    NOT_REPRODUCIBLE = "not_reproducible", _("Not reproducible")
    DUPLICATE = "duplicate", _("Duplicate")
    REQUEST_FULFILLED = "fulfilled", _("Request fulfilled")
    NO_RESPONSE = "no_response", _("No response from user")


class PriorityRule(models.Model):
    """One cell of the impact x urgency -> priority matrix (editable in the admin)."""

    impact = models.PositiveSmallIntegerField(_("impact"), choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = _("priority rule")
        verbose_name_plural = _("priority matrix")
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="priority_rule_unique_cell")
        ]

    def __str__(self):
        return f"{self.get_impact_display()} x {self.get_urgency_display()} = P{self.priority}"


class TicketCounter(models.Model):
    """The last number handed out per ticket type; incremented atomically by services."""

    type = models.CharField(max_length=12, choices=TicketType.choices, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.type}: {self.value}"


# --- transition guards (no I/O: they read the instance and the user) -------------------------


def _is_worker(instance, user) -> bool:
    return can_work_tickets(user)


def _is_worker_or_caller(instance, user) -> bool:
    return can_work_tickets(user) or instance.is_caller(user)


def _worker_or_caller_waited_for(instance, user) -> bool:
    # The caller may hand a ticket back to work only when it was waiting for them, not
    # while it waits for a supplier or a change.
    if can_work_tickets(user):
        return True
    return instance.is_caller(user) and instance.pending_reason == PendingReason.USER


def _within_reopen_window(instance) -> bool:
    if instance.resolved_at is None:
        return False
    return timezone.now() - instance.resolved_at <= timedelta(days=settings.TICKET_REOPEN_DAYS)


def _caller_may_cancel(instance, user) -> bool:
    # Agents may cancel any open ticket; callers only their own ticket nobody has taken yet.
    if can_work_tickets(user):
        return True
    return instance.is_caller(user) and instance.status == Status.NEW


def _in_first_line(instance) -> bool:
    # Escalation moves a ticket up a tier; a ticket already with second line is transferred.
    return instance.group_id is None or instance.group.tier == SupportGroup.Tier.FIRST


class Ticket(FSMModelMixin, models.Model):
    """An incident or a service request, from any channel.

    The status is protected: only the transitions below change it, and only services
    (``tickets.services``) call them, so every change is saved with its timeline entry.
    ``version`` is the optimistic lock pages and API clients send back; the services check
    and increment it (see the docstring of ``tickets.services``). ``FSMModelMixin`` lets
    ``refresh_from_db`` reload the protected status.
    """

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    type = models.CharField(
        _("type"), max_length=12, choices=TicketType.choices, default=TicketType.INCIDENT
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    caller = models.ForeignKey(
        Person, verbose_name=_("caller"), on_delete=models.PROTECT, related_name="tickets"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.PORTAL
    )
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        # Indexed by (service, created_at) below, which also serves the foreign key.
        db_index=False,
        related_name="tickets",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    impact = models.PositiveSmallIntegerField(
        _("impact"), choices=Impact.choices, default=Impact.SINGLE
    )
    urgency = models.PositiveSmallIntegerField(
        _("urgency"), choices=Urgency.choices, default=Urgency.MEDIUM
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.P4
    )
    group = models.ForeignKey(
        SupportGroup,
        verbose_name=_("support group"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        # Indexed by (x, id) below, which also serves the foreign key.
        db_index=False,
        related_name="tickets",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        # Indexed by (x, id) below, which also serves the foreign key.
        db_index=False,
        related_name="assigned_tickets",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
    )
    follow_up_of = models.ForeignKey(
        "self",
        verbose_name=_("follow-up of"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        help_text=_("The finished ticket this one continues (a reply that came too late)."),
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged",
        help_text=_("The ticket this duplicate was merged into."),
    )
    tags = models.ManyToManyField(
        "tickets.Tag", verbose_name=_("tags"), blank=True, related_name="tickets"
    )
    status = FSMField(
        _("state"), max_length=12, choices=Status.choices, default=Status.NEW, protected=True
    )
    pending_reason = models.CharField(
        _("pending reason"), max_length=12, choices=PendingReason.choices, blank=True
    )
    pending_note = models.CharField(_("pending note"), max_length=250, blank=True)
    resolution_code = models.CharField(
        _("resolution code"), max_length=20, choices=ResolutionCode.choices, blank=True
    )
    resolution_notes = models.TextField(_("resolution notes"), blank=True)
    first_contact_resolution = models.BooleanField(_("solved on first contact"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    # Kept by the service-level app (sla): when the earliest running target falls due. The
    # queue sorts and filters on it; empty when no clock runs (none applies, or paused).
    due_at = models.DateTimeField(_("due"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        permissions = [
            ("view_all_tickets", _("Can see every ticket")),
            ("work_ticket", _("Can assign, transition and annotate tickets")),
            ("view_internal_notes", _("Can read internal work notes")),
            ("view_reports", _("Can see reports and dashboards")),
        ]
        indexes = [
            models.Index(fields=["status", "group", "-created_at"], name="ticket_queue_idx"),
            models.Index(fields=["assignee", "status", "-created_at"], name="ticket_assignee_idx"),
            models.Index(fields=["caller", "-created_at"], name="ticket_caller_idx"),
            models.Index(fields=["-updated_at"], name="ticket_updated_idx"),
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(due_at__isnull=False),
                name="ticket_due_idx",
            ),
            # The managers' dashboard (sla): tickets resolved in a period with what their
            # median time to resolve and the narrowing read; the open backlog by group and
            # priority, from the index alone.
            models.Index(
                fields=["resolved_at"],
                include=["created_at", "group", "service", "channel", "caller"],
                condition=models.Q(resolved_at__isnull=False),
                name="ticket_resolved_idx",
            ),
            models.Index(
                fields=["group", "priority"],
                include=["service", "channel", "caller"],
                condition=_OPEN,
                name="ticket_open_idx",
            ),
            # The console's queue sorts (tickets.selectors.QUEUE_SORTS), so that a page of any
            # sort, either direction, reads an index in order instead of sorting every ticket
            # (docs/benchmarks.md, "Queue sorts"). Columns whose order follows age (created,
            # updated, due) and the state have their own index over the open tickets: the
            # open queues would otherwise walk past the closed ones first. Title and priority
            # do not follow age: one index over all tickets serves every tab. Group and
            # assignee pages are put together group by group (QueueSort.by), from these.
            models.Index(
                fields=["created_at", "id"], condition=_OPEN, name="ticket_open_created_idx"
            ),
            models.Index(
                fields=["updated_at", "id"], condition=_OPEN, name="ticket_open_updated_idx"
            ),
            models.Index(fields=["due_at", "id"], condition=_OPEN, name="ticket_open_due_idx"),
            models.Index(
                status_rank(), models.F("id"), condition=_OPEN, name="ticket_open_state_idx"
            ),
            models.Index(status_rank(), models.F("id"), name="ticket_state_idx"),
            models.Index(fields=["group", "id"], condition=_OPEN, name="ticket_open_group_idx"),
            models.Index(
                fields=["assignee", "id"], condition=_OPEN, name="ticket_open_assignee_idx"
            ),
            models.Index(fields=["group", "id"], name="ticket_group_idx"),
            models.Index(fields=["assignee", "id"], name="ticket_assignee_id_idx"),
            models.Index(fields=["title", "id"], name="ticket_title_idx"),
            models.Index(fields=["priority", "id"], name="ticket_priority_idx"),
            # The outage suggestion counts a service's tickets of the last minutes on every
            # new ticket (outages.services.suggestion_on_ticket_event).
            models.Index(fields=["service", "created_at"], name="ticket_service_recent_idx"),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("tickets:detail", kwargs={"number": self.number})

    # --- reading --------------------------------------------------------------------------

    def is_caller(self, user) -> bool:
        person = getattr(user, "person", None) if user.is_authenticated else None
        return person is not None and person.pk == self.caller_id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # --- lifecycle (transitions change fields of self only; services save and audit) -------

    @transition(
        field=status,
        source=[Status.NEW, Status.ASSIGNED],
        target=Status.ASSIGNED,
        permission=_is_worker,
    )
    def assign(self, *, assignee):
        self.assignee = assignee

    # Pending -> in progress is ``resume``; offering ``start`` too would be two buttons for one
    # step.
    @transition(
        field=status,
        source=[Status.NEW, Status.ASSIGNED],
        target=Status.IN_PROGRESS,
        permission=_is_worker,
    )
    def start(self, *, by):
        if self.assignee_id is None:
            self.assignee = by
        self.pending_reason = ""
        self.pending_note = ""

    @transition(
        field=status,
        source=[Status.ASSIGNED, Status.IN_PROGRESS],
        target=Status.PENDING,
        permission=_is_worker,
    )
    def pend(self, *, reason, note=""):
        self.pending_reason = reason
        self.pending_note = note

    @transition(
        field=status,
        source=Status.PENDING,
        target=Status.IN_PROGRESS,
        permission=_worker_or_caller_waited_for,
    )
    def resume(self):
        self.pending_reason = ""
        self.pending_note = ""

    @transition(field=status, source=OPEN_STATUSES, target=Status.RESOLVED, permission=_is_worker)
    def resolve(self, *, code, notes, by, first_contact=False):
        now = timezone.now()
        self.resolution_code = code
        self.resolution_notes = notes
        self.resolved_at = now
        self.first_contact_resolution = first_contact
        self.pending_reason = ""
        self.pending_note = ""
        if self.assignee_id is None:
            self.assignee = by
        if self.first_response_at is None:
            self.first_response_at = now

    @transition(
        field=status, source=Status.RESOLVED, target=Status.CLOSED, permission=_is_worker_or_caller
    )
    def close(self):
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=Status.RESOLVED,
        target=RETURN_VALUE(Status.NEW, Status.ASSIGNED),
        conditions=[_within_reopen_window],
        permission=_is_worker_or_caller,
    )
    def reopen(self):
        self.resolved_at = None
        self.resolution_code = ""
        self.first_contact_resolution = False
        return Status.ASSIGNED if self.assignee_id else Status.NEW

    @transition(
        field=status, source=OPEN_STATUSES, target=Status.CANCELLED, permission=_caller_may_cancel
    )
    def cancel(self):
        self.closed_at = timezone.now()

    @transition(field=status, source=OPEN_STATUSES, target=Status.NEW, permission=_is_worker)
    def transfer(self, *, group):
        # A transfer puts the ticket in the new group's queue, unassigned.
        self.group = group
        self.assignee = None
        self.pending_reason = ""
        self.pending_note = ""

    @transition(
        field=status,
        source=OPEN_STATUSES,
        target=Status.NEW,
        conditions=[_in_first_line],
        permission=_is_worker,
    )
    def escalate(self, *, group):
        self.group = group
        self.assignee = None
        self.pending_reason = ""
        self.pending_note = ""

    @transition(field=status, source=OPEN_STATUSES, target=Status.CLOSED, permission=_is_worker)
    def merge(self, *, into):
        # A duplicate is finished: it closes at once, pointing to the ticket that continues.
        now = timezone.now()
        self.merged_into = into
        self.resolution_code = ResolutionCode.DUPLICATE
        self.resolved_at = now
        self.closed_at = now
        self.pending_reason = ""
        self.pending_note = ""


class Comment(models.Model):
    """A public reply (seen by the caller) or an internal work note (agents only)."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    author_person = models.ForeignKey(
        Person,
        verbose_name=_("author (person)"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(_("text"))
    is_internal = models.BooleanField(_("internal note"), default=False)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.PORTAL
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket_idx")]

    def __str__(self):
        return f"{self.ticket_id}: {self.body[:40]}"


def attachment_path(instance, filename):
    # Stored under a generated name: the uploader's file name never reaches the file system.
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    if not suffix[1:].isalnum():
        suffix = ""
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        Comment,
        verbose_name=_("comment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    is_internal = models.BooleanField(_("internal"), default=False)
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
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("tickets:attachment", kwargs={"pk": self.pk})


class TimelineEntry(models.Model):
    """One line of a ticket's history: who did what, when, and what changed (old -> new)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("State change")
        FIELD_CHANGE = "field_change", _("Field change")
        COMMENT = "comment", _("Reply")
        NOTE = "note", _("Work note")
        ATTACHMENT = "attachment", _("Attachment")
        TRANSFER = "transfer", _("Transfer")
        ESCALATION = "escalation", _("Escalation")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="timeline"
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
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    is_internal = models.BooleanField(_("internal"), default=False)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="timeline_ticket_idx"),
            # The dashboard's reopen rate and transfers (sla): only the entries it counts.
            models.Index(
                fields=["created_at"],
                include=["ticket", "kind", "transition"],
                condition=models.Q(transition__in=["resolve", "reopen"])
                | models.Q(kind="transfer"),
                name="timeline_rates_idx",
            ),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.kind} {self.field} {self.old_value} -> {self.new_value}"

    # Lines about what is kept beside the ticket rather than in a field of it.
    PSEUDO_FIELDS = {"related": _("related tickets")}

    @property
    def field_label(self) -> str:
        """The changed field's name in the reader's language."""
        if self.field in self.PSEUDO_FIELDS:
            return str(self.PSEUDO_FIELDS[self.field])
        return str(Ticket._meta.get_field(self.field).verbose_name) if self.field else ""

    def _display(self, value: str) -> str:
        if not self.field or value == "" or self.field in self.PSEUDO_FIELDS:
            return value
        field = Ticket._meta.get_field(self.field)
        if field.choices:
            choices = {str(key): label for key, label in field.flatchoices}
            return str(choices.get(value, value))
        return value

    @property
    def old_display(self) -> str:
        """The old value in words, in the reader's language."""
        return self._display(self.old_value)

    @property
    def new_display(self) -> str:
        return self._display(self.new_value)


# --- what agents attach to tickets beyond text: tags, links, watchers ------------------------


class Tag(models.Model):
    """A free label on tickets (``vpn``, ``printer-3rd-floor``), stored lower-case."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class TicketLink(models.Model):
    """Two tickets about related things; stored once, with ``source.pk < target.pk``."""

    source = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="links_out"
    )
    target = models.ForeignKey(
        Ticket, verbose_name=_("linked ticket"), on_delete=models.CASCADE, related_name="links_in"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("linked by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("linked"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket link")
        verbose_name_plural = _("ticket links")
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="ticket_link_unique"),
            models.CheckConstraint(
                condition=models.Q(source__lt=models.F("target")), name="ticket_link_ordered"
            ),
        ]

    def __str__(self):
        return f"{self.source_id} <-> {self.target_id}"


class TicketWatcher(models.Model):
    """A member of staff who gets a ticket's updates without being its assignee."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="watchers"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("watcher"),
        on_delete=models.CASCADE,
        related_name="watched_tickets",
    )
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("watcher")
        verbose_name_plural = _("watchers")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="ticket_watcher_unique")
        ]

    def __str__(self):
        return f"{self.ticket_id}: {self.user_id}"


class CommentMention(models.Model):
    """A colleague named with ``@login`` in a work note; they are notified once."""

    comment = models.ForeignKey(
        Comment, verbose_name=_("comment"), on_delete=models.CASCADE, related_name="mentions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("mentioned"),
        on_delete=models.CASCADE,
        related_name="mentions",
    )

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(fields=["comment", "user"], name="comment_mention_unique")
        ]

    def __str__(self):
        return f"{self.comment_id}: @{self.user_id}"


# --- the agent's working aids: saved views, canned replies ----------------------------------


class SavedView(models.Model):
    """A queue with its filters and sort, kept by name for one agent."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    name = models.CharField(_("name"), max_length=60)
    params = models.JSONField(_("filters and sort"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_unique_name")
        ]

    def __str__(self):
        return self.name


class CannedReply(models.Model):
    """A text block with placeholders (``{caller_name}``, ``{ticket_number}`` ...).

    ``group`` empty: offered to every group; ``language`` picks the caller's language.
    """

    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"))
    language = models.CharField(
        _("language"),
        max_length=5,
        choices=Person.Language.choices,
        default=Person.Language.ENGLISH,
    )
    group = models.ForeignKey(
        SupportGroup,
        verbose_name=_("support group"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["title", "language"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self):
        return f"{self.title} ({self.language})"


class CreationKey(models.Model):
    """One submission of a ticket form or one API ``Idempotency-Key``: the ticket it created.

    A second submission with the same key gets the same ticket instead of a new one;
    ``fingerprint`` (a hash of the input) tells a replay from a different request that reuses
    the key.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=80)
    fingerprint = models.CharField(max_length=64, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("creation key")
        verbose_name_plural = _("creation keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="creation_key_unique")]

    def __str__(self):
        return self.key
