"""The one service every PBX adapter feeds: storing, deduplicating and applying events."""

import contextlib
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cti import notify, services
from cti.models import AgentPresence, BlockedNumber, Call, CallEvent
from cti.services import sweep
from helpdesk.errors import ValidationError
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PhoneNumberFactory,
    SiteFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(monkeypatch):
    calls = []
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: calls.append(call_id))
    # A call created and offered by a ring is pushed as written, without reading it again.
    monkeypatch.setattr(notify, "call_pushed", lambda call, **_kwargs: calls.append(call.pk))
    return calls


@pytest.fixture
def pbx():
    return PbxFactory()


@pytest.fixture
def agent201(agent):
    AgentExtensionFactory(user=agent, extension="201")
    return agent


def ingest(pbx, kind, call_id="call-1", **kwargs):
    kwargs.setdefault("caller", "+48 22 555 01 01")
    kwargs.setdefault("called", "+48 22 555 00 00")
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind=kind, call_id=call_id, **kwargs),
    )


def test_ring_creates_a_ringing_call_offered_to_the_rung_extension(
    pbx, agent201, pushed, django_capture_on_commit_callbacks
):
    person = PhoneNumberFactory(raw="+48 22 555 01 01").person
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(pbx, "ring", extensions=["201"])
    call = result.call
    assert result.status == CallEvent.Status.PROCESSED
    assert call.state == Call.State.RINGING
    assert call.caller_e164 == "+48225550101"
    assert call.caller_person == person
    assert call.identification == Call.Identification.EXACT
    assert list(call.offered_to.all()) == [agent201]
    assert pushed == [call.pk]
    event = CallEvent.objects.get()
    assert event.status == CallEvent.Status.PROCESSED
    assert event.call_id == "call-1" and event.kind == "ring"


def test_nothing_is_pushed_when_the_transaction_rolls_back(pbx, agent201, pushed):
    # Without the commit callbacks running, the push must not have happened yet.
    ingest(pbx, "ring", extensions=["201"])
    assert pushed == []


def test_the_same_event_twice_changes_nothing(pbx, agent201, pushed):
    first = ingest(pbx, "ring", extensions=["201"])
    Call.objects.filter(pk=first.call.pk).update(queue_name="marker")
    second = ingest(pbx, "ring", extensions=["201"])
    assert second.status == CallEvent.Status.DUPLICATE
    assert second.duplicate
    assert CallEvent.objects.count() == 1
    assert Call.objects.count() == 1
    assert Call.objects.get().queue_name == "marker"


def test_the_same_hangup_twice_keeps_the_first_outcome(pbx, agent201):
    ingest(pbx, "ring", extensions=["201"])
    ingest(pbx, "hangup", cause="cancel")
    again = ingest(pbx, "hangup", cause="cancel")
    assert again.duplicate
    call = Call.objects.get()
    assert call.outcome == Call.Outcome.ABANDONED


def test_answer_marks_the_agent_busy_and_hangup_frees_them(pbx, agent201, pushed):
    AgentPresence.objects.create(user=agent201, state=AgentPresence.State.AVAILABLE)
    ingest(pbx, "ring", extensions=["201"])
    answered = ingest(pbx, "answer", answering="201").call
    assert answered.state == Call.State.ANSWERED
    assert answered.answered_by == agent201
    presence = AgentPresence.objects.get(user=agent201)
    assert presence.state == AgentPresence.State.BUSY
    assert presence.current_call == answered

    ended = ingest(pbx, "hangup", cause="normalClearing").call
    assert ended.state == Call.State.ENDED
    assert ended.outcome == Call.Outcome.ANSWERED
    presence.refresh_from_db()
    assert presence.state == AgentPresence.State.AFTER_CALL_WORK
    assert presence.current_call is None


def test_presence_after_a_call_follows_the_setting(pbx, agent201, settings):
    settings.CTI_PRESENCE_AFTER_CALL = "available"
    ingest(pbx, "ring", extensions=["201"])
    ingest(pbx, "answer", answering="201")
    ingest(pbx, "hangup", cause="normalClearing")
    assert AgentPresence.objects.get(user=agent201).state == AgentPresence.State.AVAILABLE


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [
        ("noAnswer", Call.Outcome.MISSED),
        ("normalClearing", Call.Outcome.MISSED),
        ("cancel", Call.Outcome.ABANDONED),
        ("busy", Call.Outcome.BUSY),
        ("congestion", Call.Outcome.BUSY),
        ("notFound", Call.Outcome.MISSED),
        ("", Call.Outcome.MISSED),
    ],
)
def test_unanswered_hangup_outcome_comes_from_the_cause(pbx, cause, outcome):
    ingest(pbx, "ring")
    call = ingest(pbx, "hangup", cause=cause).call
    assert call.outcome == outcome
    assert call.hangup_cause == cause
    assert call.answered_at is None


