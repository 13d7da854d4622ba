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
