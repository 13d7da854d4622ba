"""The console queue's tools for a working day: sort by any column, saved personal views,
bulk actions on ticked tickets, the tag filter and column, the watched mark, and a page whose
query count does not grow with what its rows show."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from tests.factories import PersonFactory, SupportGroupFactory, make_ticket, make_user
from tickets import selectors, services
from tickets.models import (
    PendingReason,
    SavedView,
    Status,
    Tag,
    Ticket,
    TicketLink,
    TicketWatcher,
)
from tickets.transitions import REGISTRY

QUEUE = reverse("tickets:console")
BULK = reverse("tickets:console_bulk")


def login(client, user):
    client.force_login(user)
    return client


def numbers_in(content: bytes) -> list[str]:
    """The ticket numbers of the list's rows, in the order shown."""
    return re.findall(r'<tr data-number="([^"]+)"', content.decode())


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- sorting ---------------------------------------------------------------------------------


@pytest.fixture
def three(db, agent, first_line, network_group):
    """Three tickets that each column orders differently (see EXPECTED)."""
    zoe = make_user(Role.AGENT, username="zoe", first_name="Zoe", last_name="Zielinska")
    adam = make_user(Role.AGENT, username="adam", first_name="Adam", last_name="Adamski")
    a = make_ticket(
        title="Bravo", caller=PersonFactory(full_name="Zed Caller"), group=network_group
    )
    b = make_ticket(
        title="Alpha", caller=PersonFactory(full_name="Adam Caller"), impact=1, urgency=1
    )
    c = make_ticket(
        title="Charlie",
        caller=PersonFactory(full_name="Maria Caller"),
        group=first_line,
        impact=2,
        urgency=3,
    )
    Ticket.objects.filter(pk=b.pk).update(group=None)
    services.ticket_start(ticket=a, by=agent)
    services.ticket_pend(ticket=a, by=agent, reason=PendingReason.USER)
    Ticket.objects.filter(pk=a.pk).update(assignee=None)
    services.ticket_assign(ticket=b, by=agent, assignee=zoe)
    services.ticket_assign(ticket=c, by=agent, assignee=adam)
    Ticket.objects.filter(pk=b.pk).update(status=Status.NEW)
    now = timezone.now()
    for ticket, created, updated in ((a, 1, 2), (b, 3, 1), (c, 2, 3)):
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=now - timedelta(days=created), updated_at=now - timedelta(days=updated)
        )
    return {"a": a.number, "b": b.number, "c": c.number}


