"""The outage pages: list, declare (also from the queue's selection and a suggestion), an
outage's page and its forms, the notices every page loads, the portal's "we know; add me"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outages.models import Outage, OutageSuggestion, State
from tests.factories import PASSWORD, ServiceFactory, SiteFactory, make_ticket
from tests.outages.factories import declare
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def vpn(first_line):
    return ServiceFactory(name="VPN", owner_group=first_line)


@pytest.fixture
def as_agent(client, agent):
    client.login(username=agent.username, password=PASSWORD)
    return client


@pytest.fixture
def as_end_user(client, end_user):
    client.login(username=end_user.username, password=PASSWORD)
    return client


def test_the_list_runs_the_same_queries_for_more_outages(
    as_agent, agent, vpn, django_assert_max_num_queries
):
    declare(agent, services_=[vpn], title="First")
    with django_assert_max_num_queries(20) as few:
        response = as_agent.get(reverse("outages:list"))
    assert "First" in response.content.decode()
    for number in range(5):
        outage = declare(agent, services_=[vpn], sites=[SiteFactory()], title=f"More {number}")
        from outages import services

        services.outage_link_tickets(outage=outage, by=agent, tickets=[make_ticket(service=vpn)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_agent.get(reverse("outages:list"))
    assert response.content.decode().count('data-outage="') == 6


def test_end_users_do_not_see_the_list(as_end_user):
    assert as_end_user.get(reverse("outages:list")).status_code == 403


def test_declaring_on_the_page_attaches_the_selected_tickets(as_agent, vpn):
    tickets = [make_ticket(service=vpn) for _ in range(2)]
    ids = ",".join(str(ticket.pk) for ticket in tickets)
    page = as_agent.get(reverse("outages:new") + f"?tickets={ids}")
    assert tickets[0].number in page.content.decode()
    response = as_agent.post(
        reverse("outages:new"),
        {
            "title": "VPN down",
            "services": [vpn.pk],
            "description": "The VPN is down",
            "expected_end": (timezone.localtime() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "tickets": ids,
        },
    )
    outage = Outage.objects.get()
    assert response.status_code == 302
    assert response.url == outage.get_absolute_url()
    assert set(outage.parent_ticket.children.values_list("pk", flat=True)) == {
        ticket.pk for ticket in tickets
    }


def test_declaring_without_a_service_shows_the_error_beside_the_field(as_agent):
    response = as_agent.post(reverse("outages:new"), {"title": "x", "description": "y"})
    assert response.status_code == 200
    assert not Outage.objects.exists()
    assert "This field is required." in response.content.decode()


def test_the_queue_selection_opens_the_attach_page(as_agent, agent, vpn):
    outage = declare(agent, services_=[vpn], title="VPN down")
    tickets = [make_ticket(service=vpn) for _ in range(2)]
    queue = as_agent.get(reverse("tickets:console")).content.decode()
    assert 'data-testid="bulk-attach-outage"' in queue
    response = as_agent.post(
        reverse("outages:attach"),
        {"tickets": [f"{ticket.pk}:{ticket.version}" for ticket in tickets], "action": ""},
    )
    html = response.content.decode()
    assert tickets[1].number in html
    assert "VPN down" in html
    response = as_agent.post(
        reverse("outages:link", args=[outage.pk]), {"tickets": [t.pk for t in tickets]}
    )
    assert response.status_code == 302
    assert outage.parent_ticket.children.count() == 2


def test_attaching_by_number_reports_unknown_numbers(as_agent, agent, vpn):
    outage = declare(agent, services_=[vpn])
    ticket = make_ticket(service=vpn)
    response = as_agent.post(
        reverse("outages:link", args=[outage.pk]),
        {"numbers": f"{ticket.number}, INC-999999"},
        follow=True,
    )
    html = response.content.decode()
    assert "Not found: INC-999999." in html
    assert Ticket.objects.get(pk=ticket.pk).parent_id == outage.parent_ticket_id


def test_the_outage_page_shows_the_history_of_the_expected_end(as_agent, agent, vpn):
    outage = declare(agent, services_=[vpn])
    later = timezone.localtime() + timedelta(hours=5)
    response = as_agent.post(
        reverse("outages:update", args=[outage.pk]),
        {
            "expected_end": later.strftime("%Y-%m-%dT%H:%M"),
            "description": "Still down",
            "note": "Vendor delayed",
            "version": outage.version,
        },
    )
    assert response.status_code == 302
    html = as_agent.get(outage.get_absolute_url()).content.decode()
    assert "Vendor delayed" in html
    assert "Declared" in html and "Updated" in html
    # A stale version is refused with a message, nothing changes.
    as_agent.post(
        reverse("outages:update", args=[outage.pk]),
        {"description": "Old page", "version": 1},
    )
    assert Outage.objects.get().description == "Still down"


def test_resolving_on_the_page_resolves_the_children(as_agent, agent, end_user, vpn):
    outage = declare(agent, services_=[vpn])
    from outages import services

    child = services.outage_add_caller(outage=outage, user=end_user).ticket
    response = as_agent.post(
        reverse("outages:resolve", args=[outage.pk]),
        {"notes": "Gateway replaced", "version": outage.version},
        follow=True,
    )
    assert "2 tickets resolved" in response.content.decode()
    assert Outage.objects.get().state == State.RESOLVED
    child.refresh_from_db()
    assert child.status == Status.RESOLVED
    assert child.resolution_notes == "Gateway replaced"


def test_end_users_may_not_resolve(as_end_user, agent, vpn):
    outage = declare(agent, services_=[vpn])
    response = as_end_user.post(
        reverse("outages:resolve", args=[outage.pk]), {"notes": "x", "version": 1}
    )
    assert response.status_code == 403
    assert Outage.objects.get().state == State.ACTIVE


# --- notices -------------------------------------------------------------------------------


def test_every_page_loads_the_notices(as_end_user):
    html = as_end_user.get(reverse("tickets:my_list")).content.decode()
    assert f'hx-get="{reverse("outages:notices")}"' in html


def test_the_portal_banner_shows_outages_of_the_users_site(as_end_user, end_user, agent, vpn):
    waw, krk = SiteFactory(code="waw"), SiteFactory(code="krk")
    end_user.person.site = waw
    end_user.person.save(update_fields=["site"])
    declare(agent, services_=[vpn], sites=[waw], title="Warsaw VPN")
    declare(agent, services_=[vpn], sites=[krk], title="Kraków VPN")
    declare(agent, services_=[vpn], title="Everywhere VPN")
    html = as_end_user.get(reverse("outages:notices")).content.decode()
    assert "Warsaw VPN" in html
    assert "Everywhere VPN" in html
    assert "Kraków VPN" not in html
    assert reverse("outages:list") not in html  # no staff link for end users


def test_no_outage_no_notice(as_end_user):
    response = as_end_user.get(reverse("outages:notices"))
    assert response.status_code == 200
    assert response.content == b""


def test_the_console_notice_offers_to_declare_a_suggested_outage(
    as_agent, vpn, django_capture_on_commit_callbacks
):
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            make_ticket(service=vpn)
    suggestion = OutageSuggestion.objects.get()
    html = as_agent.get(reverse("outages:notices")).content.decode()
    assert "3 tickets about VPN in 15 min: declare an outage?" in html
    page = as_agent.get(reverse("outages:new") + f"?suggestion={suggestion.pk}").content.decode()
    assert f'<option value="{vpn.pk}" selected>' in page
    as_agent.post(reverse("outages:suggestion_dismiss", args=[suggestion.pk]))
    assert OutageSuggestion.objects.get().status == OutageSuggestion.Status.DISMISSED
    assert as_agent.get(reverse("outages:notices")).content == b""


def test_end_users_do_not_see_suggestions(as_end_user, vpn, django_capture_on_commit_callbacks):
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            make_ticket(service=vpn)
    assert as_end_user.get(reverse("outages:notices")).content == b""


# --- the portal's "we know; add me" ----------------------------------------------------------


def test_picking_an_affected_service_offers_to_join(as_end_user, end_user, agent, vpn, first_line):
    outage = declare(agent, services_=[vpn], description="Gateway down")
    other = ServiceFactory(name="Printing", owner_group=first_line)
    url = reverse("outages:for_service")
    assert as_end_user.get(url, {"service": other.pk}).content == b""
    assert as_end_user.get(url, {"service": "x"}).content == b""
    html = as_end_user.get(url, {"service": vpn.pk}).content.decode()
    assert "Gateway down" in html
    assert reverse("outages:join", args=[outage.pk]) in html
    response = as_end_user.post(reverse("outages:join", args=[outage.pk]))
    child = Ticket.objects.get(parent=outage.parent_ticket)
    assert response.url == reverse("tickets:detail", args=[child.number])
    assert child.caller == end_user.person
    html = as_end_user.get(url, {"service": vpn.pk}).content.decode()
    assert "already on this outage" in html
    as_end_user.post(reverse("outages:join", args=[outage.pk]))
    assert Ticket.objects.filter(parent=outage.parent_ticket).count() == 1


def test_an_ended_outage_cannot_be_joined(as_end_user, agent, vpn):
    outage = declare(agent, services_=[vpn])
    from outages import services

    services.outage_cancel(outage=outage, by=agent)
    assert as_end_user.post(reverse("outages:join", args=[outage.pk])).status_code == 404


def test_the_ticket_page_says_the_ticket_is_part_of_an_active_outage(as_agent, agent, vpn):
    outage = declare(agent, services_=[vpn], title="VPN down")
    child = make_ticket(service=vpn)
    other = make_ticket(service=vpn)
    from outages import services

    services.outage_link_tickets(outage=outage, by=agent, tickets=[child])
    html = as_agent.get(reverse("tickets:console_detail", args=[child.number])).content.decode()
    assert 'data-testid="ticket-outage"' in html
    assert "Resolving the outage resolves this ticket" in html
    parent = outage.parent_ticket.number
    html = as_agent.get(reverse("tickets:console_detail", args=[parent])).content.decode()
    assert "This ticket is the outage's incident" in html
    html = as_agent.get(reverse("tickets:console_detail", args=[other.number])).content.decode()
    assert 'data-testid="ticket-outage"' not in html
