"""Machine endpoints (PBX webhooks) are served by the lean handler, pages by the whole stack."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.db import connections

from cti.models import Call
from helpdesk.asgi import application
from helpdesk.endpoints import HttpRouter, is_machine_endpoint
from tests.factories import PbxFactory

pytestmark = pytest.mark.django_db


async def asgi_call(method: str, path: str, body: bytes = b"", headers=()):
    """One HTTP request through the project's ASGI application, as a server would make it:
    (status, headers by lower-case name, body)."""
    path, _sep, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    start: dict = {}
    chunks: list[bytes] = []

    async def receive():
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client stays connected (Django listens for this)

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            chunks.append(message.get("body", b""))

    await application(scope, receive, send)
    response_headers: dict[str, list[str]] = {}
    for name, value in start["headers"]:
        response_headers.setdefault(name.decode().lower(), []).append(value.decode())
    return start["status"], response_headers, b"".join(chunks)


def in_own_thread(coroutine_function, *args):
    """Run ``coroutine_function(*args)`` to the end from a thread of its own, as a server's
    event loop would (the test's thread may hold another event loop, e.g. the browser
    tests' Playwright); that thread's database connections are closed afterwards."""

    def run():
        try:
            return async_to_sync(coroutine_function)(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def asgi_request(method: str, path: str, body: bytes = b"", headers=()) -> tuple[int, dict, bytes]:
    """:func:`asgi_call` from a test. It runs on other database connections than the test's:
    tests whose requests need the test's data commit it (``transaction=True``)."""
    return in_own_thread(asgi_call, method, path, body, headers)


def test_the_pbx_endpoints_are_machine_endpoints_and_pages_are_not():
    assert is_machine_endpoint("/cti/webhook/1/")
    assert is_machine_endpoint("/api/v1/cti/some-token")
    assert is_machine_endpoint("/api/v1/cti/some-token/route")
    assert not is_machine_endpoint("/accounts/login/")
    assert not is_machine_endpoint("/cti/calls/")
    assert not is_machine_endpoint("/no/such/page/")
    assert isinstance(application.application_mapping["http"], HttpRouter)


# On PostgreSQL the machine handler runs each request in a thread (and connection) of its
# own, which sees committed data only.
@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_served_without_sessions_cookies_or_csrf():
    pbx = PbxFactory()
    body = json.dumps({"event": "ring", "call_id": "m-1", "from": "+48 22 555 01 01"}).encode()
    status, headers, content = asgi_request(
        "POST",
        f"/cti/webhook/{pbx.pk}/",
        body,
        [(b"x-helpdesk-token", pbx.token.encode()), (b"content-type", b"application/json")],
    )
    assert status == 200, content
    assert json.loads(content)["call"] == Call.objects.get(call_id="m-1").pk
    # No browser middleware: no session or CSRF cookie, no Vary on them.
    assert "set-cookie" not in headers
    assert "vary" not in headers
    # The security middleware still applies.
    assert headers["x-content-type-options"] == ["nosniff"]
    # A wrong token is still refused by the view.
    status, _headers, _content = asgi_request(
        "POST", f"/cti/webhook/{pbx.pk}/", body, [(b"x-helpdesk-token", b"wrong")]
    )
    assert status == 401


def test_pages_still_get_the_whole_middleware_stack():
    status, headers, _content = asgi_request("GET", "/accounts/login/")
    assert status == 200
    assert any(cookie.startswith("csrftoken=") for cookie in headers["set-cookie"])
    assert headers["x-frame-options"] == ["DENY"]


def test_https_redirect_applies_to_machine_endpoints_too(settings):
    settings.SECURE_SSL_REDIRECT = True
    # The handler was built at import; the security middleware reads the setting per request.
    from helpdesk.endpoints import MachineHandler

    application.application_mapping["http"].machine = MachineHandler()
    try:
        status, headers, _content = asgi_request("POST", "/cti/webhook/1/", b"{}")
        assert status == 301
        assert headers["location"] == ["https://testserver/cti/webhook/1/"]
    finally:
        settings.SECURE_SSL_REDIRECT = False
        application.application_mapping["http"].machine = MachineHandler()


@pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="SQLite serialises machine requests on one thread",
)
@pytest.mark.django_db(transaction=True)
def test_machine_requests_run_side_by_side_and_give_their_connections_back(monkeypatch):
    """On PostgreSQL concurrent webhooks overlap (one ring's database waits do not hold up
    the next), and each hands its connection back to the pool when it is done."""
    import threading
    import time

    from django.db import connection

    from cti import services

    pbx = PbxFactory()
    running, most, lock = 0, 0, threading.Lock()
    real_ingest = services.call_event_ingest

    def slow_ingest(**kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # stands for database waits
            return real_ingest(**kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(services, "call_event_ingest", slow_ingest)
    headers = [(b"x-helpdesk-token", pbx.token.encode())]

    async def rings():
        return await asyncio.gather(
            *(
                asgi_call(
                    "POST",
                    f"/cti/webhook/{pbx.pk}/",
                    json.dumps({"event": "ring", "call_id": f"p-{number}"}).encode(),
                    headers,
                )
                for number in range(8)
            )
        )

    def in_use():
        stats = connection.pool.get_stats()
        return stats["pool_size"] - stats["pool_available"]

    # Connections other threads of this process hold already (a live server an earlier test
    # started) are not the webhooks' to give back.
    held_before = max(in_use(), 1)
    results = in_own_thread(rings)
    assert [status for status, _headers, _body in results] == [200] * 8
    assert Call.objects.filter(call_id__startswith="p-").count() == 8
    assert most > 1
    # Every connection the eight rings took is back in the pool.
    assert in_use() <= held_before
