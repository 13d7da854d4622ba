"""Serve the whole application with one command: the ASGI server, a Celery worker and beat.

``make run`` ends here. The web side is uvicorn (ASGI, so websockets work) in
one or more processes (``helpdesk.server``); the background
side is a real Celery worker with an embedded beat scheduler, on whatever broker the settings
name (a filesystem transport under ``var/celery`` by default, Redis when ``REDIS_URL`` is set).
If any child process stops, the others are stopped too and the command exits with its code.
"""

import os
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from helpdesk.server import supervise


class Command(BaseCommand):
    help = "Serve the app over ASGI (uvicorn) together with a Celery worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="web server processes (default: 2 with Redis, 1 with the in-memory layer)",
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the Celery worker and beat"
        )

    def handle(self, *args, host, port, workers, no_worker, **options):
        in_memory_layer = (
            settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
        )
        if workers is None:
            workers = 1 if in_memory_layer else 2
        if workers > 1 and in_memory_layer:
            # Each process would have its own layer: a screen pop sent by one process would
            # never reach a console connected to another.
            raise CommandError("Several web workers need a shared channel layer: set REDIS_URL.")

        # uvicorn in `workers` processes, each with a listening socket of its own
        # (helpdesk/server.py says why).
        commands = [
            [
                sys.executable,
                "-m",
                "helpdesk.server",
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                str(workers),
            ]
        ]
        if not no_worker:
            commands.append(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "helpdesk",
                    "worker",
                    "--beat",
                    "--schedule",
                    settings.CELERY_BEAT_SCHEDULE_FILENAME,
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "INFO",
                ]
            )
        children = [subprocess.Popen(command) for command in commands]  # noqa: S603
        self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl+C stops everything)")

        exit_code = supervise(
            children,
            [child.args[2] for child in children],
            log=lambda message: self.stderr.write(message),
        )
        if exit_code:
            raise CommandError(f"a child process failed (exit code {exit_code})")
