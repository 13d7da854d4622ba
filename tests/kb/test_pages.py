"""Pages: the portal's suggestions and deflections, the ticket page's search and links,
ratings, the managers' figures, and who may use what."""

from __future__ import annotations

import pytest

from kb import services
from kb.models import ArticleRating, ArticleTicketLink, Audience, Deflection
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def test_portal_suggests_only_public_published_articles(client, publish, agent, end_user):
    public = publish("Printer paper jam", "Open the rear door.")
    publish("Printer jam for agents", "Internal.", audience=Audience.INTERNAL)
    services.article_create(by=agent, title="Printer jam draft", body="Draft.")
    client.force_login(end_user)
    # The portal form sends its title field as it is.
    response = client.get("/kb/suggest/", {"title": "printer jam"})
    assert response.status_code == 200
    assert [hit.article.pk for hit in response.context["hits"]] == [public.pk]
    html = response.content.decode()
    assert "This solved my problem" in html and "No, file my ticket" in html
    assert client.get("/kb/suggest/", {"title": ""}).context["hits"] == []


def test_the_new_ticket_form_carries_the_suggestions_slot(client, end_user):
    client.force_login(end_user)
    html = client.get("/tickets/new/").content.decode()
    assert 'id="kb-suggestions"' in html and 'hx-include="#id_title"' in html
    assert "kb/suggest.js" in html


def test_this_solved_my_problem_counts_a_deflection_and_files_nothing(client, publish, end_user):
    from tickets.models import Ticket

    article = publish("Printer paper jam", "Open the rear door.")
    client.force_login(end_user)
    response = client.post(f"/kb/{article.pk}/solved/", {"q": "my printer jams"})
    assert response.status_code == 302 and response["Location"] == "/"
    deflection = Deflection.objects.get()
    assert (deflection.article, deflection.user, deflection.query) == (
        article,
        end_user,
        "my printer jams",
    )
    assert not Ticket.objects.exists()


def test_end_user_gets_404_for_internal_and_draft_articles(client, publish, agent, end_user):
    internal = publish("Agents", "Internal.", audience=Audience.INTERNAL)
    draft = services.article_create(by=agent, title="Draft", body="Draft.")
    client.force_login(end_user)
    for article in (internal, draft):
        assert client.get(f"/kb/{article.pk}/").status_code == 404
        assert client.post(f"/kb/{article.pk}/solved/").status_code == 404
        assert client.post(f"/kb/{article.pk}/rate/", {"helpful": "yes"}).status_code == 404
    assert not Deflection.objects.exists()


def test_rating_is_one_per_user_and_changeable(client, publish, end_user):
    article = publish("VPN", "Connect.")
    client.force_login(end_user)
    client.post(f"/kb/{article.pk}/rate/", {"helpful": "yes"})
    client.post(f"/kb/{article.pk}/rate/", {"helpful": "no"})
    assert list(ArticleRating.objects.values_list("user", "helpful")) == [(end_user.pk, False)]
    html = client.get(f"/kb/{article.pk}/").content.decode()
    assert 'value="no" type="submit" aria-pressed="true"' in html


def test_agent_searches_from_the_ticket_and_links_an_article(client, publish, agent, end_user):
    article = publish("VPN for agents", "Unlock first.", audience=Audience.INTERNAL)
    ticket = make_ticket(caller=end_user.person, title="VPN broken")
    client.force_login(agent)
    page = client.get(f"/console/tickets/{ticket.number}/").content.decode()
    assert 'data-testid="ticket-kb"' in page
    response = client.get(f"/kb/tickets/{ticket.number}/search/", {"q": "vpn"})
    assert [hit.article.pk for hit in response.context["hits"]] == [article.pk]
    response = client.post(f"/kb/tickets/{ticket.number}/link/", {"article": article.pk})
    assert response.status_code == 302
    client.post(f"/kb/tickets/{ticket.number}/link/", {"article": article.pk})
    assert ArticleTicketLink.objects.filter(ticket=ticket, article=article).count() == 1
    page = client.get(f"/console/tickets/{ticket.number}/").content.decode()
    assert 'data-testid="ticket-kb-links"' in page and "VPN for agents" in page
    client.post(f"/kb/tickets/{ticket.number}/unlink/", {"article": article.pk})
    assert not ArticleTicketLink.objects.exists()


