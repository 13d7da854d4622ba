"""The Content-Security-Policy of every page (django-csp; the policy is in settings).

A response that sets its own policy keeps it (the attachment download's is stricter).
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.core.exceptions import DisallowedHost


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the websocket of this very host added to
    ``connect-src``: the host is known only per request, and ``'self'`` matches
    ``ws:``/``wss:`` only in browsers that follow CSP level 3 there."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts
        sockets = [f"wss://{host}"] if request.is_secure() else [f"ws://{host}", f"wss://{host}"]
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", []), *sockets]
        parts.update = update
        return parts
