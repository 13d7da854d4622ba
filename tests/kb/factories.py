"""Knowledge-base objects for tests of other parts (the access matrix's world)."""

from kb import services
from kb.models import Audience


def kb_articles(*, author, publisher) -> dict[str, int]:
    """A published public article, a published internal one and a draft: their ids."""
    made = {}
    for key, audience in (("article", Audience.PUBLIC), ("internal_article", Audience.INTERNAL)):
        article = services.article_create(
            by=author, title=f"VPN {key}", body="Connect with GlobalProtect.", audience=audience
        )
        services.article_transition(article=article, by=author, name="submit")
        services.article_transition(article=article, by=publisher, name="publish")
        made[key] = article.pk
    made["draft_article"] = services.article_create(
        by=author, title="VPN draft", body="Not reviewed."
    ).pk
    return made
