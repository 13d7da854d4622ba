"""Every transition of a change, allowed and forbidden, per role and state."""

import pytest

from changes import services, transitions
from changes.models import Change, ChangeTimelineEntry, ChangeType, CloseCode, State
from helpdesk.errors import PermissionDenied, TransitionNotAllowedError, ValidationError
from tests.changes.conftest import make_change, window

WORKERS = ("agent", "engineer", "manager", "admin_user")
OTHERS = ("other_end_user", "change_board")

# (type, state) -> what a worker may take; the requester (an end user) may submit their draft
# and withdraw until the work starts; others nothing.
WORKER_ALLOWED = {
    (ChangeType.NORMAL, State.DRAFT): {"submit", "withdraw"},
    (ChangeType.NORMAL, State.SUBMITTED): {"assess", "withdraw"},
    (ChangeType.NORMAL, State.ASSESSMENT): {"request_approval", "withdraw"},
    (ChangeType.NORMAL, State.AWAITING_APPROVAL): {"withdraw"},
    (ChangeType.NORMAL, State.APPROVED): {"schedule", "withdraw"},
    (ChangeType.NORMAL, State.REJECTED): set(),
    (ChangeType.NORMAL, State.SCHEDULED): {"implement", "withdraw"},
    (ChangeType.NORMAL, State.IMPLEMENTING): {"finish"},
    (ChangeType.NORMAL, State.REVIEW): {"close"},
    (ChangeType.NORMAL, State.CLOSED): set(),
    (ChangeType.NORMAL, State.WITHDRAWN): set(),
    # A standard change is pre-approved: from submission straight to the schedule.
    (ChangeType.STANDARD, State.SUBMITTED): {"schedule", "withdraw"},
    (ChangeType.STANDARD, State.ASSESSMENT): {"withdraw"},
    # An emergency change may skip the assessment round.
    (ChangeType.EMERGENCY, State.SUBMITTED): {"assess", "request_approval", "withdraw"},
    (ChangeType.EMERGENCY, State.ASSESSMENT): {"request_approval", "withdraw"},
}
REQUESTER_ALLOWED = {
    State.DRAFT: {"submit", "withdraw"},
    State.SUBMITTED: {"withdraw"},
    State.ASSESSMENT: {"withdraw"},
    State.AWAITING_APPROVAL: {"withdraw"},
    State.APPROVED: {"withdraw"},
    State.SCHEDULED: {"withdraw"},
}
TARGET = {
    "submit": State.SUBMITTED,
    "assess": State.ASSESSMENT,
    "request_approval": State.AWAITING_APPROVAL,
    "schedule": State.SCHEDULED,
    "implement": State.IMPLEMENTING,
    "finish": State.REVIEW,
    "close": State.CLOSED,
    "withdraw": State.WITHDRAWN,
}
INPUTS = {
    "schedule": lambda: dict(zip(("planned_start", "planned_end"), window(48), strict=True)),
    "finish": lambda: {"code": CloseCode.SUCCESSFUL},
    "close": lambda: {"code": CloseCode.SUCCESSFUL, "result": "Done as planned."},
    "withdraw": lambda: {"reason": "Not needed"},
}
USER_TRANSITIONS = [name for name, t in transitions.REGISTRY.items() if not t.system]


def _change_in(state, change_type, requester, by, template=None):
    kwargs = {"template": template} if change_type == ChangeType.STANDARD else {"type": change_type}
    change = make_change(requester=requester, by=by, **kwargs)
    Change.objects.filter(pk=change.pk).update(state=state)
    return Change.objects.get(pk=change.pk)


CASES = [(t, s) for (t, s) in WORKER_ALLOWED]
ROLES = (*WORKERS, *OTHERS, "end_user")


@pytest.mark.django_db
@pytest.mark.parametrize(("change_type", "state"), CASES)
@pytest.mark.parametrize("role", ROLES)
def test_available_transitions_per_role_and_state(
    request, role, change_type, state, end_user, board_rule, template
):
    user = request.getfixturevalue(role)
    change = _change_in(state, change_type, end_user.person, end_user, template)
    if role in WORKERS:
        expected = WORKER_ALLOWED[(change_type, state)]
    elif role == "end_user":  # the requester
        expected = REQUESTER_ALLOWED.get(state, set())
        if change_type == ChangeType.STANDARD and state == State.SUBMITTED:
            expected = {"withdraw"}
    else:
        expected = set()
    assert set(services.available_transitions(change, user)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("change_type", "state"), CASES)
@pytest.mark.parametrize("role", ("engineer", "end_user", "change_board"))
@pytest.mark.parametrize("name", USER_TRANSITIONS)
def test_each_transition_is_taken_where_offered_and_refused_elsewhere(
    request, role, change_type, state, name, end_user, board_rule, template
):
    user = request.getfixturevalue(role)
    change = _change_in(state, change_type, end_user.person, end_user, template)
    offered = name in services.available_transitions(change, user)
    kwargs = INPUTS.get(name, dict)()
    if offered:
        done = services.transition_take(change=change, by=user, name=name, **kwargs)
        assert done.state == TARGET[name]
        assert done.version == change.version + 1
        line = done.timeline.get(kind=ChangeTimelineEntry.Kind.TRANSITION)
        assert (line.transition, line.old_value, line.new_value) == (name, state, TARGET[name])
    else:
        with pytest.raises(TransitionNotAllowedError) as refused:
            services.transition_take(change=change, by=user, name=name, **kwargs)
        assert refused.value.transition == name
        assert Change.objects.get(pk=change.pk).state == state


