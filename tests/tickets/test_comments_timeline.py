"""Public replies and internal notes, and the timeline of every change (who, when, old -> new)."""

import pytest
from django.utils import timezone, translation

from helpdesk.errors import PermissionDenied, ValidationError
from tests.factories import CategoryFactory, ServiceFactory, make_ticket
from tickets import selectors, services
from tickets.models import PendingReason, Status, Ticket, TicketType, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(end_user):
    return make_ticket(caller=end_user.person, opened_by=end_user, title="Outlook freezes")


# --- comments ------------------------------------------------------------------------------


def test_caller_reply_is_public_and_no_first_response(ticket, end_user):
    comment = services.comment_add(ticket=ticket, by=end_user, body="  It froze again.  ")
    assert (comment.body, comment.is_internal, comment.author) == (
        "It froze again.",
        False,
        end_user,
    )
    assert comment.author_person == end_user.person
    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None


def test_agents_public_reply_is_the_first_response_but_a_note_is_not(ticket, agent):
    services.comment_add(ticket=ticket, by=agent, body="Checking logs.", is_internal=True)
    assert Ticket.objects.get(pk=ticket.pk).first_response_at is None
    before = timezone.now()
    services.comment_add(ticket=ticket, by=agent, body="Please restart Outlook in safe mode.")
    first_response = Ticket.objects.get(pk=ticket.pk).first_response_at
    assert first_response >= before
    services.comment_add(ticket=ticket, by=agent, body="Any luck?")
    assert Ticket.objects.get(pk=ticket.pk).first_response_at == first_response


def test_reply_on_a_stale_copy_does_not_move_the_first_response(ticket, agent):
    stale = Ticket.objects.get(pk=ticket.pk)
    assigned = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    assert stale.first_response_at is None
    services.comment_add(ticket=stale, by=agent, body="On it.")
    assert Ticket.objects.get(pk=ticket.pk).first_response_at == assigned.first_response_at


def test_reply_touches_updated_at_but_not_the_version(ticket, end_user):
    before = Ticket.objects.get(pk=ticket.pk)
    services.comment_add(ticket=ticket, by=end_user, body="More details.")
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.updated_at > before.updated_at
    assert after.version == before.version


def test_end_user_cannot_write_an_internal_note(ticket, end_user):
    with pytest.raises(PermissionDenied):
        services.comment_add(ticket=ticket, by=end_user, body="secret", is_internal=True)
    assert not ticket.comments.exists()


def test_only_the_caller_or_agents_may_reply(ticket, other_end_user, change_board, agent):
    with pytest.raises(PermissionDenied):
        services.comment_add(ticket=ticket, by=other_end_user, body="Me too!")
    with pytest.raises(PermissionDenied):
        services.comment_add(ticket=ticket, by=change_board, body="Noted.")
    services.comment_add(ticket=ticket, by=agent, body="Hello.")
    assert ticket.comments.count() == 1


def test_reply_from_mail_without_login_names_the_person(ticket, end_user):
    comment = services.comment_add(
        ticket=ticket, by=None, author_person=end_user.person, body="Re: works now", channel="email"
    )
    assert (comment.author, comment.author_person, comment.channel) == (
        None,
        end_user.person,
        "email",
    )


@pytest.mark.parametrize("body", ["", "   ", None])
def test_empty_reply_is_refused(ticket, end_user, body):
    with pytest.raises(ValidationError) as error:
        services.comment_add(ticket=ticket, by=end_user, body=body)
    assert "body" in error.value.message_dict


def test_end_user_never_sees_internal_notes(ticket, agent, end_user, engineer, change_board):
    public = services.comment_add(ticket=ticket, by=agent, body="Restart please.")
    note = services.comment_add(ticket=ticket, by=agent, body="User is VIP.", is_internal=True)
    reply = services.comment_add(ticket=ticket, by=end_user, body="Done.")
    assert list(selectors.comments_for(end_user, ticket)) == [public, reply]
    for staff in (agent, engineer, change_board):
        assert list(selectors.comments_for(staff, ticket)) == [public, note, reply]
    caller_timeline = list(selectors.timeline_for(end_user, ticket))
    assert note.pk not in [e.comment_id for e in caller_timeline]
    assert all(not e.is_internal for e in caller_timeline)
    assert note.pk in [e.comment_id for e in selectors.timeline_for(agent, ticket)]


