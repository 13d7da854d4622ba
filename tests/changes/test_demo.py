import io
from datetime import timedelta

import pytest
from django.utils import timezone

from changes import demo
from changes.models import ApprovalRule, Change, FreezePeriod, State
from changes.selectors import change_conflicts
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


@pytest.mark.django_db
def test_demo_books_its_changes_around_freezes(engineer, manager, change_board):
    # Seeded in December: next week and the last days fall into a freeze.
    make_user(Role.ENGINEER, username="engineer.apps")
    ServiceFactory(name="E-mail (Exchange Online)")
    SiteFactory(code="waw-hq"), SiteFactory(code="krk-cc")
    now = timezone.now()
    FreezePeriod.objects.create(
        name="Closing", start=now - timedelta(days=5), end=now + timedelta(days=16), is_global=True
    )
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "3 demo changes created" in out.getvalue()
    for change in Change.objects.filter(state__in=[State.SCHEDULED, State.CLOSED]):
        assert not change_conflicts(change).freezes, change
