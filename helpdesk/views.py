"""Pages of the core: the portal home and the language switch (sign in/out are Django's)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from helpdesk import services
from helpdesk.forms import LanguageForm
from helpdesk.middleware import LANGUAGE_SESSION_KEY


@login_required
def home(request):
    """The portal home.

    The core does not import ``tickets``: the project-level template pulls the user's open
    tickets in through the ``ticket_tags`` template library, and other apps add notices
    through the ``home_notices`` slot.
    """
    return render(request, "home.html")


@require_POST
def set_language(request):
    """Switch the interface language for this session and remember it in the user's profile."""
    form = LanguageForm(request.POST)
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if not form.is_valid():
        return response
    language = form.cleaned_data["language"]
    request.session[LANGUAGE_SESSION_KEY] = language
    person = getattr(request.user, "person", None) if request.user.is_authenticated else None
    if person is not None:
        services.person_language_set(person=person, language=language)
    translation.activate(language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
