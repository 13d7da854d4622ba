from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from changes import services
from tests.changes.conftest import make_change


@pytest.mark.django_db
def test_feed_url_serves_the_owners_changes_until_revoked(client, end_user, other_end_user):
    mine = make_change(requester=end_user.person, by=end_user, title="Move my desk phone")
    theirs = make_change(requester=other_end_user.person, by=other_end_user)
    old = make_change(
        requester=end_user.person,
        by=end_user,
        planned_start=timezone.now() - timedelta(days=200),
        planned_end=timezone.now() - timedelta(days=199),
    )
    token, key = services.calendar_feed_token_create(user=end_user)
    response = client.get(f"/changes/feed/{key}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    summaries = {
        str(event["SUMMARY"]) for event in Calendar.from_ical(response.content).walk("VEVENT")
    }
    assert summaries == {f"{mine.number} Move my desk phone"}
    assert theirs.number not in response.content.decode() and old.number not in summaries
    services.calendar_feed_token_revoke(token=token, by=end_user)
    assert client.get(f"/changes/feed/{key}.ics").status_code == 404


@pytest.mark.django_db
def test_feed_made_listed_and_revoked_through_the_api(end_user, other_end_user):
    from rest_framework.test import APIClient

    mine = make_change(requester=end_user.person, by=end_user, title="Dock for my laptop")
    client = APIClient()
    client.force_login(end_user)
    made = client.post("/api/calendar-feeds/", format="json")
    assert made.status_code == 201
    url = made.json()["url"]
    assert url.startswith("http://testserver/changes/feed/") and url.endswith(".ics")
    listed = client.get("/api/calendar-feeds/").json()["results"]
    assert [row["id"] for row in listed] == [made.json()["id"]] and "url" not in listed[0]
    assert mine.number in client.get(url).content.decode()
    stranger = APIClient()
    stranger.force_login(other_end_user)
    assert stranger.delete(f"/api/calendar-feeds/{made.json()['id']}/").status_code == 404
    assert client.delete(f"/api/calendar-feeds/{made.json()['id']}/").status_code == 204
    assert APIClient().get(url).status_code == 404
