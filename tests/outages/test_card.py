"""The caller card: data from the voice menu travels with the ring and is shown and used;
the card of a caller whose site or service is affected shows the outage."""

from __future__ import annotations

import json

import pytest

from cti import notify
from cti.api import signature_for
from cti.models import Call
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    PbxFactory,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    SiteFactory,
    make_ticket,
    make_user,
)
from tests.outages.factories import declare

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
def vpn(first_line):
    return ServiceFactory(name="VPN", owner_group=first_line)


def ring(client, pbx, call_id="ivr-1", caller=CALLER, **extra):
    body = json.dumps(
        {"event": "ring", "call_id": call_id, "from": caller, "extension": "201", **extra}
    ).encode()
    response = client.post(
        f"/cti/webhook/{pbx.pk}/",
        body,
        content_type="application/json",
        HTTP_X_HELPDESK_SIGNATURE=signature_for(pbx.secret, body),
    )
    assert response.status_code == 200, response.content
    return Call.objects.get(pbx=pbx, call_id=call_id)


def card_html(call: Call) -> str:
    return notify.render_card(notify.load_card(call.pk))


def test_voice_menu_data_is_stored_on_the_call_and_shown(client, pbx, alice):
    PhoneNumberFactory(raw=CALLER)
    call = ring(client, pbx, ivr_option="2", ivr_service="VPN", ivr_employee="")
    assert (call.ivr_option, call.ivr_service, call.ivr_ticket) == ("2", "VPN", "")
    html = card_html(call)
    assert "Voice menu" in html
    assert "option 2" in html
    assert "service VPN" in html


def test_voice_menu_data_also_comes_as_an_ivr_object_and_from_zammad(client, pbx, alice):
    call = ring(client, pbx, ivr={"option": "3", "ticket": "42"})
    assert (call.ivr_option, call.ivr_ticket) == ("3", "42")
    response = client.post(
        f"/api/v1/cti/{pbx.token}",
        {
            "event": "newCall",
            "direction": "in",
            "from": "+48 22 555 09 09",
            "to": "100",
            "callId": "zammad-1",
            "user[]": "alice",
            "ivr_option": "1",
        },
    )
    assert response.status_code == 200
    assert Call.objects.get(call_id="zammad-1").ivr_option == "1"


@pytest.mark.parametrize(
    "extra",
    [
        {"ivr_option": "1" * 17},
        {"ivr_ticket": "<script>"},
        {"ivr_employee": ["1"]},
        {"ivr_service": "x" * 41},
        {"ivr_option": True},
    ],
)
def test_voice_menu_data_over_its_bounds_is_dropped(client, pbx, alice, extra):
    call = ring(client, pbx, **extra)
    assert (call.ivr_option, call.ivr_ticket, call.ivr_employee, call.ivr_service) == (
        "",
        "",
        "",
        "",
    )


def test_a_typed_ticket_number_opens_that_ticket_first_on_the_card(client, pbx, alice):
    person = PhoneNumberFactory(raw=CALLER).person
    typed = make_ticket(caller=person, title="Laptop does not boot")
    make_ticket(caller=person, title="Newer ticket")
    digits = str(int(typed.number.split("-")[1]))
    call = ring(client, pbx, ivr_ticket=digits)
    card = notify.load_card(call.pk)
    assert card.ivr_ticket.number == typed.number
    html = notify.render_card(card)
    assert "The ticket the caller typed" in html
    assert html.index("Laptop does not boot") < html.index("Newer ticket")


def test_a_typed_number_of_someone_elses_ticket_is_not_shown_for_a_known_caller(client, pbx, alice):
    PhoneNumberFactory(raw=CALLER)
    stranger = make_ticket(caller=PersonFactory(), title="Somebody else's secret")
    call = ring(client, pbx, ivr_ticket=stranger.number)
    card = notify.load_card(call.pk)
    assert card.ivr_ticket is None
    html = notify.render_card(card)
    assert "Somebody else" not in html
    assert "No ticket of this caller has the number typed." in html


def test_an_unknown_callers_typed_ticket_is_shown(client, pbx, alice):
    ticket = make_ticket(caller=PersonFactory(), title="Printer on fire")
    call = ring(client, pbx, caller="+48 601 999 999", ivr_ticket=ticket.number.lower())
    assert "Printer on fire" in card_html(call)


