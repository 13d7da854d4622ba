"""The voice menu's announcement under load: ``GET /api/v1/ivr/announcement`` at a fixed rate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_outages_bench \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/ivr_announcement.py --rate 200 --duration 30

The database holds the directory to look callers up in: generate it first with
``bench/generate.py --people 200000 --tickets 20000`` (same environment variables). This
script prepares (idempotently) a PBX for the benchmark and one active outage ("Benchmark
outage": the demo's VPN service at the first site), starts the production server as
``manage.py serve`` does (``python -m helpdesk.server --workers 2``, the same start as
bench/cti_screen_pop.py; or ``--url`` of a running one), warms it up, then sends the
requests open-loop at ``--rate`` per second over keep-alive connections: numbers of random
people of the directory (known callers, affected or not by their site), unknown numbers and
withheld ones, a share of them with ``&service=``. The latency of each request is counted
from the moment it was due to be sent (a server that falls behind is not hidden by the
client waiting for it) until its answer's last byte.

It prints p50/p95/p99/max, the answers (200 with a text, 204 nothing to say), errors
(other statuses, timeouts), the server's CPU per request and a CPU speed check of the
machine before and after. ``--baseline`` first runs a phase of requests the endpoint
refuses (400, ``from`` too long) after the token check and before any lookup: the cost of
the server and the lean handler alone, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

PBX_NAME = "IVR benchmark PBX"
OUTAGE_TITLE = "Benchmark outage"


def _screen_pop_module():
    """bench/cti_screen_pop.py: the server start and the /proc readings are shared."""
    path = ROOT / "bench" / "cti_screen_pop.py"
    spec = importlib.util.spec_from_file_location("cti_screen_pop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(numbers: int) -> dict:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from cti.models import Pbx
    from helpdesk.models import Person, PhoneNumber, Service, Site
    from outages import services
    from outages.models import Outage, State

    pbx, _created = Pbx.objects.get_or_create(name=PBX_NAME, defaults={"is_active": True})
    service = Service.objects.filter(name="VPN & remote access").first() or Service.objects.first()
    site = Site.objects.order_by("pk").first()
    outage = Outage.objects.filter(title=OUTAGE_TITLE, state=State.ACTIVE).first()
    if outage is None:
        agent = User.objects.filter(username="agent").first()
        outage = services.outage_declare(
            by=agent,
            title=OUTAGE_TITLE,
            description="The VPN gateway is overloaded; connections drop.",
            description_pl="Brama VPN jest przeciążona; połączenia zrywają się.",
            services=[service],
            sites=[site],
            expected_end=timezone.now() + timedelta_hours(24),
        )
    # Random people's numbers: TABLESAMPLE would be quicker, ORDER BY random() is portable
    # and runs once.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e164 FROM {PhoneNumber._meta.db_table} ORDER BY random() LIMIT %s",
            [numbers],
        )
        known = [row[0] for row in cursor.fetchall()]
    at_site = list(
        PhoneNumber.objects.filter(person__site=site).values_list("e164", flat=True)[:200]
    )
    return {
        "token": pbx.token,
        "known": known,
        "at_site": at_site,
        "service": service.name,
        "people": Person.objects.count(),
        "outage": outage.pk,
    }


def timedelta_hours(hours: int):
    from datetime import timedelta

    return timedelta(hours=hours)


def request_paths(data: dict, count: int, seed: int) -> list[str]:
    """The mix of callers: 60% random people, 10% people of the affected site, 20% unknown
    numbers, 10% withheld; one in four asks about the outage's service."""
    rng = random.Random(seed)
    paths = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.6:
            number = rng.choice(data["known"])
        elif draw < 0.7 and data["at_site"]:
            number = rng.choice(data["at_site"])
        elif draw < 0.9:
            number = f"+48 601 {rng.randrange(1000000):06d}"
        else:
            number = "anonymous"
        path = f"/api/v1/ivr/announcement?from={quote(number)}"
        if rng.random() < 0.25:
            path += f"&service={quote(data['service'])}"
        paths.append(path)
    return paths


