"""The statements every mail makes, written out once instead of built by the ORM per mail.

Ingest is a worker's hot loop (``bench/mail_ingest.py``, issue 14: 100 mails a second per
worker). Building a statement through the ORM costs a few tenths of a millisecond of CPU;
the same statement written out, a tenth of that. So the statements that every mail makes
on its way in are kept here, in the manner of ``cti.statements`` for phone rings:

- table and column names come from the models' ``_meta``, values are bound as parameters
  and prepared by the model fields themselves (``get_db_prep_save``), so the same SQL runs
  on SQLite and PostgreSQL;
- they go through Django's cursor, so transactions, error classes and the query counting
  of tests apply as for ORM queries; on PostgreSQL each is prepared once per connection;
- rows come back as the model instances the ORM would make (``Model.from_db`` with the
  ORM's converters): :func:`person_by_email` answers what
  ``helpdesk.selectors.people_by_email`` answers (its first person), the ticket lookups
  what ``mail.services.ingest`` asked the ORM before; tests/mail/test_statements.py holds
  them to the same answers.

Everything else of the app uses the ORM.
"""

# Every statement here is put together from names in the models' _meta; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, models

from helpdesk.models import Person
from helpdesk.sql import column as _column
from helpdesk.sql import columns as _sql_columns
from helpdesk.sql import instance as _sql_instance
from helpdesk.sql import prepared_cursor as _cursor
from helpdesk.sql import quoted as _q
from helpdesk.sql import table as _table
from mail.models import InboundMessage, OutboundMessage
from tickets.models import Ticket


def _prepared(field: models.Field, instance: models.Model, *, add: bool):
    return field.get_db_prep_save(field.pre_save(instance, add), connection)


# --- storing -----------------------------------------------------------------------------


@functools.cache
def _message_insert_sql() -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(field for field in InboundMessage._meta.concrete_fields if not field.primary_key)
    sql = (
        f"INSERT INTO {_table(InboundMessage)} "
        f"({', '.join(_q(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({_column(InboundMessage, 'dedupe_key')}) DO NOTHING "
        f"RETURNING {_q(InboundMessage._meta.pk.column)}"
    )
    return sql, fields


def message_insert(message: InboundMessage) -> bool:
    """INSERT ``message`` (all its fields, as ``save()`` would) and set its pk; False, and
    nothing written, when a mail with its ``dedupe_key`` is stored already.

    One statement: outside a transaction it commits on its own, with no BEGIN and COMMIT
    around it, and a second delivery is no error to roll back."""
    sql, fields = _message_insert_sql()
    with _cursor() as cursor:
        cursor.execute(sql, [_prepared(field, message, add=True) for field in fields])
        row = cursor.fetchone()
    if row is None:
        return False
    message.pk = row[0]
    message._state.adding = False
    message._state.db = connection.alias
    return True


@functools.cache
def _delivered_again_sql() -> tuple[str, tuple[str, ...]]:
    fields = [f for f in InboundMessage._meta.concrete_fields if f.name != "raw"]
    deliveries = _column(InboundMessage, "deliveries")
    sql = (
        f"UPDATE {_table(InboundMessage)} SET {deliveries} = {deliveries} + 1 "
        f"WHERE {_column(InboundMessage, 'dedupe_key')} = %s "
        f"RETURNING {', '.join(_q(field.column) for field in fields)}"
    )
    return sql, tuple(field.attname for field in fields)


def message_delivered_again(dedupe_key: str) -> InboundMessage:
    """The stored mail with ``dedupe_key``, which counts one more delivery: its row as it is
    now, without the raw bytes (``defer("raw")``). One statement."""
    sql, names = _delivered_again_sql()
    row = _one(sql, [dedupe_key])
    if row is None:
        raise InboundMessage.DoesNotExist(dedupe_key)
    return _sql_instance(InboundMessage, row, names)


# --- processing --------------------------------------------------------------------------


@functools.cache
def _message_lock_sql(for_update: bool) -> str:
    return (
        f"SELECT {_column(InboundMessage, 'status')}, {_column(InboundMessage, 'attempts')} "
        f"FROM {_table(InboundMessage)} WHERE {_q(InboundMessage._meta.pk.column)} = %s"
        + (" FOR UPDATE" if for_update else "")
    )


def message_lock(pk: int) -> tuple[str, int]:
    """The stored mail's (status, attempts), its row locked until the end of the
    transaction (``select_for_update``: SQLite's transactions serialise writers anyway)."""
    sql = _message_lock_sql(connection.features.has_select_for_update)
    with _cursor() as cursor:
        cursor.execute(sql, [pk])
        status, attempts = cursor.fetchone()
    return status, attempts


@functools.cache
def _message_update_sql(names: tuple[str, ...]) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(InboundMessage._meta.get_field(name) for name in names)
    assignments = ", ".join(f"{_q(field.column)} = %s" for field in fields)
    sql = (
        f"UPDATE {_table(InboundMessage)} SET {assignments} "
        f"WHERE {_q(InboundMessage._meta.pk.column)} = %s"
    )
    return sql, fields


def message_update(message: InboundMessage, names: Sequence[str]) -> None:
    """``message.save(update_fields=names)``, written out."""
    sql, fields = _message_update_sql(tuple(names))
    params = [_prepared(field, message, add=False) for field in fields]
    with _cursor() as cursor:
        cursor.execute(sql, [*params, message.pk])


