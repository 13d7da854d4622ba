"""Believable ticket histories, written as rows.

Each ticket is a *story*: created on a channel, maybe escalated to the second line,
assigned, started, put on hold, answered, resolved, closed or cancelled, with the timeline
entries, replies and work notes that ``tickets.services`` would have written for the same
steps (same kinds, fields, transition names and old -> new values). Running 2,000 stories
through the services one call at a time would take minutes on SQLite, and every timestamp
would be "now"; writing the rows directly keeps the demo fast and spread over 90 days.

The stories are plain dicts keyed by column (``caller_id``, ``group_id`` ...), so the same
generator feeds ``bulk_create`` here (``manage.py seed_demo``, :mod:`tickets.demo`) and
PostgreSQL ``COPY`` in ``bench/generate.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from helpdesk.models import Category, Person, Service, SupportGroup
from helpdesk.roles import Role
from tickets.demo import data
from tickets.models import TICKET_NUMBER_PREFIX, Comment, Ticket, TicketCounter, TimelineEntry

STATUSES = ["new", "assigned", "in_progress", "pending", "resolved", "closed", "cancelled"]
# Over 90 days most tickets are closed; the open ones are the current backlog.
STATUS_WEIGHTS = [5, 5, 8, 5, 7, 62, 8]
CHANNELS = ["phone", "email", "portal", "chat", "sms", "api"]
CHANNEL_WEIGHTS = [45, 25, 18, 6, 3, 3]
PRIORITY_MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 2, (1, 4): 3,
    (2, 1): 2, (2, 2): 2, (2, 3): 3, (2, 4): 4,
    (3, 1): 2, (3, 2): 3, (3, 3): 4, (3, 4): 4,
    (4, 1): 3, (4, 2): 4, (4, 3): 4, (4, 4): 5,
}  # fmt: skip
TICKET_COLUMNS = [
    "number", "type", "title", "description", "caller_id", "opened_by_id", "channel",
    "service_id", "category_id", "impact", "urgency", "priority", "group_id", "assignee_id",
    "parent_id", "status", "pending_reason", "pending_note", "resolution_code",
    "resolution_notes", "first_contact_resolution", "created_at", "updated_at",
    "first_response_at", "resolved_at", "closed_at", "version",
]  # fmt: skip
COMMENT_COLUMNS = [
    "author_id", "author_person_id", "body", "is_internal", "channel", "created_at",
]  # fmt: skip
TIMELINE_COLUMNS = [
    "actor_id", "kind", "field", "old_value", "new_value", "transition", "is_internal",
    "note", "created_at",
]  # fmt: skip


@dataclass(frozen=True)
class Worker:
    id: int
    username: str


@dataclass(frozen=True)
class Caller:
    id: int
    user_id: int | None
    is_vip: bool = False


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    tier: int
    workers: tuple[Worker, ...]


@dataclass(frozen=True)
class Scenario:
    type: str
    service_id: int
    owner_group_id: int
    category_id: int | None
    title: str
    description: str


@dataclass
class StoryContext:
    """Ids the stories refer to; built once from the database."""

    first_line: GroupInfo
    groups: dict[int, GroupInfo]
    scenarios: list[Scenario]
    callers: list[Caller]
    callers_with_login: list[Caller]
    now: datetime
    matrix: dict[tuple[int, int], int] = field(default_factory=lambda: dict(PRIORITY_MATRIX))
    auto_close_days: int = 7


def build_context(*, callers: list[Caller] | None = None, now: datetime | None = None):
    """A :class:`StoryContext` from the groups, services and people in the database."""
    # Agents and engineers take tickets; a manager who is a member of a group does not.
    workers_by_group: dict[int, list[Worker]] = {}
    for group_id, user_id, username in (
        SupportGroup.members.through.objects.filter(
            user__groups__name__in=[Role.AGENT, Role.ENGINEER]
        )
        .order_by("user_id")
        .values_list("supportgroup_id", "user_id", "user__username")
        .distinct()
    ):
        workers_by_group.setdefault(group_id, []).append(Worker(user_id, username))
    groups = {}
    for group in SupportGroup.objects.order_by("id"):
        workers = tuple(workers_by_group.get(group.id, ()))
        groups[group.id] = GroupInfo(group.id, group.name, group.tier, workers)
    first_line = next(
        g for g in groups.values() if g.tier == 1 and g.workers and g.name == "Service Desk"
    )
    services = {s.name: s for s in Service.objects.all()}
    categories = {c.path: c.id for c in Category.objects.all()}
    scenarios = [
        Scenario(
            kind,
            services[service].id,
            services[service].owner_group_id,
            categories.get(category),
            title,
            description,
        )
        for kind, service, category, title, description in data.SCENARIOS
        if service in services
    ]
    if callers is None:
        callers = [
            Caller(pk, user_id, vip)
            for pk, user_id, vip in Person.objects.filter(department__gt="")
            .exclude(department="IT")
            .order_by("id")
            .values_list("id", "user_id", "is_vip")
        ]
    return StoryContext(
        first_line=first_line,
        groups=groups,
        scenarios=scenarios,
        callers=callers,
        callers_with_login=[c for c in callers if c.user_id] or callers,
        now=now or timezone.now(),
        auto_close_days=settings.TICKET_AUTO_CLOSE_DAYS,
    )


class _Story:
    """Builds one ticket's rows step by step, the way the services would record them."""

    def __init__(self, rng: random.Random, ticket: dict):
        self.rng = rng
        self.ticket = ticket
        self.comments: list[dict] = []
        # Timeline rows; "comment" holds an index into self.comments (or None).
        self.timeline: list[dict] = []
        self.t = timedelta(0)

    def wait(self, low_minutes: float, high_minutes: float) -> None:
        self.t += timedelta(minutes=self.rng.uniform(low_minutes, high_minutes))

    def entry(self, actor, kind, *, comment=None, is_internal=False, **values) -> None:
        self.timeline.append(
            {
                "actor_id": actor,
                "kind": kind,
                "field": values.get("field", ""),
                "old_value": values.get("old_value", ""),
                "new_value": values.get("new_value", ""),
                "transition": values.get("transition", ""),
                "is_internal": is_internal,
                "note": values.get("note", ""),
                "created_at": self.t,
                "comment": comment,
            }
        )

    def transition(self, name, target, actor, *, kind="transition", note="", worker=True):
        self.entry(
            actor,
            kind,
            field="status",
            transition=name,
            old_value=self.ticket["status"],
            new_value=target,
            note=note,
        )
        self.ticket["status"] = target
        self.ticket["version"] += 1
        if worker and self.ticket["first_response_at"] is None:
            self.ticket["first_response_at"] = self.t

    def change(self, actor, name, old, new) -> None:
        if old != new:
            self.entry(actor, "field_change", field=name, old_value=old, new_value=new)

    def comment(self, author, person, body, *, internal=False, channel="portal") -> None:
        self.comments.append(
            {
                "author_id": author,
                "author_person_id": person,
                "body": body,
                "is_internal": internal,
                "channel": channel,
                "created_at": self.t,
            }
        )
        self.entry(
            author,
            "note" if internal else "comment",
            comment=len(self.comments) - 1,
            is_internal=internal,
        )


