"""Asterisk Manager Interface (AMI): the call-event listener and click-to-dial.

A small asyncio client speaks the AMI text protocol directly (a banner line, then messages
of ``Key: Value`` lines ended by an empty line; actions carry an ActionID that their
response repeats). :class:`AmiListener` logs in, turns the call events Asterisk sends into
:func:`cti.services.call_event_ingest` calls and reconnects with exponential back-off when
the connection drops; ``manage.py cti_ami`` runs one per PBX. :func:`originate` places a
click-to-dial call (Action: Originate).

Event mapping (Linkedid, the id shared by all channels of one call, is the call id):

- QueueCallerJoin (queue-wide), AgentCalled (one agent), DialBegin (one extension) -> ring
- AgentConnect, BridgeEnter -> answer
- Hangup of the call's first channel, QueueCallerAbandon -> hangup
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q

from cti.models import AgentExtension, CallEvent, Pbx
from cti.services.ingest import PbxEvent

logger = logging.getLogger(__name__)

EOL = "\r\n"
_action_ids = itertools.count(1)


class AmiError(Exception):
    """The AMI peer refused an action (wrong login, failed originate) or went away."""


def _encode(fields: dict) -> bytes:
    lines = [f"{key}: {value}" for key, value in fields.items() if value is not None]
    return (EOL.join(lines) + EOL + EOL).encode()


def _decode(block: bytes) -> dict[str, str]:
    message: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\n"):
        key, separator, value = line.rstrip("\r").partition(":")
        if separator and key:
            message.setdefault(key.strip(), value.strip())
    return message


class AmiConnection:
    """One logged-in AMI session: send actions, receive events."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.banner = ""
        self._pending: dict[str, asyncio.Future] = {}

    @classmethod
    async def open(
        cls, *, host: str, port: int, username: str, secret: str, timeout: float = 10.0
    ) -> AmiConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        connection = cls(reader, writer)
        try:
            banner = await asyncio.wait_for(reader.readline(), timeout)
            connection.banner = banner.decode(errors="replace").strip()
            if not connection.banner.startswith("Asterisk Call Manager"):
                raise AmiError(f"not an AMI server: {connection.banner!r}")
            response = await asyncio.wait_for(
                connection._request({"Action": "Login", "Username": username, "Secret": secret}),
                timeout,
            )
            if response.get("Response", "").lower() != "success":
                raise AmiError(f"login refused: {response.get('Message', '')}")
        except BaseException:
            connection.close()
            raise
        return connection

    async def _read_message(self) -> dict[str, str]:
        try:
            block = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            raise ConnectionResetError("AMI peer closed the connection") from error
        return _decode(block)

    async def _request(self, action: dict) -> dict[str, str]:
        """Send an action and read until its response (used before the event loop runs)."""
        action_id = f"hd-{next(_action_ids)}"
        self.writer.write(_encode({**action, "ActionID": action_id}))
        await self.writer.drain()
        while True:
            message = await self._read_message()
            if message.get("ActionID") == action_id and "Response" in message:
                return message

    async def send_action(self, action: dict, *, timeout: float = 10.0) -> dict[str, str]:
        """Send an action while :meth:`events` is being consumed; wait for its response."""
        action_id = f"hd-{next(_action_ids)}"
        future = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        self.writer.write(_encode({**action, "ActionID": action_id}))
        await self.writer.drain()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(action_id, None)

    async def events(self):
        """Yield events until the connection drops (responses go to their actions)."""
        while True:
            message = await self._read_message()
            future = self._pending.get(message.get("ActionID", ""))
            if "Response" in message and future is not None and not future.done():
                future.set_result(message)
            elif "Event" in message:
                yield message

    def close(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionResetError("AMI connection closed"))
        self.writer.close()


# --- translation ------------------------------------------------------------------------

_TECH_PREFIX = re.compile(r"^[A-Za-z0-9_]+/([^-@/;]+)")

# Asterisk (Q.850) hang-up cause codes in Zammad's vocabulary, which the service reads.
_CAUSES = {
    "0": "normalClearing",
    "1": "notFound",
    "3": "notFound",
    "16": "normalClearing",
    "17": "busy",
    "18": "noAnswer",
    "19": "noAnswer",
    "21": "busy",
    "26": "cancel",
    "34": "congestion",
    "38": "congestion",
    "42": "congestion",
}


def extension_of(channel_or_interface: str) -> str:
    """``PJSIP/201-0000001a`` / ``SIP/201`` / ``Local/201@from-queue/n`` -> ``201``."""
    match = _TECH_PREFIX.match(channel_or_interface or "")
    return match.group(1) if match else ""


