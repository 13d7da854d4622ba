"""Reference data and people of the demo organisation, created idempotently.

Every function looks rows up by a natural key (site code, group code, service name,
category path, username, e-mail) and creates only what is missing, so running the seed
again changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction

from helpdesk.demo import data
from helpdesk.models import Category, Person, PhoneNumber, Service, Site, SupportGroup
from helpdesk.phones import normalize_phone
from helpdesk.roles import Role, sync_roles


@dataclass
class Organisation:
    sites: dict[str, Site]
    groups: dict[str, SupportGroup]
    services: dict[str, Service]
    categories: dict[str, Category]  # by path
    staff: dict[str, User]  # by username


def seed_reference() -> tuple[dict, dict, dict, dict]:
    """Sites, support groups, services and the category tree."""
    sites = {}
    for code, name, address, contact_center, _prefix in data.SITES:
        sites[code], _ = Site.objects.get_or_create(
            code=code,
            defaults={"name": name, "address": address, "is_contact_center": contact_center},
        )
    groups = {}
    for code, name, tier, mailbox in data.GROUPS:
        groups[code], _ = SupportGroup.objects.get_or_create(
            code=code,
            defaults={"name": name, "tier": tier, "email": f"{mailbox}@{data.EMAIL_DOMAIN}"},
        )
        _fill_polish_name(groups[code], data.GROUP_NAMES_PL)
    services = {}
    for name, owner, criticality, description in data.SERVICES:
        services[name], _ = Service.objects.get_or_create(
            name=name,
            defaults={
                "owner_group": groups[owner],
                "criticality": criticality,
                "description": description,
            },
        )
        _fill_polish_name(services[name], data.SERVICE_NAMES_PL)
    categories = {}
    for parent_name, children in data.CATEGORIES.items():
        parent, _ = Category.objects.get_or_create(parent=None, name=parent_name)
        # Before the children: a child's Polish path starts with its parent's.
        _fill_polish_name(parent, data.CATEGORY_NAMES_PL)
        categories[parent.path] = parent
        for child_name in children:
            child, _ = Category.objects.get_or_create(parent=parent, name=child_name)
            _fill_polish_name(child, data.CATEGORY_NAMES_PL)
            categories[child.path] = child
    return sites, groups, services, categories


def _fill_polish_name(row, names: dict[str, str]) -> None:
    """Give a demo row its Polish name, also in a database seeded before there were any
    (an administrator's own Polish name is kept)."""
    polish = names.get(row.name, "")
    if polish and not row.name_pl:
        row.name_pl = polish
        # Category.save() also rebuilds the Polish paths below it.
        row.save()


def _shared_password_hash() -> str:
    # Hashing once keeps the seed fast (PBKDF2 is slow by design); every demo login shares
    # the one demo password anyway.
    return make_password(data.DEMO_PASSWORD)


def _add_phone(person: Person, kind: str, raw: str) -> PhoneNumber:
    normalized = normalize_phone(raw)
    phone, _ = PhoneNumber.objects.get_or_create(
        person=person,
        e164=normalized.e164,
        defaults={"kind": kind, "raw": raw, "extension": normalized.extension},
    )
    return phone


def _desk_number(site_code: str, serial: int) -> str:
    """A unique desk number per serial (below 1,000,000) in the site's area code."""
    prefix = next(site[4] for site in data.SITES if site[0] == site_code)
    area, lead = prefix.split()
    digits = f"{serial:06d}"
    return f"+48 {area} {lead}{digits[:2]} {digits[2:4]} {digits[4:]}"


# Prefixes of Polish mobile networks (501..., 601..., 721... and so on).
MOBILE_PREFIXES = ["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"]


def _mobile_number(serial: int) -> str:
    """A unique mobile number per serial (a fixed permutation, so no two people share one)."""
    prefix = MOBILE_PREFIXES[serial % len(MOBILE_PREFIXES)]
    rest = f"{(serial * 7919 + 1234567) % 10**7:07d}"
    return f"+48 {prefix}{rest[0]} {rest[1:4]} {rest[4:]}"


def seed_staff(sites: dict, groups: dict, *, password_hash: str | None = None) -> dict[str, User]:
    """The demo logins (admin, agents, engineers, change board, manager), stable usernames."""
    password_hash = password_hash or _shared_password_hash()
    sync_roles()
    roles = {group.name: group for group in Group.objects.filter(name__in=Role.values)}
    staff = {}
    for index, (username, full_name, role, group_code, title, site, extension) in enumerate(
        data.STAFF
    ):
        first, last = full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@{data.EMAIL_DOMAIN}",
                "password": password_hash,
                "is_staff": role == Role.ADMINISTRATOR,
                "is_superuser": role == Role.ADMINISTRATOR,
            },
        )
        if created:
            user.groups.add(roles[role])
            if group_code:
                groups[group_code].members.add(user)
        person, _ = Person.objects.get_or_create(
            user=user,
            defaults={
                "full_name": full_name,
                "email": user.email,
                "department": "IT",
                "site": sites[site],
                "job_title": title,
                "language": Person.Language.POLISH,
            },
        )
        _add_phone(person, PhoneNumber.Kind.DESK, _desk_number(site, 999000 + index))
        _add_phone(person, PhoneNumber.Kind.EXTENSION, extension)
        staff[username] = user
    return staff


