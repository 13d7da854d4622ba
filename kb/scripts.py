"""Diagnostic scripts: validating and publishing trees, running them on tickets, the figures.

Writes are keyword-only and atomic, like every service; what a run does to the ticket (the
timeline entry per answer, the first-contact resolution, the escalation with the steps) goes
through ``tickets.services``: this module writes no ticket rows itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk import refdata
from helpdesk.errors import ValidationError
from helpdesk.models import Category, SupportGroup
from helpdesk.roles import Role, can_work_tickets, user_roles
from kb.models import Article, Audience, Script, ScriptRun, ScriptRunAnswer, ScriptVersion, State
from tickets import services as ticket_services
from tickets.models import ResolutionCode, Ticket

OUTCOMES = ("solved", "escalate", "article")
MAX_STEPS = 100
MAX_ANSWERS = 10
# A run nobody answered for this long counts as abandoned at the step it stopped at.
ABANDONED_AFTER = timedelta(minutes=30)


def can_edit_scripts(user) -> bool:
    """Engineers write and change scripts (and managers and administrators); first-line
    agents run them."""
    if not can_work_tickets(user):
        return False
    return bool(
        user_roles(user) & {Role.ENGINEER.value, Role.MANAGER.value, Role.ADMINISTRATOR.value}
    )


def can_run_scripts(user) -> bool:
    return can_work_tickets(user)


# --- the tree ---------------------------------------------------------------------------------


def _text(value, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def tree_validate(tree) -> dict:
    """The tree cleaned, or a ValidationError listing every problem: a start step; unique
    step ids; every answer leads to an existing step or to an outcome; an escalation names an
    active second- or third-line group (by code); an article outcome a published article; no
    cycles; every step reachable from the start."""
    errors: list[str] = []
    if not isinstance(tree, dict) or not isinstance(tree.get("steps"), list):
        raise ValidationError(_("The tree needs a list of steps."))
    steps = tree["steps"]
    if not steps:
        raise ValidationError(_("The tree needs at least one step."))
    if len(steps) > MAX_STEPS:
        raise ValidationError(_("A script has at most %(count)d steps.") % {"count": MAX_STEPS})
    cleaned_steps: list[dict] = []
    ids: set[str] = set()
    for index, step in enumerate(steps, start=1):
        if not isinstance(step, dict):
            errors.append(_("Step %(n)d is not an object.") % {"n": index})
            continue
        step_id = _text(step.get("id"), 50)
        if not step_id:
            errors.append(_("Step %(n)d has no id.") % {"n": index})
            continue
        if step_id in ids:
            errors.append(_("Two steps have the id “%(id)s”.") % {"id": step_id})
        ids.add(step_id)
        question = _text(step.get("question"), 500)
        if not question:
            errors.append(_("Step “%(id)s” asks nothing.") % {"id": step_id})
        answers = step.get("answers")
        if not isinstance(answers, list) or not answers:
            errors.append(_("Step “%(id)s” has no answers.") % {"id": step_id})
            answers = []
        if len(answers) > MAX_ANSWERS:
            errors.append(_("Step “%(id)s” has too many answers.") % {"id": step_id})
        cleaned_steps.append(
            {
                "id": step_id,
                "instruction": _text(step.get("instruction"), 1000),
                "question": question,
                "answers": answers,
            }
        )
    group_codes = set(
        SupportGroup.objects.filter(is_active=True, tier__gt=SupportGroup.Tier.FIRST).values_list(
            "code", flat=True
        )
    )
    article_ids = {
        answer.get("article")
        for step in cleaned_steps
        for answer in step["answers"]
        if isinstance(answer, dict) and answer.get("outcome") == "article"
    }
    published = set(
        Article.objects.filter(
            pk__in=[pk for pk in article_ids if isinstance(pk, int)], state=State.PUBLISHED
        ).values_list("pk", flat=True)
    )
    for step in cleaned_steps:
        cleaned_answers = []
        for number, answer in enumerate(step["answers"], start=1):
            where = {"id": step["id"], "n": number}
            if not isinstance(answer, dict) or not _text(answer.get("label"), 200):
                errors.append(_("Answer %(n)d of step “%(id)s” has no label.") % where)
                continue
            clean = {"label": _text(answer["label"], 200)}
            target, outcome = answer.get("next"), answer.get("outcome")
            if bool(target) == bool(outcome):
                errors.append(
                    _("Answer %(n)d of step “%(id)s” needs either a next step or an outcome.")
                    % where
                )
            elif target:
                if target not in ids:
                    errors.append(
                        _("Answer %(n)d of step “%(id)s” leads to a step that does not exist.")
                        % where
                    )
                clean["next"] = target
            elif outcome not in OUTCOMES:
                errors.append(_("Answer %(n)d of step “%(id)s” has an unknown outcome.") % where)
            else:
                clean["outcome"] = outcome
                if outcome == "escalate":
                    if answer.get("group") not in group_codes:
                        errors.append(
                            _(
                                "Answer %(n)d of step “%(id)s” escalates to no active second- or "
                                "third-line group."
                            )
                            % where
                        )
                    clean["group"] = answer.get("group")
                if outcome == "article":
                    if answer.get("article") not in published:
                        errors.append(
                            _("Answer %(n)d of step “%(id)s” hands over to no published article.")
                            % where
                        )
                    clean["article"] = answer.get("article")
            cleaned_answers.append(clean)
        step["answers"] = cleaned_answers
    start = tree.get("start") or (cleaned_steps[0]["id"] if cleaned_steps else "")
    if start not in ids:
        errors.append(_("The start step does not exist."))
    if not errors:
        errors += _graph_errors(cleaned_steps, start)
    if errors:
        raise ValidationError(errors)
    return {"start": start, "steps": cleaned_steps}


def _graph_errors(steps: list[dict], start: str) -> list[str]:
    """No cycles (a depth-first walk from every step) and no step the start cannot reach."""
    nexts = {step["id"]: [a["next"] for a in step["answers"] if "next" in a] for step in steps}
    errors = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str) -> bool:
        state[node] = 1
        for target in nexts[node]:
            if state.get(target) == 1 or (target not in state and visit(target)):
                return True
        state[node] = 2
        return False

    for step_id in nexts:
        if step_id not in state and visit(step_id):
            errors.append(_("The steps go round in a circle: every path must end."))
            break
    reached, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in reached:
            reached.add(node)
            todo += nexts[node]
    unreachable = [step_id for step_id in nexts if step_id not in reached]
    if unreachable:
        errors.append(
            _("No answer leads to the step(s) %(ids)s.") % {"ids": ", ".join(unreachable)}
        )
    return errors


def tree_outline(tree: dict) -> dict:
    """The tree as nested steps for the page (``step.answers[].step`` is the next step;
    every step is shown once, where it is first reached)."""
    steps = {step["id"]: step for step in tree.get("steps", [])}
    shown: set[str] = set()

    def node(step_id: str) -> dict:
        step = steps[step_id]
        shown.add(step_id)
        answers = []
        for answer in step["answers"]:
            item = dict(answer)
            target = answer.get("next")
            if target and target not in shown:
                item["step"] = node(target)
            answers.append(item)
        return {**step, "answers": answers}

    return node(tree["start"]) if tree.get("start") in steps else {}


# --- scripts and versions --------------------------------------------------------------------


@transaction.atomic
def script_save(
    *, by, tree, script: Script | None = None, categories=(), services=(), **fields
) -> Script:
    """Create or change a script; a tree different from the current version's is published
    as a new immutable version (past runs keep theirs)."""
    if not can_edit_scripts(by):
        raise PermissionDenied
    cleaned = tree_validate(tree)
    if script is None:
        script = Script(created_by=by)
    for name, value in fields.items():
        setattr(script, name, value)
    if not (script.name or "").strip():
        raise ValidationError({"name": _("Name the script.")})
    script.save()
    script.categories.set(categories)
    script.services.set(services)
    current = script.versions.order_by("-number").first()
    if current is None or current.tree != cleaned:
        ScriptVersion.objects.create(
            script=script,
            number=(current.number + 1) if current else 1,
            tree=cleaned,
            created_by=by,
        )
    return script


def _category_chain(ticket: Ticket) -> list[int]:
    """The ticket's category and its ancestors, nearest first, walked by ``parent_id`` among
    the categories each process keeps (helpdesk.refdata): no query."""
    if not ticket.category_id:
        return []
    by_pk = refdata.by_pk(Category)
    if ticket.category_id not in by_pk:  # newer than this process's rows
        by_pk = {row.pk: row for row in Category.objects.all()}
    chain: list[int] = []
    current = ticket.category_id
    while current in by_pk and current not in chain:
        chain.append(current)
        current = by_pk[current].parent_id
    return chain


def scripts_for_ticket(ticket: Ticket) -> QuerySet[Script]:
    """Active scripts with a version offered for the ticket: those of its category or of any
    category above it ("Hardware" for "Hardware / Printer"), nearest category first, then
    those of its service only; by name within each. One query (the category tree is kept
    by each process, helpdesk.refdata)."""
    chain = _category_chain(ticket)
    match = Q()
    if chain:
        match |= Q(categories__in=chain)
    if ticket.service_id:
        match |= Q(services=ticket.service_id)
    if not match:
        return Script.objects.none()
    service_only = len(chain)
    # A script attached to several categories of the chain (or to the service as well) is
    # one row ranked by its nearest match.
    nearest = Min(
        Case(
            *[When(categories=pk, then=Value(rank)) for rank, pk in enumerate(chain)],
            default=Value(service_only),
            output_field=IntegerField(),
        )
    )
    return (
        Script.objects.filter(match, is_active=True, versions__isnull=False)
        .annotate(match_rank=nearest)
        .order_by("match_rank", "name", "id")
    )


def scripts_for_tickets(tickets: list[Ticket]) -> dict[int, list[Script]]:
    """:func:`scripts_for_ticket` for several tickets at once (the caller card's open
    tickets), in the same order, keyed by ticket id: four queries whatever the number of
    tickets (the ancestors, the scripts' categories and services among them, the scripts).
    Load the tickets' categories with them (``select_related("category")``)."""
    categories = {ticket.category_id: ticket.category for ticket in tickets if ticket.category_id}
    prefixes = set()
    for category in categories.values():
        parts = category.path.split(" / ")
        prefixes.update(" / ".join(parts[:depth]) for depth in range(1, len(parts)))
    parents = (
        dict(Category.objects.filter(path__in=prefixes).values_list("pk", "parent_id"))
        if prefixes
        else {}
    )
    chains = {}
    for category in categories.values():
        chain = [category.pk]
        parent = category.parent_id
        while parent in parents and parent not in chain:
            chain.append(parent)
            parent = parents[parent]
        chains[category.pk] = chain
    category_ids = {pk for chain in chains.values() for pk in chain}
    service_ids = {ticket.service_id for ticket in tickets if ticket.service_id}
    offerable = {"script__is_active": True, "script__versions__isnull": False}
    by_category = defaultdict(set)
    if category_ids:
        for script_id, category_id in (
            Script.categories.through.objects.filter(category_id__in=category_ids, **offerable)
            .values_list("script_id", "category_id")
            .distinct()
        ):
            by_category[script_id].add(category_id)
    by_service = defaultdict(set)
    if service_ids:
        for script_id, service_id in (
            Script.services.through.objects.filter(service_id__in=service_ids, **offerable)
            .values_list("script_id", "service_id")
            .distinct()
        ):
            by_service[script_id].add(service_id)
    found = Script.objects.in_bulk(set(by_category) | set(by_service))
    offered = {}
    for ticket in tickets:
        chain = chains.get(ticket.category_id, [])
        ranked = []
        for pk, script in found.items():
            ranks = [chain.index(c) for c in by_category.get(pk, ()) if c in chain]
            if not ranks and ticket.service_id in by_service.get(pk, ()):
                ranks = [len(chain)]
            if ranks:
                ranked.append((min(ranks), script.name, script.pk, script))
        offered[ticket.pk] = [script for *_key, script in sorted(ranked, key=lambda r: r[:3])]
    return offered


def version_current(script: Script) -> ScriptVersion | None:
    return script.versions.order_by("-number").first()


# --- runs ---------------------------------------------------------------------------------------


def _abandon_note(run: ScriptRun, *, stale: bool) -> str:
    """The work note that records where a run was abandoned (by the agent or, unanswered, by
    the periodic sweep): the script, the step it stopped at."""
    step = run.version.step(run.current_step) or {}
    values = {
        "name": run.version.script.name,
        "question": step.get("question") or run.current_step,
        "minutes": int(ABANDONED_AFTER.total_seconds() // 60),
    }
    if stale:
        return (
            ngettext(
                "Script “%(name)s” abandoned: nobody answered “%(question)s” for %(minutes)d "
                "minute.",
                "Script “%(name)s” abandoned: nobody answered “%(question)s” for %(minutes)d "
                "minutes.",
                values["minutes"],
            )
            % values
        )
    return _("Script “%(name)s” stopped at “%(question)s”.") % values


def _abandon(run: ScriptRun, now, *, by) -> None:
    """End a running run (locked by the caller) as abandoned and say so in the timeline."""
    run.outcome = ScriptRun.Outcome.ABANDONED
    run.ended_at = now
    run.save(update_fields=["outcome", "ended_at"])
    ticket_services.comment_add(
        ticket=run.ticket, by=by, body=_abandon_note(run, stale=False), is_internal=True
    )


@transaction.atomic
def script_run_start(*, script: Script, ticket: Ticket, by) -> ScriptRun:
    """Start the script's current version on the ticket; a run left unfinished on the ticket
    is abandoned (one run at a time per ticket)."""
    if not can_run_scripts(by):
        raise PermissionDenied
    if not ticket.is_open:
        raise ValidationError(_("The ticket is closed: scripts run on open tickets."))
    version = version_current(script)
    if version is None or not script.is_active:
        raise ValidationError(_("This script has no published version."))
    now = timezone.now()
    for run in (
        ScriptRun.objects.select_for_update(of=("self",))
        .select_related("version__script")
        .filter(ticket=ticket, outcome=ScriptRun.Outcome.RUNNING)
    ):
        run.ticket = ticket
        _abandon(run, now, by=by)
    return ScriptRun.objects.create(
        ticket=ticket, version=version, agent=by, current_step=version.tree["start"]
    )


def run_summary(run: ScriptRun, answers=None) -> str:
    """The steps and answers as text, for the work note an escalation carries."""
    answers = list(run.answers.all()) if answers is None else answers
    lines = [
        _("Diagnostic script “%(name)s” (version %(version)d):")
        % {"name": run.version.script.name, "version": run.version.number}
    ]
    lines += [f"{answer.position}. {answer.question} — {answer.label}" for answer in answers]
    return "\n".join(lines)


@transaction.atomic
def script_run_answer(*, run: ScriptRun, by, answer: int) -> ScriptRun:
    """Record answer number ``answer`` (from 0) to the run's current step: a work note in the
    ticket's timeline, then the next step, or the outcome: solved resolves the ticket as
    solved on first contact (or plainly solved where the ticket is no longer a first contact),
    escalate hands it to the named group with the steps and answers as diagnostic notes, an
    article links the article to the ticket."""
    if not can_run_scripts(by):
        raise PermissionDenied
    run = (
        ScriptRun.objects.select_for_update(of=("self",))
        .select_related("version__script")
        .get(pk=run.pk)
    )
    if not run.is_running:
        raise ValidationError(_("This run has ended."))
    step = run.version.step(run.current_step)
    if step is None or not 0 <= answer < len(step["answers"]):
        raise ValidationError(_("Choose one of the answers."))
    chosen = step["answers"][answer]
    position = (run.answers.aggregate(last=Max("position"))["last"] or 0) + 1
    now = timezone.now()
    ScriptRunAnswer.objects.create(
        run=run,
        position=position,
        step=step["id"],
        question=step["question"],
        answer=answer,
        label=chosen["label"],
        answered_at=now,
    )
    ticket = run.ticket
    ticket_services.comment_add(
        ticket=ticket,
        by=by,
        body=_("Script “%(name)s”, step %(position)d: %(question)s — %(answer)s")
        % {
            "name": run.version.script.name,
            "position": position,
            "question": step["question"],
            "answer": chosen["label"],
        },
        is_internal=True,
    )
    run.updated_at = now
    if "next" in chosen:
        run.current_step = chosen["next"]
        run.save(update_fields=["current_step", "updated_at"])
        return run
    outcome = chosen["outcome"]
    summary = run_summary(run)
    if outcome == "solved":
        notes = _("Solved with the diagnostic script.") + "\n" + summary
        try:
            with transaction.atomic():
                ticket_services.ticket_resolve(
                    ticket=ticket,
                    by=by,
                    code=ResolutionCode.SOLVED,
                    notes=notes,
                    first_contact=True,
                )
        except ValidationError as error:
            if "first_contact" not in getattr(error, "error_dict", {}):
                raise
            ticket_services.ticket_resolve(
                ticket=ticket, by=by, code=ResolutionCode.SOLVED, notes=notes
            )
    elif outcome == "escalate":
        group = SupportGroup.objects.filter(code=chosen.get("group")).first()
        ticket_services.ticket_escalate(ticket=ticket, by=by, group=group, diagnostic_notes=summary)
        run.outcome_detail = group.name
    elif outcome == "article":
        from kb import services as kb_services

        article = Article.objects.get(pk=chosen["article"])
        kb_services.article_link_ticket(article=article, ticket=ticket, by=by)
        run.outcome_detail = str(article.pk)
    run.outcome = outcome
    run.ended_at = now
    run.save(update_fields=["outcome", "outcome_detail", "ended_at", "updated_at"])
    return run


@transaction.atomic
def script_run_abandon(*, run: ScriptRun, by) -> ScriptRun:
    """The agent stops the run where it is (the figures count it as abandoned at that step;
    a work note in the ticket's timeline says where)."""
    if not can_run_scripts(by):
        raise PermissionDenied
    run = (
        ScriptRun.objects.select_for_update(of=("self",))
        .select_related("version__script")
        .get(pk=run.pk)
    )
    if run.is_running:
        _abandon(run, timezone.now(), by=by)
    return run


def script_runs_abandon_stale(*, now=None) -> int:
    """End every run nobody answered for :data:`ABANDONED_AFTER` as abandoned (the beat task
    ``kb.abandon_stale_script_runs``), with a work note on each ticket, as the agent's
    "Stop the script" writes. Idempotent: a run already ended is left alone, so two sweeps
    at once end and note each run once. Returns how many runs it ended.

    The runs are locked (skipping those an agent is answering right now) and ended in one
    UPDATE; the notes follow in the same transaction, so a rolled-back sweep leaves no note
    of an abandonment that did not happen."""
    now = now or timezone.now()
    stale = ScriptRun.objects.filter(
        outcome=ScriptRun.Outcome.RUNNING, updated_at__lt=now - ABANDONED_AFTER
    )
    with transaction.atomic():
        runs = list(
            stale.select_for_update(skip_locked=True, of=("self",))
            .select_related("version__script", "ticket")
            .order_by("pk")
        )
        if not runs:
            return 0
        ended = stale.filter(pk__in=[run.pk for run in runs]).update(
            outcome=ScriptRun.Outcome.ABANDONED, ended_at=now
        )
        for run in runs:
            ticket_services.comment_add(
                ticket=run.ticket, by=None, body=_abandon_note(run, stale=True), is_internal=True
            )
    return ended


# --- reads ------------------------------------------------------------------------------------


def runs_for_ticket(ticket: Ticket) -> list[ScriptRun]:
    return list(
        ScriptRun.objects.filter(ticket=ticket)
        .select_related("version__script", "agent")
        .prefetch_related("answers")
        .order_by("-started_at", "-id")
    )


def escalated_run(ticket: Ticket) -> ScriptRun | None:
    """The latest run that escalated the ticket, with its answers (for the engineer)."""
    return (
        ScriptRun.objects.filter(ticket=ticket, outcome=ScriptRun.Outcome.ESCALATED)
        .select_related("version__script", "agent")
        .prefetch_related("answers")
        .order_by("-ended_at", "-id")
        .first()
    )


def escalated_among(runs: list[ScriptRun]) -> ScriptRun | None:
    """What :func:`escalated_run` answers, from the ticket's runs read already (the ticket
    page reads them once for every slot)."""
    escalated = [run for run in runs if run.outcome == ScriptRun.Outcome.ESCALATED]
    return max(escalated, key=lambda run: (run.ended_at or run.started_at, run.pk), default=None)


def article_for(run: ScriptRun) -> Article | None:
    if run.outcome != ScriptRun.Outcome.ARTICLE or not run.outcome_detail.isdigit():
        return None
    return Article.objects.filter(pk=int(run.outcome_detail)).first()


def figures(*, now=None) -> list[dict]:
    """Per script: runs, solved at the first line, escalated, handed to an article, abandoned,
    running; per step (by id, over all versions): how often it was answered, which answers,
    how many runs ended solved or escalated there and how many were abandoned there. A run
    unanswered for :data:`ABANDONED_AFTER` counts as abandoned. Three queries."""
    now = now or timezone.now()
    stale = now - ABANDONED_AFTER
    scripts = {script.pk: script for script in Script.objects.order_by("name", "id")}
    runs = list(
        ScriptRun.objects.select_related("version").only(
            "pk", "outcome", "current_step", "updated_at", "version__script_id", "version__tree"
        )
    )
    answers = defaultdict(list)
    for answer in ScriptRunAnswer.objects.only("run_id", "step", "label", "position").order_by(
        "run_id", "position"
    ):
        answers[answer.run_id].append(answer)
    rows = {
        pk: {
            "script": script,
            "runs": 0,
            "solved": 0,
            "escalate": 0,
            "article": 0,
            "abandoned": 0,
            "running": 0,
            "steps": {},
        }
        for pk, script in scripts.items()
    }
    for run in runs:
        row = rows.get(run.version.script_id)
        if row is None:
            continue
        outcome = run.outcome
        if outcome == ScriptRun.Outcome.RUNNING and run.updated_at < stale:
            outcome = ScriptRun.Outcome.ABANDONED
        row["runs"] += 1
        row[outcome or "running"] += 1
        questions = {step["id"]: step["question"] for step in run.version.tree.get("steps", [])}

        def step_row(step_id, row=row, questions=questions):
            return row["steps"].setdefault(
                step_id,
                {
                    "id": step_id,
                    "question": questions.get(step_id, step_id),
                    "reached": 0,
                    "answers": Counter(),
                    "solved": 0,
                    "escalate": 0,
                    "article": 0,
                    "abandoned": 0,
                },
            )

        given = answers.get(run.pk, [])
        for answer in given:
            step = step_row(answer.step)
            step["reached"] += 1
            step["answers"][answer.label] += 1
        if outcome in ("solved", "escalate", "article") and given:
            step_row(given[-1].step)[outcome] += 1
        elif outcome in ("abandoned", ""):
            step = step_row(run.current_step)
            step["reached"] += 1
            if outcome == "abandoned":
                step["abandoned"] += 1
    result = []
    for row in rows.values():
        row["solved_share"] = round(100 * row["solved"] / row["runs"]) if row["runs"] else None
        row["steps"] = sorted(row["steps"].values(), key=lambda step: -step["reached"])
        for step in row["steps"]:
            step["answers"] = step["answers"].most_common()
        result.append(row)
    return result


def articles_for_outcomes() -> QuerySet[Article]:
    """Published articles staff may hand over to (for the editor's list)."""
    return Article.objects.filter(state=State.PUBLISHED).filter(
        Q(audience=Audience.PUBLIC) | Q(audience=Audience.INTERNAL)
    )
