"""Permission-scoped reads of tickets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from helpdesk.models import Person
from helpdesk.phones import normalize_phone_or_none
from helpdesk.roles import is_staff_member
from helpdesk.selectors import people_by_e164, people_by_email
from tickets.models import (
    OPEN_STATUSES,
    Attachment,
    CannedReply,
    Comment,
    SavedView,
    Status,
    Tag,
    Ticket,
    TicketLink,
    TicketWatcher,
    TimelineEntry,
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
    """One ticket the user may see, or ``Ticket.DoesNotExist`` (a 404, never a 403)."""
    queryset = ticket_queryset_for(user).select_related(
        *LIST_RELATED, "opened_by", "parent", "caller__site", "caller__user"
    )
    if number is not None:
        return queryset.get(number=number)
    return queryset.get(pk=pk)


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
    """A caller's open tickets and most recent tickets, for the caller card."""
    queryset = Ticket.objects.filter(caller_id=person_id).select_related("group", "assignee")
    if exclude_id:
        queryset = queryset.exclude(pk=exclude_id)
    open_tickets = list(queryset.filter(status__in=OPEN_STATUSES).order_by("-created_at")[:limit])
    recent = list(queryset.order_by("-created_at")[:limit])
    return open_tickets, recent


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
    permissions, or a superuser): the colleagues an agent may @mention. One query."""
    permission = {"codename": "work_ticket", "content_type__app_label": "tickets"}
    by_group = {f"groups__permissions__{key}": value for key, value in permission.items()}
    by_user = {f"user_permissions__{key}": value for key, value in permission.items()}
    workers = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(**by_group) | Q(**by_user), is_active=True
    )
    # distinct() through a subquery: the joins repeat a user per matching group.
    return get_user_model().objects.filter(pk__in=workers.values("pk"))


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
    """

    fields: tuple
    nullable: bool = False


# The lifecycle's order, not the stored keys' alphabet (which means nothing in Polish).
_STATUS_ORDER = Case(
    *(When(status=status, then=Value(index)) for index, status in enumerate(Status)),
    default=Value(len(Status)),
    output_field=IntegerField(),
)

# The queue's sort keys (``?sort=priority``, ``?sort=-created``). A key not listed is the
# default sort, never an error. Each sort ends with the id in the same direction, so rows that
# tie (same priority, same second) keep their order from page to page.
QUEUE_SORTS: dict[str, QueueSort] = {
    "number": QueueSort(("number",)),
    "title": QueueSort(("title",)),
    "caller": QueueSort(("caller__full_name",)),
    # Ascending is P1 first: the most urgent work on top.
    "priority": QueueSort(("priority",)),
    "state": QueueSort((_STATUS_ORDER,)),
    "group": QueueSort(("group__name",), nullable=True),
    "assignee": QueueSort(
        ("assignee__first_name", "assignee__last_name", "assignee__username"), nullable=True
    ),
    "created": QueueSort(("created_at",)),
    "updated": QueueSort(("updated_at",)),
    # The earliest running service-level target (kept by the sla app); tickets without one last.
    "due": QueueSort(("due_at",), nullable=True),
}
QUEUE_DEFAULT_SORT = "-created"


def queue_ordering(value: str | None, default: str = QUEUE_DEFAULT_SORT) -> tuple[str, list]:
    """(the sort as links show it, the ORDER BY) for a ``sort=`` value such as ``-priority``.

    An unknown key gives the default sort."""
    value = (value or "").strip()
    if value.lstrip("-") not in QUEUE_SORTS:
        value = default
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