def person_rows(
    count: int,
    *,
    rng: random.Random,
    site_codes: list[str],
    start: int = 0,
    taken: set[str] | None = None,
):
    """Yield ``count`` believable people as dicts (name, e-mail, department, phones...).

    Deterministic for a given ``rng`` state; e-mail addresses are unique because each
    carries its serial when the plain ``first.last`` form was already taken.
    """
    taken = set(taken or ())
    for serial in range(start, start + count):
        female = rng.random() < 0.5
        first = rng.choice(data.FEMALE_FIRST if female else data.MALE_FIRST)
        surname = rng.choice(data.SURNAMES)
        last = data.female_surname(surname) if female else surname
        local = data.ascii_fold(f"{first}.{last}").lower()
        if local in taken:
            local = f"{local}{serial}"
        taken.add(local)
        department, titles = rng.choice(data.DEPARTMENTS)
        title = rng.choice(titles)
        site = rng.choices(site_codes, weights=[6, 3, 2][: len(site_codes)])[0]
        phones = [(PhoneNumber.Kind.DESK, _desk_number(site, serial))]
        if rng.random() < 0.85:
            phones.append((PhoneNumber.Kind.MOBILE, _mobile_number(serial)))
        # Internal extensions 5000-9999, each held by one person.
        if rng.random() < 0.2 and serial < 5000:
            phones.append((PhoneNumber.Kind.EXTENSION, f"{5000 + serial}"))
        yield {
            "full_name": f"{first} {last}",
            "email": f"{local}@{data.EMAIL_DOMAIN}",
            "department": department,
            "job_title": title,
            "site": site,
            "is_vip": title in data.VIP_TITLES or rng.random() < 0.02,
            "language": "pl" if rng.random() < 0.9 else "en",
            "phones": phones,
        }


@transaction.atomic
def seed_people(
    count: int, *, rng: random.Random, sites: dict, password_hash: str | None = None
) -> list[Person]:
    """Jan Kowalski plus ``count - 1`` generated people; some get an end-user login."""
    password_hash = password_hash or _shared_password_hash()
    end_user_role = Group.objects.get(name=Role.END_USER)
    username, full_name, department, title, site = data.DEMO_END_USER
    rows = [
        {
            "full_name": full_name,
            "email": f"{username}@{data.EMAIL_DOMAIN}",
            "department": department,
            "job_title": title,
            "site": site,
            "is_vip": False,
            "language": "pl",
            "phones": [
                (PhoneNumber.Kind.DESK, "+48 22 541 00 01"),
                (PhoneNumber.Kind.MOBILE, "+48 601 234 567"),
            ],
            "login": username,
        }
    ]
    for index, row in enumerate(
        person_rows(count - 1, rng=rng, site_codes=list(sites), taken={username})
    ):
        if index < data.END_USERS_WITH_LOGIN:
            row["login"] = row["email"].split("@")[0]
        rows.append(row)

    existing = set(
        Person.objects.filter(email__in=[r["email"] for r in rows]).values_list("email", flat=True)
    )
    missing = [row for row in rows if row["email"] not in existing]
    users = {}
    for row in missing:
        if row.get("login"):
            first, last = row["full_name"].split(" ", 1)
            users[row["email"]] = User(
                username=row["login"],
                first_name=first,
                last_name=last,
                email=row["email"],
                password=password_hash,
            )
    existing_usernames = set(
        User.objects.filter(username__in=[u.username for u in users.values()]).values_list(
            "username", flat=True
        )
    )
    new_users = [u for u in users.values() if u.username not in existing_usernames]
    User.objects.bulk_create(new_users)
    by_username = {
        u.username: u
        for u in User.objects.filter(username__in=[u.username for u in users.values()])
    }
    end_user_role.user_set.add(*[by_username[u.username] for u in new_users])
    people = Person.objects.bulk_create(
        [
            Person(
                user=by_username[users[row["email"]].username] if row["email"] in users else None,
                full_name=row["full_name"],
                email=row["email"],
                department=row["department"],
                job_title=row["job_title"],
                site=sites[row["site"]],
                is_vip=row["is_vip"],
                language=row["language"],
            )
            for row in missing
        ]
    )
    phones = []
    for person, row in zip(people, missing, strict=True):
        for kind, raw in row["phones"]:
            normalized = normalize_phone(raw)
            phones.append(
                PhoneNumber(
                    person=person,
                    kind=kind,
                    raw=raw,
                    e164=normalized.e164,
                    extension=normalized.extension,
                )
            )
    PhoneNumber.objects.bulk_create(phones, ignore_conflicts=True)
    return list(Person.objects.filter(email__in=[r["email"] for r in rows]))


@transaction.atomic
def seed_organisation() -> Organisation:
    """Reference data and staff logins (no generated people, no tickets)."""
    sites, groups, services, categories = seed_reference()
    staff = seed_staff(sites, groups)
    return Organisation(sites, groups, services, categories, staff)