@pytest.mark.django_db
def test_approve_and_reject_are_never_taken_by_a_person(admin_user, end_user):
    change = _change_in(State.AWAITING_APPROVAL, ChangeType.NORMAL, end_user.person, end_user)
    assert services.available_transitions(change, admin_user) == ["withdraw"]
    assert set(services.available_transitions(change, None)) >= {"approve", "reject"}
    for name in ("approve", "reject"):
        with pytest.raises(TransitionNotAllowedError):
            services.transition_take(change=change, by=admin_user, name=name)


@pytest.mark.django_db
def test_full_path_of_a_normal_change_is_in_its_timeline(engineer, end_user, board, board_rule):
    change = make_change(requester=end_user.person, by=end_user)
    change = services.change_submit(change=change, by=end_user)
    change = services.change_assess(change=change, by=engineer)
    change = services.change_request_approval(change=change, by=engineer)
    services.vote_cast(change=change, by=board[0], decision="approve", comment="Fine")
    change.refresh_from_db()
    assert change.state == State.APPROVED and change.approved_at
    change = services.change_schedule(change=change, by=engineer)
    change = services.change_implement(change=change, by=engineer)
    assert change.implementer == engineer
    change = services.change_finish(change=change, by=engineer, code=CloseCode.SUCCESSFUL)
    change = services.change_close(change=change, by=engineer, result="Mail flows.")
    assert (change.state, change.close_code) == (State.CLOSED, CloseCode.SUCCESSFUL)
    steps = list(
        change.timeline.filter(kind=ChangeTimelineEntry.Kind.TRANSITION).values_list(
            "transition", "actor__username"
        )
    )
    assert steps == [
        ("submit", "enduser"),
        ("assess", "engineer"),
        ("request_approval", "engineer"),
        ("approve", None),
        ("schedule", "engineer"),
        ("implement", "engineer"),
        ("finish", "engineer"),
        ("close", "engineer"),
    ]
    assert change.timeline.filter(kind=ChangeTimelineEntry.Kind.VOTE).count() == 1


@pytest.mark.django_db
def test_emergency_change_cannot_close_without_its_review(engineer, end_user):
    change = _change_in(State.REVIEW, ChangeType.EMERGENCY, end_user.person, engineer)
    with pytest.raises(ValidationError) as refused:
        services.change_close(change=change, by=engineer, code=CloseCode.SUCCESSFUL)
    assert "result" in refused.value.message_dict
    closed = services.change_close(
        change=change, by=engineer, code=CloseCode.SUCCESSFUL, result="Patched in time."
    )
    assert closed.state == State.CLOSED


@pytest.mark.django_db
@pytest.mark.parametrize("code", [CloseCode.FAILED, CloseCode.BACKED_OUT])
def test_failed_or_backed_out_change_says_what_went_wrong(engineer, end_user, code):
    change = _change_in(State.REVIEW, ChangeType.NORMAL, end_user.person, engineer)
    with pytest.raises(ValidationError) as refused:
        services.change_close(change=change, by=engineer, code=code, result="Rolled back.")
    assert "problems" in refused.value.message_dict
    closed = services.change_close(
        change=change, by=engineer, code=code, result="Rolled back.", problems="Disk full."
    )
    assert (closed.close_code, closed.review_problems) == (code, "Disk full.")


@pytest.mark.django_db
def test_standard_change_needs_a_template_and_takes_its_plan(engineer, end_user, template):
    with pytest.raises(ValidationError):
        make_change(requester=end_user.person, by=engineer, type=ChangeType.STANDARD)
    change = make_change(requester=end_user.person, by=engineer, template=template)
    assert change.type == ChangeType.STANDARD
    assert change.implementation_plan == "systemctl restart postfix"
    assert list(change.services.all()) == list(template.services.all())
    change = services.change_submit(change=change, by=engineer)
    change = services.change_schedule(change=change, by=engineer)
    assert change.state == State.SCHEDULED
    assert not change.approvals.exists()


@pytest.mark.django_db
def test_end_user_requests_changes_only_for_themselves(end_user, other_end_user, engineer):
    with pytest.raises(PermissionDenied):
        make_change(requester=other_end_user.person, by=end_user)
    made = make_change(requester=other_end_user.person, by=engineer)
    assert made.number.startswith("CHG-") and made.created_by == engineer


@pytest.mark.django_db
def test_numbers_are_consecutive(end_user):
    numbers = [make_change(requester=end_user.person, by=end_user).number for _ in range(3)]
    assert numbers == ["CHG-000001", "CHG-000002", "CHG-000003"]


@pytest.mark.django_db
def test_requester_edits_only_the_draft_and_each_field_goes_to_the_timeline(
    end_user, engineer, service
):
    change = make_change(requester=end_user.person, by=end_user)
    change = services.change_update(
        change=change, by=end_user, expected_version=1, title="New title", services=[service]
    )
    lines = set(change.timeline.filter(kind="field_change").values_list("field", "new_value"))
    assert lines == {("title", "New title"), ("services", "E-mail")}
    services.change_submit(change=change, by=end_user)
    with pytest.raises(PermissionDenied):
        services.change_update(change=change, by=end_user, title="Again")
    services.change_update(change=change, by=engineer, budget_line="IT-2027-04")


@pytest.mark.django_db
def test_stale_version_is_a_conflict(end_user, engineer):
    from helpdesk.errors import ConflictError

    change = make_change(requester=end_user.person, by=end_user)
    services.change_update(change=change, by=engineer, expected_version=1, title="A")
    with pytest.raises(ConflictError) as conflict:
        services.change_submit(change=change, by=engineer, expected_version=1)
    assert conflict.value.current_version == 2
