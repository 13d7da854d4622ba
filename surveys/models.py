"""Satisfaction surveys: an invitation per closed ticket (sampled), the caller's answers to
the questions an admin defines, and a manager's follow-up of low ratings."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Person, in_reader_language
from tickets.models import Ticket

# Answers can be changed for this long after the first submission, then they are locked.
EDITABLE_FOR = timedelta(hours=12)
COMMENT_MAX_LENGTH = 2000
TEXT_ANSWER_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 2000
RATING_MIN, RATING_MAX = 1, 5


class SurveySettings(models.Model):
    """The one row of survey settings (``SurveySettings.load()``), edited in the admin."""

    is_active = models.BooleanField(
        _("send surveys"), default=True, help_text=_("Untick to invite nobody any more.")
    )
    delay_hours = models.PositiveIntegerField(
        _("delay after closing (hours)"),
        default=2,
        validators=[MaxValueValidator(24 * 60)],
        help_text=_("How long after a ticket is closed its caller is invited."),
    )
    sample_percent = models.PositiveSmallIntegerField(
        _("share of tickets surveyed (%)"),
        default=100,
        validators=[MaxValueValidator(100)],
        help_text=_("100: every closed ticket; 30: about three in ten, chosen per ticket."),
    )
    sampling_seed = models.CharField(
        _("sampling seed"),
        max_length=40,
        default="surveys",
        help_text=_(
            "Which tickets fall in the sample is decided from the ticket and this text: the "
            "same ticket always gets the same answer; change the text to draw another sample."
        ),
    )
    quiet_days = models.PositiveIntegerField(
        _("quiet period (days)"),
        default=30,
        help_text=_("Nobody is invited again within this many days of their last invitation."),
    )
    link_valid_days = models.PositiveIntegerField(
        _("link valid for (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    low_rating_threshold = models.PositiveSmallIntegerField(
        _("low rating up to"),
        default=2,
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX - 1)],
        help_text=_(
            "A rating at or below this asks for a comment and lists the answer for follow-up."
        ),
    )
    site_url = models.URLField(
        _("address of the help desk"),
        default="http://localhost:8000",
        help_text=_("The start of the links in the invitations, e.g. https://helpdesk.example.com"),
    )

    class Meta:
        verbose_name = _("survey settings")
        verbose_name_plural = _("survey settings")

    def __str__(self):
        return str(_("Survey settings"))

    def save(self, *args, **kwargs):
        self.pk = 1  # one row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> SurveySettings:
        return cls.objects.get_or_create(pk=1)[0]

    @property
    def delay(self) -> timedelta:
        return timedelta(hours=self.delay_hours)

    @property
    def link_validity(self) -> timedelta:
        return timedelta(days=self.link_valid_days)


class QuestionKind(models.TextChoices):
    RATING = "rating", _("Rating 1-5")
    YES_NO = "yes_no", _("Yes or no")
    TEXT = "text", _("Free text")


class Question(models.Model):
    """One question of the survey; every invitation asks the active ones, in order."""

    text = models.CharField(_("question"), max_length=250)
    text_pl = models.CharField(
        _("question in Polish"),
        max_length=250,
        blank=True,
        help_text=_("Shown to people who read Polish; empty: the question above."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=QuestionKind.choices)
    is_required = models.BooleanField(_("answer required"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("survey question")
        verbose_name_plural = _("survey questions")

    def __str__(self):
        return self.text

    @property
    def text_localized(self) -> str:
        return in_reader_language(self.text, self.text_pl)


class SurveyInvitation(models.Model):
    """A closed ticket's survey: at most one per ticket, sent once, after the delay.

    Tickets outside the sample, and callers invited within the quiet period, get a row too
    (``SKIPPED`` with the reason): a ticket closed again is never surveyed twice, and the
    admin sees why nobody was asked."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the delay")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Not sent")

    class SkipReason(models.TextChoices):
        NOT_SAMPLED = "not_sampled", _("Not in the sample")
        QUIET = "quiet", _("Invited recently")
        DISABLED = "disabled", _("Surveys are turned off")
        OPTED_OUT = "opted_out", _("The caller turned survey invitations off")

    ticket = models.OneToOneField(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="survey"
    )
    person = models.ForeignKey(
        Person, verbose_name=_("caller"), on_delete=models.CASCADE, related_name="surveys"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    skip_reason = models.CharField(
        _("why not sent"), max_length=12, choices=SkipReason.choices, blank=True
    )
    closed_at = models.DateTimeField(_("ticket closed"))
    send_after = models.DateTimeField(_("send after"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link expires"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        indexes = [
            models.Index(
                fields=["send_after"],
                condition=models.Q(status="pending"),
                name="survey_invitation_due_idx",
            ),
            models.Index(fields=["person", "sent_at"], name="survey_invitation_person_idx"),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.status}"

    def is_open(self, now=None) -> bool:
        """Whether the survey may be answered now (sent and not expired)."""
        now = now or timezone.now()
        return (
            self.status == self.Status.SENT
            and self.expires_at is not None
            and now < self.expires_at
        )


class SurveyResponse(models.Model):
    """The caller's answers to one invitation; editable for ``EDITABLE_FOR``, then locked.

    ``score`` (the mean of the rating answers) and ``lowest_rating`` are kept on save, so
    the results are aggregates over this table alone."""

    invitation = models.OneToOneField(
        SurveyInvitation,
        verbose_name=_("invitation"),
        on_delete=models.CASCADE,
        related_name="response",
    )
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX_LENGTH, blank=True)
    score = models.FloatField(_("score"), null=True, blank=True)
    lowest_rating = models.PositiveSmallIntegerField(_("lowest rating"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("first submitted"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)
    follow_up_note = models.TextField(_("follow-up"), max_length=NOTE_MAX_LENGTH, blank=True)
    follow_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("followed up by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    follow_up_at = models.DateTimeField(_("followed up"), null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")

    def __str__(self):
        return f"{self.invitation_id}: {self.score}"

    def locked_at(self):
        return self.submitted_at + EDITABLE_FOR

    def is_locked(self, now=None) -> bool:
        return (now or timezone.now()) >= self.locked_at()


class Answer(models.Model):
    response = models.ForeignKey(
        SurveyResponse, verbose_name=_("response"), on_delete=models.CASCADE, related_name="answers"
    )
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.PROTECT, related_name="answers"
    )
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)],
    )
    yes_no = models.BooleanField(_("yes or no"), null=True, blank=True)
    text = models.TextField(_("text"), max_length=TEXT_ANSWER_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["question__order", "question_id"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="survey_answer_unique")
        ]

    def __str__(self):
        return f"{self.question_id}: {self.value_display()}"

    def clean(self):
        if self.rating is not None and not RATING_MIN <= self.rating <= RATING_MAX:
            raise ValidationError({"rating": _("A rating is from 1 to 5.")})

    def value_display(self) -> str:
        if self.rating is not None:
            return str(self.rating)
        if self.yes_no is not None:
            return str(_("Yes") if self.yes_no else _("No"))
        return self.text
