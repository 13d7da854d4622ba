import io

import pytest

from kb import demo, selectors
from kb.models import Article, Audience, State
from tests.factories import ServiceFactory


@pytest.mark.django_db
def test_demo_publishes_english_and_polish_articles_once(agent, manager, end_user):
    ServiceFactory(name="VPN & remote access")
    out = io.StringIO()
    demo.seed(stdout=out)
    assert f"{len(demo.ARTICLES)} articles created" in out.getvalue()
    assert Article.objects.filter(state=State.PUBLISHED).count() == len(demo.ARTICLES)
    assert set(Article.objects.values_list("language", flat=True)) == {"en", "pl"}
    assert Article.objects.filter(audience=Audience.INTERNAL).exists()
    polish_vpn = Article.objects.get(title="Połączenie z VPN z domu")
    assert polish_vpn.translation_of.title == "Connect to the VPN from home"
    assert polish_vpn.services.get().name == "VPN & remote access"
    # The owner's page has a review to do; an end user finds the public VPN articles.
    assert [a.title for a in selectors.owner_reviews_due(agent)] == ["Connect to the VPN from home"]
    found = {hit.article.title for hit in selectors.article_search(end_user, "vpn", limit=20)}
    assert found == {"Connect to the VPN from home", "Połączenie z VPN z domu"}
    demo.seed(stdout=out)
    assert "0 articles created" in out.getvalue()
    assert Article.objects.count() == len(demo.ARTICLES)
