"""Views that machines call (telephone systems, bridges), served without the browser stack.

A view marked :func:`machine_endpoint` is served under ASGI by :class:`MachineHandler`:
Django's request handling with only ``MACHINE_MIDDLEWARE`` (HTTPS redirect and security
headers), not the browser middleware of ``settings.MIDDLEWARE`` (sessions, locale, CSRF,
authentication, the user's preferences, messages, static files). Such views authenticate
the caller themselves (a PBX token or signature), keep no session and set no cookie, so that
middleware only cost time: about 0.6 ms of CPU per request, and each request left ~50
objects in reference cycles (the lazy user, the session and message stores all point back
at the request) for the garbage collector to find. The PBX webhook is the product's
latency-critical request (bench/cti_screen_pop.py, docs/cti.md).

Under Django's test client (and WSGI) the same views go through the whole stack, which
they are written to tolerate: nothing here changes what a view answers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

MACHINE_MIDDLEWARE = ("django.middleware.security.SecurityMiddleware",)


def machine_endpoint(view: Callable) -> Callable:
    """Mark ``view`` as called by machines, not browsers (see the module documentation)."""
    view.machine_endpoint = True
    return view


def is_machine_endpoint(path_info: str) -> bool:
    """Whether the URL ``path_info`` resolves to a view marked :func:`machine_endpoint`."""
    try:
        match = resolve(path_info)
    except Resolver404:
        return False
    return getattr(match.func, "machine_endpoint", False)


class MachineHandler(ASGIHandler):
    """Django's ASGI handler with ``MACHINE_MIDDLEWARE`` instead of ``settings.MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; this one is built from a fixed
        # list of synchronous middleware without view, template or exception hooks, and
        # runs, like a sync view behind sync middleware, in one thread hop.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(MACHINE_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = self.adapt_method_mode(is_async, handler, False)


class HttpRouter:
    """The ASGI application for HTTP: machine endpoints to :class:`MachineHandler`,
    everything else to Django's handler with the whole middleware stack."""

    def __init__(self, default: ASGIHandler):
        self.default = default
        self.machine = MachineHandler()

    async def __call__(self, scope, receive, send) -> None:
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        handler = self.machine if is_machine_endpoint(path) else self.default
        await handler(scope, receive, send)
