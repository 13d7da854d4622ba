"""Pushes call changes to the agents' consoles.

``cti.services`` calls :func:`call_changed` on commit after every change of a call. The
database is the source of truth: a console that (re)connects asks :func:`cards_for_agent`
for the calls it must show, so a message the channel layer drops never loses a pop.

Who gets what (the recipients are exactly what the ingest service computed):

- ringing: a ``cti.screen_pop`` with the card to every agent in ``Call.offered_to``;
- answered: a ``cti.call_update`` with the card to ``answered_by``, a close to the others;
- ended: the answering agent keeps the card in its ended state (to file the ticket after the
  call); the others' cards close with the outcome (missed, abandoned ...).

The console's queues follow new tickets the same way (:func:`ticket_queued`): a ticket
created in, or moved to, a support group is announced to the consoles of that group's
members (``support_group.<id>``), which refresh their ticket list.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from cti import statements
from cti.models import AgentPresence, Call, CallQueue
from helpdesk.jinja import spaceless
from helpdesk.phones import format_phone
from tickets.models import OPEN_STATUSES, Ticket
from tickets.models import Channel as TicketChannel
from tickets.models import Priority as TicketPriority
from tickets.models import Status as TicketStatus

logger = logging.getLogger(__name__)

CARD_TEMPLATE = "cti/partials/_call_card.html"
LAST_CALLS = 5
RECENT_TICKETS = 10
# A call answered this long ago without a hang-up shows as stale on its card, with a button
# to end it (the sweep ends it only after its PBX's call_max_seconds, 4 hours by default).
CALL_STALE_AFTER = timedelta(hours=1)
# How long a push from outside an event loop may wait for the channel layer (seconds).
GROUP_SEND_TIMEOUT = 5


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def queue_group(queue_id: int) -> str:
    return f"queue.{queue_id}"


def support_group_group(group_id: int) -> str:
    """The consoles of the members of support group ``group_id`` (not a call queue)."""
    return f"support_group.{group_id}"


# The supervisors' wallboards (cti.consumers.WallboardConsumer): told that calls or presence
# changed, they read the whole wallboard again, at most once a second each.
WALLBOARD_GROUP = "wallboard"
WALLBOARD_CHANGED = {"type": "wallboard.changed"}


def number_display(call: Call) -> str:
    if call.is_withheld:
        return ""
    if call.caller_e164:
        return format_phone(call.caller_e164)
    return call.caller_number


# Apps beside cti add notices to the card (architecture point 12): ``fn(card)`` returns
# objects with ``title``, ``text`` (in the active language), ``url`` and ``expected_end``,
# called once per card (not per language); the outages app shows the outages affecting
# the caller.
_card_notice_providers: list = []


def register_card_notices(provider) -> None:
    if provider not in _card_notice_providers:
        _card_notice_providers.append(provider)


def card_notices(card: CallCard) -> list:
    notices = []
    for provider in _card_notice_providers:
        try:
            notices += provider(card)
        except Exception:  # a notice never stops the card
            logger.exception("Card notices of %r failed", provider)
    return notices


@dataclass
class CallCard:
    """Everything the card shows, loaded with a fixed number of queries."""

    call: Call
    offered_ids: list[int]
    # The caller as the card shows them: call.caller_person, or a row with the same
    # attributes (cti.statements.caller_lookup); None when not identified.
    person: object = None
    candidates: list = field(default_factory=list)
    open_tickets: list = field(default_factory=list)
    recent_tickets: list = field(default_factory=list)
    last_calls: list = field(default_factory=list)
    linked_tickets: list = field(default_factory=list)
    languages: dict = field(default_factory=dict)  # offered agent id -> language code
    # The ticket whose number the caller typed in the voice menu (a card row), if found.
    ivr_ticket: object = None

    @functools.cached_property
    def notices(self) -> list:
        return card_notices(self)

    def context(self, labels: dict[str, dict[str, str]]) -> dict:
        """The template's context; ``labels`` are the choice labels of the language."""
        call = self.call
        return {
            "call": call,
            "outcome_label": labels["outcome"].get(call.outcome, call.outcome),
            "identification_label": labels["identification"].get(
                call.identification, call.identification
            ),
            "person": self.person,
            "candidates": self.candidates,
            "open_tickets": self.open_tickets,
            "recent_tickets": self.recent_tickets,
            "last_calls": self.last_calls,
            "linked_tickets": self.linked_tickets,
            "number_display": self.number_display,
            "more_candidates": self.more_candidates(),
            "urls": self.urls(),
            "stale": self.stale,
            "ivr_ticket": self.ivr_ticket,
            "notices": self.notices,
        }

    @property
    def stale(self) -> bool:
        """Answered more than CALL_STALE_AFTER ago and not ended: its hang-up was probably
        lost (a long call looks the same, so its agent decides)."""
        call = self.call
        return (
            call.state == Call.State.ANSWERED
            and call.answered_at is not None
            and call.answered_at < timezone.now() - CALL_STALE_AFTER
        )

    def more_candidates(self) -> str:
        """ "and N more" when more people have the number than the card lists, else ""."""
        more = self.call.candidates_total - len(self.candidates)
        if not self.candidates or more <= 0:
            return ""
        return ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more}

    @functools.cached_property
    def number_display(self) -> str:
        return number_display(self.call)

    def urls(self) -> dict:
        """The card's form targets."""
        names = (
            "ticket_create",
            "ticket_link",
            "caller_set",
            "person_create",
            "number_attach",
            "candidates",
            "end",
        )
        return {name: call_url(f"cti:call_{name}", self.call.pk) for name in names}

    def state(self) -> dict:
        """The JSON the console script reads (the card itself is HTML), with labels in the
        active language."""
        call = self.call
        labels = _choice_labels(translation.get_language())
        return {
            "id": call.pk,
            "state": call.state,
            "outcome": call.outcome,
            "outcome_label": labels["outcome"].get(call.outcome, "") if call.outcome else "",
            "state_label": labels["state"].get(call.state, call.state),
            "caller": self.person.full_name if self.person else "",
            "number": self.number_display,
            "answered_by": call.answered_by_id,
            "queue": call.queue_name or (call.queue.name if call.queue_id else ""),
        }


