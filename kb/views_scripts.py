"""Diagnostic scripts' pages: the list and editor (engineers), running a script on a ticket
(whoever works tickets), the managers' figures."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.errors import ConflictError, TransitionNotAllowedError, ValidationError
from helpdesk.models import Category, Service
from kb import scripts
from kb.models import Language, Script, ScriptRun
from tickets import selectors as ticket_selectors
from tickets.models import OPEN_STATUSES, Ticket


class ScriptForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=300, required=False)
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=Language.choices)
    categories = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Categories"),
        queryset=Category.objects.filter(is_active=True),
        required=False,
    )
    services = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Services"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    tree = forms.CharField(
        label=gettext_lazy("Steps (JSON)"),
        widget=forms.Textarea(attrs={"rows": 18, "class": "font-monospace", "spellcheck": "false"}),
        max_length=100_000,
    )

    def clean_tree(self):
        try:
            tree = json.loads(self.cleaned_data["tree"])
        except ValueError as error:
            raise forms.ValidationError(
                _("This is not valid JSON: %(error)s") % {"error": error}
            ) from None
        try:
            return scripts.tree_validate(tree)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None


def _editor_required(request) -> None:
    if not scripts.can_edit_scripts(request.user):
        raise PermissionDenied


def _runner_required(request) -> None:
    if not scripts.can_run_scripts(request.user):
        raise PermissionDenied


def _ticket_or_404(request, number: str) -> Ticket:
    try:
        return ticket_selectors.ticket_get_for(request.user, number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None


@login_required
@require_GET
def script_list(request):
    _runner_required(request)
    items = Script.objects.prefetch_related("versions", "categories", "services")
    return render(
        request,
        "kb/scripts/list.html",
        {"scripts": items, "can_edit": scripts.can_edit_scripts(request.user)},
    )


@login_required
@require_GET
def script_detail(request, pk: int):
    _runner_required(request)
    script = get_object_or_404(
        Script.objects.prefetch_related("versions", "categories", "services"), pk=pk
    )
    version = script.current_version
    return render(
        request,
        "kb/scripts/detail.html",
        {
            "script": script,
            "version": version,
            "outline": scripts.tree_outline(version.tree) if version else {},
            "can_edit": scripts.can_edit_scripts(request.user),
        },
    )


EXAMPLE_TREE = {
    "start": "s1",
    "steps": [
        {
            "id": "s1",
            "instruction": "",
            "question": "",
            "answers": [{"label": "", "outcome": "solved"}],
        }
    ],
}


@login_required
@require_http_methods(["GET", "POST"])
def script_edit(request, pk: int | None = None):
    """The editor: the fields, the tree as JSON and, beside it, the tree as the agent will
    walk it (of the text submitted when it is valid, else of the current version)."""
    _editor_required(request)
    script = get_object_or_404(Script, pk=pk) if pk else None
    version = scripts.version_current(script) if script else None
    if request.method == "POST":
        form = ScriptForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            tree = data.pop("tree")
            try:
                script = scripts.script_save(
                    by=request.user,
                    script=script,
                    tree=tree,
                    categories=data.pop("categories"),
                    services=data.pop("services"),
                    **data,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("The script is saved."))
                return redirect(script)
    elif script:
        form = ScriptForm(
            initial={
                "name": script.name,
                "description": script.description,
                "language": script.language,
                "categories": list(script.categories.all()),
                "services": list(script.services.all()),
                "is_active": script.is_active,
                "tree": json.dumps(
                    version.tree if version else EXAMPLE_TREE, indent=2, ensure_ascii=False
                ),
            }
        )
    else:
        form = ScriptForm(initial={"tree": json.dumps(EXAMPLE_TREE, indent=2)})
    preview = getattr(form, "cleaned_data", {}).get("tree") or (version.tree if version else None)
    return render(
        request,
        "kb/scripts/edit.html",
        {
            "form": form,
            "script": script,
            "version": version,
            "outline": scripts.tree_outline(preview) if preview else {},
            "groups": scripts.SupportGroup.objects.filter(
                is_active=True, tier__gt=scripts.SupportGroup.Tier.FIRST
            ),
            "articles": scripts.articles_for_outcomes().order_by("title")[:200],
        },
    )


@login_required
@require_POST
def script_run_start(request, number: str):
    _runner_required(request)
    ticket = _ticket_or_404(request, number)
    script = get_object_or_404(Script, pk=request.POST.get("script") or 0)
    try:
        run = scripts.script_run_start(script=script, ticket=ticket, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("tickets:console_detail", number=ticket.number)
    return redirect(run)


def _run_or_404(request, pk: int) -> ScriptRun:
    _runner_required(request)
    run = get_object_or_404(
        ScriptRun.objects.select_related("version__script", "ticket", "agent"), pk=pk
    )
    # The ticket's own visibility rules: a run of a ticket one may not see is a 404.
    _ticket_or_404(request, run.ticket.number)
    return run


@login_required
@require_GET
def script_run(request, pk: int):
    run = _run_or_404(request, pk)
    step = run.version.step(run.current_step) if run.is_running else None
    return render(
        request,
        "kb/scripts/run.html",
        {
            "run": run,
            "ticket": run.ticket,
            "answers": list(run.answers.all()),
            "step": step,
            "article": scripts.article_for(run),
        },
    )


@login_required
@require_POST
def script_run_answer(request, pk: int):
    run = _run_or_404(request, pk)
    try:
        answer = int(request.POST.get("answer", ""))
    except ValueError:
        answer = -1
    try:
        run = scripts.script_run_answer(run=run, by=request.user, answer=answer)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except (TransitionNotAllowedError, ConflictError) as error:
        messages.error(request, str(error))
    return redirect(run)


@login_required
@require_POST
def script_run_abandon(request, pk: int):
    run = _run_or_404(request, pk)
    scripts.script_run_abandon(run=run, by=request.user)
    messages.info(request, _("The script run is stopped."))
    return redirect("tickets:console_detail", number=run.ticket.number)


@login_required
@require_GET
def script_stats(request):
    if not request.user.has_perm("tickets.view_reports"):
        raise PermissionDenied
    return render(request, "kb/scripts/stats.html", {"rows": scripts.figures()})


# --- editing one step at a time ---------------------------------------------------------------

ANSWER_ROWS = 6


def _target_choices(tree: dict, exclude: str = "") -> list[tuple[str, str]]:
    choices = [("", "—"), ("solved", _("Outcome: solved"))]
    choices += [
        (f"next:{step['id']}", _("Go to step %(id)s: %(question)s") % step)
        for step in tree.get("steps", [])
        if step["id"] != exclude
    ]
    for group in scripts.SupportGroup.objects.filter(
        is_active=True, tier__gt=scripts.SupportGroup.Tier.FIRST
    ):
        choices.append((f"escalate:{group.code}", _("Escalate to %(group)s") % {"group": group}))
    for article in scripts.articles_for_outcomes().order_by("title")[:200]:
        choices.append(
            (f"article:{article.pk}", _("Article: %(title)s") % {"title": article.title})
        )
    return choices


def _target_value(answer: dict) -> str:
    if "next" in answer:
        return f"next:{answer['next']}"
    if answer.get("outcome") == "escalate":
        return f"escalate:{answer.get('group')}"
    if answer.get("outcome") == "article":
        return f"article:{answer.get('article')}"
    return answer.get("outcome", "")


def _answer_from(label: str, target: str) -> dict:
    kind, _sep, value = target.partition(":")
    if kind == "next":
        return {"label": label, "next": value}
    if kind == "escalate":
        return {"label": label, "outcome": "escalate", "group": value}
    if kind == "article":
        return {
            "label": label,
            "outcome": "article",
            "article": int(value) if value.isdigit() else value,
        }
    return {"label": label, "outcome": kind}


class StepForm(forms.Form):
    """One step: its texts and up to ANSWER_ROWS answers (label and where it leads); a new
    step also says which step's new answer leads to it."""

    step_id = forms.SlugField(label=gettext_lazy("Step id"), max_length=50)
    instruction = forms.CharField(
        label=gettext_lazy("Instruction for the agent"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    question = forms.CharField(label=gettext_lazy("Question"), max_length=500)

    def __init__(self, *args, tree: dict, step: dict | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tree, self.step = tree, step
        choices = _target_choices(tree, exclude=step["id"] if step else "")
        if step is not None:
            self.fields["step_id"].disabled = True
        else:
            self.fields["from_step"] = forms.ChoiceField(
                label=gettext_lazy("Reached from step"),
                choices=[(s["id"], f"{s['id']}: {s['question']}") for s in tree.get("steps", [])],
            )
            self.fields["from_label"] = forms.CharField(
                label=gettext_lazy("with the answer"), max_length=200
            )
        for index in range(ANSWER_ROWS):
            self.fields[f"label_{index}"] = forms.CharField(
                label=gettext_lazy("Answer %(n)d") % {"n": index + 1},
                max_length=200,
                required=False,
            )
            self.fields[f"target_{index}"] = forms.ChoiceField(
                label=gettext_lazy("leads to"), choices=choices, required=False
            )

    @property
    def answer_rows(self):
        return [(self[f"label_{i}"], self[f"target_{i}"]) for i in range(ANSWER_ROWS)]

    def new_tree(self) -> dict:
        data = self.cleaned_data
        answers = [
            _answer_from(data[f"label_{i}"].strip(), data[f"target_{i}"])
            for i in range(ANSWER_ROWS)
            if data[f"label_{i}"].strip() or data[f"target_{i}"]
        ]
        step_id = self.step["id"] if self.step else data["step_id"]
        step = {
            "id": step_id,
            "instruction": data["instruction"],
            "question": data["question"],
            "answers": answers,
        }
        steps = [dict(s) for s in self.tree.get("steps", [])]
        if self.step:
            steps = [step if s["id"] == step_id else s for s in steps]
        else:
            steps.append(step)
            for s in steps:
                if s["id"] == data["from_step"]:
                    s["answers"] = [*s["answers"], {"label": data["from_label"], "next": step_id}]
        return {"start": self.tree.get("start"), "steps": steps}


@login_required
@require_http_methods(["GET", "POST"])
def script_step_edit(request, pk: int, step_id: str | None = None):
    """Change one step (its texts, answers and where they lead) or add one reached from an
    existing step; saving publishes a new version after the whole tree is validated."""
    _editor_required(request)
    script = get_object_or_404(Script, pk=pk)
    version = scripts.version_current(script)
    if version is None:
        raise Http404
    step = version.step(step_id) if step_id else None
    if step_id and step is None:
        raise Http404
    initial = {}
    if step:
        initial = {"step_id": step["id"], "instruction": step.get("instruction", "")}
        initial["question"] = step["question"]
        for index, answer in enumerate(step["answers"][:ANSWER_ROWS]):
            initial[f"label_{index}"] = answer["label"]
            initial[f"target_{index}"] = _target_value(answer)
    form = StepForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        tree=version.tree,
        step=step,
    )
    if request.method == "POST" and form.is_valid():
        try:
            scripts.script_save(
                by=request.user,
                script=script,
                tree=form.new_tree(),
                categories=list(script.categories.all()),
                services=list(script.services.all()),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The step is saved: a new version is published."))
            return redirect(script)
    return render(
        request,
        "kb/scripts/step_edit.html",
        {"form": form, "script": script, "version": version, "step": step},
    )


# Most tickets a call card lists as open (cti's card shows ten at most).
CARD_TICKETS = 10


@login_required
@require_GET
def scripts_for_card_tickets(request):
    """The scripts offered for the caller's open tickets, for cti's call card (which loads
    this partial for the tickets it lists, ``?tickets=INC-000001 INC-000002``): a button per
    script starts a run on that ticket, as on the ticket page. Tickets the user may not see,
    and closed ones, are left out. The same number of queries however many tickets."""
    _runner_required(request)
    numbers = request.GET.get("tickets", "").split()[:CARD_TICKETS]
    tickets = list(
        ticket_selectors.ticket_queryset_for(request.user)
        .filter(number__in=numbers, status__in=OPEN_STATUSES)
        .select_related("category")
        .order_by("-created_at", "-id")
    )
    offered = scripts.scripts_for_tickets(tickets)
    return render(
        request,
        "kb/scripts/partials/_card_scripts.html",
        {"offered": [(ticket, offered[ticket.pk]) for ticket in tickets if offered[ticket.pk]]},
    )
