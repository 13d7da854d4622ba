"""A run nobody answered for 30 minutes is saved as abandoned by a periodic task: one UPDATE,
idempotent, a work note on the ticket as the agent's "Stop the script" writes, and the same
figures before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kb import scripts, tasks
from kb.models import ScriptRun
from tests.factories import CategoryFactory, make_ticket
from tests.kb.test_scripts import vpn_tree
from tickets.models import Comment, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def script(engineer, network_group):
    return scripts.script_save(
        by=engineer, tree=vpn_tree(), name="VPN does not connect", categories=[CategoryFactory()]
    )


@pytest.fixture
def ticket(agent, first_line, script):
    return make_ticket(opened_by=agent, category=script.categories.get(), group=first_line)


def _age(run, minutes):
    ScriptRun.objects.filter(pk=run.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def _notes(on):
    return list(
        Comment.objects.filter(ticket=on, is_internal=True)
        .order_by("id")
        .values_list("body", flat=True)
    )


def test_the_task_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["kb-abandon-stale-script-runs"]
    assert entry["task"] == tasks.abandon_stale_script_runs.name == "kb.abandon_stale_script_runs"
    # Often enough that a run is not shown "running" long after the 30 minutes.
    assert entry["schedule"] <= scripts.ABANDONED_AFTER.total_seconds() / 2


def test_a_run_unanswered_for_30_minutes_is_saved_as_abandoned_once(script, ticket, agent):
    stale = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    stale = scripts.script_run_answer(run=stale, by=agent, answer=1)
    _age(stale, 31)
    other = make_ticket(opened_by=agent, category=ticket.category, group=ticket.group)
    fresh = scripts.script_run_start(script=script, ticket=other, by=agent)
    _age(fresh, 29)
    notes_before = len(_notes(ticket))

    assert tasks.abandon_stale_script_runs() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.outcome == ScriptRun.Outcome.ABANDONED and stale.ended_at
    assert stale.current_step == "internet"  # where it stopped, for the figures
    assert fresh.is_running and fresh.ended_at is None
    notes = _notes(ticket)
    assert len(notes) == notes_before + 1
    assert "VPN does not connect" in notes[-1] and "Do web pages open without the VPN?" in notes[-1]
    assert "30 minutes" in notes[-1]
    entry = TimelineEntry.objects.filter(ticket=ticket).order_by("-id").first()
    assert entry.kind == TimelineEntry.Kind.NOTE and entry.actor is None
    assert _notes(other) == []

    # Again: nothing more to end, no second note.
    ended_at = stale.ended_at
    assert tasks.abandon_stale_script_runs() == 0
    stale.refresh_from_db()
    assert stale.ended_at == ended_at
    assert len(_notes(ticket)) == notes_before + 1


def test_the_runs_are_ended_in_one_update(script, agent, ticket):
    runs = []
    for _ in range(4):
        other = make_ticket(opened_by=agent, category=ticket.category, group=ticket.group)
        run = scripts.script_run_start(script=script, ticket=other, by=agent)
        _age(run, 45)
        runs.append(run)
    with CaptureQueriesContext(connection) as queries:
        assert scripts.script_runs_abandon_stale() == 4
    updates = [q["sql"] for q in queries if 'UPDATE "kb_scriptrun"' in q["sql"]]
    assert len(updates) == 1
    assert ScriptRun.objects.filter(outcome=ScriptRun.Outcome.ABANDONED).count() == 4


def test_figures_are_the_same_before_and_after_the_sweep(script, ticket, agent):
    stale = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    scripts.script_run_answer(run=stale, by=agent, answer=1)
    _age(stale, 60)
    stopped_ticket = make_ticket(opened_by=agent, category=ticket.category, group=ticket.group)
    stopped = scripts.script_run_start(script=script, ticket=stopped_ticket, by=agent)
    scripts.script_run_abandon(run=stopped, by=agent)
    running_ticket = make_ticket(opened_by=agent, category=ticket.category, group=ticket.group)
    scripts.script_run_start(script=script, ticket=running_ticket, by=agent)

    (before,) = scripts.figures()
    assert (before["runs"], before["abandoned"], before["running"]) == (3, 2, 1)
    assert scripts.script_runs_abandon_stale() == 1
    (after,) = scripts.figures()
    assert after == before
    steps = {step["id"]: step for step in after["steps"]}
    assert steps["internet"]["abandoned"] == 1 and steps["client"]["abandoned"] == 1


def test_the_agents_stop_writes_the_note_too(script, ticket, agent):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    scripts.script_run_abandon(run=run, by=agent)
    note = Comment.objects.filter(ticket=ticket, is_internal=True).order_by("-id").first()
    assert note.author == agent
    assert "VPN does not connect" in note.body and "Does the client show" in note.body
    # Stopping twice (two tabs) writes one note.
    scripts.script_run_abandon(run=run, by=agent)
    assert len(_notes(ticket)) == 1


def test_a_run_being_answered_is_not_swept(script, ticket, agent):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    _age(run, 40)
    # The agent answers before the sweep: the run is fresh again.
    scripts.script_run_answer(run=run, by=agent, answer=1)
    assert scripts.script_runs_abandon_stale() == 0
    run.refresh_from_db()
    assert run.is_running
