"""The doors: which address a client has behind proxies, the answer to a locked-out
sign-in, how long a session lasts, and API tokens revoked when an account changes.

Client address: ``X-Forwarded-For`` is believed only when the connection comes from a proxy
named in ``TRUSTED_PROXIES`` (empty by default: never). The rule is uvicorn's
(``helpdesk/server.py`` gives it the same list), so an address uvicorn has already taken
from the header is not read again: it is not a trusted proxy itself.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework.throttling import AnonRateThrottle

from helpdesk import services
from helpdesk.models import ApiToken
from helpdesk.roles import is_staff_member

logger = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]):
    if "*" in entries:
        return None  # every peer is trusted (uvicorn's "*")
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address: str) -> bool:
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the right-most
    address in ``X-Forwarded-For`` that is not a trusted proxy (what the proxy saw)."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.TRUSTED_PROXIES or not is_trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not is_trusted_proxy(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # garbage in the header: count it against the proxy
    return hops[0] if hops else remote


class ClientAddressThrottle(AnonRateThrottle):
    """DRF's anonymous throttle keyed by :func:`client_ip`: DRF's own key reads
    ``X-Forwarded-For`` from anyone (a new forged header per try was a new bucket)."""

    def get_ident(self, request):
        return client_ip(request)


def lockout_response(request, original_response=None, credentials=None):
    """Axes' answer to a locked-out sign-in (``AXES_LOCKOUT_CALLABLE``), the same whether or
    not the account exists: 429, a page for the login forms, JSON for the API."""
    if isinstance(original_response, dict):  # axes' async path passes (request, credentials)
        credentials, original_response = original_response, None
    username = (credentials or {}).get("username", "")
    address = getattr(request, "axes_ip_address", None) or client_ip(request)
    logger.warning(
        "Sign-in refused, locked out: user name %r from %s at %s", username, address, request.path
    )
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _(
        "Too many failed sign-in attempts. Try again in %(minutes)d minutes, or ask an "
        "administrator to unlock the account."
    ) % {"minutes": minutes}
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = retry_after
    return response


def set_session_lifetime(sender, request, user, **kwargs):
    """``user_logged_in``: staff sessions end sooner (``STAFF_SESSION_COOKIE_AGE``) than those
    of end users (``SESSION_COOKIE_AGE``). A receiver because every sign-in (the portal, the
    admin) goes through Django's ``login()``, which sends it."""
    if request is None or not hasattr(request, "session"):
        return
    if request.session.get(SESSION_KEY) != user._meta.pk.value_to_string(user):
        return  # not a session sign-in (POST /api/auth/token/ sends the signal too)
    if user.is_staff or is_staff_member(user):
        request.session.set_expiry(settings.STAFF_SESSION_COOKIE_AGE)


def revoke_api_tokens_on_account_change(sender, instance, created, raw=False, **kwargs):
    """``post_save`` of the user: a deactivated account or a new password revokes every API
    token. The user model is Django's and is changed by the admin, ``changepassword`` and
    others; its save is the one place they all pass. ``_password`` is set only by
    ``set_password`` (not when Django re-hashes the same password at sign-in)."""
    if raw or created:
        return
    if not instance.is_active:
        services.api_tokens_revoke_all(user=instance, reason=ApiToken.RevokedReason.DEACTIVATED)
    elif getattr(instance, "_password", None) is not None:
        services.api_tokens_revoke_all(
            user=instance, reason=ApiToken.RevokedReason.PASSWORD_CHANGED
        )
