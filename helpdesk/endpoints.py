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

import functools
import logging
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import (
    RequestAborted,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.db import connection, connections
from django.http import JsonResponse
from django.urls import Resolver404, resolve, set_script_prefix
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

MACHINE_MIDDLEWARE = ("django.middleware.security.SecurityMiddleware",)


def machine_endpoint(view: Callable) -> Callable:
    """Mark ``view`` as called by machines, not browsers (see the module documentation).

    A body the view cannot read (over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, or form data with
    more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields) is answered in JSON, 413 or 400,
    rather than with Django's HTML error page, which no machine reads."""

    @functools.wraps(view)
    def machine_view(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RequestDataTooBig:
            logger.warning("Body of %s bytes refused for %s", _length(request), request.path)
            return JsonResponse(
                {
                    "error": _("The body is larger than %(size)d bytes.")
                    % {"size": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
                },
                status=413,
            )
        except (TooManyFieldsSent, TooManyFilesSent) as error:
            logger.warning("Body refused for %s: %s", request.path, error)
            return JsonResponse({"error": str(error)}, status=400)

    machine_view.machine_endpoint = True
    return machine_view


def _length(request) -> str:
    return request.META.get("CONTENT_LENGTH") or "?"


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
        if connection.vendor == "sqlite":
            self._middleware_chain = self.adapt_method_mode(is_async, handler, False)
            return

        def in_own_thread(request):
            try:
                return handler(request)
            finally:
                connections.close_all()

        self._middleware_chain = sync_to_async(in_own_thread, thread_sensitive=False)

    async def __call__(self, scope, receive, send) -> None:
        # Django's __call__ runs each request in a ThreadSensitiveContext of its own, whose
        # executor starts a new thread per request for the thread-sensitive calls (the
        # request_started and request_finished receivers, the response's close): measured
        # with bench/ivr_announcement.py, one or two thread starts per request. Machine
        # requests share the process's thread-sensitive executor instead (asgiref's
        # single_thread_executor, as Django did before per-request contexts); their views
        # run in threads of their own on PostgreSQL (load_middleware above).
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        # Django's handle() also watches, in a second task, for the client hanging up, and
        # cancels that task once the response is sent: measured in the benchmark, that left
        # ~75 objects per request in reference cycles (the cancelled task with its frames
        # and traceback, the request, the response), whose collection paused the server
        # process for 10-70 ms at 100 requests/s. A PBX event is processed to the end
        # whether or not the PBX waits for the answer (it is stored before it is acted
        # on), so this handler does not watch; the rest is Django's handle().
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = await self.run_get_response(request)
            await self.send_response(response, send)
            await sync_to_async(response.close)()
        finally:
            body_file.close()


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
