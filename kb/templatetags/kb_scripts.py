"""Template tags of the diagnostic scripts, for the slots on the ticket page."""

from django import template

from kb import scripts

register = template.Library()


@register.simple_tag
def ticket_scripts(ticket):
    """The scripts matching the ticket (category, service) and the runs made on it."""
    return {
        "scripts": list(scripts.scripts_for_ticket(ticket)),
        "runs": scripts.runs_for_ticket(ticket),
    }


@register.simple_tag
def escalated_script_run(ticket):
    return scripts.escalated_run(ticket)
