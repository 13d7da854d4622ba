"""How tickets are shown where an app above tickets knows more: hooks for those apps.

Queue rows: an app that keeps something per ticket (the SLA app: the time left before the due
time, colour-coded) registers a row preparer, called once per queue page with the page's
tickets (one query for all of them, never one per row), which sets attributes the row shows:
``due_text`` and ``due_level`` (``ok``, ``warning``, ``danger``, ``paused``)::

    display.register_queue_rows(sla_queue_rows)

Texts: how the text a ticket received by some channel is shown.

A mail's text carries the quoted history and the sender's signature; the ticket pages show
what the sender wrote and fold the rest away behind a "Show quoted text" toggle. What counts
as quoted depends on the channel (mail clients' reply headers, "-- " signatures), so the app
of the channel registers the splitting function in its ``AppConfig.ready``::

    from tickets import display

    class MailConfig(AppConfig):
        def ready(self):
            display.register_folder(Channel.EMAIL, parsing.split_quoted)

A folder is ``text -> (visible, folded)`` with ``visible + folded == text``. Folding is for
display only: the stored text stays whole (the API, exports and searches see all of it), and
a folder that would lose or change text, or that raises, is ignored for that text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

Folder = Callable[[str], tuple[str, str]]
_folders: dict[str, Folder] = {}
RowPreparer = Callable[[list, object], None]
_row_preparers: list[RowPreparer] = []


def register_queue_rows(preparer: RowPreparer) -> None:
    """Call ``preparer(tickets, user)`` with every queue page's tickets before rendering."""
    if preparer not in _row_preparers:
        _row_preparers.append(preparer)


def prepare_queue_rows(tickets, user) -> None:
    rows = list(tickets)
    if not rows:
        return
    for preparer in _row_preparers:
        try:
            preparer(rows, user)
        except Exception:
            logger.exception("Queue row preparer %s failed; its cells stay plain", preparer)


def register_folder(channel: str, folder: Folder) -> None:
    """Fold texts that came by ``channel`` with ``folder`` (replacing an earlier one)."""
    _folders[channel] = folder


def unregister_folder(channel: str) -> None:
    _folders.pop(channel, None)


def display_parts(text: str, channel: str) -> tuple[str, str]:
    """(what to show, what to fold away) of ``text`` received by ``channel``; the folded part
    is "" when nothing is folded. Blank lines at the seam are trimmed for display."""
    folder = _folders.get(channel)
    if folder is None or not text:
        return text, ""
    try:
        visible, folded = folder(text)
    except Exception:
        logger.exception("Folding a text of channel %s failed; it is shown whole", channel)
        return text, ""
    if visible + folded != text or not folded.strip() or not visible.strip():
        return text, ""
    return visible.rstrip(), folded.strip("\r\n")