def test_answer_without_ring_creates_the_call(pbx, agent201):
    call = ingest(pbx, "answer", answering="201").call
    assert call.state == Call.State.ANSWERED
    assert call.answered_by == agent201
    assert call.caller_e164 == "+48225550101"


def test_hangup_without_ring_creates_an_ended_missed_call(pbx):
    call = ingest(pbx, "hangup", cause="noAnswer").call
    assert call.state == Call.State.ENDED
    assert call.outcome == Call.Outcome.MISSED


def test_answer_arriving_after_the_hangup_makes_the_call_answered(pbx, agent201):
    now = timezone.now()
    ingest(pbx, "ring", extensions=["201"], occurred_at=now)
    ingest(pbx, "hangup", cause="normalClearing", occurred_at=now + timedelta(seconds=90))
    call = ingest(pbx, "answer", answering="201", occurred_at=now + timedelta(seconds=5)).call
    assert call.state == Call.State.ENDED
    assert call.outcome == Call.Outcome.ANSWERED
    assert call.answered_by == agent201
    assert call.wait_seconds == 5 and call.talk_seconds == 85
    # The call is over: the late answer must not leave the agent busy.
    assert not AgentPresence.objects.filter(state=AgentPresence.State.BUSY).exists()


def test_ring_after_answer_does_not_ring_again(pbx, agent201):
    ingest(pbx, "answer", answering="201")
    call = ingest(pbx, "ring", extensions=["201"]).call
    assert call.state == Call.State.ANSWERED


def test_ring_after_hangup_does_not_reopen_the_call(pbx):
    ingest(pbx, "hangup", cause="cancel")
    call = ingest(pbx, "ring").call
    assert call.state == Call.State.ENDED


def test_a_ring_offers_an_ended_call_to_nobody(pbx, agent201):
    ingest(pbx, "hangup", cause="cancel")
    result = ingest(pbx, "ring", extensions=["201"])
    assert result.call.state == Call.State.ENDED
    assert result.call.offered_to.count() == 0


def test_a_second_ring_of_a_ringing_call_adds_its_agents(pbx, agent201):
    second = make_user(Role.AGENT, username="second")
    AgentExtensionFactory(user=second, extension="202")
    ingest(pbx, "ring", extensions=["201"])
    result = ingest(pbx, "ring", extensions=["202"])  # the queue rings the next agent
    assert not result.duplicate
    assert Call.objects.count() == 1
    assert set(result.call.offered_to.all()) == {agent201, second}


@pytest.mark.parametrize("kind", ["dial", "RING", "", "transfer"])
def test_unknown_event_kind_is_rejected_with_a_clear_error(pbx, kind):
    with pytest.raises(services.InvalidCallEvent) as error:
        ingest(pbx, kind)
    assert error.value.field == "kind"
    assert "expected ring, answer or hangup" in error.value.message
    # Part of the project's error vocabulary, as every invalid input is.
    assert isinstance(error.value, ValidationError)
    assert Call.objects.count() == 0


def test_missing_call_id_is_rejected(pbx):
    with pytest.raises(services.InvalidCallEvent) as error:
        ingest(pbx, "ring", call_id="  ")
    assert error.value.field == "call_id"


def test_invalid_direction_is_rejected(pbx):
    with pytest.raises(services.InvalidCallEvent) as error:
        ingest(pbx, "ring", direction="sideways")
    assert error.value.field == "direction"


