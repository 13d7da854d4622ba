"""Telephony demo data, called by ``manage.py seed_demo`` after the core demo exists.

A demo PBX with a fixed token and secret (so ``manage.py cti_simulate`` and the README's
curl examples work out of the box), the "service-desk" (default) and "vip" queues of the
Kraków contact center, an extension for every first-line agent (the one in the directory,
``agent`` has 2001, ``agent2`` 2002), presence, and a few past calls including missed ones.
Idempotent: running it again changes nothing.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cti import services
from cti.models import AgentExtension, AgentPresence, Call, CallEvent, CallQueue, Pbx
from helpdesk.models import PhoneNumber, Site, SupportGroup

DEMO_PBX_NAME = "Demo PBX"
DEMO_PBX_TOKEN = "demo-cti-token"
DEMO_PBX_SECRET = "demo-cti-secret"
CONTACT_CENTER = "krk-cc"
# Agents who serve the contact center's queues, and whether they start available.
QUEUE_AGENTS = {"agent": True, "agent2": True, "agent3": False}
VIP_AGENTS = ["agent", "agent2"]


def demo_pbx() -> Pbx | None:
    return Pbx.objects.filter(token=DEMO_PBX_TOKEN).first()


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    with transaction.atomic():
        pbx, calls_created = _seed(stdout)
    stdout.write(
        _("Telephony: PBX %(name)s (token %(token)s), %(calls)d past calls created.")
        % {"name": pbx.name, "token": pbx.token, "calls": calls_created}
        + "\n"
    )


def _seed(stdout) -> tuple[Pbx, int]:
    from helpdesk.demo import data

    User = get_user_model()
    site = Site.objects.filter(code=CONTACT_CENTER).first()
    pbx, _created = Pbx.objects.get_or_create(
        token=DEMO_PBX_TOKEN,
        defaults={
            "name": DEMO_PBX_NAME,
            "kind": Pbx.Kind.GENERIC,
            "secret": DEMO_PBX_SECRET,
            "site": site,
        },
    )
    service_desk = SupportGroup.objects.filter(code=data.FIRST_LINE).first()
    default_queue, _created = CallQueue.objects.get_or_create(
        code="service-desk",
        defaults={
            "name": "Service Desk",
            "site": site,
            "support_group": service_desk,
            "is_default": True,
        },
    )
    vip_queue, _created = CallQueue.objects.get_or_create(
        code="vip",
        defaults={"name": "VIP line", "site": site, "support_group": service_desk, "is_vip": True},
    )
    users = {user.username: user for user in User.objects.filter(username__in=QUEUE_AGENTS)}
    default_queue.members.add(*users.values())
    vip_queue.members.add(*[users[name] for name in VIP_AGENTS if name in users])

    staff = {row[0]: row for row in data.STAFF}
    for user in User.objects.filter(
        username__in=[r[0] for r in data.STAFF if r[2] == "first_line_agent"]
    ):
        extension = staff[user.username][6]
        AgentExtension.objects.get_or_create(
            extension=extension, defaults={"user": user, "pbx": pbx}
        )
    for username, available in QUEUE_AGENTS.items():
        if username in users:
            AgentPresence.objects.get_or_create(
                user=users[username],
                defaults={
                    "state": AgentPresence.State.AVAILABLE
                    if available
                    else AgentPresence.State.AWAY
                },
            )

    if Call.objects.filter(pbx=pbx).exists():
        return pbx, 0
    created = _seed_calls(pbx, users)
    # The past calls moved the agents through busy and after-call work: start them fresh.
    for username, available in QUEUE_AGENTS.items():
        if username in users:
            AgentPresence.objects.filter(user=users[username]).update(
                state=AgentPresence.State.AVAILABLE if available else AgentPresence.State.AWAY,
                current_call=None,
            )
    return pbx, created


def _number_of(email_prefix: str, *, kind: str = PhoneNumber.Kind.DESK) -> str | None:
    phone = (
        PhoneNumber.objects.filter(person__email__startswith=email_prefix + "@", kind=kind)
        .order_by("pk")
        .first()
    )
    return phone.e164 if phone else None


def _seed_calls(pbx: Pbx, users: dict) -> int:
    from helpdesk.demo import data

    now = timezone.now().replace(second=0, microsecond=0)
    jan = _number_of(data.DEMO_END_USER[0]) or "+48225000001"
    someone = (
        PhoneNumber.objects.filter(kind=PhoneNumber.Kind.MOBILE)
        .order_by("pk")
        .values_list("e164", flat=True)
        .first()
        or "+48601000001"
    )
    agent_extension = (
        AgentExtension.objects.filter(user=users.get("agent"))
        .values_list("extension", flat=True)
        .first()
        if users.get("agent")
        else None
    )
    # (minutes ago, caller, answered by extension or None, seconds to answer, talk, cause)
    history = [
        (300, jan, agent_extension, 8, 240, "normalClearing"),
        (180, someone, agent_extension, 15, 95, "normalClearing"),
        (95, jan, None, 40, 0, "noAnswer"),
        (60, "+48 58 300 12 34", None, 25, 0, "cancel"),
        (20, "anonymous", None, 30, 0, "noAnswer"),
    ]
    for index, (ago, caller, answered, wait, talk, cause) in enumerate(history, start=1):
        call_id = f"demo-{index}"
        start = now - timedelta(minutes=ago)
        common = {"pbx": pbx, "source": CallEvent.Source.SIMULATOR}
        services.call_event_ingest(
            **common,
            event=services.PbxEvent(
                kind="ring",
                call_id=call_id,
                caller=caller,
                called="100",
                queue="service-desk",
                occurred_at=start,
            ),
        )
        if answered:
            services.call_event_ingest(
                **common,
                event=services.PbxEvent(
                    kind="answer",
                    call_id=call_id,
                    answering=answered,
                    caller=caller,
                    occurred_at=start + timedelta(seconds=wait),
                ),
            )
        services.call_event_ingest(
            **common,
            event=services.PbxEvent(
                kind="hangup",
                call_id=call_id,
                cause=cause,
                caller=caller,
                occurred_at=start + timedelta(seconds=wait + talk),
            ),
        )
    return len(history)
