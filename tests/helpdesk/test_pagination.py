"""API pagination: totals are capped so a broad filter over a million rows stays cheap."""

import pytest

from helpdesk.api_support import ApiPaginator
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def test_exact_count_below_the_cap(as_agent):
    api = as_agent
    for _ in range(3):
        make_ticket()
    body = api.get("/api/tickets/", {"page_size": 2}).json()
    assert body["count"] == 3
    assert body["count_is_exact"] is True
    assert len(body["results"]) == 2
    assert body["next"]


def test_count_stops_at_the_cap_and_says_so(as_agent, monkeypatch):
    api = as_agent
    monkeypatch.setattr(ApiPaginator, "cap", 2)
    for _ in range(4):
        make_ticket()
    body = api.get("/api/tickets/", {"page_size": 1}).json()
    assert body["count"] == 2
    assert body["count_is_exact"] is False
    # The pages that exist under the cap are still served.
    assert api.get("/api/tickets/", {"page_size": 1, "page": 2}).status_code == 200
