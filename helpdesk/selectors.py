"""Reads of the core directory."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from helpdesk.models import Person, PhoneNumber
from helpdesk.phones import normalize_phone_or_none


def people_by_phone(raw: str) -> QuerySet[Person]:
    """People with ``raw`` among their numbers (indexed E.164 lookup); empty if not a number."""
    e164 = normalize_phone_or_none(raw)
    if e164 is None:
        return Person.objects.none()
    return person_list().filter(phone_numbers__e164=e164).distinct()


def person_list() -> QuerySet[Person]:
    return Person.objects.select_related("site", "user").prefetch_related(
        Prefetch("phone_numbers", queryset=PhoneNumber.objects.order_by("kind", "id"))
    )
