"""Ticket pages: the self-service portal (``portal``) and the agent console (``console``)."""

from tickets.views.console import (
    caller_search,
    console_action,
    console_comment,
    console_create,
    console_detail,
    console_edit,
    console_queue,
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

__all__ = [
    "attachment_download",
    "caller_search",
    "console_action",
    "console_comment",
    "console_create",
    "console_detail",
    "console_edit",
    "console_queue",
    "my_tickets",
    "ticket_cancel",
    "ticket_close",
    "ticket_create",
    "ticket_created",
    "ticket_detail",
    "ticket_reopen",
    "ticket_reply",
]
