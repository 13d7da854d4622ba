"""The ASGI server: uvicorn in N processes, each listening on a socket of its own.

    python -m helpdesk.server --host 127.0.0.1 --port 8000 --workers 2

``manage.py serve`` starts this. With ``uvicorn --workers N`` the processes share one
listening socket and take connections as they race to accept them: measured with the
screen-pop benchmark's 64 keep-alive connections, one process got 60-65 % of the load
(up to 70 %) and set the latency of the whole. Here every process binds its own socket with
``SO_REUSEPORT`` and the kernel spreads new connections across them evenly (by a hash of
the addresses). Where the platform has no ``SO_REUSEPORT``, uvicorn's own workers are used.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from the
proxies in the ``TRUSTED_PROXIES`` setting; with none (the default) uvicorn ignores them, and
the client is the peer of the connection. (uvicorn alone would trust them from 127.0.0.1.)

If a worker stops, the others are stopped and the exit code is passed on, so that whatever
supervises the service (systemd, ``manage.py serve``, a container runtime) restarts it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time

APPLICATION = "helpdesk.asgi:application"
BACKLOG = 2048  # uvicorn's default


def uvicorn_options(
    *, log_level: str, access_log: bool, trusted_proxies: list[str] | tuple[str, ...] = ()
) -> dict:
    """The uvicorn settings of the project's server (the benchmark serves with the same)."""
    trusted_proxies = [entry for entry in trusted_proxies if entry]
    return {
        "proxy_headers": bool(trusted_proxies),
        # Never None: uvicorn would then read FORWARDED_ALLOW_IPS or default to 127.0.0.1.
        "forwarded_allow_ips": trusted_proxies or [],
        "lifespan": "off",
        "server_header": False,
        # The consoles sit on the intranet: compressing each caller card cost CPU on the
        # screen-pop path and memory per console (bench/cti_screen_pop.py, docs/cti.md).
        "ws_per_message_deflate": False,
        "log_level": log_level,
        "access_log": access_log,
    }


def trusted_proxies_setting() -> list[str]:
    """``TRUSTED_PROXIES`` as Django reads it (from the environment or ``.env``), so that
    uvicorn and Django's ``helpdesk.security.client_ip`` trust the same proxies."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from django.conf import settings

    return list(settings.TRUSTED_PROXIES)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, options: dict) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(APPLICATION, **options))
    server.run(sockets=[sock])


class _ProcessHandle:
    """A ``multiprocessing.Process`` with the part of ``subprocess.Popen``'s interface that
    :func:`supervise` uses."""

    def __init__(self, process: multiprocessing.Process):
        self.process = process

    def poll(self) -> int | None:
        return self.process.exitcode

    def terminate(self) -> None:
        self.process.terminate()  # SIGTERM: uvicorn finishes open requests first

    def wait(self, timeout: float) -> None:
        self.process.join(timeout)
        if self.process.is_alive():
            raise subprocess.TimeoutExpired(self.process.name, timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.join()


def supervise(children: list, names: list[str], *, log, grace: float = 15.0) -> int:
    """Wait until one of ``children`` (``subprocess.Popen`` or alike) exits, or SIGTERM or
    SIGINT arrives; then stop them all (SIGTERM, killed after ``grace`` seconds). Returns
    the exit code of the child that stopped first, 1 if it was 0, and 0 after a signal."""
    stopping = False

    def stop(*_args):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    try:
        while not stopping:
            for child, name in zip(children, names, strict=True):
                code = child.poll()
                if code is not None:
                    log(f"{name} exited with {code}; stopping.")
                    exit_code = code or 1
                    stopping = True
                    break
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    return exit_code


def serve(*, host: str, port: int, workers: int, options: dict) -> int:
    """Run ``workers`` server processes until one stops or a signal comes; the exit code."""
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APPLICATION, host=host, port=port, workers=workers, **options)
        return 0
    listening_socket(host, port).close()  # fail here, once, if the port is taken
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port, options), name=f"web-{number}")
        for number in range(workers)
    ]
    for process in processes:
        process.start()
    return supervise(
        [_ProcessHandle(process) for process in processes],
        [process.name for process in processes],
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument(
        "--trusted-proxies",
        default=None,
        help="comma-separated addresses or networks (default: the TRUSTED_PROXIES setting)",
    )
    args = parser.parse_args(argv)
    if args.trusted_proxies is None:
        trusted_proxies = trusted_proxies_setting()
    else:
        trusted_proxies = [entry.strip() for entry in args.trusted_proxies.split(",")]
    options = uvicorn_options(
        log_level=args.log_level,
        access_log=not args.no_access_log,
        trusted_proxies=trusted_proxies,
    )
    return serve(host=args.host, port=args.port, workers=args.workers, options=options)


if __name__ == "__main__":
    sys.exit(main())
