"""Mail in: stored raw first, then turned into a ticket, a reply, a note, or nothing.

The one way in for both the IMAP fetcher and the mail server's pipe is
:func:`message_receive`. Its promises:

- the raw bytes are committed before anything is parsed; a mail that cannot be stored
  raises, so the caller (the fetcher, the pipe command) leaves it where it was;
- one row per mail, however often it is delivered: the Message-ID (or, without one, the
  hash of the bytes) is unique, and a second delivery only counts itself;
- processing runs in one transaction: the ticket or the reply and the message's outcome
  commit together, or nothing does and the message is quarantined with the reason;
- mail headers never set ticket fields: the sender is looked up among people, the subject
  is the title, everything else comes from the mailbox's settings.
"""

import contextlib
import hashlib
import logging
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import Person
from helpdesk.roles import can_work_tickets
from mail import parsing, statements
from mail.models import InboundMessage, MailAddress, Mailbox, OutboundMessage, TicketCc
from tickets import services as ticket_services
from tickets.models import Channel, Status, Ticket

logger = logging.getLogger("mail.ingest")

# "[INC-000123]" anywhere in the subject, after any number of Re:/AW:/Odp:/Fwd: prefixes.
TICKET_TAG = re.compile(r"\[\s*((?:INC|REQ)-\d{1,12})\s*\]", re.IGNORECASE)


# What processing sets on a mail's row.
PROCESSED_FIELDS = [
    "message_id",
    "sender",
    "sender_name",
    "subject",
    "is_automatic",
    "html_sanitized",
    "status",
    "outcome",
    "reason",
    "detail",
    "attempts",
    "ticket",
    "comment",
    "processed_at",
]


class MessageTimeout(Exception):
    """Processing one mail took longer than ``MAIL_PROCESS_SECONDS``."""


# --- storing ---------------------------------------------------------------------------


def _dedupe_key(message_id: str, sha256: str) -> str:
    if not message_id:
        return f"sha256:{sha256}"
    key = f"mid:{message_id.strip().lower()}"
    if len(key) > 255:
        key = "mid-sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def message_store(
    *,
    mailbox: Mailbox,
    raw: bytes,
    source: str,
    server_uid: str = "",
    is_truncated: bool = False,
    size: int | None = None,
) -> tuple[InboundMessage, bool]:
    """Commit the raw mail; return (the row, whether it is new).

    A mail seen before (same Message-ID, or same bytes without one) is not stored again:
    its row counts one more delivery and is returned with ``False``."""
    sha256 = hashlib.sha256(raw).hexdigest()
    message_id, sender, subject = parsing.header_summary(raw)
    key = _dedupe_key(message_id, sha256)
    message = InboundMessage(
        mailbox=mailbox,
        source=source,
        server_uid=str(server_uid)[:64],
        dedupe_key=key,
        message_id=message_id[:255],
        sha256=sha256,
        raw=raw,
        size=size if size is not None else len(raw),
        is_truncated=is_truncated,
        sender=sender.address[:255],
        sender_name=sender.name[:255],
        subject=subject[:500],
    )
    # One INSERT ... ON CONFLICT DO NOTHING: committed by itself (no transaction around
    # it), and a mail stored before is no error.
    if not statements.message_insert(message):
        message = statements.message_delivered_again(key)
        logger.info(
            "mail %s (%s) delivered again to %s; not stored twice",
            message.pk,
            key,
            mailbox.address,
        )
        return message, False
    return message, True


def message_receive(
    *, mailbox: Mailbox, raw: bytes, source: str, server_uid: str = ""
) -> InboundMessage:
    """Store a mail and act on it; return its row once both are committed.

    Raises only when the mail could not even be stored (the caller keeps it and retries)."""
    if len(raw) > settings.MAIL_MAX_BYTES:
        return message_receive_oversized(
            mailbox=mailbox,
            headers=headers_of(raw),
            size=len(raw),
            source=source,
            server_uid=server_uid,
        )
    message, created = message_store(mailbox=mailbox, raw=raw, source=source, server_uid=server_uid)
    return _act_on_stored(message, created)


