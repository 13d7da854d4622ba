"""Mail demo data, called by ``manage.py seed_demo`` after the core demo exists.

One mailbox serving ``servicedesk@mobilnet.example`` without an IMAP host: the mail server
pipes into it (``manage.py ingest_mail --mailbox servicedesk@mobilnet.example``), so a
newcomer can pipe a mail into ``make run``'s instance and watch the ticket appear in the
Service Desk queue. Unknown senders get a ticket (and become people marked as from mail);
only a ticket's participants may append to it by its subject tag. Idempotent.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.utils.translation import gettext as _

from helpdesk.demo import data
from helpdesk.models import SupportGroup
from mail.models import Mailbox

DEMO_MAILBOX_NAME = "Service Desk"


def demo_address() -> str:
    return settings.DEFAULT_FROM_EMAIL


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    group = SupportGroup.objects.filter(code=data.FIRST_LINE).first()
    _mailbox, created = Mailbox.objects.get_or_create(
        address=demo_address(),
        defaults={
            "name": DEMO_MAILBOX_NAME,
            "default_group": group,
            "unknown_senders": Mailbox.UnknownSenders.CREATE_PERSON,
            "reply_senders": Mailbox.ReplySenders.PARTICIPANTS,
            "is_active": True,
        },
    )
    if created:
        stdout.write(
            _("Mail demo: mailbox %(address)s (pipe mail in with manage.py ingest_mail).")
            % {"address": demo_address()}
            + "\n"
        )