def test_comments_list_has_a_fixed_number_of_queries(
    ticket, agent, end_user, django_assert_num_queries
):
    for number in range(5):
        services.comment_add(ticket=ticket, by=agent, body=f"Reply {number}")
    with django_assert_num_queries(2):  # comments with authors, then their attachments
        rows = [
            (c.author.username, list(c.attachments.all()))
            for c in selectors.comments_for(agent, ticket)
        ]
    assert len(rows) == 5


# --- timeline of transitions ---


def test_every_transition_is_in_the_timeline_with_who_and_when(ticket, agent, end_user):
    start = timezone.now()
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket = services.ticket_start(ticket=ticket, by=agent)
    ticket = services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.USER, note="Logs?")
    ticket = services.ticket_resume(ticket=ticket, by=end_user)
    ticket = services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="New profile.")
    ticket = services.ticket_reopen(ticket=ticket, by=end_user, reason="Froze again")
    ticket = services.ticket_cancel(ticket=ticket, by=agent, reason="Duplicate of INC-9")
    rows = list(
        ticket.timeline.filter(field="status").values_list(
            "kind", "transition", "actor__username", "old_value", "new_value", "note"
        )
    )
    assert rows == [
        ("created", "", "enduser", "", "new", ""),
        ("transition", "assign", "agent", "new", "assigned", ""),
        ("transition", "start", "agent", "assigned", "in_progress", ""),
        ("transition", "pend", "agent", "in_progress", "pending", "Logs?"),
        ("transition", "resume", "enduser", "pending", "in_progress", ""),
        ("transition", "resolve", "agent", "in_progress", "resolved", "New profile."),
        ("transition", "reopen", "enduser", "resolved", "assigned", "Froze again"),
        ("transition", "cancel", "agent", "assigned", "cancelled", "Duplicate of INC-9"),
    ]
    stamps = list(ticket.timeline.values_list("created_at", flat=True))
    assert stamps == sorted(stamps)
    assert all(stamp >= start for stamp in stamps[1:])


def test_status_entry_displays_state_names_in_the_readers_language(ticket, agent):
    ticket = services.ticket_start(ticket=ticket, by=agent)
    entry = ticket.timeline.get(transition="start")
    assert (entry.old_display, entry.new_display) == ("New", "In progress")
    with translation.override("pl"):
        assert entry.new_display == str(Status.IN_PROGRESS.label)
        assert entry.new_display != "In progress"


def test_refused_transition_leaves_no_trace(ticket, end_user):
    from helpdesk.errors import TransitionNotAllowedError

    count = ticket.timeline.count()
    with pytest.raises(TransitionNotAllowedError):
        services.ticket_resolve(ticket=ticket, by=end_user, code="solved", notes="I fixed it")
    assert ticket.timeline.count() == count


# --- timeline of field changes ---


def test_every_field_edit_is_recorded_old_to_new_with_displayed_values(ticket, agent):
    service = ServiceFactory(name="E-mail")
    hardware = CategoryFactory(name="Software")
    outlook = CategoryFactory(name="Outlook", parent=hardware)
    parent = make_ticket(title="Exchange outage")
    ticket = services.ticket_update(
        ticket=ticket,
        by=agent,
        expected_version=ticket.version,
        title="Outlook freezes on start",
        description="x" * 300,
        type=TicketType.REQUEST,
        service=service,
        category=outlook,
        urgency=2,
        parent=parent,
    )
    entries = {e.field: e for e in ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE)}
    shown = {field: (e.old_display, e.new_display) for field, e in entries.items()}
    assert shown == {
        "title": ("Outlook freezes", "Outlook freezes on start"),
        "description": ("Paper jam light is on.", "x" * 120),
        "type": ("Incident", "Service request"),
        "service": ("", "E-mail"),
        "category": ("", "Software / Outlook"),
        "urgency": ("Medium: work impaired, workaround exists", "High: work seriously impaired"),
        "parent": ("", str(parent)),
    }  # single user, high urgency is still P4: no priority entry
    assert all(e.actor == agent for e in entries.values())
    # Stored values stay raw so they can be shown in any language.
    assert (entries["type"].old_value, entries["type"].new_value) == ("incident", "request")
    # Clearing a field records the old value and an empty new one.
    ticket = services.ticket_update(
        ticket=ticket, by=agent, expected_version=ticket.version, service=None
    )
    cleared = ticket.timeline.filter(field="service").last()
    assert (cleared.old_value, cleared.new_value) == ("E-mail", "")


