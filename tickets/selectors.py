"""Permission-scoped reads of tickets."""

from __future__ import annotations

import re

from django.db.models import Prefetch, Q, QuerySet

from helpdesk.models import Person
from helpdesk.phones import normalize_phone_or_none
from helpdesk.roles import is_staff_member
from helpdesk.selectors import people_by_e164, people_by_email
from tickets.models import OPEN_STATUSES, Attachment, Comment, Ticket, TimelineEntry

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
    queryset = ticket.timeline.select_related("actor", "comment", "comment__author")
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
