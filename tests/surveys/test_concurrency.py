"""Two workers sending survey invitations at the same moment (PostgreSQL row locks).

Each run has its own connection; a barrier releases them together. The quiet-period check
is slowed down (it sleeps after reading) so that, without the lock on the caller, both
workers would read "not invited recently" before either commits: the test then sees two
invitations sent to one caller. With the lock, the second worker waits for the first's
commit before it checks, and skips its invitation as "invited recently"."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from surveys import services
from surveys.models import SurveyInvitation, SurveySettings
from tests.factories import PersonFactory, make_ticket

Status = SurveyInvitation.Status
H = timedelta(hours=1)

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs row locks taken by concurrent connections (PostgreSQL); SQLite "
    "serialises every write transaction, so two workers cannot interleave there",
)


def _pending_invitations(caller, count: int) -> list[SurveyInvitation]:
    closed = timezone.now() - 3 * H
    return [
        SurveyInvitation.objects.create(
            ticket=make_ticket(caller=caller),
            person=caller,
            status=Status.PENDING,
            closed_at=closed,
            send_after=closed + 2 * H,
        )
        for _ in range(count)
    ]


def _run_together(workers: int) -> list[object]:
    """``invitations_send_due`` in ``workers`` threads released at once: what each returned
    (or the name of what it raised)."""
    barrier = threading.Barrier(workers)
    outcomes: list[object] = []

    def work():
        try:
            barrier.wait(timeout=10)
            outcomes.append(services.invitations_send_due())
        except Exception as error:
            outcomes.append(type(error).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(daemon=True, target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def slow_quiet_check(monkeypatch):
    """The quiet-period check holds its transaction open for a while after reading."""
    check = services._invited_recently

    def slow(*args, **kwargs):
        found = check(*args, **kwargs)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(services, "_invited_recently", slow)


@pytest.fixture
def settings_row(transactional_db):
    config = SurveySettings.load()
    config.quiet_days = 30
    config.save()
    return config


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_callers_two_invitations_once(settings_row, slow_quiet_check):
    caller = PersonFactory()
    first, second = _pending_invitations(caller, 2)
    outcomes = _run_together(2)
    assert sorted(outcomes) == [0, 1]
    sent = SurveyInvitation.objects.filter(person=caller, status=Status.SENT)
    assert sent.count() == 1
    skipped = SurveyInvitation.objects.exclude(pk=sent.get().pk).get(pk__in=[first.pk, second.pk])
    assert (skipped.status, skipped.skip_reason) == (Status.SKIPPED, "quiet")


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_invitation_once(settings_row, slow_quiet_check):
    [invitation] = _pending_invitations(PersonFactory(), 1)
    outcomes = _run_together(2)
    assert sorted(outcomes) == [0, 1]
    invitation.refresh_from_db()
    assert invitation.status == Status.SENT


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_callers_are_not_kept_waiting_by_each_other(settings_row, slow_quiet_check):
    """The lock is per caller: two callers' invitations both go, one per worker."""
    invitations = _pending_invitations(PersonFactory(), 1) + _pending_invitations(
        PersonFactory(), 1
    )
    outcomes = _run_together(2)
    assert sum(outcomes) == 2
    assert all(
        status == Status.SENT
        for status in SurveyInvitation.objects.filter(
            pk__in=[i.pk for i in invitations]
        ).values_list("status", flat=True)
    )
