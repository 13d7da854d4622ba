"""The console websocket: screen pops, call updates and presence for a signed-in agent."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from cti import notify
from cti.models import AgentPresence, CallQueue
from helpdesk.errors import ConflictError
from helpdesk.middleware import LANGUAGE_SESSION_KEY
from helpdesk.models import SupportGroup
from helpdesk.roles import can_work_tickets

# What an agent may choose; "busy" is set by call events only.
SELECTABLE_PRESENCE = (
    AgentPresence.State.AVAILABLE,
    AgentPresence.State.AFTER_CALL_WORK,
    AgentPresence.State.AWAY,
)
logger = logging.getLogger(__name__)

# 4403: the application-defined "forbidden" close code the console script recognises.
CLOSE_FORBIDDEN = 4403
# The close reason of a console whose person is not signed in (any more): its script sends
# the person to the sign-in page instead of reconnecting.
REASON_SIGNED_OUT = "signed_out"
# SLA alerts shown one by one per sweep batch; beyond, one notice counts the rest.
MAX_SLA_NOTICES = 5


def _agent_snapshot(user, session=None) -> dict | None:
    """Everything the consumer needs at connect, in one database round trip per item."""
    if not can_work_tickets(user):
        return None
    queue_ids = list(CallQueue.objects.filter(members=user).values_list("pk", flat=True))
    presence = AgentPresence.objects.filter(user=user).select_related("user__person").first()
    return {
        "queue_ids": queue_ids,
        "support_group_ids": list(
            SupportGroup.objects.filter(members=user).values_list("pk", flat=True)
        ),
        "presence": notify.presence_payload(presence) if presence else None,
        "team": notify.team_presence(queue_ids, exclude_user_id=user.pk),
        "language": _console_language(user, session),
    }


def _console_language(user, session) -> str:
    """The language the agent's pages are in (helpdesk.middleware decides it the same way):
    the session's choice, else the profile's, else the site's."""
    supported = {code for code, _name in settings.LANGUAGES}
    language = session.get(LANGUAGE_SESSION_KEY) if session is not None else None
    if language not in supported:
        person = getattr(user, "person", None)
        language = person.language if person is not None else None
    return language if language in supported else settings.LANGUAGE_CODE


