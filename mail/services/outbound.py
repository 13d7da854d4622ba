"""Mail out: composed and stored first, sent after the commit, retried, never sent twice.

Every mail the help desk sends is an :class:`~mail.models.OutboundMessage` row written
before anything is sent:

- :func:`messages_queue` (the notifications) and :func:`outbound_queue` (one mail: the
  answers to incoming mail that makes no ticket) decide whether a mail may go (muted kind,
  failing or bouncing address, hourly caps: otherwise the row is written ``SUPPRESSED`` with
  the reason, so every ticket shows what was not sent and why), render it in the
  recipient's language and time zone, store subject, text and HTML, and schedule
  ``mail.send_outbound`` when the transaction commits. The ``dedupe_key`` is unique: a
  retried task writes nothing twice.
- :func:`outbound_send` claims the row (locked, attempt counted, a lease in
  ``next_attempt_at``), sends it through Django's mail connection outside any transaction,
  and records the outcome: ``SENT``; ``RETRYING`` with a back-off for a temporary failure;
  ``FAILED`` after ``MAIL_SEND_ATTEMPTS`` or at once when the server refuses the recipient
  or the content for good (a 5xx recipient refusal also marks the address as permanently
  failing).
- :func:`send_due` (beat, every minute) sends what is due again, and what was queued but
  whose task never ran.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import uuid
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend
from django.core.mail.message import sanitize_address
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk.models import Person
from mail.models import InboundMessage, MailAddress, Mailbox, NotificationMute, OutboundMessage
from tickets.models import Attachment, Comment, Ticket

logger = logging.getLogger("mail.outbound")

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status

# Answers to an incoming mail (RFC 3834 "auto-replied"); every other kind but an agent's
# reply is a notification ("auto-generated"). An agent's reply is written by a person: it
# carries no Auto-Submitted and no Precedence, so that the caller's mail system treats it
# as an ordinary mail (and answers it, e.g. with an out-of-office, only if it would answer
# a person; X-Auto-Response-Suppress asks Exchange not to).
AUTO_REPLIED_KINDS = frozenset(
    {Kind.UNKNOWN_SENDER, Kind.TOO_LARGE, Kind.RATE_LIMITED, Kind.CHANGE_VOTE_ANSWER}
)
HUMAN_KINDS = frozenset({Kind.AGENT_REPLY})
# A group's new-ticket mail goes once per member per ticket: it cannot loop, and a large
# group must not use up the ticket's hourly cap before the caller hears anything. Nor may
# its watchers, nor the colleagues a work note mentions (staff; each is still held to the cap
# per recipient).
TICKET_CAP_EXEMPT_KINDS = frozenset(
    {Kind.GROUP_NEW_TICKET, Kind.WATCHED, Kind.MENTIONED, Kind.SLA_ALERT}
)

TEMPLATE_DIR = "mail/notifications"
# How long a claimed message belongs to the sender that claimed it: longer than any SMTP
# exchange (each command waits at most EMAIL_TIMEOUT). A sender that died mid-way leaves
# the message to send_due once the lease is over.
CLAIM_LEASE = timedelta(minutes=10)
# A queued message whose send task never ran (broker down) is picked up after this.
QUEUED_GRACE = timedelta(minutes=2)
REFERENCES_KEPT = 10
# Attachments of a reply go with it up to this many bytes in all (base64 adds a third);
# the others are named in the text as kept on the ticket.
ATTACHMENT_BUDGET_FRACTION = 0.7


@dataclass
class Draft:
    """One mail to write: who gets it, of what kind, with what to say.

    ``person`` is the recipient's Person when known (language, time zone, mutes).
    ``anchor`` identifies the event (``t<timeline id>``, ``c<comment id>``): with the kind
    and the address it makes the dedupe key, so a Cc promoted to To gets a key of its own.
    """

    kind: str
    to: str
    person: Person | None = None
    cc: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    comment: Comment | None = None
    attachments: list[Attachment] = field(default_factory=list)
    anchor: str = ""
    dedupe_key: str = ""
    language: str = ""
    in_reply_to: str = ""

    def key(self, address: str | None = None) -> str:
        if self.dedupe_key and address is None:
            return self.dedupe_key
        return dedupe_key_for(self.kind, self.anchor, address or self.to)


def dedupe_key_for(kind: str, anchor: str, address: str) -> str:
    key = f"{kind}:{anchor}:{address.strip().lower()}"
    if len(key) > 255:
        key = f"{kind}:{anchor}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key[:255]


def normalise(address: str) -> str:
    return parseaddr(address or "")[1].strip().lower()


def language_of(person: Person | None) -> str:
    codes = {code for code, _label in settings.LANGUAGES}
    if person is not None and person.language in codes:
        return person.language
    return settings.LANGUAGE_CODE


def time_zone_of(person: Person | None) -> zoneinfo.ZoneInfo:
    name = (person.time_zone if person is not None else "") or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# --- who may get mail -------------------------------------------------------------------


class Suppression:
    """What keeps mail from an address, read in a few queries for a whole batch.

    Counts what is queued meanwhile, so a batch cannot go over a cap either."""

    def __init__(self, *, ticket: Ticket | None, addresses, person_ids):
        self.has_ticket = ticket is not None
        addresses = sorted({a for a in addresses if a})
        self.states = {
            state.address: state for state in MailAddress.objects.filter(address__in=addresses)
        }
        self.muted = set(
            NotificationMute.objects.filter(person_id__in={p for p in person_ids if p}).values_list(
                "person_id", "kind"
            )
        )
        since = timezone.now() - timedelta(hours=1)
        sent = OutboundMessage.objects.filter(created_at__gte=since).exclude(
            status=Status.SUPPRESSED
        )
        self.ticket_count = (
            sent.filter(ticket=ticket).exclude(kind__in=TICKET_CAP_EXEMPT_KINDS).count()
            if ticket is not None
            else 0
        )
        self.recipient_counts = Counter(
            dict(
                sent.filter(to__in=addresses)
                .values_list("to")
                .annotate(count=Count("pk"))
                .order_by()
            )
        )

    def address_reason(self, address: str) -> str:
        """Why nothing may go to ``address`` at all (it fails or bounces), or ""."""
        state = self.states.get(address)
        if state is None:
            return ""
        if state.permanently_failing:
            return _("The mail server refused this address for good.") + (
                f" {state.last_problem}" if state.last_problem else ""
            )
        if state.bouncing_since is not None:
            return _("Mail to this address bounces (since %(date)s).") % {
                "date": state.bouncing_since.date().isoformat()
            }
        return ""

    def reason(self, draft: Draft, address: str) -> str:
        """Why ``draft`` may not go to ``address`` as its To, or ""."""
        if draft.person is not None and (draft.person.pk, draft.kind) in self.muted:
            return _("The recipient turned this kind of mail off.")
        reason = self.address_reason(address)
        if reason:
            return reason
        if (
            draft.kind not in TICKET_CAP_EXEMPT_KINDS
            and self.has_ticket
            and self.ticket_count >= settings.MAIL_OUTBOUND_PER_TICKET_PER_HOUR
        ):
            return ngettext(
                "%(count)s mail about this ticket went out in the last hour.",
                "%(count)s mails about this ticket went out in the last hour.",
                self.ticket_count,
            ) % {"count": self.ticket_count}
        if self.recipient_counts[address] >= settings.MAIL_OUTBOUND_PER_RECIPIENT_PER_HOUR:
            return ngettext(
                "This address got %(count)s mail in the last hour.",
                "This address got %(count)s mails in the last hour.",
                self.recipient_counts[address],
            ) % {"count": self.recipient_counts[address]}
        return ""

    def count(self, draft: Draft, address: str) -> None:
        self.recipient_counts[address] += 1
        if draft.kind not in TICKET_CAP_EXEMPT_KINDS:
            self.ticket_count += 1


# --- composing --------------------------------------------------------------------------


@dataclass
class Thread:
    """Where a ticket's mail comes from and what it answers."""

    from_address: str
    root_message_id: str = ""
    previous: list[tuple[str, str]] = field(default_factory=list)  # (to, message id)

    def threading(self, to: str) -> tuple[str, str]:
        """(In-Reply-To, References) of the next mail to ``to``, bare Message-IDs."""
        earlier = [message_id for address, message_id in self.previous if address == to]
        if self.root_message_id:
            references = [self.root_message_id, *earlier[-(REFERENCES_KEPT - 1) :]]
        else:
            references = earlier[-REFERENCES_KEPT:]
        in_reply_to = earlier[-1] if earlier else self.root_message_id
        return in_reply_to, " ".join(references)


