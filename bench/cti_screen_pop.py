"""Screen-pop latency: ring webhook sent -> caller card received on the agent's websocket.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/cti_screen_pop.py --consoles 500 --rate 100 --duration 30

It prepares N agents with extensions and signed-in sessions in the database (idempotent),
starts the server as ``manage.py serve`` does (``python -m helpdesk.server --workers 2``; or
``--server uvicorn`` for ``uvicorn --workers 2``), or uses ``--url`` of a running server
started with ``CTI_BENCH_ENDPOINTS=1``, opens N websocket consoles, runs two
phases at the same rate, each ring or echo addressed to one agent (round robin, so an agent
has at most one outstanding message). The phases take turns in ``--slices`` slices (4 of
``--duration``/4 s each by default), so that both are measured at the machine's speed of the
same minutes:

1. baseline: ``POST /cti/bench/echo/<user id>/`` pushes an empty message through the same
   server and channel layer, no database work;
2. screen pop: the signed generic webhook ``POST /cti/webhook/<pbx id>/`` with a ring on the
   agent's extension from the number of a random person of the directory; the time until
   that console receives the ``screen_pop`` card (caller lookup, open and last tickets, last
   calls, render, push).

It prints p50/p95/p99/max of both, their ratio, how many cards were lost (sent, no card
within the grace period), each server process's share of the CPU and its memory, and a CPU
speed check of the machine before and after (runs are comparable only at similar speeds).
The calls it created are ended afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

AGENT_PREFIX = "bench-agent-"
EXTENSION_BASE = 70000
PBX_NAME = "Benchmark PBX"


def prepare(consoles: int, callers: int) -> dict:
    """Agents with extensions and sessions, a PBX, caller numbers: what the run needs."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore

    from cti.models import AgentExtension, Pbx
    from helpdesk.auth import SESSION_BACKEND
    from helpdesk.models import PhoneNumber
    from helpdesk.roles import Role

    role = Group.objects.get(name=Role.AGENT.value)
    pbx, _created = Pbx.objects.get_or_create(name=PBX_NAME, defaults={"token": uuid.uuid4().hex})
    names = [f"{AGENT_PREFIX}{number}" for number in range(consoles)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create(
        [User(username=name, first_name="Bench", last_name=name) for name in names
         if name not in existing]
    )  # fmt: skip
    users = {user.username: user for user in User.objects.filter(username__in=names)}
    role.user_set.add(*users.values())
    have = set(
        AgentExtension.objects.filter(user__in=users.values()).values_list("user_id", flat=True)
    )
    AgentExtension.objects.bulk_create(
        [
            AgentExtension(user=users[name], extension=str(EXTENSION_BASE + number), pbx=pbx)
            for number, name in enumerate(names)
            if users[name].pk not in have
        ]
    )
    extensions = dict(
        AgentExtension.objects.filter(user__in=users.values()).values_list("user_id", "extension")
    )
    agents = []
    for name in names:
        user = users[name]
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = SESSION_BACKEND
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        agents.append(
            {
                "user_id": user.pk,
                "extension": extensions[user.pk],
                "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            }
        )
    numbers = list(
        PhoneNumber.objects.filter(kind=PhoneNumber.Kind.DESK, e164__startswith="+")
        .order_by("?")
        .values_list("e164", flat=True)[:callers]
    )
    if not numbers:
        raise SystemExit("The directory has no phone numbers: run bench/generate.py first.")
    return {"pbx_id": pbx.pk, "token": pbx.token, "agents": agents, "numbers": numbers}


def end_bench_calls(run_id: str) -> int:
    from django.utils import timezone

    from cti.models import Call

    return Call.objects.filter(call_id__startswith=f"bench-{run_id}-").update(
        state=Call.State.ENDED, outcome=Call.Outcome.ANSWERED, ended_at=timezone.now()
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workers: int, server: str) -> tuple[str, subprocess.Popen]:
    import httpx

    port = free_port()
    env = {**os.environ, "CTI_BENCH_ENDPOINTS": "1", "DEBUG": "false"}
    # Under ASGI every request runs its sync code in a thread of its own, so persistent
    # connections (CONN_MAX_AGE > 0) pile up one per request thread until PostgreSQL
    # refuses clients (measured: "too many clients" within seconds at 100 rings/s).
    env.setdefault("DATABASE_CONN_MAX_AGE", "0")
    if server == "uvicorn":  # uvicorn's own workers, sharing one socket (for comparison)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "helpdesk.asgi:application",
            "--workers",
            str(workers),
            "--lifespan",
            "off",
            "--ws-per-message-deflate",
            "false",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    else:  # what manage.py serve runs
        command = [
            sys.executable,
            "-m",
            "helpdesk.server",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/accounts/login/", timeout=1)
            return url, process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the server did not start")


def server_processes(pid: int | None) -> list[int]:
    """The server process and its workers (parent first), from /proc; empty if unknown."""
    if pid is None:
        return []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [pid] + [int(child) for child in children.read().split()]
    except OSError:
        return []


def server_cpu_seconds(pid: int | None) -> dict[int, float]:
    """CPU time (user + system) of the server process and of each of its workers, from
    /proc: process id -> seconds (empty if unknown)."""
    seconds = {}
    try:
        for each in server_processes(pid):
            with open(f"/proc/{each}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            seconds[each] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return {}
    return seconds


def cpu_speed_ms() -> float:
    """A fixed piece of pure-Python work, best of 5, in ms. The machine's CPU speed varies by
    tens of percent from one hour to the next (a shared virtual machine: the same loop took
    12 to 20 ms), and every figure of a run with it, so each run prints this next to them."""
    import timeit

    return min(timeit.repeat("sum(range(10**6))", number=5, repeat=5)) * 1000 / 5


def server_rss_mb(pid: int | None) -> list[float]:
    """Resident memory of each server process (parent first), in MB."""
    sizes = []
    try:
        for each in server_processes(pid):
            with open(f"/proc/{each}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
    except OSError:
        return []
    return sizes


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


class Consoles:
    """N websocket consoles; records when each expected message arrives."""

    def __init__(self, url: str, agents: list[dict]):
        self.url = url.replace("http://", "ws://") + "/ws/console/"
        self.origin = url
        self.agents = agents
        self.sockets = []
        self.readers = []
        self.sent: dict[tuple[str, int], deque] = defaultdict(deque)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.timeline: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (sent, ms)
        self.received: dict[str, int] = defaultdict(int)
        self.unexpected = 0
        self.server_pid: int | None = None

    async def open(self) -> None:
        import websockets

        semaphore = asyncio.Semaphore(50)

        async def connect(agent):
            async with semaphore:
                socket_ = await websockets.connect(
                    self.url,
                    additional_headers={"Cookie": agent["cookie"], "Origin": self.origin},
                    max_size=2**22,
                    open_timeout=30,
                )
                hello = json.loads(await socket_.recv())
                assert hello["type"] == "hello", hello
                return socket_

        self.sockets = await asyncio.gather(*(connect(agent) for agent in self.agents))
        # Drain cards of calls still ringing from an earlier run before measuring.
        await asyncio.sleep(1)
        self.readers = [
            asyncio.create_task(self.read(agent["user_id"], socket_))
            for agent, socket_ in zip(self.agents, self.sockets, strict=True)
        ]

    async def read(self, user_id: int, socket_) -> None:
        import websockets

        try:
            async for raw in socket_:
                now = time.perf_counter()
                message = json.loads(raw)
                kind = {"echo": "baseline", "screen_pop": "screen pop"}.get(message["type"])
                if kind is None:
                    continue
                queue = self.sent[(kind, user_id)]
                if not queue:
                    self.unexpected += 1
                    continue
                sent = queue.popleft()
                self.latencies[kind].append((now - sent) * 1000)
                self.timeline[kind].append((sent, (now - sent) * 1000))
                self.received[kind] += 1
        except websockets.ConnectionClosed:
            pass

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(socket_.close() for socket_ in self.sockets))


class RawHttp:
    """A minimal HTTP/1.1 client: a fixed set of keep-alive connections fed from a queue.

    httpx's connection pool costs O(queued requests) per request (measured: 20 s of client
    CPU in a 10 s phase at 100/s), which made the client, not the server, the bottleneck.
    """

    def __init__(self, url: str, connections: int = 64):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.connections = connections
        self.queue: asyncio.Queue = asyncio.Queue()
        self.workers: list[asyncio.Task] = []

    async def __aenter__(self):
        self.workers = [asyncio.create_task(self._worker()) for _ in range(self.connections)]
        return self

    async def __aexit__(self, *exc):
        for worker in self.workers:
            worker.cancel()

    async def post(self, path: str, body: bytes = b"", headers: dict | None = None) -> int:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((path, body, headers or {}, future))
        return await asyncio.wait_for(future, 30)

    async def _worker(self) -> None:
        reader = writer = None
        while True:
            path, body, headers, future = await self.queue.get()
            for attempt in range(2):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(self.host, self.port)
                    head = "".join(
                        [
                            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n",
                            f"Content-Length: {len(body)}\r\n",
                            *(f"{name}: {value}\r\n" for name, value in headers.items()),
                            "\r\n",
                        ]
                    )
                    writer.write(head.encode() + body)
                    await writer.drain()
                    status = await self._read_response(reader)
                    if not future.done():
                        future.set_result(status)
                    break
                except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as error:
                    writer = None
                    if attempt and not future.done():
                        future.set_exception(error)

    @staticmethod
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
        else:
            await reader.readexactly(length)
        return status


async def phase(kind, consoles, http, *, rate, duration, request_for, first: int) -> dict:
    """Send ``rate`` requests per second for ``duration`` s, one agent after another,
    numbered from ``first``; wait for their messages. Returns what was sent and the server
    CPU it took (the latencies are collected by ``consoles``)."""
    total = int(rate * duration)
    agents = consoles.agents
    errors = 0
    tasks = []
    cpu_before = server_cpu_seconds(consoles.server_pid)
    start = time.perf_counter()

    async def send(number: int):
        nonlocal errors
        agent = agents[number % len(agents)]
        path, body, headers = request_for(number, agent)
        consoles.sent[(kind, agent["user_id"])].append(time.perf_counter())
        try:
            status = await http.post(path, body, headers)
            if status != 200:
                errors += 1
        except Exception:
            errors += 1

    expected = consoles.received[kind] + total
    for number in range(first, first + total):
        delay = start + (number - first) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(number)))
    # A saturated server must not hang the benchmark: what is not answered in time counts
    # as an HTTP error (and, without its card, as lost).
    _done, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
    errors += len(pending)
    sent_seconds = time.perf_counter() - start
    grace = time.perf_counter() + 10
    while consoles.received[kind] < expected and time.perf_counter() < grace:
        await asyncio.sleep(0.1)
    cpu_after = server_cpu_seconds(consoles.server_pid)
    return {
        "sent": total,
        "http_errors": errors,
        "seconds": sent_seconds,
        "cpu": {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after},
    }


def summary(kind: str, consoles, slices: list[dict]) -> dict:
    """One kind's figures over all its slices."""
    total = sum(part["sent"] for part in slices)
    cpu_by_pid: dict[int, float] = defaultdict(float)
    for part in slices:
        for pid, seconds in part["cpu"].items():
            cpu_by_pid[pid] += seconds
    # Per process: how evenly the workers shared the load (each keeps its connections).
    per_process = [cpu_by_pid[pid] for pid in sorted(cpu_by_pid)]
    cpu = sum(per_process) if per_process else float("nan")
    latencies = consoles.latencies[kind]
    return {
        "server_cpu_ms": cpu * 1000 / total,
        "cpu_share": [seconds / cpu for seconds in per_process if cpu] if per_process else [],
        "kind": kind,
        "sent": total,
        "received": consoles.received[kind],
        "lost": total - consoles.received[kind],
        "http_errors": sum(part["http_errors"] for part in slices),
        "rate": total / sum(part["seconds"] for part in slices),
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies) if latencies else float("nan"),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
    }


async def run(args, data) -> list[dict]:
    consoles = Consoles(args.url, data["agents"])
    consoles.server_pid = data.get("server_pid")
    await consoles.open()
    print(f"{len(consoles.sockets)} consoles connected", flush=True)
    run_id = data["run_id"]
    numbers = data["numbers"]
    async with RawHttp(args.url) as http:

        def echo(number, agent):
            path = f"/cti/bench/echo/{agent['user_id']}/?seq={number}"
            return path, b"", {}

        def ring(number, agent):
            body = json.dumps(
                {
                    "event": "ring",
                    "call_id": f"bench-{run_id}-{number}",
                    "from": numbers[number % len(numbers)],
                    "to": "100",
                    "extension": agent["extension"],
                }
            ).encode()
            headers = {"X-Helpdesk-Token": data["token"], "Content-Type": "application/json"}
            return f"/cti/webhook/{data['pbx_id']}/", body, headers

        # Warm up both paths in every worker (connections, database pool, code, templates,
        # caches) before measuring: 200 echoes and 200 rings at 50/s. Their messages arrive
        # before the count starts.
        warm_up = []
        for number in range(200):
            agent = consoles.agents[number % len(consoles.agents)]
            for request_for in (echo, ring):
                path, body, headers = request_for(-1 - number, agent)
                warm_up.append(asyncio.create_task(http.post(path, body, headers)))
            await asyncio.sleep(0.02)
        await asyncio.gather(*warm_up, return_exceptions=True)
        await asyncio.sleep(2)
        consoles.unexpected = 0
        # The measuring client must not pause: with 500 websockets its own full garbage
        # collections took ~100 ms and showed up as stalls of every message in flight.
        gc.collect()
        gc.freeze()
        gc.disable()
        # The phases take turns in slices: this machine's speed changes by the minute, and
        # a baseline measured in a fast minute next to rings measured in a slow one (or
        # the reverse) said more about the machine than about the server.
        slices: dict[str, list[dict]] = {"baseline": [], "screen pop": []}
        duration = args.duration / args.slices
        for number in range(args.slices):
            for kind, request_for in (("baseline", echo), ("screen pop", ring)):
                print(f"running {kind} ({number + 1}/{args.slices}) ...", flush=True)
                slices[kind].append(
                    await phase(
                        kind,
                        consoles,
                        http,
                        rate=args.rate,
                        duration=duration,
                        request_for=request_for,
                        first=number * int(args.rate * duration),
                    )
                )
        results = [summary(kind, consoles, parts) for kind, parts in slices.items()]
    gc.enable()
    rss = server_rss_mb(consoles.server_pid)
    if rss:
        print("server memory (RSS, parent first): " + " / ".join(f"{mb:.0f} MB" for mb in rss))
    await consoles.close()
    if args.dump:
        with open(args.dump, "w") as dump:
            for kind, rows in consoles.timeline.items():
                for sent, latency in sorted(rows):
                    dump.write(f"{kind}\t{sent:.4f}\t{latency:.2f}\n")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consoles", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0, help="rings per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument(
        "--slices",
        type=int,
        default=4,
        help="the phases take turns in this many slices each (1: baseline, then rings)",
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes to start")
    parser.add_argument(
        "--server",
        choices=["project", "uvicorn"],
        default="project",
        help="project: helpdesk.server, as manage.py serve runs it (a socket per process);"
        " uvicorn: uvicorn --workers (one shared socket)",
    )
    parser.add_argument("--url", default="", help="a running server (CTI_BENCH_ENDPOINTS=1)")
    parser.add_argument("--callers", type=int, default=5000, help="distinct caller numbers")
    parser.add_argument("--dump", default="", help="write each message's send time and latency")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    speed_before = cpu_speed_ms()
    started = time.perf_counter()
    data = prepare(args.consoles, args.callers)
    data["run_id"] = uuid.uuid4().hex[:8]
    print(f"prepared {len(data['agents'])} agents in {time.perf_counter() - started:.1f} s")
    from django.db import connection

    db = connection.settings_dict
    print(f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
    from django.conf import settings

    print(f"channel layer: {settings.CHANNEL_LAYERS['default']['BACKEND']}")
    tickets = _count("tickets.Ticket")
    people = _count("helpdesk.Person")
    print(f"directory: {people:,} people, {tickets:,} tickets")
    connection.close()
    server = None
    if not args.url:
        args.url, server = start_server(args.workers, args.server)
        data["server_pid"] = server.pid
        print(f"started {args.server} with {args.workers} workers at {args.url}")
    try:
        results = asyncio.run(run(args, data))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        ended = end_bench_calls(data["run_id"])
        print(f"ended {ended} benchmark calls")
    print()
    print(
        f"{args.consoles} consoles, {args.rate:g}/s for {args.duration:g} s per phase,"
        f" in {args.slices} slices taking turns"
    )
    header = f"{'':12} {'sent':>6} {'lost':>5} {'rate/s':>7} {'p50 ms':>8} {'p95 ms':>8}"
    print(header + f" {'p99 ms':>8} {'max ms':>8} {'server CPU ms/event':>20}")
    for result in results:
        print(
            f"{result['kind']:12} {result['sent']:6d} {result['lost']:5d} {result['rate']:7.1f}"
            f" {result['p50']:8.1f} {result['p95']:8.1f} {result['p99']:8.1f} {result['max']:8.1f}"
            f" {result['server_cpu_ms']:20.2f}"
            + (f"  ({result['http_errors']} HTTP errors)" if result["http_errors"] else "")
        )
    for result in results:
        shares = " / ".join(f"{share:.0%}" for share in result["cpu_share"])
        print(f"{result['kind']}: server CPU by process (parent first): {shares}")
    baseline, pop = results
    print(f"screen pop p99 / baseline p99 = {pop['p99'] / baseline['p99']:.2f}")
    print(f"cards lost: {pop['lost']}")
    print(
        f"CPU speed check (sum(range(10**6)), lower is faster): {speed_before:.1f} ms before,"
        f" {cpu_speed_ms():.1f} ms after the run"
    )
    with open("/proc/loadavg") as load:
        print(f"load average after the run: {' '.join(load.read().split()[:3])}")


def _count(label: str) -> int:
    from django.apps import apps
    from django.db import connection

    table = apps.get_model(label)._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            row = cursor.fetchone()
            if row and row[0] > 0:
                return int(row[0])
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        return int(cursor.fetchone()[0])


if __name__ == "__main__":
    main()