def test_edit_that_changes_nothing_records_nothing_and_keeps_the_version(ticket, agent):
    version = ticket.version
    count = ticket.timeline.count()
    ticket = services.ticket_update(
        ticket=ticket, by=agent, expected_version=version, title="  Outlook freezes  "
    )
    assert ticket.version == version
    assert ticket.timeline.count() == count


def test_fields_owned_by_transitions_cannot_be_edited(ticket, agent):
    with pytest.raises(ValidationError) as error:
        services.ticket_update(
            ticket=ticket, by=agent, expected_version=1, status="closed", assignee=agent
        )
    assert set(error.value.message_dict) == {"status", "assignee"}


def test_end_user_cannot_edit_a_ticket(ticket, end_user):
    with pytest.raises(PermissionDenied):
        services.ticket_update(ticket=ticket, by=end_user, expected_version=1, title="Mine")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"title": "   "}, "title"), ({"type": "bug"}, "type")],
)
def test_invalid_edit_is_refused_and_changes_nothing(ticket, agent, changes, field):
    with pytest.raises(ValidationError) as error:
        services.ticket_update(ticket=ticket, by=agent, expected_version=1, **changes)
    assert field in error.value.message_dict
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.title, stored.type, stored.version) == ("Outlook freezes", "incident", 1)


def test_parent_links_cannot_form_a_loop(ticket, agent):
    child = make_ticket(title="Child")
    grandchild = make_ticket(title="Grandchild")
    services.ticket_update(ticket=child, by=agent, expected_version=1, parent=ticket)
    services.ticket_update(ticket=grandchild, by=agent, expected_version=1, parent=child)
    for looping_parent in (ticket, grandchild):
        with pytest.raises(ValidationError) as error:
            services.ticket_update(
                ticket=ticket,
                by=agent,
                expected_version=Ticket.objects.get(pk=ticket.pk).version,
                parent=looping_parent,
            )
        assert "parent" in error.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).parent is None


def test_fields_a_transition_changes_are_recorded_with_displayed_values(ticket, agent, end_user):
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket = services.ticket_pend(ticket=ticket, by=agent, reason=PendingReason.THIRD_PARTY)
    ticket = services.ticket_resolve(ticket=ticket, by=agent, code="workaround", notes="OWA.")
    ticket = services.ticket_reopen(ticket=ticket, by=end_user)
    changes = [
        (e.field, e.old_display, e.new_display, e.actor.username)
        for e in ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE)
    ]
    assert changes == [
        ("assignee", "", "agent", "agent"),
        ("pending_reason", "", "Waiting for a third party", "agent"),
        ("resolution_code", "", "Solved with a workaround", "agent"),
        ("pending_reason", "Waiting for a third party", "", "agent"),
        ("resolution_code", "Solved with a workaround", "", "enduser"),
    ]


# --- who sees which tickets ---


def test_end_user_sees_only_tickets_where_they_are_the_caller(
    ticket, end_user, other_end_user, agent, change_board
):
    theirs = make_ticket(caller=other_end_user.person)
    assert list(selectors.ticket_queryset_for(end_user)) == [ticket]
    assert list(selectors.ticket_queryset_for(other_end_user)) == [theirs]
    for staff in (agent, change_board):
        assert set(selectors.ticket_queryset_for(staff)) == {ticket, theirs}
    assert selectors.ticket_get_for(end_user, number=ticket.number) == ticket
    with pytest.raises(Ticket.DoesNotExist):
        selectors.ticket_get_for(end_user, number=theirs.number)


def test_login_without_a_person_or_anonymous_sees_no_tickets(ticket):
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import make_user

    loner = make_user("end_user", person=False, username="loner")
    assert list(selectors.ticket_queryset_for(loner)) == []
    assert list(selectors.ticket_queryset_for(AnonymousUser())) == []
