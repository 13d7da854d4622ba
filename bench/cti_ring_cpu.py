"""CPU and SQL statements per ring, in-process: where the screen pop's server time goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/cti_ring_cpu.py --rings 500
    ... --profile 30     # the same rings through Django's test client under cProfile

It prepares the benchmark's agents and PBX (as ``bench/cti_screen_pop.py`` does), then sends
signed generic-webhook rings, each from a random directory number to one agent's extension,
straight into the project's ASGI application (the HTTP handler, middleware, view, ingest,
card and the push to the channel layer; no sockets, no consoles), and prints the process
CPU time per ring and the SQL statements per ring. The same for the baseline echo (no
database work). ``--profile`` prints the functions with the most own time instead.
The calls it created are ended afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("CTI_BENCH_ENDPOINTS", "1")
os.environ.setdefault("DEBUG", "false")

import cti_screen_pop  # noqa: E402


class StatementCounter:
    """Counts the SQL statements of every connection (the view runs in another thread)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


async def asgi_post(app, path: str, body: bytes, headers: dict[str, str]) -> int:
    path, _sep, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def requests(data: dict, run_id: str):
    numbers, agents = data["numbers"], data["agents"]
    headers = {"X-Helpdesk-Token": data["token"], "Content-Type": "application/json"}

    def ring(number: int):
        agent = agents[number % len(agents)]
        body = {
            "event": "ring",
            "call_id": f"bench-{run_id}-{number}",
            "from": numbers[number % len(numbers)],
            "to": "100",
            "extension": agent["extension"],
        }
        return f"/cti/webhook/{data['pbx_id']}/", json.dumps(body).encode(), headers

    def echo(number: int):
        agent = agents[number % len(agents)]
        return f"/cti/bench/echo/{agent['user_id']}/?seq={number}", b"", {}

    return ring, echo


async def measure(app, request_for, count: int, counter: StatementCounter, offset: int) -> dict:
    for number in range(offset, offset + 20):  # warm up: code, caches, connections
        await asgi_post(app, *request_for(number))
    statements = counter.count
    cpu, wall = time.process_time(), time.perf_counter()
    failed = 0
    for number in range(offset + 20, offset + 20 + count):
        if await asgi_post(app, *request_for(number)) != 200:
            failed += 1
    return {
        "cpu_ms": (time.process_time() - cpu) * 1000 / count,
        "wall_ms": (time.perf_counter() - wall) * 1000 / count,
        "statements": (counter.count - statements) / count,
        "failed": failed,
    }


def profile(request_for, count: int, top: int) -> None:
    from django.test import Client

    client = Client()

    def post(number):
        path, body, headers = request_for(number)
        return client.post(
            path,
            body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )

    for number in range(20):
        post(number)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for number in range(20, 20 + count):
        post(number)
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"{stats.total_tt * 1000 / count:.2f} ms per ring under cProfile")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rings", type=int, default=500)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--profile", type=int, default=0, metavar="TOP")
    args = parser.parse_args()

    data = cti_screen_pop.prepare(args.agents, 5000)
    run_id = uuid.uuid4().hex[:8]
    ring, echo = requests(data, run_id)
    try:
        if args.profile:
            profile(ring, args.rings, args.profile)
            return
        from django.db.backends.signals import connection_created

        counter = StatementCounter()

        def install(sender, connection, **kwargs):
            if counter not in connection.execute_wrappers:
                connection.execute_wrappers.append(counter)

        connection_created.connect(install, weak=False)
        from helpdesk.asgi import application

        async def both():
            baseline = await measure(application, echo, args.rings, counter, 0)
            pop = await measure(application, ring, args.rings, counter, 0)
            return baseline, pop

        baseline, pop = asyncio.run(both())
        print(f"{args.rings} requests each, in-process through the ASGI application")
        for name, result in (("baseline", baseline), ("ring", pop)):
            print(
                f"{name:9} CPU {result['cpu_ms']:6.2f} ms  wall {result['wall_ms']:6.2f} ms"
                f"  statements {result['statements']:5.2f}  failed {result['failed']}"
            )
    finally:
        print(f"ended {cti_screen_pop.end_bench_calls(run_id)} benchmark calls")


if __name__ == "__main__":
    main()
