"""The ticket API contract: what each endpoint accepts, answers and refuses."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from helpdesk import services as helpdesk_services
from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.factories import (
    PNG,
    CategoryFactory,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    make_ticket,
    make_user,
)
from tickets import services
from tickets.models import Comment, Status, Ticket, TimelineEntry


@pytest.fixture
def own_ticket(end_user, first_line):
    return make_ticket(caller=end_user.person, opened_by=end_user, title="VPN drops every hour")


def url(number="", suffix=""):
    base = "/api/tickets/"
    if number:
        base += f"{number}/"
    return base + suffix


def numbers(response):
    return [row["number"] for row in response.json()["results"]]


# --- list, filter, search, ordering -----------------------------------------------------------


def test_list_is_paginated_and_rows_carry_transitions(as_agent, own_ticket):
    response = as_agent.get(url())
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["number"] == own_ticket.number
    assert row["status"] == "new"
    assert row["caller"]["id"] == own_ticket.caller_id
    assert row["group"]["code"] == "service-desk"
    assert row["version"] == 1
    assert set(row["available_transitions"]) == {
        "assign",
        "start",
        "resolve",
        "cancel",
        "transfer",
        "escalate",
        "merge",
    }


def test_end_user_lists_only_tickets_where_they_are_the_caller(as_end_user, own_ticket):
    make_ticket(caller=PersonFactory(), title="Someone else's laptop")
    response = as_end_user.get(url())
    assert numbers(response) == [own_ticket.number]
    assert response.json()["results"][0]["available_transitions"] == ["cancel"]


def test_list_filters(as_agent, agent, network_group, first_line):
    service = ServiceFactory()
    category = CategoryFactory()
    caller = PersonFactory()
    phone = make_ticket(caller=caller, channel="phone", service=service, category=category)
    mail = make_ticket(channel="email", urgency=1, impact=1)
    moved = make_ticket()
    services.ticket_transfer(ticket=moved, by=agent, group=network_group, reason="Switch port")
    services.ticket_assign(ticket=mail, by=agent, assignee=agent)

    def only(**params):
        return set(numbers(as_agent.get(url(), params)))

    assert only(channel="phone") == {phone.number}
    assert only(channel=["phone", "email"]) == {phone.number, mail.number}
    assert only(status="assigned") == {mail.number}
    assert only(priority=1) == {mail.number}
    assert only(support_group=network_group.pk) == {moved.number}
    assert only(assignee="me") == {mail.number}
    assert only(assignee=agent.pk) == {mail.number}
    assert only(assignee="none") == {phone.number, moved.number}
    assert only(service=service.pk) == {phone.number}
    assert only(category=category.pk) == {phone.number}
    assert only(caller=caller.pk) == {phone.number}
    assert only(type="incident") == {phone.number, mail.number, moved.number}
    assert only(open="true") == {phone.number, mail.number, moved.number}
    assert only(open="false") == set()


@pytest.mark.parametrize(
    ("param", "value"),
    [("status", "sleeping"), ("priority", "9"), ("assignee", "somebody"), ("channel", "fax")],
)
def test_bad_filter_value_is_400_naming_the_parameter(as_agent, own_ticket, param, value):
    response = as_agent.get(url(), {param: value})
    assert response.status_code == 400
    assert param in response.json()


def test_search_by_number_title_name_email_and_phone(as_agent):
    caller = PersonFactory(full_name="Zofia Wiśniewska", email="zofia@example.com")
    PhoneNumberFactory(person=caller, raw="+48 22 555 01 23")
    ticket = make_ticket(caller=caller, title="Outlook keeps asking for a password")
    other = make_ticket(title="Monitor flickers")

    def found(text):
        return numbers(as_agent.get(url(), {"search": text}))

    assert found(ticket.number) == [ticket.number]
    assert found(str(int(other.number.split("-")[1]))) == [other.number]
    assert found("outlook") == [ticket.number]
    assert found("Wiśniewska") == [ticket.number]
    assert found("zofia@example.com") == [ticket.number]
    assert found("22 555-01-23") == [ticket.number]
    assert found("nothing like this") == []


def test_ordering_by_priority(as_agent):
    low = make_ticket(impact=4, urgency=4)
    high = make_ticket(impact=1, urgency=1)
    assert numbers(as_agent.get(url(), {"ordering": "priority"})) == [high.number, low.number]
    assert numbers(as_agent.get(url(), {"ordering": "-priority"})) == [low.number, high.number]


def test_list_query_count_does_not_grow_with_page_size(as_agent, agent, network_group):
    def make_rows(count):
        for index in range(count):
            opened_by = make_user(Role.AGENT) if index % 2 else None
            ticket = make_ticket(
                caller=PersonFactory(), service=ServiceFactory(), opened_by=opened_by
            )
            if index % 2:
                services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
            if index % 3 == 0:
                services.ticket_transfer(ticket=ticket, by=agent, group=network_group, reason="x")

    def count_queries(page_size):
        with CaptureQueriesContext(connection) as queries:
            response = as_agent.get(url(), {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        return len(queries)

    make_rows(5)
    few = count_queries(5)
    make_rows(45)
    many = count_queries(50)
    assert few == many


def test_an_end_users_answers_read_no_tags_links_or_watchers(as_end_user, end_user, agent):
    """Only staff are shown a ticket's tags, related tickets and watchers: an end user's list
    and detail do not read them."""
    ticket = make_ticket(caller=end_user.person)
    services.ticket_tags_set(ticket=ticket, by=agent, names=["vpn"])
    services.ticket_watch(ticket=ticket, user=agent, by=agent)
    for path in (url(), f"{url()}{ticket.number}/"):
        with CaptureQueriesContext(connection) as queries:
            response = as_end_user.get(path)
        assert response.status_code == 200
        body = response.json()
        row = body["results"][0] if "results" in body else body
        assert (row["tags"], row["related"], row["watchers"]) == ([], [], [])
        read = " ".join(query["sql"] for query in queries)
        for table in ("tickets_tag", "tickets_ticketlink", "tickets_ticketwatcher"):
            assert table not in read, (path, table)


# --- create ------------------------------------------------------------------------------------


def test_end_user_creates_a_ticket_for_themselves(as_end_user, end_user, first_line):
    service = ServiceFactory()
    response = as_end_user.post(
        url(),
        {"title": "Cannot print", "description": "Nothing comes out", "service": service.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"].startswith("INC-")
    assert body["caller"]["id"] == end_user.person.pk
    assert body["opened_by"]["id"] == end_user.pk
    assert body["channel"] == "api"
    assert body["service"]["id"] == service.pk
    assert body["group"]["id"] == first_line.pk
    assert Ticket.objects.get(number=body["number"]).caller == end_user.person


def test_end_user_may_file_from_the_portal_channel(as_end_user):
    response = as_end_user.post(url(), {"title": "x", "channel": "portal"}, format="json")
    assert response.status_code == 201
    assert response.json()["channel"] == "portal"


@pytest.mark.parametrize(
    ("field", "value"),
    [("channel", "phone"), ("impact", 1), ("urgency", 1), ("group", "GROUP")],
)
def test_end_user_cannot_classify_or_route_a_new_ticket(as_end_user, first_line, field, value):
    if value == "GROUP":
        value = first_line.pk
    response = as_end_user.post(url(), {"title": "x", field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Ticket.objects.exists()


def test_end_user_cannot_open_a_ticket_for_someone_else(as_end_user):
    other = PersonFactory()
    response = as_end_user.post(url(), {"title": "x", "caller": other.pk}, format="json")
    assert response.status_code == 400
    assert "caller" in response.json()
    assert not Ticket.objects.exists()


def test_agent_creates_a_phone_ticket_for_a_caller(as_agent, agent, network_group):
    caller = PersonFactory()
    response = as_agent.post(
        url(),
        {
            "title": "Laptop will not boot",
            "caller": caller.pk,
            "channel": "phone",
            "type": "request",
            "impact": 2,
            "urgency": 2,
            "group": network_group.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == "REQ-000001"
    assert body["caller"]["id"] == caller.pk
    assert body["channel"] == "phone"
    assert body["priority"] == 2
    assert body["group"]["id"] == network_group.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"caller": "CALLER"}, "title"),
        ({"title": "x"}, "caller"),
        ({"title": "x", "caller": 999999}, "caller"),
        ({"title": "x", "caller": "CALLER", "channel": "pigeon"}, "channel"),
        ({"title": "x", "caller": "CALLER", "service": 999999}, "service"),
        ({"title": "x", "caller": "CALLER", "parent": "INC-999999"}, "parent"),
        ({"title": "x" * 201, "caller": "CALLER"}, "title"),
    ],
)
def test_create_with_bad_input_is_400_naming_the_field(as_agent, payload, field):
    caller = PersonFactory()
    payload = {k: caller.pk if v == "CALLER" else v for k, v in payload.items()}
    response = as_agent.post(url(), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_malformed_json_is_400_not_500(as_agent):
    response = as_agent.post(url(), "{not json", content_type="application/json")
    assert response.status_code == 400


# --- retrieve and update -------------------------------------------------------------------------


def test_retrieve_by_number(as_agent, own_ticket):
    response = as_agent.get(url(own_ticket.number))
    assert response.status_code == 200
    assert response.json()["title"] == "VPN drops every hour"
    assert as_agent.get(url(own_ticket.number.lower())).status_code == 200
    assert as_agent.get(url("INC-999999")).status_code == 404


def test_end_user_gets_404_for_someone_elses_ticket(as_end_user):
    other = make_ticket(caller=PersonFactory())
    assert as_end_user.get(url(other.number)).status_code == 404
    assert as_end_user.get(url(other.number, "comments/")).status_code == 404
    assert as_end_user.get(url(other.number, "timeline/")).status_code == 404
    assert as_end_user.get(url(other.number, "attachments/")).status_code == 404
    response = as_end_user.post(url(other.number, "transitions/cancel/"), {}, format="json")
    assert response.status_code == 404
    assert Ticket.objects.get(pk=other.pk).status == Status.NEW


def test_patch_with_current_version_changes_classification(as_agent, own_ticket):
    service = ServiceFactory()
    response = as_agent.patch(
        url(own_ticket.number),
        {"version": 1, "urgency": 1, "impact": 2, "service": service.pk},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 2
    assert body["priority"] == 2
    assert body["service"]["id"] == service.pk
    changed = set(
        TimelineEntry.objects.filter(
            ticket=own_ticket, kind=TimelineEntry.Kind.FIELD_CHANGE
        ).values_list("field", flat=True)
    )
    assert changed == {"urgency", "impact", "service", "priority"}


def test_patch_with_stale_version_is_409_with_current_version(as_agent, agent, own_ticket):
    services.ticket_update(ticket=own_ticket, by=agent, expected_version=1, title="Edited first")
    response = as_agent.patch(
        url(own_ticket.number), {"version": 1, "title": "Edited second"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["current_version"] == 2
    assert Ticket.objects.get(pk=own_ticket.pk).title == "Edited first"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "no version"}, "version"),
        ({"version": 1, "urgency": 7}, "urgency"),
        ({"version": 1, "title": ""}, "title"),
        ({"version": 1, "category": 999999}, "category"),
        ({"version": "abc"}, "version"),
    ],
)
def test_patch_with_bad_input_is_400_naming_the_field(as_agent, own_ticket, payload, field):
    response = as_agent.patch(url(own_ticket.number), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_patch_cannot_make_a_ticket_its_own_parent(as_agent, own_ticket):
    response = as_agent.patch(
        url(own_ticket.number), {"version": 1, "parent": own_ticket.number}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()


def test_put_is_not_offered(as_agent, own_ticket):
    response = as_agent.put(url(own_ticket.number), {"version": 1}, format="json")
    assert response.status_code == 405


# --- transitions ---------------------------------------------------------------------------------


def post_transition(client, ticket, name, payload=None):
    return client.post(url(ticket.number, f"transitions/{name}/"), payload or {}, format="json")


def test_assign_start_pend_resume_resolve_close(as_agent, agent, own_ticket):
    response = post_transition(as_agent, own_ticket, "assign", {"assignee": agent.pk})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "assigned"
    assert response.json()["assignee"]["id"] == agent.pk

    assert post_transition(as_agent, own_ticket, "start").json()["status"] == "in_progress"

    response = post_transition(as_agent, own_ticket, "pend", {"reason": "user", "note": "Logs?"})
    assert response.json()["status"] == "pending"
    assert response.json()["pending_reason"] == "user"
    assert response.json()["pending_note"] == "Logs?"

    assert post_transition(as_agent, own_ticket, "resume").json()["status"] == "in_progress"

    response = post_transition(
        as_agent,
        own_ticket,
        "resolve",
        {"code": "solved", "notes": "Replaced the cable", "first_contact": True},
    )
    body = response.json()
    assert body["status"] == "resolved"
    assert body["resolution_code"] == "solved"
    assert body["resolution_notes"] == "Replaced the cable"
    assert body["first_contact_resolution"] is True
    assert set(body["available_transitions"]) == {"close", "reopen"}

    assert post_transition(as_agent, own_ticket, "close").json()["status"] == "closed"


def test_illegal_transition_is_409_listing_the_allowed_ones(as_agent, own_ticket):
    response = post_transition(as_agent, own_ticket, "close")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed"
    assert body["state"] == "new"
    assert set(body["allowed_transitions"]) == {
        "assign",
        "start",
        "resolve",
        "cancel",
        "transfer",
        "escalate",
        "merge",
    }


def test_end_user_may_not_resolve_their_own_ticket(as_end_user, own_ticket):
    response = post_transition(as_end_user, own_ticket, "resolve", {"code": "solved", "notes": "x"})
    assert response.status_code == 409
    assert response.json()["allowed_transitions"] == ["cancel"]


def test_unknown_transition_is_404(as_agent, own_ticket):
    assert post_transition(as_agent, own_ticket, "teleport").status_code == 404


@pytest.mark.parametrize(
    ("name", "payload", "field"),
    [
        ("assign", {}, "assignee"),
        ("assign", {"assignee": 999999}, "assignee"),
        ("pend", {"reason": "holiday"}, "reason"),
        ("resolve", {"notes": "done"}, "code"),
        ("resolve", {"code": "solved", "notes": "  "}, "notes"),
        ("transfer", {"reason": "x"}, "group"),
        ("transfer", {"group": "NETWORK"}, "reason"),
        ("escalate", {"group": "NETWORK"}, "notes"),
        ("escalate", {"group": "FIRST", "notes": "tried"}, "group"),
        ("start", {"version": "x"}, "version"),
    ],
)
def test_transition_with_bad_input_is_400_naming_the_field(
    as_agent, agent, own_ticket, network_group, first_line, name, payload, field
):
    if name == "pend":
        services.ticket_start(ticket=own_ticket, by=agent)
    groups = {"NETWORK": network_group.pk, "FIRST": first_line.pk}
    payload = {k: groups.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = post_transition(as_agent, own_ticket, name, payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()


def test_assigning_to_an_end_user_is_400(as_agent, own_ticket, end_user):
    response = post_transition(as_agent, own_ticket, "assign", {"assignee": end_user.pk})
    assert response.status_code == 400
    assert "assignee" in response.json()


def test_transition_with_stale_version_is_409(as_agent, agent, own_ticket):
    services.ticket_update(ticket=own_ticket, by=agent, expected_version=1, urgency=1)
    response = post_transition(as_agent, own_ticket, "start", {"version": 1})
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    assert Ticket.objects.get(pk=own_ticket.pk).status == Status.NEW


def test_transfer_and_escalate(as_agent, own_ticket, network_group):
    apps = SupportGroup.objects.create(name="Applications", code="apps", tier=2)
    response = post_transition(
        as_agent, own_ticket, "escalate", {"group": network_group.pk, "notes": "Pinged the gw"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["group"]["id"] == network_group.pk
    note = Comment.objects.get(ticket=own_ticket)
    assert note.is_internal and note.body == "Pinged the gw"
    # Already in second line: escalation is no longer offered, transfer is.
    assert "escalate" not in response.json()["available_transitions"]
    response = post_transition(
        as_agent, own_ticket, "transfer", {"group": apps.pk, "reason": "It is the ERP"}
    )
    assert response.status_code == 200
    assert response.json()["group"]["code"] == "apps"
    entry = TimelineEntry.objects.get(ticket=own_ticket, kind=TimelineEntry.Kind.TRANSFER)
    assert entry.note == "It is the ERP"


def test_end_user_reopens_a_resolved_ticket_with_a_reason(as_end_user, agent, own_ticket):
    services.ticket_resolve(ticket=own_ticket, by=agent, code="solved", notes="Rebooted")
    response = post_transition(as_end_user, own_ticket, "reopen", {"reason": "Still broken"})
    assert response.status_code == 200, response.json()
    # The resolver kept the ticket, so it goes back to them.
    assert response.json()["status"] == "assigned"
    assert response.json()["assignee"]["id"] == agent.pk
    assert Comment.objects.get(ticket=own_ticket).body == "Still broken"


def test_end_user_cancels_own_new_ticket(as_end_user, own_ticket):
    response = post_transition(as_end_user, own_ticket, "cancel", {"reason": "Works now"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["available_transitions"] == []


# --- comments ---------------------------------------------------------------------------------


def test_agent_writes_reply_and_internal_note_end_user_sees_only_the_reply(
    api, agent, end_user, own_ticket
):
    api.force_login(agent)
    response = api.post(
        url(own_ticket.number, "comments/"), {"body": "Please reboot"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["is_internal"] is False
    assert response.json()["channel"] == "api"
    response = api.post(
        url(own_ticket.number, "comments/"),
        {"body": "User is on VPN", "is_internal": True},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["is_internal"] is True
    assert [c["body"] for c in api.get(url(own_ticket.number, "comments/")).json()["results"]] == [
        "Please reboot",
        "User is on VPN",
    ]

    api.force_login(end_user)
    bodies = [c["body"] for c in api.get(url(own_ticket.number, "comments/")).json()["results"]]
    assert bodies == ["Please reboot"]
    timeline = api.get(url(own_ticket.number, "timeline/")).json()["results"]
    assert "User is on VPN" not in str(timeline)
    assert "Please reboot" in [e["comment_body"] for e in timeline]


def test_end_user_cannot_write_an_internal_note(as_end_user, own_ticket):
    response = as_end_user.post(
        url(own_ticket.number, "comments/"),
        {"body": "secret", "is_internal": True},
        format="json",
    )
    assert response.status_code == 400
    assert "is_internal" in response.json()
    assert not Comment.objects.exists()


def test_empty_comment_is_400(as_end_user, own_ticket):
    response = as_end_user.post(url(own_ticket.number, "comments/"), {"body": " "}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()


def test_end_user_does_not_see_escalation_diagnostics_in_timeline(
    as_end_user, agent, own_ticket, network_group
):
    services.ticket_escalate(
        ticket=own_ticket, by=agent, group=network_group, diagnostic_notes="Router 10.0.0.1 dead"
    )
    timeline = as_end_user.get(url(own_ticket.number, "timeline/")).json()["results"]
    assert [e["kind"] for e in timeline] == ["created", "escalation", "field_change"]
    assert "Router 10.0.0.1" not in str(timeline)


def test_timeline_records_transitions_with_old_and_new(as_agent, agent, own_ticket):
    services.ticket_assign(ticket=own_ticket, by=agent, assignee=agent)
    entries = as_agent.get(url(own_ticket.number, "timeline/")).json()["results"]
    transition = next(e for e in entries if e["transition"] == "assign")
    assert transition["old_value"] == "new"
    assert transition["new_value"] == "assigned"
    assert transition["new_display"] == "Assigned"
    assert transition["actor"]["id"] == agent.pk


# --- attachments ---------------------------------------------------------------------------------


def upload(client, ticket, content, name, **extra):
    return client.post(
        url(ticket.number, "attachments/"),
        {"file": SimpleUploadedFile(name, content), **extra},
        format="multipart",
    )


def test_upload_list_and_download(as_end_user, own_ticket):
    response = upload(as_end_user, own_ticket, PNG, "screen.png")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "screen.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    listed = as_end_user.get(url(own_ticket.number, "attachments/")).json()["results"]
    assert [a["id"] for a in listed] == [body["id"]]
    download = as_end_user.get(body["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PNG


def test_upload_too_big_is_400(as_end_user, own_ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    response = upload(as_end_user, own_ticket, b"a" * (1024 * 1024 + 1), "log.txt")
    assert response.status_code == 400
    assert "file" in response.json()
    assert not own_ticket.attachments.exists()


def test_upload_of_html_named_txt_is_400(as_end_user, own_ticket):
    response = upload(as_end_user, own_ticket, b"<html><script>alert(1)</script>", "notes.txt")
    assert response.status_code == 400
    assert "file" in response.json()


def test_upload_without_file_is_400(as_end_user, own_ticket):
    response = as_end_user.post(url(own_ticket.number, "attachments/"), {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_internal_attachment_is_hidden_from_the_end_user(api, agent, end_user, own_ticket):
    api.force_login(agent)
    response = upload(api, own_ticket, PNG, "diag.png", is_internal=True)
    assert response.status_code == 201
    download_url = response.json()["download_url"]
    api.force_login(end_user)
    assert api.get(url(own_ticket.number, "attachments/")).json()["results"] == []
    assert api.get(download_url).status_code == 404


def test_end_user_cannot_upload_internal_attachment(as_end_user, own_ticket):
    response = upload(as_end_user, own_ticket, PNG, "x.png", is_internal=True)
    assert response.status_code == 400
    assert "is_internal" in response.json()


# --- sub-resource query counts and token auth ---------------------------------------------


@pytest.mark.parametrize("resource", ["comments/", "timeline/", "attachments/"])
def test_sub_resource_query_count_is_constant(as_agent, agent, own_ticket, resource):
    def add(count):
        for index in range(count):
            comment = services.comment_add(
                ticket=own_ticket, by=agent, body=f"note {index}", is_internal=bool(index % 2)
            )
            services.attachment_add(
                ticket=own_ticket,
                by=agent,
                upload=SimpleUploadedFile("a.png", PNG),
                comment=comment,
            )

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = as_agent.get(url(own_ticket.number, resource), {"page_size": 100})
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    add(2)
    count_queries()  # the first request reads the permissions the cache then keeps (Redis)
    few, few_rows = count_queries()
    add(20)
    many, many_rows = count_queries()
    assert many_rows > few_rows
    assert few == many


def test_token_authentication(api, end_user, own_ticket):
    _token, key = helpdesk_services.api_token_create(user=end_user, name="script", lifetime_days=30)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.get(url())
    assert response.status_code == 200
    assert numbers(response) == [own_ticket.number]
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get(url()).status_code == 401


def test_user_without_person_profile_cannot_create_and_sees_nothing(api, db):
    user = make_user(Role.END_USER, person=False, username="ghost")
    make_ticket()
    api.force_login(user)
    assert api.get(url()).json()["count"] == 0
    response = api.post(url(), {"title": "x"}, format="json")
    assert response.status_code == 400
    assert "caller" in response.json()


# --- hostile input never produces a 500 ---------------------------------------------------

HUGE = 10**30
GARBAGE = [
    [],
    "text",
    {"title": ["a", "b"], "caller": {"id": 1}},
    {"title": "x", "caller": HUGE},
    {"title": "x", "caller": -1, "service": HUGE, "category": "abc", "parent": HUGE},
    {"version": HUGE, "urgency": HUGE, "impact": -HUGE},
    {"version": 1, "parent": {"number": "x"}, "service": [1]},
    {"assignee": HUGE, "group": HUGE, "reason": None, "code": None, "notes": ["x"]},
    {"body": None, "is_internal": "maybe", "file": "not a file"},
]


@pytest.mark.parametrize("payload", GARBAGE)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("post", ""),
        ("patch", "NUMBER"),
        ("post", "NUMBER/transitions/assign/"),
        ("post", "NUMBER/transitions/resolve/"),
        ("post", "NUMBER/transitions/transfer/"),
        ("post", "NUMBER/comments/"),
        ("post", "NUMBER/attachments/"),
    ],
)
def test_garbage_input_is_a_4xx_never_a_500(as_agent, own_ticket, method, suffix, payload):
    path = url() + suffix.replace("NUMBER", own_ticket.number) + ("/" if suffix == "NUMBER" else "")
    response = getattr(as_agent, method)(path, payload, format="json")
    assert 400 <= response.status_code < 500, response.content[:300]


@pytest.mark.parametrize(
    "params",
    [
        {"caller": str(HUGE)},
        {"caller": "1e400"},
        {"support_group": "-1"},
        {"assignee": str(HUGE)},
        {"assignee": "9" * 5000},
        {"caller": "9" * 5000},
        {"page": "abc"},
        {"page": str(HUGE)},
        {"page_size": "-5"},
        {"ordering": "password"},
        {"search": "x" * 5000},
        {"search": "+48 " + "9" * 40},
        {"status": ""},
    ],
)
def test_garbage_query_parameters_never_give_a_500(as_agent, own_ticket, params):
    response = as_agent.get(url(), params)
    assert response.status_code in (200, 400, 404), response.content[:300]


def test_internal_file_on_a_public_reply_is_hidden_from_the_end_user(
    api, agent, end_user, own_ticket
):
    reply = services.comment_add(ticket=own_ticket, by=agent, body="See the screenshots")
    for name, internal in (("public.png", False), ("internal.png", True)):
        services.attachment_add(
            ticket=own_ticket,
            by=agent,
            upload=SimpleUploadedFile(name, PNG),
            comment=reply,
            is_internal=internal,
        )
    api.force_login(agent)
    [comment] = api.get(url(own_ticket.number, "comments/")).json()["results"]
    assert [a["name"] for a in comment["attachments"]] == ["public.png", "internal.png"]
    api.force_login(end_user)
    [comment] = api.get(url(own_ticket.number, "comments/")).json()["results"]
    assert [a["name"] for a in comment["attachments"]] == ["public.png"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
def test_two_agents_editing_at_once_one_wins_the_other_gets_409(agent, engineer, end_user):
    """Two real concurrent requests with the same version: exactly one is applied."""
    import threading

    from django.db import connections

    ticket = make_ticket(caller=end_user.person)
    barrier = threading.Barrier(2)
    results = {}

    def edit(user, title):
        client = APIClient()
        client.force_login(user)
        try:
            barrier.wait(timeout=10)
            response = client.patch(
                url(ticket.number), {"version": 1, "title": title}, format="json"
            )
            results[title] = response.status_code
        finally:
            connections.close_all()

    threads = [
        threading.Thread(daemon=True, target=edit, args=(agent, "From agent")),
        threading.Thread(daemon=True, target=edit, args=(engineer, "From engineer")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == [200, 409]
    winner = next(title for title, code in results.items() if code == 200)
    ticket.refresh_from_db()
    assert ticket.title == winner
    assert ticket.version == 2
