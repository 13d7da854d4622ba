"""The change API: the 400 / 403 / 404 / 409 contract of the ticket API, votes, the calendar
range, no query per row."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from changes import services
from changes.models import Change, Quorum, State
from tests.changes.conftest import add_rule, make_change

WARSAW = ZoneInfo("Europe/Warsaw")


def _client(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_end_user_creates_for_themselves_and_sees_only_their_own(end_user, other_end_user, agent):
    mine = _client(end_user).post(
        "/api/changes/", {"title": "New laptop model for sales"}, format="json"
    )
    assert mine.status_code == 201, mine.json()
    body = mine.json()
    assert body["requester"]["id"] == end_user.person.pk
    assert (body["state"], body["version"]) == ("draft", 1)
    assert body["available_transitions"] == ["submit", "withdraw"]
    refused = _client(end_user).post(
        "/api/changes/",
        {"title": "For someone else", "requester": other_end_user.person.pk},
        format="json",
    )
    assert refused.status_code == 400 and "requester" in refused.json()
    for_other = _client(agent).post(
        "/api/changes/",
        {"title": "Replace the VPN concentrator", "requester": other_end_user.person.pk},
        format="json",
    )
    assert for_other.status_code == 201
    listed = _client(end_user).get("/api/changes/").json()
    assert [row["number"] for row in listed["results"]] == [body["number"]]
    assert _client(other_end_user).get(f"/api/changes/{body['number']}/").status_code == 404
    assert _client(agent).get("/api/changes/").json()["count"] == 2


@pytest.mark.django_db
def test_update_with_a_stale_version_is_a_409(end_user, engineer):
    change = make_change(requester=end_user.person, by=end_user)
    client = _client(engineer)
    url = f"/api/changes/{change.number}/"
    done = client.patch(url, {"version": 1, "budget_line": "IT-27"}, format="json")
    assert done.status_code == 200 and done.json()["version"] == 2
    stale = client.patch(url, {"version": 1, "budget_line": "IT-28"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    missing = client.patch(url, {"budget_line": "IT-28"}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()
    bad_window = client.patch(
        url, {"version": 2, "planned_end": change.planned_start.isoformat()}, format="json"
    )
    assert bad_window.status_code == 400 and "planned_end" in bad_window.json()


@pytest.mark.django_db
def test_transitions_and_votes_through_the_api(board, end_user, engineer):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.COUNT, "quorum_value": 2}])
    change = make_change(requester=end_user.person, by=end_user)
    base = f"/api/changes/{change.number}"
    as_requester, as_engineer = _client(end_user), _client(engineer)
    refused = as_requester.post(f"{base}/transitions/assess/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["allowed_transitions"] == ["submit", "withdraw"]
    assert (
        as_requester.post(f"{base}/transitions/submit/", {"version": 1}, format="json").status_code
        == 200
    )
    assert as_engineer.post(f"{base}/transitions/assess/", {}, format="json").status_code == 200
    sent = as_engineer.post(f"{base}/transitions/request_approval/", {}, format="json")
    assert sent.status_code == 200
    step = sent.json()["approvals"][0]
    assert (step["state"], step["approver_count"], step["required"]) == ("open", 3, 2)
    no_reason = _client(board[0]).post(f"{base}/votes/", {"decision": "reject"}, format="json")
    assert no_reason.status_code == 400 and "comment" in no_reason.json()
    assert (
        _client(engineer).post(f"{base}/votes/", {"decision": "approve"}, format="json").status_code
        == 403
    )
    first = _client(board[0]).post(f"{base}/votes/", {"decision": "approve"}, format="json")
    assert first.status_code == 201 and first.json()["state"] == "awaiting_approval"
    assert first.json()["approvals"][0]["is_my_turn"] is True
    second = _client(board[1]).post(
        f"{base}/votes/", {"decision": "approve", "comment": "Fine"}, format="json"
    )
    assert second.status_code == 201 and second.json()["state"] == "approved"
    late = _client(board[2]).post(f"{base}/votes/", {"decision": "approve"}, format="json")
    assert late.status_code == 409
    # The requester reads the decision and its reasons.
    seen = as_requester.get(f"{base}/").json()
    assert [v["comment"] for v in seen["approvals"][0]["votes"]] == ["", "Fine"]
    timeline = as_requester.get(f"{base}/timeline/").json()["results"]
    assert [row["transition"] for row in timeline if row["kind"] == "transition"] == [
        "submit",
        "assess",
        "request_approval",
        "approve",
    ]
    assert {row["approval"] for row in timeline if row["kind"] == "vote"} == {"step 1"}
    finish = as_engineer.post(f"{base}/transitions/finish/", {"code": "nonsense"}, format="json")
    assert finish.status_code == 409  # not open now: refused before the input is read
    scheduled = as_engineer.post(f"{base}/transitions/schedule/", {}, format="json")
    assert scheduled.status_code == 200 and scheduled.json()["state"] == "scheduled"


@pytest.mark.django_db
def test_calendar_range_and_filters(end_user, engineer, service):
    def booked(day, hour, **fields):
        start = datetime(2027, 6, day, hour, tzinfo=WARSAW)
        return make_change(
            requester=end_user.person,
            by=engineer,
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            **fields,
        )

    inside = booked(10, 9, services=[service])
    touching = booked(9, 22)  # ends at 00:00 on the 10th, where the range starts
    booked(12, 9)
    client = _client(engineer)
    rows = client.get(
        "/api/changes/",
        {"planned_from": "2027-06-10T00:00:00+02:00", "planned_to": "2027-06-11T00:00:00+02:00"},
    ).json()["results"]
    assert [row["number"] for row in rows] == [inside.number]
    assert touching.number not in {row["number"] for row in rows}
    assert rows[0]["conflicts"] is None  # only on a single change
    by_service = client.get("/api/changes/", {"service": service.pk}).json()["results"]
    assert [row["number"] for row in by_service] == [inside.number]
    assert client.get("/api/changes/", {"state": "nonsense"}).status_code == 400
    assert client.get("/api/changes/", {"planned_from": "yesterday"}).status_code == 400
    assert client.get("/api/changes/", {"awaiting_my_vote": "maybe"}).status_code == 400


@pytest.mark.django_db
def test_detail_shows_conflicts_to_staff_only(end_user, engineer, service):
    start = datetime(2027, 6, 10, 9, tzinfo=WARSAW)
    other = make_change(
        requester=end_user.person,
        by=engineer,
        planned_start=start,
        planned_end=start + timedelta(hours=2),
        services=[service],
    )
    Change.objects.filter(pk=other.pk).update(state=State.SCHEDULED)
    mine = make_change(
        requester=end_user.person,
        by=end_user,
        planned_start=start + timedelta(hours=1),
        planned_end=start + timedelta(hours=3),
        services=[service],
    )
    staff = _client(engineer).get(f"/api/changes/{mine.number}/").json()
    assert staff["conflicts"] == {"changes": [other.number], "freezes": []}
    requester = _client(end_user).get(f"/api/changes/{mine.number}/").json()
    assert requester["conflicts"] == {"changes": [], "freezes": []}


@pytest.mark.django_db
def test_list_makes_no_query_per_row(
    board, end_user, engineer, service, django_assert_max_num_queries
):
    add_rule(steps=[{"change_board": True, "quorum": Quorum.ANY}])
    for n in range(6):
        change = make_change(requester=end_user.person, by=end_user, services=[service])
        if n % 2:
            services.change_submit(change=change, by=engineer)
            services.change_assess(change=change, by=engineer)
            services.change_request_approval(change=change, by=engineer)
    client = _client(engineer)
    client.get("/api/changes/")  # session and user warm
    # Session, user, permissions (3), count, page, one prefetch each for services, sites,
    # tickets, category, approvals, approvers, votes: the same for 6 rows as for 1.
    with django_assert_max_num_queries(13):
        rows = client.get("/api/changes/").json()["results"]
    assert len(rows) == 6
