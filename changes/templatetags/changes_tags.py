from django import template

from changes import selectors

register = template.Library()


@register.simple_tag
def ticket_changes(ticket):
    """The changes linked to ``ticket``, newest first (the ticket page's card)."""
    return selectors.changes_for_ticket(ticket)
