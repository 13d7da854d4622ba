"""The caller card lists the diagnostic scripts offered for the caller's open tickets, each
starting a run on its ticket; cti knows nothing of scripts: its card marks where the tickets'
tools go, and the knowledge base's widget slot names the URL that fills them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cti import notify, services
from cti.models import Call, CallEvent
from helpdesk.roles import Role
from kb import scripts
from kb.models import ScriptRun
from tests.factories import (
    AgentExtensionFactory,
    CategoryFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
)
from tests.kb.test_scripts import vpn_tree
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

CALLER = "+48 22 555 01 01"


@pytest.fixture
def alice(first_line):
    user = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=user, extension="201")
    first_line.members.add(user)
    return user


@pytest.fixture
def network(db):
    parent = CategoryFactory(name="Network")
    return CategoryFactory(name="VPN", parent=parent)


@pytest.fixture
def script(engineer, network, network_group):
    # Attached to the parent: offered for tickets in "Network / VPN" too.
    return scripts.script_save(
        by=engineer, tree=vpn_tree(), name="VPN does not connect", categories=[network.parent]
    )


def test_card_marks_where_the_open_tickets_tools_go(alice, network):
    person = PhoneNumberFactory(raw=CALLER).person
    first = make_ticket(caller=person, opened_by=alice, category=network)
    second = make_ticket(caller=person, opened_by=alice)
    services.call_event_ingest(
        pbx=PbxFactory(),
        source=CallEvent.Source.WEBHOOK,
        event=services.PbxEvent(kind="ring", call_id="c1", caller=CALLER, extensions=["201"]),
    )
    html = notify.render_card(notify.load_card(Call.objects.get().pk))
    assert 'class="cti-card__ticket-tools"' in html
    assert f'data-tickets="{second.number} {first.number}"' in html


def test_the_widget_names_the_scripts_url_for_the_card(client, alice):
    client.force_login(alice)
    page = client.get(reverse("tickets:console")).content.decode()
    widget = page.split('id="cti-console"')[1]
    assert f'data-cti-card-tool="{reverse("kb:scripts_for_card_tickets")}"' in widget


def test_scripts_offered_per_open_ticket_start_a_run_there(client, alice, script, network):
    person = PhoneNumberFactory(raw=CALLER).person
    matching = make_ticket(caller=person, opened_by=alice, category=network)
    unrelated = make_ticket(caller=person, opened_by=alice)
    closed = make_ticket(caller=person, opened_by=alice, category=network)
    ticket_services.ticket_cancel(ticket=closed, by=alice, reason="Duplicate")
    client.force_login(alice)
    url = reverse("kb:scripts_for_card_tickets")
    numbers = " ".join(t.number for t in (matching, unrelated, closed))
    html = client.get(url, {"tickets": numbers}).content.decode()
    assert f'data-ticket="{matching.number}"' in html
    assert f'data-ticket="{unrelated.number}"' not in html
    assert f'data-ticket="{closed.number}"' not in html
    start = reverse("kb:script_run_start", args=[matching.number])
    assert f'action="{start}"' in html and "VPN does not connect" in html
    assert "csrfmiddlewaretoken" in html

    response = client.post(start, {"script": script.pk})
    run = ScriptRun.objects.get()
    assert response.status_code == 302 and response.url == run.get_absolute_url()
    assert run.ticket == matching and run.agent == alice


def test_nothing_for_tickets_without_scripts_or_unknown_numbers(client, alice, script):
    client.force_login(alice)
    url = reverse("kb:scripts_for_card_tickets")
    html = client.get(url, {"tickets": "INC-999999 nonsense"}).content.decode()
    assert "card-scripts" not in html


def test_only_those_who_work_tickets(client, end_user, change_board):
    for user in (end_user, change_board):
        client.force_login(user)
        page = client.get(reverse("home")).content.decode()
        assert "data-cti-card-tool" not in page
        response = client.get(reverse("kb:scripts_for_card_tickets"), {"tickets": "INC-000001"})
        assert response.status_code == 403


def test_queries_do_not_grow_with_the_callers_tickets(client, alice, script, network):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    person = PhoneNumberFactory(raw=CALLER).person
    url = reverse("kb:scripts_for_card_tickets")
    client.force_login(alice)

    def queries(count):
        tickets = [
            make_ticket(caller=person, opened_by=alice, category=network) for _ in range(count)
        ]
        numbers = " ".join(ticket.number for ticket in tickets)
        client.get(url, {"tickets": numbers})  # the session and permissions read once
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url, {"tickets": numbers}).content.decode()
        assert html.count('data-testid="card-scripts"') == count
        return len(captured)

    assert queries(1) == queries(8)
