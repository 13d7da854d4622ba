"""sla.statements answers what the ORM answers (the SLA listener's written-out reads)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F

from sla import statements
from sla.models import SlaClock, Target
from tests.factories import PersonFactory, make_ticket
from tests.sla.test_clocks import H, always, on_commit, policies  # noqa: F401
from tickets import services
from tickets.models import PendingReason, Ticket

pytestmark = pytest.mark.django_db


def _orm_values(instance, names):
    return {name: getattr(instance, name) for name in names}


def test_the_ticket_read_matches_the_orm(policies, agent, end_user, on_commit):  # noqa: F811
    ticket = make_ticket(caller=end_user.person)
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket.refresh_from_db()
    services.transition_take(
        ticket=ticket,
        by=agent,
        name="pend",
        expected_version=ticket.version,
        reason=PendingReason.USER,
        note="Waiting for the user",
    )
    vip = PersonFactory(is_vip=True)  # a caller without a login
    for expected in (Ticket.objects.get(pk=ticket.pk), make_ticket(caller=vip)):
        read = statements.ticket_for_clocks(expected.pk)
        attnames = [Ticket._meta.get_field(name).attname for name in statements.TICKET_FIELDS]
        assert _orm_values(read, attnames) == _orm_values(expected, attnames)
        assert read.get_deferred_fields() >= {"title", "description"}
        caller = expected.caller
        assert (read.caller.pk, read.caller.is_vip, read.caller.user_id) == (
            caller.pk,
            caller.is_vip,
            caller.user_id,
        )
    assert statements.ticket_for_clocks(10**9) is None


def test_the_running_clocks_match_the_orm_with_policy_and_calendar_attached(
    policies,  # noqa: F811
    agent,
    end_user,
    on_commit,  # noqa: F811
    django_assert_num_queries,
):
    ticket = make_ticket(caller=end_user.person)
    services.comment_add(ticket=ticket, by=agent, body="On it.")  # stops the first response
    services.comment_add(ticket=ticket, by=end_user, body="Still broken.")  # next response
    expected = {
        clock.pk: clock
        for clock in SlaClock.objects.filter(ticket=ticket, stopped_at__isnull=True).select_related(
            "policy", "calendar", "policy__calendar"
        )
    }
    assert {clock.target for clock in expected.values()} == {
        Target.RESOLUTION,
        Target.NEXT_RESPONSE,
    }
    statements.running_clocks(ticket.pk)  # the kept policies and calendars are read once
    with django_assert_num_queries(1):
        read = statements.running_clocks(ticket.pk)
        names = [field.attname for field in SlaClock._meta.concrete_fields]
        for clock in read:
            assert _orm_values(clock, names) == _orm_values(expected[clock.pk], names)
            assert clock.policy == expected[clock.pk].policy
            assert clock.policy.calendar == clock.calendar == expected[clock.pk].calendar
    assert len(read) == len(expected)


def test_the_due_time_is_the_earliest_of_the_running_clocks(
    policies,  # noqa: F811
    agent,
    end_user,
    on_commit,  # noqa: F811
):
    ticket = make_ticket(caller=end_user.person)
    SlaClock.objects.filter(ticket=ticket, target=Target.RESOLUTION).update(
        due_at=F("started_at") + timedelta(minutes=5)
    )
    Ticket.objects.filter(pk=ticket.pk).update(due_at=None)
    statements.due_sync(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + timedelta(minutes=5)
    SlaClock.objects.filter(ticket=ticket).update(stopped_at=ticket.created_at + H)
    statements.due_sync(ticket.pk)
    ticket.refresh_from_db()
    assert ticket.due_at is None
