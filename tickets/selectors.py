"""Permission-scoped reads of tickets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import (
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)

from helpdesk import refdata
from helpdesk.models import Person, SupportGroup
from helpdesk.paging import capped_count
from helpdesk.phones import normalize_phone_or_none
from helpdesk.roles import is_staff_member
from helpdesk.selectors import people_by_e164, people_by_email
from tickets.models import (
    OPEN_STATUSES,
    Attachment,
    CannedReply,
    Comment,
    SavedView,
    Tag,
    Ticket,
    TicketLink,
    TicketWatcher,
    TimelineEntry,
    status_rank,
)

LIST_RELATED = ("caller", "group", "assignee", "service", "category")


def ticket_queryset_for(user) -> QuerySet[Ticket]:
    """Every ticket ``user`` may see: all for staff, only their own (as caller) otherwise."""
    queryset = Ticket.objects.all()
    if not user.is_authenticated:
        return queryset.none()
    if is_staff_member(user):
        return queryset
    person = getattr(user, "person", None)
    if person is None:
        return queryset.none()
    return queryset.filter(caller=person)


def ticket_list(user, *, search: str = "", open_only: bool | None = None) -> QuerySet[Ticket]:
    """The list a user sees, with what a list row shows joined in (one query per page)."""
    queryset = ticket_queryset_for(user).select_related(*LIST_RELATED)
    if open_only is True:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif open_only is False:
        queryset = queryset.exclude(status__in=OPEN_STATUSES)
    if search:
        queryset = ticket_search(queryset, search)
    return queryset


TICKET_NUMBER = re.compile(r"^(INC|REQ)-?(\d{1,9})$", re.IGNORECASE)


def ticket_number_normalized(text: str) -> str | None:
    """``inc-123``, ``INC000123``, ``INC-000123`` -> ``INC-000123``; None if not a number."""
    match = TICKET_NUMBER.match(text.strip())
    return f"{match[1].upper()}-{int(match[2]):06d}" if match else None


def ticket_search(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """Match a number, a title, or the caller's name, e-mail or phone number.

    A ticket number, an e-mail address or a phone number is looked up on its own index
    only: OR-ed with the free-text conditions it made PostgreSQL scan every ticket (6-16 s
    at 1M tickets, see docs/benchmarks.md). Other text matches title and caller name.
    """
    text = text.strip()
    if not text:
        return queryset
    number = ticket_number_normalized(text)
    if number:
        return queryset.filter(number=number)
    if "@" in text and " " not in text:
        # Ids first: joined into the ticket query, PostgreSQL walked all tickets by date.
        # People who left are still found: their tickets are part of the record.
        people = people_by_email(text, active_only=False)
        return queryset.filter(caller_id__in=[person.pk for person in people])
    digits = sum(c.isdigit() for c in text)
    if digits and not any(c.isalpha() for c in text):
        condition = None
        if text.isdigit() and len(text) <= 6:
            condition = Q(number__in=[f"{prefix}-{int(text):06d}" for prefix in ("INC", "REQ")])
        e164 = normalize_phone_or_none(text) if digits >= 6 else None
        if e164:
            by_phone = Q(caller__in=people_by_e164(e164).values("pk"))
            condition = by_phone if condition is None else condition | by_phone
        if condition is not None:
            return queryset.filter(condition)
        # Digits that are neither a ticket number nor a phone number ("12:30"): free text.
    # People first (trigram index on the name), then one OR of two indexed conditions on
    # tickets: joined into one query the OR across tables forced a scan of every ticket.
    people = list(
        Person.objects.filter(full_name__icontains=text).values_list("pk", flat=True)[:500]
    )
    return queryset.filter(Q(title__icontains=text) | Q(caller_id__in=people))


def ticket_get_for(user, *, number: str | None = None, pk: int | None = None) -> Ticket:
    """One ticket the user may see, or ``Ticket.DoesNotExist`` (a 404, never a 403).

    The caller (with site and login) and the assignee are joined; the group, service and
    category come from the rows each process keeps (helpdesk.refdata), the opener and parent
    by primary key in small queries of their own: joining all ten tables made PostgreSQL
    spend 5.8 ms planning this one-row lookup at 1M tickets (0.7 ms with four joins), on
    every ticket page, API detail and write."""
    queryset = (
        ticket_queryset_for(user)
        .select_related("caller", "caller__site", "caller__user", "assignee")
        .prefetch_related("opened_by", "parent")
    )
    ticket = queryset.get(number=number) if number is not None else queryset.get(pk=pk)
    refdata.attach(ticket, "group", "service", "category")
    return ticket


def comments_for(user, ticket: Ticket) -> QuerySet[Comment]:
    queryset = ticket.comments.select_related("author", "author_person").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
    )
    if not user.has_perm("tickets.view_internal_notes"):
        queryset = queryset.filter(is_internal=False)
    return queryset


def attachments_for(user, ticket: Ticket) -> QuerySet[Attachment]:
    queryset = ticket.attachments.select_related("uploaded_by")
    if not user.has_perm("tickets.view_internal_notes"):
        queryset = queryset.filter(is_internal=False)
    return queryset


def attachment_get_for(user, pk: int) -> Attachment:
    attachment = Attachment.objects.select_related("ticket").get(pk=pk)
    visible = ticket_queryset_for(user).filter(pk=attachment.ticket_id).exists()
    if not visible or (attachment.is_internal and not user.has_perm("tickets.view_internal_notes")):
        raise Attachment.DoesNotExist
    return attachment


def timeline_for(user, ticket: Ticket) -> QuerySet[TimelineEntry]:
    # The actor's directory entry names them on the page (ticket_tags.person_name).
    queryset = ticket.timeline.select_related("actor__person", "comment", "comment__author")
    if not user.has_perm("tickets.view_internal_notes"):
        queryset = queryset.filter(is_internal=False)
    return queryset


def caller_tickets(person_id: int, *, exclude_id: int | None = None, limit: int = 10):
    """A caller's open tickets and most recent tickets, for the caller card: what it shows
    of them (number, state, title, opened), not their descriptions."""
    queryset = Ticket.objects.filter(caller_id=person_id)
    if exclude_id:
        queryset = queryset.exclude(pk=exclude_id)
    newest = queryset.order_by("-created_at").values("pk")[:limit]
    newest_open = queryset.filter(status__in=OPEN_STATUSES).order_by("-created_at").values("pk")
    # One query for both lists: the rows that are in either.
    both = sorted(
        queryset.filter(Q(pk__in=newest) | Q(pk__in=newest_open[:limit])).only(
            *CALLER_CARD_TICKET_FIELDS
        ),
        key=lambda ticket: (ticket.created_at, ticket.pk),
        reverse=True,
    )
    open_tickets = [ticket for ticket in both if ticket.status in OPEN_STATUSES][:limit]
    return open_tickets, both[:limit]


# What the caller card (cti's screen pop) shows of a ticket, in this order. ``cti.statements``
# reads the same columns with a statement written out for the ring path;
# tests/cti/test_statements.py checks both give the same rows.
CALLER_CARD_TICKET_FIELDS = ("id", "number", "title", "status", "created_at")


def caller_card_tickets(person_id: int, *, limit: int, open_only: bool = False) -> list[tuple]:
    """The caller's newest tickets (only the open ones with ``open_only``), at most
    ``limit``, as rows of :data:`CALLER_CARD_TICKET_FIELDS`."""
    queryset = Ticket.objects.filter(caller_id=person_id)
    if open_only:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    rows = queryset.order_by("-created_at").values_list(*CALLER_CARD_TICKET_FIELDS)
    return list(rows[:limit])


# --- the agent's composer: canned replies, colleagues to mention -----------------------------


def canned_replies_for(ticket: Ticket) -> list:
    """The active canned replies offered on ``ticket``: its group's and the all-groups ones,
    those in the caller's language first (then the others, by title)."""
    replies = CannedReply.objects.filter(is_active=True).filter(
        Q(group__isnull=True) | Q(group_id=ticket.group_id)
    )
    language = getattr(ticket.caller, "language", "") or ""
    return sorted(
        replies.only("pk", "title", "language", "group_id"),
        key=lambda reply: (reply.language != language, reply.title.lower(), reply.language),
    )


