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
- :func:`person_by_email` answers what ``helpdesk.selectors.people_by_email`` answers
  (its first person), in the same row shape (a ``Person``); tests/mail/test_statements.py
  holds the two to the same answers.

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
from mail.models import InboundMessage


def _cursor():
    """Django's cursor wrapper around a server-side binding cursor on PostgreSQL, so that
    each statement is parsed and planned once per connection (the ORM's cursors bind on the
    client side and never prepare). While queries are logged (DEBUG, tests counting
    queries) Django's own cursor is used, which logs the SQL text; the statements are the
    same."""
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = connection.connection
    if raw.prepare_threshold != 0:
        raw.prepare_threshold = 0  # prepare on first use (the project's cursors only)
    return connection.make_cursor(psycopg.Cursor(raw))


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model) -> str:
    return _q(model._meta.db_table)


def _column(model, name: str) -> str:
    return _q(model._meta.get_field(name).column)


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


# --- the sender -------------------------------------------------------------------------


@functools.cache
def _person_sql(exact: bool) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(Person._meta.concrete_fields)
    email = _column(Person, "email")
    match = f"{email} = %s" if exact else f"UPPER({email}) = UPPER(%s)"
    sql = (
        f"SELECT {', '.join(_q(field.column) for field in fields)} "
        f"FROM {_table(Person)} WHERE {_column(Person, 'is_active')} AND {match} "
        f"ORDER BY {_q(Person._meta.pk.column)} LIMIT 1"
    )
    return sql, fields


def person_by_email(address: str) -> Person | None:
    """The first active person whose e-mail is ``address``: the exact match through the
    e-mail column's index, else in any case through the index on ``UPPER(email)``, as
    ``helpdesk.selectors.people_by_email(address, limit=1)``."""
    address = address.strip()
    if not address:
        return None
    for exact in (True, False):
        sql, fields = _person_sql(exact)
        with _cursor() as cursor:
            cursor.execute(sql, [address])
            row = cursor.fetchone()
        if row is not None:
            values = [
                convert(value) for convert, value in zip(_person_converters(), row, strict=True)
            ]
            return Person.from_db(connection.alias, [field.attname for field in fields], values)
    return None


@functools.cache
def _person_converters() -> tuple:
    """What the ORM does to each column it reads of a person (SQLite's booleans and dates)."""
    converters = []
    for field in Person._meta.concrete_fields:
        column = field.get_col(Person._meta.db_table)
        chain = (
            *connection.ops.get_db_converters(column),
            *column.get_db_converters(connection),
        )
        converters.append(functools.partial(_convert, chain, column))
    return tuple(converters)


def _convert(chain, column, value):
    for converter in chain:
        value = converter(value, column, connection)
    return value