def _bare(message_id: str) -> str:
    return (message_id or "").strip().strip("<>").strip()


def _default_from() -> str:
    address = Mailbox.objects.filter(is_active=True).order_by("pk").values_list(
        "address", flat=True
    ).first() or normalise(settings.DEFAULT_FROM_EMAIL)
    return address or settings.DEFAULT_FROM_EMAIL


def thread_for(ticket: Ticket | None, *, mailbox_address: str = "") -> Thread:
    """From address and threading of ``ticket``'s mail (two or three queries)."""
    if ticket is None:
        return Thread(from_address=mailbox_address or _default_from())
    first = (
        InboundMessage.objects.filter(ticket=ticket)
        .select_related("mailbox")
        .only("message_id", "mailbox__address")
        .order_by("pk")
        .first()
    )
    from_address = first.mailbox.address if first is not None else _default_from()
    previous = list(
        OutboundMessage.objects.filter(ticket=ticket)
        .exclude(status__in=[Status.SUPPRESSED, Status.FAILED])
        .order_by("pk")
        .values_list("to", "message_id")
    )
    return Thread(
        from_address=from_address,
        root_message_id=_bare(first.message_id) if first is not None else "",
        previous=previous,
    )


def new_message_id() -> str:
    """A Message-ID of ours, without the angle brackets (as stored)."""
    # A random id rather than email.utils.make_msgid's time.pid.random: it says nothing of
    # the host, and it is what the inbound side recognises by its domain.
    return f"{uuid.uuid4().hex}@{settings.MAIL_MESSAGE_ID_DOMAIN}"