@functools.cache
def _sender_recent_sql() -> str:
    return (
        f"SELECT COUNT(*) FROM {_table(InboundMessage)} "
        f"WHERE UPPER({_column(InboundMessage, 'sender')}) = UPPER(%s) "
        f"AND {_column(InboundMessage, 'received_at')} >= %s "
        f"AND {_q(InboundMessage._meta.pk.column)} <> %s"
    )


def sender_recent_count(address: str, *, since: datetime, exclude: int) -> int:
    """How many mails from ``address`` (in any case) came since ``since``, but ``exclude``;
    read through the index on ``(UPPER(sender), received_at)``."""
    field = InboundMessage._meta.get_field("received_at")
    with _cursor() as cursor:
        cursor.execute(
            _sender_recent_sql(),
            [address, field.get_db_prep_value(since, connection), exclude],
        )
        return cursor.fetchone()[0]


# --- rows as the ORM reads them -------------------------------------------------------------


@functools.cache
def _columns(model, alias: str) -> str:
    return _sql_columns(model, alias)


def _instance(model, row: Sequence):
    """A ``model`` instance from the columns :func:`_columns` selected, as the ORM makes it."""
    return _sql_instance(model, row)


def _one(sql: str, params: Sequence):
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# --- the sender -------------------------------------------------------------------------


@functools.cache
def _person_sql(exact: bool) -> str:
    email = f"p.{_column(Person, 'email')}"
    match = f"{email} = %s" if exact else f"UPPER({email}) = UPPER(%s)"
    return (
        f"SELECT {_columns(Person, 'p')} FROM {_table(Person)} p "
        f"WHERE p.{_column(Person, 'is_active')} AND {match} "
        f"ORDER BY p.{_q(Person._meta.pk.column)} LIMIT 1"
    )


def person_by_email(address: str) -> Person | None:
    """The first active person whose e-mail is ``address``: the exact match through the
    e-mail column's index, else in any case through the index on ``UPPER(email)``, as
    ``helpdesk.selectors.people_by_email(address, limit=1)``."""
    address = address.strip()
    if not address:
        return None
    for exact in (True, False):
        row = _one(_person_sql(exact), [address])
        if row is not None:
            return _instance(Person, row)
    return None


# --- the ticket a mail answers ---------------------------------------------------------------


@functools.cache
def _ticket_by_number_sql() -> str:
    return (
        f"SELECT {_columns(Ticket, 't')} FROM {_table(Ticket)} t "
        f"WHERE t.{_column(Ticket, 'number')} = %s"
    )


def ticket_by_number(number: str) -> Ticket | None:
    """``Ticket.objects.filter(number=number).first()`` (numbers are unique)."""
    row = _one(_ticket_by_number_sql(), [number])
    return None if row is None else _instance(Ticket, row)


@functools.cache
def _answered_sql(ids: int, kinds: int) -> str:
    ours = f"o.{_column(OutboundMessage, 'ticket')} IS NOT NULL"
    if kinds:
        ours = f"({ours} OR o.{_column(OutboundMessage, 'kind')} IN ({', '.join(['%s'] * kinds)}))"
    ticket_pk = _q(Ticket._meta.pk.column)
    return (
        f"SELECT {_columns(OutboundMessage, 'o')}, {_columns(Ticket, 't')} "
        f"FROM {_table(OutboundMessage)} o LEFT JOIN {_table(Ticket)} t "
        f"ON t.{ticket_pk} = o.{_column(OutboundMessage, 'ticket')} "
        f"WHERE {ours} AND o.{_column(OutboundMessage, 'message_id')} "
        f"IN ({', '.join(['%s'] * ids)}) "
        f"ORDER BY o.{_q(OutboundMessage._meta.pk.column)} DESC LIMIT 1"
    )


def outbound_answered(ids: Sequence[str], kinds: Sequence[str]) -> OutboundMessage | None:
    """The latest of our mails with one of the Message-IDs ``ids`` that is about a ticket or
    of one of ``kinds``, with its ticket (``select_related("ticket")``)."""
    if not ids:
        return None
    row = _one(_answered_sql(len(ids), len(kinds)), [*kinds, *ids])
    if row is None:
        return None
    width = len(OutboundMessage._meta.concrete_fields)
    sent = _instance(OutboundMessage, row[:width])
    ticket = None if sent.ticket_id is None else _instance(Ticket, row[width:])
    OutboundMessage._meta.get_field("ticket").set_cached_value(sent, ticket)
    return sent


@functools.cache
def _received_ticket_sql(ids: int) -> str:
    ticket = _column(InboundMessage, "ticket")
    return (
        f"SELECT {_columns(Ticket, 't')} FROM {_table(InboundMessage)} m "
        f"JOIN {_table(Ticket)} t ON t.{_q(Ticket._meta.pk.column)} = m.{ticket} "
        f"WHERE m.{_column(InboundMessage, 'message_id')} IN ({', '.join(['%s'] * ids)}) "
        f"ORDER BY m.{_q(InboundMessage._meta.pk.column)} DESC LIMIT 1"
    )


def ticket_of_received(ids: Sequence[str]) -> Ticket | None:
    """The ticket of the latest mail we received with one of the Message-IDs ``ids`` that
    made or joined a ticket."""
    if not ids:
        return None
    row = _one(_received_ticket_sql(len(ids)), list(ids))
    return None if row is None else _instance(Ticket, row)
