"""The voice menu's announcement: GET /api/v1/ivr/announcement.

Polish texts the voice menu speaks (msgids for the lead to translate in
locale/pl/LC_MESSAGES/django.po):

- "We know about a problem: %(description)s" -> "Wiemy o problemie: %(description)s"
- "We expect it to be fixed by %(time)s." -> "Spodziewamy się usunięcia awarii do %(time)s."
- "Thank you for your patience." -> "Dziękujemy za cierpliwość."
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from helpdesk.models import Person
from tests.factories import PbxFactory, PhoneNumberFactory, ServiceFactory, SiteFactory
from tests.outages.factories import declare

pytestmark = pytest.mark.django_db

URL = "/api/v1/ivr/announcement"
NUMBER = "+48 22 555 01 01"


@pytest.fixture
def pbx():
    return PbxFactory()


@pytest.fixture
def vpn(first_line):
    return ServiceFactory(name="VPN", name_pl="Sieć VPN", owner_group=first_line)


@pytest.fixture
def waw():
    return SiteFactory(code="waw", name="Warszawa")


@pytest.fixture
def krk():
    return SiteFactory(code="krk", name="Kraków")


@pytest.fixture
def caller(waw):
    person = PhoneNumberFactory(raw=NUMBER, person__site=waw).person
    person.language = Person.Language.ENGLISH
    person.save(update_fields=["language"])
    return person


def ask(client, pbx, *, json_answer=False, **params):
    headers = {"HTTP_X_HELPDESK_TOKEN": pbx.token}
    if json_answer:
        headers["HTTP_ACCEPT"] = "application/json"
    return client.get(URL, params, **headers)


def test_the_url_is_the_documented_one():
    assert reverse("ivr-announcement") == URL


def test_a_missing_or_wrong_token_is_refused(client, pbx, agent, vpn):
    declare(agent, services_=[vpn])
    assert client.get(URL, {"from": NUMBER}).status_code == 401
    assert client.get(URL, {"from": NUMBER}, HTTP_X_HELPDESK_TOKEN="wrong").status_code == 401
    pbx.is_active = False
    pbx.save(update_fields=["is_active"])
    response = client.get(URL, {"from": NUMBER}, HTTP_X_HELPDESK_TOKEN=pbx.token)
    assert response.status_code == 401


def test_the_token_may_come_in_the_query_for_dial_plans(client, pbx, agent, vpn, caller):
    declare(agent, services_=[vpn])
    response = client.get(URL, {"from": NUMBER, "token": pbx.token})
    assert response.status_code == 200


def test_nothing_active_is_no_content(client, pbx, caller):
    response = ask(client, pbx, **{"from": NUMBER})
    assert response.status_code == 204
    assert response.content == b""


def test_an_affected_caller_hears_the_outage_in_english(client, pbx, agent, vpn, waw, caller):
    declare(agent, services_=[vpn], sites=[waw], description="The VPN gateway is down.")
    response = ask(client, pbx, **{"from": "0048225550101"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Language"] == "en"
    text = response.content.decode()
    assert text.startswith("We know about a problem: The VPN gateway is down. We expect it")
    assert text.endswith("Thank you for your patience.")


def test_a_caller_at_another_site_hears_nothing(client, pbx, agent, vpn, krk, caller):
    declare(agent, services_=[vpn], sites=[krk])
    assert ask(client, pbx, **{"from": NUMBER}).status_code == 204


def test_an_outage_of_every_site_affects_every_caller(client, pbx, agent, vpn, caller):
    declare(agent, services_=[vpn], sites=[])
    assert ask(client, pbx, **{"from": NUMBER}).status_code == 200


def test_the_service_chosen_narrows_the_announcement(client, pbx, agent, vpn, first_line, caller):
    other = ServiceFactory(name="Printing", owner_group=first_line)
    declare(agent, services_=[vpn])
    assert ask(client, pbx, **{"from": NUMBER, "service": str(other.pk)}).status_code == 204
    assert ask(client, pbx, **{"from": NUMBER, "service": "vpn"}).status_code == 200
    assert ask(client, pbx, **{"from": NUMBER, "service": str(vpn.pk)}).status_code == 200
    assert ask(client, pbx, **{"from": NUMBER, "service": "no such"}).status_code == 204


@pytest.mark.parametrize("number", ["+48 601 999 999", "anonymous", "", "not a number"])
def test_unknown_and_withheld_callers_hear_every_active_outage(
    client, pbx, agent, vpn, krk, number
):
    declare(agent, services_=[vpn], sites=[krk], description="Kraków VPN down")
    response = ask(client, pbx, **{"from": number})
    assert response.status_code == 200
    assert "Kraków VPN down" in response.content.decode()


@pytest.mark.parametrize("number", ["+48 601 999 999", "anonymous"])
def test_unknown_and_withheld_callers_hear_only_the_service_chosen(
    client, pbx, agent, vpn, first_line, number
):
    other = ServiceFactory(name="Printing", owner_group=first_line)
    declare(agent, services_=[vpn])
    assert ask(client, pbx, **{"from": number, "service": other.name}).status_code == 204
    assert ask(client, pbx, **{"from": number, "service": "VPN"}).status_code == 200


def test_unknown_callers_hear_the_site_default_language(client, pbx, agent, vpn, settings):
    declare(agent, services_=[vpn], description="Down", description_pl="Nie działa")
    response = ask(client, pbx, **{"from": "+48 601 999 999"})
    assert response["Content-Language"] == settings.LANGUAGE_CODE.split("-")[0]


def test_a_polish_caller_hears_the_polish_description(client, pbx, agent, vpn, caller):
    caller.language = Person.Language.POLISH
    caller.save(update_fields=["language"])
    declare(agent, services_=[vpn], description="Down in English", description_pl="Awaria VPN")
    response = ask(client, pbx, **{"from": NUMBER})
    assert response["Content-Language"] == "pl"
    text = response.content.decode()
    assert "Awaria VPN" in text
    assert "Down in English" not in text


def test_a_polish_caller_hears_polish_sentences(client, pbx, agent, vpn, caller):
    caller.language = Person.Language.POLISH
    caller.save(update_fields=["language"])
    declare(agent, services_=[vpn], description_pl="Awaria VPN", expected_end=None)
    with translation.override("pl"):
        opening = gettext("We know about a problem: %(description)s")
        closing = gettext("Thank you for your patience.")
    # The catalogue has them (not the English msgids) ...
    assert opening != "We know about a problem: %(description)s"
    assert closing != "Thank you for your patience."
    # ... and the caller hears them.
    text = ask(client, pbx, **{"from": NUMBER}).content.decode()
    assert text.startswith(opening % {"description": "Awaria VPN"})
    assert text.endswith(closing)


def test_json_answer_lists_the_outages_and_the_expected_end(client, pbx, agent, vpn, caller):
    end = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    first = declare(agent, services_=[vpn], expected_end=end)
    second = declare(agent, services_=[vpn], title="Second", expected_end=end - timedelta(hours=1))
    response = ask(client, pbx, json_answer=True, **{"from": NUMBER})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body["outages"]) == {first.pk, second.pk}
    assert body["language"] == "en"
    assert body["expected_end"] == end.isoformat()
    assert body["text"].count("We know about a problem") == 2


def test_a_parameter_over_its_bound_is_refused(client, pbx, agent, vpn):
    declare(agent, services_=[vpn])
    response = ask(client, pbx, **{"from": "1" * 65})
    assert response.status_code == 400
    assert json.loads(response.content)["field"] == "from"
    assert ask(client, pbx, **{"from": NUMBER, "service": "x" * 121}).status_code == 400


def test_only_get_is_answered(client, pbx):
    assert client.post(URL, HTTP_X_HELPDESK_TOKEN=pbx.token).status_code == 405


def test_a_change_is_heard_at_the_next_call(client, pbx, agent, vpn, caller):
    from outages import services

    outage = declare(agent, services_=[vpn], description="First text")
    assert "First text" in ask(client, pbx, **{"from": NUMBER}).content.decode()
    services.outage_update(outage=outage, by=agent, expected_end=None, description="New text")
    assert "New text" in ask(client, pbx, **{"from": NUMBER}).content.decode()
    services.outage_resolve(outage=outage, by=agent, notes="Done")
    assert ask(client, pbx, **{"from": NUMBER}).status_code == 204


def test_a_warm_announcement_takes_one_query(
    client, pbx, agent, vpn, caller, django_assert_max_num_queries
):
    declare(agent, services_=[vpn])
    ask(client, pbx, **{"from": NUMBER})  # the PBX and the active outages are read once
    with django_assert_max_num_queries(1):
        assert ask(client, pbx, **{"from": NUMBER}).status_code == 200
    with django_assert_max_num_queries(0):
        assert ask(client, pbx, **{"from": "anonymous"}).status_code == 200
