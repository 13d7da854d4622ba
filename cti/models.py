"""Telephony: PBXes, queues, agents' extensions and presence, raw call events and calls.

``CallEvent`` is what a PBX told us, stored before anything acts on it; ``Call`` is the one
row per call that screen pops, the call log and reports read.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def _new_secret() -> str:
    return secrets.token_hex(32)


def default_ring_timeout() -> int:
    return settings.CTI_RING_TIMEOUT


def default_call_max_seconds() -> int:
    return settings.CTI_CALL_MAX_SECONDS


class Pbx(models.Model):
    """A telephone system that reports calls to the help desk."""

    class Kind(models.TextChoices):
        GENERIC = "generic", _("Generic webhook")
        ZAMMAD = "zammad", _("Zammad-compatible generic CTI")
        ASTERISK = "asterisk", _("Asterisk (AMI)")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.GENERIC)
    # The token is part of the Zammad-style URL /api/v1/cti/<token>; it also works as a
    # header token for the generic webhook.
    token = models.CharField(_("token"), max_length=64, unique=True, default=_new_token)
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=_new_secret,
        help_text=_("Shared secret for the HMAC-SHA256 signature of the generic webhook."),
    )
    site = models.ForeignKey(
        "helpdesk.Site",
        verbose_name=_("site"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pbxes",
    )
    is_active = models.BooleanField(_("active"), default=True)
    default_queue = models.ForeignKey(
        "CallQueue",
        verbose_name=_("default queue"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_(
            "Where a ring goes that names no known agent or queue; empty: the queue marked default."
        ),
    )
    # How long a call may ring, and be talked on, before the hang-up counts as lost: the
    # stale-call sweep (cti.services.sweep) then ends it.
    ring_timeout_seconds = models.PositiveIntegerField(
        _("longest ring (seconds)"),
        default=default_ring_timeout,
        validators=[MinValueValidator(1)],
        help_text=_("A call still ringing after this long lost its hang-up: it ends as missed."),
    )
    call_max_seconds = models.PositiveIntegerField(
        _("longest call (seconds)"),
        default=default_call_max_seconds,
        validators=[MinValueValidator(1)],
        help_text=_(
            "A call still answered after this long lost its hang-up: it ends and frees the agent."
        ),
    )
    ami_host = models.CharField(_("AMI host"), max_length=200, blank=True)
    ami_port = models.PositiveIntegerField(_("AMI port"), default=5038)
    ami_username = models.CharField(_("AMI user name"), max_length=100, blank=True)
    ami_secret = models.CharField(_("AMI secret"), max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("PBX")
        verbose_name_plural = _("PBXes")

    def __str__(self):
        return self.name

    @property
    def click_to_dial_configured(self) -> bool:
        return self.kind == self.Kind.ASTERISK and bool(self.ami_host)


class CallQueue(models.Model):
    """A PBX queue (hunt group) and the agents who serve it."""

    name = models.CharField(_("name"), max_length=120)
    code = models.CharField(
        _("code"), max_length=80, unique=True, help_text=_("The queue's name in the PBX.")
    )
    site = models.ForeignKey(
        "helpdesk.Site",
        verbose_name=_("site"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_queues",
    )
    support_group = models.ForeignKey(
        "helpdesk.SupportGroup",
        verbose_name=_("support group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_queues",
    )
    is_vip = models.BooleanField(_("VIP queue"), default=False)
    is_default = models.BooleanField(_("default queue"), default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("members"),
        blank=True,
        related_name="call_queues",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("call queue")
        verbose_name_plural = _("call queues")

    def __str__(self):
        return self.name


class AgentExtension(models.Model):
    """An internal extension on which an agent's phone rings."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.CASCADE,
        related_name="extensions",
    )
    extension = models.CharField(_("extension"), max_length=40, unique=True)
    pbx = models.ForeignKey(
        Pbx,
        verbose_name=_("PBX"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="extensions",
    )

    class Meta:
        ordering = ["extension"]
        verbose_name = _("agent extension")
        verbose_name_plural = _("agent extensions")

    def __str__(self):
        return self.extension


class AgentPresence(models.Model):
    """Whether an agent can take a call now; set by the agent and by call events."""

    class State(models.TextChoices):
        AVAILABLE = "available", _("Available")
        BUSY = "busy", _("Busy")
        AFTER_CALL_WORK = "after_call_work", _("After-call work")
        AWAY = "away", _("Away")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        on_delete=models.CASCADE,
        related_name="presence",
    )
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.AWAY)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    current_call = models.ForeignKey(
        "Call",
        verbose_name=_("current call"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Moves on with every change, whoever makes it (the console, a call event), so that a
    # console's choice made from an older view never undoes what the PBX set since.
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)

    class Meta:
        verbose_name = _("agent presence")
        verbose_name_plural = _("agent presence")

    def __str__(self):
        return f"{self.user}: {self.get_state_display()}"


class CallEvent(models.Model):
    """One event as a PBX reported it, stored before it is applied to a call."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook", _("Generic webhook")
        ZAMMAD = "zammad", _("Zammad-compatible CTI")
        AMI = "ami", _("Asterisk AMI")
        SIMULATOR = "simulator", _("Simulator")

    class Kind(models.TextChoices):
        RING = "ring", _("Ring")
        ANSWER = "answer", _("Answer")
        HANGUP = "hangup", _("Hang-up")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        DUPLICATE = "duplicate", _("Duplicate")

    pbx = models.ForeignKey(
        Pbx,
        verbose_name=_("PBX"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    call_id = models.CharField(_("call id"), max_length=128, db_index=True)
    # A hash of what makes the event unique; the same delivery twice is stored once.
    dedup_key = models.CharField(_("deduplication key"), max_length=64, unique=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred"), default=timezone.now)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("call event")
        verbose_name_plural = _("call events")

    def __str__(self):
        return f"{self.get_kind_display()} {self.call_id}"


# Hang-up causes (Zammad's vocabulary, as the PBX adapters normalise them) that say how an
# unanswered call ended; any other cause of an unanswered call makes it missed.
_BUSY_CAUSES = {"busy", "userbusy", "congestion"}
_ABANDON_CAUSES = {"cancel", "abandon", "abandoned", "originatorcancel"}


# The hang-up cause of a call the voicemail took, and the "user" a PBX names for it.
VOICEMAIL = "voicemail"


def _not_rejected(call: Call) -> bool:
    return not call.is_rejected


class Call(FSMModelMixin, models.Model):
    """One telephone call: the source of truth for screen pops and the call log.

    The state is changed only by the transitions below: ``answer``, ``hang_up``, ``reject``
    and ``miss``. PBX events arrive out of order, so the rules of which outcome may follow
    which are kept here too: an answer that arrives after its hang-up makes the call
    answered without stepping it back from ended, a hang-up of an ended call is not a
    transition (``can_proceed(call.hang_up)`` is false), and a rejected call takes no answer.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class State(models.TextChoices):
        RINGING = "ringing", _("Ringing")
        ANSWERED = "answered", _("Answered")
        ENDED = "ended", _("Ended")

    class Outcome(models.TextChoices):
        NONE = "", _("(in progress)")
        ANSWERED = "answered", _("Answered")
        MISSED = "missed", _("Missed")
        ABANDONED = "abandoned", _("Abandoned")
        BUSY = "busy", _("Busy")
        REJECTED = "rejected", _("Rejected")

    class Routing(models.TextChoices):
        """Whom a ring was offered to: the agents it named, else the first of the fallbacks
        that found an available agent."""

        NONE = "", _("(not routed)")
        NAMED = "named", _("Agents named by the PBX")
        QUEUE = "queue", _("Its queue")
        DEFAULT_QUEUE = "default_queue", _("The default queue")
        SITE = "site", _("Every available agent of the site")
        NOBODY = "nobody", _("Nobody (no agent available)")

    class Identification(models.TextChoices):
        """How sure the help desk is about who is calling."""

        UNKNOWN = "unknown", _("Unknown caller")
        EXACT = "exact", _("Identified")
        SEVERAL = "several", _("Several people have this number")
        MAYBE = "maybe", _("Possibly (from earlier calls and tickets)")
        WITHHELD = "withheld", _("Number withheld")
        IVR = "ivr", _("By the employee number typed in the voice menu")

    pbx = models.ForeignKey(
        Pbx,
        verbose_name=_("PBX"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
    )
    call_id = models.CharField(_("call id"), max_length=128)
    # caller_number/caller_e164 always hold the outside party: the caller of an inbound call,
    # the number dialled for an outbound one; called_number is the other end.
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.INBOUND
    )
    caller_number = models.CharField(_("caller number"), max_length=64, blank=True)
    caller_e164 = models.CharField(
        _("caller number (normalised)"), max_length=24, blank=True, db_index=True
    )
    is_withheld = models.BooleanField(_("number withheld"), default=False)
    called_number = models.CharField(_("called number"), max_length=64, blank=True)
    queue = models.ForeignKey(
        CallQueue,
        verbose_name=_("queue"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
    )
    queue_name = models.CharField(_("queue name"), max_length=80, blank=True)
    routing = models.CharField(
        _("routed to"), max_length=16, choices=Routing.choices, default=Routing.NONE, blank=True
    )
    caller_person = models.ForeignKey(
        "helpdesk.Person",
        verbose_name=_("caller"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
    )
    candidate_people = models.ManyToManyField(
        "helpdesk.Person", verbose_name=_("possible callers"), blank=True, related_name="+"
    )
    identification = models.CharField(
        _("identification"),
        max_length=10,
        choices=Identification.choices,
        default=Identification.UNKNOWN,
    )
    # How many people have the number when several do: the card shows at most
    # MAX_CANDIDATES of them (candidate_people) and says how many more there are.
    candidates_total = models.PositiveIntegerField(_("people with this number"), default=0)
    state = FSMField(
        _("state"),
        max_length=10,
        choices=State.choices,
        default=State.RINGING,
        db_index=True,
        protected=True,
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.NONE, blank=True
    )
    hangup_cause = models.CharField(_("hang-up cause"), max_length=40, blank=True)
    offered_to = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("offered to"),
        blank=True,
        related_name="offered_calls",
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="answered_calls",
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    missed_handled_at = models.DateTimeField(_("missed call handled"), null=True, blank=True)
    missed_handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("missed call handled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    tickets = models.ManyToManyField(
        "tickets.Ticket", verbose_name=_("tickets"), blank=True, related_name="calls"
    )
    # What the caller chose or typed in the PBX's voice menu before the ring (docs/pbx.md,
    # "Data from the voice menu"): shown on the card, so nobody is asked twice.
    ivr_option = models.CharField(_("voice menu option"), max_length=16, blank=True)
    ivr_ticket = models.CharField(_("ticket number typed"), max_length=20, blank=True)
    ivr_employee = models.CharField(_("employee number typed"), max_length=20, blank=True)
    ivr_service = models.CharField(_("service chosen in the voice menu"), max_length=40, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.UniqueConstraint(fields=["pbx", "call_id"], name="call_unique_per_pbx")
        ]
        indexes = [
            models.Index(fields=["outcome", "missed_handled_at"], name="call_missed_idx"),
        ]

    def __str__(self):
        return f"{self.caller_number or _('withheld')} ({self.get_state_display()})"

    # --- state machine --------------------------------------------------------------------
    # Transitions change only fields of self; the services save them (END_FIELDS after
    # hang_up and miss) and handle presence and the consoles.

    END_FIELDS = ("state", "ended_at", "hangup_cause", "outcome")

    @property
    def is_rejected(self) -> bool:
        """The caller is on the block list: later events of this call change nothing."""
        return self.outcome == self.Outcome.REJECTED

    @property
    def is_live(self) -> bool:
        """Ringing or talking: shown on the consoles."""
        return self.state in (self.State.RINGING, self.State.ANSWERED)

    def outcome_for(self, cause: str) -> str:
        """The outcome of this call if it ends now with hang-up ``cause``."""
        if self.answered_at is not None:
            return self.Outcome.ANSWERED
        key = (cause or "").replace("_", "").replace(" ", "").lower()
        if key in _BUSY_CAUSES:
            return self.Outcome.BUSY
        if key in _ABANDON_CAUSES:
            return self.Outcome.ABANDONED
        return self.Outcome.MISSED

    @transition(
        field=state,
        source=[State.RINGING, State.ANSWERED, State.ENDED],
        target=RETURN_VALUE(State.ANSWERED, State.ENDED),
        conditions=[_not_rejected],
    )
    def answer(self, *, at: datetime, agent_id: int | None = None) -> str:
        """Someone picked up at ``at`` (agent ``agent_id``, when known).

        An answer that happened before the call's end but arrived after its hang-up (events
        with their own times, overtaking each other) makes the ended call answered: it was
        talked until its end. An answer at or after the end (an adapter that sends no times,
        Zammad's) came too late to be a conversation of this call: it changes nothing
        (:meth:`answer_is_late`). A repeated answer fills in only what was not known."""
        if self.answer_is_late(at):
            return self.State.ENDED
        if self.answered_at is None:
            self.answered_at = min(at, self.ended_at) if self.ended_at else at
        if agent_id and self.answered_by_id is None:
            self.answered_by_id = agent_id
        if self.state == self.State.ENDED:
            self.outcome = self.Outcome.ANSWERED
            return self.State.ENDED
        return self.State.ANSWERED

    def answer_is_late(self, at: datetime) -> bool:
        """Whether an answer at ``at`` comes after this call ended: it changes no outcome."""
        return self.state == self.State.ENDED and (self.ended_at is None or at >= self.ended_at)

    @transition(field=state, source=[State.RINGING, State.ANSWERED], target=State.ENDED)
    def hang_up(self, *, at: datetime, cause: str = "") -> None:
        """The call ended at ``at``; its outcome follows from whether it was answered and
        from the hang-up ``cause``."""
        self._end(at=at, cause=cause)

    @transition(field=state, source=State.RINGING, target=State.ENDED, conditions=[_not_rejected])
    def voicemail(self, *, at: datetime) -> None:
        """The PBX's voicemail took the call at ``at``: nobody talked to the caller, so it is
        a missed call that needs a call-back; the hang-up that follows changes nothing."""
        self.ended_at = at
        self.hangup_cause = VOICEMAIL
        self.outcome = self.Outcome.MISSED

    @transition(field=state, source=State.RINGING, target=State.ENDED)
    def reject(self, *, at: datetime) -> None:
        """A blocked caller: the PBX is told to reject the call."""
        self.outcome = self.Outcome.REJECTED
        self.ended_at = at

    @transition(field=state, source=[State.RINGING, State.ANSWERED], target=State.ENDED)
    def miss(self, *, ring_timeout: timedelta, talk_limit: timedelta) -> None:
        """The hang-up never arrived (the stale-call sweep): the call ends when it went
        stale. A call still ringing after ``ring_timeout`` is missed; one still talking
        after ``talk_limit`` ends as answered."""
        if self.state == self.State.ANSWERED:
            at = self.answered_at + talk_limit
        else:
            at = self.started_at + ring_timeout
        self._end(at=at, cause="timeout")

    def _end(self, *, at: datetime, cause: str) -> None:
        self.ended_at = max(at, self.answered_at or at)
        self.hangup_cause = (cause or "")[:40]
        self.outcome = self.outcome_for(cause)

    @property
    def wait_seconds(self) -> int | None:
        """Seconds from the first ring to the answer (or to the end, when unanswered)."""
        until = self.answered_at or self.ended_at
        if until is None:
            return None
        return max(0, int((until - self.started_at).total_seconds()))

    @property
    def talk_seconds(self) -> int | None:
        """Seconds from the answer to the end; None when not answered or still talking."""
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.answered_at).total_seconds()))