def render(
    kind: str, context: dict[str, Any], *, language: str, time_zone, ticket: Ticket | None
) -> tuple[str, str, str]:
    """(subject, text, HTML) of a ``kind`` mail in ``language``; dates in ``time_zone``."""
    with translation.override(language), timezone.override(time_zone):
        context = {**context, "kind": kind, "ticket": ticket, "language": language}
        subject = render_to_string(f"{TEMPLATE_DIR}/{kind}_subject.txt", context)
        text = render_to_string(f"{TEMPLATE_DIR}/{kind}.txt", context)
        html = render_to_string(f"{TEMPLATE_DIR}/{kind}.html", context)
    subject = " ".join(subject.split())
    if ticket is not None:
        # The tag threads a reply back to its ticket even when the Message-IDs are lost.
        subject = f"[{ticket.number}] {subject}"
    return subject[:500], text.strip() + "\n", html


def display_from(address: str, language: str) -> str:
    with translation.override(language):
        name = _("Service Desk")
    return formataddr((str(name), address))


def _attachments_within_budget(attachments: list[Attachment]) -> tuple[list, list]:
    budget = int(settings.MAIL_MAX_BYTES * ATTACHMENT_BUDGET_FRACTION)
    sent, left = [], []
    for attachment in attachments:
        if attachment.is_internal:
            continue  # never: the caller must not see an internal file
        if attachment.size <= budget:
            sent.append(attachment)
            budget -= attachment.size
        else:
            left.append(attachment)
    return sent, left


# --- queueing ---------------------------------------------------------------------------


