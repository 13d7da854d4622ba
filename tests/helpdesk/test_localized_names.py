"""Reference data in the reader's language: services, categories and support groups have a
Polish name shown to people who read Polish; the stored name stays what the API and the
history keep."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from helpdesk.demo import data
from helpdesk.demo.organisation import seed_reference
from helpdesk.middleware import LANGUAGE_SESSION_KEY
from helpdesk.models import Category, Service, SupportGroup
from tests.factories import SupportGroupFactory, make_ticket
from tickets import services
from tickets.models import TimelineEntry


def _polish(client, user):
    client.force_login(user)
    session = client.session
    session[LANGUAGE_SESSION_KEY] = "pl"
    session.save()
    return client


def _service(name, name_pl="", group=None):
    group = group or SupportGroupFactory()
    return Service.objects.create(name=name, name_pl=name_pl, owner_group=group)


def test_names_follow_the_active_language_and_fall_back_to_the_stored_one(db):
    printing = _service("Printing & scanning", "Drukowanie i skanowanie")
    plain = _service("Billing (BSCS)")
    with translation.override("pl"):
        assert str(printing) == "Drukowanie i skanowanie"
        assert str(plain) == "Billing (BSCS)"
    with translation.override("en"):
        assert str(printing) == "Printing & scanning"


def test_category_paths_in_polish_follow_each_level(db):
    hardware = Category.objects.create(name="Hardware", name_pl="Sprzęt")
    printer = Category.objects.create(name="Printer", name_pl="Drukarka", parent=hardware)
    dock = Category.objects.create(name="Docking station", parent=hardware)
    with translation.override("pl"):
        assert str(printer) == "Sprzęt / Drukarka"
        assert str(dock) == "Sprzęt / Docking station"
    assert str(printer) == "Hardware / Printer"
    hardware.name_pl = "Urządzenia"
    hardware.save()
    printer.refresh_from_db()
    with translation.override("pl"):
        assert str(printer) == "Urządzenia / Drukarka"


def test_portal_form_lists_services_in_polish_with_constant_queries(client, end_user):
    group = SupportGroupFactory()
    _service("Printing & scanning", "Drukowanie i skanowanie", group)
    client = _polish(client, end_user)
    url = reverse("tickets:create")
    client.get(url)

    def count():
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url)
        return len(queries), page.content.decode()

    few, content = count()
    assert "Drukowanie i skanowanie" in content
    assert "Printing &amp; scanning" not in content
    for index in range(5):
        _service(f"Service {index}", f"Usługa {index}", group)
    client.get(url)  # reads the changed services again (the process keeps them: refdata)
    many, content = count()
    assert "Usługa 4" in content
    assert many == few


def test_console_classification_and_group_in_polish(client, agent, first_line):
    first_line.name_pl = "Pierwsza linia"
    first_line.save()
    service = _service("Printing & scanning", "Drukowanie i skanowanie", first_line)
    ticket = make_ticket(title="Printer", service=service)
    content = (
        _polish(client, agent)
        .get(reverse("tickets:console_detail", args=[ticket.number]))
        .content.decode()
    )
    assert "Drukowanie i skanowanie" in content
    assert 'data-testid="ticket-group">Pierwsza linia<' in content
    queue = client.get(reverse("tickets:console"), {"queue": "open"}).content.decode()
    assert "Pierwsza linia" in queue and ">Service Desk<" not in queue


def test_api_keeps_the_stored_name(as_agent, db):
    service = _service("Printing & scanning", "Drukowanie i skanowanie")
    response = as_agent.get(f"/api/services/{service.pk}/", HTTP_ACCEPT_LANGUAGE="pl")
    assert response.status_code == 200
    assert response.json()["name"] == "Printing & scanning"


def test_history_keeps_the_stored_group_name_whatever_the_agent_reads(agent, first_line):
    network = SupportGroupFactory(name="Network Operations", code="netops", tier=2)
    network.name_pl = "Zespół sieci"
    network.save()
    ticket = make_ticket(title="VPN")
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    with translation.override("pl"):
        services.ticket_escalate(
            ticket=ticket, by=agent, group=network, diagnostic_notes="Checked."
        )
    change = TimelineEntry.objects.get(ticket=ticket, field="group", kind="field_change")
    assert change.new_value == "Network Operations"


def test_demo_reference_data_has_polish_names(db):
    _sites, groups, services_by_name, categories = seed_reference()
    assert services_by_name["E-mail (Exchange Online)"].name_pl.startswith("Poczta e-mail")
    assert services_by_name["Printing & scanning"].name_pl == "Drukowanie i skanowanie"
    assert groups["network"].name_pl == "Zespół sieci"
    with translation.override("pl"):
        assert str(categories["Hardware / Laptop"]) == "Sprzęt / Laptop"
        assert str(categories["Network / VPN"]) == "Sieć / VPN"
    # Every demo service and category has one; seeding again changes nothing.
    assert not Service.objects.filter(name_pl="").exists()
    assert not Category.objects.filter(name_pl="").exists()
    assert set(data.SERVICE_NAMES_PL) == {row[0] for row in data.SERVICES}
    seed_reference()
    assert SupportGroup.objects.get(code="network").name_pl == "Zespół sieci"
