"""Template helpers of the ticket pages (also used by the project's home page)."""

from __future__ import annotations

from urllib.parse import quote

from django import template
from django.contrib.auth import get_user_model
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from tickets import display, transitions
from tickets.models import OPEN_STATUSES, Ticket, TimelineEntry

register = template.Library()

HOME_TICKET_LIMIT = 10


@register.simple_tag(takes_context=True)
def my_open_tickets(context):
    """The signed-in user's open tickets as caller, newest change first (one query)."""
    request = context.get("request")
    person = getattr(getattr(request, "user", None), "person", None)
    if person is None:
        return []
    return list(
        Ticket.objects.filter(caller=person, status__in=OPEN_STATUSES)
        .only("number", "title", "status", "updated_at")
        .order_by("-updated_at")[:HOME_TICKET_LIMIT]
    )


@register.simple_tag(takes_context=True)
def queue_rows(context, tickets, can_bulk):
    """The console queue's rows, rendered by Jinja2 (``tickets/jinja2/.../queue_rows.html``):
    50 rows in the Django template language were most of the queue page's CPU (bench/speed.py,
    docs/benchmarks.md). The same markup as before; labels translated here."""
    detail = reverse("tickets:console_detail", args=["NUMBER"])
    html = get_template(QUEUE_ROWS_TEMPLATE, using="jinja2").render(
        {
            "tickets": tickets,
            "can_bulk": can_bulk,
            "detail_url": lambda number: detail.replace("NUMBER", quote(number)),
            "truncate": lambda text: Truncator(text).chars(60),
            "labels": {
                "select": _("Select %(number)s"),
                "watched": _("You watch this ticket"),
                "tags": _("Tags"),
                "vip": _("VIP"),
                "due": _("due"),
            },
        }
    )
    return mark_safe(html)  # noqa: S308 - rendered by Jinja2 with autoescaping on


QUEUE_ROWS_TEMPLATE = "tickets/console/queue_rows.html"


@register.simple_tag
def state_badge(ticket):
    return format_html(
        '<span class="badge badge-state state-{}">{}</span>',
        ticket.status,
        ticket.get_status_display(),
    )


@register.simple_tag
def priority_badge(ticket):
    return format_html(
        '<span class="badge priority-{}">{}</span>', ticket.priority, ticket.get_priority_display()
    )


def person_name(user) -> str:
    """How a user is named on a page: their directory entry's full name, else the login's
    full name, else the login. Reads ``user.person`` as loaded (``select_related``)."""
    person = getattr(user, "person", None)
    if person is not None and person.full_name:
        return person.full_name
    return user.get_full_name() or user.get_username()


def _actor(entry) -> str:
    if entry.actor is None:
        return _("the system")
    return person_name(entry.actor)


# Timeline fields whose values are logins (stored as the user's ``str``: the username).
_USER_FIELDS = frozenset(
    field.name
    for field in Ticket._meta.get_fields()
    if field.is_relation and field.many_to_one and field.related_model is get_user_model()
)


@register.filter
def timeline_words(entries):
    """The timeline ready to be told, as a list: logins in field changes become people's
    names (one query for all the rows, none without such rows), and a transfer or an
    escalation is told by its group change, whose own line it takes over."""
    entries = list(entries)
    logins = {
        value
        for entry in entries
        if entry.kind == TimelineEntry.Kind.FIELD_CHANGE and entry.field in _USER_FIELDS
        for value in (entry.old_value, entry.new_value)
        if value
    }
    names = {}
    if logins:
        users = get_user_model().objects.filter(username__in=logins).select_related("person")
        names = {user.get_username(): person_name(user) for user in users}
    told = []
    taken_over = set()
    for index, entry in enumerate(entries):
        if entry.pk in taken_over:
            continue
        if entry.kind == TimelineEntry.Kind.FIELD_CHANGE and entry.field in _USER_FIELDS:
            entry.old_words = names.get(entry.old_value, entry.old_value)
            entry.new_words = names.get(entry.new_value, entry.new_value)
        elif entry.kind in (TimelineEntry.Kind.TRANSFER, TimelineEntry.Kind.ESCALATION):
            # The service writes the field changes of a transition right after it.
            for later in entries[index + 1 :]:
                if later.kind != TimelineEntry.Kind.FIELD_CHANGE:
                    break
                if later.field == "group":
                    entry.old_words, entry.new_words = later.old_display, later.new_display
                    taken_over.add(later.pk)
                    break
        told.append(entry)
    return told


