from django import template
from django.template.loader import get_template, render_to_string
from django.utils.safestring import mark_safe

from helpdesk.ui import slot_templates

register = template.Library()

# Set in the context a slot's templates are rendered with: the page's context processors
# have run already (their values are in it), so a slot inside a slot does not run them again.
_PROCESSED = "_slot_context_processed"


@register.simple_tag(takes_context=True)
def render_slot(context, slot):
    """Render every template registered for ``slot`` (see helpdesk.ui).

    On a page rendered with its request, the slot's templates get the page's context as it
    stands, context processors' values included, instead of running every context processor
    again for each of them (the agent's ticket page renders eleven slot templates).
    """
    flat = context.flatten()
    names = slot_templates(slot)
    if isinstance(context, template.RequestContext) or flat.get(_PROCESSED):
        flat[_PROCESSED] = True
        parts = [get_template(name).render(flat) for name in names]
    else:
        request = flat.get("request")
        parts = [render_to_string(name, flat, request=request) for name in names]
    return mark_safe("".join(parts))  # noqa: S308 - rendered templates are autoescaped
