"""The access matrix: every page, API operation and websocket route, for every role, gets
the answer ``tests/access_matrix.py`` says it gets.

The routes come from the application itself (the URL configuration, drf-spectacular's
schema, the websocket routes ``helpdesk/asgi.py`` collects), so a route added without an
entry in the table fails ``test_every_route_has_an_entry``. The objects in the paths belong
to ``end_user``: ``other_end_user`` must get a 404 for each of them (their ticket, its
comments, attachments and timeline), never a 403 that confirms it exists.

Each role's probes run in one test against one world; every request runs in a savepoint
that is rolled back, so a write (a resolve, a delete) does not change what the next probe
finds.
"""

from __future__ import annotations

import itertools
import re
from http.cookies import SimpleCookie

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from changes import services as change_services
from cti.models import BlockedNumber, Call
from helpdesk import services as core_services
from tests import access_matrix as matrix
from tests.factories import (
    PNG,
    CategoryFactory,
    PbxFactory,
    PersonFactory,
    ServiceFactory,
    SiteFactory,
    SupportGroupFactory,
    make_ticket,
)
from tests.kb.factories import kb_articles
from tests.outages.factories import declare as outage_declare
from tickets import services as ticket_services
from tickets.models import CannedReply, SavedView

ROLE_FIXTURES = {
    "end_user": "end_user",
    "other_end_user": "other_end_user",
    "agent": "agent",
    "engineer": "engineer",
    "change_board": "change_board",
    "manager": "manager",
    "admin": "admin_user",
}
_addresses = itertools.count(1)


# --- what the application has ----------------------------------------------------------


def _url_names(patterns=None, namespace="") -> set[str]:
    """Every URL name of the URL configuration, namespaced; all of the admin as 'admin:*'."""
    names: set[str] = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            if inner == "admin:":
                names.add("admin:*")
                continue
            names |= _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            names.add(f"{namespace}{pattern.name}" if pattern.name else f"{pattern.pattern}")
    return names


def _schema_operations() -> set[str]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _websocket_routes() -> set[str]:
    from helpdesk.asgi import websocket_urlpatterns

    return {str(pattern.pattern) for pattern in websocket_urlpatterns}


def _url_name(path: str) -> str:
    match = resolve(path.split("?")[0])
    return "admin:*" if match.namespace == "admin" else match.view_name


def _entries_missing_and_stale(pages, api, websockets) -> tuple[set[str], set[str]]:
    """(routes of the application without an entry, entries for routes that are gone)."""
    operations = _schema_operations()
    # URL names the API's entries reach (the router's names of the schema's operations).
    api_names = {
        _url_name(_filled(probe.path, _PLACEHOLDERS)) for probes in api.values() for probe in probes
    }
    names = _url_names()
    missing = (
        (names - set(pages) - api_names)
        | (operations - set(api))
        | (_websocket_routes() - set(websockets))
    )
    stale = (set(pages) - names) | (set(api) - operations) | (set(websockets) - _websocket_routes())
    return missing, stale


def test_every_route_has_an_entry():
    """Pages by URL name, API operations as in the schema, websocket routes: each needs an
    entry; an entry for a route that is gone is stale and fails too."""
    missing, stale = _entries_missing_and_stale(matrix.PAGES, matrix.API, matrix.WEBSOCKETS)
    assert not missing, (
        "Routes without an entry in tests/access_matrix.py (decide who may use them, "
        "docs/roles.md):\n" + "\n".join(sorted(missing))
    )
    assert not stale, f"Entries in tests/access_matrix.py for routes that are gone: {sorted(stale)}"


def test_a_route_without_an_entry_is_named():
    """The check above is not vacuous: drop a page, an operation and the websocket from the
    table and each is reported by name."""
    pages = {k: v for k, v in matrix.PAGES.items() if k != "cti:call_log"}
    api = {k: v for k, v in matrix.API.items() if k != "GET /api/tickets/{number}/timeline/"}
    sockets = {k: v for k, v in matrix.WEBSOCKETS.items() if k != "ws/console/"}
    missing, stale = _entries_missing_and_stale(pages, api, sockets)
    # The operation, and its URL name, which no other entry reaches.
    assert missing == {
        "cti:call_log",
        "GET /api/tickets/{number}/timeline/",
        "api-ticket-timeline",
        "ws/console/",
    }
    assert not stale


