"""Diagnostic scripts: the tree's validation, versions, runs on tickets (timeline, first-contact
resolution, escalation with the steps), abandonment, figures and the pages."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.errors import ValidationError
from kb import scripts
from kb.models import ScriptRun, ScriptVersion
from tests.factories import CategoryFactory, ServiceFactory, make_ticket
from tickets.models import Status, TimelineEntry


def vpn_tree(group="network"):
    return {
        "start": "client",
        "steps": [
            {
                "id": "client",
                "instruction": "Ask the caller to open GlobalProtect.",
                "question": "Does the client show “Connected”?",
                "answers": [
                    {"label": "Yes", "outcome": "solved"},
                    {"label": "No", "next": "internet"},
                ],
            },
            {
                "id": "internet",
                "question": "Do web pages open without the VPN?",
                "answers": [
                    {"label": "Yes", "outcome": "escalate", "group": group},
                    {"label": "No", "outcome": "solved"},
                ],
            },
        ],
    }


@pytest.fixture
def category(db):
    return CategoryFactory(name="VPN")


@pytest.fixture
def script(engineer, category, network_group):
    return scripts.script_save(
        by=engineer, tree=vpn_tree(), name="VPN does not connect", categories=[category]
    )


@pytest.fixture
def ticket(agent, first_line, category):
    ticket = make_ticket(opened_by=agent, category=category, group=first_line)
    return ticket


def test_tree_needs_targets_that_exist(network_group):
    tree = vpn_tree()
    tree["steps"][0]["answers"][1]["next"] = "nowhere"
    with pytest.raises(ValidationError, match="does not exist"):
        scripts.tree_validate(tree)


def test_tree_refuses_cycles(network_group):
    tree = vpn_tree()
    tree["steps"][1]["answers"][1] = {"label": "No", "next": "client"}
    with pytest.raises(ValidationError, match="circle"):
        scripts.tree_validate(tree)


def test_tree_refuses_unknown_group_and_unpublished_article(network_group):
    tree = vpn_tree(group="nobody")
    tree["steps"][1]["answers"][1] = {"label": "No", "outcome": "article", "article": 999}
    with pytest.raises(ValidationError) as error:
        scripts.tree_validate(tree)
    text = " ".join(error.value.messages)
    assert "group" in text and "article" in text


def test_tree_refuses_first_line_group_and_unreachable_steps(first_line, network_group):
    tree = vpn_tree(group="service-desk")
    tree["steps"].append(
        {"id": "lost", "question": "?", "answers": [{"label": "x", "outcome": "solved"}]}
    )
    with pytest.raises(ValidationError) as error:
        scripts.tree_validate(tree)
    text = " ".join(error.value.messages)
    assert "second- or third-line" in text


def test_agent_cannot_edit_scripts(agent, network_group):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        scripts.script_save(by=agent, tree=vpn_tree(), name="x")


def test_new_tree_is_a_new_version_and_old_runs_keep_theirs(script, engineer, ticket, agent):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    tree = vpn_tree()
    tree["steps"][0]["question"] = "Is the client connected?"
    scripts.script_save(by=engineer, script=script, tree=tree, name=script.name)
    # The same tree again publishes nothing.
    scripts.script_save(by=engineer, script=script, tree=tree, name=script.name)
    assert list(script.versions.values_list("number", flat=True)) == [2, 1]
    run.refresh_from_db()
    assert run.version.number == 1
    assert run.version.step("client")["question"] == "Does the client show “Connected”?"
    with pytest.raises(ValueError):
        run.version.save()


def test_matching_scripts_by_category_or_service(script, ticket, agent):
    service = ServiceFactory()
    script.services.add(service)
    other = make_ticket(opened_by=agent, service=service)
    unrelated = make_ticket(opened_by=agent)
    assert list(scripts.scripts_for_ticket(ticket)) == [script]
    assert list(scripts.scripts_for_ticket(other)) == [script]
    assert list(scripts.scripts_for_ticket(unrelated)) == []


def test_answers_go_to_the_timeline_and_solved_resolves_on_first_contact(script, ticket, agent):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    run = scripts.script_run_answer(run=run, by=agent, answer=1)
    assert run.current_step == "internet" and run.is_running
    run = scripts.script_run_answer(run=run, by=agent, answer=1)
    ticket.refresh_from_db()
    assert run.outcome == ScriptRun.Outcome.SOLVED and run.ended_at
    assert ticket.status == Status.RESOLVED
    assert ticket.first_contact_resolution is True
    notes = list(ticket.comments.filter(is_internal=True).values_list("body", flat=True))
    assert len(notes) == 2
    assert "Does the client show “Connected”? — No" in notes[0]
    assert ticket.timeline.filter(kind=TimelineEntry.Kind.NOTE).count() == 2


def test_escalate_hands_over_with_the_steps(script, ticket, agent, network_group):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    run = scripts.script_run_answer(run=run, by=agent, answer=1)
    run = scripts.script_run_answer(run=run, by=agent, answer=0)
    ticket.refresh_from_db()
    assert run.outcome == ScriptRun.Outcome.ESCALATED
    assert ticket.group == network_group
    note = ticket.comments.filter(is_internal=True).order_by("-id").first()
    assert "Do web pages open without the VPN? — Yes" in note.body
    assert scripts.escalated_run(ticket) == run
    # The ticket page finds the same run among the runs it reads once.
    assert scripts.escalated_among(scripts.runs_for_ticket(ticket)) == run
    assert scripts.escalated_among([]) is None


def test_ended_run_takes_no_more_answers(script, ticket, agent):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    run = scripts.script_run_answer(run=run, by=agent, answer=0)
    with pytest.raises(ValidationError):
        scripts.script_run_answer(run=run, by=agent, answer=0)


def test_new_run_abandons_the_unfinished_one_and_figures_count_it(script, ticket, agent):
    first = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    scripts.script_run_answer(run=first, by=agent, answer=1)
    second = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    first.refresh_from_db()
    assert first.outcome == ScriptRun.Outcome.ABANDONED
    # Left unanswered for long: abandoned in the figures too.
    ScriptRun.objects.filter(pk=second.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    other = make_ticket(opened_by=agent, category=ticket.category, group=ticket.group)
    solved = scripts.script_run_start(script=script, ticket=other, by=agent)
    scripts.script_run_answer(run=solved, by=agent, answer=0)
    (row,) = scripts.figures()
    assert (row["runs"], row["solved"], row["abandoned"]) == (3, 1, 2)
    steps = {step["id"]: step for step in row["steps"]}
    assert steps["internet"]["abandoned"] == 1
    assert steps["client"]["abandoned"] == 1
    assert steps["client"]["solved"] == 1


def test_pages(client, script, ticket, agent, engineer, manager):
    client.force_login(agent)
    page = client.get(f"/console/tickets/{ticket.number}/").content.decode()
    assert 'data-testid="ticket-scripts"' in page and "Run script" in page
    # The telephone widget offers it too, beside the call.
    assert 'data-testid="phone-scripts"' in page
    response = client.post(f"/kb/tickets/{ticket.number}/script/", {"script": script.pk})
    run = ScriptRun.objects.get()
    assert response.url == f"/kb/scripts/runs/{run.pk}/"
    assert "Does the client show" in client.get(response.url).content.decode()
    client.post(f"/kb/scripts/runs/{run.pk}/answer/", {"answer": 0})
    run.refresh_from_db()
    assert run.outcome == "solved"
    assert client.get(f"/kb/scripts/{script.pk}/edit/").status_code == 403
    client.force_login(engineer)
    tree = vpn_tree()
    tree["steps"][0]["question"] = "Connected?"
    response = client.post(
        f"/kb/scripts/{script.pk}/edit/",
        {"name": script.name, "language": "en", "is_active": "on", "tree": json.dumps(tree)},
    )
    assert response.status_code == 302
    assert ScriptVersion.objects.filter(script=script).count() == 2
    bad = client.post(
        f"/kb/scripts/{script.pk}/edit/",
        {"name": script.name, "language": "en", "tree": "{not json"},
    )
    assert "not valid JSON" in bad.content.decode()
    assert 'data-testid="kb-scripts-link"' in client.get("/kb/").content.decode()
    client.force_login(manager)
    figures = client.get("/kb/scripts/stats/").content.decode()
    assert "VPN does not connect" in figures


def test_engineer_sees_the_escalated_steps_at_the_top(client, script, ticket, agent, engineer):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    run = scripts.script_run_answer(run=run, by=agent, answer=1)
    scripts.script_run_answer(run=run, by=agent, answer=0)
    client.force_login(engineer)
    page = client.get(f"/console/tickets/{ticket.number}/").content.decode()
    top = page.index('data-testid="escalated-script-run"')
    assert top < page.index('data-testid="ticket-title"')
    assert "Do web pages open without the VPN? — <strong>Yes</strong>" in page


def test_demo_seeds_the_scripts_in_english_and_polish(agent, manager, engineer, network_group):
    import io

    from kb import demo
    from kb.models import Script
    from tests.factories import SupportGroupFactory

    for code in ("desktop", "access"):
        SupportGroupFactory(code=code, tier=2)
    vpn = ServiceFactory(name="VPN & remote access")
    vpn_category = CategoryFactory(name="VPN", parent=CategoryFactory(name="Network"))
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "4 diagnostic scripts created" in out.getvalue()
    assert set(Script.objects.values_list("language", flat=True)) == {"en", "pl"}
    script = Script.objects.get(name="VPN does not connect")
    assert list(script.services.all()) == [vpn]
    assert list(script.categories.all()) == [vpn_category]
    outcomes = {
        answer.get("outcome")
        for step in script.current_version.tree["steps"]
        for answer in step["answers"]
    }
    assert {"solved", "escalate", "article"} <= outcomes
    demo.seed(stdout=out)
    assert "0 diagnostic scripts created" in out.getvalue()


def test_admin_lists_scripts_and_runs_read_only(client, admin_user, script, ticket, agent):
    run = scripts.script_run_start(script=script, ticket=ticket, by=agent)
    client.force_login(admin_user)
    for url in (
        "/admin/kb/script/",
        f"/admin/kb/script/{script.pk}/change/",
        "/admin/kb/scriptrun/",
        f"/admin/kb/scriptrun/{run.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url


def test_engineer_edits_one_step_and_adds_one(client, script, engineer, network_group):
    client.force_login(engineer)
    page = client.get(f"/kb/scripts/{script.pk}/").content.decode()
    assert 'data-edit-step="internet"' in page
    response = client.post(
        f"/kb/scripts/{script.pk}/steps/internet/",
        {
            "question": "Do web pages open?",
            "instruction": "",
            "label_0": "Yes",
            "target_0": "escalate:network",
            "label_1": "No",
            "target_1": "solved",
        },
    )
    assert response.status_code == 302
    version = scripts.version_current(script)
    assert version.number == 2
    assert version.step("internet")["question"] == "Do web pages open?"
    response = client.post(
        f"/kb/scripts/{script.pk}/steps/new/",
        {
            "step_id": "proxy",
            "from_step": "internet",
            "from_label": "Only some pages",
            "question": "Is a proxy set in the browser?",
            "label_0": "Yes",
            "target_0": "solved",
        },
    )
    assert response.status_code == 302
    version = scripts.version_current(script)
    assert version.number == 3
    assert version.step("internet")["answers"][-1] == {"label": "Only some pages", "next": "proxy"}
    # A step leading back to its ancestor is refused, nothing published.
    response = client.post(
        f"/kb/scripts/{script.pk}/steps/proxy/",
        {"question": "Proxy?", "label_0": "Yes", "target_0": "next:client"},
    )
    assert "circle" in response.content.decode()
    assert scripts.version_current(script).number == 3
