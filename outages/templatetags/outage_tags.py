from django import template

from outages import selectors

register = template.Library()


@register.simple_tag
def active_outage_of(ticket):
    """The active outage whose incident is ``ticket`` or its parent (no query: the
    snapshot of active outages)."""
    if ticket is None:
        return None
    for outage in selectors.active_snapshot().outages:
        if outage.parent_ticket_id in (ticket.pk, ticket.parent_id):
            return outage
    return None