def _act_on_stored(message: InboundMessage, created: bool) -> InboundMessage:
    """Process a mail just stored, or one a run that died before acting on it left
    RECEIVED; a mail acted on before is returned as it is."""
    if created:
        return message_process(message=message, _just_stored=True)
    if message.status == InboundMessage.Status.RECEIVED:
        return message_process(message=message)
    return message


def message_receive_oversized(
    *, mailbox: Mailbox, headers: bytes, size: int, source: str, server_uid: str = ""
) -> InboundMessage:
    """A mail over ``MAIL_MAX_BYTES``: only its headers are kept, it is not parsed, it goes
    to the quarantine, and its sender is told once."""
    message, created = message_store(
        mailbox=mailbox,
        raw=headers,
        source=source,
        server_uid=server_uid,
        is_truncated=True,
        size=size,
    )
    return _act_on_stored(message, created)


def headers_of(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end != -1:
            return raw[: end + len(separator)]
    return raw[:65536]


# --- processing ------------------------------------------------------------------------


@contextlib.contextmanager
def _time_limit(seconds: int):
    """Raise MessageTimeout in the main thread after ``seconds``; elsewhere (a Celery worker
    thread) the task's own soft time limit does the same."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise MessageTimeout(_("Processing took longer than %(seconds)s s.") % {"seconds": seconds})

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def message_process(*, message: InboundMessage, _just_stored: bool = False) -> InboundMessage:
    """Act on a stored mail (again, for one in quarantine); return its row as it ends up.

    A failure rolls back everything the mail did and quarantines it with the reason.

    ``_just_stored``: ``message`` is the row :func:`message_store` created a moment ago,
    raw bytes and mailbox in hand; only its status and attempts are read again (locked),
    not the whole row."""
    try:
        with transaction.atomic():
            if _just_stored:
                # Locked all the same: a second delivery in another worker waits here, then
                # finds the mail processed. Nobody else writes the other fields meanwhile
                # (processing writes them only with this lock held).
                locked = message
                locked.status, locked.attempts = statements.message_lock(message.pk)
            else:
                locked = InboundMessage.objects.select_for_update().get(pk=message.pk)
            if locked.status not in (
                InboundMessage.Status.RECEIVED,
                InboundMessage.Status.QUARANTINED,
            ):
                if _just_stored:
                    return InboundMessage.objects.defer("raw").get(pk=message.pk)
                return locked  # someone else acted on it meanwhile
            locked.attempts += 1
            # The limit ends before the commit: an alarm just after it would quarantine a
            # mail whose ticket is committed, and a retry would make a second ticket.
            with _time_limit(settings.MAIL_PROCESS_SECONDS):
                _process(locked)
                locked.processed_at = timezone.now()
                # Not the raw bytes again: they are up to MAIL_MAX_BYTES and never change.
                statements.message_update(locked, PROCESSED_FIELDS)
            return locked
    except (MessageTimeout, SoftTimeLimitExceeded) as error:
        return _quarantine(message, InboundMessage.Reason.TIMED_OUT, str(error))
    except parsing.MailParseError as error:
        return _quarantine(message, InboundMessage.Reason.UNPARSEABLE, str(error))
    except Exception as error:
        logger.exception("mail %s could not be processed", message.pk)
        return _quarantine(
            message, InboundMessage.Reason.PROCESSING_FAILED, f"{type(error).__name__}: {error}"
        )


def _quarantine(message: InboundMessage, reason: str, detail: str) -> InboundMessage:
    logger.warning("mail %s quarantined (%s): %s", message.pk, reason, detail)
    InboundMessage.objects.filter(pk=message.pk).update(
        status=InboundMessage.Status.QUARANTINED,
        reason=reason,
        detail=detail[:5000],
        attempts=F("attempts") + 1,
        processed_at=timezone.now(),
    )
    return InboundMessage.objects.defer("raw").get(pk=message.pk)


def message_discard(*, message: InboundMessage, by) -> InboundMessage:
    """An admin decides a quarantined mail is to be dropped (it stays stored, marked)."""
    # Conditional in SQL: a mail processed meanwhile (a retry, a second delivery) keeps its
    # status, which its ticket or reply depends on.
    discarded = InboundMessage.objects.filter(
        pk=message.pk, status=InboundMessage.Status.QUARANTINED
    ).update(status=InboundMessage.Status.DISCARDED)
    if not discarded:
        raise ValidationError({"status": _("Only mail in quarantine is discarded.")})
    logger.info("mail %s discarded by %s", message.pk, by)
    return InboundMessage.objects.defer("raw").get(pk=message.pk)


def message_retry(*, message: InboundMessage, by) -> InboundMessage:
    """An admin sends a quarantined mail through processing again."""
    if message.status != InboundMessage.Status.QUARANTINED:
        raise ValidationError({"status": _("Only mail in quarantine is retried.")})
    logger.info("mail %s retried by %s", message.pk, by)
    return message_process(message=message)


@dataclass
class _Context:
    message: InboundMessage
    parsed: parsing.ParsedMail
    mailbox: Mailbox
    address: str  # the sender's address, as written
    person: Person | None = None  # the sender's, once looked up


def _process(message: InboundMessage) -> None:
    """Decide what the mail is and do it; set the message's status, outcome and links."""
    if message.is_truncated:
        _too_large(message)
        return
    parsed = parsing.parse_message(bytes(message.raw))
    message.message_id = message.message_id or parsed.message_id[:255]
    message.sender = parsed.sender.address[:255]
    message.sender_name = parsed.sender.name[:255]
    message.subject = parsed.subject[:500]
    message.is_automatic = parsed.auto_kind != parsing.AutoKind.NONE
    message.html_sanitized = parsed.html
    message.status = InboundMessage.Status.PROCESSED
    # A retried mail starts afresh: the reason it was quarantined for is no longer true.
    message.reason, message.detail = "", ""
    context = _Context(message, parsed, message.mailbox, parsed.sender.address.strip())

    if _is_our_own(parsed):
        message.status = InboundMessage.Status.IGNORED
        message.outcome = InboundMessage.Outcome.LOOP_DROPPED
        logger.info("mail %s is our own coming back; dropped", message.pk)
        return
    if parsed.auto_kind == parsing.AutoKind.BOUNCE:
        _bounce(context)
        return
    if not context.address:
        raise parsing.MailParseError(_("The mail names no sender address."))
    if not message.is_automatic and _flooding(message, context.address):
        return

    answered = _our_mail_answered(parsed)
    foreign = _foreign_reply(parsed, answered)
    if foreign is not None:
        handler, tag = foreign
        context.person = _sender_person(context.address)
        handler.handle(context, tag)
        return

    ticket, found_by = _thread_ticket(parsed, answered)
    person = context.person = _sender_person(context.address)
    if (
        ticket is not None
        and found_by == "subject"
        and context.mailbox.reply_senders == Mailbox.ReplySenders.PARTICIPANTS
        and not _is_participant(ticket, person, context.address)
    ):
        logger.warning(
            "mail %s from %s names %s in its subject but the sender is not on that ticket; "
            "it becomes a new ticket",
            message.pk,
            context.address,
            ticket.number,
        )
        ticket = None
    if ticket is not None:
        _reply(context, ticket, person)
        return
    if parsed.auto_kind == parsing.AutoKind.AUTO_REPLY:
        # An out-of-office reply to no ticket of ours: kept, nothing to act on.
        message.status = InboundMessage.Status.IGNORED
        message.outcome = InboundMessage.Outcome.NOT_ACTED_ON
        return
    if person is None:
        if context.mailbox.unknown_senders == Mailbox.UnknownSenders.REPLY_ONLY:
            _answer_unknown_sender(context)
            return
        # Looked up above: nobody has the address.
        person = context.person = _person_from_mail(parsed.sender)
    _new_ticket(context, person)


# --- replies to other apps' mail (architecture point 12) ------------------------------


@dataclass(frozen=True)
class ReplyHandler:
    """An app beside mail whose mails are answered by mail (a change's approvers vote by
    replying): replies carrying ``tag`` in their subject, or answering (In-Reply-To,
    References) one of our mails of ``kinds`` whose subject carries it, go to ``handle``
    instead of becoming a ticket or a reply on one."""

    tag: re.Pattern
    kinds: frozenset[str]
    handle: Callable[[_Context, str], None]  # (the mail, the tag found); sets the outcome


_reply_handlers: list[ReplyHandler] = []


def register_reply_handler(*, tag: re.Pattern, kinds, handle) -> None:
    """Route replies carrying ``tag`` to ``handle`` (called in the mail's transaction)."""
    handler = ReplyHandler(tag=tag, kinds=frozenset(kinds), handle=handle)
    if handler not in _reply_handlers:
        _reply_handlers.append(handler)


def _our_mail_answered(parsed: parsing.ParsedMail) -> OutboundMessage | None:
    """The latest of our mails about a ticket, or of a kind another app handles replies
    to, that the mail's In-Reply-To / References name (one query, none without them)."""
    ids = _id_forms([*parsed.in_reply_to, *reversed(parsed.references)])
    kinds = sorted({kind for handler in _reply_handlers for kind in handler.kinds})
    return statements.outbound_answered(ids, kinds)


def _foreign_reply(
    parsed: parsing.ParsedMail, answered: OutboundMessage | None
) -> tuple[ReplyHandler, str] | None:
    """The handler of another app this mail answers, and the tag it carries. Our mail it
    answers comes first: its Message-ID is known only to its recipients, and its stored
    subject keeps the whole tag when a mail client shortened the reply's subject."""
    if not _reply_handlers:
        return None
    if answered is not None and answered.ticket_id is None:
        for handler in _reply_handlers:
            match = handler.tag.search(answered.subject) if answered.kind in handler.kinds else None
            if match:
                return handler, match.group(0)
    for handler in _reply_handlers:
        match = handler.tag.search(parsed.subject or "")
        if match:
            return handler, match.group(0)
    return None


# --- what a mail is --------------------------------------------------------------------


def _is_our_own(parsed: parsing.ParsedMail) -> bool:
    if settings.MAIL_LOOP_ID.lower() in (value.strip().lower() for value in parsed.loop_ids):
        return True
    domain = "@" + settings.MAIL_MESSAGE_ID_DOMAIN.lower()
    return bool(parsed.message_id) and parsed.message_id.lower().endswith(domain)


def _id_forms(ids) -> list[str]:
    """Message-IDs as stored by either side: bare and in angle brackets."""
    forms = []
    for value in ids:
        value = (value or "").strip().strip("<>")
        if value:
            forms += [value, f"<{value}>"]
    return forms


def _thread_ticket(
    parsed: parsing.ParsedMail, answered: OutboundMessage | None
) -> tuple[Ticket | None, str]:
    """The ticket this mail answers, and how it was found ("references" or "subject").
    ``answered``: :func:`_our_mail_answered`."""
    ids = _id_forms([*parsed.in_reply_to, *reversed(parsed.references)])
    if ids:
        if answered is not None and answered.ticket_id is not None:
            return answered.ticket, "references"
        received = statements.ticket_of_received(ids)
        if received is not None:
            return received, "references"
    match = TICKET_TAG.search(parsed.subject or "")
    if match:
        ticket = statements.ticket_by_number(match.group(1).upper())
        if ticket is not None:
            return ticket, "subject"
    return None, ""


def _sender_person(address: str) -> Person | None:
    # helpdesk.selectors.people_by_email(address, limit=1), written out (mail.statements).
    return statements.person_by_email(address)


def _is_staff(person: Person | None) -> bool:
    return person is not None and person.user_id is not None and can_work_tickets(person.user)


def _is_participant(ticket: Ticket, person: Person | None, address: str) -> bool:
    if person is not None and person.pk == ticket.caller_id:
        return True
    if ticket.caller.email and ticket.caller.email.lower() == address.lower():
        return True
    if TicketCc.objects.filter(ticket=ticket, address__iexact=address).exists():
        return True
    return _is_staff(person)


def _flooding(message: InboundMessage, address: str) -> bool:
    """Quarantine the mail of a sender over the hourly cap, and tell them once a day."""
    since = timezone.now() - timedelta(hours=1)
    recent = statements.sender_recent_count(address, since=since, exclude=message.pk)
    if recent < settings.MAIL_INBOUND_PER_SENDER_PER_HOUR:
        return False
    message.status = InboundMessage.Status.QUARANTINED
    message.reason = InboundMessage.Reason.RATE_LIMITED
    message.detail = _("%(count)s mails from this sender in the last hour.") % {"count": recent + 1}
    logger.warning("mail %s from %s rate-limited (%s in an hour)", message.pk, address, recent)
    _answer(
        kind=OutboundMessage.Kind.RATE_LIMITED,
        context_message=message,
        to=address,
        dedupe_key=f"rate_limited:{address.lower()}:{timezone.now().date().isoformat()}",
        extra={"limit": settings.MAIL_INBOUND_PER_SENDER_PER_HOUR},
    )
    return True


# --- what a mail does ------------------------------------------------------------------


def _uploads(context: _Context) -> tuple[list[SimpleUploadedFile], list[str]]:
    """The mail's attachments that pass the upload checks, and a line for each refused."""
    accepted, refused = [], []
    for attachment in context.parsed.attachments:
        name = attachment.filename or "file"
        upload = SimpleUploadedFile(name, attachment.data, attachment.content_type)
        try:
            ticket_services.validate_upload(upload)
        except ValidationError as error:
            refused.append(f"{name}: {' '.join(error.messages)}")
            continue
        accepted.append(upload)
    dropped = getattr(context.parsed, "dropped_attachments", 0)
    if dropped:
        refused.append(
            _("%(count)s more attachments over the limit of %(limit)s were not kept.")
            % {"count": dropped, "limit": settings.MAIL_MAX_ATTACHMENTS}
        )
    return accepted, refused


def _note_refused(ticket: Ticket, refused: list[str]) -> None:
    if refused:
        ticket_services.comment_add(
            ticket=ticket,
            by=None,
            is_internal=True,
            channel=Channel.EMAIL,
            body=_("Attachments of the mail that were not kept:") + "\n" + "\n".join(refused),
        )


def _record_ccs(context: _Context, ticket: Ticket) -> None:
    """Whoever the sender copied (To and Cc, less our own addresses and the caller) gets the
    ticket's public replies and may answer."""
    entries = {}
    for entry in [*context.parsed.to, *context.parsed.cc]:
        address = (entry.address or "").strip()
        if address and "@" in address:
            entries.setdefault(address.lower(), entry)
    # Most mails name only the mailbox they came to, or the sender: no query for those.
    entries.pop(context.mailbox.address.lower(), None)
    entries.pop(context.address.lower(), None)
    if not entries:
        return
    # A few queries however many addresses the mail names (the mailboxes are a handful).
    person = context.person  # the caller, mostly: then the caller is not read again
    caller = person if person is not None and person.pk == ticket.caller_id else ticket.caller
    skip = {(caller.email or "").lower()}
    skip.update(address.lower() for address in Mailbox.objects.values_list("address", flat=True))
    skip.update(
        address.lower()
        for address in TicketCc.objects.filter(ticket=ticket).values_list("address", flat=True)
    )
    TicketCc.objects.bulk_create(
        [
            TicketCc(ticket=ticket, address=entry.address.strip()[:255], name=entry.name[:255])
            for lowered, entry in entries.items()
            if lowered not in skip
        ],
        ignore_conflicts=True,  # a reply processed meanwhile named them too
    )


def _body(context: _Context) -> str:
    text = (context.parsed.text or "").strip()
    return text or _("(The mail has no text.)")


def _new_ticket(context: _Context, person: Person, *, follow_up_of: Ticket | None = None) -> Ticket:
    uploads, refused = _uploads(context)
    title = (context.parsed.subject or "").strip() or _("(no subject)")
    ticket = ticket_services.ticket_create(
        caller=person,
        title=title,
        description=(context.parsed.text or "").strip(),
        opened_by=None,
        channel=Channel.EMAIL,
        group=(follow_up_of.group if follow_up_of else None) or context.mailbox.default_group,
        follow_up_of=follow_up_of,
        attachments=uploads,
    )
    _note_refused(ticket, refused)
    _record_ccs(context, ticket)
    context.message.ticket = ticket
    context.message.outcome = (
        InboundMessage.Outcome.FOLLOW_UP_CREATED
        if follow_up_of
        else InboundMessage.Outcome.TICKET_CREATED
    )
    return ticket


def _reply(context: _Context, ticket: Ticket, person: Person | None) -> None:
    message, parsed = context.message, context.parsed
    if message.is_automatic:
        # An auto-reply or list mail about a ticket: a note, never a reply that would hand
        # the ticket back to work or start a conversation with a robot.
        comment = ticket_services.comment_add(
            ticket=ticket,
            by=None,
            is_internal=True,
            channel=Channel.EMAIL,
            author_person=person,
            body=_("Automatic reply from %(address)s:") % {"address": context.address}
            + "\n\n"
            + _body(context),
        )
        message.ticket, message.comment = ticket, comment
        message.outcome = InboundMessage.Outcome.AUTO_REPLY_NOTED
        return
    if person is None:
        # Allowed to answer (a Cc, or the mailbox lets anyone): known from now on. A robot's
        # note above makes nobody a person. (Looked up in _process: nobody has the address.)
        person = context.person = _person_from_mail(parsed.sender)
    # ``ticket`` was read a moment ago in this transaction (_thread_ticket): not again.
    staff = _is_staff(person)
    finished = ticket.status in (Status.CLOSED, Status.CANCELLED)
    if ticket.status == Status.RESOLVED and not staff:
        if "reopen" in ticket_services.available_transitions(ticket, None):
            ticket_services.transition_take(ticket=ticket, by=None, name="reopen")
            message.outcome = InboundMessage.Outcome.TICKET_REOPENED
        else:
            finished = True  # past the reopen window
    if finished:
        # Staff writing about a finished ticket continue the caller's case, not one of their
        # own: the follow-up keeps the old ticket's caller.
        _new_ticket(context, ticket.caller if staff else person, follow_up_of=ticket)
        return
    uploads, refused = _uploads(context)
    if staff:
        comment = ticket_services.comment_add(
            ticket=ticket,
            by=person.user,
            body=_body(context),
            channel=Channel.EMAIL,
            attachments=uploads,
        )
    elif person.pk == ticket.caller_id:
        comment = ticket_services.ticket_reply_by_caller(
            ticket=ticket,
            by=None,
            author_person=person,
            body=_body(context),
            channel=Channel.EMAIL,
            attachments=uploads,
        ).comment
    else:
        comment = ticket_services.comment_add(
            ticket=ticket,
            by=None,
            author_person=person,
            body=_body(context),
            channel=Channel.EMAIL,
            attachments=uploads,
        )
    _note_refused(ticket, refused)
    _record_ccs(context, ticket)
    message.ticket, message.comment = ticket, comment
    message.outcome = message.outcome or InboundMessage.Outcome.COMMENT_ADDED


def _person_from_mail(sender: parsing.Address) -> Person:
    """A person for a sender :func:`_sender_person` found nobody for."""
    address = sender.address.strip()
    name = (sender.name or "").strip() or address.split("@")[0]
    person = Person.objects.create(
        full_name=name[:200], email=address[:254], origin=Person.Origin.MAIL
    )
    logger.info("person %s created from mail of %s", person.pk, address)
    return person


def _bounce(context: _Context) -> None:
    """A bounce of one of our mails: an internal note on its ticket, the address marked."""
    message, parsed = context.message, context.parsed
    info = parsed.bounce
    ids = []
    if info is not None:
        ids += [info.original_message_id, *info.original_references]
    ids += [*parsed.in_reply_to, *parsed.references]
    sent = (
        OutboundMessage.objects.filter(message_id__in=_id_forms(ids))
        .select_related("ticket")
        .order_by("-pk")
        .first()
    )
    addresses = [a for a in (info.failed_recipients if info else []) if a] or (
        [sent.to] if sent else []
    )
    permanent = info.is_permanent if info is not None else True
    problem = (info.diagnostic or info.status) if info is not None else ""
    if permanent and sent is not None:
        # Only a bounce of a mail we sent says anything of an address: anyone can write a
        # bounce (spam's backscatter does) naming an address that works.
        now = timezone.now()
        for address in addresses:
            state, _created = MailAddress.objects.get_or_create(address=address.lower()[:255])
            MailAddress.objects.filter(pk=state.pk).update(
                bouncing_since=state.bouncing_since or now,
                bounce_count=F("bounce_count") + 1,
                last_problem=problem[:2000],
            )
    if sent is None or sent.ticket is None:
        message.status = InboundMessage.Status.IGNORED
        message.outcome = InboundMessage.Outcome.NOT_ACTED_ON
        return
    if permanent:
        text = _("Mail to %(addresses)s could not be delivered.")
    else:
        text = _("Mail to %(addresses)s is delayed; the mail server keeps trying.")
    body = text % {"addresses": ", ".join(addresses) or sent.to}
    if problem:
        body += "\n" + problem
    comment = ticket_services.comment_add(
        ticket=sent.ticket, by=None, is_internal=True, channel=Channel.EMAIL, body=body
    )
    message.ticket, message.comment = sent.ticket, comment
    message.outcome = InboundMessage.Outcome.BOUNCE_RECORDED


def _answer(
    *, kind: str, context_message: InboundMessage, to: str, dedupe_key: str, extra=None
) -> None:
    """A short automatic answer to a mail that makes no ticket (never to automatic mail)."""
    if context_message.is_automatic or not to:
        return
    from mail.services import outbound

    outbound.outbound_queue(
        kind=kind,
        to=to,
        context={
            "subject": context_message.subject,
            "mailbox_address": context_message.mailbox.address,
            **(extra or {}),
        },
        in_reply_to=context_message.message_id,
        dedupe_key=dedupe_key,
    )


def _answer_unknown_sender(context: _Context) -> None:
    if context.message.is_automatic:
        # A newsletter or a robot: nobody to answer, nothing to act on.
        context.message.status = InboundMessage.Status.IGNORED
        context.message.outcome = InboundMessage.Outcome.NOT_ACTED_ON
        return
    context.message.outcome = InboundMessage.Outcome.UNKNOWN_SENDER_ANSWERED
    _answer(
        kind=OutboundMessage.Kind.UNKNOWN_SENDER,
        context_message=context.message,
        to=context.address,
        dedupe_key=f"unknown_sender:{context.message.pk}",
    )


def _too_large(message: InboundMessage) -> None:
    message.status = InboundMessage.Status.QUARANTINED
    message.reason = InboundMessage.Reason.TOO_LARGE
    message.detail = _("%(size)s bytes; the limit is %(limit)s.") % {
        "size": message.size,
        "limit": settings.MAIL_MAX_BYTES,
    }
    parsed_headers = parsing.header_summary(bytes(message.raw))
    message.is_automatic = _headers_automatic(bytes(message.raw))
    _answer(
        kind=OutboundMessage.Kind.TOO_LARGE,
        context_message=message,
        to=parsed_headers[1].address,
        dedupe_key=f"too_large:{message.pk}",
        extra={"limit_mb": settings.MAIL_MAX_BYTES // (1024 * 1024), "size": message.size},
    )


def _headers_automatic(headers: bytes) -> bool:
    try:
        return parsing.parse_message(headers).auto_kind != parsing.AutoKind.NONE
    except parsing.MailParseError:
        return True  # when in doubt, do not answer