def canned_reply_get_for(ticket: Ticket, pk: int):
    """One active canned reply offered on ``ticket`` (``CannedReply.DoesNotExist`` else)."""
    return CannedReply.objects.filter(is_active=True).get(
        Q(group__isnull=True) | Q(group_id=ticket.group_id), pk=pk
    )


def ticket_workers() -> QuerySet:
    """Active users who may work tickets (``tickets.work_ticket`` through a role, their own
    permissions, or a superuser): the colleagues an agent may @mention. One query.

    Two EXISTS on the role and permission tables: joining them with an OR (and a distinct
    over the joined rows) cost 18 ms on a database with 500 agents, on every ticket page."""
    user_model = get_user_model()
    permission = Permission.objects.filter(
        codename="work_ticket", content_type__app_label="tickets"
    ).values("pk")
    by_role = user_model.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__permissions__in=permission
    )
    by_own = user_model.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"), permission__in=permission
    )
    return user_model.objects.filter(
        Q(is_superuser=True) | Exists(by_role) | Exists(by_own), is_active=True
    )


def colleagues_matching(prefix: str, *, limit: int = 10) -> list:
    """Up to ``limit`` colleagues whose login, first or last name starts with ``prefix``
    (for the composer's @ autocomplete), by login."""
    prefix = prefix.strip().lstrip("@")
    queryset = ticket_workers()
    if prefix:
        queryset = queryset.filter(
            Q(username__istartswith=prefix)
            | Q(first_name__istartswith=prefix)
            | Q(last_name__istartswith=prefix)
        )
    fields = ("pk", "username", "first_name", "last_name", "person__full_name")
    return list(queryset.select_related("person").order_by("username").only(*fields)[:limit])


