"""``manage.py fetch_mail [--mailbox NAME]``: fetch the IMAP mailboxes once, now.

What the periodic task ``mail.fetch_all_mailboxes`` does, for a cron job or a first check
of a new mailbox. One line per mailbox: how many mails were taken, quarantined (taken, but
waiting for an agent in the quarantine) and failed (left on the server for the next
fetch). Exits 1 when a mailbox could not be reached or its connection broke off.
"""

from django.core.management.base import BaseCommand, CommandError

from mail.models import Mailbox
from mail.services import fetch


class Command(BaseCommand):
    help = "Fetch new mail from the IMAP mailboxes once."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", help="only this mailbox (its name)")

    def handle(self, *args, mailbox=None, **options):
        if mailbox is None:
            results = fetch.fetch_all()
            if not results:
                self.stdout.write("No active mailbox has an IMAP host.")
        else:
            box = Mailbox.objects.filter(name=mailbox).first()
            if box is None:
                raise CommandError(f"No mailbox is named {mailbox!r}.")
            if not box.is_active:
                raise CommandError(f"The mailbox {box.name!r} is not active.")
            if not box.fetches:
                raise CommandError(
                    f"The mailbox {box.name!r} has no IMAP host: it only takes piped mail."
                )
            results = [fetch.mailbox_fetch(mailbox=box)]

        unreachable = []
        for result in results:
            if result.skipped:
                self.stdout.write(f"{result.mailbox}: skipped, {result.skipped}")
                continue
            line = (
                f"{result.mailbox}: {result.taken} taken, {result.quarantined} quarantined, "
                f"{result.failed} failed"
            )
            if result.error:
                unreachable.append(result.mailbox)
                self.stdout.write(self.style.ERROR(f"{line}; error: {result.error}"))
            elif result.failed:
                self.stdout.write(
                    self.style.WARNING(f"{line}; first problem: {result.problems[0]}")
                )
            else:
                self.stdout.write(line)
        if unreachable:
            raise CommandError("Could not be fetched: " + ", ".join(unreachable), returncode=1)
