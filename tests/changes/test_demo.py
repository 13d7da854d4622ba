import io

import pytest

from changes import demo
from changes.models import ApprovalRule, Change, FreezePeriod, State
from helpdesk.roles import Role
from tests.factories import ServiceFactory, SiteFactory, make_user


@pytest.mark.django_db
def test_demo_seeds_rules_freeze_and_three_changes_once(engineer, manager, change_board):
    make_user(Role.ENGINEER, username="engineer.apps")
    ServiceFactory(name="E-mail (Exchange Online)")
    SiteFactory(code="waw-hq"), SiteFactory(code="krk-cc")
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "3 demo changes created" in out.getvalue()
    states = dict(Change.objects.values_list("title", "state"))
    assert sorted(states.values()) == sorted(
        [State.AWAITING_APPROVAL, State.SCHEDULED, State.CLOSED]
    )
    assert ApprovalRule.objects.count() == 2
    assert FreezePeriod.objects.filter(is_global=True).count() == 1
    demo.seed(stdout=out)
    assert "0 demo changes created" in out.getvalue()
    assert Change.objects.count() == 3
