"""Who is calling: the caller number in every form the PBX may send it."""

import pytest

from cti import services
from cti.models import Call, CallEvent
from helpdesk.models import PhoneNumber
from tests.factories import PbxFactory, PersonFactory, PhoneNumberFactory, make_ticket

pytestmark = pytest.mark.django_db


def ring(caller, call_id="c1", pbx=None):
    return services.call_event_ingest(
        pbx=pbx,
        source=CallEvent.Source.ZAMMAD,
        event=services.PbxEvent(kind="ring", call_id=call_id, caller=caller, called="100"),
    ).call


@pytest.mark.parametrize(
    "caller",
    [
        "+48221234567",
        "+48 22 123 45 67",
        "0048 22 123 45 67",
        "0048221234567",
        "22 123 45 67",
        "221234567",
        "22-123-45-67",
        "22/123 45 67",
        "(22) 123-45-67",
        "+48 (22) 123 45 67",
        " +48.22.123.45.67 ",
        "+48 22 123 45 67 ext. 12",
        "(0-22) 123 45 67",
    ],
)
def test_every_written_form_of_a_desk_number_finds_its_owner(caller):
    owner = PhoneNumberFactory(raw="+48 22 123 45 67").person
    call = ring(caller)
    assert call.caller_e164 == "+48221234567"
    assert call.caller_person == owner
    assert call.identification == Call.Identification.EXACT
    assert call.caller_number == caller.strip()


def test_mobile_number_entered_nationally_matches_international_caller_id():
    owner = PhoneNumberFactory(raw="601 234 567", kind=PhoneNumber.Kind.MOBILE).person
    assert ring("+48601234567").caller_person == owner


def test_internal_extension_caller_is_identified():
    owner = PhoneNumberFactory(raw="4321", kind=PhoneNumber.Kind.EXTENSION).person
    call = ring("4321")
    assert call.caller_e164 == "ext:4321"
    assert call.caller_person == owner


@pytest.mark.parametrize("caller", ["anonymous", "Anonymous", "", "withheld", "unknown", None])
def test_withheld_caller_is_recorded_without_a_number(caller):
    PhoneNumberFactory(raw="+48 22 123 45 67")
    call = ring(caller)
    assert call.is_withheld
    assert call.caller_e164 == ""
    assert call.caller_person is None
    assert call.identification == Call.Identification.WITHHELD


def test_unreadable_number_is_kept_raw_and_unknown():
    call = ring("not a number")
    assert call.caller_number == "not a number"
    assert call.caller_e164 == "" and not call.is_withheld
    assert call.identification == Call.Identification.UNKNOWN


def test_several_people_with_the_number_are_all_candidates():
    first = PhoneNumberFactory(raw="+48 22 999 00 00").person
    second = PhoneNumberFactory(raw="22 999 00 00").person
    call = ring("0048229990000")
    assert call.caller_person is None
    assert call.identification == Call.Identification.SEVERAL
    assert set(call.candidate_people.all()) == {first, second}


def test_inactive_people_are_not_matched():
    PhoneNumberFactory(raw="+48 22 999 00 00", person=PersonFactory(is_active=False))
    call = ring("+48229990000")
    assert call.caller_person is None
    assert call.identification == Call.Identification.UNKNOWN


def test_unknown_caller_has_no_match():
    PhoneNumberFactory(raw="+48 22 123 45 67")
    call = ring("+48 58 765 43 21")
    assert call.caller_e164 == "+48587654321"
    assert call.caller_person is None
    assert call.candidate_people.count() == 0
    assert call.identification == Call.Identification.UNKNOWN


def test_unknown_number_is_a_maybe_match_from_an_earlier_call_linked_to_a_ticket():
    person = PersonFactory()
    earlier = ring("+48 58 765 43 21", call_id="earlier")
    earlier.tickets.add(make_ticket(caller=person))
    call = ring("058 765 43 21", call_id="now")
    assert call.identification == Call.Identification.MAYBE
    assert call.caller_person == person


def test_maybe_match_lists_every_person_seen_with_the_number():
    first, second = PersonFactory(), PersonFactory()
    one = ring("+48 58 765 43 21", call_id="one")
    one.tickets.add(make_ticket(caller=first))
    two = ring("+48 58 765 43 21", call_id="two")
    two.tickets.add(make_ticket(caller=second))
    call = ring("+48 58 765 43 21", call_id="three")
    assert call.identification == Call.Identification.MAYBE
    assert call.caller_person is None
    assert set(call.candidate_people.all()) == {first, second}


def test_foreign_number_in_international_form():
    owner = PhoneNumberFactory(raw="+49 30 1234567").person
    assert ring("0049 30 1234567").caller_person == owner


def test_number_of_a_person_in_another_region_setting(settings):
    settings.PHONE_DEFAULT_REGION = "DE"
    owner = PhoneNumberFactory(raw="030 1234567").person
    assert ring("+49301234567", pbx=PbxFactory()).caller_person == owner


@pytest.mark.parametrize(
    ("stored", "caller_id"),
    [
        ("+49 171 5000000", "491715000000"),
        ("+49 30 123456789", "4930123456789"),
        ("+44 20 7946 0958", "442079460958"),
        ("+1 202 555 0143", "12025550143"),
        ("+48 22 123 45 67", "48221234567"),
        ("22 123 45 67", "221234567"),
    ],
)
def test_a_caller_sent_in_international_form_without_prefix_is_identified(stored, caller_id):
    person = PhoneNumberFactory(raw=stored).person
    call = ring(caller_id)
    assert call.caller_person == person
    assert call.identification == Call.Identification.EXACT
