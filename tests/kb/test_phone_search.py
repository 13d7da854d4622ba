"""The knowledge base in the telephone widget: agents search during a call, beside the
call cards, on every console page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kb.models import Audience

pytestmark = pytest.mark.django_db


def test_the_widget_offers_the_search_on_console_pages(client, agent):
    client.force_login(agent)
    page = client.get(reverse("tickets:console")).content.decode()
    widget = page.split('id="cti-console"')[1]
    assert 'data-testid="phone-kb-search"' in widget
    assert reverse("kb:phone_search") in widget


def test_agents_find_internal_and_public_articles_linked_to_open_in_a_new_tab(
    client, agent, publish
):
    public = publish("VPN drops every hour", "Renew the certificate.")
    internal = publish("VPN gateway runbook", "Restart the gateway.", audience=Audience.INTERNAL)
    client.force_login(agent)
    page = client.get(reverse("kb:phone_search"), {"q": "vpn"}).content.decode()
    assert f'data-article="{public.pk}"' in page and f'data-article="{internal.pk}"' in page
    assert 'target="_blank"' in page
    none = client.get(reverse("kb:phone_search"), {"q": "zzzqqq"}).content.decode()
    assert "No article matches." in none


def test_only_those_who_work_tickets_use_it(client, end_user, change_board):
    for user in (end_user, change_board):
        client.force_login(user)
        assert client.get(reverse("kb:phone_search"), {"q": "vpn"}).status_code == 403
