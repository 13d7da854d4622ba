"""``manage.py ingest_mail --mailbox ADDRESS < message``: the mail server's pipe into the help desk.

For Postfix (``pipe`` transport) or Exim (``pipe`` router): one RFC 822 message on standard
input, stored and processed exactly as a fetched one. It prints the ticket number the mail
created or was added to, ``quarantined <id>`` or ``ignored <id> (<outcome>)``, and exits 0
once the mail is safely stored. Only when it could not even be stored (no such mailbox, the
database unreachable) does it exit 75 (EX_TEMPFAIL), so the mail server keeps the mail and
tries again later.
"""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from mail.models import InboundMessage, Mailbox
from mail.services import ingest

EX_TEMPFAIL = 75
CHUNK = 1024 * 1024


class Command(BaseCommand):
    help = "Read one e-mail from standard input and turn it into a ticket or a reply."

    def add_arguments(self, parser):
        parser.add_argument(
            "--mailbox", required=True, help="the help desk address the mail was sent to"
        )

    def handle(self, *args, mailbox, **options):
        raw, size = self._read(sys.stdin.buffer)
        try:
            box = Mailbox.objects.filter(address__iexact=mailbox.strip(), is_active=True).first()
            if box is None:
                self.stderr.write(f"ingest_mail: no active mailbox serves {mailbox!r}")
                sys.exit(EX_TEMPFAIL)
            if size > settings.MAIL_MAX_BYTES:
                message = ingest.message_receive_oversized(
                    mailbox=box,
                    headers=raw,
                    size=size,
                    source=InboundMessage.Source.PIPE,
                )
            else:
                message = ingest.message_receive(
                    mailbox=box, raw=raw, source=InboundMessage.Source.PIPE
                )
        except SystemExit:
            raise
        except Exception as error:
            self.stderr.write(f"ingest_mail: the mail could not be stored: {error}")
            sys.exit(EX_TEMPFAIL)
        self.stdout.write(self._outcome(message))

    def _read(self, stream) -> tuple[bytes, int]:
        """The whole message, or only its headers when it is over the limit (the rest is
        read and counted, never held)."""
        limit = settings.MAIL_MAX_BYTES
        data = stream.read(limit + 1)
        if len(data) <= limit:
            return data, len(data)
        headers = ingest.headers_of(data)
        size = len(data)
        while chunk := stream.read(CHUNK):
            size += len(chunk)
        return headers, size

    def _outcome(self, message: InboundMessage) -> str:
        if message.status == InboundMessage.Status.QUARANTINED:
            return f"quarantined {message.pk}"
        if message.ticket_id:
            number = message.ticket.number
            if message.status == InboundMessage.Status.PROCESSED:
                return number
            return f"{number} ({message.get_outcome_display()})"
        return f"ignored {message.pk} ({message.outcome or message.status})"