def test_a_typed_employee_number_identifies_an_unknown_caller(client, pbx, alice):
    person = PersonFactory(full_name="Ewa Kowalska", department="Finance")
    ticket = make_ticket(caller=person, title="Invoice export fails")
    call = ring(client, pbx, caller="+48 601 999 999", ivr_employee=str(person.pk))
    assert call.caller_person_id == person.pk
    assert call.identification == Call.Identification.IVR
    html = card_html(call)
    assert "Ewa Kowalska" in html
    assert "Invoice export fails" in html
    assert ticket.number in html


def test_a_typed_employee_number_does_not_override_the_number(client, pbx, alice):
    owner = PhoneNumberFactory(raw=CALLER).person
    other = PersonFactory()
    call = ring(client, pbx, ivr_employee=str(other.pk))
    assert call.caller_person_id == owner.pk
    assert call.identification == Call.Identification.EXACT


def test_a_withheld_caller_is_identified_by_the_employee_number(client, pbx, alice):
    person = PersonFactory()
    call = ring(client, pbx, caller="anonymous", ivr_employee=str(person.pk))
    assert call.caller_person_id == person.pk
    inactive = PersonFactory(is_active=False)
    call = ring(client, pbx, call_id="ivr-2", caller="anonymous", ivr_employee=str(inactive.pk))
    assert call.caller_person_id is None


def test_ring_pushes_the_typed_ticket(client, pbx, alice, django_capture_on_commit_callbacks):
    person = PhoneNumberFactory(raw=CALLER).person
    typed = make_ticket(caller=person, title="Typed on the keypad")
    pushed = []
    original = notify._push
    notify._push = lambda card, **kwargs: pushed.append(notify.render_card(card))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ring(client, pbx, ivr_ticket=typed.number)
    finally:
        notify._push = original
    [html] = pushed
    assert "The ticket the caller typed" in html


# --- outages on the card -------------------------------------------------------------------


def test_card_of_a_caller_at_an_affected_site_shows_the_outage(client, pbx, alice, agent, vpn):
    waw = SiteFactory(code="waw")
    PhoneNumberFactory(raw=CALLER, person__site=waw)
    declare(agent, services_=[vpn], sites=[waw], title="Warsaw VPN degraded")
    html = card_html(ring(client, pbx))
    assert "Outage" in html
    assert "Warsaw VPN degraded" in html


def test_card_of_a_caller_elsewhere_shows_no_outage(client, pbx, alice, agent, vpn):
    PhoneNumberFactory(raw=CALLER, person__site=SiteFactory(code="krk"))
    declare(agent, services_=[vpn], sites=[SiteFactory(code="waw")], title="Warsaw VPN")
    assert "Warsaw VPN" not in card_html(ring(client, pbx))


def test_card_shows_the_outage_of_the_service_of_a_recent_ticket(client, pbx, alice, agent, vpn):
    person = PhoneNumberFactory(raw=CALLER, person__site=SiteFactory(code="krk")).person
    make_ticket(caller=person, service=vpn)
    declare(agent, services_=[vpn], sites=[SiteFactory(code="waw")], title="Warsaw VPN")
    assert "Warsaw VPN" in card_html(ring(client, pbx))


def test_card_shows_the_outage_of_the_service_chosen_in_the_menu(client, pbx, alice, agent, vpn):
    declare(agent, services_=[vpn], sites=[SiteFactory(code="waw")], title="Warsaw VPN")
    assert "Warsaw VPN" not in card_html(ring(client, pbx, caller="+48 601 999 999"))
    call = ring(client, pbx, call_id="ivr-2", caller="+48 601 999 998", ivr_service="VPN")
    assert "Warsaw VPN" in card_html(call)


def test_card_without_active_outages_reads_nothing_more(
    client, pbx, alice, django_assert_num_queries
):
    PhoneNumberFactory(raw=CALLER)
    card = notify.load_card(ring(client, pbx).pk)
    notify.render_card(card)  # the active outages are read once per process
    card = notify.load_card(Call.objects.get().pk)
    with django_assert_num_queries(0):
        notify.render_card(card)
