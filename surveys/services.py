"""Surveys: every write, and the hook other apps (mail) subscribe to.

The flow:

1. ``on_ticket_event`` (subscribed in ``SurveysConfig.ready``) sees a ticket's ``close``
   and writes its ``SurveyInvitation`` (one per ticket: a unique ticket), pending until
   ``closed + delay``, or skipped with the reason (outside the sample, caller invited within
   the quiet period, surveys off). The sample is decided from a hash of the ticket id and the
   admin's seed: the same ticket always gets the same answer, with no random draw.
2. The beat task ``surveys.send_due_invitations`` (``invitations_send_due``) sends what is
   due, each invitation once (the row is locked and skipped by a concurrent run, then marked
   sent in the same transaction). In that transaction the caller's person row is locked
   before the quiet period is checked again, so two workers sending two invitations of one
   caller take turns and the second sees the first sent. A caller who turned survey mails
   off (a check registered with ``register_opt_out``: mail's notification settings) is
   skipped. After the commit each sent invitation is handed to the listeners of
   ``subscribe_invitations`` (mail writes the invitation mail with the link).
3. The link (``invitation_link``) is signed (``django.core.signing``, salted) and expires
   after the admin's validity; ``invitation_from_token`` tells a tampered link from an
   expired one.
4. ``response_submit`` stores the answers; a comment is required when a rating is low;
   answers can be changed for ``EDITABLE_FOR`` after the first submission, then locked.
5. ``follow_up_note_set``: a manager notes what was done about a low rating.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.models import Person
from surveys.models import (
    COMMENT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    RATING_MAX,
    RATING_MIN,
    TEXT_ANSWER_MAX_LENGTH,
    Answer,
    Question,
    QuestionKind,
    SurveyInvitation,
    SurveyResponse,
    SurveySettings,
)
from tickets import events
from tickets.models import Ticket

logger = logging.getLogger(__name__)

TOKEN_SALT = "surveys.invitation"
SEND_BATCH = 200

Status = SurveyInvitation.Status
SkipReason = SurveyInvitation.SkipReason


# --- sampling and invitations ------------------------------------------------------------


def is_sampled(ticket_id: int, *, percent: int, seed: str) -> bool:
    """Whether ``ticket_id`` falls in a ``percent`` sample drawn with ``seed``: a hash, so
    the same ticket and seed always give the same answer, and about ``percent`` in a hundred
    tickets are in."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{ticket_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def _invited_recently(person_id: int, *, since: datetime, exclude_pk: int | None = None) -> bool:
    invited = SurveyInvitation.objects.filter(
        person_id=person_id, status=Status.SENT, sent_at__gte=since
    )
    if exclude_pk is not None:
        invited = invited.exclude(pk=exclude_pk)
    return invited.exists()


@transaction.atomic
def invitation_create(
    *, ticket: Ticket, closed_at: datetime, now: datetime | None = None
) -> SurveyInvitation | None:
    """The invitation of a ticket just closed: pending until ``closed_at`` plus the delay,
    or skipped with the reason. None when the ticket has one already (never twice)."""
    now = now or timezone.now()
    config = SurveySettings.load()
    if SurveyInvitation.objects.filter(ticket=ticket).exists():
        return None
    status, reason = Status.PENDING, ""
    if not config.is_active:
        status, reason = Status.SKIPPED, SkipReason.DISABLED
    elif not is_sampled(ticket.pk, percent=config.sample_percent, seed=config.sampling_seed):
        status, reason = Status.SKIPPED, SkipReason.NOT_SAMPLED
    elif _invited_recently(ticket.caller_id, since=now - timedelta(days=config.quiet_days)):
        status, reason = Status.SKIPPED, SkipReason.QUIET
    try:
        with transaction.atomic():
            return SurveyInvitation.objects.create(
                ticket=ticket,
                person_id=ticket.caller_id,
                status=status,
                skip_reason=reason,
                closed_at=closed_at,
                send_after=closed_at + config.delay,
                created_at=now,
            )
    except IntegrityError:  # a twin listener wrote it meanwhile
        return None


def on_ticket_event(event: events.TicketEvent) -> None:
    """Ticket event listener: a ticket closed (by its caller, an agent or the auto-close
    job) gets its invitation. A merged duplicate or a cancelled ticket gets none."""
    if event.kind != events.Kind.TRANSITIONED or event.transition != "close":
        return
    ticket = Ticket.objects.filter(pk=event.ticket_id).only("pk", "caller_id", "closed_at").first()
    if ticket is None:
        return
    invitation_create(ticket=ticket, closed_at=ticket.closed_at or event.at)


# --- the hook: invitations sent ----------------------------------------------------------


@dataclass(frozen=True)
class InvitationSent:
    """An invitation just sent, for the channels that deliver it (mail)."""

    invitation_id: int
    ticket_id: int
    person_id: int
    url: str
    expires_at: datetime


InvitationListener = Callable[[list[InvitationSent]], None]
_invitation_listeners: list[InvitationListener] = []


