"""Ticket pages. The portal and console issue fills this in; attachment download lives here."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse

from tickets import selectors
from tickets.models import Attachment, Ticket


@login_required
def attachment_download(request, pk):
    """Serve an attachment to someone who may see its ticket, always as a download."""
    try:
        attachment = selectors.attachment_get_for(request.user, pk)
    except Attachment.DoesNotExist:
        raise Http404 from None
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def ticket_detail(request, number):
    try:
        ticket = selectors.ticket_get_for(request.user, number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None
    return HttpResponse(str(ticket))
