"""The IMAP side of a mailbox: connect, sign in, and the few commands the fetcher needs.

Built on imap-tools (for the connection classes and folder handling) with the commands
that matter issued by UID and spelled out here, so that nothing marks a mail as seen
implicitly (``BODY.PEEK``), nothing expunges more than asked (``UID EXPUNGE`` where the
server has UIDPLUS), and the size of a mail is known before it is downloaded.

Every failure is raised as an :class:`ImapError` whose message is for the administrator:
:class:`ImapConnectionLost` when the connection is gone (nothing more can be done in this
session), :class:`ImapCommandError` when the server refused one command (the session is
still usable).
"""

import contextlib
import imaplib
import logging
import re
import ssl

from django.utils.translation import gettext as _
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError
from imap_tools.utils import encode_folder

from mail import oauth
from mail.models import Mailbox

logger = logging.getLogger("mail.imap")

# Seconds any one network operation (connect, a read) may take before the connection is
# given up as lost.
TIMEOUT_SECONDS = 60

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The mailbox could not be read; the message says why, for the administrator."""


class ImapConnectionLost(ImapError):
    """The server could not be reached, or the connection broke off."""


class ImapCommandError(ImapError):
    """The server refused a command; the connection is still usable."""


def ssl_context(mailbox: Mailbox) -> ssl.SSLContext:
    if mailbox.verify_certificate:
        return ssl.create_default_context()
    # The administrator's choice for a server with a self-signed certificate: the
    # connection is still encrypted, only the server's identity is not checked.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(mailbox: Mailbox) -> "ImapConnection":
    """A signed-in session with the mailbox's server (no folder selected yet)."""
    server = f"{mailbox.host}:{mailbox.port}"
    try:
        if mailbox.security == Mailbox.Security.IMAPS:
            box = MailBox(
                mailbox.host,
                mailbox.port,
                timeout=TIMEOUT_SECONDS,
                ssl_context=ssl_context(mailbox),
            )
        elif mailbox.security == Mailbox.Security.STARTTLS:
            box = MailBoxStartTls(
                mailbox.host,
                mailbox.port,
                timeout=TIMEOUT_SECONDS,
                ssl_context=ssl_context(mailbox),
            )
        else:
            box = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=TIMEOUT_SECONDS)
    except ssl.SSLCertVerificationError as error:
        raise ImapConnectionLost(
            _(
                "The certificate of %(server)s could not be verified (%(reason)s). If the "
                "server uses a self-signed certificate, turn off “verify the server's "
                "certificate” for this mailbox."
            )
            % {"server": server, "reason": error.verify_message or error}
        ) from error
    except (ImapToolsError, imaplib.IMAP4.error) as error:
        if mailbox.security == Mailbox.Security.STARTTLS and "STARTTLS" in str(error).upper():
            message = _("%(server)s did not start TLS: %(reason)s")
        else:
            message = _("%(server)s did not answer as an IMAP server: %(reason)s")
        raise ImapConnectionLost(
            message % {"server": server, "reason": _reason(error)}
            + " "
            + _("Is the connection security right for this port?")
        ) from error
    except (OSError, ValueError) as error:
        message = _("The IMAP server %(server)s could not be reached: %(reason)s") % {
            "server": server,
            "reason": _reason(error),
        }
        if isinstance(error, ssl.SSLError | TimeoutError):
            # TLS spoken to a plain port, or plain text to a TLS port (the server waits).
            message += " " + _("Is the connection security right for this port?")
        raise ImapConnectionLost(message) from error
    connection = ImapConnection(box, server=server)
    try:
        connection.sign_in(mailbox)
    except BaseException:
        connection.close()
        raise
    return connection


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return _("no answer within %(seconds)s s") % {"seconds": TIMEOUT_SECONDS}
    command_result = getattr(error, "command_result", None)  # imap-tools: (status, data)
    if command_result:
        return _text(command_result[1]) or str(command_result[0])
    return str(error) or type(error).__name__


