from django import template
from django.template.loader import render_to_string
from django.urls import reverse

from surveys import selectors, services

register = template.Library()


@register.simple_tag(takes_context=True)
def survey_portal_card(context):
    """The portal ticket page's survey card for the ticket's caller (one query), or nothing."""
    ticket, request = context.get("ticket"), context.get("request")
    if ticket is None or request is None:
        return ""
    card = selectors.portal_card(ticket, request.user)
    if card is None:
        return ""
    token = services.invitation_token(card["invitation"])
    return render_to_string(
        "surveys/partials/_portal_card.html",
        {"card": card, "url": reverse("surveys:answer", kwargs={"token": token})},
        request=request,
    )


@register.simple_tag
def ticket_survey(ticket):
    """The ticket's survey for the agent's ticket page (two queries), or None."""
    return selectors.ticket_survey(ticket)