def build_story(
    rng: random.Random,
    context: StoryContext,
    *,
    number: str | None = None,
    status: str | None = None,
    caller: Caller | None = None,
    channel: str | None = None,
    scenario: Scenario | None = None,
):
    """One ticket with its comments and timeline, ending in ``status`` before ``now``.

    Returns ``(ticket, comments, timeline)`` with datetimes filled in; a timeline row's
    ``comment`` is the index of its comment in ``comments``.
    """
    status = status or rng.choices(STATUSES, STATUS_WEIGHTS)[0]
    channel = channel or rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    scenario = scenario or rng.choice(context.scenarios)
    if caller is None:
        pool = context.callers_with_login if channel == "portal" else context.callers
        caller = rng.choice(pool)
    first_line = context.first_line
    agent = rng.choice(first_line.workers)
    if channel == "phone":
        opened_by = agent.id
    elif channel == "portal":
        opened_by = caller.user_id
    else:
        opened_by = None  # mail, chat, SMS and API tickets arrive without a signed-in author
    impact = rng.choices([1, 2, 3, 4], [1, 6, 18, 75])[0]
    urgency = rng.choices([1, 2, 3, 4], [4, 20, 50, 26])[0]
    if caller.is_vip:
        urgency = max(1, urgency - 1)
    ticket = {
        "number": number,
        "type": scenario.type,
        "title": scenario.title,
        "description": scenario.description,
        "caller_id": caller.id,
        "opened_by_id": opened_by,
        "channel": channel,
        "service_id": scenario.service_id,
        "category_id": scenario.category_id,
        "impact": impact,
        "urgency": urgency,
        "priority": context.matrix[(impact, urgency)],
        "group_id": first_line.id,
        "assignee_id": None,
        "parent_id": None,
        "status": "new",
        "pending_reason": "",
        "pending_note": "",
        "resolution_code": "",
        "resolution_notes": "",
        "first_contact_resolution": False,
        "created_at": None,
        "updated_at": None,
        "first_response_at": None,
        "resolved_at": None,
        "closed_at": None,
        "version": 1,
    }
    story = _Story(rng, ticket)
    story.entry(opened_by, "created", field="status", new_value="new")
    caller_user = caller.user_id

    if status == "cancelled":
        if rng.random() < 0.4:
            story.wait(5, 240)
            story.transition("assign", "assigned", agent.id)
            story.change(agent.id, "assignee", "", agent.username)
            ticket["assignee_id"] = agent.id
        story.wait(10, 600)
        by = caller_user if caller_user and ticket["status"] == "new" else agent.id
        story.transition(
            "cancel", "cancelled", by, note=rng.choice(data.CANCEL_REASONS), worker=by == agent.id
        )
        ticket["closed_at"] = story.t
    elif channel == "phone" and status in ("resolved", "closed") and rng.random() < 0.4:
        # Solved by the first-line agent while the caller was still on the line.
        story.wait(2, 15)
        code = "fulfilled" if scenario.type == "request" else "solved"
        _resolve(story, agent, code, first_contact=True)
        if status == "closed":
            _close(story, context, caller_user, rng)
    else:
        workers = first_line.workers
        escalate = rng.random() < (0.3 if status == "new" else 0.55)
        owner = context.groups.get(scenario.owner_group_id)
        if escalate and owner is not None and owner.workers:
            story.wait(5, 90)
            notes = rng.choice(data.DIAGNOSTICS)
            story.transition("escalate", "new", agent.id, kind="escalation", note=notes)
            story.change(agent.id, "group", first_line.name, owner.name)
            story.comment(agent.id, None, notes, internal=True)
            ticket["group_id"] = owner.id
            workers = owner.workers
        if status != "new":
            worker = rng.choice(workers)
            story.wait(5, 600)
            story.transition("assign", "assigned", worker.id)
            story.change(worker.id, "assignee", "", worker.username)
            ticket["assignee_id"] = worker.id
            if status != "assigned":
                _work(story, worker, caller, status, rng)
                if status in ("resolved", "closed"):
                    code = _resolution_code(rng, scenario.type)
                    story.wait(30, 2880)
                    _resolve(story, worker, code, first_contact=False)
                    if status == "closed":
                        _close(story, context, caller_user, rng)

    _place_in_time(story, context, status, rng)
    return story.ticket, story.comments, story.timeline


