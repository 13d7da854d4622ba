"""Reads of the core: the directory and API tokens.

Finding people by a phone number or an e-mail address is done here and only here: pages,
the API, ticket search, call routing and the ring path's written-out statements all ask
these selectors (or take their row shape from them, ``cti.statements``).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from helpdesk.models import ApiToken, Person, PhoneNumber
from helpdesk.phones import normalize_phone_or_none

# How many people an e-mail address may find: an address is personal, a shared mailbox
# known to a few people at most; more is bad data, not a reason to read thousands of rows.
EMAIL_MATCHES = 100


def people_by_e164(e164: str) -> QuerySet[Person]:
    """People with the normalised number ``e164`` among their numbers (indexed lookup).

    The fast path for callers that normalised the number already (a ring, the routing
    hint, ticket search): a bare queryset, to filter, order or take columns from."""
    # A subquery on the indexed number instead of a join: no DISTINCT needed.
    owners = PhoneNumber.objects.filter(e164=e164).values("person_id")
    return Person.objects.filter(pk__in=owners)


def people_by_phone(raw: str) -> QuerySet[Person]:
    """People with ``raw`` (a number in any form) among their numbers, with what the
    directory shows of them (as :func:`person_list`); empty if ``raw`` is not a number."""
    e164 = normalize_phone_or_none(raw)
    if e164 is None:
        return Person.objects.none()
    return _with_directory_details(people_by_e164(e164))


def people_by_email(
    address: str, *, active_only: bool = True, limit: int = EMAIL_MATCHES
) -> list[Person]:
    """The people (active ones unless ``active_only`` is False) whose e-mail is ``address``,
    by id, at most ``limit``.

    The exact match uses the e-mail column's index; only when it finds nobody is the
    address compared case-insensitively (addresses are mostly stored as they were typed,
    and senders rarely change their case), through the index on ``UPPER(email)`` on
    PostgreSQL."""
    address = address.strip()
    if not address:
        return []
    people = Person.objects.order_by("pk")
    if active_only:
        people = people.filter(is_active=True)
    return list(people.filter(email=address)[:limit]) or list(
        people.filter(email__iexact=address)[:limit]
    )


def person_text_search(queryset: QuerySet[Person], text: str) -> QuerySet[Person]:
    """Narrow ``queryset`` to people whose name or e-mail contains ``text``."""
    return queryset.filter(Q(full_name__icontains=text) | Q(email__icontains=text))


def person_list() -> QuerySet[Person]:
    return _with_directory_details(Person.objects.all())


def _with_directory_details(queryset: QuerySet[Person]) -> QuerySet[Person]:
    return queryset.select_related("site", "user").prefetch_related(
        Prefetch("phone_numbers", queryset=PhoneNumber.objects.order_by("kind", "id"))
    )


# What the caller card (cti's screen pop) shows of a person, in this order, followed by the
# site's name. ``cti.statements`` reads the same columns with a statement written out for the
# ring path; tests/cti/test_statements.py checks both give the same rows.
CALLER_CARD_PERSON_FIELDS = ("id", "full_name", "department", "job_title", "is_vip", "site")


def caller_card_people(e164: str, *, limit: int) -> list[tuple]:
    """The active people who have ``e164``, by id, at most ``limit``, as rows of
    :data:`CALLER_CARD_PERSON_FIELDS` and the site's name (None without a site)."""
    people = people_by_e164(e164).filter(is_active=True).order_by("pk")
    return list(people.values_list(*CALLER_CARD_PERSON_FIELDS, "site__name")[:limit])


def api_token_list_for(user) -> QuerySet[ApiToken]:
    """The user's tokens to show them: every usable one, and those revoked or expired in the
    last 30 days (so a token that stopped working can still be recognised)."""
    since = timezone.now() - timedelta(days=30)
    return ApiToken.objects.filter(user=user).filter(
        Q(revoked_at__isnull=True, expires_at__gt=since) | Q(revoked_at__gt=since)
    )


def api_token_get_for(user, token_id: int) -> ApiToken:
    """One of the user's own tokens; another user's is a 404, as if it did not exist."""
    return get_object_or_404(ApiToken, pk=token_id, user=user)
