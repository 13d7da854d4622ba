"""Roles are Django groups with permissions; this module is the one place that defines them.

What each role may see and do, and why, is decided in docs/roles.md; the access matrix
(tests/test_access_matrix.py) holds every route to it.

``sync_roles()`` runs after every ``migrate`` (see ``HelpdeskConfig.ready``), so a new
permission added to a role here reaches every installation without a data migration.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    END_USER = "end_user", _("End user")
    AGENT = "first_line_agent", _("First-line agent")
    ENGINEER = "resolver_engineer", _("Resolver engineer")
    CHANGE_BOARD = "change_board", _("Change-board member")
    MANAGER = "manager", _("Manager")
    ADMINISTRATOR = "administrator", _("Administrator")


_TICKET_WORK = [
    "tickets.view_all_tickets",
    "tickets.work_ticket",
    "tickets.view_internal_notes",
    "tickets.add_ticket",
    "tickets.change_ticket",
    "tickets.view_ticket",
    "helpdesk.view_person",
    "helpdesk.add_person",
    "helpdesk.change_person",
    "helpdesk.add_phonenumber",
    "helpdesk.change_phonenumber",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.END_USER: [],
    Role.AGENT: [*_TICKET_WORK],
    Role.ENGINEER: [*_TICKET_WORK],
    # Reads every ticket and its notes (a change's risk is judged from the incidents) and
    # the directory; works no ticket and answers no call.
    Role.CHANGE_BOARD: [
        "tickets.view_all_tickets",
        "tickets.view_internal_notes",
        "tickets.view_ticket",
        "helpdesk.view_person",
    ],
    # A call-center manager steps in at peaks: every right of an agent (tickets, notes,
    # calls), plus the reports.
    Role.MANAGER: [*_TICKET_WORK, "tickets.view_reports"],
    # Administrators get every permission that exists, see sync_roles().
    Role.ADMINISTRATOR: [],
}


def sync_roles() -> None:
    """Create the role groups and give each exactly the permissions listed above."""
    by_key = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        if role == Role.ADMINISTRATOR:
            group.permissions.set(by_key.values())
        else:
            group.permissions.set([by_key[key] for key in ROLE_PERMISSIONS[role] if key in by_key])


def user_roles(user) -> set[str]:
    """The role names of ``user`` (cached on the user object for the request)."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_helpdesk_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(Role.ADMINISTRATOR.value)
        user._helpdesk_roles = cached
    return cached


def is_staff_member(user) -> bool:
    """Agents, engineers, managers, the change board and administrators: they see all tickets."""
    return user.is_authenticated and user.has_perm("tickets.view_all_tickets")


def can_work_tickets(user) -> bool:
    """Whether ``user`` may assign, transition and annotate tickets and handle calls: agents,
    engineers, managers and administrators (not end users, not the change board)."""
    return user.is_authenticated and user.has_perm("tickets.work_ticket")


def landing_url(user) -> str:
    """Where ``user`` starts after signing in and at ``/``: where their work is.

    The rules are decided in docs/roles.md ("Where each role lands"). Several roles add up
    to the widest start: an administrator or a manager sees every open ticket, whoever works
    tickets their groups' queue, the change board (who works none) the changes awaiting
    their vote, an end user the portal home. URLs are reversed by name: the core imports no
    app.
    """
    console = reverse("tickets:console")
    roles = user_roles(user)
    if Role.ADMINISTRATOR in roles or Role.MANAGER in roles:
        return f"{console}?queue=open"
    if can_work_tickets(user):
        return f"{console}?queue=groups"
    if is_staff_member(user):
        return reverse("changes:board")
    return reverse("home")
