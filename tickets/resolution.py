"""What other apps add to a ticket's resolution notes when it is resolved.

The resolution notes are what the caller reads (the portal, the resolution mail) and what
later readers of the ticket follow. An app that keeps something the resolution should name
(the knowledge base: the articles linked to the ticket) registers a provider in its
``AppConfig.ready``::

    from tickets import resolution

    class KbConfig(AppConfig):
        def ready(self):
            resolution.register_references(services.resolution_references)

``provider(ticket, notes)`` answers the lines to append to ``notes`` (leaving out what the
notes already name). It runs inside :func:`tickets.services.ticket_resolve`'s transaction,
before the notes are saved and the ``transitioned`` event carries them: a listener of that
event would come after the commit, too late for the notes the mail and the event carry. A
provider that raises is logged and left out; the resolution goes ahead without its lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

Provider = Callable[[object, str], list[str]]
_providers: list[Provider] = []


def register_references(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def notes_with_references(ticket, notes: str) -> str:
    """``notes`` with every provider's lines appended after a blank line."""
    lines: list[str] = []
    for provider in _providers:
        try:
            # A savepoint: a provider's failed query must not break the resolution's
            # transaction.
            with transaction.atomic():
                lines.extend(line for line in provider(ticket, notes) if line.strip())
        except Exception:
            logger.exception("Resolution reference provider %s failed", provider)
    if not lines:
        return notes
    return "\n".join([notes, "", *lines])
