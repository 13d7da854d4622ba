"""Authentication backends: the lockout check of django-axes, then Django's model backend
that loads the signed-in user with their profile in one query and keeps their permissions in
the shared cache."""

import uuid

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

# Any change to who has which permission (a user's groups or own permissions, a group's
# permissions, a group or permission renamed or deleted) replaces this token, and every
# cached set of permissions, stored with the token it was read under, is read anew.
PERMISSIONS_TOKEN_KEY = "auth:permissions-token"

# The backend a session is signed in with (what ``login()`` stores for a password that
# HelpdeskBackend accepted). Code that writes sessions itself (tests, benchmarks) names it:
# the lockout backend, first in AUTHENTICATION_BACKENDS, authenticates nobody and cannot
# load a session's user.
SESSION_BACKEND = "helpdesk.auth.HelpdeskBackend"


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, first in ``AUTHENTICATION_BACKENDS``: a locked-out user name or
    client address is refused before any password is checked.

    Every door from the network (the login page, the admin, ``POST /api/auth/token/``)
    passes its request. A call without one (the test client's ``login()``, a shell) has no
    client to count and is let through to the next backend instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class HelpdeskBackend(ModelBackend):
    """Django's model backend; ``get_user`` also joins the person and their site.

    Every page and API request reads ``request.user.person`` (language, time zone, the
    tickets they may see) and often the person's site: without the join that is two more
    queries on every request.
    """

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("person", "person__site").get(
                pk=user_id
            )
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        """Django's answer, kept in the cache for ``PERMISSION_CACHE_SECONDS`` (0: not kept).

        Every page and API request asks ``has_perm`` (the roles); Django reads the user's and
        their groups' permissions with two queries per request. The cache (Redis in
        production: shared by every process) answers with one round trip.
        """
        seconds = settings.PERMISSION_CACHE_SECONDS
        if (
            not seconds
            or obj is not None
            or not user_obj.is_active
            or user_obj.is_anonymous
            or hasattr(user_obj, "_perm_cache")
        ):
            return super().get_all_permissions(user_obj, obj)
        key = f"auth:permissions:{user_obj.pk}"
        found = cache.get_many([PERMISSIONS_TOKEN_KEY, key])
        token = found.get(PERMISSIONS_TOKEN_KEY)
        entry = found.get(key)
        if token is not None and entry is not None and entry[:2] == (token, user_obj.is_superuser):
            user_obj._perm_cache = entry[2]
            return user_obj._perm_cache
        if token is None:
            token = permissions_changed()
        permissions = super().get_all_permissions(user_obj)
        cache.set(key, (token, user_obj.is_superuser, frozenset(permissions)), seconds)
        return permissions


def permissions_changed(**_kwargs) -> str:
    """Forget every cached set of permissions (a signal receiver, see HelpdeskConfig)."""
    token = uuid.uuid4().hex
    cache.set(PERMISSIONS_TOKEN_KEY, token, None)
    return token
