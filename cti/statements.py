"""The ring path's statements, written out once instead of built by the ORM on every event.

A ring is the product's latency-critical request (``bench/cti_screen_pop.py``,
docs/cti.md): building a query through the ORM cost about 0.4 ms of CPU per statement,
executing the same statement written out about 0.1 ms, and a ring makes about ten of them.
So the statements a ring makes are kept here, each written once per process:

- the rows a ring reads about its caller have the shape the owning apps define: the
  caller card's person columns come from ``helpdesk.selectors`` and its ticket columns from
  ``tickets.selectors``, whose ORM selectors (``caller_card_people``,
  ``caller_card_tickets``) return the same rows; tests/cti/test_statements.py holds the
  two to the same answers, so neither can change alone;
- table and column names come from the models' ``_meta`` (a renamed field cannot be
  missed), values are bound as parameters and prepared by the model fields themselves
  (``get_db_prep_save``: dates, JSON), so the same SQL runs on SQLite and PostgreSQL;
- they go through Django's cursor, so transactions, error classes (``IntegrityError``) and
  the query counting of tests apply as for ORM queries.

On PostgreSQL a ring also sends its statements in as few round trips as it can: the reads
a ring needs (the caller, the agents it rings, the caller's tickets and earlier calls) go
together in one (:func:`ring_reads`, through psycopg's pipeline mode: :func:`pipeline`), and
so do the event, the call it creates and the call's offers (:func:`ring_insert`). Each round
trip waits for the database server to be scheduled, which on a loaded machine set a good
part of the screen pop's latency.

Everything else of the app uses the ORM.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Generic, TypeVar

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.utils.dateparse import parse_datetime

from helpdesk.models import Person, PhoneNumber, Site
from helpdesk.selectors import CALLER_CARD_PERSON_FIELDS
from helpdesk.sql import column as _column
from helpdesk.sql import columns as _columns
from helpdesk.sql import converted as _converted
from helpdesk.sql import prepared_cursor as _cursor
from helpdesk.sql import quoted as _q
from helpdesk.sql import table as _table
from tickets.models import OPEN_STATUSES, Ticket
from tickets.selectors import CALLER_CARD_TICKET_FIELDS

T = TypeVar("T")


@contextlib.contextmanager
def pipeline() -> Iterator[None]:
    """Send the statements of this module issued in the block together (PostgreSQL's
    pipeline mode): a :class:`Pending` statement's result is read at the end of the block,
    or when one is asked for inside it, for all statements sent so far in one round trip.
    Errors come as Django's (``IntegrityError``), from the first failed statement, at that
    point. Elsewhere than on PostgreSQL each statement runs when issued.

    Only statements of this module may run inside: the ORM reads ``rowcount`` right after
    executing an UPDATE, which pipeline mode reports only once the results are read.
    """
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def _pipelining() -> bool:
    if connection.vendor != "postgresql" or connection.connection is None:
        return False
    # psycopg.pq.PipelineStatus: OFF is 0, ON and ABORTED are not.
    return bool(connection.connection.pgconn.pipeline_status)


class Pending(Generic[T]):
    """A statement sent, whose rows are read when its result is asked for (in a
    :func:`pipeline`; otherwise at once)."""

    def __init__(self, sql: str, params: Sequence, convert: Callable[[list[tuple]], T]):
        self._convert = convert
        self._cursor = _cursor()
        self._rows: list[tuple] | None = None
        try:
            self._cursor.execute(sql, params)
            if not _pipelining():
                self._fetch()
        except BaseException:
            self._cursor.close()
            raise

    def _fetch(self) -> list[tuple]:
        if self._rows is None:
            try:
                self._rows = self._cursor.fetchall()
            finally:
                self._cursor.close()
        return self._rows

    def result(self) -> T:
        return self._convert(self._fetch())


def _aware(value) -> datetime | None:
    """A date and time read by a written-out statement, as the ORM would return it (aware,
    UTC): SQLite hands back naive values or text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


# --- writing ---------------------------------------------------------------------------


