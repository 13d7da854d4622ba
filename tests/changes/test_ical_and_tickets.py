"""The iCalendar export parsed back, the feed tokens, and a ticket turned into a change."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template.loader import render_to_string
from icalendar import Calendar

from changes import ical, selectors, services
from changes.models import Change, ChangeTimelineEntry, State
from helpdesk.errors import PermissionDenied, ValidationError
from tests.changes.conftest import make_change
from tests.factories import make_ticket
from tickets.models import PendingReason, Status

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.django_db
def test_ical_export_parses_back_with_the_windows_in_utc(end_user, engineer):
    summer = make_change(
        requester=end_user.person,
        by=engineer,
        title="Swap core switch",
        planned_start=datetime(2027, 7, 1, 22, tzinfo=WARSAW),
        planned_end=datetime(2027, 7, 2, 1, tzinfo=WARSAW),
    )
    Change.objects.filter(pk=summer.pk).update(state=State.SCHEDULED)
    winter = make_change(
        requester=end_user.person,
        by=engineer,
        title="Patch mail, zażółć gęślą jaźń",
        planned_start=datetime(2027, 12, 1, 8, tzinfo=WARSAW),
        planned_end=datetime(2027, 12, 1, 9, tzinfo=WARSAW),
    )
    unplanned = make_change(
        requester=end_user.person, by=engineer, planned_start=None, planned_end=None
    )
    data = ical.changes_to_ical(Change.objects.order_by("pk"), name="Board")
    parsed = Calendar.from_ical(data)
    assert str(parsed["X-WR-CALNAME"]) == "Board"
    events = {str(e["UID"]): e for e in parsed.walk("VEVENT")}
    assert sorted(uid.split("@")[0] for uid in events) == [
        summer.number.lower(),
        winter.number.lower(),
    ]
    by_summary = {str(e["SUMMARY"]): e for e in parsed.walk("VEVENT")}
    swap = by_summary[f"{summer.number} Swap core switch"]
    assert swap.decoded("DTSTART") == datetime(2027, 7, 1, 20, tzinfo=UTC)
    assert swap.decoded("DTEND") == datetime(2027, 7, 1, 23, tzinfo=UTC)
    assert str(swap["STATUS"]) == "CONFIRMED"
    patch = by_summary[f"{winter.number} Patch mail, zażółć gęślą jaźń"]
    assert patch.decoded("DTSTART") == datetime(2027, 12, 1, 7, tzinfo=UTC)
    assert str(patch["STATUS"]) == "TENTATIVE"
    assert "Draft" in str(patch["DESCRIPTION"])
    assert unplanned.number not in data.decode()


@pytest.mark.django_db
def test_feed_token_is_stored_hashed_and_revocable(engineer, end_user):
    token, key = services.calendar_feed_token_create(user=engineer)
    assert key not in token.key_digest and token.prefix == key[:8]
    assert services.calendar_feed_authenticate(key).user == engineer
    assert services.calendar_feed_authenticate(key + "x") is None
    with pytest.raises(PermissionDenied):
        services.calendar_feed_token_revoke(token=token, by=end_user)
    services.calendar_feed_token_revoke(token=token, by=engineer)
    assert services.calendar_feed_authenticate(key) is None


@pytest.mark.django_db
def test_end_user_sees_only_changes_they_requested(
    end_user, other_end_user, engineer, change_board
):
    mine = make_change(requester=end_user.person, by=end_user)
    theirs = make_change(requester=other_end_user.person, by=other_end_user)
    assert list(selectors.change_queryset_for(end_user)) == [mine]
    assert set(selectors.change_queryset_for(change_board)) == {mine, theirs}
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.change_get_for(end_user, theirs.number)


@pytest.mark.django_db
@pytest.mark.parametrize("start_status", ["new", "assigned", "pending"])
def test_ticket_becomes_a_linked_change_and_waits_for_it(agent, end_user, start_status):
    ticket = make_ticket(caller=end_user.person, title="Need a shared mailbox for HR")
    if start_status != "new":
        from tickets import services as ticket_services

        ticket = ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        if start_status == "pending":
            ticket = ticket_services.ticket_pend(
                ticket=ticket, by=agent, reason=PendingReason.THIRD_PARTY
            )
    change = services.change_from_ticket(ticket=ticket, by=agent)
    assert (change.title, change.requester, change.created_by, change.state) == (
        "Need a shared mailbox for HR",
        end_user.person,
        agent,
        State.DRAFT,
    )
    assert list(change.tickets.all()) == [ticket]
    assert list(ticket.changes.all()) == [change]
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    if start_status == "pending":
        assert ticket.pending_reason == PendingReason.THIRD_PARTY  # left as it was
    else:
        assert (ticket.pending_reason, ticket.pending_note) == (PendingReason.CHANGE, change.number)
        assert ticket.timeline.filter(transition="pend", note=change.number).exists()
    assert change.timeline.filter(kind=ChangeTimelineEntry.Kind.LINK, new_value=ticket.number)


@pytest.mark.django_db
def test_only_workers_turn_open_tickets_into_changes(agent, end_user, change_board):
    ticket = make_ticket(caller=end_user.person)
    for user in (end_user, change_board):
        with pytest.raises(PermissionDenied):
            services.change_from_ticket(ticket=ticket, by=user)
    from tickets import services as ticket_services

    ticket_services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Done")
    with pytest.raises(ValidationError):
        services.change_from_ticket(ticket=ticket, by=agent)
    assert not Change.objects.exists()


@pytest.mark.django_db
def test_ticket_sidebar_card_lists_the_linked_changes(agent, end_user):
    ticket = make_ticket(caller=end_user.person)
    empty = render_to_string(
        "changes/ticket_sidebar.html", {"ticket": ticket, "is_staff_member": True}
    )
    assert "ticket-changes" not in empty
    change = services.change_from_ticket(ticket=ticket, by=agent)
    html = render_to_string(
        "changes/ticket_sidebar.html", {"ticket": ticket, "is_staff_member": True}
    )
    assert change.number in html and 'data-state="draft"' in html and "Draft" in html
    hidden = render_to_string(
        "changes/ticket_sidebar.html", {"ticket": ticket, "is_staff_member": False}
    )
    assert change.number not in hidden


@pytest.mark.django_db
def test_console_ticket_page_shows_the_change_card(client, agent, end_user):
    from django.urls import reverse

    ticket = make_ticket(caller=end_user.person)
    change = services.change_from_ticket(ticket=ticket, by=agent)
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert 'data-testid="ticket-changes"' in page and change.number in page


@pytest.mark.django_db
def test_comments_go_to_the_timeline(end_user, other_end_user, engineer):
    change = make_change(requester=end_user.person, by=end_user)
    services.change_comment_add(change=change, by=end_user, body="Please hurry")
    services.change_comment_add(change=change, by=engineer, body="Planned for Friday")
    with pytest.raises(PermissionDenied):
        services.change_comment_add(change=change, by=other_end_user, body="Me too")
    notes = change.timeline.filter(kind="comment").values_list("actor__username", "note")
    assert list(notes) == [("enduser", "Please hurry"), ("engineer", "Planned for Friday")]


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["close", "withdraw"])
def test_waiting_ticket_goes_back_to_work_when_its_change_is_over(agent, end_user, ending):
    from changes.models import CloseCode

    ticket = make_ticket(caller=end_user.person)
    other = make_ticket(caller=end_user.person)
    change = services.change_from_ticket(ticket=ticket, by=agent)
    services.change_from_ticket(ticket=other, by=agent)  # waits for another change
    services.change_link_ticket(change=change, ticket=other, by=agent)
    if ending == "close":
        Change.objects.filter(pk=change.pk).update(state=State.REVIEW)
        services.change_close(change=change, by=agent, code=CloseCode.SUCCESSFUL, result="Done")
    else:
        services.change_withdraw(change=change, by=agent)
    ticket.refresh_from_db()
    other.refresh_from_db()
    assert (ticket.status, ticket.pending_reason) == (Status.IN_PROGRESS, "")
    assert ticket.timeline.filter(transition="resume", actor=None).exists()
    assert other.status == Status.PENDING  # it waits for its own change
