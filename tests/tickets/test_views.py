"""The portal and console pages: who may see what, what each form does, query counts."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from tests.factories import (
    PNG,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    make_ticket,
    make_user,
)
from tickets import services
from tickets.models import Channel, Comment, Status, Ticket, TimelineEntry


@pytest.fixture
def own_ticket(end_user, first_line):
    return make_ticket(caller=end_user.person, opened_by=end_user, title="VPN drops every hour")


@pytest.fixture
def foreign_ticket(other_end_user, first_line):
    return make_ticket(caller=other_end_user.person, title="Someone else's laptop")


def login(client, user):
    client.force_login(user)
    return client


# --- sign in and the front door ------------------------------------------------------------


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("home", {}),
        ("tickets:my_list", {}),
        ("tickets:create", {}),
        ("tickets:console", {}),
        ("tickets:console_create", {}),
        ("tickets:detail", {"number": "INC-000001"}),
        ("tickets:console_detail", {"number": "INC-000001"}),
    ],
)
def test_anonymous_visitor_is_sent_to_the_login_page(client, db, name, kwargs):
    url = reverse(name, kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "next=" in response["Location"]


def test_login_page_signs_in_and_lands_on_home(client, end_user):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post(
        reverse("login"), {"username": "enduser", "password": "correct-horse-battery-staple"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_wrong_password_shows_an_error_and_keeps_the_user_name(client, end_user):
    response = client.post(reverse("login"), {"username": "enduser", "password": "nope"})
    assert response.status_code == 200
    assert b'value="enduser"' in response.content
    assert b"alert-danger" in response.content


def test_sign_out_is_a_post_and_returns_to_login(client, end_user):
    login(client, end_user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302


def test_home_lists_own_open_tickets_only(client, end_user, own_ticket, foreign_ticket):
    closed = make_ticket(caller=end_user.person, title="An old cancelled one")
    services.ticket_cancel(ticket=closed, by=end_user)
    response = login(client, end_user).get(reverse("home"))
    assert response.status_code == 200
    assert own_ticket.number.encode() in response.content
    assert foreign_ticket.number.encode() not in response.content
    assert closed.number.encode() not in response.content
    assert b'id="notices"' in response.content


def test_home_renders_the_home_notices_slot(client, end_user, monkeypatch):
    from helpdesk import ui

    # Any template registered for the slot is rendered inside the notices section.
    monkeypatch.setitem(ui._slots, "home_notices", ["registration/login.html"])
    content = login(client, end_user).get(reverse("home")).content.decode()
    notices = content[content.index('id="notices"') : content.index("open-tickets-heading")]
    assert "Sign in to the IT Help Desk" in notices


# --- portal: filing a ticket -----------------------------------------------------------------


def test_end_user_files_a_ticket_with_an_attachment(client, end_user, first_line):
    service = ServiceFactory(name="E-mail")
    upload = SimpleUploadedFile("screen.png", PNG, content_type="image/png")
    response = login(client, end_user).post(
        reverse("tickets:create"),
        {
            "title": "Outlook asks for my password",
            "description": "Since this morning.",
            "service": service.pk,
            "attachments": [upload],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:created", args=[ticket.number])
    assert ticket.caller == end_user.person
    assert ticket.channel == Channel.PORTAL
    assert ticket.service == service
    assert ticket.group == first_line
    assert ticket.attachments.get().original_name == "screen.png"
    confirmation = client.get(response["Location"])
    assert ticket.number.encode() in confirmation.content


def test_filing_without_a_title_shows_the_error_next_to_it_and_keeps_input(client, end_user):
    response = login(client, end_user).post(
        reverse("tickets:create"), {"title": "", "description": "My text stays"}
    )
    assert response.status_code == 200
    assert Ticket.objects.count() == 0
    assert b'id="id_title-errors"' in response.content
    assert b"My text stays" in response.content


def test_a_file_of_a_forbidden_type_is_refused_next_to_the_field(client, end_user, first_line):
    upload = SimpleUploadedFile("evil.png", b"<html><script>alert(1)</script></html>")
    response = login(client, end_user).post(
        reverse("tickets:create"),
        {"title": "Look", "description": "x", "attachments": [upload]},
    )
    assert response.status_code == 200
    assert Ticket.objects.count() == 0
    assert b'id="id_attachments-errors"' in response.content


# --- portal: my tickets ----------------------------------------------------------------------


def test_my_tickets_shows_only_mine_and_filters_open_and_closed(
    client, end_user, own_ticket, foreign_ticket
):
    done = make_ticket(caller=end_user.person, title="Finished business")
    services.ticket_cancel(ticket=done, by=end_user)
    login(client, end_user)
    open_page = client.get(reverse("tickets:my_list"))
    assert own_ticket.number.encode() in open_page.content
    assert done.number.encode() not in open_page.content
    assert foreign_ticket.number.encode() not in open_page.content
    closed_page = client.get(reverse("tickets:my_list") + "?state=closed")
    assert done.number.encode() in closed_page.content
    assert own_ticket.number.encode() not in closed_page.content
    all_page = client.get(reverse("tickets:my_list") + "?state=all")
    assert (
        done.number.encode() in all_page.content and own_ticket.number.encode() in all_page.content
    )


def test_my_tickets_sorts_by_title(client, end_user, first_line):
    make_ticket(caller=end_user.person, title="Bravo")
    make_ticket(caller=end_user.person, title="Alpha")
    login(client, end_user)
    ascending = client.get(reverse("tickets:my_list") + "?sort=title").content.decode()
    assert ascending.index("Alpha") < ascending.index("Bravo")
    descending = client.get(reverse("tickets:my_list") + "?sort=-title").content.decode()
    assert descending.index("Bravo") < descending.index("Alpha")


def test_my_tickets_query_count_does_not_grow_with_rows(client, first_line, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for rows in (3, 30):
        user = make_user(Role.END_USER, username=f"rows{rows}")
        for index in range(rows):
            make_ticket(caller=user.person, title=f"Row {index}")
        login(client, user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("tickets:my_list") + "?state=all")
        assert response.status_code == 200
        assert response.content.count(b'class="ticket-number"') == rows
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


# --- portal: a ticket page ---------------------------------------------------------------------


def test_end_user_gets_404_for_someone_elses_ticket_on_every_page(client, end_user, foreign_ticket):
    login(client, end_user)
    number = foreign_ticket.number
    assert client.get(reverse("tickets:detail", args=[number])).status_code == 404
    assert client.get(reverse("tickets:created", args=[number])).status_code == 404
    for name in ("tickets:reply", "tickets:reopen", "tickets:cancel", "tickets:close"):
        response = client.post(reverse(name, args=[number]), {"body": "x", "version": 1})
        assert response.status_code == 404, name
    assert Comment.objects.count() == 0


def test_ticket_page_shows_public_replies_and_never_work_notes(client, end_user, agent, own_ticket):
    services.comment_add(ticket=own_ticket, by=agent, body="Please restart the VPN client.")
    services.comment_add(
        ticket=own_ticket, by=agent, body="SECRET internal diagnosis", is_internal=True
    )
    services.ticket_assign(ticket=own_ticket, by=agent, assignee=agent)
    response = login(client, end_user).get(own_ticket.get_absolute_url())
    assert response.status_code == 200
    assert b"Please restart the VPN client." in response.content
    assert b"SECRET internal diagnosis" not in response.content
    history = response.content.decode()
    assert "Your ticket was registered." in history
    assert "An agent took your ticket." in history


def test_end_user_replies_with_an_attachment(client, end_user, own_ticket):
    upload = SimpleUploadedFile("log.txt", b"error 42\n")
    response = login(client, end_user).post(
        reverse("tickets:reply", args=[own_ticket.number]),
        {"body": "Here is the log", "attachments": [upload]},
    )
    assert response.status_code == 302
    comment = own_ticket.comments.get()
    assert comment.body == "Here is the log" and not comment.is_internal
    assert comment.attachments.get().original_name == "log.txt"


def test_empty_reply_shows_an_error(client, end_user, own_ticket):
    response = login(client, end_user).post(
        reverse("tickets:reply", args=[own_ticket.number]), {"body": ""}
    )
    assert response.status_code == 400
    assert b'id="id_body-errors"' in response.content
    assert own_ticket.comments.count() == 0


def test_end_user_cancels_own_new_ticket(client, end_user, own_ticket):
    login(client, end_user)
    page = client.get(own_ticket.get_absolute_url())
    assert reverse("tickets:cancel", args=[own_ticket.number]).encode() in page.content
    response = client.post(
        reverse("tickets:cancel", args=[own_ticket.number]), {"version": own_ticket.version}
    )
    assert response.status_code == 302
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.CANCELLED


def test_end_user_cannot_cancel_once_an_agent_took_it(client, end_user, agent, own_ticket):
    own_ticket = services.ticket_assign(ticket=own_ticket, by=agent, assignee=agent)
    login(client, end_user)
    page = client.get(own_ticket.get_absolute_url())
    assert reverse("tickets:cancel", args=[own_ticket.number]).encode() not in page.content
    client.post(
        reverse("tickets:cancel", args=[own_ticket.number]), {"version": own_ticket.version}
    )
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.ASSIGNED


def _resolved(ticket, agent):
    return services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Reinstalled.")


def test_end_user_reopens_a_resolved_ticket_with_a_reason(client, end_user, agent, own_ticket):
    ticket = _resolved(own_ticket, agent)
    login(client, end_user)
    page = client.get(ticket.get_absolute_url())
    assert b"Reinstalled." in page.content
    response = client.post(
        reverse("tickets:reopen", args=[ticket.number]),
        {"version": ticket.version, "reason": "Still broken"},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status in (Status.NEW, Status.ASSIGNED)
    assert ticket.comments.filter(body="Still broken").exists()


def test_reopen_is_not_offered_after_the_allowed_days(
    client, settings, end_user, agent, own_ticket
):
    ticket = _resolved(own_ticket, agent)
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - timezone.timedelta(days=settings.TICKET_REOPEN_DAYS + 1)
    )
    login(client, end_user)
    page = client.get(ticket.get_absolute_url())
    assert reverse("tickets:reopen", args=[ticket.number]).encode() not in page.content
    assert b'data-testid="reopen-expired"' in page.content
    client.post(
        reverse("tickets:reopen", args=[ticket.number]),
        {"version": ticket.version, "reason": "again"},
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_reopen_from_a_stale_page_shows_the_conflict_and_keeps_the_text(
    client, end_user, agent, own_ticket
):
    ticket = _resolved(own_ticket, agent)
    stale_version = ticket.version
    services.ticket_update(ticket=ticket, by=agent, expected_version=None, urgency=2)
    response = login(client, end_user).post(
        reverse("tickets:reopen", args=[ticket.number]),
        {"version": stale_version, "reason": "My careful explanation"},
    )
    assert response.status_code == 409
    assert b'data-testid="conflict"' in response.content
    assert b"My careful explanation" in response.content
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_staff_opening_the_portal_page_of_a_ticket_goes_to_the_console(client, agent, own_ticket):
    response = login(client, agent).get(own_ticket.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:console_detail", args=[own_ticket.number])


# --- console: who gets in ----------------------------------------------------------------------


CONSOLE_PAGES = ["tickets:console", "tickets:console_create", "tickets:caller_search"]


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_end_user_is_refused_console_pages(client, end_user, name):
    assert login(client, end_user).get(reverse(name)).status_code == 403


def test_end_user_is_refused_the_console_ticket_page_and_its_actions(client, end_user, own_ticket):
    login(client, end_user)
    number = own_ticket.number
    assert client.get(reverse("tickets:console_detail", args=[number])).status_code == 403
    for url in (
        reverse("tickets:console_action", args=[number, "resolve"]),
        reverse("tickets:console_edit", args=[number]),
        reverse("tickets:console_comment", args=[number]),
    ):
        assert client.post(url, {"version": own_ticket.version, "body": "x"}).status_code == 403
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.NEW


@pytest.mark.parametrize("role_user", ["agent", "engineer", "manager", "admin_user"])
def test_working_roles_see_every_console_page(client, request, role_user, own_ticket):
    user = request.getfixturevalue(role_user)
    login(client, user)
    assert client.get(reverse("tickets:console")).status_code == 200
    assert client.get(reverse("tickets:console_create")).status_code == 200
    detail = client.get(reverse("tickets:console_detail", args=[own_ticket.number]))
    assert detail.status_code == 200
    assert b'data-testid="actions"' in detail.content


def test_change_board_reads_the_console_but_gets_no_actions(client, change_board, own_ticket):
    login(client, change_board)
    assert client.get(reverse("tickets:console")).status_code == 200
    detail = client.get(reverse("tickets:console_detail", args=[own_ticket.number]))
    assert detail.status_code == 200
    assert b'data-testid="actions"' not in detail.content
    assert client.get(reverse("tickets:console_create")).status_code == 403
    response = client.post(
        reverse("tickets:console_action", args=[own_ticket.number, "assign"]),
        {"version": own_ticket.version},
    )
    assert response.status_code == 403


def test_unknown_ticket_is_404_in_the_console(client, agent, db):
    assert (
        login(client, agent).get(reverse("tickets:console_detail", args=["INC-999999"])).status_code
        == 404
    )


# --- console: queues -----------------------------------------------------------------------------


def test_queues_show_counts_and_the_right_rows(client, agent, engineer, first_line, network_group):
    mine = make_ticket(title="Mine")
    services.ticket_assign(ticket=mine, by=agent, assignee=agent)
    unassigned = make_ticket(title="Nobody has it")
    other_group = make_ticket(title="Network thing", group=network_group)
    services.ticket_assign(ticket=other_group, by=engineer, assignee=engineer)
    done = make_ticket(title="Done already")
    services.ticket_cancel(ticket=done, by=agent)
    login(client, agent)

    def rows(queue):
        response = client.get(reverse("tickets:console") + f"?queue={queue}")
        assert response.status_code == 200
        return response

    page = rows("mine")
    content = page.content.decode()
    assert 'data-testid="count-mine">1<' in content
    assert 'data-testid="count-groups">2<' in content
    assert 'data-testid="count-unassigned">1<' in content
    assert 'data-testid="count-open">3<' in content
    assert f'data-number="{mine.number}"' in content
    assert f'data-number="{unassigned.number}"' not in content
    groups = rows("groups").content.decode()
    assert f'data-number="{mine.number}"' in groups
    assert f'data-number="{unassigned.number}"' in groups
    assert f'data-number="{other_group.number}"' not in groups
    unassigned_page = rows("unassigned").content.decode()
    assert f'data-number="{unassigned.number}"' in unassigned_page
    assert f'data-number="{mine.number}"' not in unassigned_page
    open_page = rows("open").content.decode()
    assert f'data-number="{other_group.number}"' in open_page
    assert f'data-number="{done.number}"' not in open_page
    assert f'data-number="{done.number}"' in rows("all").content.decode()


def test_queue_filters_and_search(client, agent, network_group):
    caller = PersonFactory(full_name="Zofia Nowak", email="zofia.nowak@example.com")
    PhoneNumberFactory(person=caller, raw="+48 22 555 01 23")
    by_phone = make_ticket(caller=caller, title="Phone died", channel=Channel.PHONE)
    network = make_ticket(title="Switch down", group=network_group, urgency=1, impact=1)
    login(client, agent)

    def numbers(query):
        content = client.get(reverse("tickets:console") + "?queue=open&" + query).content
        return {t.number for t in (by_phone, network) if f'"{t.number}"'.encode() in content}

    assert numbers("channel=phone") == {by_phone.number}
    assert numbers(f"group={network_group.pk}") == {network.number}
    assert numbers("priority=1") == {network.number}
    assert numbers("state=new") == {by_phone.number, network.number}
    assert numbers("state=pending") == set()
    assert numbers("q=Zofia") == {by_phone.number}
    assert numbers("q=zofia.nowak@example.com") == {by_phone.number}
    assert numbers("q=022 555 01 23") == {by_phone.number}
    assert numbers(f"q={network.number}") == {network.number}
    assert numbers("q=switch") == {network.number}
    assert numbers("priority=banana") == {by_phone.number, network.number}


def test_htmx_request_gets_only_the_list_partial(client, agent, first_line):
    ticket = make_ticket(title="Partial please")
    response = login(client, agent).get(
        reverse("tickets:console") + "?queue=open&q=Partial", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert ticket.number in content
    assert "<html" not in content
    assert 'hx-swap-oob="true"' in content


@pytest.mark.parametrize("queue", ["mine", "groups", "unassigned", "open", "all"])
def test_queue_query_count_does_not_grow_with_rows(client, agent, first_line, queue):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, agent)
    counts = []
    made = 0
    for rows in (3, 30):
        for index in range(rows - made):
            ticket = make_ticket(
                caller=PersonFactory(), title=f"Row {index}", service=ServiceFactory()
            )
            services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        made = rows
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("tickets:console") + f"?queue={queue}")
        assert response.status_code == 200
        expected = 0 if queue == "unassigned" else rows
        assert response.content.count(b"data-number=") == expected
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


# --- console: the ticket page and its actions ----------------------------------------------------


def test_ticket_page_shows_caller_card_timeline_and_only_allowed_actions(client, agent, first_line):
    caller = PersonFactory(full_name="Adam VIP", is_vip=True, department="Board")
    PhoneNumberFactory(person=caller, raw="+48 601 234 567")
    older = make_ticket(caller=caller, title="Earlier printer issue")
    ticket = make_ticket(caller=caller, title="Laptop will not boot")
    services.comment_add(ticket=ticket, by=agent, body="Checked the charger", is_internal=True)
    response = login(client, agent).get(reverse("tickets:console_detail", args=[ticket.number]))
    content = response.content.decode()
    assert "Adam VIP" in content and "VIP" in content and "Board" in content
    assert "601 234 567" in content
    assert older.number in content
    assert "Checked the charger" in content
    actions = set(services.available_transitions(ticket, agent))
    for name in ("assign", "start", "resolve", "cancel", "transfer", "escalate"):
        assert (f'data-action="{name}"' in content) == (name in actions), name
    for name in ("close", "reopen", "resume"):
        assert f'data-action="{name}"' not in content


def test_agent_assigns_to_self_then_resolves(client, agent, own_ticket):
    login(client, agent)
    url = reverse("tickets:console_action", args=[own_ticket.number, "assign"])
    assert client.post(url, {"version": own_ticket.version}).status_code == 302
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.ASSIGNED and own_ticket.assignee == agent
    page = client.get(reverse("tickets:console_detail", args=[own_ticket.number])).content
    assert b'data-action="assign"' not in page
    response = client.post(
        reverse("tickets:console_action", args=[own_ticket.number, "resolve"]),
        {"version": own_ticket.version, "code": "solved", "notes": "Replaced the cable."},
    )
    assert response.status_code == 302
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.RESOLVED
    assert own_ticket.resolution_notes == "Replaced the cable."


def test_resolve_without_notes_shows_errors_next_to_fields(client, agent, own_ticket):
    response = login(client, agent).post(
        reverse("tickets:console_action", args=[own_ticket.number, "resolve"]),
        {"version": own_ticket.version, "code": "solved", "notes": ""},
    )
    assert response.status_code == 400
    assert b'id="id_resolve_notes-errors"' in response.content
    assert b'<details class="action" open>' in response.content
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.NEW


def test_pend_transfer_and_escalate_forms(client, agent, own_ticket, network_group):
    login(client, agent)
    number = own_ticket.number

    def act(name, **data):
        ticket = Ticket.objects.get(pk=own_ticket.pk)
        data["version"] = ticket.version
        response = client.post(reverse("tickets:console_action", args=[number, name]), data)
        assert response.status_code == 302, response.content[:2000]
        return Ticket.objects.get(pk=own_ticket.pk)

    assert act("start").status == Status.IN_PROGRESS
    pended = act("pend", reason="user", note="Asked for the serial number")
    assert pended.status == Status.PENDING and pended.pending_reason == "user"
    assert act("resume").status == Status.IN_PROGRESS
    escalated = act(
        "escalate", group=network_group.pk, diagnostic_notes="Pinged gateway, 100% loss"
    )
    assert escalated.group == network_group and escalated.status == Status.NEW
    assert escalated.comments.get(is_internal=True).body == "Pinged gateway, 100% loss"
    transferred = act("transfer", group=own_ticket.group_id, reason="Back to the desk")
    assert transferred.group_id == own_ticket.group_id
    assert TimelineEntry.objects.filter(
        ticket=own_ticket, kind=TimelineEntry.Kind.TRANSFER, note="Back to the desk"
    ).exists()


def test_transition_not_available_is_refused_with_a_message(client, agent, own_ticket):
    response = login(client, agent).post(
        reverse("tickets:console_action", args=[own_ticket.number, "close"]),
        {"version": own_ticket.version},
        follow=True,
    )
    assert response.status_code == 200
    assert b"alert-danger" in response.content
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.NEW


def test_unknown_action_is_404(client, agent, own_ticket):
    response = login(client, agent).post(
        reverse("tickets:console_action", args=[own_ticket.number, "explode"]), {}
    )
    assert response.status_code == 404


def test_classification_edit_records_the_change(client, agent, own_ticket):
    service = ServiceFactory(name="VPN")
    response = login(client, agent).post(
        reverse("tickets:console_edit", args=[own_ticket.number]),
        {"version": own_ticket.version, "service": service.pk, "impact": 2, "urgency": 2},
    )
    assert response.status_code == 302
    own_ticket.refresh_from_db()
    assert own_ticket.service == service and own_ticket.impact == 2
    assert own_ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE, field="impact").exists()


def test_stale_classification_edit_shows_conflict_and_keeps_input(client, agent, own_ticket):
    stale = own_ticket.version
    other = make_user(Role.AGENT, username="second")
    services.ticket_update(ticket=own_ticket, by=other, expected_version=stale, urgency=1)
    response = login(client, agent).post(
        reverse("tickets:console_edit", args=[own_ticket.number]),
        {"version": stale, "service": "", "impact": 3, "urgency": 4},
    )
    assert response.status_code == 409
    content = response.content.decode()
    assert 'data-testid="conflict"' in content
    own_ticket.refresh_from_db()
    assert own_ticket.urgency == 1 and own_ticket.impact == 4
    # The user's choice is still selected, on top of the current version.
    assert '<option value="3" selected>' in content
    assert f'name="version" value="{own_ticket.version}"' in content


def test_work_note_and_public_reply(client, agent, end_user, own_ticket):
    login(client, agent)
    url = reverse("tickets:console_comment", args=[own_ticket.number])
    assert client.post(url, {"visibility": "internal", "body": "note"}).status_code == 302
    upload = SimpleUploadedFile("fix.txt", b"steps\n")
    response = client.post(url, {"visibility": "public", "body": "reply", "attachments": [upload]})
    assert response.status_code == 302
    assert own_ticket.comments.get(body="note").is_internal
    reply = own_ticket.comments.get(body="reply")
    assert not reply.is_internal and reply.attachments.count() == 1


# --- console: a ticket taken by phone -------------------------------------------------------


def test_caller_search_by_name_email_and_phone(client, agent):
    person = PersonFactory(full_name="Barbara Kowalska", email="b.kowalska@example.com")
    PhoneNumberFactory(person=person, raw="+48 601 111 222")
    PersonFactory(full_name="Someone Else")
    login(client, agent)
    for query in ("Kowal", "b.kowalska@example", "601-111-222", "+48601111222"):
        content = client.get(reverse("tickets:caller_search"), {"caller_query": query}).content
        assert b"Barbara Kowalska" in content, query
        assert b"Someone Else" not in content


def test_new_ticket_page_prefills_caller_and_title_from_the_screen_pop(client, agent):
    person = PersonFactory(full_name="Celina Pop")
    response = login(client, agent).get(
        reverse("tickets:console_create"), {"caller": person.pk, "title": "Call from 601"}
    )
    content = response.content.decode()
    assert "Celina Pop" in content
    assert f'value="{person.pk}" checked' in content
    assert 'value="Call from 601"' in content
    assert '<option value="phone" selected>' in content


def test_agent_registers_a_phone_ticket_solved_on_first_contact(client, agent, first_line):
    person = PersonFactory()
    response = login(client, agent).post(
        reverse("tickets:console_create"),
        {
            "caller": person.pk,
            "title": "Password reset",
            "type": "request",
            "channel": "phone",
            "impact": 4,
            "urgency": 3,
            "first_contact": "on",
            "code": "user_instructed",
            "notes": "Reset in AD and told the user.",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert ticket.caller == person and ticket.channel == Channel.PHONE
    assert ticket.opened_by == agent
    assert ticket.status == Status.RESOLVED and ticket.first_contact_resolution


def test_first_contact_needs_a_code_and_notes_and_keeps_input(client, agent, first_line):
    person = PersonFactory(full_name="Kept Caller")
    response = login(client, agent).post(
        reverse("tickets:console_create"),
        {
            "caller": person.pk,
            "title": "Kept title",
            "type": "incident",
            "channel": "phone",
            "impact": 4,
            "urgency": 3,
            "first_contact": "on",
        },
    )
    assert response.status_code == 200
    assert Ticket.objects.count() == 0
    content = response.content.decode()
    assert 'id="id_code-errors"' in content and 'id="id_notes-errors"' in content
    assert 'value="Kept title"' in content and "Kept Caller" in content


def test_new_ticket_without_a_caller_says_so(client, agent, first_line):
    response = login(client, agent).post(
        reverse("tickets:console_create"),
        {"title": "x", "type": "incident", "channel": "phone", "impact": 4, "urgency": 3},
    )
    assert response.status_code == 200
    assert b'id="caller-errors"' in response.content


def test_htmx_refresh_also_updates_the_queue_counts(client, agent, first_line):
    make_ticket(title="One")
    make_ticket(title="Two")
    response = login(client, agent).get(
        reverse("tickets:console") + "?queue=open", HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    assert 'id="queue-count-open"' in content
    assert 'data-testid="count-open" hx-swap-oob="true">2<' in content


def test_action_without_the_version_says_the_form_is_out_of_date(client, agent, own_ticket):
    response = login(client, agent).post(
        reverse("tickets:console_action", args=[own_ticket.number, "start"]), {}
    )
    assert response.status_code == 400
    assert b"The form was out of date or incomplete" in response.content
    own_ticket.refresh_from_db()
    assert own_ticket.status == Status.NEW


def test_each_action_says_what_it_did(client, agent, own_ticket, network_group):
    login(client, agent)
    response = client.post(
        reverse("tickets:console_action", args=[own_ticket.number, "escalate"]),
        {"version": own_ticket.version, "group": network_group.pk, "diagnostic_notes": "Done"},
        follow=True,
    )
    assert "The ticket was escalated to Network." in response.content.decode()


def test_console_pages_render_the_console_widgets_and_ticket_sidebar_slots(
    client, agent, own_ticket, monkeypatch
):
    from helpdesk import ui

    monkeypatch.setitem(ui._slots, "console_widgets", ["registration/login.html"])
    monkeypatch.setitem(ui._slots, "ticket_sidebar", ["tickets/portal/created.html"])
    login(client, agent)
    detail = client.get(reverse("tickets:console_detail", args=[own_ticket.number]))
    content = detail.content.decode()
    # The sidebar template is rendered with the ticket in its context.
    assert f'data-testid="ticket-number">{own_ticket.number}<' in content
    for url in (reverse("tickets:console"), reverse("tickets:console_create")):
        assert "Sign in to the IT Help Desk" in client.get(url).content.decode()
    assert "Sign in to the IT Help Desk" in content
    assert "Sign in to the IT Help Desk" not in client.get(reverse("home")).content.decode()


def test_user_reply_to_a_ticket_waiting_for_them_resumes_work(client, end_user, agent, own_ticket):
    ticket = services.ticket_start(ticket=own_ticket, by=agent)
    ticket = services.ticket_pend(ticket=ticket, by=agent, reason="user", note="Serial number?")
    response = login(client, end_user).post(
        reverse("tickets:reply", args=[ticket.number]), {"body": "It is SN-1234"}, follow=True
    )
    assert "the ticket is back with the help desk" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.comments.get().body == "It is SN-1234"


def test_user_reply_to_a_ticket_waiting_for_a_third_party_keeps_it_pending(
    client, end_user, agent, own_ticket
):
    ticket = services.ticket_start(ticket=own_ticket, by=agent)
    ticket = services.ticket_pend(ticket=ticket, by=agent, reason="third_party")
    login(client, end_user).post(
        reverse("tickets:reply", args=[ticket.number]), {"body": "Any news?"}
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.comments.count() == 1


def test_too_many_files_at_once_are_refused(client, end_user, first_line):
    uploads = [SimpleUploadedFile(f"note{i}.txt", b"text\n") for i in range(11)]
    response = login(client, end_user).post(
        reverse("tickets:create"), {"title": "Many", "description": "x", "attachments": uploads}
    )
    assert response.status_code == 200
    assert b"Attach at most 10 files at a time." in response.content
    assert Ticket.objects.count() == 0


def test_large_queues_show_capped_counts_and_ask_to_narrow(client, agent, first_line, monkeypatch):
    from helpdesk import paging
    from tickets.views import queue

    monkeypatch.setattr(queue, "QUEUE_COUNT_CAP", 2)
    monkeypatch.setattr(paging.CappedPaginator, "cap", 2)
    for index in range(3):
        make_ticket(title=f"Flood {index}")
    content = login(client, agent).get(reverse("tickets:console") + "?queue=open").content
    content = content.decode()
    assert 'data-testid="count-open">2+<' in content
    assert "More than 2 tickets: narrow the filters or search to see them all." in content
    narrowed = client.get(reverse("tickets:console") + "?queue=open&q=Flood 1").content.decode()
    assert "1 ticket" in narrowed


def test_search_by_short_or_lowercase_number(client, agent, first_line):
    ticket = make_ticket(title="Numbered")
    other = make_ticket(title="Another")
    login(client, agent)
    digits = str(int(ticket.number.split("-")[1]))
    for query in (digits, ticket.number.lower(), ticket.number.replace("-", "")):
        content = client.get(reverse("tickets:console"), {"queue": "all", "q": query}).content
        assert f'data-number="{ticket.number}"'.encode() in content, query
        assert f'data-number="{other.number}"'.encode() not in content, query


def test_search_by_e_mail_ignores_case(client, agent, first_line):
    caller = PersonFactory(email="Marta.Lis@Example.com")
    ticket = make_ticket(caller=caller, title="Mail search")
    login(client, agent)
    for query in ("Marta.Lis@Example.com", "marta.lis@example.com"):
        content = client.get(reverse("tickets:console"), {"queue": "all", "q": query}).content
        assert f'data-number="{ticket.number}"'.encode() in content, query


def test_search_for_digits_that_are_neither_number_nor_phone_matches_titles(client, agent, db):
    ticket = make_ticket(title="Backup failed at 12:30")
    content = login(client, agent).get(reverse("tickets:console"), {"queue": "all", "q": "12:30"})
    assert f'data-number="{ticket.number}"'.encode() in content.content