def _create(
    *,
    draft: Draft,
    to: str,
    cc: list[str],
    ticket: Ticket | None,
    thread: Thread,
    status: str,
    detail: str,
) -> OutboundMessage | None:
    language = draft.language or language_of(draft.person)
    attachments, left = ([], [])
    if status != Status.SUPPRESSED:
        attachments, left = _attachments_within_budget(draft.attachments)
    context = {
        **draft.context,
        "recipient": draft.person,
        "attachments": attachments,
        "attachments_left": left,
    }
    subject, text, html = render(
        draft.kind,
        context,
        language=language,
        time_zone=time_zone_of(draft.person),
        ticket=ticket,
    )
    in_reply_to, references = thread.threading(to)
    if draft.in_reply_to:
        in_reply_to = _bare(draft.in_reply_to)
        references = references or in_reply_to
    try:
        # The batch checked the key already; a twin task may still have written it since.
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                dedupe_key=draft.key(to if to != draft.to else None),
                ticket=ticket,
                comment=draft.comment,
                kind=draft.kind,
                from_address=display_from(thread.from_address, language)[:255],
                to=to,
                cc=cc,
                recipient=draft.person,
                language=language,
                subject=subject,
                body_text=text,
                body_html=html,
                message_id=new_message_id(),
                in_reply_to=in_reply_to[:255],
                references=references,
                status=status,
                status_detail=detail,
            )
    except IntegrityError:
        return None
    if attachments:
        message.attachments.add(*attachments)
    if status == Status.QUEUED:
        thread.previous.append((to, message.message_id))
        from mail import tasks

        tasks.send_outbound.delay_on_commit(message.pk)
    else:
        logger.info("mail %s (%s) to %s not sent: %s", message.pk, message.kind, message.to, detail)
    return message


def messages_queue(
    *, ticket: Ticket | None, drafts: list[Draft], thread: Thread | None = None
) -> list[OutboundMessage]:
    """Write the mails of ``drafts`` (sent or suppressed with the reason) and send them
    after the commit. Drafts already written (same dedupe key) are left alone.

    Queries do not grow with the number of Ccs: address states, mutes, caps and the
    ticket's thread are read once for the batch."""
    if not drafts:
        return []
    with transaction.atomic():
        existing = set(
            OutboundMessage.objects.filter(
                dedupe_key__in=[draft.key() for draft in drafts]
            ).values_list("dedupe_key", flat=True)
        )
        drafts = [draft for draft in drafts if draft.key() not in existing]
        if not drafts:
            return []
        addresses = {address for draft in drafts for address in [draft.to, *draft.cc]}
        suppression = Suppression(
            ticket=ticket,
            addresses=addresses,
            person_ids={draft.person.pk for draft in drafts if draft.person is not None},
        )
        if thread is None:
            thread = thread_for(ticket)
        written = []
        for draft in drafts:
            written += _queue_one(draft, ticket=ticket, thread=thread, suppression=suppression)
        return written


def _queue_one(
    draft: Draft, *, ticket: Ticket | None, thread: Thread, suppression: Suppression
) -> list[OutboundMessage]:
    written = []
    copies, dropped = [], []
    for address in draft.cc:
        reason = suppression.address_reason(address)
        if reason:
            dropped.append((address, reason))
        else:
            copies.append(address)
    to = draft.to
    while reason := suppression.reason(draft, to):
        # Recorded against the ticket, so agents see who did not get it and why.
        message = _create(
            draft=draft,
            to=to,
            cc=[],
            ticket=ticket,
            thread=thread,
            status=Status.SUPPRESSED,
            detail=reason,
        )
        written += [message] if message else []
        if not copies:
            return written
        # The Ccs still get a reply the caller does not: the first of them takes the To.
        to, copies = copies[0], copies[1:]
        draft = Draft(**{**draft.__dict__, "person": None, "dedupe_key": ""})
    detail = "\n".join(
        _("Not copied to %(address)s: %(reason)s") % {"address": address, "reason": why}
        for address, why in dropped
    )
    message = _create(
        draft=draft,
        to=to,
        cc=copies,
        ticket=ticket,
        thread=thread,
        status=Status.QUEUED,
        detail=detail,
    )
    if message is not None:
        suppression.count(draft, to)
        written.append(message)
    return written


def outbound_queue(
    *,
    kind: str,
    to: str,
    ticket: Ticket | None = None,
    person: Person | None = None,
    context: dict[str, Any],
    cc=(),
    in_reply_to: str = "",
    dedupe_key: str,
    attachments=(),
    language: str = "",
) -> OutboundMessage | None:
    """Queue one mail of ``kind`` (rendered from ``mail/notifications/<kind>*``) to ``to``.

    For the answers to incoming mail (unknown sender, too large, rate-limited): no ticket,
    ``context`` gives the subject and the ``mailbox_address`` answered from. Works inside
    the caller's transaction: the mail is sent once it commits, never if it rolls back.
    Returns the row written (queued, or suppressed with the reason), or None when
    ``dedupe_key`` was used before or there is no address."""
    address = normalise(to)
    if not address:
        return None
    draft = Draft(
        kind=kind,
        to=address,
        person=person,
        cc=[normalise(a) for a in cc if normalise(a) and normalise(a) != address],
        context={**context, "ticket": ticket},
        attachments=list(attachments),
        dedupe_key=dedupe_key,
        language=language,
        in_reply_to=in_reply_to,
    )
    thread = thread_for(ticket, mailbox_address=normalise(context.get("mailbox_address", "")))
    written = messages_queue(ticket=ticket, drafts=[draft], thread=thread)
    return written[-1] if written else None


