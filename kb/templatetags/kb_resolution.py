"""The caller's ticket page: the knowledge-base articles linked to a resolved ticket."""

from django import template

from kb import services

register = template.Library()

RESOLVED = ("resolved", "closed")


@register.simple_tag
def resolution_articles(ticket):
    """The published public articles linked to ``ticket`` once it is resolved or closed
    (one query); none before."""
    if ticket is None or getattr(ticket, "status", None) not in RESOLVED:
        return []
    return services.resolution_articles(ticket)
