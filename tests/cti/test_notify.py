"""notify.call_changed: what each console receives, pushed through the real channel layer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.urls import reverse
from django.utils import timezone

from cti import notify, services
from cti.models import Call, CallEvent
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    PbxFactory,
    PersonFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CALLER = "+48 22 555 01 01"


@pytest.fixture
def pbx():
    return PbxFactory()


@pytest.fixture
def alice(first_line):
    user = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=user, extension="201")
    return user


@pytest.fixture
def bob(first_line):
    user = make_user(Role.AGENT, username="bob")
    AgentExtensionFactory(user=user, extension="202")
    return user


def pushed(users, action) -> dict[int, list[dict]]:
    """Run ``action`` and collect what each user's group received through the channel layer.

    One event loop for subscribing, acting and draining: the Redis pub/sub layer keeps one
    connection per loop. ``action`` runs in this (the test's) thread, so it sees the test's
    transaction; ``notify`` reaches the loop through ``async_to_sync``.
    """

    async def scenario():
        layer = get_channel_layer()
        channels = {}
        for user in users:
            channels[user.pk] = await layer.new_channel()
            await layer.group_add(notify.agent_group(user.pk), channels[user.pk])
        await sync_to_async(action)()
        received = {}
        for user_id, channel in channels.items():
            received[user_id] = []
            while True:
                try:
                    received[user_id].append(await asyncio.wait_for(layer.receive(channel), 0.2))
                except TimeoutError:
                    break
        for user in users:
            await layer.group_discard(notify.agent_group(user.pk), channels[user.pk])
        return received

    return async_to_sync(scenario)()


def ingest(pbx, kind, call_id="call-1", **kwargs):
    kwargs.setdefault("caller", CALLER)
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind=kind, call_id=call_id, **kwargs),
    )


def test_ring_pushes_one_screen_pop_with_the_callers_context(
    pbx, alice, bob, django_capture_on_commit_callbacks
):
    person = PhoneNumberFactory(raw=CALLER, person__department="Finance").person
    open_ticket = make_ticket(caller=person, title="Printer jam")

    def ring():
        with django_capture_on_commit_callbacks(execute=True):
            ingest(pbx, "ring", extensions=["201"])

    received = pushed([alice, bob], ring)
    [message] = received[alice.pk]
    assert message["type"] == "cti.screen_pop"
    assert message["call"]["caller"] == person.full_name
    assert message["call"]["number"] == "+48 22 555 01 01"
    html = message["html"]
    assert "Finance" in html
    assert person.site.name in html
    assert open_ticket.number in html
    assert received[bob.pk] == []


def test_unknown_caller_card_offers_create_person_and_attach_number(pbx, alice):
    ingest(pbx, "ring", caller="+48 601 000 000", extensions=["201"])
    card = notify.load_card(Call.objects.get().pk)
    html = notify.render_card(card)
    assert "Unknown caller" in html
    assert "Create person" in html
    assert "Attach this number to a person" in html
    assert "Create ticket" not in html  # a ticket needs a caller first


def test_several_matches_show_every_candidate(pbx, alice):
    first = PhoneNumberFactory(raw=CALLER, person__full_name="Anna Nowak").person
    second = PhoneNumberFactory(raw=CALLER, person__full_name="Adam Nowak").person
    ingest(pbx, "ring", extensions=["201"])
    html = notify.render_card(notify.load_card(Call.objects.get().pk))
    assert first.full_name in html
    assert second.full_name in html
    assert "This is the caller" in html


def test_card_lists_earlier_calls_of_the_number_and_last_ten_tickets(pbx, alice):
    person = PhoneNumberFactory(raw=CALLER).person
    for number in range(12):
        make_ticket(caller=person, title=f"Old problem {number}")
    ingest(pbx, "ring", call_id="earlier", extensions=["201"])
    ingest(pbx, "hangup", call_id="earlier", cause="cancel")
    ingest(pbx, "ring", call_id="now", extensions=["201"])
    card = notify.load_card(Call.objects.get(call_id="now").pk)
    assert [call.call_id for call in card.last_calls] == ["earlier"]
    assert len(card.recent_tickets) == 10
    assert "Last calls from this number (1)" in notify.render_card(card)


def test_loading_a_card_takes_the_same_queries_for_a_long_history(
    pbx, alice, django_assert_num_queries
):
    person = PhoneNumberFactory(raw=CALLER).person
    make_ticket(caller=person)
    ingest(pbx, "ring", call_id="a", extensions=["201"])
    # The call lookup here, then the call, offered agents, tickets, last calls, linked tickets.
    with django_assert_num_queries(6) as few:
        notify.load_card(Call.objects.get(call_id="a").pk)
    for number in range(15):
        make_ticket(caller=person, title=f"Problem {number}")
        ingest(pbx, "ring", call_id=f"old-{number}", extensions=["201"])
    with django_assert_num_queries(len(few.captured_queries)):
        notify.load_card(Call.objects.get(call_id="a").pk)
    # A call created by the event being pushed has no linked tickets: one query less.
    with django_assert_num_queries(len(few.captured_queries) - 1):
        notify.load_card(Call.objects.get(call_id="a").pk, fresh=True)


def test_card_of_a_caller_with_a_long_history_still_lists_old_open_tickets(pbx, alice):
    person = PhoneNumberFactory(raw=CALLER).person
    old_open = make_ticket(caller=person, title="Old but still open")
    newer = [
        make_ticket(caller=person, title=f"Closed {number}")
        for number in range(notify.HISTORY_WINDOW + 2)
    ]
    Ticket.objects.filter(pk__in=[ticket.pk for ticket in newer]).update(status="closed")
    Ticket.objects.filter(pk=old_open.pk).update(created_at=timezone.now() - timedelta(days=30))
    ingest(pbx, "ring", extensions=["201"])
    card = notify.load_card(Call.objects.get().pk)
    assert [ticket.pk for ticket in card.open_tickets] == [old_open.pk]
    assert len(card.recent_tickets) == notify.RECENT_TICKETS
    assert old_open.pk not in [ticket.pk for ticket in card.recent_tickets]


def test_card_of_a_caller_with_a_short_history_splits_open_and_last_tickets(pbx, alice):
    person = PhoneNumberFactory(raw=CALLER).person
    tickets = [make_ticket(caller=person, title=f"Problem {number}") for number in range(4)]
    Ticket.objects.filter(pk__in=[tickets[0].pk, tickets[2].pk]).update(status="closed")
    ingest(pbx, "ring", extensions=["201"])
    card = notify.load_card(Call.objects.get().pk)
    assert {ticket.pk for ticket in card.open_tickets} == {tickets[1].pk, tickets[3].pk}
    assert {ticket.pk for ticket in card.recent_tickets} == {ticket.pk for ticket in tickets}


def test_after_answer_only_the_answering_agent_keeps_the_card(
    pbx, alice, bob, django_capture_on_commit_callbacks
):
    PhoneNumberFactory(raw=CALLER)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(pbx, "ring", extensions=["201", "202"])

    def answer():
        with django_capture_on_commit_callbacks(execute=True):
            ingest(pbx, "answer", answering="201")

    received = pushed([alice, bob], answer)
    to_alice, to_bob = received[alice.pk], received[bob.pk]
    assert [m["type"] for m in to_alice] == ["cti.call_update", "cti.presence"]
    assert to_alice[0]["action"] == "show"
    assert to_alice[0]["call"]["state"] == "answered"
    assert to_alice[1]["state"] == "busy"
    assert [(m["type"], m["action"]) for m in to_bob] == [("cti.call_update", "close")]


def test_card_is_rendered_in_each_agents_language(pbx, alice, bob):
    alice.person.language = "pl"
    alice.person.save()
    bob.person.language = "en"
    bob.person.save()
    ingest(pbx, "ring", caller="+48 601 000 000", extensions=["201", "202"])
    messages = notify.messages_for(notify.load_card(Call.objects.get().pk))
    assert "Unknown caller" in messages[bob.pk]["html"]
    assert "Nieznany dzwoniący" in messages[alice.pk]["html"]


def test_call_changed_for_a_deleted_call_does_nothing(alice):
    assert pushed([alice], lambda: notify.call_changed(999999)) == {alice.pk: []}


def test_linking_a_ticket_refreshes_the_card(pbx, alice, django_capture_on_commit_callbacks):
    from cti import console_services

    person = PersonFactory()
    PhoneNumberFactory(raw=CALLER, person=person)
    ingest(pbx, "ring", extensions=["201"])
    call = Call.objects.get()
    ticket = make_ticket(caller=person)

    def link():
        with django_capture_on_commit_callbacks(execute=True):
            console_services.call_ticket_link(call=call, by=alice, ticket=ticket)

    [message] = pushed([alice], link)[alice.pk]
    assert "Linked to this call" in message["html"]
    assert ticket.number in message["html"]


def test_card_links_point_where_reverse_would(pbx, alice):
    person = PhoneNumberFactory(raw=CALLER).person
    ticket = make_ticket(caller=person)
    ingest(pbx, "ring", extensions=["201"])
    call = Call.objects.get()
    html = notify.render_card(notify.load_card(call.pk))
    assert f'href="{ticket.get_absolute_url()}"' in html
    for name in ("ticket_create", "ticket_link"):
        assert f'action="{reverse(f"cti:call_{name}", args=[call.pk])}"' in html
    assert notify.ticket_url("INC 1&é") == reverse("tickets:detail", args=["INC 1&é"])


def test_card_names_the_agent_who_answered_an_earlier_call(pbx, alice, bob):
    PhoneNumberFactory(raw=CALLER)
    alice.first_name, alice.last_name = "Alice", "Nowak"
    alice.save()
    ingest(pbx, "ring", call_id="by-alice", extensions=["201"])
    ingest(pbx, "answer", call_id="by-alice", answering="201")
    ingest(pbx, "hangup", call_id="by-alice", cause="normalClearing")
    ingest(pbx, "ring", call_id="unanswered", extensions=["201"])
    ingest(pbx, "hangup", call_id="unanswered", cause="cancel")
    ingest(pbx, "ring", call_id="now", extensions=["201"])
    card = notify.load_card(Call.objects.get(call_id="now").pk)
    names = {earlier.call_id: earlier.agent_name for earlier in card.last_calls}
    assert names == {"by-alice": "Alice Nowak", "unanswered": ""}
    html = notify.render_card(card)
    assert "· Alice Nowak" in html


def test_ring_push_uses_the_offers_and_languages_the_ring_just_made(
    pbx, alice, bob, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice.person.language = "pl"
    alice.person.save()
    bob.person.language = "en"
    bob.person.save()
    pushes = []

    def ring():
        with django_capture_on_commit_callbacks() as callbacks:
            ingest(pbx, "ring", caller="+48 601 000 000", extensions=["201", "202"])
        with CaptureQueriesContext(connection) as push:
            for callback in callbacks:
                callback()
        pushes.extend(query["sql"] for query in push.captured_queries)

    received = pushed([alice, bob], ring)
    # The offers were read by the ring itself: the push reads neither them nor linked tickets.
    assert not [sql for sql in pushes if "cti_call_offered_to" in sql or "cti_call_tickets" in sql]
    assert "Nieznany dzwoniący" in received[alice.pk][0]["html"]
    assert "Unknown caller" in received[bob.pk][0]["html"]


def test_card_escapes_what_people_typed(pbx, alice):
    person = PhoneNumberFactory(
        raw=CALLER, person__full_name="<script>alert(1)</script>", person__department='R&D "1"'
    ).person
    make_ticket(caller=person, title="<img src=x onerror=alert(2)>")
    ingest(pbx, "ring", extensions=["201"])
    html = notify.render_card(notify.load_card(Call.objects.get().pk))
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "R&amp;D &#34;1&#34;" in html


def test_ended_card_in_polish_shows_outcome_and_local_dates(pbx, alice, settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    person = PhoneNumberFactory(raw=CALLER, person__full_name="Ewa Kot").person
    ticket = make_ticket(caller=person, title="Drukarka")
    Ticket.objects.filter(pk=ticket.pk).update(created_at=datetime(2026, 3, 5, 23, 30, tzinfo=UTC))
    ingest(pbx, "ring", call_id="missed", extensions=["201"])
    ingest(pbx, "hangup", call_id="missed", cause="noAnswer")
    html = notify.render_card(notify.load_card(Call.objects.get().pk), language="pl")
    assert "Połączenie zakończone: Nieodebrane" in html
    assert "Ostatnie zgłoszenia (1)" in html
    assert "06-03-2026" in html  # 23:30 UTC is the next day in Warsaw; Polish date format
    assert "Ringing" not in html and "Missed" not in html


def test_a_number_shared_by_more_than_ten_people_says_how_many_more(pbx, alice):
    for index in range(13):
        PhoneNumberFactory(raw=CALLER, person__full_name=f"Switchboard {index:02}")
    call = ingest(pbx, "ring", extensions=["201"]).call
    assert call.identification == Call.Identification.SEVERAL
    assert call.candidates_total == 13
    card = notify.load_card(call.pk)
    assert len(card.candidates) == 10
    html = notify.render_card(card)
    assert "and 3 more" in html
    assert reverse("cti:call_candidates", args=[call.pk]) in html


def test_the_pushed_card_of_a_shared_number_says_how_many_more(
    pbx, alice, django_capture_on_commit_callbacks
):
    for index in range(12):
        PhoneNumberFactory(raw=CALLER, person__full_name=f"Switchboard {index:02}")

    def ring():
        with django_capture_on_commit_callbacks(execute=True):
            ingest(pbx, "ring", extensions=["201"])

    received = pushed([alice], ring)
    [pop] = received[alice.pk]
    assert "and 2 more" in pop["html"]