# What the card shows of a ticket. Tickets and earlier calls are read as plain rows, not
# model instances: building instances was a good part of the card's cost on the ring path
# (bench/cti_screen_pop); on that path the statements are written out (cti.statements).
CARD_TICKET_FIELDS = ("pk", "number", "title", "status", "created_at")


# How many of the caller's newest tickets one query reads: when the caller has fewer, both
# the open and the last tickets come from that one query (most callers; see caller_history).
HISTORY_WINDOW = 2 * RECENT_TICKETS


def caller_history(
    person_id: int, newest: list[SimpleNamespace] | None = None
) -> tuple[list[SimpleNamespace], list[SimpleNamespace]]:
    """The caller's open tickets and last tickets, newest first (as in the ticket selectors,
    with only the columns the card shows).

    One query reads the caller's HISTORY_WINDOW newest tickets (``newest``, when read
    already); only a caller with more tickets than that needs a second query for the open
    ones (they may be older).
    """
    if newest is None:
        newest = statements.caller_tickets(person_id, limit=HISTORY_WINDOW)
    recent = newest[:RECENT_TICKETS]
    if len(newest) < HISTORY_WINDOW:
        open_statuses = set(OPEN_STATUSES)
        open_tickets = [ticket for ticket in newest if ticket.status in open_statuses]
        return open_tickets[:RECENT_TICKETS], recent
    open_tickets = statements.caller_tickets(person_id, limit=RECENT_TICKETS, open_only=True)
    return open_tickets, recent


def load_card(
    call_id: int, *, fresh: bool = False, offered: dict[int, str] | None = None
) -> CallCard | None:
    """The call and its caller context: person, candidates, tickets, earlier calls.

    ``fresh`` says the call was created by the event being pushed: it cannot have linked
    tickets yet, so that query is skipped (the ring path is latency-critical). ``offered``:
    the agents that event offered the call to, with their language, if the caller knows them
    (only for a fresh call, whose offers that one event made).
    """
    try:
        call = Call.objects.select_related("caller_person__site", "queue").get(pk=call_id)
    except Call.DoesNotExist:
        return None
    # The agents and their interface language in one query (the card is rendered per language).
    if offered is not None and fresh:
        card = CallCard(call=call, offered_ids=list(offered), languages=dict(offered))
    else:
        rows = list(call.offered_to.values_list("pk", "person__language"))
        card = CallCard(call=call, offered_ids=[user_id for user_id, _language in rows])
        card.languages = dict(rows)
    card.person = call.caller_person
    if not call.caller_person_id:
        card.candidates = list(call.candidate_people.select_related("site").order_by("full_name"))
    _history_load(card)
    if call.ivr_ticket:
        card.ivr_ticket = ivr_ticket_row(call)
    if not fresh:
        card.linked_tickets = [
            SimpleNamespace(**row)
            for row in call.tickets.order_by("-created_at").values(*CARD_TICKET_FIELDS)
        ]
    return card


