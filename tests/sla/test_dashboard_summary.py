"""The dashboard's day summary: the same figures as the base rows, rebuilt by beat, its age
on the page, and the base rows where it cannot answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sla import reports, summary, tasks
from sla.models import DashboardRefresh, DashboardTicketDay
from tests.sla import test_dashboard
from tests.sla.test_dashboard import URL, _default_filter, _more_data, _ticket
from tickets.models import Channel, Status

pytestmark = pytest.mark.django_db
world = test_dashboard.world  # the data of the figures
H = timedelta(hours=1)
PERIOD_FIGURES = [
    "compliance",
    "resolution_times",
    "ticket_rates",
    "agent_scorecards",
    "call_figures",
    "calls_heatmap",
]


def _rounded(value):
    """Means from sums and from ``AVG`` may differ in the last microsecond."""
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def _refresh(days=31, now=None):
    return summary.dashboard_summary_refresh_recent(days=days, now=now)


def _narrowings(world):
    return [
        {},
        {"period": "30d"},
        {"period": "today"},
        {"group": world["queue"].support_group_id},
        {"site": world["t3"].caller.site_id},
        {"service": world["service"].pk},
        {"channel": Channel.PHONE},
    ]


def test_summary_figures_equal_the_base_rows_figures(world):
    _refresh()
    for narrowing in _narrowings(world):
        filters = _default_filter(**narrowing)
        assert summary.summary_as_of(filters) is not None, narrowing
        for name in PERIOD_FIGURES:
            from_summary = getattr(summary, name)(filters)
            from_rows = getattr(reports, name)(filters)
            assert _rounded(from_summary) == _rounded(from_rows), (name, narrowing)
        for dimension in ("channel", "service", "category"):
            assert summary.tickets_by(filters, dimension) == reports.tickets_by(
                filters, dimension
            ), (dimension, narrowing)


def test_summary_holds_what_the_world_has(world):
    _refresh()
    filters = _default_filter()
    rates = summary.ticket_rates(filters)
    assert (rates["resolved"], rates["first_contact"], rates["reopens"]) == (3, 1, 1)
    assert rates["transfers"] == 2
    compliance = {row["target"]: row for row in summary.compliance(filters)}
    assert (compliance["resolution"]["met"], compliance["resolution"]["breached"]) == (2, 1)
    calls = summary.call_figures(filters)
    assert (calls["total"], calls["answered"], calls["missed"]) == (9, 5, 2)


def test_the_page_reads_the_summary_and_says_as_of_when(client, manager, world):
    client.force_login(manager)
    live = client.get(URL).context["figures"]
    assert live["as_of"] is None
    rebuilt = timezone.now() - timedelta(minutes=3)
    _refresh(now=rebuilt)
    response = client.get(URL)
    figures = response.context["figures"]
    assert figures["as_of"] == rebuilt
    for name, table in live["tables"].items():
        assert _rounded(figures["tables"][name].values()) == _rounded(table.values()), name
    html = response.content.decode()
    local = timezone.localtime(rebuilt).strftime("%H:%M")
    assert 'data-testid="dashboard-as-of"' in html
    assert f"as of {local}" in html


def test_new_events_show_after_the_next_rebuild(world, first_line):
    _refresh()
    filters = _default_filter()
    before = summary.ticket_rates(filters)["resolved"]
    now = timezone.now()
    _ticket(first_line, status=Status.RESOLVED, created_at=now - 2 * H, resolved_at=now)
    assert summary.ticket_rates(filters)["resolved"] == before
    assert reports.ticket_rates(filters)["resolved"] == before + 1
    _refresh(days=2)
    assert summary.ticket_rates(filters)["resolved"] == before + 1


def test_beat_task_rebuilds_today_and_yesterday(world):
    schedule = settings.CELERY_BEAT_SCHEDULE["sla-dashboard-summary"]
    assert schedule["task"] == tasks.refresh_dashboard_summary.name
    tasks.refresh_dashboard_summary(days=2)
    today = timezone.localdate()
    assert set(DashboardRefresh.objects.values_list("day", flat=True)) == {
        today,
        today - timedelta(days=1),
    }
    rows = DashboardTicketDay.objects.count()
    tasks.refresh_dashboard_summary(days=2)  # idempotent: days are replaced, not added to
    assert DashboardTicketDay.objects.count() == rows
    assert DashboardRefresh.objects.count() == 2
    # Seven days are not all summarised: the figures come from the base rows.
    assert summary.summary_as_of(_default_filter()) is None
    assert summary.summary_as_of(_default_filter(period="today")) is not None


def test_a_reader_in_another_time_zone_gets_the_base_rows(world):
    _refresh()
    with timezone.override("America/New_York"):
        assert summary.summary_as_of(_default_filter()) is None


def test_as_of_is_the_oldest_rebuild_of_an_unfinished_day(world):
    now = timezone.now()
    _refresh(now=now - timedelta(hours=2))
    _refresh(days=1, now=now)
    # Earlier days were rebuilt after they ended; today only an instant ago.
    assert summary.summary_as_of(_default_filter()) == now


def test_query_count_from_the_summary_does_not_grow_with_data(client, manager, world, agent):
    client.force_login(manager)
    _refresh()
    client.get(URL)

    def count() -> int:
        cache.clear()  # the medians are read from the base rows each time
        with CaptureQueriesContext(connection) as context:
            response = client.get(URL)
        assert response.context["figures"]["as_of"] is not None
        return len(context.captured_queries)

    before = count()
    for round_ in range(2):
        _more_data(round_, None, agent)
    _refresh(days=2)
    assert count() == before < 40


def test_snapshot_backlog_and_breaches_equal_the_base_rows(world):
    now = timezone.now()
    summary.dashboard_snapshot_refresh(now=now)
    for narrowing in _narrowings(world):
        filters = _default_filter(**narrowing)
        assert summary.backlog(filters) == reports.backlog(filters), narrowing
        assert summary.breaches(filters) == reports.breaches(filters, now=now), narrowing
    assert summary.backlog(_default_filter())["total"] == 3
    breached = {row["target"]: row for row in summary.breaches(_default_filter())}
    assert breached["resolution"]["breached"] == 1 and breached["resolution"]["near"] == 1


def test_beat_task_takes_the_snapshot_and_the_page_says_when(client, manager, world):
    schedule = settings.CELERY_BEAT_SCHEDULE["sla-dashboard-snapshot"]
    assert schedule["task"] == tasks.refresh_dashboard_snapshot.name
    tasks.refresh_dashboard_snapshot()
    tasks.refresh_dashboard_snapshot()  # replaces, does not add
    assert summary.backlog(_default_filter())["total"] == 3
    client.force_login(manager)
    response = client.get(URL)
    taken_at = response.context["figures"]["now_as_of"]
    assert taken_at is not None
    html = response.content.decode()
    assert 'data-testid="dashboard-now-as-of"' in html
    assert timezone.localtime(taken_at).strftime("%H:%M:%S") in html


def test_an_old_snapshot_is_not_used(world, settings):
    settings.SLA_DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS = 600
    summary.dashboard_snapshot_refresh(now=timezone.now() - timedelta(minutes=11))
    assert summary.snapshot_taken_at() is None


def test_medians_are_cached_until_the_next_rebuild(world, first_line):
    _refresh()
    filters = _default_filter()
    before = summary.resolution_times(filters)
    assert _rounded(before) == _rounded(reports.resolution_times(filters))
    now = timezone.now()
    for _n in range(2):  # 2, 10, 30, 100, 100 hours: the median moves from 10 to 30
        _ticket(first_line, status=Status.RESOLVED, created_at=now - 100 * H, resolved_at=now)
    assert summary.resolution_times(filters)["calendar_median"] == before["calendar_median"]
    _refresh(days=1)
    after = summary.resolution_times(filters)
    assert after["calendar_median"] == reports.resolution_times(filters)["calendar_median"]
    assert after["calendar_median"] != before["calendar_median"]


def test_beat_warms_the_medians_of_the_default_view_and_of_each_group(
    world, first_line, django_assert_max_num_queries
):
    tasks.refresh_dashboard_summary(days=31)
    for narrowing in ({}, {"group": first_line.pk}):
        filters = _default_filter(**narrowing)
        with django_assert_max_num_queries(1):  # the rebuild time; the medians are cached
            summary.medians(filters)
