"""Ticket relations (issue 13): merged duplicates, related tickets, watchers and tags.

Services against the database, the console's forms and the API as their users reach them,
and the watchers' mails received by a real SMTP server (tests/mail/smtp.py).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.errors import (
    ConflictError,
    PermissionDenied,
    TransitionNotAllowedError,
    ValidationError,
)
from helpdesk.roles import Role
from mail.models import Mailbox, OutboundMessage
from tests.factories import PersonFactory, make_ticket, make_user
from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)
from tickets import events, selectors, services
from tickets.models import (
    ResolutionCode,
    Status,
    Tag,
    Ticket,
    TicketLink,
    TicketWatcher,
    TimelineEntry,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    received = []
    events.subscribe(received.append)
    yield received
    events.unsubscribe(received.append)


@pytest.fixture
def survivor(end_user, first_line):
    return make_ticket(caller=end_user.person, title="VPN drops every hour", group=first_line)


@pytest.fixture
def duplicate(other_end_user, first_line):
    return make_ticket(caller=other_end_user.person, title="VPN is down again", group=first_line)


def _timeline(ticket):
    return list(ticket.timeline.order_by("pk"))


# --- merge ------------------------------------------------------------------------------


def test_merge_closes_the_duplicate_tells_its_caller_and_notes_it_on_the_survivor(
    agent, survivor, duplicate, heard, django_capture_on_commit_callbacks
):
    services.comment_add(ticket=duplicate, by=agent, body="Asked for the router's model.")
    services.comment_add(ticket=duplicate, by=agent, body="Router X1", is_internal=True)
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        merged = services.ticket_merge(ticket=duplicate, by=agent, into=survivor)

    merged.refresh_from_db()
    assert merged.status == Status.CLOSED
    assert merged.merged_into == survivor
    assert merged.resolution_code == ResolutionCode.DUPLICATE
    assert merged.closed_at is not None and merged.resolved_at is not None
    assert survivor.merged.get() == merged
    # The duplicate's timeline: the caller told where it continues, then the merge.
    reply, transition, *fields = _timeline(merged)[-4:]
    assert reply.kind == TimelineEntry.Kind.COMMENT and not reply.is_internal
    assert survivor.number in reply.comment.body
    assert (transition.transition, transition.new_value) == ("merge", Status.CLOSED)
    changed = {entry.field: entry.new_value for entry in fields}
    assert changed["merged_into"] == survivor.number
    assert changed["resolution_code"] == ResolutionCode.DUPLICATE
    # The survivor keeps its caller and gets a work note naming the duplicate.
    survivor.refresh_from_db()
    assert survivor.status == Status.NEW and survivor.caller.user.username == "enduser"
    note = survivor.timeline.order_by("pk").last()
    assert note.kind == TimelineEntry.Kind.NOTE and note.is_internal
    assert duplicate.number in note.comment.body
    assert "VPN is down again" in note.comment.body
    assert "2 replies and notes" in note.comment.body  # what was said before the merge
    # One event per change, each on its own ticket.
    assert [(e.ticket_id, e.kind, e.transition) for e in heard] == [
        (duplicate.pk, events.Kind.COMMENTED, ""),
        (duplicate.pk, events.Kind.TRANSITIONED, "merge"),
        (survivor.pk, events.Kind.COMMENTED, ""),
    ]
    assert heard[1].change("merged_into").new == survivor.pk


def test_merge_by_name_as_bulk_actions_take_it(agent, survivor, duplicate):
    services.transition_take(ticket=duplicate, by=agent, name="merge", into=survivor)
    assert Ticket.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk


def test_merge_is_refused_to_end_users_and_the_change_board(
    end_user, change_board, survivor, duplicate
):
    for user in (end_user, change_board):
        with pytest.raises(PermissionDenied):
            services.ticket_merge(ticket=duplicate, by=user, into=survivor)
    assert "merge" not in services.available_transitions(duplicate, change_board)
    assert Ticket.objects.get(pk=duplicate.pk).status == Status.NEW


def test_merge_refuses_itself_a_merged_or_finished_target_and_a_stale_version(
    agent, survivor, duplicate, end_user
):
    with pytest.raises(ValidationError) as refused:
        services.ticket_merge(ticket=duplicate, by=agent, into=duplicate)
    assert "into" in refused.value.message_dict
    third = make_ticket(caller=end_user.person)
    services.ticket_merge(ticket=third, by=agent, into=survivor)
    # Into a ticket that was merged (here: back into the one merged into it).
    with pytest.raises(ValidationError, match="was itself merged"):
        services.ticket_merge(ticket=survivor, by=agent, into=third)
    cancelled = services.ticket_cancel(ticket=make_ticket(caller=end_user.person), by=agent)
    with pytest.raises(ValidationError, match="is finished"):
        services.ticket_merge(ticket=duplicate, by=agent, into=cancelled)
    with pytest.raises(ConflictError):
        services.ticket_merge(ticket=duplicate, by=agent, into=survivor, expected_version=99)
    # A finished ticket is no duplicate to merge any more.
    with pytest.raises(TransitionNotAllowedError):
        services.ticket_merge(ticket=third, by=agent, into=survivor)
    assert Ticket.objects.get(pk=duplicate.pk).status == Status.NEW
    assert not duplicate.comments.exists()  # nothing of a refused merge stays


def test_console_merges_from_the_ticket_page_and_shows_where_it_went(
    client, agent, survivor, duplicate
):
    client.force_login(agent)
    response = client.post(
        reverse("tickets:console_action", args=[duplicate.number, "merge"]),
        {"version": duplicate.version, "into": survivor.number.lower()},
    )
    assert response.status_code == 302
    page = client.get(reverse("tickets:console_detail", args=[duplicate.number])).content.decode()
    survivor_url = reverse("tickets:console_detail", args=[survivor.number])
    assert f'data-testid="merged-into" href="{survivor_url}">{survivor.number}</a>' in page
    page = client.get(survivor_url).content.decode()
    assert 'data-testid="merged-here"' in page and duplicate.number in page


def test_console_names_an_unknown_ticket_beside_the_merge_field(client, agent, duplicate):
    client.force_login(agent)
    response = client.post(
        reverse("tickets:console_action", args=[duplicate.number, "merge"]),
        {"version": duplicate.version, "into": "INC-999999"},
    )
    assert response.status_code == 400
    assert "There is no such ticket." in response.content.decode()


def test_portal_points_the_caller_to_the_survivor_without_a_link_to_someone_elses(
    client, agent, end_user, other_end_user, survivor, duplicate
):
    services.ticket_merge(ticket=duplicate, by=agent, into=survivor)
    client.force_login(other_end_user)
    page = client.get(reverse("tickets:detail", args=[duplicate.number])).content.decode()
    assert f"Merged into {survivor.number}" in page
    assert reverse("tickets:detail", args=[survivor.number]) not in page
    assert client.get(reverse("tickets:detail", args=[survivor.number])).status_code == 404
    # Their own ticket: a link.
    own = make_ticket(caller=end_user.person, title="Same VPN")
    services.ticket_merge(ticket=own, by=agent, into=survivor)
    client.force_login(end_user)
    page = client.get(reverse("tickets:detail", args=[own.number])).content.decode()
    assert f'<a href="{reverse("tickets:detail", args=[survivor.number])}">' in page


def test_api_merges_by_number_and_refuses_end_users(as_agent, api, end_user, survivor, duplicate):
    url = f"/api/tickets/{duplicate.number}/transitions/merge/"
    assert as_agent.post(url, {"into": "INC-999999"}, format="json").status_code == 400
    response = as_agent.post(url, {"into": survivor.number}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["merged_into"] == survivor.number
    assert response.json()["status"] == Status.CLOSED
    api.force_login(end_user)
    third = make_ticket(caller=end_user.person)
    response = api.post(
        f"/api/tickets/{third.number}/transitions/merge/", {"into": survivor.number}, format="json"
    )
    assert response.status_code == 409


# --- related tickets --------------------------------------------------------------------


def test_link_is_stored_once_in_order_and_told_on_both_timelines(
    agent, survivor, duplicate, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        link = services.ticket_link(ticket=duplicate, other=survivor, by=agent)
        again = services.ticket_link(ticket=survivor, other=duplicate, by=agent)
    assert link.pk == again.pk and TicketLink.objects.count() == 1
    assert (link.source_id, link.target_id) == (survivor.pk, duplicate.pk)
    for ticket, other in ((survivor, duplicate), (duplicate, survivor)):
        [entry] = ticket.timeline.filter(field="related")
        assert (entry.new_value, entry.is_internal) == (other.number, True)
        assert selectors.related_tickets(ticket) == [other]
    assert sorted((e.ticket_id, e.kind) for e in heard) == sorted(
        [(survivor.pk, events.Kind.UPDATED), (duplicate.pk, events.Kind.UPDATED)]
    )
    assert services.ticket_unlink(ticket=duplicate, other=survivor, by=agent) is True
    assert services.ticket_unlink(ticket=duplicate, other=survivor, by=agent) is False
    assert not TicketLink.objects.exists()
    assert survivor.timeline.filter(field="related", old_value=duplicate.number).count() == 1


def test_link_refuses_itself_and_end_users(agent, end_user, survivor, duplicate):
    with pytest.raises(ValidationError):
        services.ticket_link(ticket=survivor, other=survivor, by=agent)
    with pytest.raises(PermissionDenied):
        services.ticket_link(ticket=survivor, other=duplicate, by=end_user)


def test_console_links_by_number_and_lists_the_related_tickets(client, agent, survivor, duplicate):
    client.force_login(agent)
    url = reverse("tickets:link_add", args=[survivor.number])
    assert client.post(url, {"number": duplicate.number}).status_code == 302
    page = client.get(reverse("tickets:console_detail", args=[survivor.number])).content.decode()
    related = page.split('data-testid="related"', 1)[1].split("</ul>", 1)[0]
    assert duplicate.number in related and "VPN is down again" in related
    response = client.post(url, {"number": "INC-999999"}, follow=True)
    assert "There is no such ticket." in response.content.decode()
    remove = reverse("tickets:link_remove", args=[survivor.number])
    assert client.post(remove, {"number": duplicate.number}).status_code == 302
    assert not TicketLink.objects.exists()


def test_timeline_tells_links_and_tags_to_staff_only(
    client, agent, end_user, survivor, duplicate, as_end_user
):
    services.ticket_link(ticket=survivor, other=duplicate, by=agent)
    services.ticket_tags_set(ticket=survivor, by=agent, names=["vpn"])
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[survivor.number])).content.decode()
    assert f"Changed related tickets: — → {duplicate.number}" in page
    assert "Changed tags: — → vpn" in page
    rows = as_end_user.get(f"/api/tickets/{survivor.number}/timeline/").json()["results"]
    assert [row for row in rows if row["field"] in ("related", "tags")] == []
    body = as_end_user.get(f"/api/tickets/{survivor.number}/").json()
    assert (body["tags"], body["related"], body["watchers"]) == ([], [], [])


# --- watchers ---------------------------------------------------------------------------


@pytest.fixture
def colleague(first_line):
    user = make_user(Role.AGENT, username="colleague", email="colleague@helpdesk.test")
    first_line.members.add(user)
    return user


def test_watch_is_idempotent_and_only_for_colleagues_who_work_tickets(
    agent, colleague, end_user, change_board, survivor
):
    services.ticket_watch(ticket=survivor, user=agent, by=agent)
    services.ticket_watch(ticket=survivor, user=agent, by=agent)
    services.ticket_watch(ticket=survivor, user=colleague, by=agent)
    assert set(survivor.watchers.values_list("user__username", flat=True)) == {
        "agent",
        "colleague",
    }
    for user in (end_user, change_board):
        with pytest.raises(ValidationError):
            services.ticket_watch(ticket=survivor, user=user, by=agent)
    with pytest.raises(PermissionDenied):
        services.ticket_watch(ticket=survivor, user=end_user, by=end_user)
    assert services.ticket_unwatch(ticket=survivor, user=colleague, by=agent) is True
    assert services.ticket_unwatch(ticket=survivor, user=colleague, by=agent) is False


def test_console_watch_button_and_a_colleague_added(client, agent, colleague, survivor):
    client.force_login(agent)
    page_url = reverse("tickets:console_detail", args=[survivor.number])
    assert 'data-testid="watch"' in client.get(page_url).content.decode()
    client.post(reverse("tickets:watch", args=[survivor.number]))
    client.post(reverse("tickets:watch", args=[survivor.number]), {"user": colleague.pk})
    page = client.get(page_url).content.decode()
    assert 'data-testid="unwatch"' in page
    assert TicketWatcher.objects.filter(ticket=survivor).count() == 2
    client.post(reverse("tickets:unwatch", args=[survivor.number]))
    assert list(survivor.watchers.values_list("user", flat=True)) == [colleague.pk]


def test_the_add_a_watcher_select_offers_colleagues_by_name_escaped_not_watchers_or_me(
    client, agent, colleague, survivor
):
    colleague.first_name, colleague.last_name = "<b>Ann</b>", "O'Neil"
    colleague.save()
    no_name = make_user(Role.AGENT, username="nameless", first_name="", last_name="")
    watching = make_user(Role.AGENT, username="watching")
    services.ticket_watch(ticket=survivor, user=watching, by=agent)
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[survivor.number])).content.decode()
    select = page[
        page.index('id="watcher-user"') : page.index("</select>", page.index('id="watcher-user"'))
    ]
    assert f'<option value="{colleague.pk}">&lt;b&gt;Ann&lt;/b&gt; O&#x27;Neil</option>' in select
    assert f'<option value="{no_name.pk}">nameless</option>' in select
    assert f'value="{watching.pk}"' not in select
    assert f'value="{agent.pk}"' not in select


@pytest.fixture
def wired(smtp, eager_celery, db):  # noqa: F811
    Mailbox.objects.create(name="Service desk", address="servicedesk@helpdesk.test")
    return smtp


def test_watchers_hear_of_replies_and_notes_but_never_read_a_note_by_mail(
    wired, django_capture_on_commit_callbacks, agent, colleague, survivor
):
    services.ticket_watch(ticket=survivor, user=colleague, by=agent)
    services.ticket_watch(ticket=survivor, user=agent, by=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(ticket=survivor, by=agent, body="Please restart the router.")
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(
            ticket=survivor, by=agent, body="SECRET admin password", is_internal=True
        )
    reply, note = wired.to(colleague.email)
    assert reply.message["Subject"] == f"[{survivor.number}] Update: {survivor.title}"
    assert "replied to the caller" in reply.text and "Please restart the router." in reply.text
    assert "added a work note" in note.text
    assert "SECRET" not in note.text and "SECRET" not in note.html
    # Nobody hears of their own action.
    assert wired.to(agent.email) == []


def test_a_watcher_who_becomes_the_assignee_gets_one_mail(
    wired, django_capture_on_commit_callbacks, agent, colleague, survivor
):
    services.ticket_watch(ticket=survivor, user=colleague, by=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_assign(ticket=survivor, by=agent, assignee=colleague)
    [mail] = wired.to(colleague.email)
    assert mail.message["Subject"].startswith(f"[{survivor.number}] Assigned to you")
    kinds = OutboundMessage.objects.filter(ticket=survivor, to=colleague.email)
    assert list(kinds.values_list("kind", flat=True)) == [OutboundMessage.Kind.ASSIGNED]


def test_a_watcher_who_lost_the_right_to_work_tickets_gets_nothing(
    wired, django_capture_on_commit_callbacks, agent, colleague, survivor
):
    services.ticket_watch(ticket=survivor, user=colleague, by=agent)
    colleague.groups.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(ticket=survivor, by=agent, body="Note", is_internal=True)
    assert wired.to(colleague.email) == []


# --- tags -------------------------------------------------------------------------------


def test_tags_are_normalised_and_the_timeline_says_old_and_new(agent, survivor, heard):
    names = services.ticket_tags_set(
        ticket=survivor, by=agent, names=["  VPN ", "Zażółć", "vpn", "", "printer_3rd-floor"]
    )
    assert names == ["printer_3rd-floor", "vpn", "zażółć"]
    services.ticket_tags_set(ticket=survivor, by=agent, names="vpn, wifi")
    entries = survivor.timeline.filter(field="tags").order_by("pk")
    assert [(e.old_value, e.new_value) for e in entries] == [
        ("", "printer_3rd-floor, vpn, zażółć"),
        ("printer_3rd-floor, vpn, zażółć", "vpn, wifi"),
    ]
    assert sorted(Tag.objects.values_list("name", flat=True)) == [
        "printer_3rd-floor",
        "vpn",
        "wifi",
        "zażółć",
    ]
    # The same tags again: nothing to record.
    services.ticket_tags_set(ticket=survivor, by=agent, names=["WIFI", "vpn"])
    assert survivor.timeline.filter(field="tags").count() == 2
    assert list(selectors.tickets_with_tag(Ticket.objects.all(), "VPN")) == [survivor]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["no spaces allowed"], "is not a tag"),
        (["semi;colon"], "is not a tag"),
        (["x" * 51], "at most 50 characters"),
        ([f"t{n}" for n in range(21)], "At most 20 tags"),
    ],
)
def test_bad_tags_are_refused_naming_tags(agent, survivor, names, message):
    with pytest.raises(ValidationError) as refused:
        services.ticket_tags_set(ticket=survivor, by=agent, names=names)
    assert message in " ".join(refused.value.message_dict["tags"])
    assert not survivor.tags.exists()


def test_console_adds_and_removes_tags_and_says_what_is_wrong(client, agent, survivor):
    client.force_login(agent)
    url = reverse("tickets:tags", args=[survivor.number])
    client.post(url, {"add": "VPN, wifi"})
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["vpn", "wifi"]
    client.post(url, {"remove": "wifi"})
    assert list(survivor.tags.values_list("name", flat=True)) == ["vpn"]
    response = client.post(url, {"add": "bad;tag"}, follow=True)
    assert "is not a tag" in response.content.decode()


def test_tag_autocomplete_suggests_existing_names_by_prefix_to_staff_only(
    client, agent, change_board, end_user
):
    Tag.objects.bulk_create([Tag(name=f"vpn-{n:02d}") for n in range(25)] + [Tag(name="wifi")])
    url = reverse("tickets:tag_suggestions")
    client.force_login(change_board)
    names = client.get(url, {"q": "VP"}).json()["tags"]
    assert names == [f"vpn-{n:02d}" for n in range(20)]
    client.force_login(agent)
    options = client.get(url, {"add": "wi"}, HTTP_HX_REQUEST="true").content.decode()
    assert options.strip() == '<option value="wifi"></option>'
    client.force_login(end_user)
    assert client.get(url, {"q": "v"}).status_code == 403


def test_api_reads_and_writes_tags_and_shows_links_and_watchers(
    as_agent, agent, survivor, duplicate
):
    services.ticket_link(ticket=survivor, other=duplicate, by=agent)
    services.ticket_watch(ticket=survivor, user=agent, by=agent)
    url = f"/api/tickets/{survivor.number}/"
    response = as_agent.patch(url, {"version": survivor.version, "tags": ["VPN"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tags"] == ["vpn"]
    assert body["related"] == [duplicate.number]
    assert [watcher["username"] for watcher in body["watchers"]] == ["agent"]
    bad = as_agent.patch(url, {"version": body["version"], "tags": ["a b"]}, format="json")
    assert bad.status_code == 400 and "tags" in bad.json()
    rows = as_agent.get("/api/tickets/").json()["results"]
    assert {row["number"]: row["tags"] for row in rows}[survivor.number] == ["vpn"]


def test_api_list_queries_do_not_grow_with_tags_links_and_watchers(
    as_agent, agent, django_assert_max_num_queries
):
    def add(count):
        for _n in range(count):
            ticket = make_ticket(caller=PersonFactory())
            other = make_ticket(caller=PersonFactory())
            services.ticket_tags_set(ticket=ticket, by=agent, names=["a", "b"])
            services.ticket_link(ticket=ticket, other=other, by=agent)
            services.ticket_watch(ticket=ticket, user=agent, by=agent)

    add(2)
    with django_assert_max_num_queries(100) as few:
        as_agent.get("/api/tickets/")
    add(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        as_agent.get("/api/tickets/")


def test_a_watcher_named_in_a_work_note_gets_the_mention_only(
    wired, django_capture_on_commit_callbacks, agent, colleague, survivor
):
    services.ticket_watch(ticket=survivor, user=colleague, by=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(
            ticket=survivor, by=agent, body="@colleague please check", is_internal=True
        )
    rows = OutboundMessage.objects.filter(ticket=survivor, to=colleague.email)
    assert list(rows.values_list("kind", flat=True)) == [OutboundMessage.Kind.MENTIONED]
    assert len(wired.to(colleague.email)) == 1
