"""The dashboard as tables and charts: the figures of ``sla.reports``, labelled, formatted
and linked to the lists behind them. The page, the exports and the charts read the same
tables, so what is shown is what is exported.

Links go to the console's queue (``tickets:console``, filters: state, priority, group,
service, channel) or the call log (``cti:call_log``, filters: outcome, dates). Where those
lists lack a filter (site, category, a period of tickets, an agent's tickets) the link goes
to the nearest list and the table's note says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cti.models import Call
from cti.selectors import user_display_name
from sla import reports, summary
from sla.reports import ReportFilter
from sla.templatetags.sla_tags import business_duration
from tickets.models import Priority

WEEKDAYS = [
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
]


@dataclass
class Cell:
    value: object
    text: str = ""
    link: str = ""

    def __post_init__(self):
        if not self.text:
            self.text = "—" if self.value is None else str(self.value)


@dataclass
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""

    def values(self) -> list[list]:
        return [[cell.value for cell in row] for row in self.rows]


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    if abs(value) < timedelta(minutes=1):
        return _("%(seconds)d s") % {"seconds": round(value.total_seconds())}
    return business_duration(value)


def hours(value: timedelta | None):
    """A duration as hours for the exports (a number a spreadsheet can sum)."""
    return None if value is None else round(value.total_seconds() / 3600, 2)


def seconds(value: timedelta | None):
    return None if value is None else round(value.total_seconds(), 1)


class Links:
    """URLs of the lists behind the figures, narrowed as far as those lists allow."""

    def __init__(self, filters: ReportFilter):
        self.filters = filters
        self.console = reverse("tickets:console")
        self.call_log = reverse("cti:call_log")

    def tickets(self, queue: str = "all", **params) -> str:
        query = QueryDict(mutable=True)
        query["queue"] = queue
        narrowing = {
            "group": self.filters.group_id,
            "service": self.filters.service_id,
            "channel": self.filters.channel,
        }
        for key, value in {**narrowing, **params}.items():
            if value not in (None, ""):
                query[key] = str(value)
        return f"{self.console}?{query.urlencode()}"

    def calls(self, **params) -> str:
        query = QueryDict(mutable=True)
        query["direction"] = Call.Direction.INBOUND
        query["date_from"] = self.filters.start.date().isoformat()
        query["date_to"] = (self.filters.end - timedelta(seconds=1)).date().isoformat()
        for key, value in params.items():
            if value not in (None, ""):
                query[key] = str(value)
        return f"{self.call_log}?{query.urlencode()}"


@dataclass(frozen=True)
class AgentColumn:
    """A column another app adds to the agent scorecards (surveys: the survey score).

    ``values(filters, user_ids)`` runs once per dashboard, in a fixed number of queries, and
    returns ``{user id: (value, text)}``; agents missing from it show a dash."""

    title: object
    values: Callable[[ReportFilter, list[int]], dict[int, tuple[object, str]]]


_agent_columns: list[AgentColumn] = []


def register_agent_column(title, values) -> None:
    """Add a column to the agent scorecards (from the other app's ``ready``; once)."""
    if all(column.values is not values for column in _agent_columns):
        _agent_columns.append(AgentColumn(title, values))


def build(filters: ReportFilter) -> dict:
    """Every table and chart of the dashboard for ``filters``."""
    links = Links(filters)
    # The period's figures from the day summary when it covers the period (sla.summary);
    # the backlog and the breaches are "now" and always read live.
    as_of = summary.summary_as_of(filters)
    period_figures = summary if as_of else reports
    taken_at = summary.snapshot_taken_at()
    now_figures = summary if taken_at else reports
    not_by_site = (
        _("The ticket lists cannot narrow by site: links show every site.")
        if filters.site_id
        else ""
    )
    tables: dict[str, Table] = {}
    charts: dict[str, dict] = {}

    # Backlog by group and priority.
    backlog = now_figures.backlog(filters)
    priorities = [Priority(value) for value in Priority.values]
    table = Table(
        "backlog",
        _("Open backlog by group and priority"),
        [_("Group"), *[str(p.label) for p in priorities], _("Total")],
        note=not_by_site,
    )
    for group in backlog["groups"]:
        row = [
            Cell(
                group["name"] or _("(no group)"),
                link=links.tickets("open", group=group["group_id"]),
            )
        ]
        for p in priorities:
            count = group["counts"][p.value]
            row.append(
                Cell(count, link=links.tickets("open", group=group["group_id"], priority=p.value))
            )
        row.append(Cell(group["total"], link=links.tickets("open", group=group["group_id"])))
        table.rows.append(row)
    table.rows.append(
        [
            Cell(_("All groups")),
            *[
                Cell(backlog["totals"][p.value], link=links.tickets("open", priority=p.value))
                for p in priorities
            ],
            Cell(backlog["total"], link=links.tickets("open")),
        ]
    )
    tables["backlog"] = table
    charts["backlog"] = {
        "labels": [g["name"] or _("(no group)") for g in backlog["groups"]],
        "datasets": [
            {"label": str(p.label), "data": [g["counts"][p.value] for g in backlog["groups"]]}
            for p in priorities
        ],
    }

    # SLA compliance and current breaches.
    compliance = period_figures.compliance(filters)
    table = Table(
        "compliance",
        _("SLA compliance in the period"),
        [_("Target"), _("Met"), _("Breached"), _("Compliance %")],
        note=_(
            "Clocks stopped in the period: met / (met + breached). Links show all tickets: "
            "the console lists tickets, not clocks."
        ),
    )
    for row in compliance:
        table.rows.append(
            [
                Cell(str(row["label"])),
                Cell(row["met"], link=links.tickets()),
                Cell(row["breached"], link=links.tickets()),
                Cell(row["percent"], percent(row["percent"])),
            ]
        )
    tables["compliance"] = table
    breaches = now_figures.breaches(filters)
    table = Table(
        "breaches",
        _("Breaches and near breaches now"),
        [_("Target"), _("Breached"), _("Due within a quarter of the goal"), _("Running")],
        note=_(
            "Links go to the console's “Due soonest” queue: open tickets with a due time, "
            "the most overdue first."
        ),
    )
    for row in breaches:
        table.rows.append(
            [
                Cell(str(row["label"])),
                Cell(row["breached"], link=links.tickets("due")),
                Cell(row["near"], link=links.tickets("due")),
                Cell(row["running"], link=links.tickets("due")),
            ]
        )
    tables["breaches"] = table

    # Time to resolve and the rates.
    times = period_figures.resolution_times(filters)
    rates = period_figures.ticket_rates(filters)
    resolved_link = links.tickets(state="resolved")
    table = Table(
        "summary",
        _("Tickets in the period"),
        [_("Figure"), _("Value"), _("Out of")],
        note=_("Resolved tickets link to the resolved state; the console has no date filter."),
    )
    table.rows = [
        [
            Cell(_("Mean time to resolve (calendar, hours)")),
            Cell(hours(times["calendar_mean"]), duration(times["calendar_mean"]), resolved_link),
            Cell(times["count"]),
        ],
        [
            Cell(_("Median time to resolve (calendar, hours)")),
            Cell(
                hours(times["calendar_median"]), duration(times["calendar_median"]), resolved_link
            ),
            Cell(times["count"]),
        ],
        [
            Cell(_("Mean time to resolve (business, hours)")),
            Cell(hours(times["business_mean"]), duration(times["business_mean"]), resolved_link),
            Cell(times["business_count"]),
        ],
        [
            Cell(_("Median time to resolve (business, hours)")),
            Cell(
                hours(times["business_median"]), duration(times["business_median"]), resolved_link
            ),
            Cell(times["business_count"]),
        ],
        [
            Cell(_("First-contact resolution %")),
            Cell(
                rates["first_contact_percent"],
                percent(rates["first_contact_percent"]),
                resolved_link,
            ),
            Cell(rates["resolved"]),
        ],
        [
            Cell(_("Reopen rate % (reopens per resolution)")),
            Cell(rates["reopen_percent"], percent(rates["reopen_percent"]), links.tickets()),
            Cell(rates["resolves"]),
        ],
        [
            Cell(_("Transfers per ticket")),
            Cell(rates["transfers_per_ticket"], link=links.tickets()),
            Cell(rates["created"]),
        ],
    ]
    tables["summary"] = table

    # Tickets by channel, service, category.
    for dimension, title, param in (
        ("channel", _("Tickets by channel"), "channel"),
        ("service", _("Tickets by service (top 10)"), "service"),
        ("category", _("Tickets by category"), None),
    ):
        rows = period_figures.tickets_by(filters, dimension)
        table = Table(
            dimension,
            title,
            [
                _("Channel") if param == "channel" else _("Service") if param else _("Category"),
                _("Tickets"),
            ],
            note=(
                _("The console cannot filter by category: links show all tickets.")
                if param is None
                else ""
            ),
        )
        for row in rows:
            link = links.tickets(**{param: row["key"]}) if param and row["key"] else links.tickets()
            table.rows.append([Cell(row["label"] or _("(none)")), Cell(row["count"], link=link)])
        tables[dimension] = table
        charts[dimension] = {
            "labels": [row["label"] or str(_("(none)")) for row in rows],
            "data": [row["count"] for row in rows],
        }

    # Agents.
    cards = period_figures.agent_scorecards(filters)
    users = get_user_model().objects.select_related("person").in_bulk([c["user_id"] for c in cards])
    table = Table(
        "agents",
        _("Agent scorecards"),
        [
            _("Agent"),
            _("Tickets resolved"),
            _("Solved on first contact"),
            _("SLA met %"),
            _("Calls answered"),
            _("Average handling time (s)"),
            *[str(column.title) for column in _agent_columns],
        ],
        note=_("Links go to all resolved tickets: the console has no assignee filter."),
    )
    extra = [
        column.values(filters, [card["user_id"] for card in cards]) for column in _agent_columns
    ]
    for card in cards:
        table.rows.append(
            [
                Cell(user_display_name(users.get(card["user_id"]))),
                Cell(card["handled"], link=resolved_link),
                Cell(card["first_contact"]),
                Cell(card["sla_percent"], percent(card["sla_percent"])),
                Cell(card["answered"], link=links.calls(outcome=Call.Outcome.ANSWERED)),
                Cell(seconds(card["handling"]), duration(card["handling"])),
                *[Cell(*values.get(card["user_id"], (None, ""))) for values in extra],
            ]
        )
    tables["agents"] = table

    # Calls.
    calls = period_figures.call_figures(filters)
    table = Table(
        "calls",
        _("Inbound calls in the period"),
        [_("Figure"), _("Value")],
        note=(
            _(
                "Calls are narrowed by site and group through their queue; "
                "service and channel do not apply."
            )
            if filters.site_id or filters.group_id or filters.service_id or filters.channel
            else ""
        ),
    )
    table.rows = [
        [Cell(_("Calls")), Cell(calls["total"], link=links.calls())],
        [Cell(_("Answered")), Cell(calls["answered"], link=links.calls(outcome="answered"))],
        [Cell(_("Missed")), Cell(calls["missed"], link=links.calls(outcome="missed"))],
        [Cell(_("Abandoned")), Cell(calls["abandoned"], link=links.calls(outcome="abandoned"))],
        [
            Cell(_("Average wait (s)")),
            Cell(
                seconds(calls["wait_mean"]),
                duration(calls["wait_mean"]),
                links.calls(outcome="answered"),
            ),
        ],
        [
            Cell(_("90th percentile wait (s)")),
            Cell(
                seconds(calls["wait_p90"]),
                duration(calls["wait_p90"]),
                links.calls(outcome="answered"),
            ),
        ],
        [
            Cell(
                _("Service level %% (answered within %(seconds)s s)")
                % {"seconds": calls["answer_seconds"]}
            ),
            Cell(calls["service_level"], percent(calls["service_level"]), links.calls()),
        ],
    ]
    tables["calls"] = table
    charts["calls"] = {
        "labels": [str(_("Answered")), str(_("Missed")), str(_("Abandoned")), str(_("Other"))],
        "data": [calls["answered"], calls["missed"], calls["abandoned"], calls["other"]],
    }

    grid = period_figures.calls_heatmap(filters)
    peak = max((max(day) for day in grid), default=0)
    table = Table(
        "heatmap", _("Calls per hour by weekday"), [_("Day"), *[f"{h:02d}" for h in range(24)]]
    )
    for day, counts in zip(WEEKDAYS, grid, strict=True):
        table.rows.append([Cell(str(day)), *[Cell(count) for count in counts]])
    tables["heatmap"] = table
    heat = [
        [(count, 0 if not count else 1 + (5 * count) // (peak + 1)) for count in counts]
        for counts in grid
    ]

    kpis = [
        {
            "key": "backlog",
            "label": _("Open tickets"),
            "text": str(backlog["total"]),
            "link": links.tickets("open"),
        },
        *[
            {
                "key": f"compliance-{row['target']}",
                "label": _("%(target)s met") % {"target": row["label"]},
                "text": percent(row["percent"]),
                "link": links.tickets(),
            }
            for row in compliance
            if row["target"] != "next_response"
        ],
        {
            "key": "breached",
            "label": _("Breached now"),
            "text": str(sum(row["breached"] for row in breaches)),
            "link": links.tickets("due"),
        },
        {
            "key": "near",
            "label": _("Near breach"),
            "text": str(sum(row["near"] for row in breaches)),
            "link": links.tickets("due"),
        },
        {
            "key": "fcr",
            "label": _("First-contact resolution"),
            "text": percent(rates["first_contact_percent"]),
            "link": resolved_link,
        },
        {
            "key": "service-level",
            "label": _("Call service level"),
            "text": percent(calls["service_level"]),
            "link": links.calls(),
        },
    ]
    return {
        "tables": tables,
        "charts": charts,
        "kpis": kpis,
        "heat": list(zip(WEEKDAYS, heat, strict=True)),
        "heat_peak": peak,
        "as_of": as_of,
        "now_as_of": taken_at,
        "texts": {"tickets": _("Tickets"), "calls": _("Calls")},
    }