# --- the console's queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSort:
    """A column the queue sorts by: the fields of the ORDER BY, in this order.

    ``nullable``: rows without a value (no group, nobody assigned) come last in both
    directions, on SQLite as on PostgreSQL (their defaults differ). Columns that cannot be
    empty keep plain ``ORDER BY``, so that PostgreSQL can read an index backwards for them.

    ``parts``: for a column of a small related table (a group's or an assignee's name) or
    one that is mostly empty (the due time), the order as a list of parts, each a condition
    whose rows follow one another in an indexed order (``parts(descending)`` gives
    ``[(Q, ordering), ...]``): the page is put together part by part (QueueRows) instead of
    sorting every open ticket by a joined name (1.4 s at 1M tickets, 230k open).
    """

    fields: tuple
    nullable: bool = False
    parts: Callable[[bool], list[tuple[Q, list[str]]]] | None = None


def _by_id(descending: bool) -> list[str]:
    return ["-id"] if descending else ["id"]


def _group_parts(descending: bool) -> list[tuple[Q, list[str]]]:
    """By group name, then number order within a group; tickets without a group last."""
    groups = list(SupportGroup.objects.order_by("name", "pk").values_list("pk", flat=True))
    if descending:
        groups.reverse()
    order = _by_id(descending)
    return [(Q(group_id=pk), order) for pk in groups] + [(Q(group__isnull=True), order)]


def _assignee_ids() -> list[int]:
    """Every user some ticket is (or was last) assigned to. On PostgreSQL a skip scan of the
    (assignee, id) index: one index probe per assignee instead of reading every ticket."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """WITH RECURSIVE seen(id) AS (
                    (SELECT assignee_id FROM tickets_ticket WHERE assignee_id IS NOT NULL
                     ORDER BY assignee_id LIMIT 1)
                    UNION ALL
                    SELECT (SELECT t.assignee_id FROM tickets_ticket t WHERE t.assignee_id > seen.id
                            ORDER BY t.assignee_id LIMIT 1)
                    FROM seen WHERE seen.id IS NOT NULL
                ) SELECT id FROM seen WHERE id IS NOT NULL"""
            )
            return [row[0] for row in cursor.fetchall()]
    return list(
        Ticket.objects.filter(assignee__isnull=False)
        .order_by()
        .values_list("assignee_id", flat=True)
        .distinct()
    )


def _assignee_parts(descending: bool) -> list[tuple[Q, list[str]]]:
    """By the assignee's first name, last name and login; unassigned tickets last."""
    users = get_user_model().objects.filter(pk__in=_assignee_ids())
    users = list(
        users.order_by("first_name", "last_name", "username", "pk").values_list("pk", flat=True)
    )
    if descending:
        users.reverse()
    order = _by_id(descending)
    return [(Q(assignee_id=pk), order) for pk in users] + [(Q(assignee__isnull=True), order)]


def _due_parts(descending: bool) -> list[tuple[Q, list[str]]]:
    """By due time (soonest first, or latest first), then the tickets without one."""
    order = ["-due_at", "-id"] if descending else ["due_at", "id"]
    return [(Q(due_at__isnull=False), order), (Q(due_at__isnull=True), _by_id(descending))]