@register.simple_tag
def actor_name(entry):
    return _actor(entry)


@register.simple_tag
def history_sentence(entry):
    """A state change told in plain words, for the caller (no names of internal groups)."""
    if entry.kind == TimelineEntry.Kind.CREATED:
        return _("Your ticket was registered.")
    declared = transitions.get(entry.transition)
    if declared is not None:
        return str(declared.history)
    return _("The state changed to “%(state)s”.") % {"state": entry.new_display}


@register.simple_tag
def timeline_sentence(entry):
    """One timeline line for agents: what happened, with old -> new where it applies."""
    kind = entry.kind
    if kind == TimelineEntry.Kind.CREATED:
        return _("Created the ticket")
    # Names for logins and a transfer's groups, when the list went through timeline_words.
    old = getattr(entry, "old_words", None) or entry.old_display
    new = getattr(entry, "new_words", None) or entry.new_display
    if kind == TimelineEntry.Kind.FIELD_CHANGE:
        field = entry.field_label
        return _("Changed %(field)s: %(old)s → %(new)s") % {
            "field": field,
            "old": old or "—",
            "new": new or "—",
        }
    if kind == TimelineEntry.Kind.ATTACHMENT:
        return _("Attached %(name)s") % {"name": entry.new_value}
    if kind == TimelineEntry.Kind.NOTE:
        return _("Work note")
    if kind == TimelineEntry.Kind.COMMENT:
        return _("Public reply")
    label = {
        TimelineEntry.Kind.TRANSFER: _("Transferred"),
        TimelineEntry.Kind.ESCALATION: _("Escalated"),
    }.get(kind, _("State"))
    if old == new:
        # A transition that kept the state (an escalation of a new ticket) and moved nothing
        # the list could find: "Escalated: New → New" says nothing.
        return str(label)
    return _("%(label)s: %(old)s → %(new)s") % {
        "label": label,
        "old": old or "—",
        "new": new or "—",
    }


@register.simple_tag
def sort_link(current, key):
    """The sort value a column header links to: ascending first, then descending."""
    return f"-{key}" if current == key else key


@register.simple_tag
def sort_indicator(current, key):
    if current == key:
        return "▲"
    if current == f"-{key}":
        return "▼"
    return ""


@register.filter
def aria_sort(current, key):
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"


@register.filter
def bs(field):
    """A bound field's widget with Bootstrap classes and its error state for screen readers."""
    widget = field.field.widget
    input_type = getattr(widget, "input_type", "")
    if input_type == "checkbox":
        css = "form-check-input"
    elif input_type == "select" or widget.__class__.__name__.endswith("Select"):
        css = "form-select form-select-sm"
    else:
        css = "form-control form-control-sm"
    attrs = {"class": css}
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{field.auto_id}-errors"
    elif field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}-help"
    if field.field.show_hidden_initial:
        # What the page showed travels with the input, as ``{{ field }}`` would render it.
        return field.as_widget(attrs=attrs) + field.as_hidden(only_initial=True)
    return field.as_widget(attrs=attrs)


@register.simple_tag
def folded_text(text, channel):
    """``text`` received by ``channel`` with its quoted history and signature folded behind a
    "Show quoted text" toggle (``tickets.display``); on one line, for pre-wrapped blocks."""
    visible, folded = display.display_parts(text or "", channel)
    if not folded:
        return visible
    return format_html(
        '{}<details class="quoted-text"><summary>{}</summary>{}</details>',
        visible,
        _("Show quoted text"),
        folded,
    )