def subscribe_invitations(listener: InvitationListener) -> None:
    """Call ``listener(sent)`` with the invitations of each send run, after its commit."""
    if listener not in _invitation_listeners:
        _invitation_listeners.append(listener)


# --- the hook: callers who turned the invitations off ---------------------------------------

OptOutCheck = Callable[[int], bool]
_opt_out_checks: list[OptOutCheck] = []


def register_opt_out(check: OptOutCheck) -> None:
    """``check(person_id)`` is True when that person chose not to be invited (mail's
    "Mail notifications" page); asked when an invitation is about to be sent."""
    if check not in _opt_out_checks:
        _opt_out_checks.append(check)


def _opted_out(person_id: int) -> bool:
    return any(check(person_id) for check in list(_opt_out_checks))


def _deliver(sent: list[InvitationSent]) -> None:
    for listener in list(_invitation_listeners):
        try:
            listener(sent)
        except Exception:
            logger.exception("survey invitation listener %s failed for %d", listener, len(sent))


# --- the link ----------------------------------------------------------------------------


class SurveyLinkInvalid(Exception):
    """The link was altered, or names no invitation."""


class SurveyLinkExpired(Exception):
    """The link was genuine but is too old."""


def invitation_token(invitation: SurveyInvitation) -> str:
    return signing.dumps(invitation.pk, salt=TOKEN_SALT, compress=False)


def invitation_link(invitation: SurveyInvitation, *, config: SurveySettings | None = None) -> str:
    config = config or SurveySettings.load()
    path = reverse("surveys:answer", kwargs={"token": invitation_token(invitation)})
    return config.site_url.rstrip("/") + path


def invitation_from_token(token: str, *, now: datetime | None = None) -> SurveyInvitation:
    """The invitation a link names. ``SurveyLinkInvalid`` when it was altered (or names
    nothing), ``SurveyLinkExpired`` when it is older than the validity or the invitation's
    own expiry has passed."""
    config = SurveySettings.load()
    try:
        invitation_id = signing.loads(token[:200], salt=TOKEN_SALT, max_age=config.link_validity)
    except signing.SignatureExpired as error:
        raise SurveyLinkExpired from error
    except signing.BadSignature as error:
        raise SurveyLinkInvalid from error
    if not isinstance(invitation_id, int):
        raise SurveyLinkInvalid
    invitation = (
        SurveyInvitation.objects.select_related("ticket", "person").filter(pk=invitation_id).first()
    )
    if invitation is None or invitation.status != Status.SENT:
        raise SurveyLinkInvalid
    now = now or timezone.now()
    response = SurveyResponse.objects.filter(invitation=invitation).first()
    if not invitation.is_open(now) and response is None:
        raise SurveyLinkExpired
    invitation.cached_response = response
    return invitation


# --- sending -----------------------------------------------------------------------------


