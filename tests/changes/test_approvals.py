"""Approval by the board: quorum rules, ordered steps, segregation of duties, cost thresholds,
vote changes, risk scoring."""

from decimal import Decimal

import pytest

from changes import selectors, services
from changes.models import (
    ApprovalRequest,
    ChangeTimelineEntry,
    ChangeType,
    Quorum,
    RiskAnswer,
    RiskLevel,
    RiskQuestion,
    RiskThreshold,
    State,
)
from helpdesk.errors import ConflictError, PermissionDenied, ValidationError
from helpdesk.roles import Role
from tests.changes.conftest import add_rule, make_change, to_awaiting_approval
from tests.factories import make_user


def _awaiting(end_user, engineer, **fields):
    change = make_change(requester=end_user.person, by=end_user, **fields)
    return to_awaiting_approval(change, engineer)


def _state(change):
    change.refresh_from_db()
    return change.state


def _approve(change, user, comment="OK"):
    return services.vote_cast(change=change, by=user, decision="approve", comment=comment)


def _reject(change, user, comment="Too risky before the audit"):
    return services.vote_cast(change=change, by=user, decision="reject", comment=comment)


@pytest.mark.django_db
def test_quorum_all_needs_every_approver(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    change = _awaiting(end_user, engineer)
    _approve(change, board[0])
    _approve(change, board[1])
    assert _state(change) == State.AWAITING_APPROVAL
    _approve(change, board[2])
    assert _state(change) == State.APPROVED
    step = change.approvals.get()
    assert (step.state, step.completed_at is not None) == (ApprovalRequest.State.APPROVED, True)


@pytest.mark.django_db
def test_quorum_any_one_approves(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ANY}])
    change = _awaiting(end_user, engineer)
    _approve(change, board[1])
    assert _state(change) == State.APPROVED


@pytest.mark.django_db
def test_quorum_any_survives_one_rejection_of_three(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ANY}])
    change = _awaiting(end_user, engineer)
    _reject(change, board[0])
    _reject(change, board[1])
    assert _state(change) == State.AWAITING_APPROVAL  # the third may still approve
    _reject(change, board[2])
    assert _state(change) == State.REJECTED


@pytest.mark.django_db
def test_quorum_two_of_three(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}])
    change = _awaiting(end_user, engineer)
    _approve(change, board[0])
    assert _state(change) == State.AWAITING_APPROVAL
    _approve(change, board[2])
    assert _state(change) == State.APPROVED


@pytest.mark.django_db
@pytest.mark.parametrize(("percent", "needed"), [(33, 1), (34, 2), (50, 2), (67, 3), (100, 3)])
def test_quorum_percentage_rounds_up(board, end_user, engineer, percent, needed):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.PERCENT, "quorum_value": percent}])
    change = _awaiting(end_user, engineer)
    for n in range(needed):
        assert _state(change) == State.AWAITING_APPROVAL
        _approve(change, board[n])
    assert _state(change) == State.APPROVED


