"""The embedded default of `make run`: one command serves the ASGI app, and a real Celery
worker with beat runs the periodic jobs on the filesystem broker, with nothing but SQLite."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CREATE_OLD_RESOLVED_TICKET = """
from datetime import timedelta
from django.utils import timezone
from tickets.models import Status, Ticket
from tests.factories import make_ticket
ticket = make_ticket(title="Resolved long ago")
Ticket.objects.filter(pk=ticket.pk).update(
    status=Status.RESOLVED, resolved_at=timezone.now() - timedelta(days=30)
)
print(ticket.number)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        HELPDESK_VAR_DIR=str(var_dir),
        AUTO_CLOSE_SWEEP_SECONDS="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def _manage(env, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def _start_web(env, command: list[str], port: int, log_path: Path) -> subprocess.Popen:
    """Start ``command``, which serves on ``port``, in the project directory with its output
    in ``log_path``; return once /healthz answers (the process is killed if it never does)."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), 90, "the web server")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_serve_runs_web_worker_and_beat_on_sqlite(tmp_path):
    env = _embedded_env(tmp_path)
    _manage(env, "migrate", "--noinput")
    number = _manage(env, "shell", "-c", CREATE_OLD_RESOLVED_TICKET).split()[-1]
    assert number.startswith("INC-")

    port = _free_port()
    server = _start_web(
        env,
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        port,
        tmp_path / "serve.log",
    )
    try:

        def status():
            with sqlite3.connect(tmp_path / "helpdesk.sqlite3", timeout=10) as db:
                row = db.execute(
                    "SELECT status FROM tickets_ticket WHERE number = ?", (number,)
                ).fetchone()
            return row[0] == "closed"

        # Nobody calls the task: only beat (every second here) and the worker can close it.
        _wait_for(status, 120, "beat and the worker to close the resolved ticket")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
