"""The survey page (from the signed link, no sign-in), and the managers' results with the
follow-up of low ratings.

A link that was altered is a 400 page, an expired one a 410 page: both say what happened in
plain words, never an error page. The results need ``tickets.view_reports`` (403 else)."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.errors import ValidationError
from helpdesk.middleware import LANGUAGE_SESSION_KEY
from surveys import selectors, services
from surveys.forms import FollowUpForm, ResultsFilterForm, SurveyForm
from surveys.models import SurveyResponse, SurveySettings
from tickets.selectors import ticket_workers


def _link_problem(request, *, expired: bool):
    return render(
        request,
        "surveys/link_problem.html",
        {"expired": expired},
        status=410 if expired else 400,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def survey_answer(request, token: str):
    """The survey of the invitation the link names: the form, or the thanks with the
    answers given (changeable for 12 hours: ``?change=1`` opens the form again)."""
    try:
        invitation = services.invitation_from_token(token)
    except services.SurveyLinkExpired:
        return _link_problem(request, expired=True)
    except services.SurveyLinkInvalid:
        return _link_problem(request, expired=False)
    _speak_the_callers_language(request, invitation)
    response = invitation.cached_response
    config = SurveySettings.load()
    now = timezone.now()
    locked = response is not None and response.is_locked(now)
    questions = services.active_questions()
    context = {
        "invitation": invitation,
        "ticket": invitation.ticket,
        "response": response,
        "locked": locked,
        "token": token,
    }
    if request.method == "POST":
        form = SurveyForm(request.POST, questions=questions, low=config.low_rating_threshold)
        if form.is_valid():
            try:
                services.response_submit(
                    invitation=invitation,
                    answers=form.answers(),
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as error:
                if getattr(error, "code", None) in ("locked", "expired"):
                    messages.error(request, " ".join(error.messages))
                    return redirect("surveys:answer", token=token)
                _add_errors(form, error)
            else:
                messages.success(request, _("Thank you: your answers were saved."))
                return redirect("surveys:answer", token=token)
        return render(
            request, "surveys/answer.html", {**context, "form": form, "editing": True}, status=400
        )
    editing = response is None or (request.GET.get("change") == "1" and not locked)
    form = None
    if editing:
        initial = SurveyForm.initial_from(response) if response is not None else None
        form = SurveyForm(initial=initial, questions=questions, low=config.low_rating_threshold)
    answers = list(response.answers.select_related("question")) if response is not None else []
    return render(
        request,
        "surveys/answer.html",
        {**context, "form": form, "editing": editing, "answers": answers},
    )


def _speak_the_callers_language(request, invitation) -> None:
    """The page in the caller's language (the one their invitation mail was in), unless a
    language was chosen in this session or the visitor is signed in (their own profile)."""
    if request.user.is_authenticated or request.session.get(LANGUAGE_SESSION_KEY):
        return
    language = invitation.person.language
    if language in {code for code, _name in settings.LANGUAGES}:
        translation.activate(language)
        request.LANGUAGE_CODE = language


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in errors:
                form.add_error(target, item)
    else:
        form.add_error(None, error)


# --- managers ------------------------------------------------------------------------------


def reports_required(view):
    """Managers and administrators (``tickets.view_reports``); others get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.has_perm("tickets.view_reports"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _agent_choices() -> list[tuple[int, str]]:
    users = ticket_workers().select_related("person").order_by("first_name", "last_name", "pk")
    choices = []
    for user in users:
        person = getattr(user, "person", None)
        name = (person.full_name if person else "") or user.get_full_name() or user.username
        choices.append((user.pk, name))
    return choices


@reports_required
@require_GET
def results_page(request):
    form = ResultsFilterForm(request.GET or None, agents=_agent_choices())
    valid = form.is_valid() if form.is_bound else True
    if form.is_bound and not valid:
        messages.error(request, _("Correct the filters; the default period is shown."))
    filters = form.results_filter()
    return render(
        request,
        "surveys/results.html",
        {
            "form": form,
            "filters": filters,
            "results": selectors.results(filters),
            "follow_up_form": FollowUpForm(),
            "query": request.GET.urlencode(),
        },
    )


@reports_required
@require_POST
def follow_up(request, response_id: int):
    try:
        response = selectors.response_for_follow_up(response_id)
    except SurveyResponse.DoesNotExist:
        raise Http404 from None
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            services.follow_up_note_set(
                response=response, by=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Follow-up of %(number)s saved.") % {"number": response.invitation.ticket.number},
            )
    else:
        messages.error(request, " ".join(form.errors.get("note", [])))
    query = request.POST.get("query", "")
    url = reverse("surveys:results")
    # Only the filters go back into the address: ``query`` is re-encoded, never a URL.
    if query:
        url += "?" + QueryDict(query).urlencode()
    return redirect(f"{url}#response-{response.pk}")
