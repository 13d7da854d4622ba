from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from cti.models import Call, Pbx
from tests.factories import PbxFactory


def test_wait_and_talk_seconds_of_an_answered_call():
    start = timezone.now()
    call = Call(
        call_id="c1",
        started_at=start,
        answered_at=start + timedelta(seconds=12),
        ended_at=start + timedelta(seconds=72),
    )
    assert call.wait_seconds == 12
    assert call.talk_seconds == 60


def test_missed_call_waits_until_the_end_and_has_no_talk_time():
    start = timezone.now()
    call = Call(call_id="c1", started_at=start, ended_at=start + timedelta(seconds=30))
    assert call.wait_seconds == 30
    assert call.talk_seconds is None


def test_ringing_call_has_no_wait_time_yet():
    assert Call(call_id="c1", started_at=timezone.now()).wait_seconds is None


@pytest.mark.django_db
def test_call_id_is_unique_per_pbx():
    pbx = PbxFactory()
    Call.objects.create(pbx=pbx, call_id="same")
    Call.objects.create(pbx=PbxFactory(), call_id="same")
    with pytest.raises(IntegrityError):
        Call.objects.create(pbx=pbx, call_id="same")


@pytest.mark.django_db
def test_new_pbx_gets_a_random_token_and_secret():
    first = Pbx.objects.create(name="A")
    second = Pbx.objects.create(name="B")
    assert len(first.token) >= 24 and len(first.secret) >= 32
    assert first.token != second.token and first.secret != second.secret


def test_click_to_dial_needs_an_asterisk_with_ami_host():
    assert Pbx(kind=Pbx.Kind.ASTERISK, ami_host="pbx.local").click_to_dial_configured
    assert not Pbx(kind=Pbx.Kind.ASTERISK).click_to_dial_configured
    assert not Pbx(kind=Pbx.Kind.GENERIC, ami_host="pbx.local").click_to_dial_configured


# --- the call's state machine --------------------------------------------------------


def test_a_calls_state_changes_only_through_its_transitions():
    call = Call(call_id="c1")
    with pytest.raises(AttributeError):
        call.state = Call.State.ENDED
    assert call.state == Call.State.RINGING


def test_answer_then_hang_up_ends_an_answered_call():
    start = timezone.now()
    call = Call(call_id="c1", started_at=start)
    call.answer(at=start + timedelta(seconds=5), agent_id=7)
    assert (call.state, call.answered_by_id) == (Call.State.ANSWERED, 7)
    call.hang_up(at=start + timedelta(seconds=65), cause="normalClearing")
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.ANSWERED)
    assert call.talk_seconds == 60
    # A second hang-up is not a transition of an ended call.
    assert not can_proceed(call.hang_up)


def test_an_answer_after_its_hang_up_makes_the_call_answered_without_reopening_it():
    start = timezone.now()
    call = Call(call_id="c1", started_at=start)
    call.hang_up(at=start + timedelta(seconds=90), cause="normalClearing")
    assert call.outcome == Call.Outcome.MISSED
    call.answer(at=start + timedelta(seconds=5))
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.ANSWERED)
    assert call.wait_seconds == 5 and call.talk_seconds == 85


def test_a_rejected_call_takes_no_answer():
    call = Call(call_id="c1")
    call.reject(at=timezone.now())
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.REJECTED)
    assert not can_proceed(call.answer)
    with pytest.raises(TransitionNotAllowed):
        call.answer(at=timezone.now())


def test_miss_ends_a_ringing_call_as_missed_and_a_talking_one_as_answered():
    start = timezone.now()
    ringing = Call(call_id="r", started_at=start)
    ringing.miss(ring_timeout=timedelta(seconds=60), talk_limit=timedelta(hours=1))
    assert (ringing.outcome, ringing.hangup_cause) == (Call.Outcome.MISSED, "timeout")
    assert ringing.ended_at == start + timedelta(seconds=60)
    talking = Call(call_id="t", started_at=start)
    talking.answer(at=start)
    talking.miss(ring_timeout=timedelta(seconds=60), talk_limit=timedelta(hours=1))
    assert (talking.state, talking.outcome) == (Call.State.ENDED, Call.Outcome.ANSWERED)
    assert talking.ended_at == start + timedelta(hours=1)


@pytest.mark.django_db
def test_a_call_reloads_its_state_from_the_database():
    call = Call.objects.create(call_id="c1")
    Call.objects.filter(pk=call.pk).update(state=Call.State.ENDED)
    call.refresh_from_db()
    assert call.state == Call.State.ENDED
