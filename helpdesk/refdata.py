"""Reference data kept in each process: support groups, services, categories and sites, and
the small tables an app registers with :func:`keep` (the SLA policies, thresholds and
calendars every ticket event reads).

Almost every console page and API answer names a ticket's group, service and category and
offers them in selects: the agent's ticket page read these small tables six times, in six
queries (issue 19). They change a few times a year, by an administrator. Each process keeps
every row of them and reads them again when they change:

- a save or delete of one of them (the admin, the API, ``seed_demo``) moves a version token
  in the cache on at once and again when its transaction commits;
- a process reads the token at most every :data:`CHECK_SECONDS`, and reloads a table on its
  next use when the token has moved. With a shared cache (Redis, production) a change made
  in another process is seen within that time; with the embedded default's cache of each
  process's own, a process reloads after :data:`MAX_AGE_SECONDS` whatever the token says.
- whatever happens, a process reads them again after :data:`SHARED_MAX_AGE_SECONDS`: a
  change nobody heard of (below), or rows read inside a transaction that saved one of them
  and then rolled back, live that long at most.

Rows handed out by :func:`rows`, :func:`by_pk` and :func:`active` are shared by every
request of the process: read them, never change or save them. :func:`get` and
:func:`attach` hand out copies.

A change made without saving through the ORM (``QuerySet.update()``, SQL) is not heard:
call :func:`changed` after it.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction

VERSION_KEY = "refdata:version"
CHECK_SECONDS = 1.0
MAX_AGE_SECONDS = 10.0
SHARED_MAX_AGE_SECONDS = 300.0

_lock = threading.Lock()
_tables: dict[type[models.Model], tuple[list, dict]] = {}
_state = {"token": None, "checked": 0.0, "loaded": 0.0}


_kept: list[type[models.Model]] = []


def keep(*kept_models: type[models.Model]) -> None:
    """Keep the rows of ``kept_models`` in each process, read again when one of them is saved
    or deleted through the ORM. Called from an ``AppConfig.ready`` for small tables that
    administrators change rarely and that requests read often; calling it again is harmless.
    """
    from django.db.models.signals import post_delete, post_save

    for model in kept_models:
        if model not in _kept:
            _kept.append(model)
        for signal in (post_save, post_delete):
            signal.connect(changed_on_save, sender=model, dispatch_uid=f"refdata:{model}:{signal}")


def reference_models() -> tuple[type[models.Model], ...]:
    """Every model whose rows are kept: the core's four and those apps registered."""
    return tuple(_kept)


def _shared_cache() -> bool:
    return "locmem" not in settings.CACHES["default"]["BACKEND"].lower()


def version_token(key: str) -> str:
    """The version token kept in the cache under ``key`` (made if there is none): data kept
    by each process is read again when it has moved (:func:`move_token`)."""
    token = cache.get(key)
    if token is None:
        cache.add(key, secrets.token_hex(8), timeout=None)
        token = cache.get(key) or ""
    return token


def move_token(key: str) -> None:
    """Move the version token under ``key`` on: every process reads its data again."""
    cache.set(key, secrets.token_hex(8), timeout=None)


def _token() -> str:
    return version_token(VERSION_KEY)


def _check() -> None:
    now = time.monotonic()
    if now - _state["checked"] < CHECK_SECONDS:
        return
    token = _token()
    max_age = SHARED_MAX_AGE_SECONDS if _shared_cache() else MAX_AGE_SECONDS
    too_old = now - _state["loaded"] > max_age
    with _lock:
        if token != _state["token"] or too_old:
            _tables.clear()
            _state["token"] = token
            _state["loaded"] = now
        _state["checked"] = now


def _table(model: type[models.Model]) -> tuple[list, dict]:
    _check()
    table = _tables.get(model)
    if table is None:
        found = list(model._default_manager.all())  # the model's own ordering
        table = (found, {row.pk: row for row in found})
        with _lock:
            _tables[model] = table
    return table


def rows(model: type[models.Model]) -> list:
    """Every row of ``model`` in its default ordering, shared: read only."""
    return _table(model)[0]


def by_pk(model: type[models.Model]) -> dict:
    """The kept rows of ``model`` by primary key, shared: read only."""
    return _table(model)[1]


def active(model: type[models.Model], *, order_by: str | None = None, **equal) -> list:
    """The kept rows of ``model`` whose ``is_active`` is set and whose fields equal
    ``equal``, in the model's ordering or by the field ``order_by`` (shared: read only)."""
    found = [
        row
        for row in rows(model)
        if row.is_active and all(getattr(row, name) == value for name, value in equal.items())
    ]
    if order_by:
        found.sort(key=lambda row: getattr(row, order_by))
    return found


def get(model: type[models.Model], pk):
    """A copy of the row of ``model`` with primary key ``pk``, or None."""
    found = _table(model)[1].get(pk)
    return copy.copy(found) if found is not None else None


def attach(instance: models.Model, *fields: str) -> None:
    """Set the related objects behind ``instance``'s foreign keys ``fields`` from the kept
    rows, as ``select_related`` would; a key not (yet) among them loads as usual."""
    for name in fields:
        field = instance._meta.get_field(name)
        pk = getattr(instance, field.attname)
        if pk is None:
            field.set_cached_value(instance, None)
            continue
        found = get(field.related_model, pk)
        if found is not None:
            field.set_cached_value(instance, found)


def changed(**_kwargs) -> None:
    """Every process reads the reference tables again (this one at once)."""
    move_token(VERSION_KEY)
    clear()


def changed_on_save(**_kwargs) -> None:
    """Signal receiver: forget now (this transaction's own reads see the change) and again
    when the transaction commits (another process may have read the old rows meanwhile)."""
    changed()
    transaction.on_commit(changed)


def clear() -> None:
    """Forget this process's rows (the tests, between one test's data and the next)."""
    with _lock:
        _tables.clear()
        _state["token"] = None
        _state["checked"] = 0.0
