"""The directory API: people with caller-ID lookup, support groups, services, categories."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from helpdesk.models import Category, Service, SupportGroup
from tests.factories import (
    PASSWORD,
    CategoryFactory,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    SupportGroupFactory,
)


def names(response):
    assert response.status_code == 200, response.json()
    return [row.get("full_name") or row.get("name") for row in response.json()["results"]]


# --- people -----------------------------------------------------------------------------------


def test_person_representation_has_phone_numbers_and_site(as_agent):
    person = PersonFactory(full_name="Jan Kowalski", is_vip=True, department="Sales")
    PhoneNumberFactory(person=person, raw="+48 22 555 01 23", kind="desk")
    PhoneNumberFactory(person=person, raw="601 234 567", kind="mobile")
    response = as_agent.get(f"/api/people/{person.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["full_name"] == "Jan Kowalski"
    assert body["is_vip"] is True
    assert body["site"]["code"] == person.site.code
    assert {p["e164"] for p in body["phone_numbers"]} == {"+48225550123", "+48601234567"}
    assert {p["kind"] for p in body["phone_numbers"]} == {"desk", "mobile"}


def test_phone_lookup_returns_every_candidate_in_any_format(as_agent):
    first = PersonFactory(full_name="Anna Nowak")
    second = PersonFactory(full_name="Piotr Nowak")
    PersonFactory(full_name="Somebody Else")
    PhoneNumberFactory(person=first, raw="+48 22 555 01 23")
    PhoneNumberFactory(person=second, raw="22 555 01 23")
    for text in ("+48225550123", "0048 22 555-01-23", "(22) 555 01 23"):
        assert sorted(names(as_agent.get("/api/people/", {"phone": text}))) == [
            "Anna Nowak",
            "Piotr Nowak",
        ]
    assert names(as_agent.get("/api/people/", {"phone": "+48 22 555 99 99"})) == []


def test_phone_lookup_with_something_that_is_not_a_number_is_400(as_agent):
    response = as_agent.get("/api/people/", {"phone": "anonymous"})
    assert response.status_code == 400
    assert "phone" in response.json()


def test_people_search_by_name_and_email(as_agent):
    PersonFactory(full_name="Ewa Zielińska", email="ewa.z@example.com")
    PersonFactory(full_name="Adam Mały", email="adam@example.com")
    assert names(as_agent.get("/api/people/", {"search": "zielińska"})) == ["Ewa Zielińska"]
    assert names(as_agent.get("/api/people/", {"search": "adam@example"})) == ["Adam Mały"]


def test_people_filter_vip(as_agent):
    PersonFactory(full_name="Very Important", is_vip=True)
    PersonFactory(full_name="Regular")
    assert "Very Important" in names(as_agent.get("/api/people/", {"is_vip": "true"}))
    assert "Regular" not in names(as_agent.get("/api/people/", {"is_vip": "true"}))


def test_people_are_read_only(as_admin):
    response = as_admin.post("/api/people/", {"full_name": "New"}, format="json")
    assert response.status_code == 405


def test_people_list_query_count_is_constant(as_agent):
    def add(count):
        for _index in range(count):
            person = PersonFactory()
            PhoneNumberFactory(person=person)
            PhoneNumberFactory(person=person, kind="mobile")

    def count_queries(page_size):
        with CaptureQueriesContext(connection) as queries:
            response = as_agent.get("/api/people/", {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(queries)

    add(5)
    few = count_queries(5)
    add(45)
    assert count_queries(50) == few


# --- groups, services, categories -------------------------------------------------------------


def test_agent_reads_reference_data(as_agent, first_line, network_group, agent):
    groups = as_agent.get("/api/groups/").json()["results"]
    by_code = {g["code"]: g for g in groups}
    assert by_code["service-desk"]["tier"] == 1
    assert by_code["service-desk"]["members"] == [agent.pk]
    assert by_code["network"]["tier"] == 2
    assert names(as_agent.get("/api/groups/", {"tier": 2})) == ["Network"]
    service = ServiceFactory(name="E-mail", owner_group=network_group)
    ServiceFactory(name="ERP", is_active=False)
    assert names(as_agent.get("/api/services/", {"is_active": "true"})) == ["E-mail"]
    assert names(as_agent.get("/api/services/", {"owner_group": network_group.pk})) == ["E-mail"]
    assert as_agent.get(f"/api/services/{service.pk}/").json()["owner_group"] == network_group.pk
    root = CategoryFactory(name="Hardware")
    CategoryFactory(name="Laptop", parent=root)
    rows = as_agent.get("/api/categories/").json()["results"]
    assert [r["path"] for r in rows] == ["Hardware", "Hardware / Laptop"]
    assert [
        r["path"] for r in as_agent.get("/api/categories/", {"root": "true"}).json()["results"]
    ] == ["Hardware"]


def test_agent_cannot_write_reference_data(as_agent, first_line):
    response = as_agent.post("/api/groups/", {"name": "X", "code": "x"}, format="json")
    assert response.status_code == 403
    response = as_agent.patch(f"/api/groups/{first_line.pk}/", {"name": "Y"}, format="json")
    assert response.status_code == 403
    assert SupportGroup.objects.get(pk=first_line.pk).name == "Service Desk"


def test_administrator_creates_updates_and_deletes_a_group(as_admin):
    response = as_admin.post(
        "/api/groups/", {"name": "Telephony", "code": "telephony", "tier": 2}, format="json"
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    response = as_admin.patch(f"/api/groups/{pk}/", {"email": "tel@example.com"}, format="json")
    assert response.json()["email"] == "tel@example.com"
    assert as_admin.delete(f"/api/groups/{pk}/").status_code == 204
    assert not SupportGroup.objects.filter(pk=pk).exists()


def test_duplicate_group_code_is_400_naming_the_field(as_admin, first_line):
    response = as_admin.post(
        "/api/groups/", {"name": "Other", "code": "service-desk"}, format="json"
    )
    assert response.status_code == 400
    assert "code" in response.json()


def test_deleting_a_group_that_owns_services_is_409(as_admin):
    group = SupportGroupFactory(code="apps", name="Applications", tier=2)
    ServiceFactory(owner_group=group)
    response = as_admin.delete(f"/api/groups/{group.pk}/")
    assert response.status_code == 409
    assert response.json()["detail"]
    assert SupportGroup.objects.filter(pk=group.pk).exists()


def test_administrator_manages_services(as_admin, network_group):
    response = as_admin.post(
        "/api/services/",
        {"name": "VPN", "owner_group": network_group.pk, "criticality": "high"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert Service.objects.get(name="VPN").criticality == "high"
    response = as_admin.post(
        "/api/services/", {"name": "Bad", "owner_group": 999999}, format="json"
    )
    assert response.status_code == 400
    assert "owner_group" in response.json()
    response = as_admin.post(
        "/api/services/",
        {"name": "Bad", "owner_group": network_group.pk, "criticality": "meh"},
        format="json",
    )
    assert "criticality" in response.json()


def test_administrator_builds_the_category_tree(as_admin):
    response = as_admin.post("/api/categories/", {"name": "Software"}, format="json")
    assert response.status_code == 201, response.json()
    root = response.json()["id"]
    response = as_admin.post("/api/categories/", {"name": "Office", "parent": root}, format="json")
    assert response.status_code == 201
    child = response.json()["id"]
    assert response.json()["path"] == "Software / Office"
    as_admin.patch(f"/api/categories/{root}/", {"name": "Applications"}, format="json")
    assert Category.objects.get(pk=child).path == "Applications / Office"
    # A category cannot move under its own descendant.
    response = as_admin.patch(f"/api/categories/{root}/", {"parent": child}, format="json")
    assert response.status_code == 400
    assert "parent" in response.json()
    # Same name under the same parent is refused.
    response = as_admin.post("/api/categories/", {"name": "Office", "parent": root}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    # A parent with children cannot be deleted.
    assert as_admin.delete(f"/api/categories/{root}/").status_code == 409


def test_reference_lists_query_count_is_constant(as_agent, agent):
    def add(count):
        for _index in range(count):
            group = SupportGroupFactory()
            group.members.add(agent)
            ServiceFactory(owner_group=group)
            CategoryFactory()

    def counts():
        result = []
        for path in ("/api/groups/", "/api/services/", "/api/categories/"):
            with CaptureQueriesContext(connection) as queries:
                response = as_agent.get(path, {"page_size": 200})
            assert response.status_code == 200
            result.append(len(queries))
        return result

    add(3)
    few = counts()
    add(30)
    assert counts() == few


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/people/", {"phone": "9" * 5000}),
        ("/api/people/", {"phone": "+48 (22) 555-01-23 ext. 99999999999"}),
        ("/api/people/", {"site": str(10**30)}),
        ("/api/people/", {"is_vip": "perhaps"}),
        ("/api/people/", {"search": "%_\\" * 100}),
        ("/api/services/", {"owner_group": "abc"}),
        ("/api/categories/", {"parent": "-3"}),
        ("/api/groups/", {"tier": "9"}),
    ],
)
def test_garbage_query_parameters_never_give_a_500(as_agent, path, params):
    response = as_agent.get(path, params)
    assert response.status_code in (200, 400), response.content[:300]


def test_token_is_obtained_with_username_and_password_and_then_authenticates(api, end_user):
    response = api.post(
        "/api/auth/token/", {"username": "enduser", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/groups/").status_code == 200
    # Each client signs in for a token of its own.
    again = APIClient().post(
        "/api/auth/token/", {"username": "enduser", "password": PASSWORD}, format="json"
    )
    assert again.status_code == 201
    assert again.json()["token"] != token


def test_token_with_wrong_password_is_400(api, end_user):
    response = api.post(
        "/api/auth/token/", {"username": "enduser", "password": "guess"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.json()


def test_anonymous_is_told_to_authenticate_with_a_token(api, db):
    response = api.get("/api/groups/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
