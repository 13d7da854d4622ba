"""Demo data for ``manage.py seed_demo`` and the benchmark generator.

``seed()`` builds the demo organisation (sites, groups, services, categories, staff logins,
people) and its ticket history, then lets every other app of the project add its own demo
data: for each installed app whose package has a ``demo`` module with a ``seed(stdout=...)``
function (for example ``cti/demo.py``), that function is called after the core data exists.
Each app's ``seed`` must be idempotent, like this one.
"""

from __future__ import annotations

import importlib
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk.demo import data

SEED = 20260401  # fixed: the same demo every time


@dataclass
class SeedResult:
    people_created: int
    tickets_created: int


def app_demo_modules() -> list:
    """The ``<app>.demo`` modules of this project's apps (not Django's or third parties')."""
    modules = []
    for config in apps.get_app_configs():
        if config.name == "helpdesk" or not _is_project_app(config):
            continue
        if (
            not (Path(config.path) / "demo.py").exists()
            and not (Path(config.path) / "demo" / "__init__.py").exists()
        ):
            continue
        module = importlib.import_module(f"{config.name}.demo")
        if callable(getattr(module, "seed", None)):
            modules.append(module)
    return modules


def _is_project_app(config) -> bool:
    return Path(config.path).resolve().parent == Path(settings.BASE_DIR).resolve()


def seed(*, stdout=None, people: int = 300, tickets: int = 2000) -> SeedResult:
    """Create whatever part of the demo is missing; running it again changes nothing."""
    from helpdesk.demo import organisation
    from helpdesk.demo import tickets as ticket_demo
    from helpdesk.models import Person

    stdout = stdout or sys.stdout
    rng = random.Random(SEED)
    with transaction.atomic():
        org = organisation.seed_organisation()
        before = Person.objects.count()
        persons = organisation.seed_people(people, rng=rng, sites=org.sites)
        people_created = Person.objects.count() - before
        demo_people = list(persons)
        tickets_created = 0
        already = _demo_tickets_exist(demo_people)
        if not already:
            context = ticket_demo.build_context(
                callers=[
                    ticket_demo.Caller(p.id, p.user_id, p.is_vip)
                    for p in sorted(demo_people, key=lambda p: p.id)
                ]
            )
            jan = next(p for p in demo_people if p.email.startswith(data.DEMO_END_USER[0] + "@"))
            jan_caller = ticket_demo.Caller(jan.id, jan.user_id, jan.is_vip)
            pinned = [
                (jan_caller, "new", "portal"),
                (jan_caller, "in_progress", "phone"),
                (jan_caller, "pending", "email"),
                (jan_caller, "resolved", "portal"),
                (jan_caller, "closed", "phone"),
                (jan_caller, "closed", "chat"),
                (jan_caller, "cancelled", "portal"),
            ]
            tickets_created = ticket_demo.seed_tickets(
                tickets, rng=random.Random(SEED + 1), context=context, pinned=pinned
            )
    stdout.write(
        _("Demo organisation: %(people)d people created, %(tickets)d tickets created.")
        % {"people": people_created, "tickets": tickets_created}
        + "\n"
    )
    for module in app_demo_modules():
        module.seed(stdout=stdout)
    return SeedResult(people_created, tickets_created)


def _demo_tickets_exist(people) -> bool:
    from tickets.models import Ticket

    return Ticket.objects.filter(caller__in=[p.id for p in people]).exists()


def demo_logins() -> list[tuple[str, str]]:
    """(username, what the login is for), in the order the README shows them."""
    labels = {
        "administrator": _("administrator (Django admin)"),
        "first_line_agent": _("first-line agent, Service Desk"),
        "resolver_engineer": _("engineer"),
        "change_board": _("change-board member"),
        "manager": _("manager"),
    }
    logins = []
    for username, _name, role, group, *_rest in data.STAFF:
        label = str(labels[role])
        if role == "resolver_engineer":
            group_name = next(g[1] for g in data.GROUPS if g[0] == group)
            label = f"{label}, {group_name}"
        logins.append((username, label))
    logins.append((data.DEMO_END_USER[0], str(_("end user with tickets"))))
    return logins