class _AnyId(dict):
    """Values of the placeholders, for checking paths without a database: an id, or a
    ticket or change number."""

    def __missing__(self, key):
        return "1"


_PLACEHOLDERS = _AnyId(own="INC-000001", own_change="CHG-000001")


def test_every_probe_goes_where_its_entry_says():
    """A page's probes resolve to its URL name, an API probe to its schema operation."""
    wrong = []
    for name, probes in matrix.PAGES.items():
        for probe in probes:
            if _url_name(_filled(probe.path, _PLACEHOLDERS)) != name:
                wrong.append((name, probe.path))
    for operation, probes in matrix.API.items():
        method, schema_path = operation.split(" ", 1)
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", schema_path)
        for probe in probes:
            path = _filled(probe.path, _PLACEHOLDERS).split("?")[0]
            if probe.method != method or not re.fullmatch(pattern, path):
                wrong.append((operation, probe.method, probe.path))
    assert not wrong


# --- the world the probes run in ----------------------------------------------------------


@pytest.fixture
def users(request):
    return {role: request.getfixturevalue(name) for role, name in ROLE_FIXTURES.items()}


@pytest.fixture
def world(users, first_line, network_group):
    end_user = users["end_user"]
    own = make_ticket(caller=end_user.person, opened_by=end_user, title="My VPN")
    first_line.members.add(users["manager"], users["admin"])
    reply = ticket_services.comment_add(ticket=own, by=end_user, body="It happens at 9")
    attachment = ticket_services.attachment_add(
        ticket=own, by=end_user, upload=SimpleUploadedFile("screen.png", PNG), comment=reply
    )
    internal = ticket_services.attachment_add(
        ticket=own,
        by=users["agent"],
        upload=SimpleUploadedFile("trace.png", PNG),
        is_internal=True,
    )
    ticket_services.comment_add(ticket=own, by=users["agent"], body="Router", is_internal=True)
    pbx = PbxFactory()
    call = Call.objects.create(
        pbx=pbx,
        call_id="matrix-call",
        caller_number="+48 22 555 01 99",
        caller_e164="+48225550199",
        state=Call.State.ENDED,
        outcome=Call.Outcome.MISSED,
        started_at=timezone.now(),
    )
    call.offered_to.add(users["agent"])
    call.candidate_people.add(end_user.person)
    token, _key = core_services.api_token_create(user=end_user, name="laptop", lifetime_days=30)
    stranger = PersonFactory(full_name="Stranger")
    own_change = change_services.change_create(
        requester=end_user.person, by=end_user, title="A standing desk"
    )
    feed, _feed_key = change_services.calendar_feed_token_create(user=end_user)
    change_file = change_services.change_attachment_add(
        change=own_change, by=end_user, upload=SimpleUploadedFile("plan.png", PNG)
    )
    articles = kb_articles(author=users["agent"], publisher=users["manager"])
    vpn = ServiceFactory(owner_group=first_line)
    from kb.services import announcement_save

    announcement = announcement_save(by=users["agent"], title="Mail maintenance")
    elsewhere = announcement_save(
        by=users["agent"], title="Lift out of order", audience="site", site=SiteFactory()
    )
    from kb import scripts as kb_scripts

    category = CategoryFactory()
    script = kb_scripts.script_save(
        by=users["admin"],
        name="VPN does not connect",
        categories=[category],
        tree={
            "steps": [
                {
                    "id": "a",
                    "question": "Fixed?",
                    "answers": [{"label": "Yes", "outcome": "solved"}],
                }
            ]
        },
    )
    script_run = kb_scripts.script_run_start(script=script, ticket=own, by=users["agent"])
    return {
        "script": script.pk,
        "script_run": script_run.pk,
        "announcement": announcement.pk,
        "site_announcement": elsewhere.pk,
        "outage": outage_declare(users["agent"], services_=[vpn]).pk,
        **articles,
        "own_change": own_change.number,
        "change_attachment": change_file.pk,
        "feed": feed.pk,
        "own": own.number,
        "own_id": own.pk,
        "attachment": attachment.pk,
        "internal_attachment": internal.pk,
        "pbx": pbx.pk,
        "call": call.pk,
        "token": token.pk,
        "end_user_person": end_user.person.pk,
        "stranger": stranger.pk,
        "agent_id": users["agent"].pk,
        "group": first_line.pk,
        "network_group": network_group.pk,
        "spare_group": SupportGroupFactory(code="spare", name="Spare").pk,
        "service": ServiceFactory(owner_group=first_line).pk,
        "category": category.pk,
        "blocked": BlockedNumber.objects.create(e164="+48225550707").pk,
        "canned": CannedReply.objects.create(title="Hello", body="Hello {caller_name}").pk,
        "saved_view": SavedView.objects.create(
            owner=users["agent"], name="Agent's view", params={"queue": "mine"}
        ).pk,
    }


