"""The e-mail channel: mailboxes polled for mail, every mail received, every mail sent."""

import os

from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Person, SupportGroup
from mail import crypto
from tickets.models import Attachment, Comment, Ticket


class Mailbox(models.Model):
    """A mailbox the help desk reads (IMAP) or is delivered to (a pipe from the mail server)."""

    class Security(models.TextChoices):
        IMAPS = "imaps", _("IMAPS (TLS from the start)")
        STARTTLS = "starttls", _("IMAP with STARTTLS")
        PLAIN = "plain", _("IMAP without encryption")

    class AuthMethod(models.TextChoices):
        PASSWORD = "password", _("Password")
        OAUTH2 = "oauth2", _("OAuth2 (XOAUTH2)")

    class OAuthProvider(models.TextChoices):
        MICROSOFT = "microsoft", _("Microsoft 365")
        GOOGLE = "google", _("Google")
        CUSTOM = "custom", _("Other (token URL below)")

    class AfterFetch(models.TextChoices):
        MARK_SEEN = "seen", _("Mark as seen")
        MOVE = "move", _("Move to a folder")
        DELETE = "delete", _("Delete")

    class UnknownSenders(models.TextChoices):
        CREATE_PERSON = "create", _("Create the person and the ticket")
        REPLY_ONLY = "reply", _("Reply politely, create no ticket")

    class ReplySenders(models.TextChoices):
        PARTICIPANTS = "participants", _("Only the caller, a Cc of the ticket or staff")
        ANYONE = "anyone", _("Anyone who names the ticket")

    name = models.CharField(_("name"), max_length=100, unique=True)
    address = models.EmailField(
        _("address served"),
        unique=True,
        help_text=_("The help desk's address this mailbox receives, e.g. servicedesk@example.com."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # IMAP; a mailbox without a host only takes mail piped in by the mail server.
    host = models.CharField(_("IMAP host"), max_length=255, blank=True)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(
        _("connection security"), max_length=10, choices=Security.choices, default=Security.IMAPS
    )
    username = models.CharField(_("user name"), max_length=255, blank=True)
    auth_method = models.CharField(
        _("sign-in"), max_length=10, choices=AuthMethod.choices, default=AuthMethod.PASSWORD
    )
    password_encrypted = models.TextField(_("password (encrypted)"), blank=True, editable=False)
    password_env = models.CharField(
        _("password from environment variable"),
        max_length=100,
        blank=True,
        help_text=_(
            "The name of an environment variable holding the password, instead of storing it."
        ),
    )
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    after_fetch = models.CharField(
        _("once taken"), max_length=8, choices=AfterFetch.choices, default=AfterFetch.MARK_SEEN
    )
    move_to_folder = models.CharField(_("move to folder"), max_length=255, blank=True)
    verify_certificate = models.BooleanField(_("verify the server's certificate"), default=True)
    # OAuth2 (Microsoft 365, Google): the refresh token is kept, access tokens are renewed.
    oauth_provider = models.CharField(
        _("OAuth2 provider"), max_length=10, choices=OAuthProvider.choices, blank=True
    )
    oauth_client_id = models.CharField(_("OAuth2 client id"), max_length=255, blank=True)
    oauth_client_secret_encrypted = models.TextField(blank=True, editable=False)
    oauth_tenant = models.CharField(
        _("Microsoft tenant"), max_length=100, blank=True, help_text=_("Empty: “common”.")
    )
    oauth_token_url = models.URLField(
        _("OAuth2 token URL"), blank=True, help_text=_("Only for the “other” provider.")
    )
    oauth_refresh_token_encrypted = models.TextField(blank=True, editable=False)
    oauth_access_token_encrypted = models.TextField(blank=True, editable=False)
    oauth_access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What a mail becomes.
    default_group = models.ForeignKey(
        SupportGroup,
        verbose_name=_("default support group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    unknown_senders = models.CharField(
        _("mail from unknown senders"),
        max_length=8,
        choices=UnknownSenders.choices,
        default=UnknownSenders.CREATE_PERSON,
    )
    reply_senders = models.CharField(
        _("who may reply to a ticket by its number in the subject"),
        max_length=12,
        choices=ReplySenders.choices,
        default=ReplySenders.PARTICIPANTS,
    )
    last_fetch_at = models.DateTimeField(_("last fetched"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self):
        return f"{self.name} <{self.address}>"

    @property
    def fetches(self) -> bool:
        return bool(self.host)

    def set_password(self, raw: str) -> None:
        self.password_encrypted = crypto.encrypt(raw)

    def get_password(self) -> str:
        if self.password_env:
            return os.environ.get(self.password_env, "")
        return crypto.decrypt(self.password_encrypted)

    def set_oauth_secret(self, raw: str) -> None:
        self.oauth_client_secret_encrypted = crypto.encrypt(raw)

    def get_oauth_secret(self) -> str:
        return crypto.decrypt(self.oauth_client_secret_encrypted)

    def set_refresh_token(self, raw: str) -> None:
        self.oauth_refresh_token_encrypted = crypto.encrypt(raw)

    def get_refresh_token(self) -> str:
        return crypto.decrypt(self.oauth_refresh_token_encrypted)

    def set_access_token(self, raw: str) -> None:
        self.oauth_access_token_encrypted = crypto.encrypt(raw)

    def get_access_token(self) -> str:
        return crypto.decrypt(self.oauth_access_token_encrypted)


class InboundMessage(models.Model):
    """One mail received, stored raw before anything else is done with it."""

    class Source(models.TextChoices):
        IMAP = "imap", _("IMAP")
        PIPE = "pipe", _("Mail server pipe")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, not yet processed")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        QUARANTINED = "quarantined", _("Quarantined")
        DISCARDED = "discarded", _("Discarded")

    class Outcome(models.TextChoices):
        TICKET_CREATED = "ticket_created", _("New ticket")
        COMMENT_ADDED = "comment_added", _("Reply added to the ticket")
        TICKET_REOPENED = "ticket_reopened", _("Ticket reopened")
        FOLLOW_UP_CREATED = "follow_up", _("Follow-up ticket for a finished one")
        AUTO_REPLY_NOTED = "auto_reply_noted", _("Automatic reply noted on the ticket")
        BOUNCE_RECORDED = "bounce", _("Bounce of a notification recorded")
        UNKNOWN_SENDER_ANSWERED = "unknown_sender", _("Unknown sender answered, no ticket")
        LOOP_DROPPED = "loop", _("Our own mail coming back, dropped")
        NOT_ACTED_ON = "not_acted_on", _("Nothing to do")
        CHANGE_VOTED = "change_voted", _("Vote on a change recorded")
        CHANGE_VOTE_REFUSED = "change_refused", _("Vote on a change refused")

    class Reason(models.TextChoices):
        UNPARSEABLE = "unparseable", _("The mail could not be read")
        PROCESSING_FAILED = "failed", _("Processing failed")
        TOO_LARGE = "too_large", _("The mail is larger than the limit")
        TIMED_OUT = "timed_out", _("Processing took longer than the limit")
        RATE_LIMITED = "rate_limited", _("The sender sent too many mails")

    mailbox = models.ForeignKey(
        Mailbox, verbose_name=_("mailbox"), on_delete=models.PROTECT, related_name="messages"
    )
    source = models.CharField(_("received by"), max_length=8, choices=Source.choices)
    server_uid = models.CharField(_("server UID"), max_length=64, blank=True)
    # "mid:<Message-ID>" or, without one, "sha256:<hash of the raw bytes>": one row per mail
    # however often it is delivered.
    dedupe_key = models.CharField(max_length=255, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    sha256 = models.CharField(max_length=64)
    raw = models.BinaryField(_("raw message"))
    size = models.PositiveIntegerField(_("size (bytes)"))
    is_truncated = models.BooleanField(
        _("headers only"),
        default=False,
        help_text=_("Only the headers were stored: the mail was over the size limit."),
    )
    sender = models.CharField(_("sender"), max_length=255, blank=True)
    sender_name = models.CharField(_("sender name"), max_length=255, blank=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    is_automatic = models.BooleanField(
        _("automatic"), default=False, help_text=_("An auto-reply, bounce or list mail.")
    )
    html_sanitized = models.TextField(_("HTML (sanitised)"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=14, choices=Reason.choices, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    deliveries = models.PositiveIntegerField(
        _("deliveries"), default=1, help_text=_("How often this mail was delivered to us.")
    )
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_mails",
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("received mail")
        verbose_name_plural = _("received mail")
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status_idx"),
            # The flood check counts a sender's recent mails whatever the case of the address
            # (``sender__iexact`` is UPPER() = UPPER()).
            models.Index(Upper("sender"), "received_at", name="inbound_sender_upper_idx"),
        ]

    def __str__(self):
        return self.subject or self.message_id or f"#{self.pk}"


class OutboundMessage(models.Model):
    """One mail the help desk sends: a notification or an agent's reply."""

    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT = "acknowledgement", _("New ticket acknowledged")
        AGENT_REPLY = "agent_reply", _("Public reply from an agent")
        WAITING_FOR_YOU = "waiting", _("Waiting for you")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        ASSIGNED = "assigned", _("Assigned to you")
        GROUP_NEW_TICKET = "group_new", _("New ticket in your group's queue")
        MENTIONED = "mentioned", _("Mentioned in a work note")
        WATCHED = "watched", _("Update of a ticket you watch")
        SLA_ALERT = "sla_alert", _("Service-level warning or breach")
        SURVEY_INVITATION = "survey", _("Satisfaction survey invitation")
        CHANGE_APPROVAL = "change_approval", _("Change waiting for your approval")
        CHANGE_DECIDED = "change_decided", _("Your change approved or rejected")
        CHANGE_VOTE_ANSWER = "change_answer", _("Answer to a vote by mail")
        UNKNOWN_SENDER = "unknown_sender", _("Reply to an unknown sender")
        TOO_LARGE = "too_large", _("Mail too large")
        RATE_LIMITED = "rate_limited", _("Too many mails")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Retrying")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Not sent")

    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outbound_mails",
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # What makes this mail unique (the event and the recipient): a retried task never sends
    # the same notification twice.
    dedupe_key = models.CharField(max_length=255, unique=True)
    from_address = models.CharField(_("from"), max_length=255)
    to = models.EmailField(_("to"))
    cc = models.JSONField(_("cc"), default=list, blank=True)
    recipient = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    language = models.CharField(_("language"), max_length=8, default="en")
    subject = models.CharField(_("subject"), max_length=500)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    attachments = models.ManyToManyField(Attachment, blank=True, related_name="+")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    status_detail = models.TextField(_("detail"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("sent mail")
        verbose_name_plural = _("sent mail")
        indexes = [
            models.Index(fields=["to", "created_at"], name="outbound_to_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="outbound_due_idx"),
        ]

    def __str__(self):
        return f"{self.subject} → {self.to}"


class MailAddress(models.Model):
    """What we know of an address's deliverability: bounces and permanent refusals."""

    address = models.CharField(_("address"), max_length=255, unique=True)
    bouncing_since = models.DateTimeField(_("bouncing since"), null=True, blank=True)
    bounce_count = models.PositiveIntegerField(_("bounces"), default=0)
    permanently_failing = models.BooleanField(
        _("permanently failing"),
        default=False,
        help_text=_("The mail server refused this address for good; nothing more is sent to it."),
    )
    last_problem = models.TextField(_("last problem"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        verbose_name = _("mail address state")
        verbose_name_plural = _("mail address states")

    def __str__(self):
        return self.address


class TicketCc(models.Model):
    """An address copied on a ticket's mail; it gets the public replies and may answer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="mail_ccs")
    address = models.CharField(_("address"), max_length=255)
    name = models.CharField(_("name"), max_length=255, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("ticket Cc")
        verbose_name_plural = _("ticket Ccs")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "address"], name="ticket_cc_unique")
        ]

    def __str__(self):
        return self.address


class NotificationMute(models.Model):
    """A kind of notification a person chose not to receive by mail."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="mail_mutes")
    kind = models.CharField(_("kind"), max_length=16, choices=OutboundMessage.Kind.choices)

    class Meta:
        verbose_name = _("muted notification")
        verbose_name_plural = _("muted notifications")
        constraints = [
            models.UniqueConstraint(fields=["person", "kind"], name="notification_mute_unique")
        ]

    def __str__(self):
        return f"{self.person}: {self.kind}"
