"""Fetching mail from the mailboxes' IMAP servers into :mod:`mail.services.ingest`.

A mail leaves the server's inbox (is marked seen, moved or deleted, as the mailbox says)
only after ingest has returned, that is after it is stored and its ticket committed, or it
is quarantined. Whatever breaks in between, the mail is still on the server: the next fetch
downloads it again, and ingest, finding the same Message-ID stored, creates nothing twice
and lets this module finish the job on the server.

There is deliberately no transaction around a fetch: each mail commits on its own in
ingest, so what was taken stays taken when a later one fails or the connection drops.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mail import imap, oauth
from mail.models import InboundMessage, Mailbox
from mail.services import ingest

logger = logging.getLogger("mail.fetch")

# A fetch of a mailbox holds this lock so that an overlapping one (a beat tick while a slow
# fetch still runs) skips instead of downloading the same mails again. With the embedded
# local-memory cache the lock is per process; ingest's dedupe is what makes overlaps safe.
LOCK_SECONDS = 15 * 60


@dataclass
class FetchResult:
    """What one fetch of one mailbox did."""

    mailbox: str
    taken: int = 0  # stored and acted on, and marked / moved / deleted on the server
    quarantined: int = 0  # stored but quarantined (too large, unreadable, failed), and marked
    failed: int = 0  # left on the server as it was, to be tried again by the next fetch
    error: str = ""  # the mailbox could not be read at all, or the connection broke off
    problems: list[str] = field(default_factory=list)  # why mails failed
    skipped: str = ""  # why nothing was tried (another fetch running, no IMAP host)

    @property
    def reached(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        """One line for a person (the admin's "fetch now" message)."""
        if self.skipped:
            return _("skipped: %(reason)s") % {"reason": self.skipped}
        text = ", ".join(
            [
                _("mails taken: %(count)d") % {"count": self.taken},
                _("quarantined: %(count)d") % {"count": self.quarantined},
                _("failed: %(count)d") % {"count": self.failed},
            ]
        )
        if self.error:
            text += "; " + self.error
        return text


def fetch_all() -> list[FetchResult]:
    """Fetch every active mailbox that has an IMAP host; one failing never stops the others."""
    results = []
    for mailbox in Mailbox.objects.filter(is_active=True).exclude(host=""):
        try:
            results.append(mailbox_fetch(mailbox=mailbox))
        except Exception as error:  # the next mailbox must still be fetched
            logger.exception("mailbox %s: fetch failed", mailbox.name)
            results.append(FetchResult(mailbox=mailbox.name, error=str(error)))
    return results


def mailbox_fetch(*, mailbox: Mailbox) -> FetchResult:
    """Take up to ``MAIL_FETCH_BATCH`` new mails from the mailbox's folder.

    Never raises for what the server, the network or the OAuth2 provider do: the error is
    in the result, logged, and saved on the mailbox (``last_error``), which a fetch without
    trouble clears."""
    result = FetchResult(mailbox=mailbox.name)
    if not mailbox.fetches:
        result.skipped = _("the mailbox has no IMAP host; it only takes mail piped in")
        return result
    lock = f"mail.fetch.lock:{mailbox.pk}"
    if not cache.add(lock, True, LOCK_SECONDS):
        logger.info("mailbox %s: another fetch is running; skipped", mailbox.name)
        result.skipped = _("another fetch of this mailbox is running")
        return result
    try:
        _fetch(mailbox, result)
    except (imap.ImapError, oauth.OAuthError) as error:
        result.error = str(error)
        logger.warning("mailbox %s: %s", mailbox.name, error)
    except Exception as error:  # recorded on the mailbox for its admin
        logger.exception("mailbox %s: fetch failed", mailbox.name)
        result.error = _("The fetch failed unexpectedly: %(error)s") % {
            "error": f"{type(error).__name__}: {error}"
        }
    finally:
        cache.delete(lock)
    _record(mailbox, result)
    return result


def _fetch(mailbox: Mailbox, result: FetchResult) -> None:
    after = mailbox.after_fetch
    if after == Mailbox.AfterFetch.MOVE:
        if not mailbox.move_to_folder:
            raise imap.ImapError(
                _("Mails are to be moved once taken, but no folder to move them to is set.")
            )
        if mailbox.move_to_folder == mailbox.folder:
            raise imap.ImapError(
                _("Mails are to be moved once taken, but into the folder they are read from.")
            )
    with imap.connect(mailbox) as connection:
        connection.select(mailbox.folder)
        if after == Mailbox.AfterFetch.MOVE:
            connection.ensure_folder(mailbox.move_to_folder)
        # Marked seen: the unseen ones are new. Moved or deleted: whatever is left is new
        # (except what someone flagged deleted and did not expunge yet).
        criteria = "UNSEEN" if after == Mailbox.AfterFetch.MARK_SEEN else "UNDELETED"
        uids = connection.search(criteria)[: settings.MAIL_FETCH_BATCH]
        sizes = connection.sizes(uids)
        for uid in uids:
            if uid in sizes:  # else expunged by someone else meanwhile
                _take(connection, mailbox, uid, sizes[uid], result)
    logger.info(
        "mailbox %s: %s taken, %s quarantined, %s failed",
        mailbox.name,
        result.taken,
        result.quarantined,
        result.failed,
    )


def _take(
    connection: imap.ImapConnection, mailbox: Mailbox, uid: str, size: int, result: FetchResult
) -> None:
    """Download one mail, hand it to ingest, and once ingest returns, finish it on the server."""
    try:
        if size > settings.MAIL_MAX_BYTES:
            headers = connection.fetch_header(uid)
            if headers is None:
                return
            message = ingest.message_receive_oversized(
                mailbox=mailbox,
                headers=headers,
                size=size,
                source=InboundMessage.Source.IMAP,
                server_uid=uid,
            )
        else:
            raw = connection.fetch_message(uid)
            if raw is None:
                return
            message = ingest.message_receive(
                mailbox=mailbox, raw=raw, source=InboundMessage.Source.IMAP, server_uid=uid
            )
    except imap.ImapConnectionLost:
        raise
    except imap.ImapCommandError as error:
        _failed(result, mailbox, uid, str(error))
        return
    except Exception as error:  # this mail stays on the server; the rest go on
        logger.exception(
            "mailbox %s: UID %s could not be stored; left on the server", mailbox.name, uid
        )
        _failed(result, mailbox, uid, f"{type(error).__name__}: {error}")
        return

    try:
        _after_fetch(connection, mailbox, uid)
    except imap.ImapConnectionLost:
        result.failed += 1  # stored; the next fetch finds it stored and finishes it
        raise
    except imap.ImapCommandError as error:
        _failed(result, mailbox, uid, str(error))
        return
    if message.status == InboundMessage.Status.QUARANTINED:
        result.quarantined += 1
    else:
        result.taken += 1
    logger.info(
        "mailbox %s: UID %s taken as mail %s (%s)",
        mailbox.name,
        uid,
        message.pk,
        message.outcome or message.status,
    )


def _after_fetch(connection: imap.ImapConnection, mailbox: Mailbox, uid: str) -> None:
    if mailbox.after_fetch == Mailbox.AfterFetch.MOVE:
        connection.move(uid, mailbox.move_to_folder)
    elif mailbox.after_fetch == Mailbox.AfterFetch.DELETE:
        connection.delete(uid)
    else:
        connection.mark_seen(uid)


def _failed(result: FetchResult, mailbox: Mailbox, uid: str, reason: str) -> None:
    result.failed += 1
    result.problems.append(reason)
    logger.warning("mailbox %s: UID %s left on the server: %s", mailbox.name, uid, reason)


def _record(mailbox: Mailbox, result: FetchResult) -> None:
    """Save on the mailbox how the fetch went, for the admin's list of mailboxes."""
    if result.skipped:
        return
    now = timezone.now()
    error = result.error
    if not error and result.failed:
        error = ngettext(
            "%(count)d mail could not be taken and stays on the server for the next fetch: "
            "%(reason)s",
            "%(count)d mails could not be taken and stay on the server for the next fetch; "
            "the first: %(reason)s",
            result.failed,
        ) % {"count": result.failed, "reason": result.problems[0] if result.problems else "?"}
    if error:
        mailbox.last_error, mailbox.last_error_at = error, now
    else:
        mailbox.last_error, mailbox.last_error_at = "", None
    fields = ["last_error", "last_error_at"]
    if result.reached:
        mailbox.last_fetch_at = now
        fields.append("last_fetch_at")
    mailbox.save(update_fields=fields)
