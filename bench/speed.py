"""Page speed over HTTP (issue 19): our pages next to a baseline page in the same run.

    .venv/bin/python bench/speed.py                          # starts the server on hd_bench
    .venv/bin/python bench/speed.py --requests 40 --duration 10 --json /tmp/speed.json
    .venv/bin/python bench/speed.py --scenarios 'queue open sort=*,console ticket'
    .venv/bin/python bench/speed.py --url http://127.0.0.1:8000      # a running server
    .venv/bin/python bench/speed.py --list                   # the scenarios' names only
    .venv/bin/python bench/speed.py --target django-helpdesk --url http://127.0.0.1:8100

A closed-loop HTTP load client: each of C virtual clients (C = 1, then 8) keeps one
keep-alive connection and sends its next request when the previous answer has arrived, until
``--requests`` answers or ``--duration`` seconds per run, after ``--warmup`` unmeasured
requests per client. The client is a minimal asyncio HTTP/1.1 client (no pool, no cookie
jar): it costs a small fraction of a millisecond of CPU per request, and its CPU is measured
and printed next to the server's. Sign-in uses httpx as a browser would: the login page for
the CSRF cookie and token, the POST of the form, then the session and CSRF cookies are sent
with every request (and the CSRF token with every POST).

Without ``--url`` it starts the server as ``manage.py serve`` does (``python -m
helpdesk.server --workers 2``, DEBUG off) against ``DATABASE_URL`` (default hd_bench, built
by ``bench/generate.py``) and ``REDIS_URL`` (default db 13 of the local Redis: production
runs with Redis for the cache and the sessions).

Scenarios (names for ``--scenarios``, comma-separated, ``*`` as a wildcard; ``--list``):

- ``baseline``: the login page, anonymous (GET, no data). Run first, last and every
  ``--baseline-every`` scenarios; each scenario's ratio is to the mean of the baseline runs
  just before and just after it at the same concurrency, so a machine that slows down or
  speeds up in between moves both.
- ``queue open sort=<key>`` and ``sort=-<key>``: the console queue ``/console/`` on the
  "All open" tab with every sort key of ``tickets.selectors.QUEUE_SORTS``, both directions.
- ``queue <tab>`` (the other tabs, newest first) and ``queue open <filter>=*`` (each request
  a random value of the filter: state, priority, group, service, channel, and two
  combinations); ``--queue-all`` runs every tab with every sort and every filter value as a
  scenario of its own instead.
- ``console ticket``: the agent's ticket page ``/console/tickets/<number>/`` of random tickets.
- ``portal list`` (open, the default), ``portal list all`` (a random page of all of them)
  and ``portal ticket`` (a random one of theirs): the portal of an end user with
  ``--portal-tickets`` (500) tickets: the login ``bench-portal`` (password ``demo``) with a
  person of its own, made here, to whom that many random tickets are given (idempotent).
- ``api create``: ``POST /api/tickets/`` (JSON, session + X-CSRFToken, as the console's
  scripts do) for a random caller, 201 expected.
- ``console new`` (GET of the new-ticket form) and ``console create`` (its POST, 302 to the
  new ticket expected). The form's one-time ``submission_key`` is 32 hex digits the server
  makes when it shows the form and keeps nowhere: the client makes one the same way per
  submission, so that ``console create`` times the POST alone.

Every answer's status is checked (and a redirect's target where one is expected): a run
with errors is counted and flagged in the table and listed after it, and the exit status
is 1.

Per run it prints p50/p95/p99 latency, requests per second, errors, the CPU per request of
the server processes (user + system from /proc/<pid>/stat before and after, children
included), of all PostgreSQL processes (the shared machine's other databases included) and
of the PostgreSQL backends of this database alone, of this client, and the ratio of p50 and
p99 to the baseline's.

``--target django-helpdesk`` runs the same client against django-helpdesk (see
bench/peers/django_helpdesk/README.md): its login page as the baseline, its open tickets
list (the page, and the JSON its table loads), a ticket page ``/helpdesk/tickets/<id>/``
and ``POST /api/tickets/``.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import gc
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hd_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
PASSWORD = "demo"
PORTAL_USERNAME = "bench-portal"
USER_AGENT = "helpdesk-bench-speed/1"
# django-helpdesk's default open-tickets query, as its list page renders it (base64 JSON).
PEER_OPEN_QUERY = (
    "eyJmaWx0ZXJpbmciOiB7InN0YXR1c19faW4iOiBbMSwgMl19LCAic29ydGluZyI6ICJjcmVhdGVkIiwgInNlYXJj"
    "aF9zdHJpbmciOiAiIiwgInNvcnRyZXZlcnNlIjogZmFsc2V9"
)
PORTAL_PAGE_SIZE = 50  # tickets.views.portal.MY_TICKETS_PAGE_SIZE
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- CPU from /proc ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            raw = stat.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: the fields start after the last ")".
    return [raw[raw.index("(") + 1 : raw.rindex(")")], *raw.rsplit(")", 1)[1].split()]


def _cpu_of(fields: list[str]) -> float:
    """utime + stime + cutime + cstime in seconds: the process and its reaped children.

    Summed over the live processes of a tree and differenced, this counts exactly the CPU
    the tree used in between, children that ended in between included (their whole life is
    in their parent's cutime afterwards, their part before in their own figure before)."""
    # fields[0] is comm; /proc's field n (1-based, pid first) is fields[n - 2] here.
    return sum(int(fields[n - 2]) for n in (14, 15, 16, 17)) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/<pid>/task/*/children."""
    found, todo = [], [pid]
    while todo:
        each = todo.pop()
        found.append(each)
        try:
            tasks = os.listdir(f"/proc/{each}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{each}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
            except OSError:
                pass
    return found


def tree_cpu(roots: list[int]) -> float:
    seen, total = set(), 0.0
    for root in roots:
        for pid in process_tree(root):
            if pid in seen:
                continue
            seen.add(pid)
            fields = _stat_fields(pid)
            if fields:
                total += _cpu_of(fields)
    return total


def postgres_cpu(database: str) -> tuple[float, float]:
    """(CPU seconds of every postgres process, of the backends of ``database`` alone)."""
    every = ours = 0.0
    marker = f" {database} "
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if not fields or fields[0] != "postgres":
            continue
        cpu = _cpu_of(fields)
        every += cpu
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                title = cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        # "postgres: 15/main: postgres hd_bench 127.0.0.1(51234) idle"
        if marker in title:
            ours += cpu
    return every, ours


def listening_pids(port: int) -> list[int]:
    """The processes holding a listening TCP socket on ``port`` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
        except OSError:
            pass
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                link = os.readlink(f"/proc/{entry}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.append(int(entry))
                    break
        except OSError:
            continue
    return pids


def server_roots(pids: list[int]) -> list[int]:
    """Of ``pids``, those whose parent is not in the set: the top of each server tree."""
    roots = []
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None or int(fields[2]) not in pids:
            roots.append(pid)
    return roots


class CpuProbe:
    def __init__(self, server_roots: list[int], database: str):
        self.server_roots = server_roots
        self.database = database

    def snapshot(self) -> dict[str, float]:
        every, ours = postgres_cpu(self.database)
        return {
            "server": tree_cpu(self.server_roots) if self.server_roots else float("nan"),
            "pg": every,
            "pg_db": ours,
            "client": 0.0,
        }


def cpu_speed_ms() -> float:
    """A fixed piece of pure-Python work, best of 5, in ms (as the other benchmarks print)."""
    import timeit

    return min(timeit.repeat("sum(range(10**6))", number=5, repeat=5)) * 1000 / 5


def load_average() -> str:
    with open("/proc/loadavg") as load:
        return " ".join(load.read().split()[:3])


# --- the HTTP client -------------------------------------------------------------------------


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time (a virtual client's)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            await self.open()
        self.writer.write(raw)
        await self.writer.drain()
        return await self._response()

    async def _response(self) -> tuple[int, dict[str, str], bytes]:
        reader = self.reader
        line = await reader.readline()
        if not line:
            self.close()
            raise HttpError("connection closed by the server")
        status = int(line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _sep, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b""):
                        pass  # trailers
                    break
            body = b"".join(part[:-2] for part in parts)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


@dataclass
class Request:
    method: str
    path: str
    expect: tuple[int, ...] = (200,)
    body: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # A redirect's target must start with this (a 302 to the login page is an error).
    location: str = ""


@dataclass
class Scenario:
    name: str
    session: str  # "anon", "agent", "portal"
    make: Callable[[random.Random], Request]
    note: str = ""


class Client:
    """What a run needs to turn a Request into bytes: the host and each role's cookies."""

    def __init__(self, url: str, sessions: dict[str, dict[str, str]]):
        self.probe: CpuProbe | None = None
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port or 80
        self.host_header = parts.netloc
        self.sessions = sessions

    def csrf(self, session: str) -> str:
        return self.sessions[session].get("csrftoken", "")

    def encode(self, request: Request, session: str) -> bytes:
        cookies = self.sessions.get(session) or {}
        lines = [
            f"{request.method} {request.path} HTTP/1.1",
            f"Host: {self.host_header}",
            f"User-Agent: {USER_AGENT}",
            "Accept: text/html,application/json;q=0.9,*/*;q=0.8",
            "Accept-Encoding: gzip",
            "Accept-Language: en",
        ]
        if cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
        if request.method != "GET":
            lines.append(f"Origin: {self.url}")
            lines.append(f"Referer: {self.url}{request.path}")
            lines.append(f"Content-Type: {request.content_type}")
            lines.append(f"Content-Length: {len(request.body)}")
        lines.extend(f"{name}: {value}" for name, value in request.headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def sign_in(url: str, login_path: str, username: str, password: str, *, extra=None) -> dict:
    """Sign in as a browser does; the cookies afterwards (session and CSRF)."""
    import httpx

    with httpx.Client(base_url=url, timeout=30, headers={"User-Agent": USER_AGENT}) as http:
        page = http.get(login_path)
        page.raise_for_status()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if not match:
            raise SystemExit(f"no CSRF token on {url}{login_path}")
        form = {"csrfmiddlewaretoken": match.group(1), "username": username, "password": password}
        form.update(extra or {})
        answer = http.post(
            login_path, data=form, headers={"Referer": f"{url}{login_path}", "Origin": url}
        )
        if answer.status_code != 302:
            raise SystemExit(f"signing in as {username} failed: HTTP {answer.status_code}")
        return {cookie.name: cookie.value for cookie in http.cookies.jar}


def anonymous_cookies(url: str, login_path: str) -> dict:
    """The CSRF cookie an anonymous browser has after its first visit of the login page."""
    import httpx

    answer = httpx.get(f"{url}{login_path}", timeout=30, headers={"User-Agent": USER_AGENT})
    answer.raise_for_status()
    return dict(answer.cookies)


# --- a run: one scenario at one concurrency ----------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


async def run_once(client: Client, scenario: Scenario, concurrency: int, args, seed: int) -> dict:
    rng = random.Random(seed)
    connections = [Connection(client.host, client.port) for _ in range(concurrency)]
    await asyncio.gather(*(connection.open() for connection in connections))
    errors: list[str] = []

    async def send(connection: Connection) -> tuple[float, str | None]:
        request = scenario.make(rng)
        raw = client.encode(request, scenario.session)
        started = time.perf_counter()
        try:
            status, headers, body = await asyncio.wait_for(connection.request(raw), args.timeout)
        except (TimeoutError, OSError, HttpError, asyncio.IncompleteReadError) as error:
            connection.close()
            return time.perf_counter() - started, f"{request.path}: {type(error).__name__} {error}"
        elapsed = time.perf_counter() - started
        if status not in request.expect:
            return elapsed, f"{request.method} {request.path}: HTTP {status} {body[:80]!r}"
        if request.location and not headers.get("location", "").startswith(request.location):
            return elapsed, (
                f"{request.method} {request.path}: HTTP {status} to {headers.get('location')!r}"
            )
        return elapsed, None

    warm_errors = 0
    for _round in range(args.warmup):
        for _elapsed, error in await asyncio.gather(*(send(c) for c in connections)):
            warm_errors += error is not None
    latencies: list[float] = []
    issued = 0
    deadline = time.perf_counter() + args.duration
    # The baseline is cheap: more samples make its p99 (the ratios' denominator) steadier.
    limit = args.baseline_requests if scenario.name == "baseline" else args.requests

    async def virtual_client(connection: Connection) -> None:
        nonlocal issued
        while issued < limit and time.perf_counter() < deadline:
            issued += 1
            elapsed, error = await send(connection)
            latencies.append(elapsed * 1000)
            if error:
                errors.append(error)

    gc.collect()
    gc.disable()  # the client's own collections would show up as the server's latency
    before = client.probe.snapshot()
    # The client's CPU without the probe's own reading of /proc.
    client_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(virtual_client(connection) for connection in connections))
    seconds = time.perf_counter() - started
    client_after = time.process_time()
    after = client.probe.snapshot()
    before["client"], after["client"] = client_before, client_after
    gc.enable()
    for connection in connections:
        connection.close()
    count = len(latencies)
    per_request = {key: (after[key] - before[key]) * 1000 / count for key in before}
    return {
        "scenario": scenario.name,
        "concurrency": concurrency,
        "requests": count,
        "errors": len(errors),
        "warmup_errors": warm_errors,
        "error_samples": errors[:5],
        "seconds": seconds,
        "rps": count / seconds if seconds else float("nan"),
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies) if latencies else float("nan"),
        "server_cpu_ms": per_request["server"],
        "pg_cpu_ms": per_request["pg"],
        "pg_db_cpu_ms": per_request["pg_db"],
        "client_cpu_ms": per_request["client"],
    }