def _occurred_at(event: dict) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(event["Timestamp"]), tz=UTC)
    except (KeyError, ValueError):
        return None


def translate(event: dict[str, str], *, extensions: Collection[str] = ()) -> PbxEvent | None:
    """The call event one AMI event reports, or None to ignore it.

    ``extensions`` are the agents' extensions on this PBX: a call dialled from one of them
    to a number that is not one is outbound.
    """
    fields = _event_fields(event, extensions=extensions)
    return PbxEvent(**fields) if fields is not None else None


def _event_fields(event: dict[str, str], *, extensions: Collection[str]) -> dict | None:
    name = event.get("Event", "")
    call_id = event.get("Linkedid") or event.get("Uniqueid") or ""
    if not call_id:
        return None
    caller = event.get("CallerIDNum", "")
    base = {
        "call_id": call_id,
        "caller": "" if caller in ("<unknown>", "") else caller,
        "occurred_at": _occurred_at(event),
        "payload": dict(event),
    }
    if name == "QueueCallerJoin":
        queue = event.get("Queue", "")
        return {**base, "kind": "ring", "queue": queue, "called": event.get("Exten", "")}
    if name == "AgentCalled":
        agent = extension_of(event.get("Interface", "")) or event.get("DestCallerIDNum", "")
        return {
            **base,
            "kind": "ring",
            "queue": event.get("Queue", ""),
            "called": event.get("Exten", ""),
            "extensions": [agent] if agent else [],
        }
    if name == "DialBegin":
        target = extension_of(event.get("DestChannel", "")) or event.get("DestCallerIDNum", "")
        # An agent dialling out: the calling channel is the agent's phone (its caller ID is
        # the dialled number when the call was originated by click-to-dial).
        own = extension_of(event.get("Channel", ""))
        agent = own if own in extensions else caller if caller in extensions else ""
        if agent and target not in extensions:
            dialled = event.get("DestCallerIDNum", "").replace("<unknown>", "")
            dialled = dialled or event.get("DialString", "")
            if "/" in dialled:  # a dial string such as "trunk/0601234567"
                dialled = dialled.rsplit("/", 1)[-1]
            return {
                **base,
                "kind": "ring",
                "direction": "outbound",
                "caller": agent,
                "called": dialled,
                "extensions": [agent],
            }
        return {
            **base,
            "kind": "ring",
            "called": event.get("Exten", ""),
            "extensions": [target] if target else [],
        }
    if name == "AgentConnect":
        agent = extension_of(event.get("Interface", "")) or event.get("DestCallerIDNum", "")
        return {**base, "kind": "answer", "queue": event.get("Queue", ""), "answering": agent}
    if name == "BridgeEnter":
        # Either side entering the bridge means answered; the agent is whichever of this
        # channel's own extension and the connected line is an agent extension.
        candidates = [extension_of(event.get("Channel", "")), event.get("ConnectedLineNum", "")]
        agents = [c for c in candidates if c and c in extensions]
        if caller in extensions and caller not in agents:
            agents.append(caller)
        base["caller"] = ""  # bridge events name either party; the ring named the caller
        return {**base, "kind": "answer", "answering": agents[0] if len(agents) == 1 else ""}
    if name == "QueueCallerAbandon":
        return {**base, "kind": "hangup", "queue": event.get("Queue", ""), "cause": "cancel"}
    if name == "Hangup":
        # Only the call's first channel ends the call: agent legs of a queue hang up too.
        if event.get("Uniqueid") and event.get("Uniqueid") != call_id:
            return None
        cause = _CAUSES.get(event.get("Cause", ""), event.get("Cause-txt", "") or "")
        return {**base, "kind": "hangup", "cause": cause}
    return None


# --- the listener -----------------------------------------------------------------------


def _fresh_connection() -> None:
    # A long-running listener must drop connections the database closed meanwhile, as a
    # request cycle would; inside a transaction (tests) the connection is in use.
    if not connection.in_atomic_block:
        close_old_connections()


def _ingest_sync(pbx: Pbx, event: PbxEvent) -> None:
    from cti import services

    _fresh_connection()
    try:
        services.call_event_ingest(pbx=pbx, source=CallEvent.Source.AMI, event=event)
    except services.InvalidCallEvent as error:
        logger.warning("AMI event for PBX %s ignored: %s; %r", pbx.pk, error, event)


def _extensions_sync(pbx_id: int) -> set[str]:
    _fresh_connection()
    return set(
        AgentExtension.objects.filter(Q(pbx_id=pbx_id) | Q(pbx__isnull=True)).values_list(
            "extension", flat=True
        )
    )