# The queue's sort keys (``?sort=priority``, ``?sort=-created``). A key not listed is the
# default sort, never an error. Each sort ends with the id in the same direction, so rows that
# tie (same priority, same second) keep their order from page to page. Each has an index
# (tickets.models.Ticket.Meta.indexes; the caller's name: helpdesk's person name index).
QUEUE_SORTS: dict[str, QueueSort] = {
    "number": QueueSort(("number",)),
    "title": QueueSort(("title",)),
    "caller": QueueSort(("caller__full_name",)),
    # Ascending is P1 first: the most urgent work on top.
    "priority": QueueSort(("priority",)),
    "state": QueueSort((status_rank(),)),
    "group": QueueSort(("group__name",), nullable=True, parts=_group_parts),
    "assignee": QueueSort(
        ("assignee__first_name", "assignee__last_name", "assignee__username"),
        nullable=True,
        parts=_assignee_parts,
    ),
    "created": QueueSort(("created_at",)),
    "updated": QueueSort(("updated_at",)),
    # The earliest running service-level target (kept by the sla app); tickets without one last.
    "due": QueueSort(("due_at",), nullable=True, parts=_due_parts),
}
QUEUE_DEFAULT_SORT = "-created"


def _sort_key(value: str | None, default: str) -> str:
    value = (value or "").strip()
    return value if value.lstrip("-") in QUEUE_SORTS else default


def queue_ordering(value: str | None, default: str = QUEUE_DEFAULT_SORT) -> tuple[str, list]:
    """(the sort as links show it, the ORDER BY) for a ``sort=`` value such as ``-priority``.

    An unknown key gives the default sort."""
    value = _sort_key(value, default)
    descending = value.startswith("-")
    sort = QUEUE_SORTS[value.lstrip("-")]
    ordering = []
    for field in sort.fields:
        expression = F(field) if isinstance(field, str) else field
        if sort.nullable:
            expression = (expression.desc if descending else expression.asc)(nulls_last=True)
        else:
            expression = expression.desc() if descending else expression.asc()
        ordering.append(expression)
    ordering.append("-id" if descending else "id")
    return value, ordering


class QueueRows:
    """A queue sorted part by part (``QueueSort.parts``), as a sequence a paginator slices.

    A queue of at most ``small`` tickets is sorted by the plain ORDER BY (``ordering``): a
    few hundred rows sort in no time, and the page takes as many queries whatever the
    groups. A larger one is read part by part: a slice reads the ids of each part in turn, in
    the part's indexed order, at most as many as the page still needs (a part wholly before
    the page is only counted up to the page's end), and stops once the page is full; then
    the page's tickets in one query (``rows`` adds what a row shows). ``queryset`` is the
    queue, filtered and unordered: what the paginator counts (``capped_count``, whose answer
    is kept to choose the way).
    """

    def __init__(self, queryset, parts, ordering, rows=lambda tickets: tickets, small=1000):
        self.queryset = queryset
        self.parts = parts
        self.ordering = ordering
        self.rows = rows
        self.small = small
        self._capped: tuple[int, int, bool] | None = None

    def capped_count(self, cap: int) -> tuple[int, bool]:
        if self._capped is None or self._capped[0] != cap:
            self._capped = (cap, *capped_count(self.queryset, cap))
        return self._capped[1], self._capped[2]

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("QueueRows takes slices only")
        _count, more = self.capped_count(self.small)
        if not more:
            return list(self.rows(self.queryset.order_by(*self.ordering))[key])
        skip = key.start or 0
        need = (key.stop if key.stop is not None else skip + self.small) - skip
        ids: list[int] = []
        for condition, ordering in self.parts:
            if need <= 0:
                break
            found = list(
                self.queryset.filter(condition)
                .order_by(*ordering)
                .values_list("pk", flat=True)[: skip + need]
            )
            if len(found) <= skip:
                skip -= len(found)
                continue
            taken = found[skip : skip + need]
            ids.extend(taken)
            need -= len(taken)
            skip = 0
        if not ids:
            return []
        by_id = {ticket.pk: ticket for ticket in self.rows(self.queryset.filter(pk__in=ids))}
        return [by_id[pk] for pk in ids if pk in by_id]


