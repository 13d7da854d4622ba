from django import template

from cti.models import Call

register = template.Library()


@register.simple_tag
def ticket_calls(ticket, limit=20):
    """The calls linked to ``ticket``, newest first (for the ticket page's sidebar)."""
    if ticket is None or not getattr(ticket, "pk", None):
        return []
    return list(
        Call.objects.filter(tickets=ticket)
        .select_related("answered_by__person")
        .order_by("-started_at")[:limit]
    )


@register.filter
def duration(seconds):
    """``75`` -> ``1:15``; empty for None."""
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


@register.filter
def is_missed(call) -> bool:
    """A missed or abandoned call (the ones the call log asks someone to handle)."""
    return call.outcome in (Call.Outcome.MISSED, Call.Outcome.ABANDONED)


@register.filter
def call_number(call) -> str:
    """The caller's number as people read it (``+48 22 555 01 01``)."""
    from cti.notify import number_display

    return number_display(call)


@register.filter
def person_name(user) -> str:
    """An agent as people know them: person's full name, else account name, else login."""
    from cti.selectors import user_display_name

    return user_display_name(user)