def ivr_ticket_row(call: Call) -> SimpleNamespace | None:
    """The ticket whose number the caller typed in the voice menu (digits of its number, or
    the whole number), when it is the caller's or the caller is not known: agents may see
    every ticket, but a typed number must not pin a stranger's ticket on a known caller."""
    from tickets.models import TICKET_NUMBER_PREFIX

    typed = call.ivr_ticket.strip().upper()
    if typed.isdigit():
        numbers = [f"{prefix}-{int(typed):06d}" for prefix in TICKET_NUMBER_PREFIX.values()]
    else:
        numbers = [typed]
    rows = Ticket.objects.filter(number__in=numbers)
    if call.caller_person_id:
        rows = rows.filter(caller_id=call.caller_person_id)
    row = rows.order_by("-created_at").values(*CARD_TICKET_FIELDS).first()
    return SimpleNamespace(**row) if row else None


def _history_load(card: CallCard) -> None:
    """The caller's tickets and the earlier calls from the number."""
    call = card.call
    if call.caller_person_id:
        card.open_tickets, card.recent_tickets = caller_history(call.caller_person_id)
    if call.caller_e164:
        card.last_calls = statements.calls_from_number(
            call.caller_e164, exclude_pk=call.pk, limit=LAST_CALLS
        )


_NUMBER_PLACEHOLDER = "0NUMBER0"
_PK_PLACEHOLDER = 987654321012345


@functools.cache
def _url_parts(name: str, placeholder: str | int) -> tuple[str, str]:
    url = reverse(name, args=[placeholder])
    prefix, _placeholder, suffix = url.partition(str(placeholder))
    return prefix, suffix


def ticket_url(number: str) -> str:
    """``Ticket.get_absolute_url()`` without a reverse() per ticket (quoted as reverse does)."""
    prefix, suffix = _url_parts("tickets:detail", _NUMBER_PLACEHOLDER)
    return prefix + quote(number, safe="!$&'()*+,;=/~:@") + suffix


def call_url(name: str, call_pk: int) -> str:
    """``reverse(name, args=[call_pk])`` for the card's URLs, without a reverse() per card."""
    prefix, suffix = _url_parts(name, _PK_PLACEHOLDER)
    return f"{prefix}{call_pk}{suffix}"


@functools.lru_cache(maxsize=32)
def _choice_labels(language: str | None) -> dict[str, dict[str, str]]:
    """The labels of the card's choices in ``language``, looked up once per language:
    get_FOO_display() rebuilds the choices map on every call."""
    with translation.override(language):
        return _labels_active()


def _labels_active() -> dict[str, dict[str, str]]:
    return {
        "status": {value: str(label) for value, label in TicketStatus.choices},
        "outcome": {value: str(label) for value, label in Call.Outcome.choices},
        "identification": {value: str(label) for value, label in Call.Identification.choices},
        "state": {value: str(label) for value, label in Call.State.choices},
    }


def render_card(card: CallCard, *, language: str | None = None) -> str:
    """The card's HTML in ``language`` (the site's default when None).

    A Jinja2 template (helpdesk/jinja.py): it is rendered on every ring, and Django's
    template language took most of the card's CPU time."""
    language = language or settings.LANGUAGE_CODE
    with translation.override(language):
        labels = _choice_labels(language)
        typed = (card.ivr_ticket,) if card.ivr_ticket is not None else ()
        for ticket in (*typed, *card.open_tickets, *card.recent_tickets, *card.linked_tickets):
            ticket.status_label = labels["status"].get(ticket.status, ticket.status)
            ticket.url = ticket_url(ticket.number)
        for earlier in card.last_calls:
            earlier.outcome_label = labels["outcome"].get(earlier.outcome, earlier.outcome)
        template = get_template(CARD_TEMPLATE, using="jinja2")
        return spaceless(template.render(card.context(labels)))


def _languages(card: CallCard, user_ids: set[int]) -> dict[int, str | None]:
    """Each agent's interface language (the card is rendered once per language)."""
    missing = [user_id for user_id in user_ids if user_id not in card.languages]
    if missing:  # the answering agent was not offered the call (answered elsewhere)
        from helpdesk.models import Person

        card.languages.update(
            Person.objects.filter(user_id__in=missing).values_list("user_id", "language")
        )
    supported = {code for code, _name in settings.LANGUAGES}
    return {
        user_id: card.languages.get(user_id) if card.languages.get(user_id) in supported else None
        for user_id in user_ids
    }


