"""Console pages of telephony: the call log and the caller card's actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cti import ami
from cti.models import Call, Pbx
from helpdesk.models import PhoneNumber
from tests.factories import (
    AgentExtensionFactory,
    CallQueueFactory,
    PbxFactory,
    PersonFactory,
    PhoneNumberFactory,
    make_ticket,
)
from tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db

CALLER = "+48 22 555 01 01"


def make_call(*, person=None, outcome=Call.Outcome.ANSWERED, agent=None, number=CALLER, **kw):
    started = kw.pop("started_at", timezone.now() - timedelta(minutes=10))
    answered = started + timedelta(seconds=12) if outcome == Call.Outcome.ANSWERED else None
    call = Call.objects.create(
        pbx=kw.pop("pbx", None),
        call_id=kw.pop("call_id", f"c-{Call.objects.count()}-{number}"),
        caller_number=number,
        caller_e164=number.replace(" ", ""),
        caller_person=person,
        state=kw.pop("state", Call.State.ENDED),
        outcome=outcome,
        answered_by=agent if outcome == Call.Outcome.ANSWERED else None,
        started_at=started,
        answered_at=answered,
        ended_at=started + timedelta(seconds=100),
        **kw,
    )
    return call


@pytest.fixture
def signed_in(client, agent):
    client.force_login(agent)
    return client


# --- call log -------------------------------------------------------------------------


def test_call_log_is_for_staff_only(client, end_user):
    url = reverse("cti:call_log")
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(end_user)
    assert client.get(url).status_code == 403


def test_call_log_shows_caller_agent_queue_times_outcome_and_linked_tickets(signed_in, agent):
    person = PersonFactory(full_name="Anna Nowak")
    queue = CallQueueFactory(name="Service desk line", code="sd")
    call = make_call(person=person, agent=agent, queue=queue)
    ticket = make_ticket(caller=person)
    call.tickets.add(ticket)
    make_call(outcome=Call.Outcome.MISSED, number="+48 22 555 09 09")

    response = signed_in.get(reverse("cti:call_log"))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Anna Nowak" in text
    assert "Service desk line" in text
    assert ticket.number in text
    assert "0:12" in text  # wait
    assert "1:28" in text  # talk
    assert "Missed" in text
    assert 'href="tel:+48225550909"' in text


def test_call_log_query_count_does_not_grow_with_rows(
    signed_in, agent, django_assert_max_num_queries
):
    def add_calls(count):
        for _ in range(count):
            person = PersonFactory()
            call = make_call(person=person, agent=agent, queue=CallQueueFactory())
            call.tickets.add(make_ticket(caller=person))

    add_calls(2)
    with django_assert_max_num_queries(14) as small:
        assert signed_in.get(reverse("cti:call_log")).status_code == 200
    add_calls(20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = signed_in.get(reverse("cti:call_log"))
    assert len(response.context["calls"]) == 22


def test_call_log_filters_missed_calls_not_handled(signed_in, agent):
    answered = make_call(person=PersonFactory(full_name="Answered Caller"), agent=agent)
    missed = make_call(outcome=Call.Outcome.MISSED, number="+48 22 555 07 07")
    handled = make_call(outcome=Call.Outcome.MISSED, number="+48 22 555 08 08")
    handled.missed_handled_at = timezone.now()
    handled.save()

    response = signed_in.get(reverse("cti:call_log"), {"unhandled": "on"})

    ids = {call.pk for call in response.context["calls"]}
    assert ids == {missed.pk}
    assert answered.pk not in ids


def test_call_log_filters_by_number_in_any_format(signed_in, agent):
    wanted = make_call(number="+48 22 555 07 07")
    make_call(number="+48 22 555 08 08")
    response = signed_in.get(reverse("cti:call_log"), {"number": "0048 (22) 555-07-07"})
    assert [call.pk for call in response.context["calls"]] == [wanted.pk]


def test_missed_calls_are_marked_handled_one_by_one_and_in_bulk(signed_in, agent):
    first, second, third = (
        make_call(outcome=Call.Outcome.MISSED, number=f"+48 22 555 07 0{n}") for n in range(3)
    )
    answered = make_call(agent=agent)
    url = reverse("cti:missed_handled")

    signed_in.post(url, {"calls": [first.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.missed_handled_by == agent
    assert second.missed_handled_at is None

    signed_in.post(url, {"calls": [second.pk, third.pk, answered.pk]})
    assert Call.objects.filter(missed_handled_by=agent).count() == 3
    answered.refresh_from_db()
    assert answered.missed_handled_at is None  # only missed calls are marked


def test_end_user_cannot_mark_missed_calls(client, end_user):
    call = make_call(outcome=Call.Outcome.MISSED)
    client.force_login(end_user)
    assert client.post(reverse("cti:missed_handled"), {"calls": [call.pk]}).status_code == 403
    call.refresh_from_db()
    assert call.missed_handled_at is None


def test_click_to_dial_originates_from_the_agents_extension(signed_in, agent, monkeypatch):
    pbx = PbxFactory(kind=Pbx.Kind.ASTERISK, ami_host="127.0.0.1")
    AgentExtensionFactory(user=agent, extension="201", pbx=pbx)
    call = make_call(outcome=Call.Outcome.MISSED, pbx=pbx)
    originated = []
    monkeypatch.setattr(ami, "originate", lambda **kwargs: originated.append(kwargs))

    page = signed_in.get(reverse("cti:call_log")).content.decode()
    assert reverse("cti:call_dial", args=[call.pk]) in page
    response = signed_in.post(reverse("cti:call_dial", args=[call.pk]))

    assert response.status_code == 302
    assert originated == [{"pbx": pbx, "extension": "201", "number": "+48225550101"}]


def test_click_to_dial_is_refused_without_ami(signed_in, agent, monkeypatch):
    AgentExtensionFactory(user=agent, extension="201")
    call = make_call(outcome=Call.Outcome.MISSED, pbx=PbxFactory())
    monkeypatch.setattr(ami, "originate", lambda **kwargs: pytest.fail("must not dial"))
    assert (
        reverse("cti:call_dial", args=[call.pk])
        not in signed_in.get(reverse("cti:call_log")).content.decode()
    )
    signed_in.post(reverse("cti:call_dial", args=[call.pk]))


# --- card actions ---------------------------------------------------------------------


def test_create_ticket_from_the_card_opens_a_phone_ticket_linked_to_the_call(signed_in, agent):
    person = PhoneNumberFactory(raw=CALLER).person
    call = make_call(person=person, state=Call.State.RINGING, outcome="")

    response = signed_in.post(
        reverse("cti:call_ticket_create", args=[call.pk]), {"title": "Outlook crashes"}
    )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response.url == ticket.get_absolute_url()
    assert ticket.title == "Outlook crashes"
    assert ticket.caller == person
    assert ticket.channel == Channel.PHONE
    assert ticket.opened_by == agent
    assert list(call.tickets.all()) == [ticket]


def test_create_ticket_with_empty_title_uses_the_callers_name(signed_in):
    person = PersonFactory(full_name="Jan Kowalski")
    call = make_call(person=person)
    signed_in.post(reverse("cti:call_ticket_create", args=[call.pk]), {"title": ""})
    assert Ticket.objects.get().title == "Phone call from Jan Kowalski"


def test_create_ticket_for_one_of_several_candidates(signed_in):
    first, second = PersonFactory(), PersonFactory()
    call = make_call()
    call.candidate_people.set([first, second])
    signed_in.post(
        reverse("cti:call_ticket_create", args=[call.pk]), {"title": "x", "caller": second.pk}
    )
    call.refresh_from_db()
    assert Ticket.objects.get().caller == second
    assert call.caller_person == second


def test_create_ticket_for_a_person_not_among_the_candidates_is_refused(signed_in):
    call = make_call()
    call.candidate_people.set([PersonFactory()])
    response = signed_in.post(
        reverse("cti:call_ticket_create", args=[call.pk]),
        {"title": "x", "caller": PersonFactory().pk},
    )
    assert response.status_code == 404
    assert not Ticket.objects.exists()


def test_end_user_cannot_create_a_ticket_from_a_call(client, end_user):
    call = make_call(person=PersonFactory())
    client.force_login(end_user)
    response = client.post(reverse("cti:call_ticket_create", args=[call.pk]), {"title": "x"})
    assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_add_call_to_an_existing_ticket(signed_in):
    person = PersonFactory()
    ticket = make_ticket(caller=person)
    call = make_call(person=person)
    signed_in.post(
        reverse("cti:call_ticket_link", args=[call.pk]), {"number": ticket.number.lower()}
    )
    assert list(ticket.calls.all()) == [call]


def test_add_call_to_unknown_ticket_changes_nothing(signed_in):
    call = make_call(person=PersonFactory())
    signed_in.post(reverse("cti:call_ticket_link", args=[call.pk]), {"number": "INC-999999"})
    assert not call.tickets.exists()


def test_create_person_for_an_unknown_caller_stores_the_number(signed_in):
    call = make_call()
    signed_in.post(
        reverse("cti:call_person_create", args=[call.pk]),
        {"full_name": "Ewa Zielińska", "department": "Sales"},
    )
    call.refresh_from_db()
    assert call.caller_person.full_name == "Ewa Zielińska"
    assert call.caller_person.department == "Sales"
    assert call.caller_person.phone_numbers.get().e164 == "+48225550101"


def test_attach_number_to_an_existing_person(signed_in):
    person = PersonFactory(email="ewa@example.com")
    call = make_call()
    signed_in.post(reverse("cti:call_number_attach", args=[call.pk]), {"person": "EWA@example.com"})
    call.refresh_from_db()
    assert call.caller_person == person
    assert PhoneNumber.objects.filter(person=person, e164="+48225550101").exists()


def test_attach_number_finds_the_person_by_name_and_asks_when_several_match(signed_in):
    ewa = PersonFactory(full_name="Ewa Zielińska", email="ewa.z@example.com")
    PersonFactory(full_name="Ewa Zielińska-Nowak", email="ewa.zn@example.com")
    PersonFactory(full_name="Ewa Kowal", email="ewa.k@example.com", is_active=False)
    call = make_call()
    url = reverse("cti:call_number_attach", args=[call.pk])
    # Part of a name that two people share: nothing is attached, both are named.
    response = signed_in.post(url, {"person": "zielińska"}, follow=True)
    call.refresh_from_db()
    assert call.caller_person is None
    text = " ".join(str(message) for message in response.context["messages"])
    assert "ewa.z@example.com" in text and "ewa.zn@example.com" in text
    # The exact full name picks one of them.
    signed_in.post(url, {"person": "ewa zielińska"})
    call.refresh_from_db()
    assert call.caller_person == ewa
    # Nobody (an inactive person does not count).
    other = make_call(call_id="other")
    response = signed_in.post(
        reverse("cti:call_number_attach", args=[other.pk]), {"person": "Kowal"}, follow=True
    )
    other.refresh_from_db()
    assert other.caller_person is None
    assert "Nobody in the directory" in " ".join(map(str, response.context["messages"]))


def test_pick_the_caller_among_candidates(signed_in):
    first, second = PersonFactory(), PersonFactory()
    call = make_call()
    call.candidate_people.set([first, second])
    signed_in.post(reverse("cti:call_caller_set", args=[call.pk]), {"person": first.pk})
    call.refresh_from_db()
    assert call.caller_person == first


def test_card_page_renders_the_callers_open_tickets(signed_in):
    person = PersonFactory(full_name="Anna Nowak", is_vip=True)
    ticket = make_ticket(caller=person, title="Laptop battery")
    call = make_call(person=person, state=Call.State.RINGING, outcome="")
    text = signed_in.get(reverse("cti:call_card", args=[call.pk])).content.decode()
    assert "Anna Nowak" in text
    assert "VIP" in text
    assert ticket.number in text
    assert "Laptop battery" in text


def test_console_widget_is_rendered_on_console_pages_for_agents(signed_in):
    text = signed_in.get(reverse("cti:call_log")).content.decode()
    assert 'id="cti-console"' in text
    assert "cti/console.js" in text


def test_ticket_page_lists_the_calls_linked_to_it(signed_in, agent):
    person = PersonFactory()
    ticket = make_ticket(caller=person)
    call = make_call(person=person, agent=agent)
    call.tickets.add(ticket)
    text = signed_in.get(ticket.get_absolute_url(), follow=True).content.decode()
    assert "cti-ticket-calls" in text
    assert "Answered" in text


def test_ticket_page_without_calls_has_no_calls_section(signed_in):
    ticket = make_ticket(caller=PersonFactory())
    assert (
        "cti-ticket-calls"
        not in signed_in.get(ticket.get_absolute_url(), follow=True).content.decode()
    )


def test_agent_searches_among_all_people_sharing_the_number_and_picks_the_caller(signed_in):
    people = [
        PhoneNumberFactory(raw=CALLER, person__full_name=f"Switchboard {index:02}").person
        for index in range(12)
    ]
    PersonFactory(full_name="Switchboard 99")  # has not the number
    call = make_call(outcome=Call.Outcome.NONE, state=Call.State.RINGING)
    call.candidate_people.set(people[:10])
    url = reverse("cti:call_candidates", args=[call.pk])
    response = signed_in.get(url, {"q": "switchboard 11"})
    assert response.status_code == 200
    assert "Switchboard 11" in response.text
    assert "Switchboard 99" not in response.text and "Switchboard 10" not in response.text
    # Not among the ten candidates on the card, but has the number: may be the caller.
    signed_in.post(reverse("cti:call_caller_set", args=[call.pk]), {"person": people[11].pk})
    call.refresh_from_db()
    assert call.caller_person == people[11]


def test_end_user_cannot_search_a_calls_candidates(client, end_user):
    call = make_call()
    client.force_login(end_user)
    response = client.get(reverse("cti:call_candidates", args=[call.pk]), {"q": "x"})
    assert response.status_code in (403, 404)
