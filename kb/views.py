"""Knowledge-base pages: search and read (everyone signed in, each their own scope), write
and review (those who work tickets; managers publish), the ticket page's search and links
(workers), the portal's suggestions while typing a title, the managers' figures."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from helpdesk.roles import can_work_tickets
from kb import selectors, services
from kb.forms import (
    ArticleForm,
    DeflectionForm,
    LinkForm,
    RateForm,
    RevisionForm,
    SearchForm,
)
from kb.models import (
    Announcement,
    Article,
    ArticleRevision,
    RevisionState,
    State,
    can_publish,
    can_write,
)
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

SUGGESTIONS = 5
TICKET_RESULTS = 8
SEARCH_RESULTS = 20
LIST_SIZE = 50


def _article_or_404(user, pk: int) -> Article:
    try:
        return selectors.article_get_for(user, pk)
    except Article.DoesNotExist:
        raise Http404 from None


def _writer_required(request) -> None:
    if not can_write(request.user):
        raise PermissionDenied


@login_required
@require_GET
def index(request):
    """Search, or the newest published articles; writers also see their own work."""
    form = SearchForm(request.GET or None)
    hits = None
    articles = []
    if form.is_valid() and form.cleaned_data["q"].strip():
        hits = selectors.article_search(
            request.user,
            form.cleaned_data["q"],
            limit=SEARCH_RESULTS,
            language=form.cleaned_data["language"] or None,
        )
    else:
        articles = list(
            selectors.published_for(request.user)
            .select_related("category")
            .order_by("-published_at", "-id")[:LIST_SIZE]
        )
    context = {"form": form, "hits": hits, "articles": articles}
    if can_write(request.user):
        context["reviews_due"] = list(selectors.owner_reviews_due(request.user)[:LIST_SIZE])
        context["my_articles"] = list(selectors.owner_articles(request.user)[:LIST_SIZE])
        context["can_write"] = True
    if can_publish(request.user):
        context["in_review"] = list(
            Article.objects.filter(state=State.REVIEW).select_related("owner")[:LIST_SIZE]
        )
        context["revisions_in_review"] = list(
            ArticleRevision.objects.filter(state=RevisionState.REVIEW).select_related(
                "article", "created_by"
            )[:LIST_SIZE]
        )
        context["can_publish"] = True
    return render(request, "kb/index.html", context)


@login_required
@require_GET
def article_detail(request, pk: int):
    article = _article_or_404(request.user, pk)
    revision = None
    if can_write(request.user) and article.state == State.PUBLISHED:
        revision = services.revision_open_for(article)
    context = {
        "article": article,
        "revision": revision,
        "revision_transitions": services.revision_available_transitions(revision, request.user),
        "rating": selectors.rating_of(request.user, article),
        "ratings": selectors.rating_counts(article),
        "transitions": services.available_transitions(article, request.user),
        "can_write": can_write(request.user),
        "translations": [
            other
            for other in [article.translation_of, *article.translations.all()]
            if other is not None
            and selectors.article_queryset_for(request.user).filter(pk=other.pk).exists()
        ],
    }
    return render(request, "kb/article.html", context)


def _article_form(request, article: Article | None):
    translations = selectors.article_queryset_for(request.user)
    if article is not None:
        translations = translations.exclude(pk=article.pk)
    initial = {}
    if article is not None:
        initial = {
            "title": article.title,
            "summary": article.summary,
            "body": article.body,
            "language": article.language,
            "audience": article.audience,
            "category": article.category_id,
            "services": list(article.services.values_list("pk", flat=True)),
            "review_by": article.review_by,
            "translation_of": article.translation_of_id,
        }
    return ArticleForm(request.POST or None, initial=initial, translations=translations)


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@login_required
def article_create(request):
    _writer_required(request)
    form = _article_form(request, None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            article = services.article_create(by=request.user, **data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The draft is saved."))
            return redirect(article)
    return render(request, "kb/edit.html", {"form": form, "article": None})


@login_required
def article_edit(request, pk: int):
    _writer_required(request)
    article = _article_or_404(request.user, pk)
    if article.state == State.PUBLISHED:
        return redirect("kb:revision_edit", pk=article.pk)
    if article.state != State.DRAFT:
        messages.error(request, _("Only a draft can be edited: revise the article first."))
        return redirect(article)
    form = _article_form(request, article)
    if request.method == "POST" and form.is_valid():
        saved = _save_text(
            request, form, article, services.article_update, _("The draft is saved.")
        )
        if saved:
            return saved
    return render(request, "kb/edit.html", {"form": form, "article": article})


def _save_text(request, form, article, save, done: str):
    """Save an article's text (the draft, or the pending revision) with the version the
    writer read: a redirect to the article with the message, or None with the errors on
    the form."""
    try:
        save(
            article=article,
            by=request.user,
            expected_version=_int_or_none(request.POST.get("version")),
            **form.cleaned_data,
        )
    except ConflictError:
        messages.error(request, _("Someone changed the article meanwhile; check their text."))
        return redirect(article)
    except ValidationError as error:
        _add_errors(form, error)
        return None
    messages.success(request, done)
    return redirect(article)


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@require_POST
def article_transition(request, pk: int, name: str):
    article = _article_or_404(request.user, pk)
    try:
        services.article_transition(article=article, by=request.user, name=name)
    except TransitionNotAllowedError:
        if not can_write(request.user):
            raise PermissionDenied from None
        messages.error(request, _("That step is not open on this article now."))
    else:
        messages.success(request, _("The article is now: %(state)s.") % {"state": _state(pk)})
    return redirect("kb:article", pk=pk)


def _state(pk: int) -> str:
    return Article.objects.get(pk=pk).get_state_display()


@login_required
def revision_edit(request, pk: int):
    """Edit a published article's text as a pending revision: readers keep the published
    text until a manager publishes the revision."""
    _writer_required(request)
    article = _article_or_404(request.user, pk)
    if article.state != State.PUBLISHED:
        return redirect("kb:article_edit", pk=article.pk)
    revision = services.revision_open_for(article)
    if revision is not None and revision.state != RevisionState.DRAFT:
        messages.error(
            request, _("The revision is in review: it can be edited once it is sent back.")
        )
        return redirect(article)
    text = revision.version if revision else article
    form = RevisionForm(
        request.POST or None,
        initial={"title": text.title, "summary": text.summary, "body": text.body},
    )
    expected = revision.version.number if revision else article.version
    if request.method == "POST" and form.is_valid():
        saved = _save_text(
            request,
            form,
            article,
            services.revision_save,
            _("The revision is saved. Readers see the published text until it is published."),
        )
        if saved:
            return saved
    return render(
        request,
        "kb/revision_edit.html",
        {"form": form, "article": article, "revision": revision, "expected_version": expected},
    )


REVISION_DONE = {
    "submit": _lazy("The revision is submitted for review."),
    "send_back": _lazy("The revision is sent back to its author."),
    "publish": _lazy("The revision is published: readers now see the new text."),
    "discard": _lazy("The revision is discarded; the published text stays."),
}


@login_required
@require_POST
def revision_transition(request, pk: int, name: str):
    _writer_required(request)
    article = _article_or_404(request.user, pk)
    try:
        services.revision_transition(article=article, by=request.user, name=name)
    except TransitionNotAllowedError:
        messages.error(request, _("That step is not open on this revision now."))
    else:
        messages.success(request, REVISION_DONE[name])
    return redirect("kb:article", pk=pk)


@login_required
@require_GET
def article_history(request, pk: int):
    """Every version, and the difference between any two (``?old=1&new=3``)."""
    _writer_required(request)
    article = _article_or_404(request.user, pk)
    versions = list(selectors.versions_of(article))
    by_number = {version.number: version for version in versions}
    old = by_number.get(_int_or_none(request.GET.get("old")))
    new = by_number.get(_int_or_none(request.GET.get("new")))
    if old is None and new is None and len(versions) > 1:
        new, old = versions[0], versions[1]
    diff = selectors.version_diff(old, new) if old and new else None
    revision = services.revision_open_for(article) if article.state == State.PUBLISHED else None
    return render(
        request,
        "kb/history.html",
        {
            "article": article,
            "versions": versions,
            "old": old,
            "new": new,
            "diff": diff,
            "pending_number": revision.version.number if revision else None,
        },
    )


@login_required
@require_POST
def article_rate(request, pk: int):
    article = _article_or_404(request.user, pk)
    form = RateForm(request.POST)
    if not form.is_valid() or article.state != State.PUBLISHED:
        messages.error(request, _("Only a published article can be rated."))
        return redirect(article)
    services.article_rate(article=article, by=request.user, helpful=form.cleaned_data["helpful"])
    messages.success(request, _("Thank you for your rating."))
    return redirect(article)


# --- the portal: suggestions while a title is typed -----------------------------------------


@login_required
@require_GET
def suggest(request):
    """The articles that match what the user types as a new ticket's title (a partial)."""
    # The portal's form sends its title field as it is (``title``); other callers ``q``.
    form = DeflectionForm({"q": request.GET.get("q") or request.GET.get("title", "")})
    query = form.cleaned_data["q"] if form.is_valid() else ""
    hits = selectors.article_search(request.user, query, limit=SUGGESTIONS) if query else []
    return render(request, "kb/partials/_suggestions.html", {"hits": hits, "query": query})