def messages_for(card: CallCard, *, only_user_id: int | None = None) -> dict[int, dict]:
    """The message each agent's console must receive for the call's current state."""
    call = card.call
    offered = set(card.offered_ids)
    show: set[int] = set()
    close: set[int] = set()
    if call.state == Call.State.RINGING:
        show = offered
    else:
        if call.answered_by_id:
            show = {call.answered_by_id}
        close = offered - show
    if only_user_id is not None:
        show &= {only_user_id}
        close &= {only_user_id}
    languages = _languages(card, show) if show else {}
    rendered: dict[str | None, str] = {}
    by_language: dict[str | None, list[int]] = defaultdict(list)
    for user_id in show:
        by_language[languages.get(user_id)].append(user_id)
    messages: dict[int, dict] = {}
    state = card.state()
    kind = "cti.screen_pop" if call.state == Call.State.RINGING else "cti.call_update"
    for language, user_ids in by_language.items():
        if language not in rendered:
            rendered[language] = render_card(card, language=language)
        for user_id in user_ids:
            messages[user_id] = {
                "type": kind,
                "action": "show",
                "call": state,
                "html": rendered[language],
            }
    for user_id in close:
        messages[user_id] = {"type": "cti.call_update", "action": "close", "call": state}
    return messages


def call_changed(
    call_id: int, *, fresh: bool = False, offered: dict[int, str] | None = None
) -> None:
    """Push the current card of call ``call_id`` to the consoles that must show it.

    ``fresh``: the call was created by this event (see :func:`load_card`).

    Sync, for ``transaction.on_commit`` in a request or a worker. A failing push is not an
    error of the call: the consoles recover the state from the database on reconnect.
    """
    card = load_card(call_id, fresh=fresh, offered=offered)
    if card is not None:
        _push(card)


def call_card_refresh(call_id: int) -> None:
    """Push the card of call ``call_id`` again because what it shows of the caller changed
    (a ticket), not the call itself: the same messages as :func:`call_changed`, without the
    answering agent's presence, which did not change."""
    card = load_card(call_id)
    if card is not None:
        _push(card, presence=False)


def call_pushed(
    call: Call,
    *,
    offered: dict[int, str],
    people: list,
    history: tuple[list, list] | None = None,
) -> None:
    """Push a call that the event being handled has just created and offered, as that
    transaction wrote it: ``offered`` maps the agents it was offered to to their language,
    ``people`` are the card's rows of the caller (one) or of the candidates (several).
    ``history``: the caller's HISTORY_WINDOW newest tickets and the LAST_CALLS newest calls
    from the number, when the event read them (cti.statements.ring_reads); else read here.

    The ring path. Like :func:`call_changed`, sync, for ``transaction.on_commit``.
    """
    card = CallCard(call=call, offered_ids=list(offered), languages=dict(offered))
    if call.caller_person_id:
        card.person = people[0]
    else:
        card.candidates = people
    if history is None:
        _history_load(card)
    else:
        tickets, card.last_calls = history
        if call.caller_person_id:
            card.open_tickets, card.recent_tickets = caller_history(call.caller_person_id, tickets)
    _push(card)


def _push(card: CallCard, *, presence: bool = True) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    messages = messages_for(card)
    # A card refreshed for a ticket (no presence change) changes nothing on the wallboard.
    wallboard = presence
    presence = _presence_message(card) if presence else None
    async_to_sync(_send_all)(layer, messages, presence, wallboard=wallboard)


def _presence_message(card: CallCard) -> tuple[list[str], dict] | None:
    """Events change the answering agent's presence (busy, after-call work): tell them, and
    the colleagues in their queues (the team list); the groups and the message."""
    user_id = card.call.answered_by_id
    if not user_id or card.call.state == Call.State.RINGING:
        return None
    return _presence_groups_and_payload(user_id)


def _presence_groups_and_payload(user_id: int) -> tuple[list[str], dict] | None:
    presence = AgentPresence.objects.filter(user_id=user_id).select_related("user__person").first()
    if presence is None:
        return None
    queue_ids = CallQueue.objects.filter(members=user_id).values_list("pk", flat=True)
    groups = [agent_group(user_id)] + [queue_group(queue_id) for queue_id in queue_ids]
    return groups, presence_payload(presence)


