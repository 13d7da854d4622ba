"""The agent's composer: canned replies filled per ticket, @mentions in work notes (the rows,
the event, the mail, the console push), the colleague autocomplete, the upload hint."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from cti.consumers import ConsoleConsumer
from helpdesk.models import Person
from helpdesk.roles import Role
from tests.factories import PersonFactory, make_ticket, make_user
from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)
from tickets import events, services
from tickets.models import CannedReply, CommentMention

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller(end_user):
    person = end_user.person
    person.full_name = "Jan Kowalski"
    person.language = "pl"
    person.save(update_fields=["full_name", "language"])
    end_user.first_name = "Jan"
    end_user.save(update_fields=["first_name"])
    return person


@pytest.fixture
def ticket(agent, caller, first_line):
    return make_ticket(caller=caller, opened_by=agent, group=first_line, title="VPN drops")


@pytest.fixture
def colleague(first_line):
    user = make_user(Role.AGENT, username="marta.nowak", first_name="Marta", last_name="Nowak")
    first_line.members.add(user)
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reply(body, **kwargs):
    kwargs.setdefault("title", "Reply")
    return CannedReply.objects.create(body=body, **kwargs)


# --- placeholders -------------------------------------------------------------------------


def test_placeholders_are_filled_from_the_ticket_the_caller_and_the_agent(ticket, agent):
    agent.person.full_name = "Anna Agent"
    agent.person.save(update_fields=["full_name"])
    text = services.canned_reply_render(
        reply=reply(
            "Hi {caller_first_name} ({caller_name}), {ticket_number} «{ticket_title}» "
            "is with {group_name}. {agent_name}"
        ),
        ticket=ticket,
        agent=agent,
    )
    assert text == (
        f"Hi Jan (Jan Kowalski), {ticket.number} «VPN drops» is with Service Desk. Anna Agent"
    )


def test_unknown_placeholders_braces_and_attribute_lookups_stay_as_typed(ticket, agent):
    body = "{unknown} {ticket_number.__class__} {caller_name!r} { } {{caller_name}} {0} {"
    text = services.canned_reply_render(reply=reply(body), ticket=ticket, agent=agent)
    assert text == body.replace("{{caller_name}}", "{Jan Kowalski}")


def test_a_caller_without_a_login_is_named_from_the_directory(agent, first_line):
    person = PersonFactory(full_name="Ewa Zielińska", user=None)
    ticket = make_ticket(caller=person, opened_by=agent, group=first_line)
    text = services.canned_reply_render(
        reply=reply("Dear {caller_first_name} / {caller_name}"), ticket=ticket, agent=agent
    )
    assert text == "Dear Ewa / Ewa Zielińska"


def test_a_ticket_without_group_fills_the_group_with_nothing(agent, caller):
    ticket = make_ticket(caller=caller, opened_by=agent, group=None)
    ticket.group = None
    ticket.save(update_fields=["group"])
    text = services.canned_reply_render(reply=reply("[{group_name}]"), ticket=ticket, agent=agent)
    assert text == "[]"


# --- which replies are offered ------------------------------------------------------------


def test_offered_replies_are_the_groups_and_the_shared_ones_callers_language_first(
    ticket, network_group
):
    shared_en = reply("x", title="Alpha", language="en")
    shared_pl = reply("x", title="Zeta", language="pl")
    own_group = reply("x", title="Beta", language="pl", group=ticket.group)
    reply("x", title="Other group", language="pl", group=network_group)
    reply("x", title="Retired", language="pl", is_active=False)
    from tickets import selectors

    assert selectors.canned_replies_for(ticket) == [own_group, shared_pl, shared_en]


def test_the_page_lists_the_replies_and_the_endpoint_fills_one(ticket, agent):
    canned = reply("Dzień dobry {caller_name}, {ticket_number}", title="Sprawdzamy", language="pl")
    other = reply("Hello {caller_first_name}", title="Looking", language="en")
    client = client_for(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert "Insert canned reply" in page
    assert page.index("Sprawdzamy") < page.index("Looking (English)")
    url = reverse("tickets:console_canned_reply", args=[ticket.number, canned.pk])
    assert url in page
    answer = client.get(url)
    assert answer.status_code == 200
    assert answer.json()["text"] == f"Dzień dobry Jan Kowalski, {ticket.number}"
    url = reverse("tickets:console_canned_reply", args=[ticket.number, other.pk])
    assert client.get(url).json()["text"] == "Hello Jan"


def test_a_reply_of_another_group_or_retired_or_a_hidden_ticket_is_a_404(
    ticket, agent, end_user, network_group
):
    foreign = reply("x", group=network_group)
    retired = reply("x", is_active=False)
    shared = reply("x")
    client = client_for(agent)
    for canned in (foreign, retired):
        url = reverse("tickets:console_canned_reply", args=[ticket.number, canned.pk])
        assert client.get(url).status_code == 404
    missing = reverse("tickets:console_canned_reply", args=["INC-999999", shared.pk])
    assert client.get(missing).status_code == 404
    # The caller is no member of staff, even on their own ticket.
    url = reverse("tickets:console_canned_reply", args=[ticket.number, shared.pk])
    assert client_for(end_user).get(url).status_code == 403


# --- mentions -----------------------------------------------------------------------------


def note(ticket, by, body, **kwargs):
    kwargs.setdefault("is_internal", True)
    return services.comment_add(ticket=ticket, by=by, body=body, **kwargs)


def test_mentioned_logins_are_parsed_once_each_without_mail_addresses_or_final_dots():
    assert services.mentioned_logins(
        "@marta.nowak can you check? cc @Engineer, @marta.nowak. Mail me: a@b.example; @"
    ) == ["marta.nowak", "Engineer"]


def test_a_work_note_records_one_mention_per_colleague_who_works_tickets(
    ticket, agent, colleague, engineer, end_user, change_board
):
    body = (
        "@marta.nowak and @ENGINEER please look; @marta.nowak again; not @nobody, "
        f"@{end_user.username}, @{change_board.username} or myself @{agent.username}."
    )
    comment = note(ticket, agent, body)
    assert CommentMention.objects.filter(comment=comment).count() == 2
    assert set(CommentMention.objects.filter(comment=comment).values_list("user", flat=True)) == {
        colleague.pk,
        engineer.pk,
    }


def test_mentions_cost_one_lookup_query(ticket, agent, colleague, engineer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    note(ticket, agent, "warm-up: the agent's permissions are read once")
    with CaptureQueriesContext(connection) as plain:
        note(ticket, agent, "no names here")
    with CaptureQueriesContext(connection) as named:
        note(ticket, agent, "@marta.nowak @engineer @nobody @someone.else")
    # One SELECT of the colleagues and one INSERT of their mentions.
    assert len(named) == len(plain) + 2


def test_a_public_reply_mentions_nobody(ticket, agent, colleague):
    note(ticket, agent, "Dear caller, @marta.nowak will call you.", is_internal=False)
    assert not CommentMention.objects.exists()


def test_the_commented_event_carries_the_mentioned_ids(
    ticket, agent, colleague, engineer, django_capture_on_commit_callbacks
):
    received = []
    listener = received.append  # one bound method: unsubscribe compares by identity
    events.subscribe(listener, kinds=[events.Kind.COMMENTED])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            note(ticket, agent, "@engineer @marta.nowak")
            note(ticket, agent, "@marta.nowak", is_internal=False)
    finally:
        events.unsubscribe(listener)
    assert [event.mentions for event in received] == [
        tuple(sorted([colleague.pk, engineer.pk])),
        (),
    ]


def test_the_timeline_highlights_the_mentioned_colleagues_only(ticket, agent, colleague):
    note(ticket, agent, "Ask @marta.nowak, not @nobody.")
    page = client_for(agent).get(reverse("tickets:console_detail", args=[ticket.number]))
    html = page.content.decode()
    assert 'data-mention="marta.nowak">@marta.nowak</span>' in html
    assert 'data-mention="nobody"' not in html
    assert "not @nobody." in html


def test_colleague_autocomplete_is_staff_only_by_prefix_and_capped(
    agent, colleague, engineer, end_user, change_board, first_line
):
    # The factories' random first and last names could start with "Mar" or "Nowa" too:
    # everyone but Marta gets fixed names, so the order below depends on the rule alone.
    get_user_model().objects.exclude(pk=colleague.pk).update(first_name="Ola", last_name="Lis")
    for number in range(12):
        make_user(Role.AGENT, username=f"martin{number:02d}", first_name="Ola", last_name="Lis")
    url = reverse("tickets:colleague_search")
    found = client_for(agent).get(url, {"q": "mar"}).json()["results"]
    assert len(found) == 10
    assert found[0] == {"login": "marta.nowak", "name": "Marta Nowak"}
    by_last_name = client_for(agent).get(url, {"q": "Nowa"}).json()["results"]
    assert [row["login"] for row in by_last_name] == ["marta.nowak"]
    # End users and the change board (who work no ticket) are never offered.
    logins = {
        row["login"] for row in client_for(change_board).get(url, {"q": ""}).json()["results"]
    }
    assert end_user.username not in logins and change_board.username not in logins
    assert client_for(end_user).get(url, {"q": "mar"}).status_code == 403
    assert Client().get(url).status_code == 302


# --- the mail ------------------------------------------------------------------------------


def test_the_mentioned_colleague_gets_a_mail_without_the_notes_text(
    ticket,
    agent,
    colleague,
    engineer,
    django_capture_on_commit_callbacks,
    smtp,  # noqa: F811
    eager_celery,  # noqa: F811
):
    from mail.models import OutboundMessage

    with django_capture_on_commit_callbacks(execute=True):
        note(ticket, agent, "@marta.nowak the root password is SECRET-42")
    [mail] = smtp.to(colleague.email)
    subject = mail.message["Subject"]
    assert subject == f"[{ticket.number}] You were mentioned: VPN drops"
    text = mail.all_text()
    assert "mentioned you in a work note on ticket" in text
    assert ticket.number in text
    assert "SECRET-42" not in text
    assert not smtp.to(engineer.email) and not smtp.to(agent.email)
    assert OutboundMessage.objects.filter(kind=OutboundMessage.Kind.MENTIONED).count() == 1


# --- the console --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_mentioned_agents_console_gets_a_toast_and_others_nothing(first_line):
    author = make_user(Role.AGENT, username="author", first_name="Adam", last_name="Author")
    mentioned = make_user(Role.AGENT, username="marta", first_name="Marta", last_name="Nowak")
    bystander = make_user(Role.AGENT, username="bystander")
    for user in (author, mentioned, bystander):
        first_line.members.add(user)
    ticket = make_ticket(opened_by=author, group=first_line, title="Printer jams")

    async def connected(user):
        communicator = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/console/")
        communicator.scope["user"] = user
        ok, _code = await communicator.connect(timeout=3)
        assert ok
        assert (await communicator.receive_json_from(timeout=3))["type"] == "hello"
        return communicator

    async def scenario():
        marta = await connected(mentioned)
        other = await connected(bystander)
        await database_sync_to_async(note)(ticket, author, "@marta can you take this?")
        message = await marta.receive_json_from(timeout=3)
        assert message["type"] == "mention"
        assert message["text"] == f"{author.person.full_name} mentioned you in {ticket.number}"
        assert message["url"] == reverse("tickets:console_detail", args=[ticket.number])
        assert message["title"] == "Printer jams"
        assert await other.receive_nothing(timeout=0.3)
        await marta.disconnect()
        await other.disconnect()

    async_to_sync(scenario)()


# --- uploads --------------------------------------------------------------------------------


def test_upload_fields_say_the_allowed_types_and_size_before_the_input(
    settings, end_user, agent, ticket
):
    Person.objects.filter(pk=end_user.person.pk).update(language="en")
    settings.ATTACHMENT_MAX_BYTES = 3 * 1024 * 1024
    settings.ATTACHMENT_ALLOWED_TYPES = ["image/png", "application/pdf", "application/x-odd"]
    pages = [
        (client_for(end_user), reverse("tickets:create")),
        (client_for(end_user), reverse("tickets:detail", args=[ticket.number])),
        (client_for(agent), reverse("tickets:console_detail", args=[ticket.number])),
        (client_for(agent), reverse("tickets:console_create")),
    ]
    for client, url in pages:
        html = client.get(url).content.decode()
        hint = html.index('data-testid="upload-limits"')
        assert "3.0\xa0MB" in html[hint : hint + 600], url
        assert "Allowed types: PNG, PDF, application/x-odd." in html[hint : hint + 600], url
        file_input = html.index('type="file"')
        assert hint < file_input, url
        assert 'accept="image/png,.png,application/pdf,.pdf,application/x-odd"' in html, url


def test_admin_lists_and_edits_canned_replies(admin_user, first_line):
    reply("Hello {caller_name}", title="Greeting", group=first_line)
    client = client_for(admin_user)
    assert "Greeting" in client.get("/admin/tickets/cannedreply/").content.decode()
    page = client.get("/admin/tickets/cannedreply/add/").content.decode()
    assert "{caller_first_name}" in page


def test_demo_canned_replies_are_seeded_once_in_both_languages():
    from tickets.demo import canned

    assert canned.seed_canned_replies() == 6
    assert canned.seed_canned_replies() == 0
    assert set(CannedReply.objects.values_list("language", flat=True)) == {"en", "pl"}
    assert CannedReply.objects.filter(title="Password reset done", group=None).exists()
