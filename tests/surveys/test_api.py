"""The survey API: managers and administrators read the responses (filtered) and the
results, and note the follow-up of a response; everyone else gets 403, as on the pages;
constant query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from surveys import selectors, services
from surveys.models import SurveyInvitation, SurveyResponse
from tests.factories import PersonFactory, ServiceFactory

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
LIST = "/api/surveys/responses/"
RESULTS = "/api/surveys/results/"


def detail(pk) -> str:
    return f"/api/surveys/responses/{pk}/"


def _answers(questions, rating):
    return {questions[0].pk: rating, questions[1].pk: rating > 2, questions[2].pk: "Fine"}


@pytest.fixture
def respond(config, questions, close_ticket, committed):
    """A closed ticket's survey answered with ``rating``: the response."""

    def respond(rating: int, **ticket_fields) -> SurveyResponse:
        ticket = close_ticket(PersonFactory(), **ticket_fields)
        with committed():
            services.invitations_send_due(now=ticket.closed_at + 3 * H)
        invitation = SurveyInvitation.objects.get(ticket=ticket)
        return services.response_submit(
            invitation=invitation,
            answers=_answers(questions, rating),
            comment="Slow" if rating <= 2 else "",
        )

    return respond


@pytest.fixture
def as_manager(manager):
    client = APIClient()
    client.force_login(manager)
    return client


@pytest.fixture
def services_(first_line):
    return ServiceFactory(name="E-mail", owner_group=first_line), ServiceFactory(
        name="VPN", owner_group=first_line
    )


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- the list and its filters --------------------------------------------------------------


