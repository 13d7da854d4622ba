"""No page's query count depends on how many rows, comments, timeline entries, attachments,
watchers, tags or linked tickets it shows.

Each test renders a page once with a little data and once with much more, and asserts the
same number of SQL queries both times (an N+1 shows as a statement repeated per row: the
failure message lists the statements whose count grew). Each page is requested once before
measuring: some reference data is cached per process (the priority matrix, schedules).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.factories import (
    PNG,
    CategoryFactory,
    PersonFactory,
    ServiceFactory,
    SupportGroupFactory,
    make_ticket,
    make_user,
)
from tickets import services
from tickets.models import Priority
from tickets.views.queue import QUEUES

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


# --- measuring -------------------------------------------------------------------------------


def _shape(sql: str) -> str:
    """A statement with its literals blanked, so that the same query for another row counts
    as the same statement."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+\b", "?", sql)
    return re.sub(r"\((?:\?, )*\?\)", "(?...)", sql)


def _queries(client, url, *, status=200, **extra) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    assert response.status_code == status, (url, response.status_code)
    return [query["sql"] for query in captured.captured_queries]


def _grown(small: list[str], large: list[str]) -> str:
    before, after = Counter(map(_shape, small)), Counter(map(_shape, large))
    lines = [
        f"  {before[shape]} -> {count}: {shape[:400]}"
        for shape, count in after.items()
        if count != before[shape]
    ]
    lines += [
        f"  {count} -> 0: {shape[:400]}" for shape, count in before.items() if shape not in after
    ]
    return "\n".join(lines)


def assert_same_count(small: list[str], large: list[str]) -> None:
    assert len(large) == len(small), (
        f"{len(small)} queries with little data, {len(large)} with more; the statements "
        f"whose count changed:\n{_grown(small, large)}\n\nall {len(large)} queries:\n"
        + "\n".join(large)
    )


def measure(client, url, grow, *, status=200, **extra) -> tuple[int, int]:
    """(queries with the data as it is, queries after ``grow()``), asserting they are equal.
    The page is requested once before measuring to fill the per-process caches."""
    _queries(client, url, status=status, **extra)
    small = _queries(client, url, status=status, **extra)
    grow()
    # The first request after new data may refill a cache that the new rows invalidated.
    _queries(client, url, status=status, **extra)
    large = _queries(client, url, status=status, **extra)
    print(f"{url}: {len(small)} queries with little data, {len(large)} with more")
    assert_same_count(small, large)
    return len(small), len(large)


# --- data ------------------------------------------------------------------------------------


@pytest.fixture
def sla_now(monkeypatch):
    """Service-level clocks (and so tickets' due times) kept as tickets change: ticket events
    reach the SLA app at once (a test's transaction never commits)."""
    from sla import services as sla_services
    from sla.models import BusinessCalendar, SlaPolicy
    from tickets import events

    calendar = BusinessCalendar.objects.create(name="24x7", always_open=True)
    for priority in Priority.values:
        SlaPolicy.objects.create(
            name=f"P{priority}",
            priority=priority,
            calendar=calendar,
            first_response=2 * H,
            resolution=10 * H,
        )
    monkeypatch.setattr(
        events,
        "emit_on_commit",
        lambda event: events._deliver(event, [sla_services.on_ticket_event]),
    )