class GetClient:
    """Keep-alive HTTP/1.1 GETs from a queue (as bench/cti_screen_pop.py's RawHttp posts)."""

    def __init__(self, url: str, token: str, connections: int):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.token = token
        self.connections = connections
        self.queue: asyncio.Queue = asyncio.Queue()
        self.workers: list[asyncio.Task] = []
        self.reconnects = 0

    async def __aenter__(self):
        self.workers = [asyncio.create_task(self._worker()) for _ in range(self.connections)]
        return self

    async def __aexit__(self, *exc):
        for worker in self.workers:
            worker.cancel()

    async def get(self, path: str) -> int:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((path, future))
        return await asyncio.wait_for(future, 30)

    async def _worker(self) -> None:
        reader = writer = None
        head = f"Host: {self.host}:{self.port}\r\nX-Helpdesk-Token: {self.token}\r\n\r\n"
        while True:
            path, future = await self.queue.get()
            for attempt in range(2):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(f"GET {path} HTTP/1.1\r\n{head}".encode())
                    await writer.drain()
                    status = await _read_response(reader)
                    if not future.done():
                        future.set_result(status)
                    break
                except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as error:
                    writer = None
                    self.reconnects += 1
                    if attempt and not future.done():
                        future.set_exception(error)


async def _read_response(reader) -> int:
    status = int((await reader.readline()).split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _sep, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def load(url: str, token: str, paths: list[str], rate: float, connections: int):
    """Send ``paths`` at ``rate``/s open-loop; latencies (ms, from the due time) and answers."""
    latencies: list[float] = []
    answers: Counter = Counter()
    async with GetClient(url, token, connections) as client:
        start = time.perf_counter()

        async def send(index: int, path: str):
            due = start + index / rate
            try:
                status = await client.get(path)
            except Exception:
                answers["error"] += 1
                return
            latencies.append((time.perf_counter() - due) * 1000)
            answers[status] += 1

        tasks = []
        for index, path in enumerate(paths):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(index, path)))
        _done, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
        answers["error"] += len(pending)
        seconds = time.perf_counter() - start
        # A request whose connection broke is sent again once (as RawHttp does): counted
        # here, since the server then did the work twice.
        answers["resent"] = client.reconnects
    return latencies, answers, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--numbers", type=int, default=5000, help="directory numbers to draw")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--baseline", action="store_true", help="first a phase answered 400 before any lookup"
    )
    args = parser.parse_args()

    bench = _screen_pop_module()
    data = prepare(args.numbers)
    print(
        f"directory: {data['people']:,} people; outage {data['outage']} active; "
        f"{len(data['known'])} numbers drawn"
    )
    speed_before = bench.cpu_speed_ms()
    process = None
    if args.url:
        url = args.url
    else:
        url, process = bench.start_server(args.workers, "project")
    pid = process.pid if process else None
    try:
        warm = request_paths(data, int(args.rate * args.warmup), args.seed + 1)
        asyncio.run(load(url, data["token"], warm, args.rate, args.connections))
        phases = []
        if args.baseline:
            # The same server, token check and request path, answered 400 ("from" too
            # long) before any lookup: what any request to the lean handler costs here.
            bad = "/api/v1/ivr/announcement?from=" + "1" * 65
            phases.append(("baseline", [bad] * int(args.rate * args.duration), (400,)))
        paths = request_paths(data, int(args.rate * args.duration), args.seed)
        phases.append(("announcement", paths, (200, 204)))
        results = []
        for name, phase_paths, expected in phases:
            cpu_before = bench.server_cpu_seconds(pid)
            latencies, answers, seconds = asyncio.run(
                load(url, data["token"], phase_paths, args.rate, args.connections)
            )
            cpu_after = bench.server_cpu_seconds(pid)
            cpu = sum(cpu_after.values()) - sum(cpu_before.get(p, 0.0) for p in cpu_after)
            results.append((name, phase_paths, expected, latencies, answers, seconds, cpu))
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
    speed_after = bench.cpu_speed_ms()
    pct = bench.percentile
    print(f"rate {args.rate:.0f}/s for {args.duration:.0f} s per phase, {args.workers} workers")
    for name, phase_paths, expected, latencies, answers, seconds, cpu in results:
        errors = sum(
            count for status, count in answers.items() if status not in (*expected, "resent")
        )
        print(
            f"{name}: {len(phase_paths)} requests sent in {seconds:.1f} s; latency ms: "
            f"p50 {pct(latencies, 0.5):.1f}  p95 {pct(latencies, 0.95):.1f}  "
            f"p99 {pct(latencies, 0.99):.1f}  max {max(latencies, default=float('nan')):.1f}; "
            f"answers {dict(answers)}, errors {errors}; "
            f"server CPU {cpu * 1000 / max(len(latencies), 1):.2f} ms per request"
        )
    print(f"CPU speed check: {speed_before:.1f} ms before, {speed_after:.1f} ms after")


if __name__ == "__main__":
    main()
