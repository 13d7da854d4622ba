"""``manage.py seed_demo``: the demo organisation and its people, then each app's demo data
(2,000 tickets, the telephony set-up and calls...)."""

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
        for module in demo.app_demo_modules():
            if hasattr(module, "add_arguments"):
                module.add_arguments(parser)

    def handle(self, *args, people, **options):
        app_options = {k: v for k, v in options.items() if k not in ("stdout", "stderr")}
        demo.seed(stdout=self.stdout, people=people, **app_options)
        self.stdout.write("")
        self.stdout.write(
            _("Demo logins (password for all: %(password)s):") % {"password": data.DEMO_PASSWORD}
        )
        for username, label in demo.demo_logins():
            self.stdout.write(f"  {username:<20} {label}")
