"""Mass-outage demo data for ``manage.py seed_demo``: one active outage, "VPN gateway
Warsaw degraded" (VPN & remote access at Warszawa HQ, expected to end in two hours),
declared by the demo agent, with the demo end user's ticket about it attached when that
user has one about the VPN.

Idempotent: an outage with the title is left as it is.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from helpdesk.models import Service, Site
from outages import services
from outages.models import Outage

TITLE = "VPN gateway Warsaw degraded"


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    if Outage.objects.filter(title=TITLE).exists():
        stdout.write("outages: demo outage exists\n")
        return
    agent = User.objects.filter(username="agent").select_related("person").first()
    vpn = Service.objects.filter(name="VPN & remote access").first()
    site = Site.objects.filter(code="waw-hq").first()
    if agent is None or vpn is None or getattr(agent, "person", None) is None:
        stdout.write("outages: no demo agent or VPN service, skipped\n")
        return
    now = timezone.now()
    outage = services.outage_declare(
        by=agent,
        title=TITLE,
        description=(
            "The VPN gateway in Warsaw is overloaded: connections drop or are slow. "
            "Work from the office network where you can."
        ),
        description_pl=(
            "Brama VPN w Warszawie jest przeciążona: połączenia zrywają się lub działają "
            "wolno. Jeśli możesz, pracuj w sieci biurowej."
        ),
        services=[vpn],
        sites=[site] if site else [],
        started_at=now - timedelta(minutes=40),
        expected_end=now + timedelta(hours=2),
    )
    services.outage_update(
        outage=outage,
        by=agent,
        expected_end=now + timedelta(hours=2, minutes=30),
        description=outage.description,
        description_pl=outage.description_pl,
        note="The vendor needs more time to replace the failed module.",
    )
    stdout.write(f"outages: demo outage {outage.parent_ticket.number} declared\n")