# Ascending order of each sort key over the fixture ``three``; descending is the reverse,
# except that rows without a value (no group, nobody assigned) stay last.
EXPECTED = {
    "number": ("abc", "cba"),
    "title": ("bac", "cab"),
    "caller": ("bca", "acb"),
    "priority": ("bca", "acb"),  # P1 first, ascending
    "state": ("bca", "acb"),  # new, assigned, pending: the lifecycle's order
    "group": ("acb", "cab"),  # Network, Service Desk, none last both ways
    "assignee": ("cba", "bca"),  # Adam, Zoe, nobody last both ways
    "created": ("bca", "acb"),  # oldest first
    "updated": ("cab", "bac"),
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_every_column_sorts_both_ways(client, agent, three, key):
    login(client, agent)
    ascending, descending = EXPECTED[key]
    for sort, order in ((key, ascending), (f"-{key}", descending)):
        response = client.get(QUEUE, {"queue": "all", "sort": sort})
        assert response.status_code == 200
        assert numbers_in(response.content) == [three[letter] for letter in order], sort
        header = re.search(
            rf'<th [^>]*aria-sort="(\w+)" data-sort-key="{key}"', response.content.decode()
        )
        assert header[1] == ("descending" if sort.startswith("-") else "ascending")


def test_the_sort_keys_are_those_of_the_header(client, agent, three):
    content = login(client, agent).get(QUEUE, {"queue": "all"}).content.decode()
    assert set(re.findall(r'data-sort-key="(\w+)"', content)) == set(selectors.QUEUE_SORTS)


@pytest.mark.parametrize("sort", ["bogus", "-", "id", "-caller__user__password", "pk", ""])
def test_an_unknown_sort_is_the_default_newest_first(client, agent, three, sort):
    response = login(client, agent).get(QUEUE, {"queue": "all", "sort": sort})
    assert response.status_code == 200
    assert numbers_in(response.content) == [three[x] for x in "acb"]
    assert 'aria-sort="descending" data-sort-key="created"' in response.content.decode()


def test_rows_that_tie_keep_a_stable_order_by_id(client, agent, first_line):
    tickets = [make_ticket(title="Same") for _ in range(4)]
    Ticket.objects.update(created_at=timezone.now())
    login(client, agent)
    numbers = [t.number for t in tickets]
    for sort in ("priority", "title", "created", "group"):
        content = client.get(QUEUE, {"queue": "open", "sort": sort}).content
        assert numbers_in(content) == numbers, sort
        content = client.get(QUEUE, {"queue": "open", "sort": f"-{sort}"}).content
        assert numbers_in(content) == numbers[::-1], sort


def test_the_sort_whitelist_is_a_dict_ending_every_order_with_the_id():
    for key in selectors.QUEUE_SORTS:
        assert selectors.queue_ordering(key)[1][-1] == "id"
        assert selectors.queue_ordering(f"-{key}")[1][-1] == "-id"
    assert selectors.queue_ordering("banana")[0] == selectors.QUEUE_DEFAULT_SORT
    assert selectors.queue_ordering("due")[0] == "due"  # the SLA due time (Ticket.due_at)


@pytest.mark.parametrize("key", [key for key, sort in selectors.QUEUE_SORTS.items() if sort.parts])
def test_a_sort_made_of_parts_pages_as_one_order_by_would(db, agent, first_line, key):
    """Group, assignee and due pages are put together part by part (an indexed range per
    group, per assignee, with and without a due time): every slice, across the parts'
    boundaries, is the slice of the plain ORDER BY of the same column."""
    groups = [first_line, SupportGroupFactory(name="Aardvark"), SupportGroupFactory(name="Zulu")]
    people = [
        make_user(Role.AGENT, username=f"u{i}", first_name=name, last_name="X")
        for i, name in enumerate(["Ola", "Ewa", "Ala"])
    ]
    now = timezone.now()
    for i in range(23):
        ticket = make_ticket(title=f"T{i}", group=groups[i % 4] if i % 4 < 3 else None)
        Ticket.objects.filter(pk=ticket.pk).update(
            assignee=people[i % 4] if i % 4 < 3 else None,
            due_at=now + timedelta(hours=(i * 7) % 5) if i % 3 else None,
        )
    queue = Ticket.objects.all()
    for sort in (key, f"-{key}"):
        _value, ordering = selectors.queue_ordering(sort)
        expected = list(queue.order_by(*ordering).values_list("pk", flat=True))
        # A queue of up to ``small`` tickets is sorted by the ORDER BY itself; a larger one
        # part by part: both ways give the same pages.
        for small in (1000, 5):
            _value, rows = selectors.queue_sorted(queue, sort, agent, default="-created")
            assert isinstance(rows, selectors.QueueRows)
            rows.small = small
            for start, stop in ((0, 23), (0, 5), (5, 10), (4, 17), (20, 30), (30, 40)):
                page = [t.pk for t in rows[start:stop]]
                assert page == expected[start:stop], (sort, small, start)
            assert len(rows) == 23


# --- tags and watchers -----------------------------------------------------------------------


def _tag(ticket, *names):
    for name in names:
        ticket.tags.add(Tag.objects.get_or_create(name=name)[0])


def test_tag_filter_needs_every_tag_named_and_ignores_case(client, agent, first_line):
    vpn = make_ticket(title="VPN only")
    both = make_ticket(title="VPN and printer")
    neither = make_ticket(title="Nothing")
    _tag(vpn, "vpn")
    _tag(both, "vpn", "printer")
    login(client, agent)

    def shown(tags):
        return set(numbers_in(client.get(QUEUE, {"queue": "open", "tags": tags}).content))

    assert shown("vpn") == {vpn.number, both.number}
    assert shown("VPN, printer") == {both.number}
    assert shown("printer vpn") == {both.number}
    assert shown("nosuchtag") == set()
    assert shown("") == {vpn.number, both.number, neither.number}
    # Too many tags: the filter is refused on its field, the page still answers.
    response = client.get(QUEUE, {"queue": "open", "tags": "a,b,c,d,e,f"})
    assert response.status_code == 200
    assert "Filter by at most 5 tags." in response.content.decode()


def test_rows_show_their_tags_and_an_eye_where_the_user_watches(client, agent, first_line):
    watched = make_ticket(title="Watched")
    other = make_ticket(title="Not watched")
    _tag(watched, "vpn", "floor-3")
    TicketWatcher.objects.create(ticket=watched, user=agent)
    TicketWatcher.objects.create(ticket=other, user=make_user(Role.AGENT, username="colleague"))
    content = login(client, agent).get(QUEUE, {"queue": "open"}).content.decode()
    rows = dict(re.findall(r'<tr data-number="([^"]+)"(.*?)</tr>', content, re.S))
    assert 'data-testid="watched"' in rows[watched.number]
    assert 'data-testid="watched"' not in rows[other.number]
    assert re.findall(r'data-testid="tag">([^<]+)<', rows[watched.number]) == ["floor-3", "vpn"]
    assert 'data-testid="tag"' not in rows[other.number]


@pytest.mark.parametrize("queue", ["mine", "groups", "unassigned", "open", "all"])
def test_queue_query_count_is_the_same_for_5_and_30_tickets_with_tags_watchers_links(
    client, agent, first_line, queue
):
    colleague = make_user(Role.AGENT, username="colleague")
    first_line.members.add(colleague)
    login(client, agent)
    counts = []
    made: list[Ticket] = []
    for rows in (5, 30):
        while len(made) < rows:
            index = len(made)
            ticket = make_ticket(caller=PersonFactory(), title=f"Row {index}")
            if index % 2:
                services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
            _tag(ticket, f"tag{index % 4}", "common")
            TicketWatcher.objects.create(ticket=ticket, user=agent)
            TicketWatcher.objects.create(ticket=ticket, user=colleague)
            if made:
                TicketLink.objects.create(source=made[-1], target=ticket)
            made.append(ticket)
        for sort in ("-created", "priority", "assignee"):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(QUEUE, {"queue": queue, "sort": sort, "tags": "common"})
            assert response.status_code == 200
            assert response.content.count(b'data-testid="watched"') == len(
                numbers_in(response.content)
            )
            counts.append(len(captured))
        assert numbers_in(response.content), "the queue shows rows"
    assert counts[:3] == counts[3:], counts


# --- saved views -----------------------------------------------------------------------------


def _save(client, name, query, **extra):
    return client.post(reverse("tickets:saved_views"), {"name": name, "query": query, **extra})


def test_save_a_view_keeps_queue_filters_and_sort_and_reopens_them(client, agent, first_line):
    make_ticket(title="Urgent one", impact=1, urgency=1)
    login(client, agent)
    response = _save(
        client,
        "  Urgent   network ",
        f"queue=open&priority=1&group={first_line.pk}&sort=-priority&x=1",
    )
    view = SavedView.objects.get(owner=agent)
    assert view.name == "Urgent network"
    assert view.params == {
        "queue": "open",
        "priority": "1",
        "group": str(first_line.pk),
        "sort": "-priority",
    }
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:saved_view_open", args=[view.pk])
    opened = client.get(response["Location"])
    assert opened.status_code == 302
    location = opened["Location"]
    assert location.startswith(QUEUE + "?")
    assert f"view={view.pk}" in location and "priority=1" in location
    page = client.get(location).content.decode()
    assert 'data-testid="active-view">Urgent network<' in page
    assert 'aria-sort="descending" data-sort-key="priority"' in page


def test_saving_under_a_used_name_asks_and_replaces_only_when_confirmed(client, agent, db):
    login(client, agent)
    _save(client, "Mine", "queue=mine")
    asked = _save(client, "Mine", "queue=open&state=pending")
    assert asked.status_code == 409
    assert 'data-testid="confirm-replace"' in asked.content.decode()
    assert SavedView.objects.get(owner=agent).params == {"queue": "mine"}
    replaced = _save(client, "Mine", "queue=open&state=pending", replace="True")
    assert replaced.status_code == 302
    assert SavedView.objects.get(owner=agent).params == {"queue": "open", "state": "pending"}


def test_a_view_without_a_name_is_refused_next_to_the_field(client, agent, db):
    response = _save(login(client, agent), "   ", "queue=open")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode() or "Give the view a name." in (
        response.content.decode()
    )
    assert not SavedView.objects.exists()


def test_rename_and_delete_a_view(client, agent, db):
    login(client, agent)
    _save(client, "One", "queue=open")
    _save(client, "Two", "queue=mine")
    one = SavedView.objects.get(name="One")
    client.post(reverse("tickets:saved_view_rename", args=[one.pk]), {"name": "First"})
    one.refresh_from_db()
    assert one.name == "First"
    # A name already used by another of the user's views: refused with a message.
    response = client.post(
        reverse("tickets:saved_view_rename", args=[one.pk]), {"name": "Two"}, follow=True
    )
    assert "You already have a view named “Two”." in " ".join(messages_of(response))
    one.refresh_from_db()
    assert one.name == "First"
    response = client.post(reverse("tickets:saved_view_delete", args=[one.pk]), follow=True)
    assert "The view “First” was deleted." in " ".join(messages_of(response))
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Two"]


def test_views_are_private_to_their_owner(client, agent, engineer, db):
    theirs = SavedView.objects.create(owner=engineer, name="Engineer's", params={"queue": "mine"})
    SavedView.objects.create(owner=agent, name="Agent's", params={"queue": "open"})
    login(client, agent)
    assert client.get(reverse("tickets:saved_view_open", args=[theirs.pk])).status_code == 404
    rename = reverse("tickets:saved_view_rename", args=[theirs.pk])
    assert client.post(rename, {"name": "Hijacked"}).status_code == 404
    delete = reverse("tickets:saved_view_delete", args=[theirs.pk])
    assert client.post(delete).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Engineer's"
    listing = client.get(reverse("tickets:saved_views")).content.decode()
    queue = client.get(QUEUE).content.decode()
    for page in (listing, queue):
        assert "Agent&#x27;s" in page
        assert "Engineer&#x27;s" not in page
    # The same name may be used by two people.
    assert _save(client, "Engineer's", "queue=all").status_code == 302


def test_an_invalid_stored_parameter_is_left_out_with_a_message(client, agent, first_line):
    view = SavedView.objects.create(
        owner=agent,
        name="Old",
        params={
            "queue": "mine",
            "group": "999999",
            "priority": "banana",
            "sort": "nonsense",
            "state": ["not", "a", "string"],
        },
    )
    login(client, agent)
    response = client.get(reverse("tickets:saved_view_open", args=[view.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}?queue=mine&view={view.pk}"
    page = client.get(response["Location"])
    assert page.status_code == 200
    [message] = messages_of(page)
    assert "no longer apply" in message and "Group" in message and "Priority" in message


def test_change_board_saves_views_and_end_users_get_none(client, change_board, end_user, db):
    assert _save(login(client, change_board), "Reading", "queue=all").status_code == 302
    client.logout()
    login(client, end_user)
    assert client.get(reverse("tickets:saved_views")).status_code == 403
    assert _save(client, "Mine", "queue=all").status_code == 403
    assert SavedView.objects.filter(owner=end_user).count() == 0


# --- bulk actions ----------------------------------------------------------------------------


def _selection(*tickets):
    return [f"{t.pk}:{t.version}" for t in tickets]


def _bulk(client, tickets, action, **fields):
    data = {"tickets": tickets, "action": action, "query": "queue=open&sort=priority", **fields}
    return client.post(BULK, data, follow=True)


def test_assign_three_tickets_to_a_colleague(client, agent, first_line):
    colleague = make_user(Role.AGENT, username="kasia", first_name="Kasia", last_name="K")
    tickets = [make_ticket(title=f"Bulk {i}") for i in range(3)]
    untouched = make_ticket(title="Not selected")
    response = _bulk(login(client, agent), _selection(*tickets), "assign", assignee=colleague.pk)
    assert response.redirect_chain[-1][0] == f"{QUEUE}?queue=open&sort=priority"
    assert messages_of(response) == ["3 tickets updated."]
    for ticket in tickets:
        ticket.refresh_from_db()
        assert (ticket.status, ticket.assignee) == (Status.ASSIGNED, colleague)
    untouched.refresh_from_db()
    assert untouched.assignee is None


def test_skipped_tickets_are_reported_with_the_reason(client, agent, first_line):
    fine = make_ticket(title="Fine")
    cancelled = make_ticket(title="Cancelled")
    services.ticket_cancel(ticket=cancelled, by=agent)
    stale = make_ticket(title="Stale")
    seen = _selection(fine, cancelled, stale)
    cancelled.refresh_from_db()
    seen[1] = f"{cancelled.pk}:{cancelled.version}"
    # A colleague changes this one after the page was shown.
    services.ticket_update(ticket=stale, by=agent, expected_version=None, urgency=1)
    response = _bulk(login(client, agent), seen, "start")
    [message] = messages_of(response)
    assert message == (
        f"1 ticket updated. 2 skipped: {cancelled.number} (not allowed in state Cancelled), "
        f"{stale.number} (changed by someone else)."
    )
    fine.refresh_from_db()
    stale.refresh_from_db()
    assert fine.status == Status.IN_PROGRESS
    assert stale.status == Status.NEW


def test_a_service_refusal_is_reported_per_ticket(client, agent, first_line, network_group):
    here = make_ticket(title="Already in Network", group=network_group)
    there = make_ticket(title="In the service desk")
    response = _bulk(
        login(client, agent),
        _selection(here, there),
        "transfer",
        group=network_group.pk,
        transfer_reason="Switches",
    )
    [message] = messages_of(response)
    assert message == (
        f"1 ticket updated. 1 skipped: {here.number} (The ticket is already with this group)."
    )
    there.refresh_from_db()
    assert there.group == network_group


def test_workers_only_and_a_ticket_the_user_may_not_work_is_never_changed(
    client, agent, change_board, end_user, first_line
):
    ticket = make_ticket(title="Read only")
    for user in (change_board, end_user):
        client.force_login(user)
        assert (
            client.post(BULK, {"tickets": _selection(ticket), "action": "start"}).status_code == 403
        )
    client.logout()
    assert client.post(BULK, {"tickets": _selection(ticket), "action": "start"}).status_code == 302
    # The service refuses each ticket the user may not work, through the transition's guard.
    outcome = services.tickets_bulk_transition(
        tickets=[(ticket, ticket.version)], by=change_board, name="start"
    )
    assert outcome.updated == []
    assert outcome.skipped == [(ticket.number, "not allowed in state New")]
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_bulk_is_post_only_and_needs_the_csrf_token(agent, first_line):
    from django.test import Client

    ticket = make_ticket(title="CSRF")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.get(BULK).status_code == 405
    assert client.post(BULK, {"tickets": _selection(ticket), "action": "start"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_more_than_100_tickets_are_refused_and_nothing_changes(client, agent, first_line):
    ticket = make_ticket(title="One of many")
    selection = _selection(ticket) + [f"{900000 + i}:1" for i in range(100)]
    response = _bulk(login(client, agent), selection, "start")
    assert messages_of(response) == ["Select at most 100 tickets at a time (101 were selected)."]
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_missing_input_of_an_action_is_named_and_nothing_changes(client, agent, first_line):
    ticket = make_ticket(title="Needs input")
    login(client, agent)
    assert messages_of(_bulk(client, _selection(ticket), "resolve", code="solved")) == [
        "Resolution notes (the caller sees them): Say how the tickets were resolved."
    ]
    assert messages_of(_bulk(client, [], "start")) == ["Select at least one ticket."]
    assert messages_of(_bulk(client, ["banana"], "start")) == [
        "The selection was out of date: reload the page."
    ]
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


@pytest.mark.parametrize(
    "action,fields,status",
    [
        ("start", {}, Status.IN_PROGRESS),
        ("pend", {"pending_reason": "user", "pending_note": "Asked"}, Status.PENDING),
        ("resolve", {"code": "solved", "notes": "Restarted"}, Status.RESOLVED),
        ("cancel", {"cancel_reason": "Duplicate call"}, Status.CANCELLED),
    ],
)
def test_state_changes_in_bulk(client, agent, first_line, action, fields, status):
    tickets = [make_ticket(title=f"{action} {i}") for i in range(2)]
    if action == "pend":
        for ticket in tickets:
            services.ticket_start(ticket=ticket, by=agent)
            ticket.refresh_from_db()
    response = _bulk(login(client, agent), _selection(*tickets), action, **fields)
    assert messages_of(response) == ["2 tickets updated."]
    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.status == status


def test_close_in_bulk_skips_what_is_not_resolved(client, agent, first_line):
    resolved = make_ticket(title="Resolved")
    services.ticket_resolve(ticket=resolved, by=agent, code="solved", notes="ok")
    resolved.refresh_from_db()
    still_new = make_ticket(title="New")
    response = _bulk(login(client, agent), _selection(resolved, still_new), "close")
    assert messages_of(response) == [
        f"1 ticket updated. 1 skipped: {still_new.number} (not allowed in state New)."
    ]


def test_bulk_queries_grow_by_the_same_amount_per_ticket(client, agent, first_line):
    login(client, agent)
    counts = []
    for size in (2, 4, 6):
        tickets = [make_ticket(title=f"Q{size}-{i}") for i in range(size)]
        with CaptureQueriesContext(connection) as captured:
            response = client.post(BULK, {"tickets": _selection(*tickets), "action": "start"})
        assert response.status_code == 302
        counts.append(len(captured))
    assert counts[2] - counts[1] == counts[1] - counts[0], counts


@pytest.mark.skipif("merge" not in REGISTRY, reason="the merge transition is not there yet")
def test_merge_the_selected_into_the_one_kept(client, agent, first_line):
    keep = make_ticket(title="Printer down (first report)")
    dup1 = make_ticket(title="Printer down again")
    dup2 = make_ticket(title="Printer not printing")
    response = _bulk(login(client, agent), _selection(keep, dup1, dup2), "merge", survivor=keep.pk)
    assert messages_of(response) == ["2 tickets updated."]
    for dup in (dup1, dup2):
        dup.refresh_from_db()
        assert dup.merged_into_id == keep.pk
        assert not dup.is_open
    keep.refresh_from_db()
    assert keep.is_open and keep.merged_into_id is None


@pytest.mark.skipif("merge" not in REGISTRY, reason="the merge transition is not there yet")
def test_merge_needs_a_survivor_among_the_selected(client, agent, first_line):
    a, b, other = (make_ticket(title=t) for t in ("A", "B", "Other"))
    login(client, agent)
    assert messages_of(_bulk(client, _selection(a, b), "merge", survivor=other.pk)) == [
        "Keep this ticket: Keep one of the selected tickets."
    ]
    assert messages_of(_bulk(client, _selection(a), "merge", survivor=a.pk)) == [
        "Select at least two tickets to merge."
    ]
    for ticket in (a, b):
        ticket.refresh_from_db()
        assert ticket.merged_into_id is None


def test_the_queue_offers_bulk_tools_to_workers_only(client, agent, change_board, first_line):
    make_ticket(title="Row")
    content = login(client, agent).get(QUEUE, {"queue": "open"}).content.decode()
    assert 'id="bulk-form"' in content and 'class="form-check-input bulk-select"' in content
    client.force_login(change_board)
    content = client.get(QUEUE, {"queue": "open"}).content.decode()
    assert 'id="bulk-form"' not in content and "bulk-select" not in content


def test_the_assignee_picker_lists_colleagues_first(client, agent, first_line):
    colleague = make_user(Role.AGENT, username="ala", first_name="Ala", last_name="Kot")
    first_line.members.add(colleague)
    outsider = make_user(Role.ENGINEER, username="olek", first_name="Olek", last_name="Nowy")
    SupportGroupFactory(name="Elsewhere").members.add(outsider)
    make_user(Role.END_USER, username="notanagent", first_name="Not", last_name="Agent")
    content = login(client, agent).get(QUEUE).content.decode()
    picker = content[content.index('id="bulk-assignee"') :]
    picker = picker[: picker.index("</select>")]
    assert picker.index("Ala Kot") < picker.index("Other agents") < picker.index("Olek Nowy")
    assert "Not Agent" not in picker