def test_managers_see_most_used_least_helpful_and_deflections(
    client, publish, agent, manager, end_user, other_end_user, django_assert_max_num_queries
):
    vpn = publish("VPN", "Connect.")
    printer = publish("Printer", "Jam.")
    outlook = publish("Outlook", "Password prompt.")
    for number in range(3):
        ticket = make_ticket(caller=end_user.person, title=f"VPN {number}")
        services.article_link_ticket(article=vpn, ticket=ticket, by=agent)
    services.article_link_ticket(article=printer, ticket=ticket, by=agent)
    services.article_rate(article=outlook, by=end_user, helpful=False)
    services.article_rate(article=outlook, by=other_end_user, helpful=False)
    services.article_rate(article=printer, by=end_user, helpful=False)
    services.article_rate(article=printer, by=other_end_user, helpful=True)
    services.deflection_record(article=printer, by=end_user, query="printer")
    services.deflection_record(article=printer, by=other_end_user, query="jam")
    services.deflection_record(article=vpn, by=end_user, query="vpn")
    client.force_login(manager)
    with django_assert_max_num_queries(12):
        response = client.get("/kb/stats/")
    stats = response.context["stats"]
    assert [(a.title, a.uses) for a in stats["most_used"]] == [("VPN", 3), ("Printer", 1)]
    assert [(a.title, a.not_helpful, a.helpful) for a in stats["least_helpful"]] == [
        ("Outlook", 2, 0),
        ("Printer", 1, 1),
    ]
    assert [(a.title, a.deflected) for a in stats["deflections"]] == [("Printer", 2), ("VPN", 1)]
    assert stats["deflections_total"] == 3
    client.force_login(agent)
    assert client.get("/kb/stats/").status_code == 403


def test_index_and_search_pages_take_a_bounded_number_of_queries(
    client, publish, agent, end_user, django_assert_max_num_queries
):
    for number in range(20):
        publish(f"VPN guide {number}", "VPN steps.")
    client.force_login(end_user)
    with django_assert_max_num_queries(8):
        response = client.get("/kb/")
    assert len(response.context["articles"]) == 20
    with django_assert_max_num_queries(8):
        response = client.get("/kb/", {"q": "vpn guide"})
    assert len(response.context["hits"]) == 20
    client.force_login(agent)
    with django_assert_max_num_queries(12):
        response = client.get("/kb/")
    assert len(response.context["my_articles"]) == 20


def test_writer_creates_edits_and_submits_through_the_pages(client, agent, manager):
    client.force_login(agent)
    response = client.post(
        "/kb/new/",
        {"title": "Outlook asks for a password", "body": "Clear **credentials**.",
         "language": "en", "audience": "public"},
    )  # fmt: skip
    assert response.status_code == 302
    article_url = response["Location"]
    pk = int(article_url.rstrip("/").rsplit("/", 1)[1])
    response = client.post(
        f"/kb/{pk}/edit/",
        {"title": "Outlook asks for a password", "body": "Clear the *credentials*.",
         "language": "en", "audience": "public", "version": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    client.post(f"/kb/{pk}/workflow/submit/")
    html = client.get(article_url).content.decode()
    assert "In review" in html and "<em>credentials</em>" in html
    # The author may not publish: the page does not offer it and the server refuses it.
    assert 'data-transition="publish"' not in html
    client.post(f"/kb/{pk}/workflow/publish/")
    assert "In review" in client.get(article_url).content.decode()
    client.force_login(manager)
    assert 'data-transition="publish"' in client.get(article_url).content.decode()
    client.post(f"/kb/{pk}/workflow/publish/")
    assert "Published" in client.get(article_url).content.decode()
