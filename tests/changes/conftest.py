from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from changes import services
from changes.models import ApprovalRule, ApprovalStep, ChangeTemplate, ChangeType, Quorum
from helpdesk.roles import Role
from tests.factories import ServiceFactory, SiteFactory, make_user


@pytest.fixture
def board(db):
    """Three change-board members."""
    return [make_user(Role.CHANGE_BOARD, username=f"cab{n}") for n in (1, 2, 3)]


@pytest.fixture
def service(db):
    return ServiceFactory(name="E-mail")


@pytest.fixture
def site(db):
    return SiteFactory(code="waw", name="Warsaw HQ")


def add_rule(change_type=ChangeType.NORMAL, risk="", steps=()):
    """A rule with ``steps``: dicts of ApprovalStep fields (``users`` a list)."""
    rule = ApprovalRule.objects.create(
        name=f"{change_type} {risk}", change_type=change_type, risk=risk
    )
    for order, spec in enumerate(steps, start=1):
        spec = dict(spec)
        users = spec.pop("users", [])
        spec.setdefault("name", f"step {order}")
        spec.setdefault("order", order)
        step = ApprovalStep.objects.create(rule=rule, **spec)
        step.users.set(users)
    return rule


@pytest.fixture
def board_rule(board):
    """Normal and emergency changes: one step, the change board, any one approves."""
    add_rule(ChangeType.NORMAL, steps=[{"change_board": True, "quorum": Quorum.ANY}])
    return add_rule(ChangeType.EMERGENCY, steps=[{"change_board": True, "quorum": Quorum.ANY}])


@pytest.fixture
def template(db, service):
    made = ChangeTemplate.objects.create(
        name="Restart mail queue", implementation_plan="systemctl restart postfix"
    )
    made.services.set([service])
    return made


def window(hours_from_now=24, length=2):
    start = timezone.now().replace(microsecond=0) + timedelta(hours=hours_from_now)
    return start, start + timedelta(hours=length)


def make_change(*, requester, by, **fields):
    fields.setdefault("title", "Upgrade the mail server")
    fields.setdefault("estimated_cost", Decimal("500"))
    start, end = window()
    fields.setdefault("planned_start", start)
    fields.setdefault("planned_end", end)
    return services.change_create(requester=requester, by=by, **fields)


def to_awaiting_approval(change, by):
    change = services.change_submit(change=change, by=by)
    change = services.change_assess(change=change, by=by)
    return services.change_request_approval(change=change, by=by)
