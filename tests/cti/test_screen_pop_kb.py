"""The knowledge base in the screen pop (cti's telephone widget, slot ``phone_tools``): agents
search published articles, internal ones too, as they type; on a ticket's page each result
links to that ticket through the ticket card's own endpoint and partial."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kb.models import Audience
from tests.factories import make_ticket
from tests.kb.conftest import publish  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _widget(client, url):
    page = client.get(url).content.decode()
    assert 'id="cti-console"' in page
    return page.split('id="cti-console"')[1].split("</aside>")[0]


def test_on_a_ticket_page_the_widget_searches_for_that_ticket(client, agent):
    ticket = make_ticket(opened_by=agent)
    client.force_login(agent)
    widget = _widget(client, reverse("tickets:console_detail", args=[ticket.number]))
    assert reverse("kb:ticket_search", args=[ticket.number]) in widget
    assert f'data-ticket="{ticket.number}"' in widget
    assert f"Articles found here can be linked to {ticket.number}." in widget


def test_elsewhere_the_widget_only_searches(client, agent):
    client.force_login(agent)
    widget = _widget(client, reverse("tickets:console"))
    assert reverse("kb:phone_search") in widget
    assert "data-ticket=" not in widget and 'data-testid="phone-kb-ticket"' not in widget


def test_results_open_in_a_new_tab_and_link_to_the_ticket(client, agent, publish):  # noqa: F811
    public = publish("VPN drops every hour", "Renew the certificate.")
    internal = publish("VPN gateway runbook", "Restart the gateway.", audience=Audience.INTERNAL)
    ticket = make_ticket(opened_by=agent)
    client.force_login(agent)
    url = reverse("kb:ticket_search", args=[ticket.number])
    results = client.get(url, {"q": "vpn"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-article="{public.pk}"' in results and f'data-article="{internal.pk}"' in results
    assert 'target="_blank"' in results
    assert reverse("kb:ticket_link", args=[ticket.number]) in results

    link = reverse("kb:ticket_link", args=[ticket.number])
    response = client.post(link, {"article": internal.pk})
    assert response.status_code == 302
    assert list(ticket.kb_links.values_list("article_id", flat=True)) == [internal.pk]
    again = client.get(url, {"q": "gateway runbook"}).content.decode()
    assert "Linked" in again


def test_drafts_are_not_found(client, agent, publish):  # noqa: F811
    from kb import services

    services.article_create(by=agent, title="VPN draft notes", body="Not reviewed.", summary="")
    client.force_login(agent)
    results = client.get(reverse("kb:phone_search"), {"q": "draft notes"}).content.decode()
    assert "No article matches." in results


def test_only_those_who_work_tickets_see_or_use_it(client, agent, end_user, change_board):
    ticket = make_ticket(opened_by=agent)
    for user in (end_user, change_board):
        client.force_login(user)
        page = client.get(reverse("tickets:console")).content.decode()
        assert 'data-testid="phone-kb' not in page
        assert client.get(reverse("kb:phone_search"), {"q": "vpn"}).status_code == 403
        search = client.get(reverse("kb:ticket_search", args=[ticket.number]), {"q": "vpn"})
        assert search.status_code in (403, 404)