# --- our scenarios --------------------------------------------------------------------------


def setup_django(args) -> None:
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_portal_user(target: int, seed: int) -> tuple[int, int]:
    """The end user ``bench-portal`` (password ``demo``) with a person of its own who is the
    caller of ``target`` tickets, random ones taken from other callers. Idempotent.
    Returns (the person's id, how many tickets were given now)."""
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from helpdesk.models import Person
    from helpdesk.roles import Role
    from tickets.models import Ticket

    with transaction.atomic():
        user, created = User.objects.get_or_create(
            username=PORTAL_USERNAME,
            defaults={
                "first_name": "Bench",
                "last_name": "Portal",
                "email": "bench-portal@mobilnet.example",
            },
        )
        if created or not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        Group.objects.get(name=Role.END_USER.value).user_set.add(user)
        person = Person.objects.filter(user=user).first()
        if person is None:
            person = Person.objects.create(
                user=user, full_name="Bench Portal", email="bench-portal@mobilnet.example"
            )
        have = Ticket.objects.filter(caller=person).count()
        given = 0
        if have < target:
            rng = random.Random(seed)
            top = Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0
            low = Ticket.objects.order_by("id").values_list("id", flat=True).first() or 0
            wanted = target - have
            picked = set()
            while len(picked) < wanted * 2 and len(picked) < top - low + 1:
                picked.add(rng.randint(low, top))
            ids = list(
                Ticket.objects.filter(id__in=picked)
                .exclude(caller=person)
                .values_list("id", flat=True)[:wanted]
            )
            given = Ticket.objects.filter(id__in=ids).update(caller=person)
    return person.pk, given


