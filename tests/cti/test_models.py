from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

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