def _presence_set(
    user, state: str, expected_version: int | None, language: str
) -> tuple[dict, str | None]:
    """Set the agent's presence; the payload of the presence as it is now, and the reason
    when the choice was refused (on a call, or changed since the console's view)."""
    from cti import services

    try:
        with translation.override(language):
            presence = services.presence_set(
                user=user, state=state, expected_version=expected_version
            )
    except ConflictError as conflict:
        presence = AgentPresence.objects.select_related("user__person").get(user=user)
        return notify.presence_payload(presence), conflict.message
    return notify.presence_payload(presence), None


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """ws/console/: joins ``agent.<id>``, ``queue.<id>`` for the agent's call queues and
    ``support_group.<id>`` for the agent's support groups (tickets arriving in them).
    Group memberships are read at connect: a change takes effect at the next connect.

    On connect it sends the cards of the calls the database says this agent must see, so
    a reconnect (or a message the layer dropped) never loses a ringing call.
    """

    async def connect(self):
        user = self.scope.get("user")
        self.joined: list[str] = []
        if user is None or not user.is_authenticated:
            await self._refuse(reason=REASON_SIGNED_OUT)
            return
        snapshot = await database_sync_to_async(_agent_snapshot)(user, self.scope.get("session"))
        if snapshot is None:
            await self._refuse()
            return
        self.user = user
        self.language = snapshot["language"]
        # The newest presence version forwarded per agent: a change is sent to the agent's
        # group and to each of their queues, so a console sharing several queues with them
        # receives it several times; it forwards it once.
        self.presence_versions = {
            member["user_id"]: member["version"] for member in snapshot["team"]
        }
        if snapshot["presence"] is not None:
            self.presence_versions[user.pk] = snapshot["presence"]["version"]
        # Join before reading the calls: a pop sent in between arrives twice (the console
        # replaces a card by call id), never not at all.
        self.joined = [
            notify.agent_group(user.pk),
            *(notify.queue_group(queue_id) for queue_id in snapshot["queue_ids"]),
            *(notify.support_group_group(group_id) for group_id in snapshot["support_group_ids"]),
        ]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        cards = await database_sync_to_async(notify.cards_for_agent)(user)
        # "calls" lets a reconnecting console drop cards of calls that ended meanwhile.
        await self.send_json(
            {
                "type": "hello",
                "user_id": user.pk,
                "presence": snapshot["presence"],
                # The colleagues in the agent's queues and their presence (the team list).
                "team": snapshot["team"],
                "calls": [message["call"]["id"] for message in cards],
            }
        )
        for message in cards:
            await self.send_json(_client_message(message))
        self._after_call_work_watch(snapshot["presence"])

    async def _refuse(self, *, reason: str | None = None) -> None:
        """Accept, then close with 4403: a handshake refused before it is accepted reaches
        the browser as a failed connection (1006) without the code, and the console would
        keep reconnecting."""
        await self.accept()
        await self.close(code=CLOSE_FORBIDDEN, reason=reason)

    async def disconnect(self, code):
        timer = getattr(self, "after_call_work_timer", None)
        if timer is not None:
            timer.cancel()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "presence":
            await self._set_presence(content.get("state"), content.get("version"))
        elif kind == "ping":
            await self.send_json({"type": "pong", "seq": content.get("seq")})
        else:
            await self.send_json({"type": "error", "error": "unknown message type"})

    async def _set_presence(self, state, version):
        if state not in SELECTABLE_PRESENCE:
            await self.send_json({"type": "error", "error": "invalid presence state"})
            return
        if not isinstance(version, int) or isinstance(version, bool):
            version = None  # a console of before the versions: only the call guard applies
        payload, refused = await database_sync_to_async(_presence_set)(
            self.user, state, version, self.language
        )
        if refused is not None:
            # The console shows the presence as it is (even if it was forwarded already)
            # and why its choice did not apply.
            self.presence_versions[self.user.pk] = max(
                payload["version"], self.presence_versions.get(self.user.pk, -1)
            )
            await self._presence_forward(payload)
            await self.send_json({"type": "error", "code": "presence_conflict", "error": refused})
            return
        # Everyone in the agent's queues sees the change, the agent's other tabs included
        # (they are in the same queues); without queues, only the agent's own consoles.
        queue_groups = [group for group in self.joined if group.startswith("queue.")]
        for group in queue_groups or [notify.agent_group(self.user.pk)]:
            await self.channel_layer.group_send(group, payload)

    # --- channel layer events ------------------------------------------------------------

    async def cti_screen_pop(self, event):
        await self.send_json(_client_message(event))

    async def cti_call_update(self, event):
        await self.send_json(_client_message(event))

    async def cti_presence(self, event):
        """An agent's presence changed: forwarded once per version (see ``connect``); a
        version older than one forwarded already came late and is dropped too."""
        version = event.get("version")
        if version is not None:
            if version <= self.presence_versions.get(event["user_id"], -1):
                return
            self.presence_versions[event["user_id"]] = version
        await self._presence_forward(event)

    def _after_call_work_watch(self, presence: dict | None) -> None:
        """The agent's own presence as forwarded: in after-call work with a limit, ask the
        server to end it when the time is up (``services.after_call_work_end_due``, which
        decides from the database: a change meanwhile, or another console or the periodic
        task ending it first, leaves nothing to do). Any other presence cancels the wait."""
        timer = getattr(self, "after_call_work_timer", None)
        if timer is not None:
            timer.cancel()
            self.after_call_work_timer = None
        if not presence or presence.get("user_id") != self.user.pk or not presence.get("ends_at"):
            return
        if presence.get("state") != AgentPresence.State.AFTER_CALL_WORK:
            return
        delay = (datetime.fromisoformat(presence["ends_at"]) - timezone.now()).total_seconds()
        loop = asyncio.get_running_loop()
        # A little after the time: the server compares with its own clock.
        self.after_call_work_timer = loop.call_later(
            max(0.0, delay) + 0.1, lambda: loop.create_task(self._after_call_work_end())
        )

    async def _after_call_work_end(self):
        from cti import services

        self.after_call_work_timer = None
        try:
            await database_sync_to_async(services.after_call_work_end_due)(user_id=self.user.pk)
        except Exception:
            logger.exception("CTI: ending the after-call work of agent %s failed", self.user.pk)

    async def _presence_forward(self, event):
        if event.get("user_id") == self.user.pk:
            self._after_call_work_watch(event)
        await self.send_json(
            {
                "type": "presence",
                "user_id": event["user_id"],
                "state": event["state"],
                "label": event.get("label", ""),
                "name": event.get("name", ""),
                "version": event.get("version"),
                "changed_at": event.get("changed_at"),
                "ends_at": event.get("ends_at"),
            }
        )

    async def cti_ticket(self, event):
        """A ticket arrived in the queue of one of the agent's support groups."""
        await self.send_json(
            {
                "type": "ticket",
                "event": event["event"],
                "ticket": notify.ticket_labelled(event["ticket"], self.language),
            }
        )

    async def cti_mention(self, event):
        """A colleague named this agent in a work note (``cti.services.mentions``)."""
        with translation.override(self.language):
            text = gettext("%(name)s mentioned you in %(number)s") % {
                "name": event["by"],
                "number": event["number"],
            }
            link = gettext("Open the ticket")
            close = gettext("Close")
        await self.send_json(
            {
                "type": "mention",
                "text": text,
                "title": event["title"],
                "number": event["number"],
                "url": event["url"],
                "link": link,
                "close": close,
            }
        )

    async def cti_sla_alerts(self, event):
        """Several SLA alerts for this user from one sweep's batch: each a notice."""
        for alert in event["alerts"][:MAX_SLA_NOTICES]:
            await self.cti_sla_alert(alert)
        more = len(event["alerts"]) - MAX_SLA_NOTICES
        if more > 0:
            # The rest in one notice that leads to the "Due soonest" queue.
            with translation.override(self.language):
                text = ngettext(
                    "%(count)s more ticket reached an SLA threshold",
                    "%(count)s more tickets reached an SLA threshold",
                    more,
                ) % {"count": more}
                title, link = gettext("Due soonest"), gettext("Open the queue")
                close = gettext("Close")
            await self.send_json(
                {
                    "type": "notice",
                    "kind": "sla",
                    "level": "warning",
                    "text": text,
                    "title": title,
                    "number": str(more),
                    "url": reverse("tickets:console") + "?queue=due",
                    "link": link,
                    "close": close,
                }
            )

    async def cti_sla_alert(self, event):
        """A ticket this agent works (or their group's, or any for a manager) reached an SLA
        threshold (``cti.services.sla_alerts``)."""
        with translation.override(self.language):
            target = {
                "first_response": gettext("first response"),
                "next_response": gettext("next response"),
                "resolution": gettext("resolution"),
            }.get(event["target"], event["target"])
            if event["percent"] >= 100:
                text = gettext("%(number)s: the %(target)s target is breached") % {
                    "number": event["number"],
                    "target": target,
                }
            else:
                text = gettext("%(number)s: %(percent)s%% of the %(target)s time used") % {
                    "number": event["number"],
                    "percent": event["percent"],
                    "target": target,
                }
            link = gettext("Open the ticket")
            close = gettext("Close")
        await self.send_json(
            {
                "type": "notice",
                "kind": "sla",
                "level": "danger" if event["percent"] >= 100 else "warning",
                "text": text,
                "title": event["title"],
                "number": event["number"],
                "url": event["url"],
                "link": link,
                "close": close,
            }
        )

    async def cti_echo(self, event):
        """The benchmark's baseline: an empty message through the same layer, no DB work."""
        await self.send_json({"type": "echo", "seq": event.get("seq")})


