"""Reads of outages.

The active outages are few and read on hot paths (the voice menu's announcement on every
call, the caller card on every ring, the notices of every page): they are kept per process
as an immutable snapshot, checked against a version token in the shared cache (one cache
read, no query) and read again from the database (one query) when the token changed. Every
service that changes an outage moves the token on, at once and again on commit
(:func:`active_changed`), so every process reloads within one request of the change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone, translation

from helpdesk import refdata
from helpdesk.models import Person, Service, in_reader_language
from helpdesk.roles import can_work_tickets
from outages.models import Outage, OutageSuggestion, OutageUpdate, State

VERSION_KEY = "outages:active:version"


@dataclass(frozen=True)
class ActiveOutage:
    """What the hot paths need of an active outage (no model instance, no query)."""

    pk: int
    title: str
    description: str
    description_pl: str
    service_ids: frozenset[int]
    service_names: tuple[tuple[str, str], ...]  # (English, Polish) per service
    site_ids: frozenset[int]  # empty: every site
    started_at: datetime
    expected_end: datetime | None
    parent_ticket_id: int
    parent_number: str

    @property
    def text(self) -> str:
        """The description for users in the active language."""
        return in_reader_language(self.description, self.description_pl)

    def text_in(self, language: str) -> str:
        return self.description_pl or self.description if language == "pl" else self.description

    @property
    def services_localized(self) -> str:
        return ", ".join(in_reader_language(en, pl) for en, pl in self.service_names)

    @property
    def url(self) -> str:
        from django.urls import reverse

        return reverse("outages:detail", args=[self.pk])

    def affects(self, *, site_id: int | None = None, service_ids=()) -> bool:
        """Whether this outage covers the site (None: unknown, matches) and, when
        ``service_ids`` are given, one of them."""
        if site_id is not None and self.site_ids and site_id not in self.site_ids:
            return False
        return not service_ids or bool(self.service_ids.intersection(service_ids))


@dataclass(frozen=True)
class Snapshot:
    outages: tuple[ActiveOutage, ...]
    # Service lookups for the voice menu's ``service=`` (id, or name in either language).
    service_keys: dict

    def service_id(self, key: str) -> int | None:
        return self.service_keys.get(key.strip().casefold())


# How long a process trusts its snapshot before it reads the version token again: a change
# made in another process is heard within this time (the process that made it, at once).
# Reading the token on every request cost more than the rest of the announcement (a Redis
# client is built per cache operation); see docs/outages.md.
VERSION_CHECK_SECONDS = 0.2

_local: tuple[str, Snapshot, float] | None = None
_lock = threading.Lock()


def active_changed() -> None:
    """Move the version token on: every process reads the active outages again."""
    global _local
    refdata.move_token(VERSION_KEY)
    with _lock:
        _local = None


def _version() -> str:
    return refdata.version_token(VERSION_KEY)


def active_snapshot() -> Snapshot:
    """The active outages, newest first (see the module documentation)."""
    global _local
    local = _local
    now = time.monotonic()
    if local is not None and now - local[2] < VERSION_CHECK_SECONDS:
        return local[1]
    token = _version()  # read before the rows: a change after this moves it on again
    if local is not None and local[0] == token:
        with _lock:
            _local = (token, local[1], now)
        return local[1]
    snapshot = _snapshot_load()
    with _lock:
        _local = (token, snapshot, now)
    return snapshot


def _snapshot_load() -> Snapshot:
    rows = (
        Outage.objects.filter(state=State.ACTIVE)
        .select_related("parent_ticket")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.only("pk", "name", "name_pl")),
            "sites",
        )
        .order_by("-started_at", "-pk")
    )
    outages = []
    keys: dict = {}
    for outage in rows:
        services = list(outage.services.all())
        for service in services:
            for key in (str(service.pk), service.name, service.name_pl):
                if key:
                    keys[key.casefold()] = service.pk
        outages.append(
            ActiveOutage(
                pk=outage.pk,
                title=outage.title,
                description=outage.description,
                description_pl=outage.description_pl,
                service_ids=frozenset(service.pk for service in services),
                service_names=tuple((service.name, service.name_pl) for service in services),
                site_ids=frozenset(site.pk for site in outage.sites.all()),
                started_at=outage.started_at,
                expected_end=outage.expected_end,
                parent_ticket_id=outage.parent_ticket_id,
                parent_number=outage.parent_ticket.number,
            )
        )
    return Snapshot(outages=tuple(outages), service_keys=keys)


def active_outages(*, site_id: int | None = None, service_ids=()) -> list[ActiveOutage]:
    """Active outages covering the site (None: any) and one of ``service_ids`` (if given)."""
    return [
        outage
        for outage in active_snapshot().outages
        if outage.affects(site_id=site_id, service_ids=service_ids)
    ]


def outages_for_caller(
    *, people: list[tuple[int | None, str]], service_id: int | None, service_given: bool
) -> list[ActiveOutage]:
    """The outages the voice menu announces to a caller.

    ``people``: (site id, language) of the people with the caller's number. A known caller
    hears the outages of their site (or of every site), narrowed to the service chosen in
    the menu when one was; an unknown or withheld caller hears the outages of the service
    chosen, or every active outage when none was (their site is unknown: better told once
    too often than not at all). A service the menu names that no active outage covers
    announces nothing."""
    if service_given and service_id is None:
        return []
    services = (service_id,) if service_id is not None else ()
    outages = active_snapshot().outages
    if not people:
        return [outage for outage in outages if outage.affects(service_ids=services)]
    sites = {site_id for site_id, _language in people}
    return [
        outage
        for outage in outages
        if outage.affects(service_ids=services)
        and (
            not outage.site_ids
            or None in sites  # a person without a site: as if unknown
            or bool(outage.site_ids & sites)
        )
    ]


def card_notices(card) -> list[ActiveOutage]:
    """For the caller card (cti's hook): the active outages covering the caller's site
    (an outage of every site covers every known caller), the service chosen in the voice
    menu or of one of the caller's recent tickets, or having one of the caller's tickets as
    a child. No query while nothing is active; one (the caller's recent tickets) otherwise."""
    snapshot = active_snapshot()
    if not snapshot.outages:
        return []
    person = card.person
    site = getattr(person, "site", None) if person is not None else None
    site_id = getattr(site, "pk", None)
    services: set[int] = set()
    parents: set[int] = set()
    ivr_service = getattr(card.call, "ivr_service", "")
    if ivr_service:
        service_id = snapshot.service_id(ivr_service)
        if service_id is not None:
            services.add(service_id)
    found = []
    rest = []
    for outage in snapshot.outages:
        at_site = person is not None and (
            not outage.site_ids or (site_id is not None and site_id in outage.site_ids)
        )
        (found if at_site or outage.service_ids & services else rest).append(outage)
    person_id = getattr(person, "pk", None)
    if rest and person_id is not None:
        from tickets.models import Ticket

        since = timezone.now() - timedelta(days=settings.OUTAGES_CARD_TICKET_DAYS)
        recent = Ticket.objects.filter(caller_id=person_id, created_at__gte=since)
        for service_id, parent_id in recent.values_list("service_id", "parent_id")[:20]:
            services.add(service_id)
            parents.add(parent_id)
        found += [
            outage
            for outage in rest
            if outage.service_ids & services or outage.parent_ticket_id in parents
        ]
    return found


# --- pages -------------------------------------------------------------------------------


def outage_list(*, state: str = "") -> QuerySet[Outage]:
    """Outages for the staff list: with services, sites, the parent and the child count."""
    outages = (
        Outage.objects.select_related("parent_ticket")
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.only("pk", "name", "name_pl")),
            "sites",
        )
        .annotate(children=Count("parent_ticket__children", distinct=True))
        .order_by("-started_at", "-pk")
    )
    if state:
        outages = outages.filter(state=state)
    return outages


