import pytest

from kb import services
from kb.models import Audience


@pytest.fixture
def publish(agent, manager):
    """Write an article as ``agent`` and publish it as ``manager``: ``publish(title, body)``."""

    def make(title, body, *, audience=Audience.PUBLIC, language="en", summary="", **fields):
        article = services.article_create(
            by=agent,
            title=title,
            body=body,
            summary=summary,
            audience=audience,
            language=language,
            **fields,
        )
        services.article_transition(article=article, by=agent, name="submit")
        return services.article_transition(article=article, by=manager, name="publish")

    return make