# --- sending ----------------------------------------------------------------------------


SENDABLE = (Status.QUEUED, Status.RETRYING)


def _claim(outbound_id: int) -> OutboundMessage | None:
    """Take the message for one attempt, or None if it is not ours to send now.

    The row is locked only while the attempt is counted and the lease written: the SMTP
    exchange happens outside the transaction (on SQLite a write transaction would stop
    every other writer for as long as the mail server takes)."""
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(pk=outbound_id).first()
        if message is None or message.status not in SENDABLE:
            return None
        now = timezone.now()
        if message.next_attempt_at is not None and message.next_attempt_at > now:
            return None  # another sender holds it, or its back-off is not over
        message.attempts += 1
        message.next_attempt_at = now + CLAIM_LEASE
        message.save(update_fields=["attempts", "next_attempt_at"])
    return message


def headers_for(message: OutboundMessage) -> dict[str, str]:
    headers = {
        "Message-ID": f"<{message.message_id}>",
        "X-Loop": settings.MAIL_LOOP_ID,
        "X-Auto-Response-Suppress": "All",
        "Content-Language": message.language,
    }
    if message.in_reply_to:
        headers["In-Reply-To"] = f"<{message.in_reply_to}>"
    if message.references:
        headers["References"] = " ".join(f"<{ref}>" for ref in message.references.split())
    if message.kind not in HUMAN_KINDS:
        headers["Auto-Submitted"] = (
            "auto-replied" if message.kind in AUTO_REPLIED_KINDS else "auto-generated"
        )
        headers["Precedence"] = "bulk"
    return headers


def build_email(message: OutboundMessage, connection=None) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=message.from_address,
        to=[message.to],
        cc=list(message.cc or []),
        headers=headers_for(message),
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    for attachment in message.attachments.filter(is_internal=False).order_by("pk"):
        with attachment.file.open("rb") as handle:
            email.attach(attachment.original_name, handle.read(), attachment.content_type)
    return email


def _deliver(email: EmailMultiAlternatives) -> dict:
    """Send; return the recipients the server refused while taking the others."""
    connection = get_connection(fail_silently=False)
    if not isinstance(connection, SmtpEmailBackend):
        connection.send_messages([email])
        return {}
    # Django's SMTP backend drops smtplib's answer, which names the recipients refused when
    # others were accepted: the same steps as its _send, keeping that answer.
    with connection:
        encoding = email.encoding or settings.DEFAULT_CHARSET
        sender = sanitize_address(email.from_email, encoding)
        recipients = [sanitize_address(address, encoding) for address in email.recipients()]
        return (
            connection.connection.sendmail(
                sender, recipients, email.message().as_bytes(linesep="\r\n")
            )
            or {}
        )


def _answer_text(code, response) -> str:
    if isinstance(response, bytes):
        response = response.decode("utf-8", "replace")
    return f"{code} {response}".strip()


def _mark_failing(address: str, problem: str) -> None:
    address = normalise(address)[:255]
    if not address:
        return
    state, _created = MailAddress.objects.get_or_create(address=address)
    MailAddress.objects.filter(pk=state.pk).update(
        permanently_failing=True, last_problem=problem[:2000], updated_at=timezone.now()
    )
    logger.warning("address %s marked permanently failing: %s", address, problem)


def _record(message: OutboundMessage, **fields) -> None:
    OutboundMessage.objects.filter(pk=message.pk).update(**fields)
    for name, value in fields.items():
        setattr(message, name, value)


def _failed(message: OutboundMessage, detail: str) -> None:
    logger.warning(
        "mail %s (%s) to %s failed for good after %s attempts: %s",
        message.pk,
        message.kind,
        message.to,
        message.attempts,
        detail,
    )
    _record(message, status=Status.FAILED, status_detail=detail[:4000], next_attempt_at=None)


