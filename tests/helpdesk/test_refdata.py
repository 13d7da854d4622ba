"""Reference data kept per process (helpdesk.refdata): groups, services, categories, sites."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import refdata
from helpdesk.models import Category, Service, SupportGroup
from tests.factories import CategoryFactory, ServiceFactory, SupportGroupFactory
from tickets.forms import ClassificationForm, TransferForm

pytestmark = pytest.mark.django_db


def test_rows_are_read_once_then_kept(django_assert_num_queries):
    SupportGroupFactory(name="Network", code="network")
    with django_assert_num_queries(1):
        first = refdata.rows(SupportGroup)
    with django_assert_num_queries(0):
        assert refdata.rows(SupportGroup) is first
    assert [group.name for group in first] == ["Network"]


def test_a_save_or_a_delete_is_seen_at_once():
    network = SupportGroupFactory(name="Network", code="network")
    assert [group.name for group in refdata.active(SupportGroup)] == ["Network"]
    network.name = "Networks"
    network.save()
    assert [group.name for group in refdata.active(SupportGroup)] == ["Networks"]
    network.is_active = False
    network.save()
    assert refdata.active(SupportGroup) == []
    network.delete()
    assert refdata.rows(SupportGroup) == []


def test_another_process_change_is_seen_when_the_token_is_read_again(monkeypatch):
    """The token moved by another process is read at most every CHECK_SECONDS."""
    service = ServiceFactory(name="VPN")
    assert [row.name for row in refdata.rows(Service)] == ["VPN"]
    # Another process renames it: its save moves the shared token; ours still has the rows.
    Service.objects.filter(pk=service.pk).update(name="Remote access")
    assert [row.name for row in refdata.rows(Service)] == ["VPN"]  # not heard: no signal
    refdata.clear()  # this process forgets nothing else...
    assert [row.name for row in refdata.rows(Service)] == ["Remote access"]
    # ...and a token moved elsewhere is noticed once CHECK_SECONDS have passed.
    Service.objects.filter(pk=service.pk).update(name="VPN again")
    from django.core.cache import cache

    cache.set(refdata.VERSION_KEY, "moved by another process", timeout=None)
    clock = {"now": 1_000_000.0}
    monkeypatch.setattr(refdata.time, "monotonic", lambda: clock["now"])
    refdata._state["checked"] = clock["now"]
    assert [row.name for row in refdata.rows(Service)] == ["Remote access"]
    clock["now"] += refdata.CHECK_SECONDS + 0.1
    assert [row.name for row in refdata.rows(Service)] == ["VPN again"]


def test_without_a_shared_cache_rows_are_read_again_after_max_age(monkeypatch, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    service = ServiceFactory(name="VPN")
    clock = {"now": 2_000_000.0}
    monkeypatch.setattr(refdata.time, "monotonic", lambda: clock["now"])
    assert [row.name for row in refdata.rows(Service)] == ["VPN"]
    Service.objects.filter(pk=service.pk).update(name="Remote access")
    clock["now"] += refdata.CHECK_SECONDS + 0.1
    assert [row.name for row in refdata.rows(Service)] == ["VPN"]
    clock["now"] += refdata.MAX_AGE_SECONDS
    assert [row.name for row in refdata.rows(Service)] == ["Remote access"]


def test_with_a_shared_cache_unheard_changes_live_five_minutes_at_most(monkeypatch):
    monkeypatch.setattr(refdata, "_shared_cache", lambda: True)
    service = ServiceFactory(name="VPN")
    clock = {"now": 3_000_000.0}
    monkeypatch.setattr(refdata.time, "monotonic", lambda: clock["now"])
    refdata.clear()
    assert [row.name for row in refdata.rows(Service)] == ["VPN"]
    Service.objects.filter(pk=service.pk).update(name="Remote access")  # no token moved
    clock["now"] += refdata.MAX_AGE_SECONDS + refdata.CHECK_SECONDS
    assert [row.name for row in refdata.rows(Service)] == ["VPN"]
    clock["now"] += refdata.SHARED_MAX_AGE_SECONDS
    assert [row.name for row in refdata.rows(Service)] == ["Remote access"]


def test_attach_hands_out_copies_and_loads_what_is_not_kept(django_assert_num_queries):
    from tests.factories import make_ticket

    group = SupportGroupFactory(name="Network", code="network")
    ticket = make_ticket(group=group)
    ticket = type(ticket).objects.get(pk=ticket.pk)
    refdata.rows(SupportGroup)
    refdata.rows(Category)
    refdata.rows(Service)
    with django_assert_num_queries(0):
        refdata.attach(ticket, "group", "service", "category")
        assert ticket.group.name == "Network"
    ticket.group.name = "Changed on the copy"
    assert refdata.by_pk(SupportGroup)[group.pk].name == "Network"


def test_form_options_come_from_kept_rows_and_the_choice_is_checked_in_the_database(
    django_assert_num_queries,
):
    network = SupportGroupFactory(name="Network", code="network", tier=2)
    desk = SupportGroupFactory(name="Desk", code="desk", tier=1)
    CategoryFactory(name="Printer")
    ServiceFactory(name="VPN")
    refdata.rows(SupportGroup), refdata.rows(Category), refdata.rows(Service)
    with django_assert_num_queries(0):
        html = str(ClassificationForm()) + str(TransferForm())
    assert "Printer" in html and "VPN" in html and "Network" in html and "Desk" in html
    # Deactivated behind the ORM's back: still offered until the rows are read again, but
    # the submitted value is checked against the database.
    SupportGroup.objects.filter(pk=network.pk).update(is_active=False)
    form = TransferForm(data={"version": 1, "group": network.pk, "reason": "Broken router"})
    assert not form.is_valid()
    assert "group" in form.errors
    assert desk.pk in [group.pk for group in refdata.active(SupportGroup)]


def test_the_agent_ticket_page_reads_no_reference_table(client):
    from helpdesk.roles import Role
    from tests.factories import make_ticket, make_user

    agent = make_user(Role.AGENT, username="agent1")
    group = SupportGroupFactory(name="Network", code="network")
    ticket = make_ticket(
        group=group, service=ServiceFactory(), category=CategoryFactory(name="Printer")
    )
    client.force_login(agent)
    assert client.get(f"/console/tickets/{ticket.number}/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/console/tickets/{ticket.number}/")
    assert response.status_code == 200
    assert b"Network" in response.content and b"Printer" in response.content
    tables = ('"helpdesk_supportgroup"', '"helpdesk_service"', '"helpdesk_category"')
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert [sql for sql in reads if any(f"FROM {table}" in sql for table in tables)] == []


def test_api_create_takes_group_service_and_category_from_kept_rows(settings):
    from rest_framework.test import APIClient

    from helpdesk.roles import Role
    from tests.factories import PersonFactory, make_user

    agent = make_user(Role.AGENT, username="agent2")
    first_line = SupportGroupFactory(name="Desk", code="desk", tier=1)
    settings.TICKET_DEFAULT_GROUP = ""
    service, category = ServiceFactory(name="VPN"), CategoryFactory(name="Printer")
    caller = PersonFactory()
    client = APIClient()
    client.force_authenticate(agent)
    body = {
        "caller": caller.pk,
        "title": "VPN drops",
        "service": service.pk,
        "category": category.pk,
    }
    assert client.post("/api/tickets/", body, format="json").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        created = client.post("/api/tickets/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["service"]["name"] == "VPN"
    tables = ('"helpdesk_supportgroup"', '"helpdesk_service"', '"helpdesk_category"')
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert [sql for sql in reads if any(f"FROM {table}" in sql for table in tables)] == []
    from tickets.models import Ticket

    assert Ticket.objects.get(number=created.json()["number"]).group == first_line
    # A service deactivated (through a save: heard at once) is refused with its field named;
    # one made just now is taken.
    service.is_active = False
    service.save()
    refused = client.post("/api/tickets/", body, format="json")
    assert refused.status_code == 400
    assert "service" in refused.json()
    newer = Service.objects.create(name="Wi-Fi", owner_group=first_line)
    body["service"] = newer.pk
    assert client.post("/api/tickets/", body, format="json").status_code == 201
