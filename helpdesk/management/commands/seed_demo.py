"""``manage.py seed_demo``: the demo organisation, its people and 2,000 tickets."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from helpdesk import demo
from helpdesk.demo import data


class Command(BaseCommand):
    help = _(
        "Load the demo organisation (sites, groups, services, people, logins) and 2,000 "
        "tickets. Running it again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=300, help=_("people in the directory"))
        parser.add_argument("--tickets", type=int, default=2000, help=_("tickets to create"))

    def handle(self, *args, people, tickets, **options):
        demo.seed(stdout=self.stdout, people=people, tickets=tickets)
        self.stdout.write("")
        self.stdout.write(
            _("Demo logins (password for all: %(password)s):") % {"password": data.DEMO_PASSWORD}
        )
        for username, label in demo.demo_logins():
            self.stdout.write(f"  {username:<20} {label}")
