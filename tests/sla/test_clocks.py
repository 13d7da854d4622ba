"""SLA clocks driven by ticket events, and the sweep's warnings and breaches."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from sla import services as sla
from sla.business_time import add_business_time
from sla.models import (
    BusinessCalendar,
    SlaAlert,
    SlaClock,
    SlaPolicy,
    SlaThreshold,
    Target,
    WorkingHours,
)
from tests.factories import PersonFactory, ServiceFactory, make_ticket
from tickets import services
from tickets.models import PendingReason, Priority, ResolutionCode, Ticket, TicketType, Urgency

H = timedelta(hours=1)
Outcome = SlaClock.Outcome


@pytest.fixture
def always(db):
    return BusinessCalendar.objects.create(name="24x7", always_open=True)


@pytest.fixture
def policies(always):
    """P1: respond 1 h, resolve 4 h; every other priority: 8 h / 40 h, next response 4 h."""
    made = {}
    for priority in Priority.values:
        made[priority] = SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=always,
            first_response=H if priority == 1 else 8 * H,
            next_response=4 * H,
            resolution=4 * H if priority == 1 else 40 * H,
        )
    return made


@pytest.fixture
def thresholds(db):
    return [
        SlaThreshold.objects.create(percent=75),
        SlaThreshold.objects.create(percent=100),
    ]


@pytest.fixture
def on_commit(monkeypatch):
    """Deliver ticket events at once, as if each service call had committed (it is the
    test's transaction that never commits)."""
    from tickets import events

    def deliver_now(event):
        listeners = [
            listener
            for listener, kinds in events._subscriptions
            if kinds is None or event.kind in kinds
        ]
        events._deliver(event, listeners)

    monkeypatch.setattr(events, "emit_on_commit", deliver_now)


def clocks(ticket) -> dict[str, SlaClock]:
    return {
        clock.target: clock for clock in SlaClock.objects.filter(ticket=ticket, stopped_at=None)
    }


def test_a_new_ticket_gets_response_and_resolution_clocks(policies, end_user, on_commit):
    ticket = make_ticket(caller=end_user.person)
    live = clocks(ticket)
    assert set(live) == {Target.FIRST_RESPONSE, Target.RESOLUTION}
    assert live[Target.RESOLUTION].policy == policies[ticket.priority]
    assert live[Target.RESOLUTION].due_at == ticket.created_at + 40 * H
    assert live[Target.FIRST_RESPONSE].due_at == ticket.created_at + 8 * H


def test_no_policy_no_clocks(end_user, on_commit):
    ticket = make_ticket(caller=end_user.person)
    assert not SlaClock.objects.filter(ticket=ticket).exists()


def test_the_most_specific_policy_wins(policies, always, end_user, on_commit):
    email = ServiceFactory(name="E-mail")
    priority = make_ticket(caller=end_user.person).priority
    by_type = SlaPolicy.objects.create(
        name="requests",
        priority=priority,
        ticket_type=TicketType.REQUEST,
        calendar=always,
        first_response=2 * H,
        resolution=10 * H,
    )
    by_service = SlaPolicy.objects.create(
        name="mail",
        priority=priority,
        service=email,
        calendar=always,
        first_response=3 * H,
        resolution=11 * H,
    )
    vip = SlaPolicy.objects.create(
        name="vip",
        priority=priority,
        vip_only=True,
        calendar=always,
        first_response=H,
        resolution=5 * H,
    )
    request = make_ticket(caller=end_user.person, type=TicketType.REQUEST)
    assert clocks(request)[Target.RESOLUTION].policy == by_type
    both = make_ticket(caller=end_user.person, type=TicketType.REQUEST, service=email)
    assert clocks(both)[Target.RESOLUTION].policy == by_service
    boss = PersonFactory(is_vip=True)
    assert clocks(make_ticket(caller=boss))[Target.RESOLUTION].policy == vip
    plain = make_ticket(caller=end_user.person)
    assert clocks(plain)[Target.RESOLUTION].policy == policies[priority]


def test_a_priority_change_moves_the_due_times(policies, agent, end_user, on_commit):
    ticket = make_ticket(caller=end_user.person)
    before = clocks(ticket)[Target.RESOLUTION]
    services.ticket_update(
        ticket=ticket,
        by=agent,
        expected_version=ticket.version,
        urgency=Urgency.CRITICAL,
        impact=1,
    )
    ticket.refresh_from_db()
    assert ticket.priority == Priority.P1
    after = clocks(ticket)[Target.RESOLUTION]
    assert after.pk == before.pk  # the same clock, same start, new goal
    assert (after.policy, after.due_at) == (policies[1], ticket.created_at + 4 * H)


def test_waiting_for_the_user_pauses_and_resuming_shifts_the_due_time(
    policies, agent, end_user, on_commit
):
    ticket = make_ticket(caller=end_user.person)
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.USER, note="Which floor?")
    paused = clocks(ticket)[Target.RESOLUTION]
    assert paused.paused_since is not None and paused.due_at is None
    # Pretend the ticket waited three hours.
    SlaClock.objects.filter(pk=paused.pk).update(paused_since=paused.paused_since - 3 * H)
    services.ticket_resume(ticket=ticket, by=agent)
    resumed = clocks(ticket)[Target.RESOLUTION]
    assert resumed.paused_since is None
    assert 3 * H <= resumed.paused_for < 3 * H + timedelta(minutes=1)
    assert resumed.due_at == ticket.created_at + 40 * H + resumed.paused_for


