"""Pages of the core: the portal home, the language switch and the user's API tokens
(sign in/out are Django's)."""

from __future__ import annotations

import logging

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk import selectors, services
from helpdesk.errors import ValidationError
from helpdesk.forms import ApiTokenForm, LanguageForm
from helpdesk.middleware import LANGUAGE_SESSION_KEY
from helpdesk.roles import is_staff_member, landing_url

logger = logging.getLogger("helpdesk.accounts")


@login_required
def home(request, *, portal: bool = False):
    """``/``: the portal home for end users; staff are sent where their work is
    (``roles.landing_url``). ``/portal/`` (``portal=True``) is the portal home for everyone:
    staff are callers of their own tickets too.

    The core does not import ``tickets``: the project-level template pulls the user's open
    tickets in through the ``ticket_tags`` template library, and other apps add notices
    through the ``home_notices`` slot.
    """
    if not portal and is_staff_member(request.user):
        return redirect(landing_url(request.user))
    return render(request, "home.html")


class LoginView(auth_views.LoginView):
    """Django's sign-in; without a ``next`` the user lands where their work is."""

    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return landing_url(self.request.user)


def favicon(request):
    """``/favicon.ico``, which browsers ask for on their own: the icon in the static files."""
    response = HttpResponseRedirect(static("img/favicon.svg"))
    response["Cache-Control"] = "max-age=86400"
    return response


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


# The key of a token just made waits in the (server-side) session for the page after the
# redirect, which shows it once: a reload of the answer to the POST would make another token.
NEW_TOKEN_SESSION_KEY = "helpdesk_new_api_token"


@never_cache  # the page after a creation carries the key
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """The user's API tokens: make one (its key is shown this once), see and revoke them."""
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = services.api_token_create(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "key": key}
            return redirect("api_tokens")
    created = key = None
    new = request.session.pop(NEW_TOKEN_SESSION_KEY, None) if request.method == "GET" else None
    tokens = selectors.api_token_list_for(request.user)
    if new:
        created = next((token for token in tokens if token.pk == new["id"]), None)
        key = new["key"] if created else None
    context = {"form": form, "created": created, "key": key, "tokens": tokens}
    status = 400 if request.method == "POST" else 200
    return render(request, "account/api_tokens.html", context, status=status)


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    token = selectors.api_token_get_for(request.user, token_id)
    services.api_token_revoke(token=token, by=request.user)
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("api_tokens")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's page for the mailed link. A password set this way also lifts a sign-in
    lockout of that user name: who proved they read the account's mail may sign in."""

    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        removed = axes_reset(username=form.user.get_username())
        logger.info(
            "password of %s reset by e-mail link; %s sign-in lockout entries lifted",
            form.user.get_username(),
            removed,
        )
        return response
