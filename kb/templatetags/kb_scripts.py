"""Template tags of the diagnostic scripts, for the slots on the ticket page."""

from django import template

from kb import scripts

register = template.Library()


def _runs(ticket) -> list:
    cached = getattr(ticket, "_kb_script_runs", None)
    if cached is None:
        cached = ticket._kb_script_runs = scripts.runs_for_ticket(ticket)
    return cached


@register.simple_tag
def ticket_scripts(ticket):
    """The scripts matching the ticket (category, service) and the runs made on it; read
    once per request (the ticket's card and the telephone widget both show them)."""
    cached = getattr(ticket, "_kb_script_info", None)
    if cached is None:
        cached = ticket._kb_script_info = {
            "scripts": list(scripts.scripts_for_ticket(ticket)),
            "runs": _runs(ticket),
        }
    return cached


@register.simple_tag
def escalated_script_run(ticket):
    """The run that escalated the ticket, from the runs the page reads once."""
    return scripts.escalated_among(_runs(ticket))
