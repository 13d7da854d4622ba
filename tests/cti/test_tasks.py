from datetime import timedelta

import pytest
from django.utils import timezone

from cti.models import Call
from cti.tasks import end_stale_calls
from helpdesk.celery import app

pytestmark = pytest.mark.django_db


def test_beat_schedules_the_stale_call_sweep(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["cti-end-stale-calls"]
    assert entry["task"] == "cti.end_stale_calls"
    assert "cti.end_stale_calls" in app.tasks


def test_task_ends_a_call_whose_hangup_never_arrived(settings):
    settings.CTI_RING_TIMEOUT = 60
    old = Call.objects.create(
        call_id="lost-hangup",
        direction=Call.Direction.INBOUND,
        caller_number="+48225000271",
        state=Call.State.RINGING,
        started_at=timezone.now() - timedelta(minutes=5),
    )
    fresh = Call.objects.create(
        call_id="still-ringing",
        direction=Call.Direction.INBOUND,
        caller_number="+48225000272",
        state=Call.State.RINGING,
        started_at=timezone.now(),
    )

    assert end_stale_calls.apply().get() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.state == Call.State.ENDED
    assert old.outcome == Call.Outcome.MISSED
    assert fresh.state == Call.State.RINGING
    assert end_stale_calls.apply().get() == 0
