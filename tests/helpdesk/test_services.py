"""Writes of the core directory."""

from __future__ import annotations

import pytest

from helpdesk import services
from helpdesk.errors import ValidationError
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def _updates(queries) -> list[str]:
    return [query["sql"] for query in queries if query["sql"].startswith("UPDATE")]


def test_person_language_set_stores_the_language_alone(django_assert_max_num_queries):
    person = PersonFactory(language="en", full_name="Anna")
    person.full_name = "changed in memory only"
    with django_assert_max_num_queries(3) as queries:  # the UPDATE in a savepoint
        services.person_language_set(person=person, language="pl")
    assert len(_updates(queries)) == 1
    person.refresh_from_db()
    assert (person.language, person.full_name) == ("pl", "Anna")


def test_person_language_set_writes_nothing_when_unchanged(django_assert_max_num_queries):
    person = PersonFactory(language="pl")
    with django_assert_max_num_queries(2) as queries:
        services.person_language_set(person=person, language="pl")
    assert _updates(queries) == []


def test_person_language_set_refuses_a_language_not_offered():
    person = PersonFactory(language="en")
    with pytest.raises(ValidationError) as error:
        services.person_language_set(person=person, language="xx")
    assert "language" in error.value.message_dict
    person.refresh_from_db()
    assert person.language == "en"