def invitations_send_due(*, now: datetime | None = None, limit: int = SEND_BATCH) -> int:
    """Send the invitations whose delay has passed; the number sent.

    Each invitation in its own transaction (``invitation_send``); the sent ones go to the
    listeners after the commit."""
    now = now or timezone.now()
    config = SurveySettings.load()
    due = list(
        SurveyInvitation.objects.filter(status=Status.PENDING, send_after__lte=now)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = [notice for pk in due if (notice := invitation_send(pk, config=config, now=now))]
    if sent:
        transaction.on_commit(lambda: _deliver(sent))
    return len(sent)


@transaction.atomic
def invitation_send(pk: int, *, config: SurveySettings, now: datetime) -> InvitationSent | None:
    """Send one due invitation, or skip it with the reason; None unless sent.

    Once per ticket: the invitation's row is locked (a concurrent run on PostgreSQL skips
    it; SQLite serialises writes) and re-read as pending. At most one invitation per caller
    within the quiet period, even from two workers at once: the caller's person row is
    locked before the check, so a second worker sending another ticket's invitation to the
    same caller waits for this transaction, and its check (a new statement, READ COMMITTED)
    then sees this one sent. ``no_key``: FOR NO KEY UPDATE does not block rows being written
    that refer to the person (a new ticket of the caller) meanwhile."""
    invitation = (
        SurveyInvitation.objects.select_for_update(skip_locked=True)
        .filter(pk=pk, status=Status.PENDING)
        .first()
    )
    if invitation is None:
        return None
    list(
        Person.objects.select_for_update(no_key=True)
        .filter(pk=invitation.person_id)
        .values_list("pk", flat=True)
    )
    if not config.is_active:
        invitation.status, invitation.skip_reason = Status.SKIPPED, SkipReason.DISABLED
    elif _opted_out(invitation.person_id):
        invitation.status, invitation.skip_reason = Status.SKIPPED, SkipReason.OPTED_OUT
    elif _invited_recently(
        invitation.person_id,
        since=now - timedelta(days=config.quiet_days),
        exclude_pk=invitation.pk,
    ):
        invitation.status, invitation.skip_reason = Status.SKIPPED, SkipReason.QUIET
    else:
        invitation.status = Status.SENT
        invitation.sent_at = now
        invitation.expires_at = now + config.link_validity
    invitation.save(update_fields=["status", "skip_reason", "sent_at", "expires_at"])
    if invitation.status != Status.SENT:
        return None
    return InvitationSent(
        invitation_id=invitation.pk,
        ticket_id=invitation.ticket_id,
        person_id=invitation.person_id,
        url=invitation_link(invitation, config=config),
        expires_at=invitation.expires_at,
    )


# --- answers -----------------------------------------------------------------------------


def active_questions() -> list[Question]:
    return list(Question.objects.filter(is_active=True).order_by("order", "id"))


def _clean_answers(questions: list[Question], raw: dict) -> dict[int, dict]:
    """``raw``: question id -> submitted value (a rating 1-5, True/False, text). Returns
    question id -> Answer fields; errors by field name ``q<id>``."""
    errors, cleaned = {}, {}
    for question in questions:
        value = raw.get(question.pk)
        field = f"q{question.pk}"
        if value in (None, ""):
            if question.is_required:
                errors[field] = _("Please answer this question.")
            continue
        if question.kind == QuestionKind.RATING:
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not RATING_MIN <= value <= RATING_MAX
            ):
                errors[field] = _("Choose a rating from 1 to 5.")
            else:
                cleaned[question.pk] = {"rating": value}
        elif question.kind == QuestionKind.YES_NO:
            if not isinstance(value, bool):
                errors[field] = _("Answer yes or no.")
            else:
                cleaned[question.pk] = {"yes_no": value}
        else:
            text = str(value).strip()
            if len(text) > TEXT_ANSWER_MAX_LENGTH:
                errors[field] = _("At most %(count)d characters.") % {
                    "count": TEXT_ANSWER_MAX_LENGTH
                }
            elif text:
                cleaned[question.pk] = {"text": text}
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def response_submit(
    *,
    invitation: SurveyInvitation,
    answers: dict[int, object],
    comment: str = "",
    now: datetime | None = None,
) -> SurveyResponse:
    """Store (or change) the caller's answers to ``invitation``.

    Refused (``ValidationError``): a required question unanswered, a rating outside 1-5, a
    comment over ``COMMENT_MAX_LENGTH``, no comment when a rating is at or below the low
    threshold (``comment``, code ``comment_required``), the survey expired before a first
    answer, or changes after ``EDITABLE_FOR`` from the first submission (code ``locked``)."""
    now = now or timezone.now()
    config = SurveySettings.load()
    invitation = SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
    response = SurveyResponse.objects.filter(invitation=invitation).first()
    if response is not None and response.is_locked(now):
        raise ValidationError(
            _("Your answers were locked 12 hours after you first sent them."), code="locked"
        )
    if response is None and not invitation.is_open(now):
        raise ValidationError(_("This survey has expired."), code="expired")
    questions = active_questions()
    cleaned = _clean_answers(questions, answers)
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            {"comment": _("At most %(count)d characters.") % {"count": COMMENT_MAX_LENGTH}}
        )
    ratings = [values["rating"] for values in cleaned.values() if "rating" in values]
    lowest = min(ratings) if ratings else None
    if lowest is not None and lowest <= config.low_rating_threshold and not comment:
        raise ValidationError(
            {"comment": _("Please tell us what went wrong: a comment is needed for a low rating.")},
            code="comment_required",
        )
    score = round(sum(ratings) / len(ratings), 2) if ratings else None
    if response is None:
        response = SurveyResponse.objects.create(
            invitation=invitation,
            comment=comment,
            score=score,
            lowest_rating=lowest,
            submitted_at=now,
            updated_at=now,
        )
    else:
        response.comment, response.score, response.lowest_rating = comment, score, lowest
        response.updated_at = now
        response.save(update_fields=["comment", "score", "lowest_rating", "updated_at"])
        response.answers.all().delete()
    Answer.objects.bulk_create(
        Answer(response=response, question_id=question_id, **values)
        for question_id, values in cleaned.items()
    )
    return response


# --- follow-up ---------------------------------------------------------------------------


@transaction.atomic
def follow_up_note_set(
    *, response: SurveyResponse, by, note: str, now: datetime | None = None
) -> SurveyResponse:
    """A manager records what was done about a response with a low rating (who and when
    are kept); a response without one is refused, as the results page offers none."""
    if not by.has_perm("tickets.view_reports"):
        raise PermissionDenied
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Write what was done.")})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {"note": _("At most %(count)d characters.") % {"count": NOTE_MAX_LENGTH}}
        )
    response = SurveyResponse.objects.select_for_update().get(pk=response.pk)
    low = SurveySettings.load().low_rating_threshold
    if response.lowest_rating is None or response.lowest_rating > low:
        raise ValidationError({"note": _("Only a response with a low rating is followed up.")})
    response.follow_up_note = note
    response.follow_up_by = by
    response.follow_up_at = now or timezone.now()
    response.save(update_fields=["follow_up_note", "follow_up_by", "follow_up_at"])
    return response