@functools.cache
def _insert_sql(model, conflict: tuple[str, ...]) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(field for field in model._meta.concrete_fields if not field.primary_key)
    sql = (
        f"INSERT INTO {_table(model)} ({', '.join(_q(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(_column(model, name) for name in conflict)}) DO NOTHING"
    return sql + f" RETURNING {_q(model._meta.pk.column)}", fields


def insert_pending(instance: models.Model, *, conflict: Sequence[str] = ()) -> Pending[bool]:
    """Send an INSERT of ``instance`` (all its fields, as ``save(force_insert=True)`` would);
    its result sets the pk. With ``conflict`` (field names of a unique constraint), a row
    that already exists with the same values is left alone and the result is False;
    without it such a row raises ``IntegrityError`` as the ORM does."""
    sql, fields = _insert_sql(type(instance), tuple(conflict))

    def inserted(rows: list[tuple]) -> bool:
        if not rows:
            return False
        _inserted(instance, rows[0][0])
        return True

    return Pending(sql, _insert_params(instance, fields), inserted)


def insert(instance: models.Model, *, conflict: Sequence[str] = ()) -> bool:
    """INSERT ``instance`` now and set its pk (see :func:`insert_pending`); False when
    ``conflict`` names a constraint that an existing row already satisfies."""
    return insert_pending(instance, conflict=conflict).result()


def links_insert(through, left: str, left_id: int, right: str, right_ids: Sequence[int]) -> None:
    """Rows of a many-to-many table (``through``) linking ``left_id`` to each of
    ``right_ids``; existing links are left alone (one statement whatever the number)."""
    if not right_ids:
        return
    columns = f"{_column(through, left)}, {_column(through, right)}"
    values = ", ".join(["(%s, %s)"] * len(right_ids))
    params = [value for right_id in right_ids for value in (left_id, right_id)]
    with _cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(through)} ({columns}) VALUES {values} ON CONFLICT DO NOTHING",
            params,
        )


def _insert_params(instance: models.Model, fields: Sequence[models.Field]) -> list:
    return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]


def _inserted(instance: models.Model, pk) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


@functools.cache
def _ring_insert_sql(with_event: bool, offers: int) -> str:
    # PostgreSQL: one statement of data-modifying CTEs. The offers take the id of the call
    # inserted by ``c``, so an existing call (no row from ``c``) gets none here.
    from cti.models import Call, CallEvent

    parts = []
    if with_event:
        parts.append(f"e AS ({_insert_sql(CallEvent, ())[0]})")
    parts.append(f"c AS ({_insert_sql(Call, ('pbx', 'call_id'))[0]})")
    if offers:
        through = Call.offered_to.through
        parts.append(
            f"o AS (INSERT INTO {_table(through)} "
            f"({_column(through, 'call')}, {_column(through, 'user')}) "
            f"SELECT c.{_q(Call._meta.pk.column)}, v.column1 "
            f"FROM c, (VALUES {', '.join(['(%s)'] * offers)}) v ON CONFLICT DO NOTHING)"
        )
    event_pk = f"(SELECT {_q(CallEvent._meta.pk.column)} FROM e)" if with_event else "NULL"
    return f"WITH {', '.join(parts)} SELECT {event_pk}, (SELECT {_q(Call._meta.pk.column)} FROM c)"


def ring_insert(event, call, offers: Sequence[int]) -> bool:
    """The writes of a ring that creates its call, in one round trip: INSERT ``event`` (if
    given; one already stored raises ``IntegrityError``), then ``call`` unless its PBX's
    call id exists already, and, for a call inserted here, its offers to the agents
    ``offers``. Sets the pks; returns whether the call was inserted.

    On PostgreSQL this is one statement (with the transaction's BEGIN in the same round
    trip); elsewhere one statement per row."""
    from cti.models import Call, CallEvent

    if connection.vendor != "postgresql":
        if event is not None:
            insert(event)
        if not insert(call, conflict=("pbx", "call_id")):
            return False
        links_insert(Call.offered_to.through, "call", call.pk, "user", offers)
        return True
    params = []
    if event is not None:
        params += _insert_params(event, _insert_sql(CallEvent, ())[1])
    params += _insert_params(call, _insert_sql(Call, ("pbx", "call_id"))[1])
    params += list(offers)
    with pipeline():
        written = Pending(_ring_insert_sql(event is not None, len(offers)), params, list)
    [(event_pk, call_pk)] = written.result()
    if event is not None:
        _inserted(event, event_pk)
    if call_pk is None:
        return False
    _inserted(call, call_pk)
    return True