def test_waiting_for_a_change_does_not_pause(policies, agent, end_user, on_commit):
    ticket = make_ticket(caller=end_user.person)
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.CHANGE, note="CHG-1")
    assert clocks(ticket)[Target.RESOLUTION].paused_since is None


def test_first_response_met_then_resolution_met_and_a_reopen_runs_on(
    policies, agent, end_user, on_commit
):
    ticket = make_ticket(caller=end_user.person)
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    first = SlaClock.objects.get(ticket=ticket, target=Target.FIRST_RESPONSE)
    assert first.outcome == Outcome.MET and first.margin > 7 * H
    services.ticket_resolve(
        ticket=ticket, by=agent, code=ResolutionCode.SOLVED, notes="Replaced the toner."
    )
    resolution = SlaClock.objects.get(ticket=ticket, target=Target.RESOLUTION)
    assert (resolution.outcome, resolution.due_at) == (Outcome.MET, None)
    services.ticket_reopen(ticket=ticket, by=end_user, reason="Still streaks.")
    revived = clocks(ticket)[Target.RESOLUTION]
    assert revived.pk == resolution.pk and revived.outcome == Outcome.RUNNING
    assert revived.due_at == ticket.created_at + 40 * H + revived.paused_for


def test_the_callers_reply_starts_a_next_response_clock_the_agents_reply_stops_it(
    policies, agent, end_user, on_commit
):
    ticket = make_ticket(caller=end_user.person)
    services.comment_add(ticket=ticket, by=agent, body="Which printer?")
    assert Target.FIRST_RESPONSE not in clocks(ticket)
    services.ticket_reply_by_caller(ticket=ticket, by=end_user, body="The one by the lift.")
    nxt = clocks(ticket)[Target.NEXT_RESPONSE]
    assert nxt.due_at == nxt.started_at + 4 * H
    services.comment_add(ticket=ticket, by=agent, body="Noted.", is_internal=True)
    assert Target.NEXT_RESPONSE in clocks(ticket)  # a work note is no answer
    services.comment_add(ticket=ticket, by=agent, body="A technician is on the way.")
    assert Target.NEXT_RESPONSE not in clocks(ticket)
    assert SlaClock.objects.get(ticket=ticket, target=Target.NEXT_RESPONSE).outcome == Outcome.MET