@contextlib.contextmanager
def calls_refused():
    """The database fails every insert of a call with "database hiccup" (a trigger), as a
    database in trouble would: the real ingest code meets a real database error."""
    table = connection.ops.quote_name(Call._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_call() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'database hiccup'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER test_refuse_call BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_call()"
            )
        else:
            # SQLite's RAISE() is a constraint error (retried as a conflict); writing to a
            # table that does not exist is an operational error, as PostgreSQL's is.
            cursor.execute(
                f"CREATE TRIGGER test_refuse_call BEFORE INSERT ON {table} "
                'BEGIN INSERT INTO "database hiccup" VALUES (1); END'
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER test_refuse_call ON {table}")
                cursor.execute("DROP FUNCTION test_refuse_call()")
            else:
                cursor.execute("DROP TRIGGER test_refuse_call")


def test_a_failure_keeps_the_raw_event_as_failed_and_leaves_no_call(pbx):
    with calls_refused():
        result = ingest(pbx, "ring", payload={"raw": "as sent"})
    assert result.status == CallEvent.Status.FAILED
    event = CallEvent.objects.get()
    assert event.status == CallEvent.Status.FAILED
    assert "database hiccup" in event.error
    assert event.payload == {"raw": "as sent"}
    assert Call.objects.count() == 0


def test_redelivery_of_a_failed_event_applies_it_again(pbx):
    with calls_refused():
        assert ingest(pbx, "ring").status == CallEvent.Status.FAILED
    result = ingest(pbx, "ring")
    assert result.status == CallEvent.Status.PROCESSED
    assert CallEvent.objects.get().status == CallEvent.Status.PROCESSED
    assert Call.objects.count() == 1


def test_queue_wide_ring_is_offered_only_to_available_members(pbx):
    queue = CallQueueFactory(code="service-desk")
    available = make_user(Role.AGENT, username="available")
    away = make_user(Role.AGENT, username="away")
    busy = make_user(Role.AGENT, username="busy")
    outsider = make_user(Role.AGENT, username="outsider")
    queue.members.add(available, away, busy)
    for user, state in [
        (available, "available"),
        (away, "away"),
        (busy, "busy"),
        (outsider, "available"),
    ]:
        AgentPresence.objects.create(user=user, state=state)
    call = ingest(pbx, "ring", queue="service-desk").call
    assert call.queue == queue
    assert list(call.offered_to.all()) == [available]


def test_queue_with_a_site_is_offered_only_to_members_of_that_site(pbx):
    warsaw, krakow = SiteFactory(code="waw"), SiteFactory(code="krk")
    queue = CallQueueFactory(code="waw-desk", site=warsaw)
    local = make_user(Role.AGENT, username="local")
    remote = make_user(Role.AGENT, username="remote")
    local.person.site = warsaw
    local.person.save()
    remote.person.site = krakow
    remote.person.save()
    queue.members.add(local, remote)
    for user in (local, remote):
        AgentPresence.objects.create(user=user, state="available")
    call = ingest(pbx, "ring", queue="waw-desk").call
    assert list(call.offered_to.all()) == [local]


def test_ring_without_queue_or_agent_goes_to_the_default_queue(pbx, settings):
    settings.CTI_DEFAULT_QUEUE = "front"
    queue = CallQueueFactory(code="front")
    member = make_user(Role.AGENT, username="member")
    queue.members.add(member)
    AgentPresence.objects.create(user=member, state="available")
    call = ingest(pbx, "ring").call
    assert call.queue == queue
    assert list(call.offered_to.all()) == [member]


def test_ring_to_users_by_user_name_or_email(pbx, agent):
    other = make_user(Role.AGENT, username="second", email="second@example.com")
    call = ingest(pbx, "ring", users=["agent", "second@example.com"]).call
    assert set(call.offered_to.all()) == {agent, other}


def test_ring_for_an_unknown_extension_is_offered_to_nobody(pbx, agent201):
    call = ingest(pbx, "ring", extensions=["999"]).call
    assert call.offered_to.count() == 0


def test_blocked_number_is_recorded_as_rejected_and_offered_to_nobody(pbx, agent201):
    BlockedNumber.objects.create(e164="+48225550101", reason="spam")
    result = ingest(pbx, "ring", caller="0048 22 555 01 01", extensions=["201"])
    assert result.rejected
    call = result.call
    assert call.state == Call.State.ENDED
    assert call.outcome == Call.Outcome.REJECTED
    assert call.offered_to.count() == 0
    # Later events of the rejected call change nothing.
    later = ingest(pbx, "answer", caller="0048 22 555 01 01", answering="201")
    assert later.rejected
    call.refresh_from_db()
    assert call.outcome == Call.Outcome.REJECTED and call.answered_by is None


def test_outbound_call_identifies_the_dialled_person(pbx, agent201):
    person = PhoneNumberFactory(raw="+48 22 555 07 07").person
    call = ingest(pbx, "ring", direction="outbound", caller="201", called="22 555 07 07").call
    assert call.direction == Call.Direction.OUTBOUND
    assert call.caller_e164 == "+48225550707"
    assert call.caller_person == person
    assert call.called_number == "201"


def test_same_call_id_on_two_pbxes_are_two_calls():
    first, second = PbxFactory(), PbxFactory()
    ingest(first, "ring")
    ingest(second, "ring")
    assert Call.objects.count() == 2


def test_presence_set_clears_the_current_call(agent):
    presence = services.presence_set(user=agent, state="available")
    assert presence.state == AgentPresence.State.AVAILABLE
    with pytest.raises(ValidationError):
        services.presence_set(user=agent, state="sleeping")


def test_ring_path_query_count_is_small_and_constant(
    pbx, django_assert_max_num_queries, django_assert_num_queries
):
    queue = CallQueueFactory(code="big")
    for index in range(3):
        user = make_user(Role.AGENT, username=f"q{index}")
        queue.members.add(user)
        AgentPresence.objects.create(user=user, state="available")
    PhoneNumberFactory(raw="+48 22 555 01 01")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        ingest(pbx, "ring", call_id="small", queue="big")
    for index in range(3, 12):
        user = make_user(Role.AGENT, username=f"q{index}")
        queue.members.add(user)
        AgentPresence.objects.create(user=user, state="available")
    for _index in range(5):
        PhoneNumberFactory(raw="+48 22 555 02 02")
    with CaptureQueriesContext(connection) as large:
        result = ingest(pbx, "ring", call_id="large", queue="big", caller="+48225550202")
    assert result.call.offered_to.count() == 12
    assert result.call.candidate_people.count() == 5
    # The only extra statement is the one INSERT of the five candidates.
    assert len(large.captured_queries) == len(small.captured_queries) + 1
    # Event, call lookup, queue, phone lookup, call, block list, agents, the call's routing
    # (which fallback offered it), offers: nine statements, plus the SAVEPOINT/RELEASE pair
    # that the test's own transaction adds.
    with django_assert_max_num_queries(11):
        ingest(pbx, "ring", call_id="third", queue="big")


@pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="needs a database with concurrent writers (PostgreSQL)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_store_one_event_and_one_call(monkeypatch):
    """Two workers receive the same ring at once, a third the answer: one call, no error."""
    import threading

    from django.db import connection

    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)
    pbx = PbxFactory()
    barrier = threading.Barrier(3)
    results, errors = [], []

    def deliver(kind):
        try:
            barrier.wait()
            results.append(ingest(pbx, kind, call_id="race"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(daemon=True, target=deliver, args=(kind,))
        for kind in ["ring", "ring", "answer"]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(result.status for result in results) == ["duplicate", "processed", "processed"]
    assert Call.objects.filter(call_id="race").count() == 1
    assert CallEvent.objects.count() == 2
    assert Call.objects.get().state == Call.State.ANSWERED


def test_event_without_a_caller_does_not_mark_the_call_withheld(pbx, agent201):
    call = ingest(pbx, "answer", caller="", answering="201").call
    assert not call.is_withheld
    assert call.identification == Call.Identification.UNKNOWN


def test_late_ring_fills_in_the_caller_of_a_call_started_by_another_event(pbx, agent201):
    person = PhoneNumberFactory(raw="+48 22 555 01 01").person
    now = timezone.now()
    ingest(pbx, "answer", caller="", answering="201", occurred_at=now)
    call = ingest(pbx, "ring", occurred_at=now - timedelta(seconds=7)).call
    assert call.caller_e164 == "+48225550101"
    assert call.caller_person == person
    assert call.identification == Call.Identification.EXACT
    assert call.state == Call.State.ANSWERED
    assert call.wait_seconds == 7


def test_ring_with_an_empty_caller_id_is_withheld(pbx):
    call = ingest(pbx, "ring", caller="").call
    assert call.is_withheld
    assert call.identification == Call.Identification.WITHHELD


def test_calls_whose_hangup_never_came_are_ended(pbx, agent201, pushed):
    # The limits are the PBX's own (their defaults come from CTI_RING_TIMEOUT and
    # CTI_CALL_MAX_SECONDS when the PBX is created).
    pbx.ring_timeout_seconds, pbx.call_max_seconds = 60, 3600
    pbx.save(update_fields=["ring_timeout_seconds", "call_max_seconds"])
    now = timezone.now()
    ingest(pbx, "ring", call_id="lost-ring", occurred_at=now - timedelta(seconds=61))
    ingest(pbx, "ring", call_id="fresh-ring", occurred_at=now - timedelta(seconds=30))
    ingest(
        pbx, "answer", call_id="lost-talk", answering="201", occurred_at=now - timedelta(hours=2)
    )
    ingest(pbx, "answer", call_id="fresh-talk", answering="201", occurred_at=now)

    assert services.calls_end_stale(now=now) == 2

    lost_ring = Call.objects.get(call_id="lost-ring")
    assert (lost_ring.state, lost_ring.outcome) == (Call.State.ENDED, Call.Outcome.MISSED)
    assert lost_ring.hangup_cause == "timeout"
    assert lost_ring.ended_at == lost_ring.started_at + timedelta(seconds=60)
    lost_talk = Call.objects.get(call_id="lost-talk")
    assert (lost_talk.state, lost_talk.outcome) == (Call.State.ENDED, Call.Outcome.ANSWERED)
    assert Call.objects.get(call_id="fresh-ring").state == Call.State.RINGING
    assert Call.objects.get(call_id="fresh-talk").state == Call.State.ANSWERED
    assert services.calls_end_stale(now=now) == 0


def test_ring_traffic_sweeps_stale_calls_now_and_then(
    pbx, settings, django_capture_on_commit_callbacks
):
    settings.CTI_RING_TIMEOUT = 60
    ingest(pbx, "ring", call_id="lost", occurred_at=timezone.now() - timedelta(minutes=5))
    sweep.in_request_throttle.reset()  # as in a process that has not swept yet
    with django_capture_on_commit_callbacks(execute=True):
        ingest(pbx, "ring", call_id="next")
    assert Call.objects.get(call_id="lost").state == Call.State.ENDED
    # Within the sweep interval, rings do not sweep again.
    ingest(pbx, "ring", call_id="lost2", occurred_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        ingest(pbx, "ring", call_id="next2")
    assert Call.objects.get(call_id="lost2").state == Call.State.RINGING


def test_the_sweep_throttle_lets_one_sweep_through_per_interval(settings):
    settings.CTI_STALE_SWEEP_SECONDS = 60
    now = [1000.0]
    throttle = sweep.SweepThrottle(clock=lambda: now[0])
    assert throttle.due()
    now[0] += 59
    assert not throttle.due()
    now[0] += 1
    assert throttle.due()
    throttle.reset()
    assert throttle.due()


def test_a_ring_request_ends_only_a_few_stale_calls(
    pbx, settings, django_capture_on_commit_callbacks
):
    settings.CTI_RING_TIMEOUT = 60
    stale = sweep.STALE_BATCH_IN_REQUEST + 2
    for index in range(stale):
        ingest(pbx, "ring", call_id=f"old-{index}", occurred_at=timezone.now() - timedelta(hours=1))
    sweep.in_request_throttle.reset()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(pbx, "ring", call_id="next")
    ended = Call.objects.filter(call_id__startswith="old-", state=Call.State.ENDED)
    assert ended.count() == sweep.STALE_BATCH_IN_REQUEST
    # The periodic task ends the rest (its batch is larger).
    assert services.calls_end_stale() == 2


def test_a_backlog_of_stale_calls_drains_in_batches(pbx, settings):
    settings.CTI_RING_TIMEOUT = 60
    for index in range(3):
        ingest(pbx, "ring", call_id=f"old-{index}", occurred_at=timezone.now() - timedelta(hours=1))
    assert services.calls_end_stale(limit=2) == 2
    assert services.calls_end_stale(limit=2) == 1
    assert not Call.objects.filter(state=Call.State.RINGING).exists()


def test_a_stale_answered_call_frees_its_agent(pbx, agent201):
    pbx.call_max_seconds = 3600
    pbx.save(update_fields=["call_max_seconds"])
    AgentPresence.objects.create(user=agent201, state=AgentPresence.State.AVAILABLE)
    ingest(pbx, "answer", answering="201", occurred_at=timezone.now() - timedelta(hours=2))
    assert AgentPresence.objects.get(user=agent201).state == AgentPresence.State.BUSY
    assert services.calls_end_stale() == 1
    call = Call.objects.get()
    assert call.ended_at == call.answered_at + timedelta(hours=1)
    assert AgentPresence.objects.get(user=agent201).state == AgentPresence.State.AFTER_CALL_WORK


def test_an_answer_after_the_hangup_changes_no_outcome(pbx, agent201):
    # The PBX reported the end first; an answer that comes later (by its own time) was
    # not a conversation of this call: it is stored with the call's events and ignored.
    now = timezone.now()
    ingest(pbx, "ring", extensions=["201"], occurred_at=now)
    ingest(pbx, "hangup", cause="noAnswer", occurred_at=now + timedelta(seconds=30))
    result = ingest(pbx, "answer", answering="201", occurred_at=now + timedelta(seconds=31))
    call = result.call
    assert result.status == CallEvent.Status.PROCESSED
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.MISSED)
    assert call.answered_at is None and call.answered_by is None
    assert CallEvent.objects.filter(call_id="call-1", kind="answer").count() == 1
    assert not AgentPresence.objects.filter(state=AgentPresence.State.BUSY).exists()
