"""What the ticket pages show of a ticket's relations: merges, related tickets, watchers,
tags. The partials read them through these tags, so the pages' views need not."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from helpdesk.roles import can_work_tickets, is_staff_member
from tickets import selectors

register = template.Library()


@dataclass
class Relations:
    related: list = field(default_factory=list)
    merged: list = field(default_factory=list)
    watchers: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    watching: bool = False
    # The colleagues who may be added as watchers, as the select's <option>s (up to 200 of
    # them on every page: made here, not by a template loop over 200 users).
    colleague_options: str = ""


@register.simple_tag(takes_context=True)
def ticket_relations(context, ticket) -> Relations:
    """The sidebar's relations of ``ticket`` for staff (nothing for anyone else)."""
    user = context["request"].user
    if not is_staff_member(user):
        return Relations()
    watchers = selectors.ticket_watchers(ticket)
    watcher_ids = {watcher.pk for watcher in watchers}
    colleague_options = ""
    if can_work_tickets(user):
        colleagues = (
            selectors.ticket_workers()
            .exclude(pk__in=watcher_ids | {user.pk})
            .order_by("first_name", "last_name", "username")
            .values_list("pk", "first_name", "last_name", "username")[:200]
        )
        # The name as User.get_full_name() gives it, else the login.
        colleague_options = format_html_join(
            "",
            '<option value="{}">{}</option>',
            (
                (pk, f"{first} {last}".strip() or username)
                for pk, first, last, username in colleagues
            ),
        )
    return Relations(
        related=selectors.related_tickets(ticket),
        # merged_into too: the related manager sets it on each row (a query per row if deferred).
        merged=list(ticket.merged.only("number", "title", "status", "merged_into").order_by("pk")),
        watchers=watchers,
        tags=list(ticket.tags.order_by("name").values_list("name", flat=True)),
        watching=user.pk in watcher_ids,
        colleague_options=colleague_options,
    )


@register.simple_tag(takes_context=True)
def merged_into(context, ticket, page="console"):
    """“Merged into <number>” for a merged ticket: a link where the reader may open the
    ticket that continues, else the number alone (a caller learns no more of another
    caller's ticket than its number). Empty for a ticket that was not merged."""
    found = selectors.merged_into_for(context["request"].user, ticket)
    if found is None:
        return ""
    number, visible = found
    if not visible:
        return format_html(
            '<span data-testid="merged-into">{}</span>',
            _("Merged into %(number)s") % {"number": number},
        )
    url_name = "tickets:console_detail" if page == "console" else "tickets:detail"
    return format_html(
        '<span data-testid="merged-into">{} <a href="{}">{}</a></span>',
        _("Merged into"),
        reverse(url_name, kwargs={"number": number}),
        number,
    )
