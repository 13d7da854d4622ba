from datetime import timedelta

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from changes import ical, selectors, services

# What a calendar program gets: recent and coming work (a feed is read every few hours).
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=365)


@require_GET
def calendar_feed(request, key: str):
    """The iCalendar feed of the changes the token's owner may see. Calendar programs keep no
    session: the secret in the URL is the authentication; an unknown or revoked one is a 404."""
    token = services.calendar_feed_authenticate(key)
    if token is None:
        raise Http404("feed")
    now = timezone.now()
    changes = selectors.calendar_changes(token.user, start=now - FEED_PAST, end=now + FEED_FUTURE)
    response = HttpResponse(
        ical.changes_to_ical(changes, name=_("Changes")),
        content_type="text/calendar; charset=utf-8",
    )
    response["Cache-Control"] = "private, no-store"
    return response