# --- reading ---------------------------------------------------------------------------


@dataclass
class CallerLookup:
    """Who has a number, and whether it is blocked: one statement for both."""

    # Active people with the number, by id (at most ``limit``), as rows with what the card
    # shows of them (helpdesk.selectors.CALLER_CARD_PERSON_FIELDS, and pk), the site as
    # (pk, name) or None: see _person.
    people: list[SimpleNamespace]
    blocked: bool
    total: int = 0  # how many active people have the number (``people`` may hold fewer)


@functools.cache
def _caller_lookup_sql() -> str:
    # The rows of helpdesk.selectors.caller_card_people after a first column: whether the
    # number is blocked (one row of NULL people when nobody has the number).
    from cti.models import BlockedNumber

    fields = CALLER_CARD_PERSON_FIELDS
    person, phone, site = Person._meta, PhoneNumber._meta, Site._meta
    p = {name: _q(person.get_field(name).column) for name in (*fields, "id", "site", "is_active")}
    # c.total: how many people have the number in all (the window is counted before LIMIT).
    return (
        f"SELECT b.blocked, {', '.join(f'c.{p[name]}' for name in fields)}, c.site_name, "
        f"c.total "
        f"FROM (SELECT EXISTS (SELECT 1 FROM {_table(BlockedNumber)} "
        f"WHERE {_column(BlockedNumber, 'e164')} = %s) AS blocked) b "
        f"LEFT JOIN (SELECT {', '.join(f'x.{p[name]}' for name in fields)}, "
        f"s.{_q(site.get_field('name').column)} AS site_name, COUNT(*) OVER () AS total "
        f"FROM {_q(person.db_table)} x "
        f"LEFT JOIN {_q(site.db_table)} s ON s.{_q(site.pk.column)} = x.{p['site']} "
        f"WHERE x.{p['is_active']} AND x.{p['id']} IN (SELECT {_column(PhoneNumber, 'person')} "
        f"FROM {_q(phone.db_table)} WHERE {_column(PhoneNumber, 'e164')} = %s) "
        f"ORDER BY x.{p['id']} LIMIT %s) c ON 1 = 1"
    )


def _person(row: Sequence) -> SimpleNamespace:
    """The card's person from a row of helpdesk.selectors.CALLER_CARD_PERSON_FIELDS and the
    site's name (as ``caller_card_people`` returns them), with pk and the site (pk, name)."""
    *values, site_name = row
    person = SimpleNamespace(**dict(zip(CALLER_CARD_PERSON_FIELDS, values, strict=True)))
    person.pk = person.id
    person.is_vip = bool(person.is_vip)  # SQLite answers 0 or 1
    person.site = SimpleNamespace(pk=person.site, name=site_name) if person.site else None
    return person


def _caller_lookup_rows(rows: list[tuple]) -> CallerLookup:
    # The LEFT JOIN's empty side (no id) when nobody has the number.
    people = [_person(row[1:-1]) for row in rows if row[1] is not None]
    total = rows[0][-1] or 0 if people else 0
    return CallerLookup(people=people, blocked=bool(rows[0][0]), total=total)


def caller_lookup_pending(e164: str, *, limit: int) -> Pending[CallerLookup]:
    return Pending(_caller_lookup_sql(), [e164, e164, limit], _caller_lookup_rows)


def caller_lookup(e164: str, *, limit: int) -> CallerLookup:
    """The active people who have ``e164`` (by id, at most ``limit``) with what the card
    shows of them, and whether the number is on the block list."""
    return caller_lookup_pending(e164, limit=limit).result()


