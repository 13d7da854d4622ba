"""API authentication by the named, expiring tokens of ``helpdesk.models.ApiToken``.

Clients send ``Authorization: Token <key>`` as they did with DRF's single token; an unknown,
revoked or expired key is a 401 like a wrong one.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from helpdesk import services

KEYWORD = "Token"


class ApiTokenAuthentication(BaseAuthentication):
    """``request.user`` is the token's user, ``request.auth`` the ``ApiToken``."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from None
        token = services.api_token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token

    def authenticate_header(self, request):
        return KEYWORD


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The schema's ``tokenAuth`` security scheme, as drf-spectacular names DRF's own."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A key from "API tokens" or POST /api/auth/token/, '
            'sent as "Token <key>".',
        }
