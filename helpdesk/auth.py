"""Authentication backends: the lockout check of django-axes, then Django's model backend
that loads the signed-in user with their profile in one query."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

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
