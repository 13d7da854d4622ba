"""Change-management demo data for ``manage.py seed_demo``.

- a risk questionnaire (three questions) with thresholds: medium from 3 points, high from 6;
- two standard-change templates;
- approval rules: normal changes (technical: the change board, two approvals; financial,
  above 10,000: the manager), emergency changes (the change board, any one);
- a second change-board member (``cab2``, the demo password), so a quorum of two can meet;
- a freeze period over the year-end (everywhere, emergencies allowed);
- three changes: one awaiting approval with one vote in, one scheduled next week after both
  steps, one standard change closed as successful.

Idempotent: what exists (by name, title or login) is left as it is.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from changes import services
from changes.models import (
    ApprovalRule,
    ApprovalStep,
    Change,
    ChangeTemplate,
    ChangeType,
    CloseCode,
    FreezePeriod,
    Quorum,
    RiskAnswer,
    RiskLevel,
    RiskQuestion,
    RiskThreshold,
)
from helpdesk.models import Person, Service, Site
from helpdesk.roles import Role

WARSAW = ZoneInfo("Europe/Warsaw")

QUESTIONS = [
    ("Does the change need an outage?", [("No", 0), ("Under an hour", 2), ("Longer", 4)]),
    ("Has it been tested outside production?", [("Yes", 0), ("Partly", 1), ("No", 3)]),
    ("Can it be backed out within an hour?", [("Yes", 0), ("No", 3)]),
]  # fmt: skip


def _questionnaire() -> None:
    if RiskQuestion.objects.exists():
        return
    for order, (text, answers) in enumerate(QUESTIONS, start=1):
        question = RiskQuestion.objects.create(text=text, order=order)
        RiskAnswer.objects.bulk_create(
            RiskAnswer(question=question, text=answer, points=points, order=index)
            for index, (answer, points) in enumerate(answers)
        )
    RiskThreshold.objects.get_or_create(level=RiskLevel.MEDIUM, defaults={"min_score": 3})
    RiskThreshold.objects.get_or_create(level=RiskLevel.HIGH, defaults={"min_score": 6})


def _templates() -> None:
    mail = Service.objects.filter(name__startswith="E-mail").first()
    for name, plan in [
        ("Restart the mail transport queue", "Drain the queue, restart the transport service."),
        ("Add a printer to the print server", "Install the driver, publish the queue."),
    ]:
        template, created = ChangeTemplate.objects.get_or_create(
            name=name,
            defaults={
                "implementation_plan": plan,
                "backout_plan": "Undo the step; no data is changed.",
                "test_plan": "Send a test job.",
            },
        )
        if created and mail and "mail" in name:
            template.services.set([mail])


def _second_board_member() -> User | None:
    first = User.objects.filter(username="cab").first()
    if first is None:
        return None
    user, created = User.objects.get_or_create(
        username="cab2",
        defaults={
            "first_name": "Zofia",
            "last_name": "Krawczyk",
            "email": first.email.replace("cab@", "cab2@"),
            "password": first.password,
        },
    )
    if created:
        user.groups.add(Group.objects.get(name=Role.CHANGE_BOARD))
        person = getattr(first, "person", None)
        Person.objects.create(
            user=user,
            full_name="Zofia Krawczyk",
            email=user.email,
            department="IT",
            site=person.site if person else None,
            job_title="IT security officer",
            language=Person.Language.POLISH,
        )
    return user


def _rules(manager: User | None) -> None:
    if not ApprovalRule.objects.filter(change_type=ChangeType.NORMAL, risk="").exists():
        rule = ApprovalRule.objects.create(name="Normal changes", change_type=ChangeType.NORMAL)
        ApprovalStep.objects.create(
            rule=rule,
            name="Technical",
            order=1,
            change_board=True,
            quorum=Quorum.COUNT,
            quorum_value=2,
        )
        financial = ApprovalStep.objects.create(
            rule=rule, name="Financial", order=2, quorum=Quorum.ANY, min_cost=Decimal("10000")
        )
        if manager:
            financial.users.set([manager])
    if not ApprovalRule.objects.filter(change_type=ChangeType.EMERGENCY, risk="").exists():
        rule = ApprovalRule.objects.create(name="Emergency board", change_type=ChangeType.EMERGENCY)
        ApprovalStep.objects.create(
            rule=rule, name="Emergency board", order=1, change_board=True, quorum=Quorum.ANY
        )


def _freeze() -> None:
    year = timezone.localdate().year
    FreezePeriod.objects.get_or_create(
        name=f"Year-end closing {year}",
        defaults={
            "start": datetime(year, 12, 20, tzinfo=WARSAW),
            "end": datetime(year + 1, 1, 3, tzinfo=WARSAW),
            "is_global": True,
            "allows_emergency": True,
        },
    )


def _next_week(hour: int) -> datetime:
    """Tuesday next week at ``hour``, or the first day at that hour after the freezes it
    would fall into (scheduling into a freeze is refused: a demo seeded in December)."""
    day = timezone.localdate() + timedelta(days=7 - timezone.localdate().weekday() + 1)
    start = datetime(day.year, day.month, day.day, hour, tzinfo=WARSAW)
    return _clear_of_freezes(start, timedelta(hours=4))


def _clear_of_freezes(start: datetime, length: timedelta, *, earlier: bool = False) -> datetime:
    """``start`` moved by whole days out of the freeze periods [start, start + length)
    overlaps: later, or ``earlier`` (for work already done)."""
    for _attempt in range(10):
        freeze = (
            FreezePeriod.objects.filter(start__lt=start + length, end__gt=start)
            .order_by("start")
            .first()
        )
        if freeze is None:
            break
        if earlier:
            start -= timedelta(days=(start + length - freeze.start).days + 1)
        else:
            start += timedelta(days=(freeze.end - start).days + 1)
    return start


def _changes(users: dict[str, User]) -> int:
    needed = ("engineer", "engineer.apps", "cab", "cab2", "manager")
    if any(name not in users for name in needed):
        return 0
    made = 0
    requester = getattr(users["engineer.apps"], "person", None)
    if requester is None:
        return 0
    mail = list(Service.objects.filter(name__startswith="E-mail")[:1])
    waw = list(Site.objects.filter(code="waw-hq")[:1])
    krk = list(Site.objects.filter(code="krk-cc")[:1])
    engineer = users["engineer"]

    title = "Upgrade the Exchange transport servers"
    if not Change.objects.filter(title=title).exists():
        change = services.change_create(
            requester=requester,
            by=users["engineer.apps"],
            title=title,
            justification="The current version leaves support in March.",
            services=mail,
            sites=waw,
            estimated_cost=Decimal("4500"),
            budget_line="IT-OPEX-2027-MAIL",
            planned_start=_next_week(20),
            planned_end=_next_week(23),
            implementation_plan="Rolling upgrade, one server at a time.",
            backout_plan="Fail back to the old nodes.",
            test_plan="Send and receive through each node.",
        )
        change = services.change_submit(change=change, by=users["engineer.apps"])
        change = services.change_assess(change=change, by=engineer)
        change = services.change_request_approval(change=change, by=engineer)
        services.vote_cast(
            change=change, by=users["cab"], decision="approve", comment="Plan is sound."
        )
        made += 1

    title = "Replace the core switch in Kraków"
    if not Change.objects.filter(title=title).exists():
        change = services.change_create(
            requester=requester,
            by=engineer,
            title=title,
            justification="The switch is out of vendor support; two outages this year.",
            sites=krk,
            estimated_cost=Decimal("24000"),
            budget_line="IT-CAPEX-2027-NET",
            planned_start=_next_week(22),
            planned_end=_next_week(22) + timedelta(hours=4),
            implementation_plan="Pre-stage config, swap at night, re-patch.",
            backout_plan="Re-patch to the old switch.",
            test_plan="Calls and logins from the contact center.",
        )
        change = services.change_submit(change=change, by=engineer)
        change = services.change_assess(change=change, by=engineer)
        change = services.change_request_approval(change=change, by=engineer)
        for voter in ("cab", "cab2"):
            services.vote_cast(change=change, by=users[voter], decision="approve", comment="OK")
        services.vote_cast(
            change=change, by=users["manager"], decision="approve", comment="Budgeted."
        )
        services.change_schedule(change=Change.objects.get(pk=change.pk), by=engineer)
        made += 1

    template = ChangeTemplate.objects.filter(name="Restart the mail transport queue").first()
    title = "Restart the mail transport queue after the certificate renewal"
    if template and not Change.objects.filter(title=title).exists():
        start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
        start = _clear_of_freezes(start, timedelta(minutes=30), earlier=True)
        change = services.change_create(
            requester=requester,
            by=engineer,
            title=title,
            template=template,
            planned_start=start,
            planned_end=start + timedelta(minutes=30),
        )
        change = services.change_submit(change=change, by=engineer)
        change = services.change_schedule(change=change, by=engineer)
        change = services.change_implement(change=change, by=engineer)
        change = services.change_finish(change=change, by=engineer, code=CloseCode.SUCCESSFUL)
        services.change_close(change=change, by=engineer, result="Queue drained in 4 minutes.")
        made += 1
    return made


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    with transaction.atomic():
        _questionnaire()
        _templates()
        _second_board_member()
        users = {
            user.username: user
            for user in User.objects.filter(
                username__in=["engineer", "engineer.apps", "cab", "cab2", "manager"]
            ).select_related("person")
        }
        _rules(users.get("manager"))
        _freeze()
        made = _changes(users)
    stdout.write(f"changes: {made} demo changes created\n")
