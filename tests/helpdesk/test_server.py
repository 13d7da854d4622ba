"""helpdesk.server: several uvicorn processes, each listening on a socket of its own."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from tests.helpdesk.test_embedded_runtime import (
    _embedded_env,
    _free_port,
    _healthy,
    _manage,
    _start_web,
    _wait_for,
)


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (/proc/net/tcp: state 0A is LISTEN)."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def _listeners(port: int) -> int:
    return len(_listening_sockets(port))


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc")
def test_each_worker_listens_on_its_own_socket_and_one_failing_stops_all(tmp_path):
    env = _embedded_env(tmp_path)
    _manage(env, "migrate", "--noinput")
    port = _free_port()
    command = [sys.executable, "-m", "helpdesk.server", "--port", str(port), "--workers", "2"]
    server = _start_web(env, command, port, tmp_path / "server.log")
    try:
        # Two listening sockets (SO_REUSEPORT), not one socket shared by two processes.
        _wait_for(lambda: _listeners(port) == 2, 30, "both workers to listen")
        for _request in range(20):  # new connections each time: all are answered
            assert _healthy(f"http://127.0.0.1:{port}/healthz")
        # A worker that dies takes the server down with an error, for the supervisor.
        workers = [pid for pid in _children(server.pid) if _listens(pid, port)]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        server.wait(timeout=30)
        assert server.returncode != 0
        _wait_for(lambda: _listeners(port) == 0, 30, "the other worker to stop")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port``."""
    sockets = {f"socket:[{inode}]" for inode in _listening_sockets(port)}
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return bool(sockets.intersection(links))


def test_one_worker_runs_in_process(tmp_path):
    env = _embedded_env(tmp_path)
    _manage(env, "migrate", "--noinput")
    port = _free_port()
    command = [sys.executable, "-m", "helpdesk.server", "--port", str(port)]
    server = _start_web(env, command, port, tmp_path / "server.log")
    try:
        assert _listens(server.pid, port)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    # uvicorn shuts down cleanly, then ends with the signal it received.
    assert server.returncode in (0, -signal.SIGTERM)


def _wraps_proxy_headers(app) -> bool:
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    while app is not None:
        if isinstance(app, ProxyHeadersMiddleware):
            return True
        app = getattr(app, "app", None)
    return False


def test_forwarded_headers_are_not_trusted_without_trusted_proxies(monkeypatch):
    import uvicorn

    from helpdesk.server import uvicorn_options

    # uvicorn alone would trust 127.0.0.1 (or FORWARDED_ALLOW_IPS): not here.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    config = uvicorn.Config(
        "helpdesk.asgi:application", **uvicorn_options(log_level="warning", access_log=False)
    )
    config.load()
    assert config.proxy_headers is False
    assert not _wraps_proxy_headers(config.loaded_app)


def test_forwarded_headers_are_trusted_from_the_trusted_proxies_only():
    import uvicorn

    from helpdesk.server import uvicorn_options

    options = uvicorn_options(
        log_level="warning", access_log=False, trusted_proxies=["10.0.0.5", "10.1.0.0/24"]
    )
    config = uvicorn.Config("helpdesk.asgi:application", **options)
    config.load()
    assert _wraps_proxy_headers(config.loaded_app)
    assert config.forwarded_allow_ips == ["10.0.0.5", "10.1.0.0/24"]
