"""Screen pop across processes: ring posted to one ASGI server, card on a websocket of another.

Two real uvicorn processes (helpdesk.asgi:application) share the PostgreSQL test database
and the Redis channel layer, as several ASGI processes behind a proxy do in production.
Runs in the PostgreSQL + Redis pass of CI (DATABASE_URL and REDIS_URL set).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import websockets
from django.db import connection

from cti.models import Call
from helpdesk.roles import Role
from tests.factories import (
    AgentExtensionFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
    session_cookie_for,
)

BASE_DIR = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (DATABASE_URL.startswith(("postgres", "postgresql")) and REDIS_URL),
        reason="needs PostgreSQL and Redis shared by two server processes: "
        "set DATABASE_URL=postgres://... and REDIS_URL=redis://...",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_database_url() -> str:
    """DATABASE_URL pointing at the test database pytest-django created."""
    parts = urlsplit(DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def wait_until_serving(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(f"server on port {port} did not start")


@contextmanager
def asgi_servers(count: int):
    """``count`` uvicorn processes on random ports sharing the test database and Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": server_database_url(),
        "REDIS_URL": REDIS_URL,
        # A prefix of our own: other test runs on the same Redis do not see our groups.
        "CHANNEL_PREFIX": f"hdtest{uuid.uuid4().hex[:8]}",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }
    servers = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "helpdesk.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                cwd=BASE_DIR,
                env=env,
            )
            servers.append((port, process))
        for port, process in servers:
            wait_until_serving(port, process)
        yield [port for port, _process in servers]
    finally:
        for _port, process in servers:
            process.terminate()
        for _port, process in servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


async def receive(socket_, kind: str, timeout: float = 10) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket_.recv(), timeout))
        if message["type"] == kind:
            return message


def test_ring_posted_to_one_server_pops_the_card_on_a_websocket_of_the_other(first_line):
    agent = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=agent, extension="201")
    outsider = make_user(Role.AGENT, username="bob")
    AgentExtensionFactory(user=outsider, extension="202")
    person = PhoneNumberFactory(raw="+48 22 555 01 01", person__full_name="Anna Nowak").person
    ticket = make_ticket(caller=person, title="VPN drops every hour")
    pbx = PbxFactory()
    agent_cookie = session_cookie_for(agent)
    outsider_cookie = session_cookie_for(outsider)

    async def scenario(ring_port: int, console_port: int):
        origin = f"http://127.0.0.1:{console_port}"
        url = f"ws://127.0.0.1:{console_port}/ws/console/"
        async with (
            websockets.connect(
                url, additional_headers={"Cookie": agent_cookie, "Origin": origin}
            ) as console,
            websockets.connect(
                url, additional_headers={"Cookie": outsider_cookie, "Origin": origin}
            ) as other_console,
        ):
            assert (await receive(console, "hello"))["user_id"] == agent.pk
            await receive(other_console, "hello")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ring_port}") as http:
                event = {
                    "event": "ring",
                    "call_id": "mp-1",
                    "from": "0048 22 555 01 01",
                    "to": "100",
                    "extension": "201",
                }
                response = await http.post(
                    f"/cti/webhook/{pbx.pk}/", json=event, headers={"X-Helpdesk-Token": pbx.token}
                )
                assert response.status_code == 200, response.text
                card = await receive(console, "screen_pop")
                assert card["call"]["caller"] == "Anna Nowak"
                assert ticket.number in card["html"]
                assert "VPN drops every hour" in card["html"]

                response = await http.post(
                    f"/cti/webhook/{pbx.pk}/",
                    json={"event": "hangup", "call_id": "mp-1", "cause": "cancel"},
                    headers={"X-Helpdesk-Token": pbx.token},
                )
                assert response.status_code == 200, response.text
                closed = await receive(console, "call_update")
                assert closed["action"] == "close"
            # The other agent's extension did not ring: nothing for that console.
            with pytest.raises(TimeoutError):
                await receive(other_console, "screen_pop", timeout=0.5)

    with asgi_servers(2) as (first_port, second_port):
        asyncio.run(scenario(first_port, second_port))

    assert Call.objects.get(call_id="mp-1").outcome in {
        Call.Outcome.MISSED,
        Call.Outcome.ABANDONED,
    }


def test_console_reconnecting_to_another_server_gets_the_ringing_card(first_line):
    agent = make_user(Role.AGENT, username="alice")
    AgentExtensionFactory(user=agent, extension="201")
    PhoneNumberFactory(raw="+48 22 555 01 01", person__full_name="Anna Nowak")
    pbx = PbxFactory()
    cookie = session_cookie_for(agent)

    async def scenario(ring_port: int, console_port: int):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ring_port}") as http:
            response = await http.post(
                f"/cti/webhook/{pbx.pk}/",
                json={"event": "ring", "call_id": "mp-2", "from": "+48225550101", "to": "100",
                      "extension": "201"},
                headers={"X-Helpdesk-Token": pbx.token},
            )  # fmt: skip
            assert response.status_code == 200, response.text
        # No console was connected when it rang; the one that connects now still pops.
        async with websockets.connect(
            f"ws://127.0.0.1:{console_port}/ws/console/",
            additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{console_port}"},
        ) as console:
            card = await receive(console, "screen_pop")
            assert card["call"]["caller"] == "Anna Nowak"

    with asgi_servers(2) as (first_port, second_port):
        asyncio.run(scenario(first_port, second_port))
