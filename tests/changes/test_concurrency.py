"""Two last votes at the same time complete the step once (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections

from changes import services
from changes.models import ChangeTimelineEntry, Quorum, State
from tests.changes.conftest import add_rule, make_change, to_awaiting_approval


@pytest.mark.django_db(transaction=True)
def test_two_last_votes_at_once_approve_the_change_once(board, end_user, engineer):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks from concurrent connections (PostgreSQL)")
    add_rule(steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}])
    change = to_awaiting_approval(make_change(requester=end_user.person, by=end_user), engineer)
    services.vote_cast(change=change, by=board[0], decision="approve", comment="yes")
    barrier = threading.Barrier(2)
    outcomes = []

    def vote(user):
        try:
            barrier.wait(timeout=10)
            services.vote_cast(change=change, by=user, decision="approve", comment="yes")
            outcomes.append("voted")
        except Exception as error:  # the loser's refusal is part of the outcome
            outcomes.append(type(error).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(daemon=True, target=vote, args=(user,)) for user in board[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # The second to take the lock finds the step complete: its vote is refused, not counted.
    assert sorted(outcomes) == ["ConflictError", "voted"]
    change.refresh_from_db()
    assert change.state == State.APPROVED
    assert change.timeline.filter(transition="approve").count() == 1
    step_lines = change.timeline.filter(
        kind=ChangeTimelineEntry.Kind.APPROVAL_STEP, new_value="approved"
    )
    assert step_lines.count() == 1
    assert change.approvals.get().votes.count() == 2


@pytest.mark.django_db(transaction=True)
def test_simultaneous_rejections_reject_once(board, end_user, engineer):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks from concurrent connections (PostgreSQL)")
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    change = to_awaiting_approval(make_change(requester=end_user.person, by=end_user), engineer)
    barrier = threading.Barrier(3)
    outcomes = []

    def vote(user):
        try:
            barrier.wait(timeout=10)
            services.vote_cast(change=change, by=user, decision="reject", comment="no")
            outcomes.append("voted")
        except Exception as error:
            outcomes.append(type(error).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(daemon=True, target=vote, args=(user,)) for user in board]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ConflictError", "ConflictError", "voted"]
    change.refresh_from_db()
    assert change.state == State.REJECTED
    assert change.timeline.filter(transition="reject").count() == 1
