"""Reads of the core directory."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from helpdesk.models import Person, PhoneNumber
from helpdesk.phones import normalize_phone_or_none


def people_by_phone(raw: str) -> QuerySet[Person]:
    """People with ``raw`` among their numbers (indexed E.164 lookup); empty if not a number."""
    e164 = normalize_phone_or_none(raw)
    if e164 is None:
        return Person.objects.none()
    # A subquery on the indexed number instead of a join: no DISTINCT needed.
    owners = PhoneNumber.objects.filter(e164=e164).values("person_id")
    return person_list().filter(pk__in=owners)


def person_text_search(queryset: QuerySet[Person], text: str) -> QuerySet[Person]:
    """Narrow ``queryset`` to people whose name or e-mail contains ``text``."""
    return queryset.filter(Q(full_name__icontains=text) | Q(email__icontains=text))


def person_list() -> QuerySet[Person]:
    return Person.objects.select_related("site", "user").prefetch_related(
        Prefetch("phone_numbers", queryset=PhoneNumber.objects.order_by("kind", "id"))
    )