def _client_message(event: dict) -> dict:
    kind = "screen_pop" if event["type"] == "cti.screen_pop" else "call_update"
    message = {"type": kind, "action": event["action"], "call": event["call"]}
    if "html" in event:
        message["html"] = event["html"]
    return message


# The wallboard reads everything again at most this often per connection, however many
# call events and presence changes arrive (seconds).
WALLBOARD_INTERVAL = 1.0
# And at least this often without any event: today's figures and the lost-call window move
# on with the clock (seconds).
WALLBOARD_REFRESH = 60.0


def _wallboard_access(user, session) -> str | None:
    """The language of a supervisor's wallboard, or None when ``user`` is no supervisor."""
    from cti.wallboard import can_supervise_calls

    if not can_supervise_calls(user):
        return None
    return _console_language(user, session)


class WallboardConsumer(AsyncJsonWebsocketConsumer):
    """ws/wallboard/: the supervisors' wallboard (``tickets.view_reports``), a socket of its
    own rather than the console's: the console's socket is on every page of every agent and
    carries their cards, the wallboard's is on one page and carries the whole contact
    center; only wallboards join the ``wallboard`` group, so a nudge costs the consoles
    nothing.

    At connect it sends the full snapshot (``cti.wallboard.wallboard_snapshot``). Every call
    event and presence change nudges the group after its commit (``notify.wallboard_changed``,
    no data); the consumer answers nudges with a fresh snapshot, at most one per
    WALLBOARD_INTERVAL: the first nudge after a quiet second at once, the rest of a burst
    in one snapshot at the end of the interval. The database is the source of truth, so a
    dropped nudge is made up by the next one, the WALLBOARD_REFRESH and any reconnect.
    """

    async def connect(self):
        user = self.scope.get("user")
        self.joined = False
        self.pending: asyncio.Task | None = None
        self.refresher: asyncio.Task | None = None
        self.last_sent = float("-inf")
        if user is None or not user.is_authenticated:
            await self._refuse(reason=REASON_SIGNED_OUT)
            return
        language = await database_sync_to_async(_wallboard_access)(user, self.scope.get("session"))
        if language is None:
            await self._refuse()
            return
        self.language = language
        # Join before reading: a change in between brings one snapshot more, never one less.
        await self.channel_layer.group_add(notify.WALLBOARD_GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        await self._snapshot_send()
        self.refresher = asyncio.get_running_loop().create_task(self._refresh())

    async def _refuse(self, *, reason: str | None = None) -> None:
        """As the console's: accepted, then closed with 4403 (see ConsoleConsumer)."""
        await self.accept()
        await self.close(code=CLOSE_FORBIDDEN, reason=reason)

    async def disconnect(self, code):
        for task in (self.pending, self.refresher):
            if task is not None:
                task.cancel()
        if self.joined:
            await self.channel_layer.group_discard(notify.WALLBOARD_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong", "seq": content.get("seq")})
        else:
            await self.send_json({"type": "error", "error": "unknown message type"})

    async def wallboard_changed(self, event):
        """Calls or presence changed: one snapshot now, or at the end of the interval when
        one was sent less than WALLBOARD_INTERVAL ago (later nudges join that one)."""
        if self.pending is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.last_sent + WALLBOARD_INTERVAL - loop.time())
        self.pending = loop.create_task(self._snapshot_send_after(delay))

    async def _snapshot_send_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        # A nudge from now on is for changes this read may miss: it schedules another.
        self.pending = None
        try:
            await self._snapshot_send()
        except Exception:
            logger.exception("CTI: the wallboard snapshot failed")

    async def _snapshot_send(self) -> None:
        from cti.wallboard import wallboard_snapshot

        self.last_sent = asyncio.get_running_loop().time()
        snapshot = await database_sync_to_async(wallboard_snapshot)(language=self.language)
        await self.send_json(snapshot)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(WALLBOARD_REFRESH)
            await self.wallboard_changed({})
