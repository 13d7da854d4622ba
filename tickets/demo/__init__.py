"""The demo's ticket history, called by ``manage.py seed_demo`` once the demo organisation
exists (:mod:`helpdesk.demo`).

2,000 tickets by default, raised by the demo directory's people over the last 90 days, in
every state and channel, with a mass incident, and a fixed set for Jan Kowalski (the end
user every demo shows). Deterministic, and idempotent: once the demo people have tickets,
running it again creates none.
"""

from __future__ import annotations

import random
import sys

from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk.demo import SEED, directory_people
from helpdesk.demo import data as directory
from tickets.demo import canned, stories
from tickets.models import Ticket

# Jan Kowalski's tickets, the first ones written: (status, channel).
DEMO_END_USER_TICKETS = [
    ("new", "portal"),
    ("in_progress", "phone"),
    ("pending", "email"),
    ("resolved", "portal"),
    ("closed", "phone"),
    ("closed", "chat"),
    ("cancelled", "portal"),
]


def add_arguments(parser) -> None:
    """``manage.py seed_demo --tickets N``."""
    parser.add_argument("--tickets", type=int, default=2000, help=_("tickets to create"))


def seed(*, stdout=None, tickets: int = 2000) -> int:
    """Write ``tickets`` demo tickets unless the demo people have some; returns how many
    were created."""
    stdout = stdout or sys.stdout
    created = 0
    with transaction.atomic():
        people = list(directory_people().order_by("id"))
        if people and not Ticket.objects.filter(caller__in=people).exists():
            created = _seed(people, tickets)
    stdout.write(_("Demo tickets: %(tickets)d tickets created.") % {"tickets": created} + "\n")
    replies = canned.seed_canned_replies()
    stdout.write(_("Demo canned replies: %(count)d created.") % {"count": replies} + "\n")
    return created


def _seed(people, count: int) -> int:
    callers = [stories.Caller(p.id, p.user_id, p.is_vip) for p in people]
    context = stories.build_context(callers=callers)
    jan_email = f"{directory.DEMO_END_USER[0]}@{directory.EMAIL_DOMAIN}"
    jan = next(caller for caller, p in zip(callers, people, strict=True) if p.email == jan_email)
    pinned = [(jan, status, channel) for status, channel in DEMO_END_USER_TICKETS]
    return stories.seed_tickets(count, rng=random.Random(SEED + 1), context=context, pinned=pinned)
