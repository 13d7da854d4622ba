"""Finding people by a phone number or an e-mail address: one selector each, used by all."""

from __future__ import annotations

import pytest

from helpdesk.selectors import (
    caller_card_people,
    people_by_e164,
    people_by_email,
    people_by_phone,
)
from tests.factories import PersonFactory, PhoneNumberFactory, SiteFactory, make_ticket
from tickets.selectors import ticket_list

pytestmark = pytest.mark.django_db


def test_the_e164_fast_path_finds_what_the_raw_number_finds():
    anna = PersonFactory(full_name="Anna")
    PhoneNumberFactory(person=anna, raw="+48 22 123 45 67")
    PhoneNumberFactory(person=anna, raw="601 234 567")
    PhoneNumberFactory(raw="+48 22 123 45 68")
    assert list(people_by_e164("+48221234567")) == list(people_by_phone("022 123 45 67"))
    assert list(people_by_e164("+48221234567")) == [anna]
    assert list(people_by_e164("+48229999999")) == []


def test_the_directory_lookup_reads_a_persons_numbers_in_one_query(django_assert_num_queries):
    anna = PersonFactory(full_name="Anna", site=SiteFactory())
    PhoneNumberFactory(person=anna, raw="+48 22 123 45 67")
    PhoneNumberFactory(person=anna, raw="601 234 567")
    with django_assert_num_queries(2):  # people with site and login, then their numbers
        [found] = people_by_phone("+48221234567")
        assert found.site.name and len(found.phone_numbers.all()) == 2


def test_email_matches_exactly_first_and_ignores_case_only_when_nobody_matches_exactly():
    exact = PersonFactory(email="Anna.Nowak@example.com")
    lower = PersonFactory(email="anna.nowak@example.com")
    assert people_by_email("Anna.Nowak@example.com") == [exact]
    assert people_by_email("anna.nowak@example.com") == [lower]
    assert people_by_email("ANNA.NOWAK@example.com") == [exact, lower]
    assert people_by_email(" anna.nowak@example.com ") == [lower]
    assert people_by_email("") == [] and people_by_email("nobody@example.com") == []


def test_email_finds_active_people_only_unless_asked_and_at_most_the_limit():
    gone = PersonFactory(email="gone@example.com", is_active=False)
    assert people_by_email("gone@example.com") == []
    assert people_by_email("gone@example.com", active_only=False) == [gone]
    shared = [PersonFactory(email="desk@example.com") for _ in range(3)]
    assert people_by_email("desk@example.com", limit=2) == shared[:2]


def test_ticket_search_by_email_finds_the_tickets_of_people_who_left(agent):
    gone = PersonFactory(email="gone@example.com", is_active=False)
    theirs = make_ticket(caller=gone)
    make_ticket(caller=PersonFactory(email="other@example.com"))
    assert list(ticket_list(agent, search="gone@example.com")) == [theirs]
    assert list(ticket_list(agent, search="GONE@example.com")) == [theirs]


def test_caller_card_people_are_the_active_owners_by_id_with_the_site_name():
    site = SiteFactory(name="Warsaw HQ")
    anna = PhoneNumberFactory(raw="+48221234567", person__site=site, person__is_vip=True).person
    bert = PhoneNumberFactory(raw="+48221234567", person__site=None).person
    PhoneNumberFactory(raw="+48221234567", person__is_active=False)
    rows = caller_card_people("+48221234567", limit=5)
    assert rows == [
        (anna.pk, anna.full_name, anna.department, anna.job_title, True, site.pk, "Warsaw HQ"),
        (bert.pk, bert.full_name, bert.department, bert.job_title, False, None, None),
    ]
    assert caller_card_people("+48221234567", limit=1) == rows[:1]