@pytest.mark.django_db
def test_quorum_that_can_no_longer_be_reached_rejects_the_change(board, end_user, engineer):
    add_rule(
        steps=[
            {"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2},
            {"name": "financial", "users": [engineer], "quorum": Quorum.ANY},
        ]
    )
    other = make_user(Role.ENGINEER, username="implementer")
    change = _awaiting(end_user, other)
    _reject(change, board[0])
    assert _state(change) == State.AWAITING_APPROVAL  # two may still approve
    _reject(change, board[1], comment="No back-out plan")
    assert _state(change) == State.REJECTED
    states = dict(change.approvals.values_list("name", "state"))
    assert states == {"step 1": "rejected", "financial": "cancelled"}
    line = change.timeline.get(transition="reject")
    assert line.actor is None and "step 1" in line.note
    # The decision and its reasons are in the timeline the requester reads.
    reasons = set(change.timeline.filter(kind="vote").values_list("note", flat=True))
    assert reasons == {"Too risky before the audit", "No back-out plan"}


@pytest.mark.django_db
def test_steps_are_ordered(board, end_user, engineer, manager):
    add_rule(
        steps=[
            {"name": "technical", "change_board": True, "quorum": Quorum.ANY},
            {"name": "financial", "users": [manager], "quorum": Quorum.ALL},
        ]
    )
    change = _awaiting(end_user, engineer)
    with pytest.raises(ValidationError) as early:
        _approve(change, manager)
    assert "not open yet" in str(early.value)
    _approve(change, board[0])
    assert _state(change) == State.AWAITING_APPROVAL
    assert dict(change.approvals.values_list("name", "state")) == {
        "technical": "approved",
        "financial": "open",
    }
    _approve(change, manager)
    assert _state(change) == State.APPROVED


@pytest.mark.django_db
def test_rejection_needs_a_reason(board, end_user, engineer, board_rule):
    change = _awaiting(end_user, engineer)
    with pytest.raises(ValidationError) as refused:
        services.vote_cast(change=change, by=board[0], decision="reject", comment="  ")
    assert "comment" in refused.value.message_dict
    assert not change.approvals.get().votes.exists()


@pytest.mark.django_db
def test_requester_on_the_board_cannot_approve_their_change(board, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    requester = board[0]
    change = _awaiting(requester, engineer)
    step = change.approvals.get()
    assert set(step.approvers.all()) == {board[1], board[2]}
    with pytest.raises(PermissionDenied) as refused:
        _approve(change, requester)
    assert "requested this change or will implement it" in str(refused.value)
    _approve(change, board[1])
    _approve(change, board[2])
    assert _state(change) == State.APPROVED


def _board_engineer():
    from django.contrib.auth.models import Group

    dual = make_user(Role.ENGINEER, username="dual")
    dual.groups.add(Group.objects.get(name=Role.CHANGE_BOARD))
    return dual


@pytest.mark.django_db
def test_implementer_cannot_approve_even_when_named_later(board, end_user, engineer):
    dual = _board_engineer()
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    change = _awaiting(end_user, engineer)
    assert set(change.approvals.get().approvers.all()) == {*board, dual}
    _approve(change, board[0])
    services.change_update(change=change, by=engineer, implementer=dual)
    assert set(change.approvals.get().approvers.all()) == set(board)
    with pytest.raises(PermissionDenied):
        _approve(change, dual)
    _approve(change, board[1])
    assert _state(change) == State.AWAITING_APPROVAL
    _approve(change, board[2])
    assert _state(change) == State.APPROVED


@pytest.mark.django_db
def test_naming_the_implementer_can_complete_the_step(board, end_user, engineer):
    dual = _board_engineer()
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    change = _awaiting(end_user, engineer)
    for member in board:
        _approve(change, member)
    assert _state(change) == State.AWAITING_APPROVAL  # dual has not voted
    updated = services.change_update(change=change, by=engineer, implementer=dual)
    assert updated.state == State.APPROVED


@pytest.mark.django_db
def test_who_approved_does_not_implement(board, end_user, engineer, agent):
    approver = make_user(Role.ENGINEER, username="approving-engineer")
    add_rule(steps=[{"users": [approver], "quorum": Quorum.ANY}])
    change = _awaiting(end_user, engineer)
    _approve(change, approver)
    change = services.change_schedule(change=change, by=engineer)
    with pytest.raises(ValidationError) as named:
        services.change_update(change=change, by=engineer, implementer=approver)
    assert "implementer" in named.value.message_dict
    with pytest.raises(ValidationError):
        services.change_implement(change=change, by=approver)
    with pytest.raises(ValidationError):  # the staff implement, not the board
        services.change_update(change=change, by=engineer, implementer=board[0])
    started = services.change_implement(change=change, by=agent)
    assert (started.state, started.implementer) == (State.IMPLEMENTING, agent)


@pytest.mark.django_db
def test_someone_not_asked_cannot_vote(board, end_user, engineer, board_rule, manager):
    change = _awaiting(end_user, engineer)
    with pytest.raises(PermissionDenied):
        _approve(change, manager)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cost", "financial"),
    [(None, False), ("9999.99", False), ("10000.00", False), ("10000.01", True)],
)
def test_financial_step_applies_only_above_its_threshold(
    board, end_user, engineer, manager, cost, financial
):
    add_rule(
        steps=[
            {"name": "technical", "change_board": True, "quorum": Quorum.ANY},
            {"name": "financial", "users": [manager], "min_cost": Decimal("10000")},
        ]
    )
    change = _awaiting(end_user, engineer, estimated_cost=cost and Decimal(cost))
    names = list(change.approvals.values_list("name", flat=True))
    assert names == (["technical", "financial"] if financial else ["technical"])
    _approve(change, board[0])
    assert _state(change) == (State.AWAITING_APPROVAL if financial else State.APPROVED)


@pytest.mark.django_db
def test_quorum_all_is_lost_with_the_first_rejection(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    change = _awaiting(end_user, engineer)
    _approve(change, board[1])
    _reject(change, board[0], comment="Missing test plan")
    assert _state(change) == State.REJECTED


@pytest.mark.django_db
def test_vote_changed_before_completion_counts_once(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}])
    change = _awaiting(end_user, engineer)
    _reject(change, board[0], comment="Missing test plan")
    _approve(change, board[0], comment="Test plan added, fine now")
    step = change.approvals.get()
    assert list(step.votes.values_list("voter__username", "decision")) == [("cab1", "approve")]
    assert services.approval_tally(step) == (1, 0, 3, 2)
    _approve(change, board[1])
    assert _state(change) == State.APPROVED
    changed = change.timeline.filter(kind=ChangeTimelineEntry.Kind.VOTE, actor=board[0])
    assert list(changed.values_list("old_value", "new_value")) == [
        ("", "reject"),
        ("reject", "approve"),
    ]
    assert {line.approval_id for line in changed} == {step.pk}


@pytest.mark.django_db
def test_vote_cannot_change_after_the_step_completed(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}])
    change = _awaiting(end_user, engineer)
    _approve(change, board[0])
    _approve(change, board[1])
    assert _state(change) == State.APPROVED
    with pytest.raises(ConflictError):
        _reject(change, board[0])
    # A late voter who never voted is refused the same way.
    with pytest.raises(ConflictError):
        _approve(change, board[2])
    assert change.approvals.get().votes.count() == 2