class AmiListener:
    """Keeps one PBX's AMI session open and feeds its call events to the ingest service."""

    def __init__(
        self,
        pbx: Pbx,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float | None = None,
        ingest: Callable[[Pbx, PbxEvent], Awaitable[None]] | None = None,
    ):
        self.pbx = pbx
        self.pbx_id = pbx.pk
        self.host = pbx.ami_host
        self.port = pbx.ami_port
        self.username = pbx.ami_username
        self.secret = pbx.ami_secret
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff or settings.CTI_AMI_RECONNECT_MAX_SECONDS
        self.ingest = ingest or sync_to_async(_ingest_sync, thread_sensitive=True)
        self.stopped = asyncio.Event()
        self.sessions = 0  # successful logins, for monitoring and tests
        self.events_handled = 0
        self.waits: list[float] = []  # the back-off before each reconnect, most recent last
        self.connection: AmiConnection | None = None

    def stop(self) -> None:
        self.stopped.set()
        if self.connection is not None:
            self.connection.close()

    async def run(self) -> None:
        """Connect, log in, handle events; on any failure wait and reconnect, doubling the wait."""
        backoff = self.initial_backoff
        while not self.stopped.is_set():
            try:
                self.connection = await AmiConnection.open(
                    host=self.host, port=self.port, username=self.username, secret=self.secret
                )
            except (OSError, AmiError, TimeoutError) as error:
                logger.warning(
                    "AMI %s:%s: cannot connect (%s); retrying in %.1f s",
                    self.host,
                    self.port,
                    error,
                    backoff,
                )
            else:
                self.sessions += 1
                backoff = self.initial_backoff
                banner = self.connection.banner
                logger.info("AMI %s:%s: logged in (%s)", self.host, self.port, banner)
                try:
                    await self._consume(self.connection)
                except (OSError, AmiError) as error:
                    if self.stopped.is_set():
                        break
                    logger.warning(
                        "AMI %s:%s: connection lost (%s); reconnecting in %.1f s",
                        self.host,
                        self.port,
                        error,
                        backoff,
                    )
                finally:
                    self.connection.close()
            if self.stopped.is_set():
                break
            self.waits.append(backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopped.wait(), backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _consume(self, connection: AmiConnection) -> None:
        extensions = await sync_to_async(_extensions_sync, thread_sensitive=True)(self.pbx_id)
        async for event in connection.events():
            call_event = translate(event, extensions=extensions)
            if call_event is None:
                continue
            try:
                await self.ingest(self.pbx, call_event)
            except Exception:
                # The event row records the failure; one bad event must not stop the feed.
                logger.exception("AMI event %s could not be stored", event.get("Event"))
            self.events_handled += 1


# --- click-to-dial ------------------------------------------------------------------------


async def originate_async(
    *,
    host: str,
    port: int,
    username: str,
    secret: str,
    extension: str,
    number: str,
    timeout: float = 10.0,
) -> dict[str, str]:
    """Ring ``extension``; when it picks up, Asterisk dials ``number`` (Action: Originate)."""
    connection = await AmiConnection.open(
        host=host, port=port, username=username, secret=secret, timeout=timeout
    )
    try:
        response = await asyncio.wait_for(
            connection._request(
                {
                    "Action": "Originate",
                    "Channel": settings.CTI_AMI_ORIGINATE_CHANNEL.format(extension=extension),
                    "Context": settings.CTI_AMI_ORIGINATE_CONTEXT,
                    "Exten": number,
                    "Priority": "1",
                    "CallerID": f"<{number}>",
                    "Timeout": "30000",
                    "Async": "true",
                }
            ),
            timeout,
        )
        if response.get("Response", "").lower() != "success":
            raise AmiError(f"originate refused: {response.get('Message', '')}")
        try:
            connection.writer.write(_encode({"Action": "Logoff"}))
            await connection.writer.drain()
        except OSError:
            pass
        return response
    finally:
        connection.close()


def originate(pbx: Pbx, extension: str, number: str, *, timeout: float = 10.0) -> dict:
    """Click-to-dial from a (sync) view: ring the agent's extension, then call ``number``."""
    if not pbx.click_to_dial_configured:
        raise AmiError("click-to-dial is not configured for this PBX")
    if number.startswith("ext:"):
        number = number[4:]
    return asyncio.run(
        originate_async(
            host=pbx.ami_host,
            port=pbx.ami_port,
            username=pbx.ami_username,
            secret=pbx.ami_secret,
            extension=extension,
            number=number,
            timeout=timeout,
        )
    )
