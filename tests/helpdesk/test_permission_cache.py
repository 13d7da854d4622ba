"""A user's permissions kept in the shared cache (helpdesk.auth.HelpdeskBackend): read with
no query while nothing changed, read anew as soon as a role, a group's permissions or the
superuser flag changes. (On the SQLite run the cache is the process's own, on the
PostgreSQL + Redis run it is Redis.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from helpdesk.auth import PERMISSIONS_TOKEN_KEY
from helpdesk.roles import Role
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cached_permissions")]


@pytest.fixture
def cached_permissions():
    cache.clear()
    with override_settings(PERMISSION_CACHE_SECONDS=300):
        yield
    cache.clear()


def fresh(user):
    """The user as the next request loads it (no permission read yet)."""
    return type(user).objects.get(pk=user.pk)


def queries_of(call) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, len(captured.captured_queries)


def test_a_second_request_reads_the_permissions_from_the_cache():
    agent = make_user(Role.AGENT)
    allowed, first = queries_of(lambda: fresh(agent).has_perm("tickets.work_ticket"))
    assert allowed and first >= 3  # the user, then the user's and the groups' permissions
    user = fresh(agent)
    allowed, second = queries_of(lambda: user.has_perm("tickets.work_ticket"))
    assert allowed and second == 0
    assert not user.has_perm("changes.vote_change")


def test_losing_a_role_takes_the_permission_away_at_once():
    agent = make_user(Role.AGENT)
    assert fresh(agent).has_perm("tickets.work_ticket")
    agent.groups.clear()
    assert not fresh(agent).has_perm("tickets.work_ticket")


def test_a_new_role_gives_its_permissions_at_once():
    user = make_user(Role.END_USER)
    assert not fresh(user).has_perm("tickets.work_ticket")
    user.groups.add(Group.objects.get(name=Role.AGENT.value))
    assert fresh(user).has_perm("tickets.work_ticket")


def test_a_group_losing_a_permission_takes_it_from_its_members():
    agent = make_user(Role.AGENT)
    assert fresh(agent).has_perm("tickets.work_ticket")
    group = Group.objects.get(name=Role.AGENT.value)
    group.permissions.remove(Permission.objects.get(codename="work_ticket"))
    assert not fresh(agent).has_perm("tickets.work_ticket")


def test_a_users_own_permission_counts_at_once():
    user = make_user(Role.END_USER)
    assert not fresh(user).has_perm("tickets.view_reports")
    user.user_permissions.add(Permission.objects.get(codename="view_reports"))
    assert fresh(user).has_perm("tickets.view_reports")


def test_the_superuser_flag_is_not_answered_from_an_older_entry():
    user = make_user(Role.END_USER)
    assert not fresh(user).has_perm("tickets.view_reports")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)  # no signal
    assert fresh(user).get_all_permissions() >= {"tickets.view_reports"}


def test_a_deactivated_user_has_no_permission_whatever_the_cache_holds():
    agent = make_user(Role.AGENT)
    assert fresh(agent).has_perm("tickets.work_ticket")
    type(agent).objects.filter(pk=agent.pk).update(is_active=False)
    assert not fresh(agent).has_perm("tickets.work_ticket")


def test_a_page_takes_two_queries_fewer_once_cached(client):
    agent = make_user(Role.AGENT)
    client.force_login(agent)
    url = reverse("tickets:console")
    client.get(url)
    cache.delete(PERMISSIONS_TOKEN_KEY)  # every kept entry is stale: read from the database
    _response, cold = queries_of(lambda: client.get(url))
    _response, warm = queries_of(lambda: client.get(url))
    assert warm == cold - 2