@pytest.mark.django_db
def test_service_owners_approve(end_user, engineer, service):
    owner = make_user(Role.ENGINEER, username="owner")
    service.owner_group.members.add(owner)
    add_rule(steps=[{"service_owners": True, "quorum": Quorum.ALL}])
    change = _awaiting(end_user, engineer, services=[service])
    assert list(change.approvals.get().approvers.all()) == [owner]
    _approve(change, owner)
    assert _state(change) == State.APPROVED


@pytest.mark.django_db
def test_without_a_rule_or_approvers_the_change_stays_in_assessment(board, end_user, engineer):
    change = make_change(requester=end_user.person, by=end_user)
    with pytest.raises(ValidationError) as no_rule:
        to_awaiting_approval(change, engineer)
    assert "type" in no_rule.value.message_dict
    assert _state(change) == State.ASSESSMENT
    add_rule(steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 4}])
    with pytest.raises(ValidationError) as too_few:
        services.change_request_approval(change=change, by=engineer)
    assert "approvers" in too_few.value.message_dict
    assert _state(change) == State.ASSESSMENT
    assert not change.approvals.exists()


@pytest.mark.django_db
def test_rule_for_the_exact_risk_wins_and_emergency_has_its_board(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ANY, "name": "any risk"}])
    add_rule(risk=RiskLevel.HIGH, steps=[{"change_board": True, "name": "high risk"}])
    add_rule(ChangeType.EMERGENCY, steps=[{"users": [board[2]], "name": "emergency board"}])
    high = make_change(requester=end_user.person, by=end_user)
    services.change_update(change=high, by=engineer)
    high.risk = RiskLevel.HIGH
    high.save(update_fields=["risk"])
    high = to_awaiting_approval(high, engineer)
    assert list(high.approvals.values_list("name", flat=True)) == ["high risk"]
    urgent = make_change(requester=end_user.person, by=engineer, type=ChangeType.EMERGENCY)
    urgent = services.change_submit(change=urgent, by=engineer)
    urgent = services.change_request_approval(change=urgent, by=engineer)
    assert list(urgent.approvals.get().approvers.all()) == [board[2]]
    _approve(urgent, board[2])
    assert _state(urgent) == State.APPROVED


@pytest.mark.django_db
def test_withdrawing_cancels_the_open_votes(board, end_user, engineer, board_rule):
    change = _awaiting(end_user, engineer)
    services.change_withdraw(change=change, by=end_user, reason="Done another way")
    assert change.approvals.get().state == ApprovalRequest.State.CANCELLED
    with pytest.raises(ConflictError):
        _approve(change, board[0])


@pytest.mark.django_db
def test_awaiting_my_vote_lists_open_steps_i_have_not_voted(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ALL}])
    change = _awaiting(end_user, engineer)
    assert list(selectors.changes_awaiting_vote(board[0])) == [change]
    _approve(change, board[0])
    assert list(selectors.changes_awaiting_vote(board[0])) == []
    assert list(selectors.changes_awaiting_vote(board[1])) == [change]


@pytest.mark.django_db
def test_risk_questionnaire_scores_into_a_level(end_user, engineer):
    RiskThreshold.objects.create(level=RiskLevel.MEDIUM, min_score=3)
    RiskThreshold.objects.create(level=RiskLevel.HIGH, min_score=6)
    outage = RiskQuestion.objects.create(text="Is an outage needed?", order=1)
    tested = RiskQuestion.objects.create(text="Was it tested?", order=2)
    no_outage = RiskAnswer.objects.create(question=outage, text="No", points=0)
    long_outage = RiskAnswer.objects.create(question=outage, text="Over an hour", points=4)
    yes = RiskAnswer.objects.create(question=tested, text="Yes", points=0)
    no = RiskAnswer.objects.create(question=tested, text="No", points=3)
    change = make_change(requester=end_user.person, by=end_user)
    with pytest.raises(ValidationError):
        services.change_risk_assess(change=change, by=engineer, answers={outage.pk: no_outage.pk})
    with pytest.raises(ValidationError):  # an answer of another question
        services.change_risk_assess(
            change=change, by=engineer, answers={outage.pk: yes.pk, tested.pk: yes.pk}
        )
    low = services.change_risk_assess(
        change=change, by=engineer, answers={outage.pk: no_outage.pk, tested.pk: yes.pk}
    )
    assert (low.risk, low.risk_score) == (RiskLevel.LOW, 0)
    medium = services.change_risk_assess(
        change=change, by=engineer, answers={outage.pk: long_outage.pk, tested.pk: yes.pk}
    )
    assert (medium.risk, medium.risk_score) == (RiskLevel.MEDIUM, 4)
    high = services.change_risk_assess(
        change=change, by=engineer, answers={outage.pk: long_outage.pk, tested.pk: no.pk}
    )
    assert (high.risk, high.risk_score, high.risk_answers.count()) == (RiskLevel.HIGH, 7, 2)
    with pytest.raises(PermissionDenied):
        services.change_risk_assess(change=change, by=end_user, answers={})
