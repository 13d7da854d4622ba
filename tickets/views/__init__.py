"""Ticket pages: the self-service portal (``portal``) and the agent console (``console``)."""

from tickets.views.composer import canned_reply_fill, colleague_search
from tickets.views.console import (
    caller_search,
    console_action,
    console_comment,
    console_create,
    console_detail,
    console_edit,
)
from tickets.views.portal import (
    attachment_download,
    my_tickets,
    ticket_cancel,
    ticket_close,
    ticket_create,
    ticket_created,
    ticket_detail,
    ticket_reopen,
    ticket_reply,
)
from tickets.views.queue import (
    console_bulk,
    console_queue,
    saved_view_delete,
    saved_view_open,
    saved_view_rename,
    saved_views,
)
from tickets.views.relations import (
    tag_suggestions,
    ticket_link_add,
    ticket_link_remove,
    ticket_tags,
    ticket_unwatch,
    ticket_watch,
)

__all__ = [
    "attachment_download",
    "caller_search",
    "canned_reply_fill",
    "colleague_search",
    "console_action",
    "console_bulk",
    "console_comment",
    "console_create",
    "console_detail",
    "console_edit",
    "console_queue",
    "my_tickets",
    "saved_view_delete",
    "saved_view_open",
    "saved_view_rename",
    "saved_views",
    "tag_suggestions",
    "ticket_cancel",
    "ticket_close",
    "ticket_create",
    "ticket_created",
    "ticket_detail",
    "ticket_link_add",
    "ticket_link_remove",
    "ticket_reopen",
    "ticket_reply",
    "ticket_tags",
    "ticket_unwatch",
    "ticket_watch",
]