class ImapConnection:
    """One IMAP session. Use as a context manager: it logs out (or just closes) at the end."""

    def __init__(self, box: BaseMailBox, *, server: str):
        self.box = box
        self.client: imaplib.IMAP4 = box.client
        self.server = server
        self.broken = False
        self.capabilities: set[str] = {str(cap).upper() for cap in self.client.capabilities}

    def __enter__(self) -> "ImapConnection":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Log out politely; on a broken connection just close the socket."""
        try:
            # A broken connection gets no LOGOUT: a server that stopped answering would
            # keep us waiting for the whole timeout again.
            if not self.broken and self.client.state in ("AUTH", "SELECTED"):
                self.client.logout()
        except Exception:  # the session is over either way
            logger.debug("logout from %s failed", self.server, exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                self.client.shutdown()

    @contextlib.contextmanager
    def _errors(self):
        """Translate what imaplib and imap-tools raise into our two kinds of error."""
        try:
            yield
        except imaplib.IMAP4.abort as error:
            self.broken = True
            raise ImapConnectionLost(self._lost(error)) from error
        except (ImapToolsError, imaplib.IMAP4.error) as error:
            raise ImapCommandError(
                _("The IMAP server %(server)s refused a command: %(reason)s")
                % {"server": self.server, "reason": _reason(error)}
            ) from error
        except OSError as error:
            self.broken = True
            raise ImapConnectionLost(self._lost(error)) from error

    def _lost(self, error: BaseException) -> str:
        return _("The connection to %(server)s was lost: %(reason)s") % {
            "server": self.server,
            "reason": _reason(error),
        }

    def _uid(self, command: str, *args) -> list:
        """``UID <command> <args>``; the untagged data, or ImapCommandError on NO."""
        with self._errors():
            status, data = self.client.uid(command, *args)
        if status != "OK":
            raise ImapCommandError(
                _("The IMAP server %(server)s refused %(command)s: %(reason)s")
                % {"server": self.server, "command": f"UID {command}", "reason": _text(data)}
            )
        return data

    # Signing in.

    def sign_in(self, mailbox: Mailbox) -> None:
        if mailbox.auth_method == Mailbox.AuthMethod.OAUTH2:
            self._sign_in_oauth(mailbox)
        else:
            self._sign_in_password(mailbox)
        # What the server offers after the sign-in (MOVE, UIDPLUS) is often more than it
        # announced to an anonymous client.
        with self._errors():
            status, data = self.client.capability()
        if status == "OK" and data and data[-1]:
            self.capabilities = set(_text(data).upper().split())

    def _refused(self, mailbox: Mailbox, error: BaseException) -> ImapCommandError:
        return ImapCommandError(
            _("The IMAP server %(server)s refused the sign-in of %(user)s: %(reason)s")
            % {"server": self.server, "user": mailbox.username, "reason": _reason(error)}
        )

    def _sign_in_password(self, mailbox: Mailbox) -> None:
        password = mailbox.get_password()
        if not password:
            raise ImapCommandError(
                _("No password is stored for this mailbox (or its environment variable is empty).")
            )
        try:
            with self._errors():
                if (mailbox.username + password).isascii():
                    self.box.login(mailbox.username, password, initial_folder=None)
                else:
                    # LOGIN is ASCII only; SASL PLAIN carries UTF-8.
                    self.box.login_utf8(mailbox.username, password, initial_folder=None)
        except ImapCommandError as error:
            raise self._refused(mailbox, error.__cause__ or error) from error

    def _sign_in_oauth(self, mailbox: Mailbox) -> None:
        was_fresh = not oauth.needs_refresh(mailbox)
        token = oauth.access_token(mailbox)
        try:
            self._xoauth2(mailbox.username, token)
        except ImapCommandError as error:
            if not was_fresh:
                raise self._refused(mailbox, error.__cause__ or error) from error
            # A token we had kept was refused before its time (revoked): one new one.
            logger.info("%s refused a stored access token; renewing it", self.server)
            token = oauth.access_token(mailbox, force_refresh=True)
            try:
                self._xoauth2(mailbox.username, token)
            except ImapCommandError as again:
                raise self._refused(mailbox, again.__cause__ or again) from again

    def _xoauth2(self, username: str, token: str) -> None:
        answered = False

        def answer(challenge: bytes) -> bytes:
            nonlocal answered
            if answered:
                # The server's challenge after a refusal is its error (JSON); an empty
                # answer ends the exchange and the server then says NO.
                return b""
            answered = True
            return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()

        with self._errors():
            status, data = self.client.authenticate("XOAUTH2", answer)
        if status != "OK":
            raise ImapCommandError(_text(data))

    # Folders.

    def select(self, folder: str) -> None:
        try:
            with self._errors():
                self.box.folder.set(folder)
        except ImapCommandError as error:
            raise ImapCommandError(
                _("The folder “%(folder)s” could not be opened on %(server)s: %(reason)s")
                % {
                    "folder": folder,
                    "server": self.server,
                    "reason": _reason(error.__cause__ or error),
                }
            ) from error

    def ensure_folder(self, folder: str) -> None:
        with self._errors():
            if not self.box.folder.exists(folder):
                self.box.folder.create(folder)
                logger.info("created folder %r on %s", folder, self.server)

    # Mail.

    def search(self, criteria: str) -> list[str]:
        """UIDs of the selected folder's mails matching ``criteria``, oldest first."""
        data = self._uid("SEARCH", criteria)
        uids = _text(data).split()
        return sorted((uid for uid in uids if uid.isdigit()), key=int)

    def sizes(self, uids: list[str]) -> dict[str, int]:
        """``RFC822.SIZE`` of each UID still there; nothing is downloaded."""
        if not uids:
            return {}
        sizes = {}
        for item in self._uid("FETCH", ",".join(uids), "(UID RFC822.SIZE)"):
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid and size:
                sizes[uid.group(1).decode()] = int(size.group(1))
        return sizes

    def fetch_message(self, uid: str) -> bytes | None:
        """The whole mail, leaving its flags as they were; None when it is gone."""
        return self._fetch_literal(uid, "BODY.PEEK[]")

    def fetch_header(self, uid: str) -> bytes | None:
        """The header of the mail only, leaving its flags as they were."""
        return self._fetch_literal(uid, "BODY.PEEK[HEADER]")

    def _fetch_literal(self, uid: str, part: str) -> bytes | None:
        data = self._uid("FETCH", uid, f"(UID {part})")
        # The answer may carry other mails' unsolicited flag updates: take the literal whose
        # UID (before or after it) is the one asked for.
        for index, item in enumerate(data):
            if not isinstance(item, tuple) or len(item) < 2:
                continue
            around = item[0]
            if index + 1 < len(data) and isinstance(data[index + 1], bytes):
                around += data[index + 1]
            found = _UID.search(around)
            if found is None or found.group(1).decode() == uid:
                return item[1]
        return None

    def mark_seen(self, uid: str) -> None:
        self._uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")

    def move(self, uid: str, folder: str) -> None:
        if "MOVE" in self.capabilities:
            self._uid("MOVE", uid, encode_folder(folder))
        else:
            self._uid("COPY", uid, encode_folder(folder))
            self.delete(uid)

    def delete(self, uid: str) -> None:
        self._uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in self.capabilities:
            self._uid("EXPUNGE", uid)
        else:
            # Without UIDPLUS an expunge removes every mail flagged deleted in the folder.
            with self._errors():
                status, data = self.client.expunge()
            if status != "OK":
                raise ImapCommandError(
                    _("The IMAP server %(server)s refused EXPUNGE: %(reason)s")
                    % {"server": self.server, "reason": _text(data)}
                )


def _text(data) -> str:
    parts = []
    for item in data or ():
        if isinstance(item, tuple):
            item = item[0]
        if isinstance(item, bytes):
            item = item.decode(errors="replace")
        if item:
            parts.append(str(item))
    return " ".join(parts)