@functools.cache
def _agents_sql(count: int) -> str:
    from cti.models import AgentExtension

    return (
        f"SELECT e.{_column(AgentExtension, 'user')}, p.{_column(Person, 'language')} "
        f"FROM {_table(AgentExtension)} e LEFT JOIN {_table(Person)} p "
        f"ON p.{_column(Person, 'user')} = e.{_column(AgentExtension, 'user')} "
        f"WHERE e.{_column(AgentExtension, 'extension')} IN ({', '.join(['%s'] * count)})"
    )


def agents_by_extension_pending(extensions: Sequence[str]) -> Pending[dict[int, str | None]]:
    return Pending(_agents_sql(len(extensions)), list(extensions), dict)


def agents_by_extension(extensions: Sequence[str]) -> dict[int, str | None]:
    """User id -> interface language of the agents with these extensions."""
    if not extensions:
        return {}
    return agents_by_extension_pending(extensions).result()


@functools.cache
def _tickets_sql(open_only: bool) -> str:
    # The rows of tickets.selectors.caller_card_tickets.
    columns = ", ".join(_column(Ticket, name) for name in CALLER_CARD_TICKET_FIELDS)
    where = f"{_column(Ticket, 'caller')} = %s"
    if open_only:
        where += f" AND {_column(Ticket, 'status')} IN ({', '.join(['%s'] * len(OPEN_STATUSES))})"
    created = _column(Ticket, "created_at")
    return f"SELECT {columns} FROM {_table(Ticket)} WHERE {where} ORDER BY {created} DESC LIMIT %s"


@functools.cache
def _sole_owner_tickets_sql() -> str:
    # The newest tickets of the caller when exactly one active person has the number (the
    # caller the lookup identifies); none otherwise.
    person, phone = Person._meta, PhoneNumber._meta
    columns = ", ".join(_column(Ticket, name) for name in CALLER_CARD_TICKET_FIELDS)
    owner = (
        f"SELECT CASE WHEN COUNT(*) = 1 THEN MAX(x.{_q(person.pk.column)}) END "
        f"FROM {_q(person.db_table)} x WHERE x.{_column(Person, 'is_active')} "
        f"AND x.{_q(person.pk.column)} IN (SELECT {_column(PhoneNumber, 'person')} "
        f"FROM {_q(phone.db_table)} WHERE {_column(PhoneNumber, 'e164')} = %s)"
    )
    return (
        f"SELECT {columns} FROM {_table(Ticket)} WHERE {_column(Ticket, 'caller')} = ({owner}) "
        f"ORDER BY {_column(Ticket, 'created_at')} DESC LIMIT %s"
    )


def _ticket(row: Sequence) -> SimpleNamespace:
    """The card's ticket from a row of tickets.selectors.CALLER_CARD_TICKET_FIELDS (as
    ``caller_card_tickets`` returns them), its id named pk."""
    ticket = dict(zip(CALLER_CARD_TICKET_FIELDS, row, strict=True))
    ticket["pk"] = ticket.pop("id")
    ticket["created_at"] = _aware(ticket["created_at"])
    return SimpleNamespace(**ticket)


def _ticket_rows(rows: list[tuple]) -> list[SimpleNamespace]:
    return [_ticket(row) for row in rows]


def caller_tickets(person_id: int, *, limit: int, open_only: bool = False) -> list:
    """The caller's newest tickets (only the open ones with ``open_only``), as rows with
    the columns tickets.selectors.CALLER_CARD_TICKET_FIELDS names (id as pk)."""
    params = [person_id, *(OPEN_STATUSES if open_only else ()), limit]
    return Pending(_tickets_sql(open_only), params, _ticket_rows).result()


def display_name(first_name: str, last_name: str, username: str) -> str:
    """A user's name read as columns, as ``User.get_full_name() or get_username()`` gives it."""
    return f"{first_name} {last_name}".strip() or username