def test_a_cancelled_ticket_cancels_its_clocks(policies, end_user, on_commit):
    ticket = make_ticket(caller=end_user.person)
    services.ticket_cancel(ticket=ticket, by=end_user, reason="Works again.")
    assert set(SlaClock.objects.filter(ticket=ticket).values_list("outcome", flat=True)) == {
        Outcome.CANCELLED
    }


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep and its after-commit notices."""

    def run(now):
        with django_capture_on_commit_callbacks(execute=True):
            return sla.sla_sweep(now=now)

    return run


@pytest.fixture
def notices():
    heard = []
    sla.subscribe_notices(heard.extend)
    yield heard
    sla._notice_listeners.remove(heard.extend)


def test_the_sweep_warns_then_breaches_once_each(
    policies, thresholds, agent, manager, end_user, notices, sweep, on_commit
):
    ticket = make_ticket(caller=end_user.person)
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    clock = clocks(ticket)[Target.RESOLUTION]
    start = clock.started_at
    assert clock.next_alert_at == start + 30 * H  # 75 % of 40 h
    assert sweep(start + 29 * H) == 0
    assert sweep(start + 31 * H) == 1
    assert sweep(start + 31 * H) == 0  # a second run does nothing
    [warning] = notices
    assert (warning.percent, warning.target, warning.ticket_id) == (
        75,
        Target.RESOLUTION,
        ticket.pk,
    )
    assert set(warning.recipient_ids) == {agent.pk, manager.pk}
    clock.refresh_from_db()
    assert clock.next_alert_at == start + 40 * H and clock.breached_at is None
    assert sweep(start + 41 * H) == 1
    clock.refresh_from_db()
    assert (clock.breached_at, clock.next_alert_at) == (start + 40 * H, None)
    assert [notice.percent for notice in notices] == [75, 100]
    assert list(SlaAlert.objects.filter(clock=clock).values_list("percent", flat=True)) == [75, 100]


def test_a_late_resolution_is_breached_by_how_much(policies, agent, end_user, on_commit):
    ticket = make_ticket(caller=end_user.person)
    SlaClock.objects.filter(ticket=ticket).update(started_at=timezone.now() - 42 * H)
    services.ticket_resolve(ticket=ticket, by=agent, code=ResolutionCode.SOLVED, notes="Done.")
    clock = SlaClock.objects.get(ticket=ticket, target=Target.RESOLUTION)
    assert clock.outcome == Outcome.BREACHED
    assert -2 * H - timedelta(minutes=1) < clock.margin <= -2 * H


def test_a_sweep_catching_up_fires_every_passed_threshold(
    policies, thresholds, end_user, notices, sweep, on_commit
):
    ticket = make_ticket(caller=end_user.person)
    start = clocks(ticket)[Target.RESOLUTION].started_at
    # First response (8 h) and resolution (40 h) both long past: 2 thresholds x 2 clocks.
    assert sweep(start + 50 * H) == 4
    assert sorted((n.target, n.percent) for n in notices) == [
        (Target.FIRST_RESPONSE, 75),
        (Target.FIRST_RESPONSE, 100),
        (Target.RESOLUTION, 75),
        (Target.RESOLUTION, 100),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_alert_exactly_once(always, thresholds, end_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections and SKIP LOCKED (PostgreSQL)")
    for priority in Priority.values:
        SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=always,
            first_response=H,
            resolution=4 * H,
        )
    tickets = [make_ticket(caller=end_user.person) for _n in range(40)]
    assert SlaClock.objects.filter(ticket__in=tickets).count() == 80
    later = timezone.now() + 5 * H
    heard = []
    sla.subscribe_notices(heard.extend)
    barrier = threading.Barrier(2)
    written = []

    def sweep():
        try:
            barrier.wait(timeout=10)
            written.append(sla.sla_sweep(now=later, batch=7))
        finally:
            connections.close_all()

    try:
        threads = [threading.Thread(daemon=True, target=sweep) for _n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sla._notice_listeners.remove(heard.extend)
    assert sum(written) == 160 == SlaAlert.objects.count()
    assert len(heard) == 160
    assert len({(notice.clock_id, notice.percent) for notice in heard}) == 160


def test_a_breach_can_raise_the_priority_and_escalate_once(
    policies, agent, end_user, network_group, sweep, on_commit
):
    SlaThreshold.objects.create(percent=100, raise_priority=True, escalate=True)
    service = ServiceFactory(name="VPN", owner_group=network_group)
    ticket = make_ticket(caller=end_user.person, service=service)
    assert ticket.priority == Priority.P4
    start = clocks(ticket)[Target.RESOLUTION].started_at
    assert sweep(start + 41 * H) == 2  # first response and resolution both breached
    ticket.refresh_from_db()
    # Raised once per alert (two clocks breached: P4 -> P3 -> P2), escalated once.
    assert ticket.priority == Priority.P2
    assert ticket.group == network_group
    actions = list(SlaAlert.objects.order_by("pk").values_list("actions", flat=True))
    assert actions[0] == f"priority P4->P3, escalated to {network_group.code}"
    assert actions[1] == "priority P3->P2, escalation: no higher-tier group"
    assert sweep(start + 42 * H) == 0
    assert ticket.timeline.filter(field="priority").count() == 2


def test_a_caller_made_vip_in_the_admin_moves_their_open_tickets_to_the_vip_policy(
    client, policies, always, admin_user, end_user, django_capture_on_commit_callbacks, on_commit
):
    from django.urls import reverse

    person = end_user.person
    ticket = make_ticket(caller=person)
    vip = SlaPolicy.objects.create(
        name="vip",
        priority=ticket.priority,
        vip_only=True,
        calendar=always,
        first_response=H,
        resolution=5 * H,
    )
    client.force_login(admin_user)
    url = reverse("admin:helpdesk_person_change", args=[person.pk])
    form = {
        "full_name": person.full_name,
        "email": person.email,
        "language": person.language or "en",
        "is_vip": "on",
        "is_active": "on",
        "origin": person.origin,
        "phone_numbers-TOTAL_FORMS": "0",
        "phone_numbers-INITIAL_FORMS": "0",
        "phone_numbers-MIN_NUM_FORMS": "0",
        "phone_numbers-MAX_NUM_FORMS": "1000",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    clock = clocks(ticket)[Target.RESOLUTION]
    assert (clock.policy, clock.due_at) == (vip, ticket.created_at + 5 * H)
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + H


def test_a_roll_out_on_old_tickets_sends_no_storm_of_alerts(
    always, thresholds, end_user, notices, sweep, django_capture_on_commit_callbacks
):
    ticket = make_ticket(caller=end_user.person)  # no policy yet: no clocks
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - 50 * H)
    for priority in Priority.values:
        SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=always,
            first_response=8 * H,
            resolution=60 * H,
        )
    assert sla.clocks_start_for_open_tickets() == 2
    first = SlaClock.objects.get(ticket=ticket, target=Target.FIRST_RESPONSE)
    resolution = SlaClock.objects.get(ticket=ticket, target=Target.RESOLUTION)
    # First response: both thresholds long passed, recorded silently, breached.
    assert list(first.alerts.values_list("percent", "actions")) == [
        (75, sla.ROLL_OUT_NOTE),
        (100, sla.ROLL_OUT_NOTE),
    ]
    assert first.breached_at is not None and first.next_alert_at is None
    # Resolution: 50 of 60 h gone, so 75 % (45 h) passed; 100 % is still ahead.
    assert list(resolution.alerts.values_list("percent", flat=True)) == [75]
    assert resolution.next_alert_at == resolution.started_at + 60 * H
    assert sweep(timezone.now()) == 0 and notices == []


def test_the_api_shows_and_sorts_by_the_due_time(policies, as_agent, end_user, on_commit):
    urgent = make_ticket(caller=end_user.person, urgency=Urgency.CRITICAL, title="Core down")
    later = make_ticket(caller=end_user.person, title="Printer")
    paused = make_ticket(caller=end_user.person, title="Waiting")
    Ticket.objects.filter(pk=paused.pk).update(due_at=None)
    urgent.refresh_from_db()
    detail = as_agent.get(f"/api/tickets/{urgent.number}/").json()
    assert detail["due_at"] is not None
    assert datetime.fromisoformat(detail["due_at"]) == urgent.due_at
    rows = as_agent.get("/api/tickets/", {"ordering": "due_at"}).json()["results"]
    numbers = [row["number"] for row in rows if row["due_at"]]
    assert numbers[:2] == [urgent.number, later.number]
    assert as_agent.get("/api/tickets/", {"ordering": "-due_at"}).status_code == 200


# --- policies, thresholds and calendars kept per process (helpdesk.refdata) ------------------


def test_a_policy_changed_or_switched_off_applies_to_the_next_ticket(policies, end_user, on_commit):
    first = make_ticket(caller=end_user.person)
    policy = policies[first.priority]
    assert clocks(first)[Target.RESOLUTION].goal == 40 * H
    policy.resolution = 30 * H
    policy.save()
    second = make_ticket(caller=end_user.person)
    assert clocks(second)[Target.RESOLUTION].goal == 30 * H
    second.refresh_from_db()
    assert second.due_at == second.created_at + 8 * H  # the first response falls due first
    policy.is_active = False
    policy.save()
    assert not SlaClock.objects.filter(ticket=make_ticket(caller=end_user.person)).exists()


def test_a_threshold_added_or_a_calendar_closed_applies_to_the_next_ticket(
    policies, always, end_user, on_commit
):
    ticket = make_ticket(caller=end_user.person)
    assert clocks(ticket)[Target.RESOLUTION].next_alert_at is None
    SlaThreshold.objects.create(percent=50)
    ticket = make_ticket(caller=end_user.person)
    assert clocks(ticket)[Target.RESOLUTION].next_alert_at == ticket.created_at + 20 * H
    # The calendar's hours change (as the admin does it: hours saved, then the calendar).
    always.always_open = False
    always.save()
    for weekday in range(7):
        WorkingHours.objects.create(calendar=always, weekday=weekday, start=time(0), end=time(12))
    sla.calendar_touch(calendar=always)
    ticket = make_ticket(caller=end_user.person)
    resolution = clocks(ticket)[Target.RESOLUTION]
    always.refresh_from_db()
    expected = add_business_time(always.schedule(), ticket.created_at, 40 * H)
    assert resolution.due_at == expected != ticket.created_at + 40 * H


def test_a_new_tickets_clocks_take_one_statement_and_its_due_time_another(
    policies, end_user, on_commit, django_assert_max_num_queries
):
    make_ticket(caller=end_user.person)  # the kept policies and thresholds are read once
    ticket = make_ticket(caller=end_user.person)
    from tickets import events

    event = events.TicketEvent(
        kind=events.Kind.CREATED, ticket_id=ticket.pk, actor_id=None, at=ticket.created_at
    )
    SlaClock.objects.filter(ticket=ticket).delete()
    # The ticket (1), the two clocks (1), its due time (1), and the savepoint around them (2).
    with django_assert_max_num_queries(5):
        sla.on_ticket_event(event)
    assert set(clocks(ticket)) == {Target.FIRST_RESPONSE, Target.RESOLUTION}
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + 8 * H


def test_the_create_answer_carries_the_due_time_its_clocks_set(
    policies, as_agent, end_user, on_commit
):
    answer = as_agent.post(
        "/api/tickets/",
        {"title": "VPN drops", "caller": end_user.person.pk, "channel": "phone"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    ticket = Ticket.objects.get(number=body["number"])
    assert ticket.due_at == ticket.created_at + 8 * H
    assert datetime.fromisoformat(body["due_at"]) == ticket.due_at
    assert (body["tags"], body["related"], body["watchers"]) == ([], [], [])