def _work(story: _Story, worker: Worker, caller: Caller, status: str, rng: random.Random):
    ticket = story.ticket
    story.wait(5, 240)
    story.transition("start", "in_progress", worker.id)
    story.wait(1, 30)
    story.comment(worker.id, None, rng.choice(data.FIRST_RESPONSES))
    if rng.random() < 0.6:
        story.wait(10, 600)
        story.comment(caller.user_id, caller.id, rng.choice(data.USER_REPLIES), channel="email")
    if rng.random() < 0.5:
        story.wait(5, 120)
        story.comment(worker.id, None, rng.choice(data.WORK_NOTES), internal=True)
    if status == "pending" or (status not in ("in_progress",) and rng.random() < 0.25):
        reason = rng.choices(["user", "third_party", "change", "other"], [5, 3, 1, 1])[0]
        note = data.PENDING_NOTES[reason]
        story.wait(10, 240)
        story.transition("pend", "pending", worker.id, note=note)
        ticket["pending_reason"], ticket["pending_note"] = reason, note
        if status != "pending":
            story.wait(60, 2880)
            story.transition("resume", "in_progress", worker.id)
            ticket["pending_reason"], ticket["pending_note"] = "", ""


def _resolution_code(rng: random.Random, ticket_type: str) -> str:
    if ticket_type == "request":
        return rng.choices(["fulfilled", "no_response"], [19, 1])[0]
    return rng.choices(
        ["solved", "workaround", "user_instructed", "not_reproducible", "duplicate", "no_response"],
        [50, 12, 18, 8, 7, 5],
    )[0]


