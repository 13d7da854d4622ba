"""Extension points for apps that build on tickets (cti, surveys, kb, changes).

``tickets`` never imports those apps. They register a function for an event name in their
``AppConfig.ready``; :func:`emit_on_commit` calls it after the transaction commits, so a
listener never sees (or announces) a change that was rolled back. Listeners receive ids,
not objects, and should hand slow work to a Celery task.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)
_listeners: dict[str, list[Callable[..., None]]] = defaultdict(list)


def register(event: str, listener: Callable[..., None]) -> None:
    if listener not in _listeners[event]:
        _listeners[event].append(listener)


def unregister(event: str, listener: Callable[..., None]) -> None:
    if listener in _listeners[event]:
        _listeners[event].remove(listener)


def emit_on_commit(event: str, ticket_id: int, **data) -> None:
    """Call every listener of ``event`` once the current transaction has committed."""
    if not _listeners.get(event) and not _listeners.get("*"):
        return

    def run():
        for listener in [*_listeners.get(event, []), *_listeners.get("*", [])]:
            try:
                listener(event=event, ticket_id=ticket_id, **data)
            except Exception:
                # One broken listener must not stop the others; the write already committed.
                logger.exception("ticket hook %s failed for %s", listener, event)

    transaction.on_commit(run)
