"""Phone normalisation: every way a number is written meets at one E.164 key."""

import pytest
from django.core.exceptions import ValidationError

from helpdesk.models import PhoneNumber
from helpdesk.phones import (
    InvalidPhoneNumber,
    format_phone,
    is_withheld,
    normalize_phone,
    normalize_phone_or_none,
)
from helpdesk.selectors import people_by_e164, people_by_phone
from tests.factories import PersonFactory, PhoneNumberFactory


@pytest.mark.parametrize(
    "raw",
    [
        "22 123 45 67",
        "221234567",
        "+48 22 123 45 67",
        "+48221234567",
        "0048 22 123 45 67",
        "0048221234567",
        "0048-22-123-45-67",
        "22-123-45-67",
        "(22) 123-45-67",
        "(22) 123 45 67",
        "22/123 45 67",
        "22.123.45.67",
        "48221234567",  # what many PBXs send: country code without the plus
        "022 123 45 67",  # the old national form with a trunk 0
        "+48 (0) 22 123 45 67",
        "  +48 22 123 45 67  ",
        "tel:+48-22-123-45-67",
        "+48\u00a022\u00a0123\u00a045\u00a067",  # no-break spaces pasted from a document
    ],
)
def test_polish_desk_number_written_any_way_normalises_to_one_key(raw):
    assert normalize_phone(raw) == normalize_phone("+48221234567")
    assert normalize_phone(raw).e164 == "+48221234567"
    assert normalize_phone(raw).extension == ""


@pytest.mark.parametrize("raw", ["601 234 567", "601-234-567", "+48 601 234 567", "0048601234567"])
def test_polish_mobile_number_normalises(raw):
    assert normalize_phone(raw).e164 == "+48601234567"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+49 30 1234567", "+49301234567"),
        ("0049 30 1234567", "+49301234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (202) 555-0143", "+12025550143"),
        ("001 202 555 0143", "+12025550143"),
    ],
)
def test_numbers_of_other_countries_keep_their_country_code(raw, e164):
    assert normalize_phone(raw).e164 == e164


def test_national_number_is_read_in_the_given_region(settings):
    assert normalize_phone("030 1234567", region="DE").e164 == "+49301234567"
    settings.PHONE_DEFAULT_REGION = "DE"
    assert normalize_phone("030 1234567").e164 == "+49301234567"
    settings.PHONE_DEFAULT_REGION = "PL"
    # The same digits in Poland are no number at all.
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone("030 1234567")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("1234", "ext:1234"),
        ("123456", "ext:123456"),
        ("ext. 1234", "ext:1234"),
        ("x1234", "ext:1234"),
        ("#1234", "ext:1234"),
        ("wew. 1234", "ext:1234"),
    ],
)
def test_internal_extension_is_stored_as_extension_key(raw, key):
    normalized = normalize_phone(raw)
    assert normalized.is_internal
    assert normalized.e164 == key


def test_bare_extension_keeps_its_digits():
    assert normalize_phone("ext. 12").e164 == "ext:12"
    assert normalize_phone("wew. 12").e164 == "ext:12"
    assert normalize_phone("12").e164 == "ext:12"
    assert not normalize_phone("+48221234567").is_internal


@pytest.mark.parametrize(
    "raw",
    [
        "+48 22 123 45 67 ext. 12",
        "+48 22 123 45 67 ext 12",
        "+48 22 123 45 67 x12",
        "+48 22 123 45 67 #12",
        "22 123 45 67 wew. 12",
    ],
)
def test_full_number_with_extension_keeps_number_and_extension_apart(raw):
    normalized = normalize_phone(raw)
    assert normalized.e164 == "+48221234567"
    assert normalized.extension == "12"
    assert not normalized.is_internal


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "anonymous", "Anonymous", "withheld", "PRIVATE", "unknown"]
)
def test_withheld_or_empty_caller_id_is_no_number(raw):
    assert is_withheld(raw)
    with pytest.raises(InvalidPhoneNumber) as error:
        normalize_phone(raw)
    assert "withheld" in error.value.message
    assert normalize_phone_or_none(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "123abc456",  # letters are a typo, not a vanity number
        "call me",
        "0",
        "1",
        "+48 1",
        "1234567",  # too short for a Polish number, too long for an extension
        "+48 12345678901234",
        "+48 000 000 000",
        "--",
        "+",
        "1234567890123456789",
    ],
)
def test_invalid_input_raises_a_clear_error(raw):
    assert not is_withheld(raw)
    with pytest.raises(InvalidPhoneNumber) as error:
        normalize_phone(raw)
    assert error.value.raw == raw
    assert raw in error.value.message
    assert "not a valid phone number" in str(error.value)
    assert normalize_phone_or_none(raw) is None


def test_invalid_phone_number_is_a_value_error():
    with pytest.raises(ValueError, match="not a valid phone number"):
        normalize_phone("nonsense")


def test_format_phone_is_readable_international_form():
    assert format_phone("+48221234567") == "+48 22 123 45 67"
    assert format_phone("ext:1234") == "1234"


@pytest.mark.django_db
def test_phone_number_is_normalised_when_saved():
    phone = PhoneNumberFactory(raw="0048 (22) 123-45-67 wew. 7")
    phone.refresh_from_db()
    assert phone.e164 == "+48221234567"
    assert phone.extension == "7"
    assert phone.display == "+48 22 123 45 67 ext. 7"


