"""Apply the signed-in person's preferred language and time zone to each request."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone, translation

LANGUAGE_SESSION_KEY = "helpdesk_language"


class UserPreferencesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        person = None
        if request.user.is_authenticated:
            person = getattr(request.user, "person", None)
        # An explicit choice in this session (the language switcher) beats the profile.
        language = (
            request.session.get(LANGUAGE_SESSION_KEY) if hasattr(request, "session") else None
        )
        if not language and person is not None:
            language = person.language
        if language in self.supported:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        zone = (
            (person.time_zone or (person.site.time_zone if person.site_id else ""))
            if person
            else ""
        )
        if zone:
            try:
                timezone.activate(ZoneInfo(zone))
            except ZoneInfoNotFoundError:
                timezone.deactivate()
        else:
            timezone.deactivate()
        response = self.get_response(request)
        if language in self.supported:
            response.headers.setdefault("Content-Language", language)
        return response
