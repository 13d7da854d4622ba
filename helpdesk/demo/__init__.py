"""Demo data for ``manage.py seed_demo`` and the benchmark generator.

``seed()`` builds the demo organisation (sites, groups, services, categories, staff logins,
people), then lets every other app of the project add its own demo data: each installed
project app whose package has a ``demo`` module (``tickets/demo/``, ``cti/demo.py``) with a
``seed(*, stdout, ...)`` function has it called, in the order of ``INSTALLED_APPS``, so an
app's demo can build on the demo of the apps listed before it (cti's calls on tickets'
tickets). Such a module may also define ``add_arguments(parser)`` for options of
``seed_demo`` (``--tickets``); its ``seed`` is given those of the command's options that it
names as keyword arguments.
Each app's ``seed`` must be idempotent, like this one.
"""

from __future__ import annotations

import inspect
import random
import sys
from types import ModuleType

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from helpdesk.demo import data
from helpdesk.discovery import project_app_modules
from helpdesk.models import Person

SEED = 20260401  # fixed: the same demo every time


def app_demo_modules() -> list[ModuleType]:
    """The ``<app>.demo`` modules of this project's apps, in the order of ``INSTALLED_APPS``."""
    modules = project_app_modules("demo", exclude=("helpdesk",))
    return [module for module in modules if callable(getattr(module, "seed", None))]


def seed(*, stdout=None, people: int = 300, **options) -> None:
    """Create whatever part of the demo is missing; running it again changes nothing.

    ``options`` go to the apps' demos (``tickets``: how many tickets)."""
    from helpdesk.demo import organisation

    stdout = stdout or sys.stdout
    with transaction.atomic():
        org = organisation.seed_organisation()
        before = Person.objects.count()
        organisation.seed_people(people, rng=random.Random(SEED), sites=org.sites)
        people_created = Person.objects.count() - before
    stdout.write(
        _("Demo organisation: %(people)d people created.") % {"people": people_created} + "\n"
    )
    for module in app_demo_modules():
        _seed_app(module, stdout=stdout, options=options)


def _seed_app(module: ModuleType, *, stdout, options: dict) -> None:
    # Each app's seed takes the options it names (tickets' ``tickets``; cti's none).
    names = set(inspect.signature(module.seed).parameters) - {"stdout"}
    module.seed(stdout=stdout, **{name: options[name] for name in names & set(options)})


def directory_people() -> QuerySet[Person]:
    """The demo directory's people, Jan Kowalski and the generated ones (not the staff
    logins): the callers, customers and requesters of the apps' demos."""
    staff = [row[0] for row in data.STAFF]
    return Person.objects.filter(email__endswith=f"@{data.EMAIL_DOMAIN}").exclude(
        user__username__in=staff
    )


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