@functools.cache
def _calls_sql() -> str:
    from cti.models import Call

    user = get_user_model()
    u = {name: _column(user, name) for name in ("username", "first_name", "last_name")}
    c = {
        name: f"c.{_column(Call, name)}"
        for name in ("id", "call_id", "started_at", "outcome", "answered_by", "caller_e164")
    }
    return (
        f"SELECT {c['id']}, {c['call_id']}, {c['started_at']}, {c['outcome']}, "
        f"{c['answered_by']}, u.{u['username']}, u.{u['first_name']}, u.{u['last_name']} "
        f"FROM {_table(Call)} c LEFT JOIN {_table(user)} u "
        f"ON u.{_q(user._meta.pk.column)} = {c['answered_by']} "
        f"WHERE {c['caller_e164']} = %s AND {c['id']} <> %s "
        f"ORDER BY {c['started_at']} DESC LIMIT %s"
    )


def _call_rows(rows: list[tuple]) -> list[SimpleNamespace]:
    calls = []
    for pk, call_id, started_at, outcome, agent_id, username, first, last in rows:
        name = display_name(first, last, username) if agent_id else ""
        calls.append(
            SimpleNamespace(
                pk=pk,
                call_id=call_id,
                started_at=_aware(started_at),
                outcome=outcome,
                answered_by_id=agent_id,
                agent_name=name,
            )
        )
    return calls


def calls_from_number_pending(e164: str, *, exclude_pk: int, limit: int) -> Pending[list]:
    return Pending(_calls_sql(), [e164, exclude_pk, limit], _call_rows)


def calls_from_number(e164: str, *, exclude_pk: int, limit: int) -> list:
    """The newest calls from ``e164`` other than ``exclude_pk``, with the answering agent's
    name (as ``User.get_full_name()`` or else the user name)."""
    return calls_from_number_pending(e164, exclude_pk=exclude_pk, limit=limit).result()


@dataclass
class RingReads:
    """What a ring reads before it writes anything, read in one round trip."""

    lookup: CallerLookup  # who has the number, whether it is blocked
    agents: dict[int, str | None]  # the agents with the rung extensions: id -> language
    # The newest tickets of the caller if exactly one active person has the number, and the
    # newest calls from the number (the card's history; empty without a number).
    tickets: list[SimpleNamespace]
    calls: list[SimpleNamespace]


def ring_reads(
    e164: str, extensions: Sequence[str], *, people: int, tickets: int, calls: int
) -> RingReads:
    """Everything a ring reads about its caller (``e164``, may be empty) and the agents it
    rings (``extensions``), at most ``people`` people, ``tickets`` tickets and ``calls``
    earlier calls, sent together (one round trip on PostgreSQL)."""
    with pipeline():
        lookup = caller_lookup_pending(e164, limit=people) if e164 else None
        agents = agents_by_extension_pending(extensions) if extensions else None
        history = (
            Pending(_sole_owner_tickets_sql(), [e164, tickets], _ticket_rows) if e164 else None
        )
        earlier = calls_from_number_pending(e164, exclude_pk=0, limit=calls) if e164 else None
    return RingReads(
        lookup=lookup.result() if lookup else CallerLookup(people=[], blocked=False),
        agents=agents.result() if agents else {},
        tickets=history.result() if history else [],
        calls=earlier.result() if earlier else [],
    )


# --- a ticket arriving in a group's queue (cti.notify.ticket_queued) -------------------------

# What the console's queue is told of a ticket: the fields of cti.notify.QUEUED_TICKET_FIELDS.
_QUEUED_FIELDS = (
    "id",
    "number",
    "title",
    "channel",
    "group",
    "priority",
    "status",
    "assignee",
    "service",
    "created_at",
)


@functools.cache
def _queued_ticket_sql() -> str:
    return (
        f"SELECT {_columns(Ticket, 't', _QUEUED_FIELDS)} FROM {_table(Ticket)} t "
        f"WHERE t.{_q(Ticket._meta.pk.column)} = %s"
    )


def queued_ticket(ticket_id: int) -> dict | None:
    """The ticket's row as ``Ticket.objects.values(*QUEUED_TICKET_FIELDS)`` gives it (``pk``
    and the ``*_id`` keys), or None: one statement, after every create or transfer."""
    with _cursor() as cursor:
        cursor.execute(_queued_ticket_sql(), [ticket_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values, attnames = _converted(Ticket, row, _QUEUED_FIELDS)
    found = dict(zip(attnames, values, strict=True))
    found["pk"] = found.pop("id")
    return found
