from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from helpdesk.ui import slot_templates

register = template.Library()


@register.simple_tag(takes_context=True)
def render_slot(context, slot):
    """Render every template registered for ``slot`` (see helpdesk.ui)."""
    flat = context.flatten()
    request = flat.get("request")
    parts = [render_to_string(name, flat, request=request) for name in slot_templates(slot)]
    return mark_safe("".join(parts))  # noqa: S308 - rendered templates are autoescaped