def outage_get(pk: int) -> Outage:
    return (
        Outage.objects.select_related("parent_ticket", "declared_by")
        .prefetch_related(
            "services",
            "sites",
            Prefetch("updates", queryset=OutageUpdate.objects.select_related("by")),
        )
        .get(pk=pk)
    )


def outage_children(outage: Outage):
    from tickets.models import Ticket

    return (
        Ticket.objects.filter(parent_id=outage.parent_ticket_id)
        .select_related("caller", "service")
        .order_by("-created_at", "-id")
    )


def open_suggestions(user) -> list[OutageSuggestion]:
    if not can_work_tickets(user):
        return []
    return list(
        OutageSuggestion.objects.filter(status=OutageSuggestion.Status.OPEN)
        .select_related("service")
        .order_by("-updated_at")[:5]
    )


def outages_for_person(person: Person | None) -> list[ActiveOutage]:
    """The portal banner: the active outages of the person's site (or of every site)."""
    site_id = person.site_id if person is not None else None
    return [
        outage
        for outage in active_snapshot().outages
        if not outage.site_ids or site_id is None or site_id in outage.site_ids
    ]


def language_for(languages: list[str]) -> str:
    """The language to speak: the caller's, when everyone with the number has the same
    one; else the site's."""
    chosen = set(languages)
    if len(chosen) == 1:
        language = chosen.pop()
        if language in dict(settings.LANGUAGES):
            return language
    return (settings.LANGUAGE_CODE or "en").split("-")[0]


def announcement_text(outages: list[ActiveOutage], language: str) -> str:
    """What the voice menu says, in ``language``."""
    from django.utils import formats
    from django.utils.translation import gettext as _

    sentences = []
    with translation.override(language):
        for outage in outages:
            sentence = _("We know about a problem: %(description)s") % {
                "description": outage.text_in(language).strip().rstrip(".")
            }
            if outage.expected_end is not None:
                end = timezone.localtime(outage.expected_end)
                if end.date() == timezone.localdate():
                    when = formats.time_format(end, "H:i")
                    sentence += ". " + _("We expect it to be fixed by %(time)s.") % {"time": when}
                else:
                    when = formats.date_format(end, "j E, H:i")
                    sentence += ". " + _("We expect it to be fixed by %(time)s.") % {"time": when}
            else:
                sentence += "."
            sentences.append(sentence)
        if sentences:
            sentences.append(_("Thank you for your patience."))
    return " ".join(sentences)