def _upload(name="screen.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


class World:
    """Tickets with everything a list row or a ticket page shows, varied row by row: callers,
    groups, services, categories, assignees, tags, watchers, links, comments, files."""

    def __init__(self, agent, end_user, first_line):
        self.agent = agent
        self.end_user = end_user
        self.first_line = first_line
        self.rows = 0
        self.tickets = []

    @staticmethod
    def _varied(group=None) -> dict:
        return {
            "group": group or SupportGroupFactory(tier=SupportGroup.Tier.FIRST),
            "service": ServiceFactory(),
            "category": CategoryFactory(),
        }

    def _colleague(self, group):
        colleague = make_user(Role.AGENT)
        group.members.add(colleague)
        return colleague

    def add_rows(self, count: int, *, caller=None) -> None:
        """``count`` tickets: each with its own caller (or ``caller``), group, service,
        category and tags; one in three assigned to the agent, one in three to a colleague,
        the rest unassigned; each watched by a colleague, linked to the one before, with a
        reply."""
        for _n in range(count):
            index = self.rows
            self.rows += 1
            group = SupportGroupFactory(tier=SupportGroup.Tier.FIRST)
            group.members.add(self.agent)
            ticket = make_ticket(
                caller=caller or PersonFactory(),
                opened_by=self.agent,
                title=f"Row {index}",
                group=group,
                service=ServiceFactory(),
                category=CategoryFactory(),
            )
            colleague = self._colleague(group)
            if index % 3 == 0:
                services.ticket_assign(ticket=ticket, by=self.agent, assignee=self.agent)
            elif index % 3 == 1:
                services.ticket_assign(ticket=ticket, by=self.agent, assignee=colleague)
            services.ticket_tags_set(
                ticket=ticket, by=self.agent, names=[f"tag-{index}", f"row-{index % 2}"]
            )
            services.ticket_watch(ticket=ticket, user=colleague, by=self.agent)
            if self.tickets:
                services.ticket_link(ticket=ticket, other=self.tickets[-1], by=self.agent)
            services.comment_add(ticket=ticket, by=self.agent, body=f"Looking at row {index}.")
            self.tickets.append(ticket)

    def enrich(self, ticket, count: int) -> None:
        """``count`` more of everything on ``ticket``: public replies with a file each,
        internal notes naming a colleague, the caller's replies, files, watchers, tags,
        linked tickets, KB articles, changes, child tickets and merged duplicates (and the
        timeline entries of all these)."""
        for n in range(count):
            services.comment_add(
                ticket=ticket,
                by=self.agent,
                body=f"Reply {n} with a screenshot.",
                attachments=[_upload(f"reply-{n}.png")],
            )
            services.comment_add(
                ticket=ticket, by=self.agent, body=f"Note {n} for @agent", is_internal=True
            )
            if ticket.is_caller(self.end_user):
                services.comment_add(ticket=ticket, by=self.end_user, body=f"Answer {n}.")
            services.attachment_add(ticket=ticket, by=self.agent, upload=_upload(f"file-{n}.png"))
            group = SupportGroupFactory(tier=SupportGroup.Tier.FIRST)
            services.ticket_watch(ticket=ticket, user=self._colleague(group), by=self.agent)
            other = make_ticket(caller=PersonFactory(), title=f"Related {n}", **self._varied(group))
            services.ticket_link(ticket=ticket, other=other, by=self.agent)
            ticket.refresh_from_db()
            names = list(ticket.tags.values_list("name", flat=True))
            services.ticket_tags_set(ticket=ticket, by=self.agent, names=[*names, f"extra-{n}"])
            self._relate(ticket, n)
            ticket.refresh_from_db()

    def _relate(self, ticket, n: int) -> None:
        """What other apps hang on a ticket: a KB article, a change, a child ticket, a
        duplicate merged into it."""
        from changes import services as change_services
        from kb import services as kb_services

        article = kb_services.article_create(
            by=self.agent, title=f"Fix {n}", body="Restart the client."
        )
        kb_services.article_link_ticket(article=article, ticket=ticket, by=self.agent)
        start = timezone.now().replace(microsecond=0) + timedelta(days=1 + n)
        change = change_services.change_create(
            requester=ticket.caller,
            by=self.agent,
            title=f"Change for {n}",
            planned_start=start,
            planned_end=start + 2 * H,
        )
        change_services.change_link_ticket(change=change, ticket=ticket, by=self.agent)
        make_ticket(caller=PersonFactory(), title=f"Child {n}", parent=ticket, **self._varied())
        duplicate = make_ticket(caller=PersonFactory(), title=f"Duplicate {n}", **self._varied())
        services.ticket_merge(ticket=duplicate, by=self.agent, into=ticket)


@pytest.fixture
def world(agent, end_user, first_line, sla_now):
    return World(agent, end_user, first_line)


@pytest.fixture
def own_ticket(world, end_user):
    """A ticket the end user filed, with one of everything."""
    ticket = make_ticket(caller=end_user.person, opened_by=end_user, title="VPN drops")
    services.ticket_assign(ticket=ticket, by=world.agent, assignee=world.agent)
    world.enrich(ticket, 1)
    return ticket


# --- the console ---------------------------------------------------------------------------


def test_console_ticket_page(client, world, agent, own_ticket):
    client.force_login(agent)
    url = reverse("tickets:console_detail", args=[own_ticket.number])
    measure(client, url, lambda: world.enrich(own_ticket, 5))


def test_console_ticket_page_of_a_caller_with_many_tickets(client, world, agent, own_ticket):
    client.force_login(agent)
    url = reverse("tickets:console_detail", args=[own_ticket.number])
    world.add_rows(1, caller=own_ticket.caller)
    measure(client, url, lambda: world.add_rows(11, caller=own_ticket.caller))


# Sorted by group or assignee (or due time) a queue of more than a page's cap of tickets is
# read part by part (tickets.selectors.QueueRows: one indexed range of ids per support group
# or assignee, in name order, until the page is full), which is bounded by the number of
# groups and assignees, not by the rows; a smaller queue, as here, is one ORDER BY.
@pytest.mark.parametrize("queue", list(QUEUES))
@pytest.mark.parametrize(
    "sort",
    [
        "",
        "caller",
        "-group",
        "assignee",
        "due",
        "-priority",
    ],
)
def test_console_queue(client, world, agent, queue, sort):
    client.force_login(agent)
    world.add_rows(3)
    url = f"{reverse('tickets:console')}?queue={queue}&sort={sort}"
    measure(client, url, lambda: world.add_rows(9))


@pytest.mark.parametrize("queue", ["groups", "all"])
def test_console_queue_htmx_list(client, world, agent, queue):
    client.force_login(agent)
    world.add_rows(3)
    url = f"{reverse('tickets:console')}?queue={queue}&sort=-updated"
    measure(client, url, lambda: world.add_rows(9), HTTP_HX_REQUEST="true")


@pytest.mark.parametrize("query", ["q=Row", "tags=row-0", "state=assigned", "priority="])
def test_console_queue_filtered(client, world, agent, query):
    client.force_login(agent)
    world.add_rows(3)
    if query == "priority=":
        query += str(world.tickets[0].priority)
    url = f"{reverse('tickets:console')}?queue=all&{query}"
    measure(client, url, lambda: world.add_rows(9))


def test_console_queue_as_an_engineer(client, world, engineer):
    """A reader who is not in the tickets' groups (other colleagues, bulk lists)."""
    client.force_login(engineer)
    world.add_rows(3)
    measure(client, f"{reverse('tickets:console')}?queue=all", lambda: world.add_rows(9))


# --- the portal ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["open", "closed", "all"])
def test_portal_ticket_list(client, world, end_user, state):
    client.force_login(end_user)

    def add(count):
        world.add_rows(count, caller=end_user.person)
        for ticket in world.tickets[-count:]:
            ticket.refresh_from_db()
            if ticket.assignee_id is None:
                services.ticket_cancel(ticket=ticket, by=end_user, reason="Works again.")

    add(3)
    measure(client, f"{reverse('tickets:my_list')}?state={state}", lambda: add(9))


def test_portal_ticket_page(client, world, end_user, own_ticket):
    client.force_login(end_user)
    url = reverse("tickets:detail", args=[own_ticket.number])
    measure(client, url, lambda: world.enrich(own_ticket, 5))


def test_portal_home(client, world, end_user):
    client.force_login(end_user)
    world.add_rows(2, caller=end_user.person)
    measure(client, reverse("home"), lambda: world.add_rows(10, caller=end_user.person))


# --- the REST API ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "end_user"])
def test_api_ticket_list(api, world, agent, end_user, role):
    user = {"agent": agent, "end_user": end_user}[role]
    api.force_login(user)
    caller = end_user.person if role == "end_user" else None

    def add(count):
        world.add_rows(count, caller=caller)
        for ticket in world.tickets[-count:]:
            world.enrich(ticket, 1)

    add(2)
    measure(api, "/api/tickets/", lambda: add(10))


@pytest.mark.parametrize("role", ["agent", "end_user"])
@pytest.mark.parametrize("part", ["", "comments/", "attachments/", "timeline/"])
def test_api_ticket(api, world, agent, end_user, own_ticket, role, part):
    api.force_login({"agent": agent, "end_user": end_user}[role])
    url = f"/api/tickets/{own_ticket.number}/{part}"
    measure(api, url, lambda: world.enrich(own_ticket, 5))


# --- telephony: the caller card, the call log, recent calls ----------------------------------


def _call(*, person=None, agent=None, number="+48 22 555 01 01", ago=timedelta(minutes=10)):
    from cti.models import Call

    started = timezone.now() - ago
    return Call.objects.create(
        call_id=f"c-{Call.objects.count()}-{number}",
        caller_number=number,
        caller_e164=number.replace(" ", ""),
        caller_person=person,
        state=Call.State.ENDED,
        outcome=Call.Outcome.ANSWERED if agent else Call.Outcome.MISSED,
        answered_by=agent,
        started_at=started,
        answered_at=started + timedelta(seconds=12) if agent else None,
        ended_at=started + timedelta(seconds=100),
    )


def test_caller_card_of_a_known_caller(client, world, agent):
    """The card lists the caller's tickets, earlier calls and the tickets linked to the call."""
    client.force_login(agent)
    caller = PersonFactory()
    call = _call(person=caller, agent=agent)

    def add(count):
        world.add_rows(count, caller=caller)
        call.tickets.add(*world.tickets[-count:])
        for n in range(count):
            _call(person=caller, agent=agent, ago=timedelta(days=1 + n))

    add(1)
    measure(client, reverse("cti:call_card", args=[call.pk]), lambda: add(5))


def test_caller_card_of_an_unknown_number(client, world, agent):
    """A number several people share: the card lists them as candidates."""
    client.force_login(agent)
    call = _call(number="+48 22 555 09 09")

    def add(count):
        for _n in range(count):
            person = PersonFactory()
            call.candidate_people.add(person)
            world.add_rows(1, caller=person)

    add(1)
    measure(client, reverse("cti:call_card", args=[call.pk]), lambda: add(5))


@pytest.mark.parametrize("name", ["cti:call_log", "cti:recent_calls"])
def test_call_lists(client, world, agent, name):
    from tests.factories import CallQueueFactory

    client.force_login(agent)

    def add(count):
        for n in range(count):
            person = PersonFactory()
            world.add_rows(1, caller=person)
            call = _call(person=person, agent=agent if n % 2 == 0 else None, ago=timedelta(hours=n))
            call.queue = CallQueueFactory()
            call.save(update_fields=["queue"])
            call.tickets.add(world.tickets[-1])

    add(2)
    measure(client, reverse(name), lambda: add(10))


# --- the knowledge base --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["end_user", "agent", "manager"])
@pytest.mark.parametrize("query", ["", "?q=vpn"])
def test_kb_article_list(client, agent, manager, end_user, role, query):
    from kb import services as kb_services
    from kb.models import ArticleCategory

    client.force_login({"end_user": end_user, "agent": agent, "manager": manager}[role])
    rows = []

    def add(count):
        for _n in range(count):
            n = len(rows)
            author = make_user(Role.AGENT)
            article = kb_services.article_create(
                by=author,
                title=f"VPN guide {n}",
                body="Connect with the VPN client.",
                category=ArticleCategory.objects.create(name=f"Topic {n}"),
                services=[ServiceFactory()],
                review_by=timezone.localdate() - timedelta(days=1),
                owner=agent if n % 2 else author,
            )
            kb_services.article_transition(article=article, by=author, name="submit")
            if n % 3:
                kb_services.article_transition(article=article, by=manager, name="publish")
            rows.append(article)

    add(3)
    measure(client, reverse("kb:index") + query, lambda: add(9))


# --- changes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "end_user", "change_board"])
@pytest.mark.parametrize("name", ["changes:list", "changes:board"])
def test_change_lists(client, world, agent, end_user, change_board, role, name):
    """Changes of varied requesters, services, groups and implementers, each with a linked
    ticket; a third awaiting the board's vote, a third approved by its member."""
    from changes import services as change_services
    from changes.models import ChangeType, Quorum, Vote
    from tests.changes.conftest import add_rule, to_awaiting_approval

    add_rule(ChangeType.NORMAL, steps=[{"change_board": True, "quorum": Quorum.ANY}])
    client.force_login({"agent": agent, "end_user": end_user, "change_board": change_board}[role])
    made = []
    # Windows that overlap, some sharing a service: the board shows the conflicts.
    tomorrow = timezone.now().replace(microsecond=0) + timedelta(days=1)
    shared = ServiceFactory()

    def add(count):
        for _n in range(count):
            n = len(made)
            start = tomorrow + timedelta(minutes=10 * n)
            requester = end_user.person if n % 2 == 0 else PersonFactory()
            change = change_services.change_create(
                requester=requester,
                by=agent,
                title=f"Upgrade {n}",
                services=[ServiceFactory(), shared] if n % 2 else [ServiceFactory()],
                planned_start=start,
                planned_end=start + 2 * H,
                assigned_group=SupportGroupFactory(),
                implementer=make_user(Role.ENGINEER),
                category=CategoryFactory(),
            )
            world.add_rows(1)
            change_services.change_link_ticket(change=change, ticket=world.tickets[-1], by=agent)
            if n % 3:
                change = to_awaiting_approval(change, agent)
            if n % 3 == 2:
                change_services.vote_cast(
                    change=change, by=change_board, decision=Vote.Decision.APPROVE
                )
            made.append(change)

    add(3)
    measure(client, reverse(name), lambda: add(9))


def test_change_page_with_linked_tickets(client, world, agent, end_user):
    from changes import services as change_services

    client.force_login(agent)
    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    change = change_services.change_create(
        requester=end_user.person,
        by=agent,
        title="Upgrade the mail server",
        planned_start=start,
        planned_end=start + 2 * H,
    )

    def add(count):
        world.add_rows(count)
        for ticket in world.tickets[-count:]:
            change_services.change_link_ticket(change=change, ticket=ticket, by=agent)
            change_services.change_comment_add(change=change, by=agent, body="Checked.")
            change.services.add(ServiceFactory())

    add(1)
    measure(client, reverse("changes:detail", args=[change.number]), lambda: add(5))


# --- surveys ---------------------------------------------------------------------------------


def test_survey_results(client, django_capture_on_commit_callbacks, manager):
    from surveys import services as survey_services
    from surveys.models import Question, QuestionKind, SurveyInvitation, SurveySettings
    from tickets.models import ResolutionCode

    config = SurveySettings.load()
    config.sample_percent = 100
    config.quiet_days = 0
    config.save()
    rating = Question.objects.create(text="How satisfied?", kind=QuestionKind.RATING, order=1)
    solved = Question.objects.create(text="Solved?", kind=QuestionKind.YES_NO, order=2)
    client.force_login(manager)

    def add(count):
        for n in range(count):
            group = SupportGroupFactory()
            worker = make_user(Role.AGENT)
            group.members.add(worker)
            with django_capture_on_commit_callbacks(execute=True):
                ticket = make_ticket(caller=PersonFactory(), group=group, service=ServiceFactory())
                services.ticket_assign(ticket=ticket, by=worker, assignee=worker)
                services.ticket_resolve(
                    ticket=ticket, by=worker, code=ResolutionCode.SOLVED, notes="Done."
                )
                services.ticket_close(ticket=ticket, by=worker)
            ticket.refresh_from_db()
            with django_capture_on_commit_callbacks(execute=True):
                survey_services.invitations_send_due(now=ticket.closed_at + 100 * H)
            survey_services.response_submit(
                invitation=SurveyInvitation.objects.get(ticket=ticket),
                answers={rating.pk: 1 + n % 5, solved.pk: n % 2 == 0},
                comment="Slow to answer.",
            )

    add(2)
    measure(client, reverse("surveys:results"), lambda: add(10))


# --- service levels --------------------------------------------------------------------------


def test_sla_dashboard(client, world, agent, manager):
    from tickets.models import ResolutionCode

    client.force_login(manager)

    def add(count):
        world.add_rows(count)
        for ticket in world.tickets[-count:]:
            ticket.refresh_from_db()
            if ticket.assignee_id is not None and ticket.pk % 2:
                services.ticket_resolve(
                    ticket=ticket,
                    by=ticket.assignee,
                    code=ResolutionCode.SOLVED,
                    notes="Replaced the cable.",
                )

    add(3)
    measure(client, reverse("sla:dashboard"), lambda: add(9))


# --- outages ---------------------------------------------------------------------------------


def test_outage_page_with_its_tickets(client, world, agent):
    from outages import services as outage_services

    client.force_login(agent)
    outage = outage_services.outage_declare(
        by=agent,
        title="VPN down",
        description="The VPN gateway is down.",
        services=[ServiceFactory()],
        expected_end=timezone.now() + 2 * H,
    )

    def add(count):
        world.add_rows(count)
        outage_services.outage_link_tickets(outage=outage, by=agent, tickets=world.tickets[-count:])
        outage.refresh_from_db()
        outage_services.outage_update(
            outage=outage,
            by=agent,
            expected_end=timezone.now() + 3 * H,
            description=f"Still down ({world.rows}).",
        )

    add(1)
    measure(client, reverse("outages:detail", args=[outage.pk]), lambda: add(5))


def test_outage_list(client, world, agent):
    from outages import services as outage_services

    client.force_login(agent)

    def add(count):
        for _n in range(count):
            outage = outage_services.outage_declare(
                by=agent,
                title=f"Outage {world.rows}",
                description="Down.",
                services=[ServiceFactory(), ServiceFactory()],
                expected_end=timezone.now() + 2 * H,
            )
            world.add_rows(1)
            outage_services.outage_link_tickets(outage=outage, by=agent, tickets=world.tickets[-1:])

    add(2)
    measure(client, reverse("outages:list"), lambda: add(10))
