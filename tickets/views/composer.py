"""The console composer's helpers: canned replies filled for a ticket, colleagues to @mention."""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET

from tickets import selectors, services
from tickets.models import CannedReply
from tickets.views.common import staff_required, ticket_or_404


@staff_required
@require_GET
def canned_reply_fill(request, number, pk):
    """A canned reply's text with its placeholders filled for this ticket (JSON ``text``).

    A reply of another group than the ticket's, an inactive one, or a ticket the user may
    not see is a 404."""
    ticket = ticket_or_404(request.user, number)
    try:
        reply = selectors.canned_reply_get_for(ticket, pk)
    except CannedReply.DoesNotExist:
        raise Http404 from None
    text = services.canned_reply_render(reply=reply, ticket=ticket, agent=request.user)
    return JsonResponse({"id": reply.pk, "title": reply.title, "text": text})


@staff_required
@require_GET
def colleague_search(request):
    """Colleagues who may work tickets whose login or name starts with ``q`` (at most 10),
    for the @ autocomplete of work notes: ``{"results": [{"login", "name"}]}``."""
    prefix = request.GET.get("q", "")[:150]
    results = []
    for user in selectors.colleagues_matching(prefix):
        person = getattr(user, "person", None)
        name = (person.full_name if person else "") or user.get_full_name() or user.username
        results.append({"login": user.username, "name": name})
    return JsonResponse({"results": results})