def presence_changed(user_ids: list[int]) -> None:
    """Tell the agents' consoles, and their queues' consoles, their presence as it is now
    (a change that no call event and no console made: after-call work that ended by
    itself). Sync, for ``transaction.on_commit``; a failing push is logged: the consoles
    read the presence again when they reconnect."""
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id in user_ids:
        found = _presence_groups_and_payload(user_id)
        if found is None:
            continue
        try:
            async_to_sync(_send_all)(layer, {}, found)
        except Exception:
            logger.warning("Could not push the presence of agent %s", user_id, exc_info=True)
    wallboard_changed()


def wallboard_changed() -> None:
    """Nudge the wallboards: calls or presence changed (no data: each wallboard reads the
    snapshot again, coalesced). Sync, for ``transaction.on_commit``; a failing layer is
    logged: a wallboard reads everything again when it reconnects, and every minute."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _group_send_from_sync(layer, WALLBOARD_GROUP, WALLBOARD_CHANGED)
    except Exception:
        logger.warning("Could not nudge the wallboards", exc_info=True)


def presence_payload(presence: AgentPresence) -> dict:
    """The ``cti.presence`` message of an agent (``presence.user`` and its person are read
    for the name: select them with it)."""
    from cti.selectors import user_display_name
    from cti.services.presence import after_call_work_ends_at

    ends_at = after_call_work_ends_at(presence)
    return {
        "type": "cti.presence",
        "user_id": presence.user_id,
        "state": presence.state,
        "label": str(presence.get_state_display()),
        "name": user_display_name(presence.user),
        # Consoles send it back with a choice (a change since is not undone) and forward
        # each version once (cti.consumers).
        "version": presence.version,
        # Since when (the after-call work's timer) and, for after-call work with a limit,
        # when it ends by itself (the console asks the server to end it then).
        "changed_at": presence.changed_at.isoformat(),
        "ends_at": ends_at.isoformat() if ends_at else None,
    }


def team_presence(queue_ids: list[int], *, exclude_user_id: int | None = None) -> list[dict]:
    """The active members of these queues with their presence (away when never set), by
    name: what a console's team list starts from. One query."""
    if not queue_ids:
        return []
    members = (
        get_user_model()
        .objects.filter(call_queues__in=queue_ids, is_active=True)
        .exclude(pk=exclude_user_id)
        .distinct()
        .values(
            "pk",
            "username",
            "first_name",
            "last_name",
            "person__full_name",
            "presence__state",
            "presence__version",
        )
    )
    labels = dict(AgentPresence.State.choices)
    team = []
    for member in members:
        state = member["presence__state"] or AgentPresence.State.AWAY
        name = member["person__full_name"] or statements.display_name(
            member["first_name"], member["last_name"], member["username"]
        )
        team.append(
            {
                "user_id": member["pk"],
                "name": name,
                "state": state,
                "label": str(labels[state]),
                "version": member["presence__version"] or 0,
            }
        )
    return sorted(team, key=lambda member: member["name"].lower())


async def _send_all(layer, messages: dict[int, dict], presence, *, wallboard=False) -> None:
    for user_id, message in messages.items():
        await layer.group_send(agent_group(user_id), message)
    if presence is not None:
        groups, payload = presence
        for group in groups:
            await layer.group_send(group, payload)
    if wallboard:
        try:
            await layer.group_send(WALLBOARD_GROUP, WALLBOARD_CHANGED)
        except Exception:
            logger.warning("Could not nudge the wallboards", exc_info=True)


def cards_for_agent(user) -> list[dict]:
    """The card messages a console connecting now must show: from the database.

    Calls ringing and offered to ``user``, and calls ``user`` is talking on. A call ringing
    for longer than CTI_RING_TIMEOUT lost its hang-up (the stale sweep will end it): it is
    not shown.
    """
    from django.db.models import Q

    ringing_since = timezone.now() - timedelta(seconds=settings.CTI_RING_TIMEOUT)
    call_ids = list(
        Call.objects.filter(
            Q(state=Call.State.RINGING, offered_to=user, started_at__gte=ringing_since)
            | Q(state=Call.State.ANSWERED, answered_by=user)
        )
        .order_by("started_at")
        .values_list("pk", flat=True)
        .distinct()
    )
    result = []
    for call_id in call_ids:
        card = load_card(call_id)
        if card is None:
            continue
        message = messages_for(card, only_user_id=user.pk).get(user.pk)
        if message and message["action"] == "show":
            result.append(message)
    return result


# --- the console's queues -----------------------------------------------------------------