def queue_sorted(tickets: QuerySet[Ticket], value: str | None, user, *, default: str):
    """(the sort as links show it, the queue's rows in that order) for the console's queue:
    an ordered queryset, or QueueRows for the sorts made of parts. Rows carry what
    ``ticket_queue_rows`` adds."""
    value = _sort_key(value, default)
    sort = QUEUE_SORTS[value.lstrip("-")]
    value, ordering = queue_ordering(value, default)
    if sort.parts is not None:
        parts = sort.parts(value.startswith("-"))
        return value, QueueRows(
            tickets, parts, ordering, lambda page: ticket_queue_rows(page, user)
        )
    return value, ticket_queue_rows(tickets.order_by(*ordering), user)


def ticket_queue_filter(tickets: QuerySet[Ticket], filters: dict) -> QuerySet[Ticket]:
    """``tickets`` narrowed by the queue's filters (the cleaned fields of QueueFilterForm)."""
    for name, lookup in (
        ("state", "status"),
        ("priority", "priority"),
        ("group", "group"),
        ("service", "service"),
        ("channel", "channel"),
    ):
        if filters.get(name) not in (None, ""):
            tickets = tickets.filter(**{lookup: filters[name]})
    # Every tag named: one EXISTS per tag, so a ticket is never listed twice (a join would
    # repeat it per tag, and DISTINCT would stop PostgreSQL from walking an index in order).
    for name in filters.get("tags") or ():
        tickets = tickets.filter(
            Exists(Ticket.tags.through.objects.filter(ticket_id=OuterRef("pk"), tag__name=name))
        )
    if filters.get("q"):
        tickets = ticket_search(tickets, filters["q"])
    return tickets


def ticket_queue_rows(tickets: QuerySet[Ticket], user) -> QuerySet[Ticket]:
    """What a queue row shows beyond ``ticket_list``: the tags (one query per page) and
    ``watched``, whether ``user`` watches the ticket (in the page's own query)."""
    return tickets.annotate(
        watched=Exists(TicketWatcher.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk))
    ).prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))


def saved_views_for(user) -> QuerySet[SavedView]:
    """The user's own saved views, by name (nobody sees another's)."""
    return SavedView.objects.filter(owner_id=user.pk).order_by("name", "id")


def saved_view_get_for(user, pk: int) -> SavedView:
    """One of the user's saved views, or ``SavedView.DoesNotExist`` (a 404 for anyone else)."""
    return saved_views_for(user).get(pk=pk)


# --- relations: merged duplicates, related tickets, watchers, tags ---------------------------

TAG_SUGGESTIONS = 20


def tickets_with_tag(queryset: QuerySet[Ticket], name: str) -> QuerySet[Ticket]:
    """``queryset`` narrowed to tickets tagged ``name`` (any case), each ticket once."""
    name = (name or "").strip().lower()
    return queryset.filter(
        Exists(Ticket.tags.through.objects.filter(ticket_id=OuterRef("pk"), tag__name=name))
    )


def tag_names_starting(prefix: str, *, limit: int = TAG_SUGGESTIONS) -> list[str]:
    """Existing tag names that start with ``prefix`` (any case), for autocomplete."""
    prefix = (prefix or "").strip().lower()
    tags = Tag.objects.order_by("name")
    if prefix:
        tags = tags.filter(name__startswith=prefix)
    return list(tags.values_list("name", flat=True)[:limit])


def related_tickets(ticket: Ticket) -> list[Ticket]:
    """Tickets linked to ``ticket`` either way, oldest link first (for staff pages)."""
    links = (
        TicketLink.objects.filter(Q(source=ticket) | Q(target=ticket))
        .select_related("source", "target")
        .order_by("created_at", "pk")
    )
    return [link.target if link.source_id == ticket.pk else link.source for link in links]


def ticket_watchers(ticket: Ticket) -> list:
    """The users who watch ``ticket``, by name."""
    return [
        watcher.user
        for watcher in TicketWatcher.objects.filter(ticket=ticket)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    ]


def merged_into_for(user, ticket: Ticket) -> tuple[str, bool] | None:
    """Where a merged ticket continues, as ``(number, user may open it)``; None if it was
    not merged. An end user is given the number of someone else's ticket, never a link."""
    if ticket.merged_into_id is None:
        return None
    number = Ticket.objects.filter(pk=ticket.merged_into_id).values_list("number", flat=True)
    number = number.first()
    if number is None:
        return None
    visible = ticket_queryset_for(user).filter(pk=ticket.merged_into_id).exists()
    return number, visible