def _retry_later(message: OutboundMessage, detail: str) -> None:
    if message.attempts >= settings.MAIL_SEND_ATTEMPTS:
        _failed(
            message,
            ngettext(
                "Gave up after %(count)s attempt: %(detail)s",
                "Gave up after %(count)s attempts: %(detail)s",
                message.attempts,
            )
            % {"count": message.attempts, "detail": detail},
        )
        return
    delay = settings.MAIL_SEND_BACKOFF_SECONDS * 2 ** (message.attempts - 1)
    logger.warning(
        "mail %s (%s) to %s not sent (attempt %s), retrying in %ss: %s",
        message.pk,
        message.kind,
        message.to,
        message.attempts,
        delay,
        detail,
    )
    _record(
        message,
        status=Status.RETRYING,
        status_detail=detail[:4000],
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )


def outbound_send(*, outbound_id: int) -> str | None:
    """Send the outbound message ``outbound_id`` once; return its status after this attempt
    (None: not sendable now: sent already, suppressed, failed, or another sender has it)."""
    message = _claim(outbound_id)
    if message is None:
        return None
    with translation.override(settings.LANGUAGE_CODE):
        try:
            email = build_email(message)
        except Exception as error:  # an attachment gone from storage: retrying will not help
            logger.exception("mail %s could not be composed", message.pk)
            _failed(message, _("The mail could not be composed: %(error)s") % {"error": error})
            return message.status
        try:
            refused = _deliver(email)
        except smtplib.SMTPRecipientsRefused as error:
            answers = {
                address: (code, _answer_text(code, response))
                for address, (code, response) in error.recipients.items()
            }
            detail = "; ".join(f"{address}: {text}" for address, (_c, text) in answers.items())
            if all(500 <= code < 600 for code, _text in answers.values()):
                for address, (_code, text) in answers.items():
                    _mark_failing(address, text)
                _failed(message, detail)
            else:
                _retry_later(message, detail)
            return message.status
        except smtplib.SMTPDataError as error:
            detail = _answer_text(error.smtp_code, error.smtp_error)
            if 500 <= error.smtp_code < 600:
                # The server refuses this mail (size, content), not the address.
                _failed(message, detail)
            else:
                _retry_later(message, detail)
            return message.status
        except smtplib.SMTPResponseException as error:
            # Greeting, HELO, sign-in, sender refused: the set-up, not this mail. Retried,
            # so that a fixed configuration still sends it.
            _retry_later(message, _answer_text(error.smtp_code, error.smtp_error))
            return message.status
        except (OSError, smtplib.SMTPException) as error:
            # Connection refused, timed out, dropped (SMTPException is an OSError too).
            _retry_later(message, f"{type(error).__name__}: {error}")
            return message.status
        notes = [message.status_detail]
        if message.status == Status.RETRYING:
            notes = [
                _("Sent on attempt %(count)s; the one before: %(detail)s")
                % {"count": message.attempts, "detail": message.status_detail}
            ]
        if refused:
            parts = []
            for address, (code, response) in refused.items():
                text = _answer_text(code, response)
                parts.append(f"{address}: {text}")
                if 500 <= code < 600:
                    _mark_failing(address, text)
            detail = _("Not accepted for: %(answers)s") % {"answers": "; ".join(parts)}
            logger.warning("mail %s partly refused: %s", message.pk, detail)
            notes.append(detail)
        _record(
            message,
            status=Status.SENT,
            sent_at=timezone.now(),
            next_attempt_at=None,
            status_detail="\n".join(filter(None, notes))[:4000],
        )
    logger.info("mail %s (%s) sent to %s", message.pk, message.kind, message.to)
    return message.status


def send_due(*, limit: int = 100) -> int:
    """Send the messages whose retry is due, and queued ones whose task never ran;
    return how many were attempted."""
    now = timezone.now()
    due = list(
        OutboundMessage.objects.filter(status__in=SENDABLE)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, created_at__lte=now - QUEUED_GRACE)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for outbound_id in due:
        outbound_send(outbound_id=outbound_id)
    return len(due)