QUEUED_TICKET_FIELDS = (
    "pk",
    "number",
    "title",
    "channel",
    "group_id",
    "priority",
    "status",
    "assignee_id",
    "service_id",
    "created_at",
)


def ticket_queued(ticket_id: int, *, group_id: int, event: str) -> None:
    """Tell the consoles of support group ``group_id``'s members that ticket ``ticket_id``
    arrived in its queue: ``event`` is "created" or "moved". One query and one group send.

    Called after the ticket's commit, in the request or task that made the change. A push
    that fails (the channel layer is down) is logged and dropped: the ticket exists, and the
    queue page also refreshes itself every minute.
    """
    row = statements.queued_ticket(ticket_id)
    if row is None:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "cti.ticket", "event": event, "ticket": queued_ticket_payload(row)}
    try:
        _group_send_from_sync(layer, support_group_group(group_id), message)
    except Exception:
        logger.warning(
            "Could not announce ticket %s to the consoles of support group %s",
            row["number"],
            group_id,
            exc_info=True,
        )


class _SenderLoop:
    """An event loop in a thread of this process, for group sends from code outside any
    event loop (a Celery worker creating a ticket per mail).

    There ``async_to_sync`` makes a new event loop in a new thread for every call, and the
    Redis layer a new connection for every loop: about 7 ms of CPU per push, measured,
    against under 0.5 ms on a loop that lives on and keeps its connection."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine, *, timeout: float):
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # none yet, or forked
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="cti-group-send", daemon=True
                ).start()
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise


_sender_loop = _SenderLoop()


def _group_send_from_sync(layer, group: str, message: dict) -> None:
    """``layer.group_send`` from synchronous code (a request's thread, a Celery task).

    The in-memory layer (embedded run, tests) is reached as before, by ``async_to_sync``:
    its queues belong to the loop its consumers wait on. A Redis layer gets the send
    through this process's sender loop (:class:`_SenderLoop`) and its one connection."""
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(group, message)
        return
    _sender_loop.run(layer.group_send(group, message), timeout=GROUP_SEND_TIMEOUT)


def _group_send_many_from_sync(layer, sends: list[tuple[str, dict]]) -> int:
    """Several ``(group, message)`` sends at once from synchronous code: concurrently on
    one loop (one round trip's wait for all of them, where :func:`_group_send_from_sync`
    waits for each: 9 s for the 21,000 console toasts of an SLA sweep's hour of backlog).
    Returns how many failed (each logged)."""

    async def send_all():
        results = await asyncio.gather(
            *(layer.group_send(group, message) for group, message in sends),
            return_exceptions=True,
        )
        failed = 0
        for (group, _message), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                logger.warning("Could not push to %s", group, exc_info=result)
        return failed

    if not sends:
        return 0
    if isinstance(layer, InMemoryChannelLayer):
        return async_to_sync(send_all)()
    return _sender_loop.run(send_all(), timeout=GROUP_SEND_TIMEOUT + len(sends) / 1000)


def queued_ticket_payload(row: dict) -> dict:
    """The ticket as the console script reads it: stored values only (JSON), the labels are
    added per console in its language (:func:`ticket_labels`)."""
    return {
        "id": row["pk"],
        "number": row["number"],
        "title": row["title"],
        "channel": row["channel"],
        "group_id": row["group_id"],
        "priority": row["priority"],
        "status": row["status"],
        "open": row["status"] in OPEN_STATUSES,
        "assignee_id": row["assignee_id"],
        "service_id": row["service_id"],
        "created_at": row["created_at"].isoformat(),
        "url": reverse("tickets:console_detail", args=[row["number"]]),
    }


@functools.lru_cache(maxsize=32)
def ticket_labels(language: str | None) -> dict[str, dict]:
    """The labels of a queued ticket's choices in ``language``, looked up once per language."""
    with translation.override(language):
        return {
            "channel": {value: str(label) for value, label in TicketChannel.choices},
            "priority": {value: str(label) for value, label in TicketPriority.choices},
            "status": {value: str(label) for value, label in TicketStatus.choices},
        }


def ticket_labelled(ticket: dict, language: str | None) -> dict:
    """``ticket`` (a :func:`queued_ticket_payload`) with its labels in ``language``."""
    labels = ticket_labels(language)
    return {
        **ticket,
        "channel_label": labels["channel"].get(ticket["channel"], ticket["channel"]),
        "priority_label": labels["priority"].get(ticket["priority"], ""),
        "status_label": labels["status"].get(ticket["status"], ticket["status"]),
    }
