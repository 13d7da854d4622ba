"""Mass outages: a declared disruption of services at sites, the incident its tickets hang
under, the history of what was said about it, and suggestions to declare one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from helpdesk.models import Service, Site, in_reader_language
from helpdesk.roles import can_work_tickets


class State(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESOLVED = "resolved", _("Resolved")
    CANCELLED = "cancelled", _("Cancelled")


def _is_worker(instance, user) -> bool:
    return user is None or can_work_tickets(user)


class Outage(FSMModelMixin, models.Model):
    """A disruption of ``services`` at ``sites`` (no site: every site).

    ``parent_ticket`` is the incident the tickets about it are children of. The state is
    protected: only the transitions change it, and only ``outages.services`` calls them."""

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("description for users"), max_length=1000, help_text=_("What users read and hear.")
    )
    description_pl = models.TextField(
        _("description for users (Polish)"),
        max_length=1000,
        blank=True,
        help_text=_("Used for Polish readers and callers; empty: the English text."),
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("affected services"), related_name="outages"
    )
    sites = models.ManyToManyField(
        Site,
        verbose_name=_("affected sites"),
        blank=True,
        related_name="outages",
        help_text=_("None: every site."),
    )
    state = FSMField(
        _("state"), max_length=10, choices=State.choices, default=State.ACTIVE, protected=True
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    expected_end = models.DateTimeField(_("expected end"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    resolution_notes = models.TextField(_("resolution notes"), blank=True)
    parent_ticket = models.OneToOneField(
        "tickets.Ticket",
        verbose_name=_("parent incident"),
        on_delete=models.PROTECT,
        related_name="outage",
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("declared by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("outage")
        verbose_name_plural = _("outages")
        indexes = [models.Index(fields=["state", "-started_at"], name="outage_state_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("outages:detail", args=[self.pk])

    @property
    def description_localized(self) -> str:
        return in_reader_language(self.description, self.description_pl)

    @property
    def is_active(self) -> bool:
        return self.state == State.ACTIVE

    @transition(field=state, source=State.ACTIVE, target=State.RESOLVED, permission=_is_worker)
    def resolve(self, *, notes: str, at=None):
        self.resolution_notes = notes
        self.ended_at = at or timezone.now()

    @transition(field=state, source=State.ACTIVE, target=State.CANCELLED, permission=_is_worker)
    def cancel(self, *, at=None):
        self.ended_at = at or timezone.now()


class OutageUpdate(models.Model):
    """One change of what is said about an outage, kept as its history."""

    class Kind(models.TextChoices):
        DECLARED = "declared", _("Declared")
        UPDATED = "updated", _("Updated")
        TICKETS_LINKED = "linked", _("Tickets attached")
        CALLER_ADDED = "caller", _("Caller added")
        RESOLVED = "resolved", _("Resolved")
        CANCELLED = "cancelled", _("Cancelled")

    outage = models.ForeignKey(
        Outage, verbose_name=_("outage"), on_delete=models.CASCADE, related_name="updates"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    expected_end = models.DateTimeField(_("expected end"), null=True, blank=True)
    previous_expected_end = models.DateTimeField(_("previous expected end"), null=True, blank=True)
    description = models.TextField(_("description for users"), blank=True)
    description_pl = models.TextField(_("description for users (Polish)"), blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("outage update")
        verbose_name_plural = _("outage updates")

    def __str__(self):
        return f"{self.outage_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class OutageSuggestion(models.Model):
    """Several tickets about one service arrived close together and no active outage
    covers it: the console asks whether to declare one."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DECLARED = "declared", _("Declared")
        DISMISSED = "dismissed", _("Dismissed")

    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="+"
    )
    tickets = models.ManyToManyField("tickets.Ticket", verbose_name=_("tickets"), related_name="+")
    ticket_count = models.PositiveIntegerField(_("tickets"), default=0)
    window_minutes = models.PositiveIntegerField(_("window (minutes)"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    outage = models.ForeignKey(
        Outage,
        verbose_name=_("outage"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("outage suggestion")
        verbose_name_plural = _("outage suggestions")
        constraints = [
            # One open suggestion per service: later tickets join it.
            models.UniqueConstraint(
                fields=["service"],
                condition=models.Q(status="open"),
                name="outage_suggestion_one_open",
            )
        ]

    def __str__(self):
        return f"{self.service_id}: {self.ticket_count}"