def _resolve(story: _Story, worker: Worker, code: str, *, first_contact: bool) -> None:
    ticket = story.ticket
    notes = data.RESOLUTIONS[code]
    story.transition("resolve", "resolved", worker.id, note=notes)
    if ticket["assignee_id"] is None:
        story.change(worker.id, "assignee", "", worker.username)
        ticket["assignee_id"] = worker.id
    ticket.update(
        resolution_code=code,
        resolution_notes=notes,
        resolved_at=story.t,
        first_contact_resolution=first_contact,
    )


def _close(story: _Story, context: StoryContext, caller_user, rng: random.Random) -> None:
    if caller_user and rng.random() < 0.3:
        story.wait(60, 60 * 24 * 2)
        story.transition("close", "closed", caller_user, worker=False)
    else:
        story.t += timedelta(days=context.auto_close_days, minutes=rng.uniform(1, 60))
        note = f"Closed automatically after {context.auto_close_days} days."
        story.transition("close", "closed", None, note=note, worker=False)
    story.ticket["closed_at"] = story.t


def _place_in_time(story: _Story, context: StoryContext, status: str, rng: random.Random):
    """Turn the story's offsets into datetimes ending before ``now``, spread over 90 days."""
    span = story.t
    now = context.now
    if status == "resolved":
        # Still resolved: the auto-close job has not run on it yet.
        slack = timedelta(hours=rng.uniform(0.5, 24 * max(context.auto_close_days - 1, 1)))
    elif status in ("new", "assigned"):
        slack = timedelta(hours=rng.uniform(0.1, 72))
    elif status in ("in_progress", "pending"):
        slack = timedelta(hours=rng.uniform(0.5, 24 * 14))
    else:
        room = (timedelta(days=90) - span) / timedelta(hours=1)
        slack = timedelta(hours=rng.uniform(1, max(room, 1.0)))
    created = now - span - slack
    ticket = story.ticket
    ticket["created_at"] = created
    ticket["updated_at"] = created + span
    for name in ("first_response_at", "resolved_at", "closed_at"):
        if ticket[name] is not None:
            ticket[name] = created + ticket[name]
    for row in story.comments:
        row["created_at"] = created + row["created_at"]
    for row in story.timeline:
        row["created_at"] = created + row["created_at"]


# --- writing the demo tickets ----------------------------------------------------------------


def _take_numbers(counts: dict[str, int]) -> dict[str, int]:
    """Reserve ``counts[type]`` numbers per ticket type; returns the first of each range."""
    first = {}
    for ticket_type, count in counts.items():
        counter, _ = TicketCounter.objects.select_for_update().get_or_create(type=ticket_type)
        TicketCounter.objects.filter(pk=counter.pk).update(value=F("value") + count)
        first[ticket_type] = counter.value + 1
    return first


def _shift(story, delta: timedelta) -> None:
    ticket, comments, timeline = story
    for name in ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at"):
        if ticket[name] is not None:
            ticket[name] += delta
    for row in (*comments, *timeline):
        row["created_at"] += delta


