"""The pages of change management: list, detail and its forms, board, calendar, feed page,
the ticket page's "this is a request for change"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from changes import services
from changes.forms import TRANSITION_FORMS, VersionForm
from changes.models import (
    CalendarFeedToken,
    Change,
    ChangeType,
    FreezePeriod,
    Quorum,
    RiskAnswer,
    RiskQuestion,
    RiskThreshold,
    State,
)
from changes.transitions import REGISTRY
from tests.changes.conftest import add_rule, make_change, to_awaiting_approval
from tests.factories import make_ticket
from tickets.models import PendingReason, Ticket
from tickets.models import Status as TicketStatus

pytestmark = pytest.mark.django_db


def _local_input(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def _approved(change, by, board):
    change = to_awaiting_approval(change, by)
    for member in board[:2]:
        services.vote_cast(change=change, by=member, decision="approve")
    change.refresh_from_db()
    assert change.state == State.APPROVED
    return change


@pytest.fixture
def two_votes(board):
    """Normal changes: the change board, two approvals complete the step."""
    return add_rule(
        ChangeType.NORMAL,
        steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}],
    )


# --- the transition forms follow the registry ------------------------------------------------


def test_each_transition_form_has_the_registry_inputs():
    for name, declared in REGISTRY.items():
        form_class = TRANSITION_FORMS.get(name, VersionForm)
        fields = set(form_class.base_fields) - {"version"}
        assert fields == set(declared.inputs), name
        if declared.one_click:
            assert name not in TRANSITION_FORMS


# --- list ------------------------------------------------------------------------------------


def test_end_user_lists_only_the_changes_they_requested(client, end_user, other_end_user, agent):
    mine = make_change(requester=end_user.person, by=end_user, title="A standing desk")
    theirs = make_change(requester=other_end_user.person, by=other_end_user, title="New chair")
    client.force_login(end_user)
    content = client.get(reverse("changes:list")).content.decode()
    assert mine.number in content
    assert theirs.number not in content
    client.force_login(agent)
    content = client.get(reverse("changes:list")).content.decode()
    assert mine.number in content and theirs.number in content


def test_list_filters_by_state_and_searches_number_and_title(client, agent, end_user):
    draft = make_change(requester=end_user.person, by=agent, title="Replace the core switch")
    submitted = make_change(requester=end_user.person, by=agent, title="Printer driver")
    services.change_submit(change=submitted, by=agent)
    client.force_login(agent)
    content = client.get(reverse("changes:list"), {"state": "submitted"}).content.decode()
    assert submitted.number in content and draft.number not in content
    content = client.get(reverse("changes:list"), {"q": "core switch"}).content.decode()
    assert draft.number in content and submitted.number not in content
    content = client.get(reverse("changes:list"), {"q": submitted.number}).content.decode()
    assert submitted.number in content and draft.number not in content


def test_list_sorts_and_pages(client, agent, end_user):
    changes = [
        make_change(requester=end_user.person, by=agent, title=f"Change {n:02d}") for n in range(30)
    ]
    client.force_login(agent)
    first = client.get(reverse("changes:list"), {"sort": "title"}).content.decode()
    assert changes[0].number in first and changes[29].number not in first
    second = client.get(reverse("changes:list"), {"sort": "title", "page": 2}).content.decode()
    assert changes[29].number in second and changes[0].number not in second


def test_list_queries_do_not_grow_with_the_changes(
    client, agent, end_user, service, django_assert_max_num_queries
):
    for n in range(20):
        change = make_change(requester=end_user.person, by=agent, title=f"Change {n}")
        change.services.set([service])
    client.force_login(agent)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("changes:list"))
    assert response.content.decode().count('data-change="CHG-') == 20


# --- detail ----------------------------------------------------------------------------------


def test_other_end_user_gets_404_for_a_change(client, end_user, other_end_user):
    change = make_change(requester=end_user.person, by=end_user)
    client.force_login(other_end_user)
    assert client.get(reverse("changes:detail", args=[change.number])).status_code == 404


def test_detail_shows_risk_answers_votes_and_html_escaped(
    client, engineer, end_user, board, two_votes
):
    question = RiskQuestion.objects.create(text="Is a backout possible?")
    answer = RiskAnswer.objects.create(question=question, text="No backout", points=5)
    RiskThreshold.objects.create(level="high", min_score=4)
    change = make_change(requester=end_user.person, by=engineer, title="<script>x</script>")
    services.change_risk_assess(change=change, by=engineer, answers={question.pk: answer.pk})
    change = to_awaiting_approval(change, engineer)
    services.vote_cast(change=change, by=board[0], decision="approve", comment="Fine by me")
    client.force_login(end_user)
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert "<script>x</script>" not in content and "&lt;script&gt;x&lt;/script&gt;" in content
    assert "No backout" in content and 'data-risk="high"' in content
    assert f'data-voter="{board[0].username}"' in content and "Fine by me" in content
    assert "1 of 2 approvals" in content


def test_detail_warns_staff_of_conflicts_and_freezes(
    client, engineer, end_user, board, two_votes, service
):
    booked = make_change(requester=end_user.person, by=engineer, title="Booked")
    booked.services.set([service])
    booked = _approved(booked, engineer, board)
    change = make_change(requester=end_user.person, by=engineer, title="Overlapping")
    change.services.set([service])
    FreezePeriod.objects.create(
        name="Audit week",
        start=change.planned_start - timedelta(hours=1),
        end=change.planned_end,
        is_global=True,
    )
    client.force_login(engineer)
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'data-testid="freeze-warning"' in content and "Audit week" in content
    assert 'data-testid="change-conflicts"' in content and booked.number in content
    # The requester is not shown other people's work.
    client.force_login(end_user)
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'data-testid="conflicts"' not in content


def test_buttons_are_the_available_transitions(client, engineer, end_user, change_board):
    change = make_change(requester=end_user.person, by=end_user)
    client.force_login(end_user)
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert 'data-action="submit"' in content and 'data-action="withdraw"' in content
    assert 'data-action="assess"' not in content
    client.force_login(change_board)
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert "data-action=" not in content and 'data-testid="edit-form"' not in content


def test_submit_then_schedule_refused_into_a_freeze(client, engineer, end_user, board, two_votes):
    change = make_change(requester=end_user.person, by=end_user)
    client.force_login(end_user)
    response = client.post(
        reverse("changes:action", args=[change.number, "submit"]), {"version": change.version}
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.state == State.SUBMITTED
    services.change_assess(change=change, by=engineer)
    services.change_request_approval(change=change, by=engineer)
    for member in board[:2]:
        services.vote_cast(change=change, by=member, decision="approve")
    change.refresh_from_db()
    FreezePeriod.objects.create(
        name="Year end", start=change.planned_start, end=change.planned_end, is_global=True
    )
    client.force_login(engineer)
    response = client.post(
        reverse("changes:action", args=[change.number, "schedule"]),
        {
            "version": change.version,
            "planned_start": _local_input(change.planned_start),
            "planned_end": _local_input(change.planned_end),
        },
    )
    assert response.status_code == 400
    assert "Year end" in response.content.decode()
    change.refresh_from_db()
    assert change.state == State.APPROVED


def test_a_stale_transition_is_a_409(client, engineer, end_user):
    change = make_change(requester=end_user.person, by=end_user)
    stale = change.version
    services.change_update(change=change, by=engineer, title="Renamed")
    client.force_login(engineer)
    response = client.post(
        reverse("changes:action", args=[change.number, "submit"]), {"version": stale}
    )
    assert response.status_code == 409
    change.refresh_from_db()
    assert change.state == State.DRAFT


def test_edit_saves_and_a_stale_edit_keeps_the_input_with_current_values(
    client, engineer, end_user
):
    change = make_change(requester=end_user.person, by=engineer, title="Old title")
    client.force_login(engineer)
    data = {
        "version": change.version,
        "title": "New title",
        "impact": change.impact,
        "planned_start": _local_input(change.planned_start),
        "planned_end": _local_input(change.planned_end),
        "estimated_cost": "750.00",
    }
    response = client.post(reverse("changes:edit", args=[change.number]), data)
    assert response.status_code == 302
    change.refresh_from_db()
    assert (change.title, str(change.estimated_cost)) == ("New title", "750.00")
    # A colleague saves meanwhile; the page still carries the old version.
    services.change_update(change=change, by=engineer, title="Colleague's title")
    stale = {**data, "title": "My title"}
    response = client.post(reverse("changes:edit", args=[change.number]), stale)
    assert response.status_code == 409
    content = response.content.decode()
    assert 'data-testid="conflict"' in content
    assert 'value="My title"' in content  # the input is kept
    assert "Colleague&#x27;s title" in content  # the current value is shown
    change.refresh_from_db()
    assert change.title == "Colleague's title"
    assert f'name="version" value="{change.version}"' in content


def test_comment_is_added_to_the_timeline(client, end_user):
    change = make_change(requester=end_user.person, by=end_user)
    client.force_login(end_user)
    response = client.post(reverse("changes:comment", args=[change.number]), {"body": "When?"})
    assert response.status_code == 302
    assert change.comments.get().body == "When?"
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    assert "When?" in content


def test_risk_questionnaire_sets_the_risk(client, engineer, end_user):
    question = RiskQuestion.objects.create(text="Users affected?")
    many = RiskAnswer.objects.create(question=question, text="Everyone", points=7)
    RiskAnswer.objects.create(question=question, text="Nobody", points=0)
    RiskThreshold.objects.create(level="medium", min_score=3)
    change = make_change(requester=end_user.person, by=engineer)
    client.force_login(engineer)
    page = client.get(reverse("changes:risk", args=[change.number]))
    assert "Users affected?" in page.content.decode()
    response = client.post(
        reverse("changes:risk", args=[change.number]),
        {"version": change.version, f"q{question.pk}": many.pk},
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert (change.risk, change.risk_score) == ("medium", 7)


# --- create ----------------------------------------------------------------------------------


def test_end_user_creates_a_draft_for_themselves(client, end_user):
    client.force_login(end_user)
    response = client.post(
        reverse("changes:new"), {"title": "A second monitor", "impact": 3, "type": "normal"}
    )
    change = Change.objects.get(title="A second monitor")
    assert response["Location"] == reverse("changes:detail", args=[change.number])
    assert change.requester == end_user.person and change.state == State.DRAFT
    # No requester field for end users: they request only for themselves.
    assert "requester_email" not in client.get(reverse("changes:new")).content.decode()


def test_agent_creates_for_a_requester_by_email(client, agent, end_user):
    client.force_login(agent)
    response = client.post(
        reverse("changes:new"),
        {"title": "VPN for contractors", "impact": 3, "requester_email": end_user.person.email},
    )
    assert response.status_code == 302
    assert Change.objects.get(title="VPN for contractors").requester == end_user.person
    response = client.post(
        reverse("changes:new"),
        {"title": "Nobody's", "impact": 3, "requester_email": "nobody@example.invalid"},
    )
    assert response.status_code == 400


def test_standard_change_from_a_template(client, agent, template, service):
    client.force_login(agent)
    page = client.get(reverse("changes:new"), {"template": template.pk}).content.decode()
    assert "systemctl restart postfix" in page
    response = client.post(
        reverse("changes:new"),
        {"title": "Restart mail queue", "impact": 3, "template": template.pk},
    )
    assert response.status_code == 302
    change = Change.objects.get(title="Restart mail queue")
    assert change.type == ChangeType.STANDARD and change.template == template
    assert list(change.services.all()) == [service]


# --- board -----------------------------------------------------------------------------------


def test_board_lists_awaiting_changes_and_votes(
    client, engineer, end_user, board, two_votes, django_assert_max_num_queries
):
    changes = [
        to_awaiting_approval(
            make_change(requester=end_user.person, by=engineer, title=f"Change {n}"), engineer
        )
        for n in range(5)
    ]
    client.force_login(board[0])
    with django_assert_max_num_queries(20):
        content = client.get(reverse("changes:board")).content.decode()
    for change in changes:
        assert f'data-change="{change.number}"' in content
    response = client.post(
        reverse("changes:vote", args=[changes[0].number]),
        {"decision": "approve", "next": reverse("changes:board")},
    )
    assert response["Location"] == reverse("changes:board")
    content = client.get(reverse("changes:board")).content.decode()
    awaiting = content[content.index('data-testid="awaiting"') : content.index("past-votes")]
    assert changes[0].number not in awaiting
    past = content[content.index('data-testid="past-votes"') :]
    assert changes[0].number in past


def test_board_refusals_are_messages(client, engineer, end_user, board, two_votes):
    change = to_awaiting_approval(make_change(requester=end_user.person, by=engineer), engineer)
    client.force_login(board[0])
    # A rejection needs a reason.
    response = client.post(
        reverse("changes:vote", args=[change.number]),
        {"decision": "reject", "next": reverse("changes:board")},
        follow=True,
    )
    assert "Give the reason for the rejection." in response.content.decode()
    # Made implementer meanwhile: segregation of duties refuses the vote.
    Change.objects.filter(pk=change.pk).update(implementer=board[0])
    response = client.post(
        reverse("changes:vote", args=[change.number]),
        {"decision": "approve", "next": reverse("changes:board")},
        follow=True,
    )
    assert "you may not approve it" in response.content.decode()
    assert not change.approvals.get().votes.exists()


def test_a_late_vote_is_refused_with_a_message(client, engineer, end_user, board, two_votes):
    change = _approved(make_change(requester=end_user.person, by=engineer), engineer, board)
    client.force_login(board[2])
    response = client.post(
        reverse("changes:vote", args=[change.number]), {"decision": "approve"}, follow=True
    )
    assert "The vote on this change is over" in response.content.decode()


def test_a_foreign_next_is_ignored(client, engineer, end_user, board, two_votes):
    change = to_awaiting_approval(make_change(requester=end_user.person, by=engineer), engineer)
    client.force_login(board[0])
    response = client.post(
        reverse("changes:vote", args=[change.number]),
        {"decision": "approve", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("changes:detail", args=[change.number])


# --- calendar --------------------------------------------------------------------------------


def test_calendar_month_shows_changes_freezes_and_conflicts(
    client, engineer, end_user, board, two_votes, service, django_assert_max_num_queries
):
    first = _approved(make_change(requester=end_user.person, by=engineer), engineer, board)
    first.services.set([service])
    second = make_change(requester=end_user.person, by=engineer, title="Same window")
    second.services.set([service])
    freeze = FreezePeriod.objects.create(
        name="Inventory",
        start=first.planned_start + timedelta(days=2),
        end=first.planned_start + timedelta(days=3),
        is_global=True,
    )
    day = timezone.localtime(first.planned_start).date()
    client.force_login(engineer)
    with django_assert_max_num_queries(20):
        response = client.get(reverse("changes:calendar"), {"date": day.isoformat()})
    content = response.content.decode()
    cell = content[content.index(f'data-date="{day.isoformat()}"') :]
    cell = cell[: cell.index("</td>")]
    assert f'data-change="{first.number}"' in cell and 'data-conflict="1"' in cell
    assert f'data-freeze="{freeze.pk}"' in content
    # Filters: a state.
    content = client.get(
        reverse("changes:calendar"), {"date": day.isoformat(), "state": "approved"}
    ).content.decode()
    assert first.number in content and second.number not in content
    # The week view and the navigation.
    content = client.get(
        reverse("changes:calendar"), {"date": day.isoformat(), "view": "week"}
    ).content.decode()
    assert first.number in content
    monday = day - timedelta(days=day.weekday())
    assert f"date={(monday + timedelta(days=7)).isoformat()}" in content
    assert reverse("changes:feed_tokens") in content


def test_calendar_shows_end_users_only_their_changes(client, end_user, other_end_user):
    mine = make_change(requester=end_user.person, by=end_user)
    theirs = make_change(requester=other_end_user.person, by=other_end_user)
    day = timezone.localtime(mine.planned_start).date()
    client.force_login(end_user)
    content = client.get(reverse("changes:calendar"), {"date": day.isoformat()}).content.decode()
    assert mine.number in content and theirs.number not in content


# --- feed page -------------------------------------------------------------------------------


def test_feed_address_is_shown_once_works_and_is_revoked(client, end_user, other_end_user):
    client.force_login(end_user)
    response = client.post(reverse("changes:feed_tokens"))
    assert response["Cache-Control"] == "private, no-store"
    content = response.content.decode()
    shown = content[content.index('id="feed-url"') :]
    start = shown.index("/changes/feed/")
    url = shown[start : shown.index('"', start)]
    assert url.endswith(".ics")
    client.logout()
    assert client.get(url).status_code == 200
    client.force_login(end_user)
    assert url not in client.get(reverse("changes:feed_tokens")).content.decode()
    token = CalendarFeedToken.objects.get(user=end_user)
    client.force_login(other_end_user)
    assert client.post(reverse("changes:feed_token_revoke", args=[token.pk])).status_code == 404
    client.force_login(end_user)
    assert client.post(reverse("changes:feed_token_revoke", args=[token.pk])).status_code == 302
    client.logout()
    assert client.get(url).status_code == 404


# --- from a ticket ---------------------------------------------------------------------------


def test_agent_turns_a_ticket_into_a_change(client, agent, end_user):
    ticket = make_ticket(caller=end_user.person, title="Shared mailbox for HR")
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert 'data-testid="request-for-change"' in page
    response = client.post(reverse("changes:from_ticket", args=[ticket.number]))
    change = Change.objects.get(title="Shared mailbox for HR")
    assert response["Location"] == reverse("changes:detail", args=[change.number])
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.status, ticket.pending_reason) == (TicketStatus.PENDING, PendingReason.CHANGE)
    assert change.requester == end_user.person


def test_the_board_sees_no_request_for_change_button(client, change_board, end_user):
    ticket = make_ticket(caller=end_user.person)
    client.force_login(change_board)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert 'data-testid="request-for-change"' not in page
    assert client.post(reverse("changes:from_ticket", args=[ticket.number])).status_code == 403


def test_an_unknown_or_inactive_template_is_a_404(client, agent, template):
    client.force_login(agent)
    assert client.get(reverse("changes:new"), {"template": "x"}).status_code == 404
    template.is_active = False
    template.save()
    assert client.get(reverse("changes:new"), {"template": template.pk}).status_code == 404


def test_timeline_shows_moved_dates_in_the_readers_time_zone(client, engineer, end_user):
    change = make_change(requester=end_user.person, by=engineer, title="Move the window")
    before = change.planned_start
    services.change_update(change=change, by=engineer, planned_start=before - timedelta(hours=2))
    client.force_login(engineer)
    content = client.get(reverse("changes:detail", args=[change.number])).content.decode()
    shown = formats.date_format(timezone.localtime(before), "SHORT_DATETIME_FORMAT")
    assert shown in content
    assert before.isoformat() not in content and str(before) not in content
