"""Template helpers of the console's composer (canned replies, @mentions) and of upload fields."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from helpdesk.models import Person
from tickets import display, selectors, uploads
from tickets.models import CommentMention

register = template.Library()


@register.simple_tag
def canned_reply_choices(ticket):
    """The canned replies offered on ``ticket`` as (label of the caller's language, the
    replies in it, the others); one query."""
    language = ticket.caller.language or ""
    replies = selectors.canned_replies_for(ticket)
    preferred = [reply for reply in replies if reply.language == language]
    others = [reply for reply in replies if reply.language != language]
    label = dict(Person.Language.choices).get(language, language)
    return {"language": label, "preferred": preferred, "others": others}


@register.simple_tag
def ticket_mentions(ticket) -> dict[int, set[str]]:
    """The logins (lower-case) each comment of ``ticket`` mentions, by comment id; one query."""
    mentions: dict[int, set[str]] = {}
    rows = CommentMention.objects.filter(comment__ticket=ticket).values_list(
        "comment_id", "user__username"
    )
    for comment_id, login in rows:
        mentions.setdefault(comment_id, set()).add(login.lower())
    return mentions


_MENTION_HTML = re.compile(r"(?<![\w@.+-])@([\w][\w.+-]*)")


@register.simple_tag
def note_text(comment, mentions):
    """A comment's text as ``folded_text`` shows it, with the colleagues it mentions
    (``mentions`` from :func:`ticket_mentions`) highlighted."""
    logins = mentions.get(comment.pk) if mentions else None
    visible, folded = display.display_parts(comment.body or "", comment.channel)
    html = escape(visible)
    if logins:

        def highlight(match):
            login = match[1].rstrip(".-")
            if login.lower() not in logins:
                return match[0]
            rest = match[1][len(login) :]
            return (
                '<span class="mention rounded px-1 bg-primary-subtle text-primary-emphasis"'
                f' data-mention="{login}">@{login}</span>{rest}'
            )

        # Logins are word characters and .+-, which escaping leaves as they are.
        html = _MENTION_HTML.sub(highlight, html)
    html = mark_safe(html)  # noqa: S308 (escaped above; the spans hold only login characters)
    if not folded:
        return html
    return format_html(
        '{}<details class="quoted-text"><summary>{}</summary>{}</details>',
        html,
        _("Show quoted text"),
        folded,
    )


@register.simple_tag
def upload_limits():
    """The allowed file types and sizes, from the settings (``tickets.uploads``)."""
    return uploads.upload_limits()


@register.inclusion_tag("tickets/partials/_upload_field.html")
def upload_field(field):
    """A file field with what it accepts said before it (types, size, number of files)."""
    limits = uploads.upload_limits()
    widget = field.field.widget
    attrs = {
        "accept": limits.accept,
        "class": "form-control form-control-sm",
        "aria-describedby": f"{field.auto_id}-limits",
    }
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] += f" {field.auto_id}-errors"
    return {
        "field": field,
        "limits": limits,
        "input": field.as_widget(widget=widget, attrs=attrs),
    }