def mass_incident(rng: random.Random, context: StoryContext, *, children: int = 6):
    """A CRM outage: one P1 parent ticket and the callers' tickets that arrived with it.

    Returns ``(parent_story, child_stories)``; the children are reported within the hour
    after the parent and resolved as duplicates of it.
    """
    crm = next(s for s in context.scenarios if s.title.startswith("CRM very slow"))
    parent = build_story(rng, context, status="resolved", channel="phone", scenario=crm)
    parent[0].update(
        title="CRM down for the whole Customer Care",
        description="No consultant in Kraków or Gdańsk can open customer cards since 9:40.",
        impact=1,
        urgency=1,
        priority=context.matrix[(1, 1)],
    )
    started = parent[0]["created_at"]
    stories = []
    for _ in range(children):
        story = build_story(
            rng, context, status="resolved", channel=rng.choice(["phone", "email"]), scenario=crm
        )
        target = started + timedelta(minutes=rng.uniform(1, 60))
        latest = context.now - story[0]["updated_at"]
        _shift(story, min(target - story[0]["created_at"], latest))
        ticket = story[0]
        ticket["resolution_code"] = "duplicate"
        ticket["resolution_notes"] = data.RESOLUTIONS["duplicate"]
        for entry in story[2]:
            if entry["transition"] == "resolve":
                entry["note"] = ticket["resolution_notes"]
        stories.append(story)
    return parent, stories


@transaction.atomic
def seed_tickets(
    count: int, *, rng: random.Random, context: StoryContext, pinned=(), mass_children: int = 6
) -> int:
    """Write ``count`` ticket stories; ``pinned`` are (caller, status, channel) for the first ones.

    ``mass_children + 1`` of them form a mass incident (a parent and its children).
    Returns how many tickets were created.
    """
    stories = []
    parent, children = mass_incident(rng, context, children=mass_children)
    stories.append(parent)
    stories.extend(children)
    for index in range(count - len(stories)):
        if index < len(pinned):
            caller, status, channel = pinned[index]
            stories.append(build_story(rng, context, caller=caller, status=status, channel=channel))
        else:
            stories.append(build_story(rng, context))
    # Numbers follow creation time, as they would have been handed out.
    parent_ticket, child_tickets = parent[0], [id(story[0]) for story in children]
    stories.sort(key=lambda story: story[0]["created_at"])
    counts: dict[str, int] = {}
    for ticket, _comments, _timeline in stories:
        counts[ticket["type"]] = counts.get(ticket["type"], 0) + 1
    next_number = _take_numbers(counts)
    tickets = []
    for ticket, _comments, _timeline in stories:
        kind = ticket["type"]
        ticket["number"] = f"{TICKET_NUMBER_PREFIX[kind]}-{next_number[kind]:06d}"
        next_number[kind] += 1
        tickets.append(Ticket(**ticket))
    Ticket.objects.bulk_create(tickets, batch_size=500)
    by_story = {id(story[0]): saved for story, saved in zip(stories, tickets, strict=True)}
    Ticket.objects.filter(pk__in=[by_story[key].pk for key in child_tickets]).update(
        parent_id=by_story[id(parent_ticket)].pk
    )

    comments = []
    for saved, (_ticket, story_comments, _timeline) in zip(tickets, stories, strict=True):
        comments.extend(Comment(ticket_id=saved.pk, **row) for row in story_comments)
    Comment.objects.bulk_create(comments, batch_size=500)

    entries = []
    position = 0
    for saved, (_ticket, story_comments, story_timeline) in zip(tickets, stories, strict=True):
        for row in story_timeline:
            values = dict(row)
            index = values.pop("comment")
            comment_id = comments[position + index].pk if index is not None else None
            entries.append(TimelineEntry(ticket_id=saved.pk, comment_id=comment_id, **values))
        position += len(story_comments)
    TimelineEntry.objects.bulk_create(entries, batch_size=500)
    return len(tickets)
