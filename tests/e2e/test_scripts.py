"""Diagnostic scripts in the browser: an agent runs a script on a ticket to a fix (the ticket
is resolved on first contact); another run ends in escalation and the engineer opening the
ticket sees the steps and answers at the top."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from kb import scripts
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, CategoryFactory, SupportGroupFactory, make_ticket, make_user
from tickets.models import Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TREE = {
    "start": "client",
    "steps": [
        {
            "id": "client",
            "instruction": "Ask the caller to click the GlobalProtect icon next to the clock.",
            "question": "What does GlobalProtect say?",
            "answers": [
                {"label": "Gateway unreachable", "next": "restart"},
                {"label": "Not installed", "outcome": "escalate", "group": "desktop"},
            ],
        },
        {
            "id": "restart",
            "instruction": "Ask the caller to restart the laptop and connect again.",
            "question": "Does the VPN connect after the restart?",
            "answers": [
                {"label": "Yes", "outcome": "solved"},
                {"label": "No", "outcome": "escalate", "group": "network"},
            ],
        },
    ],
}


@pytest.fixture
def world(db):
    first = SupportGroupFactory(code="service-desk", name="Service Desk", tier=1)
    network = SupportGroupFactory(code="network", name="Network Operations", tier=2)
    SupportGroupFactory(code="desktop", name="Desktop Support", tier=2)
    agent = make_user(Role.AGENT, username="anna")
    first.members.add(agent)
    engineer = make_user(Role.ENGINEER, username="tomasz")
    network.members.add(engineer)
    vpn = CategoryFactory(name="VPN")
    scripts.script_save(by=engineer, tree=TREE, name="VPN does not connect", categories=[vpn])
    return {"agent": agent, "engineer": engineer, "category": vpn, "group": first}


def _run_from_ticket(page, base_url, ticket, answers):
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    card = page.get_by_test_id("ticket-scripts")
    expect(card).to_contain_text("VPN does not connect")
    card.get_by_role("button", name="Run script").click()
    for question, answer in answers:
        step = page.get_by_test_id("run-step")
        expect(step).to_contain_text(question)
        step.get_by_role("button", name=answer, exact=True).click()


def test_agent_runs_a_script_to_a_fix(page, base_url, world):
    ticket = make_ticket(
        opened_by=world["agent"], category=world["category"], group=world["group"],
        title="VPN does not connect from home",
    )  # fmt: skip
    login(page, base_url, "anna", PASSWORD)
    page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    # Offered beside the call in the telephone widget, and on the ticket's card.
    expect(page.get_by_test_id("phone-scripts")).to_contain_text("VPN does not connect")
    screenshot(page, "scripts-01-ticket-offers-script")
    _run_from_ticket(
        page, base_url, ticket, [("What does GlobalProtect say?", "Gateway unreachable")]
    )
    expect(page.get_by_test_id("run-answers")).to_contain_text("Gateway unreachable")
    expect(page.get_by_test_id("run-instruction")).to_contain_text("restart the laptop")
    screenshot(page, "scripts-02-second-step")
    page.get_by_test_id("run-step").get_by_role("button", name="Yes", exact=True).click()
    expect(page.get_by_test_id("run-outcome")).to_contain_text("Solved")
    screenshot(page, "scripts-03-solved")
    page.get_by_role("link", name="Back to the ticket").click()
    expect(page.get_by_test_id("ticket-state")).to_contain_text("Resolved")
    expect(page.get_by_text("solved on first contact")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.first_contact_resolution


def test_run_ending_in_escalation_shows_the_steps_to_the_engineer(new_page, base_url, world):
    ticket = make_ticket(
        opened_by=world["agent"], category=world["category"], group=world["group"],
        title="No VPN in the hotel",
    )  # fmt: skip
    agent_page = new_page()
    login(agent_page, base_url, "anna", PASSWORD)
    _run_from_ticket(
        agent_page,
        base_url,
        ticket,
        [
            ("What does GlobalProtect say?", "Gateway unreachable"),
            ("Does the VPN connect after the restart?", "No"),
        ],
    )
    expect(agent_page.get_by_test_id("run-outcome")).to_contain_text("Network Operations")
    screenshot(agent_page, "scripts-04-escalated")
    engineer_page = new_page()
    login(engineer_page, base_url, "tomasz", PASSWORD)
    engineer_page.goto(f"{base_url}/console/tickets/{ticket.number}/")
    notice = engineer_page.get_by_test_id("escalated-script-run")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("VPN does not connect")
    expect(notice.locator("li")).to_have_text(
        [
            "What does GlobalProtect say? — Gateway unreachable",
            "Does the VPN connect after the restart? — No",
        ]
    )
    expect(engineer_page.get_by_test_id("ticket-group")).to_contain_text("Network Operations")
    # Above the ticket's header: the first thing the engineer reads.
    notice_box = notice.bounding_box()
    header_box = engineer_page.get_by_test_id("ticket-title").bounding_box()
    assert notice_box["y"] < header_box["y"]
    screenshot(engineer_page, "scripts-05-engineer-sees-steps")
    assert (
        SupportGroup.objects.get(code="network").pk
        == ticket.__class__.objects.get(pk=ticket.pk).group_id
    )


def test_engineer_edits_the_tree_and_manager_reads_the_figures(page, new_page, base_url, world):
    from kb.models import Script

    make_user(Role.MANAGER, username="maria")
    script = Script.objects.get()
    login(page, base_url, "tomasz", PASSWORD)
    page.goto(f"{base_url}/kb/scripts/{script.pk}/edit/")
    tree = page.get_by_test_id("script-tree")
    expect(tree).to_contain_text("What does GlobalProtect say?")
    expect(tree).to_contain_text("escalate to network")
    text = page.locator("#id_tree").input_value()
    page.locator("#id_tree").fill(text.replace("Does the VPN connect", "Does the VPN now connect"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("script-tree")).to_contain_text("Does the VPN now connect")
    expect(page.get_by_text("version 2")).to_be_visible()
    screenshot(page, "scripts-06-tree")
    page.goto(f"{base_url}/kb/scripts/{script.pk}/edit/")
    page.locator("#id_tree").fill(text.replace('"next": "restart"', '"next": "client"'))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("go round in a circle")).to_be_visible()
    screenshot(page, "scripts-07-editor-error")
    # One step at a time, from the rendered tree.
    page.goto(f"{base_url}/kb/scripts/{script.pk}/")
    page.locator('[data-edit-step="restart"]').click()
    page.get_by_label("Question").fill("Does the VPN connect after a restart?")
    page.get_by_role("button", name="Save the step").click()
    expect(page.get_by_test_id("script-tree")).to_contain_text("after a restart?")
    expect(page.get_by_text("version 3")).to_be_visible()
    screenshot(page, "scripts-07b-step-edited")
    ticket = make_ticket(opened_by=world["agent"], category=world["category"], group=world["group"])
    run = scripts.script_run_start(script=script, ticket=ticket, by=world["agent"])
    scripts.script_run_answer(run=run, by=world["agent"], answer=0)
    scripts.script_run_abandon(run=run, by=world["agent"])
    manager_page = new_page()
    login(manager_page, base_url, "maria", PASSWORD)
    manager_page.goto(f"{base_url}/kb/scripts/stats/")
    figures = manager_page.get_by_test_id("script-figures")
    expect(figures.get_by_test_id("runs")).to_have_text("1")
    expect(figures.get_by_test_id("abandoned")).to_have_text("1")
    screenshot(manager_page, "scripts-08-figures")