@pytest.mark.django_db
def test_changing_raw_number_changes_lookup_key():
    phone = PhoneNumberFactory(raw="+48 22 123 45 67")
    phone.raw = "601 234 567"
    phone.save()
    phone.refresh_from_db()
    assert phone.e164 == "+48601234567"
    phone.raw = "+48 22 765 43 21"
    phone.save(update_fields=["raw"])
    phone.refresh_from_db()
    assert phone.e164 == "+48227654321"


@pytest.mark.django_db
def test_saving_an_invalid_number_fails_and_clean_names_the_field():
    person = PersonFactory()
    with pytest.raises(InvalidPhoneNumber):
        PhoneNumber.objects.create(person=person, raw="not a number")
    phone = PhoneNumber(person=person, raw="12ab")
    with pytest.raises(ValidationError) as error:
        phone.full_clean()
    assert "raw" in error.value.message_dict
    assert "not a valid phone number" in error.value.message_dict["raw"][0]


@pytest.mark.django_db
def test_same_number_twice_for_one_person_is_refused():
    person = PersonFactory()
    PhoneNumberFactory(person=person, raw="+48 22 123 45 67")
    phone = PhoneNumber(person=person, raw="22-123-45-67", kind=PhoneNumber.Kind.MOBILE)
    with pytest.raises(ValidationError):
        phone.full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "caller_id", ["+48221234567", "0048221234567", "22 123 45 67", "48221234567", "022 123 45 67"]
)
def test_person_is_found_by_caller_id_in_any_form(caller_id):
    anna = PersonFactory(full_name="Anna Nowak")
    PhoneNumberFactory(person=anna, raw="(22) 123-45-67 ext. 12")
    PhoneNumberFactory(person=anna, raw="601 234 567", kind=PhoneNumber.Kind.MOBILE)
    other = PersonFactory(full_name="Jan Kowalski")
    PhoneNumberFactory(person=other, raw="+48 22 123 45 68")
    assert list(people_by_phone(caller_id)) == [anna]
    assert list(people_by_e164(normalize_phone(caller_id).e164)) == [anna]


@pytest.mark.django_db
def test_person_with_two_matching_numbers_is_found_once_and_shared_number_finds_both():
    anna = PersonFactory(full_name="Anna Nowak")
    PhoneNumberFactory(person=anna, raw="+48 601 234 567", kind=PhoneNumber.Kind.MOBILE)
    PhoneNumberFactory(person=anna, raw="1234", kind=PhoneNumber.Kind.EXTENSION)
    assert list(people_by_phone("601234567")) == [anna]
    assert list(people_by_phone("1234")) == [anna]
    # A reception desk number shared by two people finds both.
    jan = PersonFactory(full_name="Jan Kowalski")
    PhoneNumberFactory(person=anna, raw="+48 22 100 00 00")
    PhoneNumberFactory(person=jan, raw="22 100 00 00")
    assert set(people_by_phone("+48 22 100 00 00")) == {anna, jan}


@pytest.mark.django_db
@pytest.mark.parametrize("caller_id", ["", "anonymous", None, "garbage", "+48 22 999 99 99"])
def test_withheld_invalid_or_unknown_caller_id_finds_nobody(caller_id):
    PhoneNumberFactory(raw="+48 22 123 45 67")
    assert list(people_by_phone(caller_id)) == []


@pytest.mark.django_db
def test_agent_finds_a_callers_tickets_by_the_number_in_any_form(agent):
    from tests.factories import make_ticket
    from tickets.selectors import ticket_list

    anna = PersonFactory(full_name="Anna Nowak")
    PhoneNumberFactory(person=anna, raw="601 234 567")
    hers = make_ticket(caller=anna)
    make_ticket(caller=PersonFactory())
    for typed in ("601-234-567", "+48 601 234 567", "0048601234567"):
        assert list(ticket_list(agent, search=typed)) == [hers]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        # International form without "+" or "00", as many PBXes (and Zammad) send numbers.
        ("491715000000", "+491715000000"),  # German mobile (Zammad's spec, blocked caller)
        ("4930123456789", "+4930123456789"),  # Berlin
        ("4930600000000", "+4930600000000"),  # Zammad's spec: the called number
        ("442079460958", "+442079460958"),  # London
        ("447911123456", "+447911123456"),  # British mobile
        ("12025550143", "+12025550143"),  # Washington
        ("14155552671", "+14155552671"),  # San Francisco
        # Next to them, numbers of the default region keep their national reading.
        ("221234567", "+48221234567"),
        ("601234567", "+48601234567"),
        ("48221234567", "+48221234567"),
    ],
)
def test_a_digit_string_that_is_no_national_number_is_read_as_international(raw, e164):
    assert normalize_phone(raw).e164 == e164


def test_the_national_reading_wins_when_both_are_valid(settings):
    # 44 123 45 67 is a number in Łódź; read with a country code it would be British.
    assert normalize_phone("441234567").e164 == "+48441234567"
    settings.PHONE_DEFAULT_REGION = "DE"
    assert normalize_phone("301234567").e164 == "+49301234567"
    assert normalize_phone("12025550143").e164 == "+12025550143"


@pytest.mark.parametrize("raw", ["4912347114711", "49999992222222", "1234567890123456789"])
def test_digit_strings_valid_in_no_country_stay_invalid(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)
