from datetime import datetime

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html

from changes import selectors

register = template.Library()


@register.simple_tag
def ticket_changes(ticket):
    """The changes linked to ``ticket``, newest first (the ticket page's card)."""
    return selectors.changes_for_ticket(ticket)


@register.simple_tag
def change_state_badge(change):
    return format_html(
        '<span class="badge change-state change-state-{}" data-state="{}">{}</span>',
        change.state,
        change.state,
        change.get_state_display(),
    )


@register.simple_tag
def risk_badge(change):
    return format_html(
        '<span class="badge risk-{}" data-risk="{}">{}</span>',
        change.risk,
        change.risk,
        change.get_risk_display(),
    )


@register.filter
def user_name(user):
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


@register.filter
def state_label(value):
    """A stored change state ("awaiting_approval") as its label, in the page's language."""
    from changes.models import State

    try:
        return State(value).label
    except ValueError:
        return value


@register.filter
def change_field_label(name):
    """A change's field name in a timeline line ("planned_start") as its label."""
    from django.core.exceptions import FieldDoesNotExist

    from changes.models import Change

    try:
        return Change._meta.get_field(name).verbose_name
    except FieldDoesNotExist:
        return name


@register.filter
def change_value(value):
    """A timeline value as the reader reads it: stored date-times (ISO, with their offset)
    in the reader's time zone and format; anything else as stored."""
    if not value or not isinstance(value, str) or len(value) < 16 or value[4] != "-":
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
