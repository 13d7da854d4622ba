"""Written-out SQL for hot paths (``cti/statements.py`` for rings, ``mail/statements.py`` for
mail): the cursor they run on and the quoting of names taken from the models."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection


def prepared_cursor():
    """A cursor for written-out statements: Django's cursor wrapper (transactions, error
    classes, query logging), around a server-side binding cursor on PostgreSQL so that each
    statement is prepared once per connection. Parsing and planning them anew took most of
    PostgreSQL's time for a ring: the caller lookup answered in 0.32 ms unprepared and 0.05 ms
    prepared. Only these statements are prepared: the ORM's cursors bind on the client side,
    which never prepares. While queries are logged (DEBUG, tests counting queries) Django's
    own cursor is used, which logs the SQL text; the statements are the same."""
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = connection.connection
    if raw.prepare_threshold != 0:
        raw.prepare_threshold = 0  # prepare on first use (the project's cursors only)
    return connection.make_cursor(psycopg.Cursor(raw))


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    """The model's table name, quoted."""
    return quoted(model._meta.db_table)


def column(model, name: str) -> str:
    """The column of the model's field ``name``, quoted."""
    return quoted(model._meta.get_field(name).column)


def _fields(model, names: tuple[str, ...] | None):
    """The concrete fields of ``model`` (those named by ``names``, by name or attname), in the
    model's order: the order ``Model.from_db`` takes values in."""
    fields = model._meta.concrete_fields
    if names is None:
        return fields
    unknown = set(names) - {field.name for field in fields} - {field.attname for field in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    return tuple(field for field in fields if field.name in names or field.attname in names)


def columns(model, alias: str, names: tuple[str, ...] | None = None) -> str:
    """The select list of ``model``'s columns (all, or the fields ``names``) under ``alias``,
    in the model's order, the order :func:`instance` reads them in."""
    return ", ".join(f"{alias}.{quoted(field.column)}" for field in _fields(model, names))


@functools.cache
def _shape(model, names: tuple[str, ...] | None) -> tuple[tuple[str, ...], tuple]:
    """The attnames of the columns :func:`columns` selects and what the ORM does to each
    value it reads (SQLite's booleans and dates, JSON)."""
    converters = []
    fields = _fields(model, names)
    for field in fields:
        column = field.get_col(model._meta.db_table)
        chain = (
            *connection.ops.get_db_converters(column),
            *column.get_db_converters(connection),
        )
        converters.append(functools.partial(_convert, chain, column))
    return tuple(field.attname for field in fields), tuple(converters)


def _convert(chain, column, value):
    for converter in chain:
        value = converter(value, column, connection)
    return value


def converted(model, row: Sequence, names: tuple[str, ...] | None = None) -> tuple[list, tuple]:
    """The values of ``row`` (the columns :func:`columns` selected) as the ORM reads them, and
    their attnames."""
    attnames, converters = _shape(model, names)
    return [convert(value) for convert, value in zip(converters, row, strict=True)], attnames


def instance(model, row: Sequence, names: tuple[str, ...] | None = None):
    """A ``model`` instance from the columns :func:`columns` selected, as the ORM makes it
    (the fields not among ``names`` are deferred)."""
    values, attnames = converted(model, row, names)
    return model.from_db(connection.alias, attnames, values)
