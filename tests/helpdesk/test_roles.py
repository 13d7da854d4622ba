"""Roles are groups with exactly the permissions listed in helpdesk.roles."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission

from helpdesk.roles import (
    ROLE_PERMISSIONS,
    Role,
    can_work_tickets,
    is_staff_member,
    sync_roles,
    user_roles,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _group_permissions(role: Role) -> set[str]:
    group = Group.objects.get(name=role.value)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_every_role_exists_as_a_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}


def test_every_permission_a_role_lists_exists():
    # A typo in ROLE_PERMISSIONS would otherwise be skipped silently by sync_roles.
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    for role, keys in ROLE_PERMISSIONS.items():
        missing = set(keys) - existing
        assert not missing, f"{role}: {missing}"


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMINISTRATOR])
def test_sync_roles_gives_each_role_exactly_its_permissions(role):
    sync_roles()
    assert _group_permissions(role) == set(ROLE_PERMISSIONS[role])


def test_administrator_gets_every_permission():
    sync_roles()
    assert Group.objects.get(name=Role.ADMINISTRATOR).permissions.count() == (
        Permission.objects.count()
    )


def test_sync_roles_is_idempotent_and_repairs_drift():
    sync_roles()
    before = {role: _group_permissions(role) for role in Role}
    groups_before = Group.objects.count()
    agent_group = Group.objects.get(name=Role.AGENT)
    # Someone clicked around in the admin: an extra permission and a missing one.
    agent_group.permissions.add(Permission.objects.get(codename="delete_ticket"))
    agent_group.permissions.remove(Permission.objects.get(codename="work_ticket"))
    Group.objects.get(name=Role.END_USER).delete()
    sync_roles()
    sync_roles()
    assert {role: _group_permissions(role) for role in Role} == before
    assert Group.objects.count() == groups_before


def test_end_user_has_no_permissions():
    assert ROLE_PERMISSIONS[Role.END_USER] == []
    user = make_user(Role.END_USER)
    assert not is_staff_member(user)
    assert not can_work_tickets(user)
    assert not user.has_perm("tickets.view_internal_notes")


@pytest.mark.parametrize(
    ("role", "staff", "works", "internal", "reports"),
    [
        (Role.END_USER, False, False, False, False),
        (Role.AGENT, True, True, True, False),
        (Role.ENGINEER, True, True, True, False),
        (Role.CHANGE_BOARD, True, False, True, False),
        (Role.MANAGER, True, True, True, True),
        (Role.ADMINISTRATOR, True, True, True, True),
    ],
)
def test_what_each_role_may_do(role, staff, works, internal, reports):
    user = make_user(role)
    assert is_staff_member(user) is staff
    assert can_work_tickets(user) is works
    assert user.has_perm("tickets.view_internal_notes") is internal
    assert user.has_perm("tickets.view_reports") is reports
    assert user_roles(user) == {role.value}


def test_superuser_counts_as_administrator_without_the_group():
    user = make_user(None, username="root", is_superuser=True)
    assert user_roles(user) == {Role.ADMINISTRATOR.value}
    assert can_work_tickets(user)


def test_anonymous_user_has_no_role_and_no_rights():
    anonymous = AnonymousUser()
    assert user_roles(anonymous) == set()
    assert not is_staff_member(anonymous)
    assert not can_work_tickets(anonymous)


def test_user_with_two_roles_has_both():
    user = make_user(Role.CHANGE_BOARD)
    user.groups.add(Group.objects.get(name=Role.ENGINEER))
    user = type(user).objects.get(pk=user.pk)
    assert user_roles(user) == {Role.CHANGE_BOARD.value, Role.ENGINEER.value}
    assert can_work_tickets(user)


def test_manager_has_every_right_of_an_agent_plus_the_reports():
    # docs/roles.md: a call-center manager steps in at peaks (tickets, notes, calls).
    assert set(ROLE_PERMISSIONS[Role.MANAGER]) == {
        *ROLE_PERMISSIONS[Role.AGENT],
        "tickets.view_reports",
    }


def test_change_board_reads_every_ticket_and_works_none():
    permissions = set(ROLE_PERMISSIONS[Role.CHANGE_BOARD])
    assert {"tickets.view_all_tickets", "tickets.view_internal_notes"} <= permissions
    assert not permissions & {"tickets.work_ticket", "tickets.change_ticket", "tickets.add_ticket"}
