"""The managers' dashboard: figures match the data, filters, access, exports, query count."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cti.models import Call
from helpdesk.models import Service
from sla import reports
from sla.forms import DashboardFilterForm
from sla.models import BusinessCalendar, SlaClock, Target
from tests.factories import (
    CallQueueFactory,
    CategoryFactory,
    ServiceFactory,
    SupportGroupFactory,
    make_ticket,
)
from tickets.models import Channel, Status, Ticket, TimelineEntry

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
URL = "/sla/dashboard/"


def _ticket(group, *, status=Status.NEW, priority=3, **fields) -> Ticket:
    ticket = make_ticket(group=group)
    Ticket.objects.filter(pk=ticket.pk).update(status=status, priority=priority, **fields)
    ticket.refresh_from_db()
    return ticket


def _clock(ticket, target, *, calendar, goal=8 * H, **fields) -> SlaClock:
    return SlaClock.objects.create(
        ticket=ticket,
        target=target,
        calendar=calendar,
        goal=goal,
        started_at=fields.pop("started_at", timezone.now() - 2 * H),
        **fields,
    )


def _call(queue, *, wait=None, outcome=Call.Outcome.ANSWERED, ago=timedelta(days=1), **fields):
    started = timezone.now() - ago
    state = fields.pop("state", Call.State.ENDED)
    return Call.objects.create(
        call_id=f"c{Call.objects.count()}-{started.timestamp()}",
        queue=queue,
        state=state,
        outcome=outcome if state == Call.State.ENDED else Call.Outcome.NONE,
        started_at=started,
        answered_at=started + timedelta(seconds=wait) if wait is not None else None,
        ended_at=started + timedelta(seconds=(wait or 0) + 120)
        if state == Call.State.ENDED
        else None,
        **fields,
    )


@pytest.fixture
def world(first_line, network_group, agent, engineer):
    """Open, resolved and old tickets, their clocks and timelines, and a day of calls."""
    now = timezone.now()
    calendar = BusinessCalendar.objects.create(name="24x7", always_open=True)
    printing = ServiceFactory(name="+cmd")
    hardware = CategoryFactory(name="@SUM(1)")
    # Backlog: two P2 in the first line, one P1 pending in the network group.
    t1 = _ticket(first_line, priority=2)
    t2 = _ticket(first_line, priority=2, status=Status.ASSIGNED, assignee=agent)
    t3 = _ticket(network_group, priority=1, status=Status.PENDING, service=printing)
    # Resolved in the period: 10 h, 30 h and 2 h after creation; one on first contact.
    resolved = now - timedelta(days=1)
    r1 = _ticket(
        first_line,
        status=Status.RESOLVED,
        created_at=resolved - 10 * H,
        resolved_at=resolved,
        first_contact_resolution=True,
        assignee=agent,
        title='=HYPERLINK("http://evil")',
        category=hardware,
        channel=Channel.PHONE,
    )
    r2 = _ticket(
        first_line,
        status=Status.RESOLVED,
        created_at=resolved - 30 * H,
        resolved_at=resolved,
        assignee=agent,
        channel=Channel.PHONE,
    )
    r3 = _ticket(
        network_group,
        status=Status.RESOLVED,
        created_at=resolved - 2 * H,
        resolved_at=resolved,
        assignee=engineer,
        service=printing,
    )
    # Resolved long ago: outside the default seven days.
    old = now - timedelta(days=20)
    r4 = _ticket(
        first_line, status=Status.CLOSED, created_at=old - 50 * H, resolved_at=old, assignee=agent
    )
    for ticket in (r1, r2, r3):
        TimelineEntry.objects.create(
            ticket=ticket, kind="transition", transition="resolve", created_at=resolved
        )
    TimelineEntry.objects.create(
        ticket=r2, kind="transition", transition="reopen", created_at=resolved - H
    )
    TimelineEntry.objects.create(ticket=r4, kind="transition", transition="reopen", created_at=old)
    for _n in range(2):
        TimelineEntry.objects.create(
            ticket=t1, kind=TimelineEntry.Kind.TRANSFER, transition="transfer"
        )
    # Clocks stopped in the period: resolution 2 met of 3 (6 h, 12 h and 2 h used),
    # first response 3 met of 4; a breach long ago does not count.
    for ticket, margin in ((r1, 2 * H), (r2, -4 * H), (r3, 6 * H)):
        _clock(
            ticket,
            Target.RESOLUTION,
            calendar=calendar,
            stopped_at=resolved,
            margin=margin,
            outcome="met" if margin >= timedelta(0) else "breached",
        )
        _clock(
            ticket,
            Target.FIRST_RESPONSE,
            calendar=calendar,
            goal=H,
            stopped_at=resolved,
            margin=H / 2,
            outcome="met",
        )
    _clock(
        t1,
        Target.FIRST_RESPONSE,
        calendar=calendar,
        goal=H,
        stopped_at=resolved,
        margin=-H,
        outcome="breached",
    )
    _clock(r4, Target.RESOLUTION, calendar=calendar, stopped_at=old, margin=-H, outcome="breached")
    # Running now: t1 past due, t2 due in 1 h of 8 (near), t3's first response due in
    # 10 min of 1 h (near), t3's resolution paused.
    _clock(t1, Target.RESOLUTION, calendar=calendar, due_at=now - H)
    _clock(t2, Target.RESOLUTION, calendar=calendar, due_at=now + H)
    _clock(t3, Target.FIRST_RESPONSE, calendar=calendar, goal=H, due_at=now + timedelta(minutes=10))
    _clock(t3, Target.RESOLUTION, calendar=calendar, paused_since=now - H)
    # Calls of the first line's queue: five answered after 5-40 s, two missed, one
    # abandoned, one still ringing; an outbound call and an old call do not count.
    queue = CallQueueFactory(code="desk", support_group=first_line)
    for wait in (5, 10, 15, 25, 40):
        _call(queue, wait=wait, answered_by=agent)
    _call(queue, outcome=Call.Outcome.MISSED)
    _call(queue, outcome=Call.Outcome.MISSED)
    _call(queue, outcome=Call.Outcome.ABANDONED)
    _call(queue, state=Call.State.RINGING, ago=timedelta(seconds=5))
    _call(queue, wait=1, direction=Call.Direction.OUTBOUND)
    _call(queue, wait=1, ago=timedelta(days=20))
    return {"t1": t1, "t3": t3, "r1": r1, "queue": queue, "service": printing}


def _figures(client, user, **params):
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200
    return response


def _default_filter(**narrowing):
    form = DashboardFilterForm({"period": "7d", **narrowing})
    assert form.is_valid(), form.errors
    return form.report_filter()


def test_backlog_counts_open_tickets_by_group_and_priority(world, first_line, network_group):
    backlog = reports.backlog(_default_filter())
    rows = {row["name"]: row for row in backlog["groups"]}
    assert rows["Service Desk"]["counts"][2] == 2
    assert rows["Service Desk"]["total"] == 2
    assert rows["Network"]["counts"][1] == 1
    assert backlog["total"] == 3


def test_compliance_counts_clocks_stopped_in_the_period(world):
    by_target = {row["target"]: row for row in reports.compliance(_default_filter())}
    assert by_target["resolution"]["met"] == 2
    assert by_target["resolution"]["breached"] == 1
    assert by_target["resolution"]["percent"] == 66.7
    assert by_target["first_response"]["percent"] == 75.0
    assert by_target["next_response"]["percent"] is None
    # Thirty days reach the old breach.
    thirty = DashboardFilterForm({"period": "30d"})
    assert thirty.is_valid()
    by_target = {row["target"]: row for row in reports.compliance(thirty.report_filter())}
    assert by_target["resolution"]["breached"] == 2


def test_breaches_and_near_breaches_of_running_clocks(world):
    by_target = {row["target"]: row for row in reports.breaches(_default_filter())}
    assert by_target["resolution"] == {
        "target": "resolution",
        "label": by_target["resolution"]["label"],
        "breached": 1,
        "near": 1,
        "running": 2,
    }
    assert by_target["first_response"]["near"] == 1
    assert by_target["first_response"]["breached"] == 0


def test_mean_and_median_time_to_resolve(world):
    times = reports.resolution_times(_default_filter())
    assert times["count"] == 3
    assert times["calendar_mean"] == 14 * H
    assert times["calendar_median"] == 10 * H
    assert times["business_count"] == 3
    assert times["business_median"] == 6 * H
    assert abs(times["business_mean"] - timedelta(hours=20 / 3)) < timedelta(seconds=1)


def test_first_contact_reopen_and_transfer_rates(world):
    rates = reports.ticket_rates(_default_filter())
    assert rates["resolved"] == 3
    assert rates["first_contact_percent"] == 33.3
    assert rates["reopens"] == 1
    assert rates["resolves"] == 3
    assert rates["reopen_percent"] == 33.3
    # Six tickets created in the period (t1-t3, r1-r3), two transfers.
    assert rates["created"] == 6
    assert rates["transfers_per_ticket"] == 0.33


def test_tickets_by_channel_service_and_category(world):
    filters = _default_filter()
    channels = {row["key"]: row["count"] for row in reports.tickets_by(filters, "channel")}
    assert channels[Channel.PHONE] == 2
    assert channels[Channel.PORTAL] == 4
    services = reports.tickets_by(filters, "service")
    # Tickets without a service are a row of their own (four here).
    assert {"key": world["service"].pk, "label": "+cmd", "count": 2} in services
    assert {"key": None, "label": "", "count": 4} in services
    categories = {row["label"]: row["count"] for row in reports.tickets_by(filters, "category")}
    assert categories["@SUM(1)"] == 1


def test_agent_scorecards(world, agent, engineer):
    cards = {card["user_id"]: card for card in reports.agent_scorecards(_default_filter())}
    assert cards[agent.pk]["handled"] == 2
    assert cards[agent.pk]["first_contact"] == 1
    assert cards[agent.pk]["sla_percent"] == 50.0
    assert cards[agent.pk]["answered"] == 5
    assert cards[agent.pk]["handling"] == timedelta(seconds=120)
    assert cards[engineer.pk]["handled"] == 1
    assert cards[engineer.pk]["sla_percent"] == 100.0


def test_call_figures_service_level_and_p90_wait(world, settings):
    settings.SLA_CALL_ANSWER_SECONDS = 20
    calls = reports.call_figures(_default_filter())
    assert calls["total"] == 9
    assert calls["answered"] == 5
    assert calls["missed"] == 2
    assert calls["abandoned"] == 1
    assert calls["wait_mean"] == timedelta(seconds=19)
    assert calls["wait_p90"] == timedelta(seconds=40)
    # Three of the eight ended calls answered within 20 s.
    assert calls["service_level"] == 37.5
    settings.SLA_CALL_ANSWER_SECONDS = 30
    assert reports.call_figures(_default_filter())["service_level"] == 50.0
    grid = reports.calls_heatmap(_default_filter())
    assert sum(map(sum, grid)) == 9


def test_group_filter_narrows_tickets_and_calls(world, network_group):
    filters = _default_filter(group=network_group.pk)
    assert reports.backlog(filters)["total"] == 1
    assert reports.ticket_rates(filters)["resolved"] == 1
    assert reports.call_figures(filters)["total"] == 0


def test_site_filter_narrows_by_the_callers_site(world):
    site = world["t3"].caller.site
    filters = _default_filter(site=site.pk)
    assert reports.backlog(filters)["total"] == 1


def test_manager_sees_the_figures_with_links(client, manager, world, first_line):
    response = _figures(client, manager)
    html = response.content.decode()
    assert 'data-testid="kpi-backlog"' in html
    assert 'hx-trigger="every 60s"' in html
    kpi = response.context["figures"]["kpis"][0]
    assert kpi["text"] == "3"
    assert kpi["link"] == reverse("tickets:console") + "?queue=open"
    backlog = response.context["figures"]["tables"]["backlog"]
    desk = next(row for row in backlog.rows if row[0].value == "Service Desk")
    cell = desk[2]  # priority 2
    assert cell.value == 2
    assert f"group={first_line.pk}" in cell.link and "priority=2" in cell.link
    calls = response.context["figures"]["tables"]["calls"]
    assert "cti/calls/?direction=inbound" in calls.rows[1][1].link
    assert "outcome=answered" in calls.rows[1][1].link
    assert '<canvas id="chart-backlog"' in html
    assert 'id="dashboard-charts"' in html


def test_htmx_refresh_gets_only_the_figures(client, manager, world):
    client.force_login(manager)
    response = client.get(URL, {"period": "today"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dashboard-figures"')
    assert "<nav" not in html
    assert "period=today" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "custom", "date_from": "2026-13-45", "date_to": "2026-01-02"}, "valid date"),
        ({"period": "custom", "date_from": "2026-03-02", "date_to": "2026-03-01"}, "before"),
        ({"period": "custom", "date_from": "2026-03-02"}, "both a start and an end"),
        ({"period": "custom", "date_from": "2020-01-01", "date_to": "2026-01-01"}, "at most"),
        ({"period": "yesterday"}, "valid choice"),
        ({"group": "999999"}, "valid choice"),
        ({"channel": "pigeon"}, "valid choice"),
    ],
)
def test_bad_filters_get_form_errors(client, manager, params, message):
    response = _figures(client, manager, **params)
    html = response.content.decode()
    assert message in html
    assert response.context["figures"] is None
    assert 'data-testid="dashboard-invalid"' in html
    # An export with bad filters is the page with its errors, not a file.
    response = client.get(URL, {**params, "format": "csv", "table": "backlog"})
    assert response["Content-Type"].startswith("text/html")


def test_custom_period(client, manager, world):
    day = (timezone.localdate() - timedelta(days=20)).isoformat()
    response = _figures(client, manager, period="custom", date_from=day, date_to=day)
    rows = response.context["figures"]["tables"]["compliance"].rows
    resolution = rows[2]
    assert [resolution[1].value, resolution[2].value] == [0, 1]


@pytest.mark.parametrize("role", ["agent", "engineer", "end_user", "change_board"])
def test_only_managers_see_the_dashboard(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"format": "csv", "table": "backlog"}).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_administrator_sees_the_dashboard(client, admin_user):
    assert _figures(client, admin_user).status_code == 200


def test_csv_export_defuses_formulas(client, manager, world):
    client.force_login(manager)
    response = client.get(URL, {"format": "csv", "table": "service"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="service.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Service", "Tickets"]
    assert ["'+cmd", "2"] in rows
    response = client.get(URL, {"format": "csv", "table": "category"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert ["'@SUM(1)", "1"] in rows
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_export_writes_formulas_as_text(client, manager, world, first_line):
    from openpyxl import load_workbook

    SupportGroupFactory(name='=HYPERLINK("http://evil")', code="evil")
    Ticket.objects.filter(pk=world["t1"].pk).update(group=first_line)
    Service.objects.filter(pk=world["service"].pk).update(name="-2+3")
    client.force_login(manager)
    response = client.get(URL, {"format": "xlsx", "table": "service"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["Service", "Tickets"]
    assert ["'-2+3", 2] in values
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_of_a_cell_starting_with_tab_or_equals(manager):
    from openpyxl import load_workbook

    from sla.exports import safe_text, xlsx_response

    assert safe_text("\tx") == "'\tx"
    assert safe_text("\rx") == "'\rx"
    assert safe_text(-3) == -3  # numbers stay numbers
    response = xlsx_response("t", ["a"], [["=1+1"], ["@x"], ["plain"]])
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [row[0].value for row in sheet.iter_rows()] == ["a", "'=1+1", "'@x", "plain"]
    assert {row[0].data_type for row in sheet.iter_rows()} == {"s"}


@pytest.mark.parametrize(
    "table",
    [
        "backlog",
        "compliance",
        "breaches",
        "summary",
        "channel",
        "service",
        "category",
        "agents",
        "calls",
        "heatmap",
    ],
)
def test_every_table_exports(client, manager, world, table):
    client.force_login(manager)
    for kind in ("csv", "xlsx"):
        response = client.get(URL, {"format": kind, "table": table})
        assert response.status_code == 200, (table, kind)
        assert "attachment" in response["Content-Disposition"]


def test_unknown_table_or_format_is_404(client, manager):
    client.force_login(manager)
    assert client.get(URL, {"format": "csv", "table": "nope"}).status_code == 404
    assert client.get(URL, {"format": "pdf", "table": "backlog"}).status_code == 404


def _more_data(round_: int, groups, agent):
    """More of everything: groups, services, categories, tickets, clocks, calls, agents."""
    calendar = BusinessCalendar.objects.get_or_create(name="24x7", always_open=True)[0]
    group = SupportGroupFactory(name=f"Extra {round_}", code=f"extra-{round_}")
    service = ServiceFactory(name=f"Extra service {round_}")
    category = CategoryFactory(name=f"Extra category {round_}")
    queue = CallQueueFactory(code=f"q{round_}", support_group=group)
    now = timezone.now()
    for index in range(4):
        ticket = _ticket(
            group, priority=1 + index % 5, service=service, category=category, assignee=agent
        )
        resolved = _ticket(
            group,
            status=Status.RESOLVED,
            created_at=now - 5 * H,
            resolved_at=now - H,
            assignee=agent,
        )
        _clock(ticket, Target.RESOLUTION, calendar=calendar, due_at=now + index * H)
        _clock(
            resolved,
            Target.RESOLUTION,
            calendar=calendar,
            stopped_at=now - H,
            margin=H,
            outcome="met",
        )
        TimelineEntry.objects.create(ticket=resolved, kind="transition", transition="resolve")
        _call(queue, wait=index * 7, answered_by=agent)
        _call(queue, outcome=Call.Outcome.MISSED)


def test_query_count_does_not_grow_with_data(client, manager, world, agent):
    client.force_login(manager)
    client.get(URL)  # warm up caches (sessions, permissions, content types)

    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(URL).status_code == 200
        return len(context.captured_queries)

    before = count()
    for round_ in range(3):
        _more_data(round_, None, agent)
    after = count()
    assert before == after
    assert after < 40


def test_a_backlog_figure_leads_to_its_tickets(client, manager, world, first_line):
    response = _figures(client, manager)
    backlog = response.context["figures"]["tables"]["backlog"]
    desk = next(row for row in backlog.rows if row[0].value == "Service Desk")
    html = client.get(desk[2].link).content.decode()  # open, Service Desk, priority 2
    assert world["t1"].number in html
    assert world["t3"].number not in html  # another group
    assert world["r1"].number not in html  # resolved
    breaches = response.context["figures"]["tables"]["breaches"]
    due = client.get(breaches.rows[2][1].link)  # resolution, breached: the due queue
    assert "queue=due" in breaches.rows[2][1].link
    assert due.status_code == 200
    calls = response.context["figures"]["tables"]["calls"]
    missed = client.get(calls.rows[2][1].link)
    assert missed.status_code == 200
    assert len(missed.context["calls"]) == 2
