from django import template
from django.utils.translation import gettext_lazy as _

from kb import selectors, text

register = template.Library()

TRANSITION_LABELS = {
    "submit": _("Submit for review"),
    "publish": _("Publish"),
    "send_back": _("Send back to the author"),
    "retire": _("Retire"),
    "revise": _("Revise (back to draft)"),
}


@register.filter
def markdown(source: str):
    """An article's Markdown as sanitised HTML."""
    return text.render_markdown(source or "")


@register.simple_tag
def transition_label(name: str) -> str:
    return TRANSITION_LABELS.get(name, name)


@register.simple_tag
def ticket_kb_links(ticket):
    """The articles linked to ``ticket`` (one query)."""
    return selectors.ticket_articles(ticket)


BOARD_SIZE = 5


@register.simple_tag(takes_context=True)
def bulletin_board(context, limit: int = BOARD_SIZE):
    """The announcements the request's user reads now, pinned first (one query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None:
        return []
    return list(selectors.announcements_for(user)[:limit])


SEVERITY_CLASSES = {"info": "info", "warning": "warning", "critical": "danger"}


@register.filter
def severity_class(announcement) -> str:
    """The Bootstrap colour of an announcement's severity."""
    return SEVERITY_CLASSES.get(announcement.severity, "info")
