"""The caller card in the browser: once the call is answered, the card lists the diagnostic
scripts offered for the caller's open ticket (a script of the ticket category's parent), and
one press starts the run on that ticket.

Chromium against uvicorn serving the ASGI app (see test_screen_pop.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kb import scripts
from kb.models import ScriptRun
from tests.e2e.conftest import screenshot
from tests.e2e.test_call_cards import LAPTOP, desk, open_console  # noqa: F401 (fixture)
from tests.e2e.test_screen_pop import post_event
from tests.factories import CategoryFactory, make_ticket, make_user
from tests.kb.test_scripts import vpn_tree

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_starts_a_script_from_the_caller_card(
    desk,  # noqa: F811
    network_group,
    asgi_server,
    new_page,
):
    from helpdesk.roles import Role

    engineer = make_user(Role.ENGINEER, username="writer")
    network = CategoryFactory(name="Network")
    vpn = CategoryFactory(name="VPN", parent=network)
    script = scripts.script_save(
        by=engineer, tree=vpn_tree(), name="VPN does not connect", categories=[network]
    )
    caller = desk["callers"][1]
    ticket = make_ticket(caller=caller, title="VPN will not connect", category=vpn)

    page = new_page(viewport=LAPTOP)
    open_console(page, asgi_server)
    pbx = desk["pbx"]
    post_event(
        asgi_server,
        pbx,
        event="ring",
        call_id="s-1",
        extension="201",
        **{"from": "+48 22 555 01 02"},
    )
    ringing = page.locator(".cti-card[data-call-state=ringing]")
    expect(ringing).to_be_visible()
    # Not on the ring: the scripts are read once the agent has the caller.
    expect(ringing.get_by_test_id("card-scripts")).to_have_count(0)
    post_event(asgi_server, pbx, event="answer", call_id="s-1", answered_by="201")
    card = page.locator(".cti-card[data-call-state=answered]")
    offered = card.locator(f"[data-testid=card-scripts][data-ticket='{ticket.number}']")
    expect(offered).to_be_visible()
    screenshot(page, "card-scripts-01-offered", full_page=False)
    offered.get_by_role("button", name=script.name).click()
    page.wait_for_url("**/kb/scripts/runs/*/")
    run = ScriptRun.objects.get()
    assert run.ticket == ticket and run.agent == desk["alice"]
    expect(page.get_by_text("Does the client show “Connected”?")).to_be_visible()
    screenshot(page, "card-scripts-02-run", full_page=False)
