"""The ticket lifecycle: every allowed and every forbidden transition, by role and state."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from helpdesk.errors import TransitionNotAllowedError
from helpdesk.models import SupportGroup
from tests.factories import SupportGroupFactory, make_ticket
from tickets import selectors, services, transitions
from tickets.models import PendingReason, Status, Ticket, TimelineEntry

pytestmark = pytest.mark.django_db

STATES = ["new", "assigned", "in_progress", "pending", "resolved", "closed", "cancelled"]

# What someone who works tickets may do in each state (ticket with the first line).
WORKER_TRANSITIONS = {
    "new": {"assign", "start", "resolve", "cancel", "transfer", "escalate", "merge"},
    "assigned": {"assign", "start", "pend", "resolve", "cancel", "transfer", "escalate", "merge"},
    "in_progress": {"pend", "resolve", "cancel", "transfer", "escalate", "merge"},
    "pending": {"resume", "resolve", "cancel", "transfer", "escalate", "merge"},
    "resolved": {"close", "reopen"},
    "closed": set(),
    "cancelled": set(),
}
# The caller (an end user): cancel while nobody has taken it, confirm (close) or reopen a
# resolution, and hand back a ticket that was waiting for them.
CALLER_TRANSITIONS = {
    "new": {"cancel"},
    "assigned": set(),
    "in_progress": set(),
    "pending": {"resume"},
    "resolved": {"close", "reopen"},
    "closed": set(),
    "cancelled": set(),
}

# Where each transition leads ("*": from any state it is allowed in).
TARGETS = {
    "assign": {"*": "assigned"},
    "start": {"*": "in_progress"},
    "pend": {"*": "pending"},
    "resume": {"*": "in_progress"},
    "resolve": {"*": "resolved"},
    "close": {"*": "closed"},
    "reopen": {"*": "assigned"},  # the agent who resolved it still has it
    "cancel": {"*": "cancelled"},
    "transfer": {"*": "new"},
    "escalate": {"*": "new"},
    "merge": {"*": "closed"},
}


def _arguments(name, *, by, groups):
    """Valid arguments for each transition service."""
    return {
        "assign": {"assignee": by},
        "start": {},
        "pend": {"reason": PendingReason.USER, "note": "Which printer?"},
        "resume": {},
        "resolve": {"code": "solved", "notes": "Cleared the paper jam."},
        "close": {},
        "reopen": {"reason": "It jams again."},
        "cancel": {"reason": "Found it myself."},
        "transfer": {"group": groups["other_first_line"], "reason": "Other site's printer."},
        "escalate": {"group": groups["network"], "diagnostic_notes": "Pinged it: no answer."},
        "merge": {"into": groups["survivor"]},
    }[name]


@pytest.fixture
def groups(first_line, network_group):
    other = SupportGroupFactory(name="Service Desk Kraków", code="desk-krk")
    # Not a group: the open ticket a duplicate is merged into.
    survivor = make_ticket(title="The same printer, reported first")
    return {
        "first_line": first_line,
        "network": network_group,
        "other_first_line": other,
        "survivor": survivor,
    }


@pytest.fixture
def bring_to(agent):
    """A function that creates a ticket for ``caller`` and takes it to ``state``."""

    def bring(state, *, caller, pending_reason=PendingReason.USER):
        ticket = make_ticket(caller=caller)
        if state == "new":
            return ticket
        if state == "cancelled":
            return services.ticket_cancel(ticket=ticket, by=agent)
        ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        if state == "assigned":
            return ticket
        ticket = services.ticket_start(ticket=ticket, by=agent)
        if state == "in_progress":
            return ticket
        if state == "pending":
            return services.ticket_pend(ticket=ticket, by=agent, reason=pending_reason)
        ticket = services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done.")
        if state == "resolved":
            return ticket
        return services.ticket_close(ticket=ticket, by=agent)

    return bring


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ["agent", "engineer", "manager", "admin_user"])
def test_workers_see_exactly_the_transitions_of_each_state(request, bring_to, state, role):
    user = request.getfixturevalue(role)
    ticket = bring_to(state, caller=request.getfixturevalue("end_user").person)
    assert ticket.status == state
    assert set(services.available_transitions(ticket, user)) == WORKER_TRANSITIONS[state]


@pytest.mark.parametrize("state", STATES)
def test_caller_sees_only_the_transitions_open_to_a_caller(bring_to, end_user, state):
    ticket = bring_to(state, caller=end_user.person)
    assert set(services.available_transitions(ticket, end_user)) == CALLER_TRANSITIONS[state]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ["other_end_user", "change_board"])
def test_who_neither_works_tickets_nor_called_may_take_no_transition(
    request, bring_to, end_user, state, role
):
    ticket = bring_to(state, caller=end_user.person)
    assert services.available_transitions(ticket, request.getfixturevalue(role)) == []


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_transition_succeeds_exactly_where_offered_to_an_agent(
    bring_to, end_user, agent, groups, state, name
):
    ticket = bring_to(state, caller=end_user.person)
    version = ticket.version
    service = transitions.REGISTRY[name].service_function
    kwargs = _arguments(name, by=agent, groups=groups)
    if name in WORKER_TRANSITIONS[state]:
        result = service(ticket=ticket, by=agent, **kwargs)
        assert result.status == TARGETS[name].get(state, TARGETS[name].get("*"))
        assert result.version == version + 1
        entry = result.timeline.filter(transition=name).last()
        assert (entry.old_value, entry.new_value) == (state, result.status)
    else:
        with pytest.raises(TransitionNotAllowedError) as error:
            service(ticket=ticket, by=agent, **kwargs)
        assert error.value.transition == name
        assert error.value.state == state
        assert set(error.value.allowed) == WORKER_TRANSITIONS[state]
        assert Ticket.objects.get(pk=ticket.pk).status == state
        assert Ticket.objects.get(pk=ticket.pk).version == version


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize(
    "name", ["assign", "start", "pend", "resume", "resolve", "close", "reopen", "cancel"]
)
def test_caller_may_take_only_the_callers_transitions(
    bring_to, end_user, groups, agent, state, name
):
    ticket = bring_to(state, caller=end_user.person)
    service = transitions.REGISTRY[name].service_function
    kwargs = _arguments(name, by=agent, groups=groups)
    if name in CALLER_TRANSITIONS[state]:
        assert service(ticket=ticket, by=end_user, **kwargs).status != state
    else:
        with pytest.raises(TransitionNotAllowedError):
            service(ticket=ticket, by=end_user, **kwargs)
        assert Ticket.objects.get(pk=ticket.pk).status == state


@pytest.mark.parametrize("state", ["new", "pending", "resolved"])
def test_end_user_may_not_touch_someone_elses_ticket(bring_to, end_user, other_end_user, state):
    ticket = bring_to(state, caller=end_user.person)
    for name in CALLER_TRANSITIONS[state]:
        with pytest.raises(TransitionNotAllowedError):
            transitions.REGISTRY[name].service_function(ticket=ticket, by=other_end_user)
    assert Ticket.objects.get(pk=ticket.pk).status == state


def test_caller_may_not_resume_a_ticket_waiting_for_a_third_party(bring_to, end_user, agent):
    ticket = bring_to("pending", caller=end_user.person, pending_reason=PendingReason.THIRD_PARTY)
    assert services.available_transitions(ticket, end_user) == []
    assert "resume" in services.available_transitions(ticket, agent)
    with pytest.raises(TransitionNotAllowedError):
        services.ticket_resume(ticket=ticket, by=end_user)


def test_transitions_on_a_second_line_ticket_offer_transfer_but_not_escalation(
    end_user, engineer, network_group
):
    ticket = make_ticket(caller=end_user.person, group=network_group)
    allowed = services.available_transitions(ticket, engineer)
    assert "transfer" in allowed
    assert "escalate" not in allowed
    with pytest.raises(TransitionNotAllowedError):
        services.ticket_escalate(
            ticket=ticket,
            by=engineer,
            group=SupportGroupFactory(code="apps", tier=SupportGroup.Tier.THIRD),
            diagnostic_notes="Checked.",
        )


def test_status_cannot_be_set_directly_and_model_refuses_illegal_transition(end_user):
    ticket = make_ticket(caller=end_user.person)
    with pytest.raises(AttributeError):
        ticket.status = Status.CLOSED
    with pytest.raises(TransitionNotAllowed):
        ticket.close()
    with pytest.raises(TransitionNotAllowed):
        ticket.resume()


def test_anonymous_user_has_no_transitions(end_user):
    from django.contrib.auth.models import AnonymousUser

    ticket = make_ticket(caller=end_user.person)
    assert services.available_transitions(ticket, AnonymousUser()) == []


# --- the happy path, milestones and first-contact resolution ---


def test_full_lifecycle_records_milestones_once(agent, end_user):
    ticket = make_ticket(caller=end_user.person, opened_by=end_user)
    assert ticket.first_response_at is None
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    first_response = ticket.first_response_at
    assert first_response is not None
    ticket = services.ticket_start(ticket=ticket, by=agent)
    ticket = services.ticket_pend(
        ticket=ticket, by=agent, reason=PendingReason.USER, note="Send the model number"
    )
    assert (ticket.pending_reason, ticket.pending_note) == ("user", "Send the model number")
    ticket = services.ticket_resume(ticket=ticket, by=end_user)
    assert (ticket.status, ticket.pending_reason, ticket.pending_note) == ("in_progress", "", "")
    ticket = services.ticket_resolve(
        ticket=ticket, by=agent, code="solved", notes="  Replaced toner.  "
    )
    assert ticket.resolved_at is not None
    assert ticket.resolution_notes == "Replaced toner."
    assert ticket.closed_at is None
    assert ticket.first_response_at == first_response
    ticket = services.ticket_close(ticket=ticket, by=end_user)
    assert ticket.closed_at >= ticket.resolved_at
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.first_response_at == first_response
    assert stored.status == Status.CLOSED
    assert not stored.first_contact_resolution


def test_caller_action_is_not_a_first_response(end_user, agent):
    ticket = make_ticket(caller=end_user.person)
    ticket = services.ticket_cancel(ticket=ticket, by=end_user)
    assert ticket.status == Status.CANCELLED
    assert ticket.closed_at is not None
    assert ticket.first_response_at is None


def test_resolving_on_first_contact_sets_the_flag_and_first_response(agent, end_user):
    ticket = make_ticket(caller=end_user.person, channel="phone", opened_by=agent)
    ticket = services.ticket_resolve(
        ticket=ticket, by=agent, code="user_instructed", notes="Reset password.", first_contact=True
    )
    assert ticket.first_contact_resolution
    assert ticket.assignee == agent
    assert ticket.first_response_at == ticket.resolved_at


def test_second_line_cannot_claim_first_contact_resolution(engineer, end_user, network_group):
    ticket = make_ticket(caller=end_user.person, group=network_group)
    with pytest.raises(ValidationError) as error:
        services.ticket_resolve(
            ticket=ticket, by=engineer, code="solved", notes="Fixed.", first_contact=True
        )
    assert "first_contact" in error.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_escalated_ticket_back_in_first_line_is_not_first_contact(
    agent, engineer, end_user, first_line, network_group
):
    ticket = make_ticket(caller=end_user.person)
    ticket = services.ticket_escalate(
        ticket=ticket, by=agent, group=network_group, diagnostic_notes="Checked cable."
    )
    ticket = services.ticket_transfer(
        ticket=ticket, by=engineer, group=first_line, reason="User must reinstall the app."
    )
    with pytest.raises(ValidationError):
        services.ticket_resolve(
            ticket=ticket, by=agent, code="solved", notes="Reinstalled.", first_contact=True
        )
    ticket = services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Reinstalled.")
    assert not ticket.first_contact_resolution


def test_reopen_clears_resolution_and_first_contact_flag(agent, end_user):
    ticket = make_ticket(caller=end_user.person)
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket = services.ticket_resolve(
        ticket=ticket, by=agent, code="solved", notes="Done.", first_contact=True
    )
    ticket = services.ticket_reopen(ticket=ticket, by=end_user, reason="Still broken")
    assert ticket.status == Status.ASSIGNED  # back to the agent who had it
    assert ticket.resolved_at is None
    assert ticket.resolution_code == ""
    assert not ticket.first_contact_resolution
    assert ticket.comments.get().body == "Still broken"
    assert not ticket.comments.get().is_internal
    # A reopened ticket is no longer a first-contact resolution.
    with pytest.raises(ValidationError):
        services.ticket_resolve(
            ticket=ticket, by=agent, code="solved", notes="Again.", first_contact=True
        )


def test_reopen_of_unassigned_resolution_goes_back_to_queue(agent, end_user):
    ticket = make_ticket(caller=end_user.person)
    ticket = services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done.")
    Ticket.objects.filter(pk=ticket.pk).update(assignee=None)
    ticket = services.ticket_reopen(ticket=Ticket.objects.get(pk=ticket.pk), by=end_user)
    assert ticket.status == Status.NEW
    assert not ticket.comments.exists()


# --- reopen window ---


def _resolved_days_ago(ticket, days):
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - timedelta(days=days, minutes=1)
    )
    return Ticket.objects.get(pk=ticket.pk)


def test_reopen_is_refused_after_the_reopen_window(settings, bring_to, end_user, agent):
    settings.TICKET_REOPEN_DAYS = 7
    ticket = _resolved_days_ago(bring_to("resolved", caller=end_user.person), 7)
    assert services.available_transitions(ticket, end_user) == ["close"]
    assert services.available_transitions(ticket, agent) == ["close"]
    with pytest.raises(TransitionNotAllowedError) as error:
        services.ticket_reopen(ticket=ticket, by=end_user, reason="Again")
    assert error.value.allowed == ["close"]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    assert not ticket.comments.exists()


def test_reopen_window_is_configurable(settings, bring_to, end_user):
    ticket = _resolved_days_ago(bring_to("resolved", caller=end_user.person), 2)
    settings.TICKET_REOPEN_DAYS = 1
    assert "reopen" not in services.available_transitions(ticket, end_user)
    settings.TICKET_REOPEN_DAYS = 3
    assert "reopen" in services.available_transitions(ticket, end_user)
    assert services.ticket_reopen(ticket=ticket, by=end_user).status == Status.ASSIGNED


def test_closed_ticket_cannot_be_reopened(bring_to, end_user, agent):
    ticket = bring_to("closed", caller=end_user.person)
    assert ticket.resolved_at is not None
    for user in (end_user, agent):
        with pytest.raises(TransitionNotAllowedError):
            services.ticket_reopen(ticket=ticket, by=user)


# --- transfer and escalation ---


def test_transfer_needs_a_reason_and_another_group(bring_to, end_user, agent, groups):
    ticket = bring_to("in_progress", caller=end_user.person)
    with pytest.raises(ValidationError) as error:
        services.ticket_transfer(
            ticket=ticket, by=agent, group=groups["other_first_line"], reason="  "
        )
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.ticket_transfer(ticket=ticket, by=agent, group=groups["first_line"], reason="x")
    assert "group" in error.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS


def test_transfer_queues_ticket_unassigned_with_reason_in_timeline(
    bring_to, end_user, agent, groups
):
    ticket = bring_to("pending", caller=end_user.person)
    ticket = services.ticket_transfer(
        ticket=ticket, by=agent, group=groups["other_first_line"], reason="Kraków printer"
    )
    assert (ticket.status, ticket.group, ticket.assignee) == (
        "new",
        groups["other_first_line"],
        None,
    )
    assert ticket.pending_reason == ""
    entry = ticket.timeline.get(kind=TimelineEntry.Kind.TRANSFER)
    assert (entry.actor, entry.note, entry.old_value, entry.new_value) == (
        agent,
        "Kraków printer",
        "pending",
        "new",
    )
    group_change = ticket.timeline.get(field="group")
    assert (group_change.old_value, group_change.new_value) == (
        "Service Desk",
        "Service Desk Kraków",
    )
    assignee_change = ticket.timeline.filter(field="assignee").last()
    assert (assignee_change.old_value, assignee_change.new_value) == ("agent", "")


def test_escalation_carries_diagnostics_as_internal_note(
    bring_to, end_user, agent, engineer, network_group
):
    ticket = bring_to("in_progress", caller=end_user.person)
    ticket = services.ticket_escalate(
        ticket=ticket,
        by=agent,
        group=network_group,
        diagnostic_notes="Cable replaced, link light off, switch port 12.",
    )
    assert (ticket.status, ticket.group, ticket.assignee) == ("new", network_group, None)
    note = ticket.comments.get()
    assert note.is_internal
    assert note.body == "Cable replaced, link light off, switch port 12."
    assert ticket.timeline.filter(kind=TimelineEntry.Kind.ESCALATION, actor=agent).exists()
    # The engineer reads the diagnostics; the caller sees the escalation but not the notes.
    engineer_view = list(selectors.timeline_for(engineer, ticket))
    assert any(e.comment and "switch port 12" in e.comment.body for e in engineer_view)
    caller_view = list(selectors.timeline_for(end_user, ticket))
    assert any(e.kind == TimelineEntry.Kind.ESCALATION for e in caller_view)
    assert not any(
        "switch port" in (e.note + (e.comment.body if e.comment else "")) for e in caller_view
    )
    assert list(selectors.comments_for(end_user, ticket)) == []
    # Second line takes it from there; it cannot be escalated again, only transferred.
    assert "escalate" not in services.available_transitions(ticket, engineer)
    assert "start" in services.available_transitions(ticket, engineer)


def test_escalation_needs_higher_tier_and_diagnostics(bring_to, end_user, agent, groups):
    ticket = bring_to("assigned", caller=end_user.person)
    with pytest.raises(ValidationError) as error:
        services.ticket_escalate(
            ticket=ticket, by=agent, group=groups["other_first_line"], diagnostic_notes="x"
        )
    assert "group" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.ticket_escalate(
            ticket=ticket, by=agent, group=groups["network"], diagnostic_notes=""
        )
    assert "diagnostic_notes" in error.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).group == groups["first_line"]


# --- argument checks ---


def test_pend_needs_a_known_reason(bring_to, end_user, agent):
    ticket = bring_to("in_progress", caller=end_user.person)
    with pytest.raises(ValidationError) as error:
        services.ticket_pend(ticket=ticket, by=agent, reason="bored")
    assert "reason" in error.value.message_dict


def test_resolve_needs_code_and_notes(bring_to, end_user, agent):
    ticket = bring_to("in_progress", caller=end_user.person)
    with pytest.raises(ValidationError) as error:
        services.ticket_resolve(ticket=ticket, by=agent, code="magic", notes=" ")
    assert set(error.value.message_dict) == {"code", "notes"}
    assert Ticket.objects.get(pk=ticket.pk).status == Status.IN_PROGRESS


def test_assign_only_to_someone_who_works_tickets(bring_to, end_user, other_end_user, agent):
    ticket = bring_to("new", caller=end_user.person)
    with pytest.raises(ValidationError) as error:
        services.ticket_assign(ticket=ticket, by=agent, assignee=other_end_user)
    assert "assignee" in error.value.message_dict
    with pytest.raises(ValidationError):
        services.ticket_assign(ticket=ticket, by=agent, assignee=None)


def test_reassign_keeps_state_and_records_old_and_new_assignee(bring_to, end_user, agent, engineer):
    ticket = bring_to("assigned", caller=end_user.person)
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=engineer)
    assert (ticket.status, ticket.assignee) == ("assigned", engineer)
    change = ticket.timeline.filter(field="assignee").last()
    assert (change.old_value, change.new_value, change.actor) == ("agent", "engineer", agent)


def test_start_takes_an_unassigned_ticket(bring_to, end_user, engineer):
    ticket = bring_to("new", caller=end_user.person)
    ticket = services.ticket_start(ticket=ticket, by=engineer)
    assert ticket.assignee == engineer
    assert ticket.first_response_at is not None


def test_no_transfer_or_escalation_to_an_inactive_group(bring_to, end_user, agent, groups):
    ticket = bring_to("assigned", caller=end_user.person)
    for group in (groups["other_first_line"], groups["network"]):
        group.is_active = False
        group.save()
    with pytest.raises(ValidationError) as error:
        services.ticket_transfer(
            ticket=ticket, by=agent, group=groups["other_first_line"], reason="Other site"
        )
    assert "group" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.ticket_escalate(
            ticket=ticket, by=agent, group=groups["network"], diagnostic_notes="Ping fails"
        )
    assert "group" in error.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).group == groups["first_line"]


@pytest.mark.django_db
def test_first_contact_resolution_creates_and_resolves_in_one_transaction(agent, end_user, groups):
    ticket = services.ticket_create_solved_on_first_contact(
        caller=end_user.person,
        opened_by=agent,
        title="Password reset",
        channel="phone",
        code="user_instructed",
        notes="Reset in AD, user logged in.",
    )
    assert (ticket.status, ticket.first_contact_resolution) == (Status.RESOLVED, True)
    assert list(ticket.timeline.values_list("kind", "field", "transition")) == [
        ("created", "status", ""),
        ("transition", "status", "resolve"),
        ("field_change", "resolution_code", ""),
        ("field_change", "assignee", ""),
    ]


@pytest.mark.django_db
def test_refused_first_contact_resolution_leaves_no_ticket(agent, end_user, groups):
    with pytest.raises(ValidationError) as error:
        services.ticket_create_solved_on_first_contact(
            caller=end_user.person, opened_by=agent, title="Password reset", code="", notes=""
        )
    assert {"code", "notes"} <= set(error.value.message_dict)
    assert not Ticket.objects.exclude(pk=groups["survivor"].pk).exists()