def prepare_ours(args) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection, connections

    from helpdesk.models import Person, Service, SupportGroup
    from tickets.models import Channel, Priority, Status, Ticket

    rng = random.Random(args.seed)
    if not User.objects.filter(username=args.agent, is_active=True).exists():
        raise SystemExit(f"no user {args.agent}: run bench/generate.py first")
    person_id, given = ensure_portal_user(args.portal_tickets, args.seed)
    top = Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0
    low = Ticket.objects.order_by("id").values_list("id", flat=True).first() or 0
    if not top:
        raise SystemExit("no tickets: run bench/generate.py first")
    ids = {rng.randint(low, top) for _ in range(3000)}
    numbers = list(Ticket.objects.filter(id__in=ids).values_list("number", flat=True))
    rng.shuffle(numbers)
    portal_numbers = list(
        Ticket.objects.filter(caller_id=person_id).values_list("number", flat=True)
    )
    portal_open = Ticket.objects.filter(caller_id=person_id).exclude(
        status__in=[Status.RESOLVED, Status.CLOSED, Status.CANCELLED]
    )
    people_top = Person.objects.order_by("-id").values_list("id", flat=True).first() or 0
    callers = list(
        Person.objects.filter(
            id__in={rng.randint(1, people_top) for _ in range(2000)}, is_active=True
        ).values_list("id", flat=True)[:500]
    )
    data = {
        "database": connection.settings_dict["NAME"],
        "tickets": _estimate("tickets_ticket") or Ticket.objects.count(),
        "people": _estimate("helpdesk_person") or Person.objects.count(),
        "portal_person": person_id,
        "portal_given": given,
        "portal_count": len(portal_numbers),
        "portal_open": portal_open.count(),
        "numbers": numbers,
        "portal_numbers": portal_numbers,
        "callers": callers,
        "groups": list(SupportGroup.objects.filter(is_active=True).values_list("id", flat=True)),
        "services": list(Service.objects.filter(is_active=True).values_list("id", flat=True)),
        "states": list(Status.values),
        "priorities": [str(value) for value in Priority.values],
        "channels": list(Channel.values),
    }
    connections.close_all()
    return data