def _filled(text, values):
    if isinstance(text, str):
        return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), text)
    if isinstance(text, list):
        return [_filled(item, values) for item in text]
    return text


def _payload(probe, values):
    if probe.data is None:
        return None
    data = {}
    for key, value in probe.data.items():
        if value == "{png}":
            data[key] = SimpleUploadedFile("screen.png", PNG)
        elif isinstance(value, str) and re.fullmatch(r"\{\w+\}", value) and probe.format == "json":
            filled = values[value[1:-1]]
            data[key] = filled
        else:
            data[key] = _filled(value, values)
    return data


def _answer(response) -> object:
    location = response.get("Location", "")
    if response.status_code == 302 and location.startswith("/accounts/login/"):
        return matrix.LOGIN
    if response.status_code == 302 and location.startswith("/admin/login/"):
        return matrix.ADMIN_LOGIN
    return response.status_code


def _request(client, probe, values):
    path = _filled(probe.path, values)
    data = _payload(probe, values)
    method = getattr(client, probe.method.lower())
    if probe.format == "form":
        return method(path, data) if data is not None else method(path)
    return method(path, data, format=probe.format)


def _websocket_answer(user, route) -> object:
    from django.contrib.auth.models import AnonymousUser

    from helpdesk.asgi import websocket_urlpatterns

    async def connect():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/{route}")
        communicator.scope["user"] = user or AnonymousUser()
        ok, code = await communicator.connect(timeout=3)
        if ok:
            # A refused console is accepted, then closed with its code at once (cti.consumers).
            message = await communicator.receive_output(timeout=3)
            if message["type"] == "websocket.close":
                return message.get("code")
        await communicator.disconnect()
        return matrix.ACCEPT if ok else code

    return async_to_sync(connect)()


@pytest.mark.parametrize("role", matrix.ROLES)
def test_each_role_gets_the_answers_in_the_table(role, users, world, monkeypatch):
    # The consumer's database calls would close the test's connection, which holds the
    # world in its transaction (PostgreSQL): keep it open.
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)
    user = users.get(role)
    values = {
        **world,
        "self_person": user.person.pk if user is not None else PersonFactory().pk,
    }
    client = APIClient(REMOTE_ADDR=f"10.77.{next(_addresses) % 250}.{hash(role) % 250 + 1}")
    if user is not None:
        client.force_login(user)
    wrong = []
    probes = [
        (key, probe)
        for table in (matrix.PAGES, matrix.API)
        for key, entries in table.items()
        for probe in entries
    ]
    for key, probe in probes:
        cookies = SimpleCookie(client.cookies)
        with transaction.atomic():
            response = _request(client, probe, values)
            transaction.set_rollback(True)
        # A sign-out (or a sign-in page) must not change who asks next: the session row is
        # back with the rollback, the cookie comes back here.
        client.cookies = cookies
        got, expected = _answer(response), probe.expected[role]
        if got != expected:
            wrong.append(f"{key}: {probe.method} {probe.path}: expected {expected}, got {got}")
    for route, expected_by_role in matrix.WEBSOCKETS.items():
        expected = expected_by_role[role]
        got = _websocket_answer(user, route)
        if got != expected:
            wrong.append(f"websocket {route}: expected {expected}, got {got}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)