class VoicemailBox(models.Model):
    """A number of a PBX on which its voicemail answers: a call it answers is missed."""

    pbx = models.ForeignKey(
        Pbx, verbose_name=_("PBX"), on_delete=models.CASCADE, related_name="voicemail_boxes"
    )
    number = models.CharField(
        _("number"),
        max_length=40,
        help_text=_("The answering number (extension) the PBX reports for its voicemail."),
    )
    name = models.CharField(_("name"), max_length=120, blank=True)

    class Meta:
        ordering = ["pbx", "number"]
        verbose_name = _("voicemail box")
        verbose_name_plural = _("voicemail boxes")
        constraints = [
            models.UniqueConstraint(fields=["pbx", "number"], name="voicemail_box_unique_per_pbx")
        ]

    def __str__(self):
        return self.name or self.number


def caller_id_prefix_clean(prefix: str) -> str:
    """A destination prefix as rules compare it: international digits without "+" or
    "00" (Zammad's ``41*`` is the prefix 41)."""
    digits = "".join(character for character in prefix if character.isdigit())
    return digits[2:] if digits.startswith("00") else digits


class OutboundCallerIdRule(models.Model):
    """Which caller ID a PBX presents for an outbound call, by the dialled number's prefix
    (the longest matching prefix wins; an empty prefix matches every number)."""

    pbx = models.ForeignKey(
        Pbx, verbose_name=_("PBX"), on_delete=models.CASCADE, related_name="caller_id_rules"
    )
    prefix = models.CharField(
        _("destination prefix"),
        max_length=40,
        blank=True,
        help_text=_(
            "The start of the dialled number in international form (49 or +49 for Germany, "
            "491714000000 for one number); empty: every number."
        ),
    )
    caller_id = models.CharField(
        _("caller ID"), max_length=40, help_text=_("The number the PBX presents to the callee.")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["pbx", "prefix"]
        verbose_name = _("outbound caller ID rule")
        verbose_name_plural = _("outbound caller ID rules")
        constraints = [
            models.UniqueConstraint(fields=["pbx", "prefix"], name="caller_id_rule_unique_prefix")
        ]

    def __str__(self):
        return f"{self.prefix or '*'} -> {self.caller_id}"

    def save(self, *args, **kwargs):
        self.prefix = caller_id_prefix_clean(self.prefix)
        super().save(*args, **kwargs)

    def clean(self):
        # Before the unique check: "+49" and "0049" are the prefix 49.
        self.prefix = caller_id_prefix_clean(self.prefix)


class BlockedNumber(models.Model):
    """A caller number the PBX is told to reject."""

    e164 = models.CharField(_("number (normalised)"), max_length=24, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("blocked by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["e164"]
        verbose_name = _("blocked number")
        verbose_name_plural = _("blocked numbers")

    def __str__(self):
        return self.e164
