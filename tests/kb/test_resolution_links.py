"""An article linked to a ticket goes into its resolution: the notes name the public ones,
the caller's ticket page links them once the ticket is resolved."""

from __future__ import annotations

import pytest
from django.utils import translation

from kb import services
from kb.models import Audience
from tests.factories import make_ticket
from tickets import resolution
from tickets import services as ticket_services
from tickets.models import Status

pytestmark = pytest.mark.django_db


def _resolve(ticket, agent, notes="Reset the token."):
    ticket = ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    return ticket_services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes=notes)


@pytest.fixture
def ticket(end_user):
    end_user.person.language = "en"
    end_user.person.save(update_fields=["language"])
    return make_ticket(caller=end_user.person, title="VPN does not connect")


def test_resolving_names_the_linked_public_articles_in_the_notes(ticket, publish, agent):
    vpn = publish("VPN at home", "Open GlobalProtect.")
    internal = publish("VPN: unlock the account", "In the AD console.", audience=Audience.INTERNAL)
    draft = services.article_create(by=agent, title="VPN draft", body="Unreviewed.")
    for article in (vpn, internal):
        services.article_link_ticket(article=article, ticket=ticket, by=agent)
    # A link of an article since taken back to draft must not name it either.
    from kb.models import ArticleTicketLink

    ArticleTicketLink.objects.create(article=draft, ticket=ticket, linked_by=agent)

    ticket = _resolve(ticket, agent)

    assert ticket.status == Status.RESOLVED
    notes = ticket.resolution_notes
    assert notes.startswith("Reset the token.\n\n")
    assert f"{vpn.reference} “VPN at home”" in notes
    assert "unlock the account" not in notes and internal.reference not in notes
    assert "VPN draft" not in notes
    # The timeline's line and the event carry the same notes.
    assert ticket.timeline.filter(transition="resolve").get().note == notes


def test_an_article_the_agent_already_cited_is_not_named_twice(ticket, publish, agent):
    vpn = publish("VPN at home", "Open GlobalProtect.")
    printer = publish("Printer jam", "Open tray 2.")
    services.article_link_ticket(article=vpn, ticket=ticket, by=agent)
    cited = f"Reset the token, see {vpn.reference} “VPN at home”: http://testserver/kb/{vpn.pk}/"
    ticket = _resolve(ticket, agent, notes=cited)
    assert ticket.resolution_notes == cited
    # KB-1 cited does not hide KB-12 (nor the other way round).
    other = make_ticket(caller=ticket.caller, title="Printer")
    services.article_link_ticket(article=printer, ticket=other, by=agent)
    other = _resolve(other, agent, notes=f"See {printer.reference}0 and KB-{printer.pk}x")
    assert f"- {printer.reference} “Printer jam”" in other.resolution_notes


def test_without_linked_articles_the_notes_stay_as_written(ticket, agent):
    ticket = _resolve(ticket, agent, notes="  Rebooted.  ")
    assert ticket.resolution_notes == "Rebooted."


def test_the_lines_are_in_the_callers_language(ticket, publish, agent, monkeypatch):
    ticket.caller.language = "pl"
    ticket.caller.save(update_fields=["language"])
    vpn = publish("VPN w domu", "Otwórz GlobalProtect.", language="pl")
    services.article_link_ticket(article=vpn, ticket=ticket, by=agent)
    # The heading is translated in the language active while it is written.
    monkeypatch.setattr(services, "_", lambda text: f"[{translation.get_language()}] {text}")
    with translation.override("en"):
        ticket = _resolve(ticket, agent)
    assert "\n[pl] Articles in our knowledge base about this:\n" in ticket.resolution_notes


def test_a_failing_provider_does_not_stop_the_resolution(ticket, agent, monkeypatch):
    def broken(ticket, notes):
        raise RuntimeError("boom")

    monkeypatch.setattr(resolution, "_providers", [broken, *resolution._providers])
    ticket = _resolve(ticket, agent)
    assert ticket.status == Status.RESOLVED and ticket.resolution_notes == "Reset the token."


def test_the_caller_sees_the_public_articles_once_resolved(
    client, ticket, publish, agent, end_user
):
    vpn = publish("VPN at home", "Open GlobalProtect.", summary="Working from home")
    internal = publish("VPN: unlock the account", "In the AD console.", audience=Audience.INTERNAL)
    for article in (vpn, internal):
        services.article_link_ticket(article=article, ticket=ticket, by=agent)
    client.force_login(end_user)
    url = f"/tickets/{ticket.number}/"
    page = client.get(url).content.decode()
    assert 'data-testid="portal-kb-articles"' not in page  # not before it is resolved

    _resolve(ticket, agent)
    page = client.get(url).content.decode()
    assert 'data-testid="portal-kb-articles"' in page
    assert f'href="/kb/{vpn.pk}/"' in page and "Working from home" in page
    assert "unlock the account" not in page
    # The link leads to a page the caller may read; the internal one stays a 404.
    assert client.get(f"/kb/{vpn.pk}/").status_code == 200
    assert client.get(f"/kb/{internal.pk}/").status_code == 404


def test_the_agents_card_cites_public_articles_and_marks_internal_ones(
    client, ticket, publish, agent
):
    vpn = publish("VPN at home", "Open GlobalProtect.")
    internal = publish("VPN: unlock the account", "In the AD console.", audience=Audience.INTERNAL)
    for article in (vpn, internal):
        services.article_link_ticket(article=article, ticket=ticket, by=agent)
    client.force_login(agent)
    page = client.get(f"/console/tickets/{ticket.number}/").content.decode()
    assert page.count('data-testid="kb-cite"') == 1
    assert f'data-kb-cite="{vpn.reference}' in page
    assert f'data-kb-cite="{internal.reference}' not in page