def _estimate(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] > 0 else 0


def queue_path(**params) -> str:
    return "/console/?" + urlencode(params)


def get(path: str, **kwargs) -> Callable[[random.Random], Request]:
    return lambda rng: Request("GET", path, **kwargs)


def ours_scenarios(data: dict, args, client: Client) -> list[Scenario]:
    from tickets.selectors import QUEUE_SORTS
    from tickets.views.queue import QUEUES

    htmx = {"HX-Request": "true"} if args.queue_htmx else {}
    scenarios = [Scenario("baseline", "anon", get("/accounts/login/"), "login page, anonymous")]
    sorts = [value for key in QUEUE_SORTS for value in (key, f"-{key}")]
    for sort in sorts:
        scenarios.append(
            Scenario(
                f"queue open sort={sort}",
                "agent",
                get(queue_path(queue="open", sort=sort), headers=htmx),
            )
        )
    filters = {
        "state": [s for s in data["states"] if s in ("new", "assigned", "in_progress", "pending")],
        "priority": data["priorities"],
        "group": [str(pk) for pk in data["groups"]],
        "service": [str(pk) for pk in data["services"]],
        "channel": data["channels"],
    }
    tabs = [tab for tab in QUEUES if tab != "open"]
    if args.queue_all:
        for tab in tabs:
            for sort in sorts:
                scenarios.append(
                    Scenario(
                        f"queue {tab} sort={sort}",
                        "agent",
                        get(queue_path(queue=tab, sort=sort), headers=htmx),
                    )
                )
        for name, values in filters.items():
            for value in values:
                scenarios.append(
                    Scenario(
                        f"queue open {name}={value}",
                        "agent",
                        get(queue_path(queue="open", **{name: value}), headers=htmx),
                    )
                )
    else:
        for tab in tabs:
            scenarios.append(
                Scenario(f"queue {tab}", "agent", get(queue_path(queue=tab), headers=htmx))
            )

        def one_filter(name, values):
            return lambda rng: Request(
                "GET", queue_path(queue="open", **{name: rng.choice(values)}), headers=htmx
            )

        for name, values in filters.items():
            if values:
                scenarios.append(
                    Scenario(
                        f"queue open {name}=*",
                        "agent",
                        one_filter(name, values),
                        "a random value per request",
                    )
                )
    # Two combinations as an agent narrows the queue, with a random sort.

    def combo_group_state(rng):
        return Request(
            "GET",
            queue_path(
                queue="open",
                group=rng.choice(filters["group"]),
                state=rng.choice(filters["state"]),
                sort=rng.choice(sorts),
            ),
            headers=htmx,
        )

    def combo_service_priority_channel(rng):
        return Request(
            "GET",
            queue_path(
                queue="all",
                service=rng.choice(filters["service"]),
                priority=rng.choice(filters["priority"]),
                channel=rng.choice(filters["channel"]),
                sort=rng.choice(sorts),
            ),
            headers=htmx,
        )

    if filters["group"] and filters["state"]:
        scenarios.append(
            Scenario("queue open group+state", "agent", combo_group_state, "random sort")
        )
    if filters["service"]:
        scenarios.append(
            Scenario(
                "queue all service+priority+channel",
                "agent",
                combo_service_priority_channel,
                "random sort",
            )
        )
    numbers = data["numbers"]
    scenarios.append(
        Scenario(
            "console ticket",
            "agent",
            lambda rng: Request("GET", f"/console/tickets/{rng.choice(numbers)}/"),
        )
    )
    portal_numbers = data["portal_numbers"]
    pages = max(1, min(10, -(-data["portal_count"] // PORTAL_PAGE_SIZE)))
    scenarios += [
        Scenario("portal list", "portal", get("/tickets/")),
        Scenario(
            "portal list all",
            "portal",
            lambda rng: Request(
                "GET", "/tickets/?" + urlencode({"state": "all", "page": rng.randint(1, pages)})
            ),
            f"a random page of the first {pages}",
        ),
        Scenario(
            "portal ticket",
            "portal",
            lambda rng: Request("GET", f"/tickets/{rng.choice(portal_numbers)}/"),
        ),
    ]
    callers = data["callers"]

    def api_create(rng):
        body = {
            "title": "speed.py: printer jams on the 3rd floor",
            "description": "Created by bench/speed.py.",
            "caller": rng.choice(callers),
            "channel": "phone",
        }
        return Request(
            "POST",
            "/api/tickets/",
            expect=(201,),
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={"X-CSRFToken": client.csrf("agent")},
        )

    def console_create(rng):
        form = {
            "csrfmiddlewaretoken": client.csrf("agent"),
            # Never from the seeded generator: a second run would send the first run's keys,
            # and the server would answer with the tickets they opened (no new ticket).
            "submission_key": uuid.uuid4().hex,
            "caller": rng.choice(callers),
            "title": "speed.py: cannot log in to SAP",
            "description": "Created by bench/speed.py.",
            "type": "incident",
            "channel": "phone",
            "service": "",
            "category": "",
            "impact": "4",
            "urgency": "3",
            "code": "",
            "notes": "",
        }
        return Request(
            "POST",
            "/console/new/",
            expect=(302,),
            body=urlencode(form).encode(),
            content_type="application/x-www-form-urlencoded",
            location="/console/tickets/",
        )

    scenarios += [
        Scenario("api create", "agent", api_create, "POST /api/tickets/, session + CSRF"),
        Scenario("console new", "agent", get("/console/new/"), "the new-ticket form"),
        Scenario("console create", "agent", console_create, "the form's POST"),
    ]
    return scenarios


def check_ours(client: Client) -> None:
    """What the scenarios rely on, once: the form still carries a submission_key."""
    import httpx

    page = httpx.get(
        f"{client.url}/console/new/", cookies=client.sessions["agent"], timeout=30
    ).text
    if 'name="submission_key"' not in page:
        print("!! the console's new-ticket form has no submission_key field any more")


# --- django-helpdesk ------------------------------------------------------------------------


def peer_scenarios(args, client: Client) -> list[Scenario]:
    """django-helpdesk 2.6.1 as bench/peers/django_helpdesk/ serves it."""
    import httpx

    prefix = args.peer_prefix.rstrip("/")
    ids = [int(value) for value in args.peer_ticket_ids.split(",") if value.strip()]
    if len(ids) == 2 and ids[1] - ids[0] > 1 and not args.peer_ticket_list:
        id_range = range(ids[0], ids[1] + 1)
    else:
        id_range = ids
    if not id_range:
        raise SystemExit("--peer-ticket-ids: a range FIRST,LAST of ticket ids (see its README)")
    # The open tickets list is a page whose table loads its rows from a JSON URL that
    # encodes the query; both are measured (a browser asks for both).
    # Without a query string the page shows its default filter: Open or Reopened, by created.
    list_path = f"{prefix}/tickets/"
    page = httpx.get(f"{client.url}{list_path}", cookies=client.sessions["agent"], timeout=60)
    match = re.search(r"datatables_ticket_list/([A-Za-z0-9+/=]+)", page.text)
    query = match.group(1) if match else PEER_OPEN_QUERY
    scenarios = [
        Scenario("baseline", "anon", get(args.peer_login_path), "login page, anonymous"),
        Scenario("peer open list", "agent", get(list_path), "the page (Open + Reopened)"),
        # What the page's table fetches right after it (the first 25 rows, by created).
        Scenario(
            "peer open list data",
            "agent",
            get(f"{prefix}/datatables_ticket_list/{query}?draw=1&start=0&length=25"),
            "its table's JSON, 25 rows",
        ),
    ]
    scenarios.append(
        Scenario(
            "peer ticket",
            "agent",
            lambda rng: Request("GET", f"{prefix}/tickets/{rng.choice(id_range)}/"),
        )
    )

    def create(rng):
        body = {
            "queue": args.peer_queue,
            "title": "speed.py: printer jams on the 3rd floor",
            "description": "Created by bench/speed.py.",
            "submitter_email": "speed@example.com",
            "priority": 3,
        }
        return Request(
            "POST",
            f"{prefix}/api/tickets/",
            expect=(201,),
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={"X-CSRFToken": client.csrf("agent")},
        )

    scenarios.append(Scenario("peer api create", "agent", create, "POST /api/tickets/"))
    return scenarios


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workers: int) -> tuple[str, subprocess.Popen]:
    import httpx

    port = free_port()
    env = {**os.environ, "DEBUG": "false"}
    command = [
        sys.executable,
        "-m",
        "helpdesk.server",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped with exit code {process.returncode}")
        try:
            httpx.get(f"{url}/accounts/login/", timeout=2)
            return url, process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the server did not start")


# --- the run and the table ------------------------------------------------------------------


def select(scenarios: list[Scenario], patterns: str) -> list[Scenario]:
    """The scenarios named (``*`` wildcards), the baseline always."""
    if not patterns:
        return scenarios
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = [
        s for s in scenarios
        if s.name == "baseline" or any(fnmatch.fnmatchcase(s.name, p) for p in wanted)
    ]  # fmt: skip
    unknown = [p for p in wanted if not any(fnmatch.fnmatchcase(s.name, p) for s in scenarios)]
    if unknown:
        raise SystemExit(f"no scenario matches {', '.join(unknown)} (see --list)")
    return chosen


async def run_all(client: Client, scenarios: list[Scenario], args) -> list[dict]:
    baseline = next(s for s in scenarios if s.name == "baseline")
    others = [s for s in scenarios if s.name != "baseline"]
    plan: list[Scenario] = [baseline]
    for index, scenario in enumerate(others):
        plan.append(scenario)
        if args.baseline_every and (index + 1) % args.baseline_every == 0:
            plan.append(baseline)
    if plan[-1] is not baseline:
        plan.append(baseline)
    results = []
    total = len(plan) * len(args.concurrency)
    done = 0
    for position, scenario in enumerate(plan):
        for concurrency in args.concurrency:
            done += 1
            seed = args.seed * 1000 + position * 10 + concurrency
            result = await run_once(client, scenario, concurrency, args, seed)
            result["position"] = position
            results.append(result)
            flag = f"  !! {result['errors']} ERRORS" if result["errors"] else ""
            print(
                f"[{done}/{total}] {scenario.name} c={concurrency}: n={result['requests']}"
                f" p50 {result['p50']:.1f} ms p99 {result['p99']:.1f} ms"
                f" {result['rps']:.1f}/s{flag}",
                flush=True,
            )
    add_ratios(results)
    return results


def add_ratios(results: list[dict]) -> None:
    """Each run's p50 and p99 over those of the baseline runs just before and after it."""
    for result in results:
        if result["scenario"] == "baseline":
            result["base_p50"], result["base_p99"] = result["p50"], result["p99"]
            continue
        same = [
            r for r in results if r["scenario"] == "baseline"
            and r["concurrency"] == result["concurrency"]
        ]  # fmt: skip
        before = [r for r in same if r["position"] < result["position"]][-1:]
        after = [r for r in same if r["position"] > result["position"]][:1]
        near = before + after
        result["base_p50"] = sum(r["p50"] for r in near) / len(near)
        result["base_p99"] = sum(r["p99"] for r in near) / len(near)
    for result in results:
        result["ratio_p50"] = result["p50"] / result["base_p50"]
        result["ratio_p99"] = result["p99"] / result["base_p99"]


COLUMNS = (
    f"{'scenario':<36} {'c':>2} {'n':>5} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    f" {'req/s':>7} {'srv ms/r':>8} {'pg ms/r':>8} {'pgdb ms/r':>9} {'cli ms/r':>8}"
    f" {'p50/base':>8} {'p99/base':>8}"
)


def print_table(results: list[dict]) -> None:
    print(COLUMNS)
    print("-" * len(COLUMNS))
    for r in results:
        print(
            f"{r['scenario'][:36]:<36} {r['concurrency']:>2} {r['requests']:>5} {r['errors']:>4}"
            f" {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} {r['rps']:>7.1f}"
            f" {r['server_cpu_ms']:>8.1f} {r['pg_cpu_ms']:>8.2f} {r['pg_db_cpu_ms']:>9.2f}"
            f" {r['client_cpu_ms']:>8.2f} {r['ratio_p50']:>8.2f} {r['ratio_p99']:>8.2f}"
            + ("  !! ERRORS" if r["errors"] else "")
        )
    failed = [r for r in results if r["errors"] or r["warmup_errors"]]
    if failed:
        print()
        print(f"!! {len(failed)} run(s) had errors; the figures of those runs are not valid:")
        for r in failed:
            print(
                f"!!   {r['scenario']} c={r['concurrency']}: {r['errors']} of {r['requests']}"
                f" (warm-up: {r['warmup_errors']})"
            )
            for sample in r["error_samples"]:
                print(f"!!     {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=["ours", "django-helpdesk"], default="ours")
    parser.add_argument("--url", default="", help="a running server (default: start ours)")
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="with --url: the server's process (default: whoever listens on the port)",
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes to start")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--scenarios", default="", help="comma-separated names, * wildcards")
    parser.add_argument("--list", action="store_true", help="print the scenarios and stop")
    parser.add_argument(
        "--concurrency",
        default="1,8",
        type=lambda text: [int(v) for v in text.split(",")],
        help="virtual clients per run (default 1,8)",
    )
    parser.add_argument("--requests", type=int, default=40, help="answers per run at most")
    parser.add_argument(
        "--baseline-requests", type=int, default=200, help="answers per baseline run at most"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run at most")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests per client")
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument(
        "--baseline-every", type=int, default=6, help="rerun the baseline after N scenarios"
    )
    parser.add_argument("--queue-all", action="store_true", help="every tab x sort, every filter")
    parser.add_argument(
        "--queue-htmx", action="store_true", help="queue requests as htmx (the list alone)"
    )
    parser.add_argument("--agent", default="agent")
    parser.add_argument("--portal-tickets", type=int, default=500)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--json", default="", help="save the results to this file")
    peer = parser.add_argument_group("django-helpdesk (see bench/peers/django_helpdesk/README.md)")
    peer.add_argument("--peer-prefix", default="/helpdesk")
    peer.add_argument("--peer-login-path", default="/helpdesk/login/")
    peer.add_argument("--peer-user", default="agent")
    peer.add_argument("--peer-password", default=PASSWORD)
    peer.add_argument(
        "--peer-ticket-ids",
        default="1,1000000",
        help="FIRST,LAST (or a list with --peer-ticket-list)",
    )
    peer.add_argument(
        "--peer-ticket-list", action="store_true", help="--peer-ticket-ids is a list, no range"
    )
    peer.add_argument("--peer-queue", type=int, default=1, help="queue id for the API create")
    peer.add_argument(
        "--peer-database", default="dh_bench", help="its PostgreSQL database (the pgdb column)"
    )
    args = parser.parse_args()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    ours = args.target == "ours"
    if not ours and not args.url:
        raise SystemExit("--target django-helpdesk needs --url of the running peer")
    speed_before = cpu_speed_ms()
    print(f"bench/speed.py, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(f"load average before: {load_average()}; code: {_commit()}")
    data: dict = {}
    if ours:
        setup_django(args)
        started = time.perf_counter()
        data = prepare_ours(args)
        database = data["database"]
        print(
            f"database {database}: {data['tickets']:,} tickets, {data['people']:,} people;"
            f" cache/sessions: {'Redis ' + args.redis_url if args.redis_url else 'local'}"
        )
        print(
            f"portal user {PORTAL_USERNAME}: {data['portal_count']} tickets"
            f" ({data['portal_open']} open; {data['portal_given']} given now);"
            f" prepared in {time.perf_counter() - started:.1f} s"
        )
    else:
        database = args.peer_database
    server = None
    if not args.url and not args.list:
        args.url, server = start_server(args.workers)
        roots = [server.pid]
        print(f"started helpdesk.server with {args.workers} workers at {args.url}, DEBUG off")
    else:
        port = urlsplit(args.url).port or 80
        roots = args.server_pid or server_roots(listening_pids(port))
        if args.url:
            print(f"server at {args.url}; server processes (roots): {roots or 'unknown'}")
    try:
        run_main(args, data, database, roots, speed_before, ours)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def run_main(args, data, database, roots, speed_before, ours) -> None:
    login_path = "/accounts/login/" if ours else args.peer_login_path
    if args.list:
        client = Client(args.url or "http://127.0.0.1", {"agent": {}, "portal": {}, "anon": {}})
        scenarios = ours_scenarios(data, args, client) if ours else []
        for scenario in scenarios:
            print(f"{scenario.name:<40} {scenario.note}")
        return
    sessions = {"anon": anonymous_cookies(args.url, login_path)}
    if ours:
        sessions["agent"] = sign_in(args.url, login_path, args.agent, PASSWORD)
        sessions["portal"] = sign_in(args.url, login_path, PORTAL_USERNAME, PASSWORD)
    else:
        sessions["agent"] = sign_in(args.url, login_path, args.peer_user, args.peer_password)
    client = Client(args.url, sessions)
    client.probe = CpuProbe(roots, database)
    if ours:
        check_ours(client)
        scenarios = ours_scenarios(data, args, client)
    else:
        scenarios = peer_scenarios(args, client)
    scenarios = select(scenarios, args.scenarios)
    print(
        f"{len(scenarios)} scenarios x c={','.join(map(str, args.concurrency))};"
        f" per run at most {args.requests} requests or {args.duration:g} s,"
        f" after {args.warmup} warm-up requests per client"
    )
    results = asyncio.run(run_all(client, scenarios, args))
    speed_after = cpu_speed_ms()
    print()
    print(
        "latency: from the request's first byte sent to the answer's last byte received;"
        " CPU per request: srv = the server's processes (children included), pg = every"
        " PostgreSQL process on the machine, pgdb = the backends of"
        f" {database or '(unknown: --peer-database)'}, cli = this client;"
        " p50/base, p99/base: over the baseline runs just before and after, same c"
    )
    print_table(results)
    print()
    print(
        f"CPU speed check (sum(range(10**6)), lower is faster): {speed_before:.1f} ms before,"
        f" {speed_after:.1f} ms after; load average after: {load_average()}"
    )
    if args.json:
        meta = {
            "target": args.target,
            "url": args.url,
            "database": database,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "requests": args.requests,
            "duration": args.duration,
            "warmup": args.warmup,
            "cpu_speed_ms": [speed_before, speed_after],
            "commit": _commit(),
            **{k: v for k, v in data.items() if not isinstance(v, list)},
        }
        Path(args.json).write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
        print(f"saved {args.json}")
    if any(r["errors"] or r["warmup_errors"] for r in results):
        sys.exit(1)


def _commit() -> str:
    """The commit, and the files changed but not committed (the server runs the work tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "diff", "--name-only", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.split()
    except OSError:
        return ""
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


if __name__ == "__main__":
    main()