@login_required
@require_POST
def deflect(request, pk: int):
    """ "This solved my problem": no ticket is filed; the deflection is counted."""
    article = _article_or_404(request.user, pk)
    if article.state != State.PUBLISHED:
        raise Http404
    form = DeflectionForm(request.POST)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    services.deflection_record(article=article, by=request.user, query=query)
    messages.success(request, _("Glad it helped. No ticket was filed."))
    return redirect("home")


# --- the agent's ticket page ----------------------------------------------------------------


def _worker_ticket_or_404(request, number: str) -> Ticket:
    if not can_work_tickets(request.user):
        raise PermissionDenied
    try:
        return ticket_selectors.ticket_get_for(request.user, number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None


@login_required
@require_GET
def ticket_search(request, number: str):
    ticket = _worker_ticket_or_404(request, number)
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    hits = selectors.article_search(request.user, query, limit=TICKET_RESULTS) if query else []
    linked = {link.article_id for link in selectors.ticket_articles(ticket)}
    return render(
        request,
        "kb/partials/_ticket_results.html",
        {"hits": hits, "query": query, "ticket": ticket, "linked": linked},
    )


@login_required
@require_GET
def phone_search(request):
    """The telephone widget's quick search (agents, during a call): articles open in a new
    tab so the console and its call cards stay where they are."""
    if not can_work_tickets(request.user):
        raise PermissionDenied
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    hits = selectors.article_search(request.user, query, limit=TICKET_RESULTS) if query else []
    return render(request, "kb/partials/_phone_results.html", {"hits": hits, "query": query})


@login_required
@require_POST
def ticket_link(request, number: str):
    ticket = _worker_ticket_or_404(request, number)
    form = LinkForm(request.POST)
    if not form.is_valid():
        raise Http404
    article = _article_or_404(request.user, form.cleaned_data["article"])
    if article.state != State.PUBLISHED:
        raise Http404
    services.article_link_ticket(article=article, ticket=ticket, by=request.user)
    messages.success(request, _("%(article)s is linked to the ticket.") % {"article": article})
    return redirect("tickets:console_detail", number=ticket.number)


@login_required
@require_POST
def ticket_unlink(request, number: str):
    ticket = _worker_ticket_or_404(request, number)
    form = LinkForm(request.POST)
    if not form.is_valid():
        raise Http404
    article = _article_or_404(request.user, form.cleaned_data["article"])
    services.article_unlink_ticket(article=article, ticket=ticket, by=request.user)
    return redirect("tickets:console_detail", number=ticket.number)


# --- managers ------------------------------------------------------------------------------


@login_required
@require_GET
def stats(request):
    if not request.user.has_perm("tickets.view_reports"):
        raise PermissionDenied
    return render(request, "kb/stats.html", {"stats": selectors.stats()})


# --- the bulletin board ----------------------------------------------------------------------


def _announcer_required(request) -> None:
    if not services.can_announce(request.user):
        raise PermissionDenied


@login_required
@require_GET
def announcements(request):
    """The bulletin board: what the reader sees now; those who post also every past and
    coming announcement, to change or end them."""
    context = {
        "current": list(selectors.announcements_for(request.user)[:LIST_SIZE]),
        "can_announce": services.can_announce(request.user),
    }
    if context["can_announce"]:
        context["all"] = list(selectors.announcements_all()[:LIST_SIZE])
        context["now"] = timezone.now()
    return render(request, "kb/announcements.html", context)


@login_required
@require_GET
def announcement_detail(request, pk: int):
    try:
        announcement = selectors.announcement_get_for(request.user, pk)
    except Announcement.DoesNotExist:
        raise Http404 from None
    return render(request, "kb/announcement.html", {"announcement": announcement})


@login_required
def announcement_edit(request, pk: int | None = None):
    """Post an announcement, or change one."""
    from kb.forms import AnnouncementForm

    _announcer_required(request)
    announcement = None
    if pk is not None:
        announcement = Announcement.objects.filter(pk=pk).first()
        if announcement is None:
            raise Http404
    form = AnnouncementForm(request.POST or None, instance=announcement)
    if request.method == "POST" and form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name != "services"}
        try:
            saved = services.announcement_save(
                by=request.user,
                announcement=Announcement.objects.get(pk=pk) if pk else None,
                services=form.cleaned_data["services"],
                **fields,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The announcement is on the board."))
            return redirect(saved.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "kb/announcement_edit.html",
        {"form": form, "announcement": announcement},
        status=status,
    )


@login_required
@require_POST
def announcement_end(request, pk: int):
    _announcer_required(request)
    announcement = Announcement.objects.filter(pk=pk).first()
    if announcement is None:
        raise Http404
    services.announcement_end(by=request.user, announcement=announcement)
    messages.success(request, _("The announcement was taken off the board."))
    return redirect("kb:announcements")