def test_a_manager_lists_the_responses_newest_first_with_filters(
    as_manager, respond, services_, first_line, agent, manager
):
    mail, vpn = services_
    good = respond(5, service=mail, group=first_line)
    fine = respond(4, service=vpn)
    bad = respond(1, service=mail)
    poor = respond(2, service=vpn)
    assert _ids(as_manager.get(LIST)) == [poor.pk, bad.pk, fine.pk, good.pk]
    assert _ids(as_manager.get(LIST, {"rating": 1})) == [bad.pk]
    assert _ids(as_manager.get(LIST, {"low": "true"})) == [poor.pk, bad.pk]
    assert _ids(as_manager.get(LIST, {"low": "false"})) == [fine.pk, good.pk]
    assert _ids(as_manager.get(LIST, {"service": mail.pk})) == [bad.pk, good.pk]
    assert _ids(as_manager.get(LIST, {"agent": agent.pk})) == [poor.pk, bad.pk, fine.pk, good.pk]
    assert _ids(as_manager.get(LIST, {"agent": manager.pk})) == []
    group_ids = _ids(as_manager.get(LIST, {"group": first_line.pk}))
    assert good.pk in group_ids
    assert _ids(as_manager.get(LIST, {"period": "7d"})) == [poor.pk, bad.pk, fine.pk, good.pk]
    long_ago = {"period": "custom", "date_from": "2020-01-01", "date_to": "2020-01-31"}
    assert _ids(as_manager.get(LIST, long_ago)) == []
    today = timezone.localdate().isoformat()
    assert len(_ids(as_manager.get(LIST, {**long_ago, "date_from": today, "date_to": today}))) == 4
    services.follow_up_note_set(response=bad, by=manager, note="Called back")
    assert _ids(as_manager.get(LIST, {"low": "true", "followed_up": "false"})) == [poor.pk]
    assert _ids(as_manager.get(LIST, {"followed_up": "true"})) == [bad.pk]
    row = as_manager.get(LIST, {"rating": 1}).json()["results"][0]
    assert row["ticket"] == bad.invitation.ticket.number
    assert row["is_low"] is True and row["lowest_rating"] == 1 and row["comment"] == "Slow"
    assert row["agent"]["id"] == agent.pk
    assert row["service"] == {"id": mail.pk, "name": "E-mail"}
    assert row["follow_up_note"] == "Called back"
    assert row["follow_up_by"]["id"] == manager.pk
    assert "answers" not in row


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"period": "custom"}, "date_from"),
        ({"period": "custom", "date_from": "2026-01-01"}, "date_to"),
        ({"period": "custom", "date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"period": "custom", "date_from": "2024-01-01", "date_to": "2026-01-01"}, "date_to"),
        ({"period": "year"}, "period"),
        ({"rating": "9"}, "rating"),
        ({"low": "maybe"}, "low"),
        ({"agent": "x"}, "agent"),
        ({"service": "0"}, "service"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(as_manager, config, query, named):
    for url in (LIST, RESULTS):
        if url == RESULTS and named in {"rating", "low"}:
            continue
        response = as_manager.get(url, query)
        assert response.status_code == 400, (url, query)
        assert named in response.json(), (url, response.json())


# --- one response and its follow-up ------------------------------------------------------------


def test_a_manager_reads_one_response_with_its_answers(as_manager, respond, questions):
    bad = respond(1)
    body = as_manager.get(detail(bad.pk)).json()
    assert body["id"] == bad.pk and body["score"] == 1.0 and body["is_low"] is True
    assert [(a["question"], a["kind"]) for a in body["answers"]] == [
        (questions[0].pk, "rating"),
        (questions[1].pk, "yes_no"),
        (questions[2].pk, "text"),
    ]
    assert [a["rating"] for a in body["answers"]] == [1, None, None]
    assert body["answers"][1]["yes_no"] is False and body["answers"][2]["text"] == "Fine"
    assert body["answers"][0]["question_text"] == "How satisfied are you?"
    assert body["follow_up_note"] == "" and body["follow_up_by"] is None
    assert as_manager.get(detail(999999)).status_code == 404
    assert as_manager.get(detail(2**63)).status_code == 404


def test_a_manager_notes_the_follow_up_of_a_low_rating(as_manager, respond, manager):
    bad = respond(2)
    response = as_manager.patch(
        detail(bad.pk), {"follow_up_note": "  Called, apologised.  "}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["follow_up_note"] == "Called, apologised."
    assert body["follow_up_by"]["id"] == manager.pk and body["follow_up_at"]
    assert body["answers"]
    bad.refresh_from_db()
    assert (bad.follow_up_note, bad.follow_up_by) == ("Called, apologised.", manager)
    # Refused, naming the field, and nothing changed.
    for wrong in ({"follow_up_note": "  "}, {"follow_up_note": "x" * 2001}):
        refused = as_manager.patch(detail(bad.pk), wrong, format="json")
        assert refused.status_code == 400 and "follow_up_note" in refused.json()
    # Nothing to change: the response as it is.
    same = as_manager.patch(detail(bad.pk), {}, format="json")
    assert same.status_code == 200 and same.json()["follow_up_note"] == "Called, apologised."
    bad.refresh_from_db()
    assert bad.follow_up_note == "Called, apologised."
    assert (
        as_manager.patch(detail(999999), {"follow_up_note": "x"}, format="json").status_code == 404
    )
    assert as_manager.put(detail(bad.pk), {"follow_up_note": "x"}, format="json").status_code == 405
    # Only a low rating is followed up.
    good = respond(4)
    refused = as_manager.patch(detail(good.pk), {"follow_up_note": "Thanked"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["follow_up_note"] == ["Only a response with a low rating is followed up."]
    good.refresh_from_db()
    assert good.follow_up_note == "" and good.follow_up_at is None


def test_the_results_page_refuses_a_note_on_a_response_without_a_low_rating(
    client, respond, manager
):
    good = respond(5)
    client.force_login(manager)
    page = client.post(
        reverse("surveys:follow_up", args=[good.pk]), {"note": "Thanked them"}, follow=True
    )
    assert "Only a response with a low rating is followed up." in page.content.decode()
    good.refresh_from_db()
    assert good.follow_up_note == "" and good.follow_up_at is None


def test_administrators_may_too(as_admin, respond):
    bad = respond(1)
    assert _ids(as_admin.get(LIST)) == [bad.pk]
    response = as_admin.patch(detail(bad.pk), {"follow_up_note": "Done"}, format="json")
    assert response.status_code == 200
    assert as_admin.get(RESULTS).json()["summary"]["count"] == 1


def test_end_users_and_agents_get_403_and_strangers_401(api, respond, end_user, agent):
    bad = respond(1)
    calls = [
        ("get", LIST, None),
        ("get", RESULTS, None),
        ("get", detail(bad.pk), None),
        ("get", detail(999999), None),
        ("patch", detail(bad.pk), {"follow_up_note": "Mine"}),
    ]
    for method, url, data in calls:
        assert getattr(api, method)(url, data, format="json").status_code == 401, url
    for user in (end_user, agent):
        api.force_login(user)
        for method, url, data in calls:
            response = getattr(api, method)(url, data, format="json")
            assert response.status_code == 403, (user, url)
    bad.refresh_from_db()
    assert bad.follow_up_note == ""


# --- the results ------------------------------------------------------------------------------


def test_the_results_are_the_pages_figures(as_manager, respond, services_, agent, first_line):
    mail, vpn = services_
    for rating, service in [(5, mail), (4, mail), (1, vpn)]:
        respond(rating, service=service, group=first_line)
    body = as_manager.get(RESULTS).json()
    assert body["low_rating_threshold"] == 2
    assert body["summary"] == {"count": 3, "score": pytest.approx(3.33, abs=0.01), "low": 1,
                               "followed_up": 0}  # fmt: skip
    assert [(r["key"], r["count"]) for r in body["by_agent"]] == [(agent.pk, 3)]
    assert body["by_agent"][0]["label"]
    assert [(r["label"], r["count"], r["score"]) for r in body["by_service"]] == [
        ("E-mail", 2, 4.5),
        ("VPN", 1, 1.0),
    ]
    assert [(r["key"], r["count"]) for r in body["by_group"]] == [(first_line.pk, 3)]
    # The same as the selectors the page reads.
    narrowed = as_manager.get(RESULTS, {"service": vpn.pk, "period": "90d"}).json()
    assert narrowed["summary"]["count"] == 1 and narrowed["summary"]["low"] == 1
    today = timezone.localdate()
    filters = selectors.ResultsFilter(
        start=timezone.make_aware(
            timezone.datetime.combine(today - timedelta(days=89), timezone.datetime.min.time())
        ),
        end=timezone.make_aware(
            timezone.datetime.combine(today + timedelta(days=1), timezone.datetime.min.time())
        ),
        service_id=vpn.pk,
    )
    assert narrowed["summary"] == selectors.summary(filters, low=2)
    empty = as_manager.get(RESULTS, {"agent": 999}).json()
    assert empty["summary"] == {"count": 0, "score": None, "low": 0, "followed_up": 0}
    assert empty["by_agent"] == empty["by_group"] == empty["by_service"] == []


# --- query counts ---------------------------------------------------------------------------------


def _count(client, method, url, data=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data, format="json")
    assert response.status_code == 200, (url, response.content)
    return len(captured.captured_queries)


def test_query_counts_do_not_grow_with_the_data(
    as_manager, respond, services_, first_line, django_assert_max_num_queries
):
    mail, vpn = services_
    first = respond(1, service=mail, group=first_line)
    respond(5, service=vpn)
    # Warm the permission cache (on the Redis run the first request reads the permissions).
    as_manager.get(LIST)
    as_manager.get(RESULTS)
    small = {
        "list": _count(as_manager, "get", LIST),
        "detail": _count(as_manager, "get", detail(first.pk)),
        "results": _count(as_manager, "get", RESULTS),
        "patch": _count(as_manager, "patch", detail(first.pk), {"follow_up_note": "Called"}),
    }
    for rating in (2, 3, 4, 1, 5, 2):
        respond(rating, service=vpn if rating > 2 else mail, group=first_line)
    large = {
        "list": _count(as_manager, "get", LIST),
        "detail": _count(as_manager, "get", detail(first.pk)),
        "results": _count(as_manager, "get", RESULTS),
        "patch": _count(as_manager, "patch", detail(first.pk), {"follow_up_note": "Again"}),
    }
    assert large == small, (small, large)
    with django_assert_max_num_queries(8):
        as_manager.get(LIST)
    with django_assert_max_num_queries(8):
        as_manager.get(detail(first.pk))
    with django_assert_max_num_queries(10):
        as_manager.get(RESULTS)
    with django_assert_max_num_queries(14):
        as_manager.patch(detail(first.pk), {"follow_up_note": "Once more"}, format="json")


# --- the schema ---------------------------------------------------------------------------------


def test_the_schema_describes_the_survey_operations(as_manager):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert set(paths[LIST]) == {"get"}
    assert set(paths["/api/surveys/responses/{id}/"]) == {"get", "patch"}
    assert set(paths[RESULTS]) == {"get"}
    parameters = {p["name"] for p in paths[LIST]["get"]["parameters"]}
    assert {"period", "date_from", "date_to", "agent", "group", "service", "rating", "low",
            "page", "page_size"} <= parameters  # fmt: skip
    results_parameters = {p["name"] for p in paths[RESULTS]["get"]["parameters"]}
    assert {"period", "date_from", "date_to", "agent", "group", "service"} <= results_parameters
    patch = paths["/api/surveys/responses/{id}/"]["patch"]
    assert {"200", "400", "401", "403", "404"} <= set(patch["responses"])
