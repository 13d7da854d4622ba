"""The doors in a real browser: the API tokens page, and no page breaking the
Content-Security-Policy (portal, console with the telephony widget and a screen pop, admin,
Swagger UI), served by the project's ASGI application (websockets need it)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.e2e.conftest import login, logout, open_user_menu, screenshot
from tests.factories import (
    PASSWORD,
    AgentExtensionFactory,
    PbxFactory,
    PhoneNumberFactory,
    make_ticket,
    make_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every policy violation (a refused script, style, connection or frame) is recorded in the
# page; the console's "Refused to ..." errors are collected too.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def watched_page(page):
    """A page that records CSP violations and console errors: ``page.csp_problems()``."""
    errors = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )

    def problems():
        """What was refused since the last call (the console's errors are drained)."""
        recorded = page.evaluate("window.__cspViolations || []")
        found = recorded + [e for e in errors if "Content Security Policy" in e]
        errors.clear()
        return found

    page.csp_problems = problems
    return page


def test_api_tokens_page_makes_lists_and_revokes_tokens(watched_page, asgi_server):
    page = watched_page
    make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    login(page, asgi_server, "ewa", PASSWORD)
    open_user_menu(page)
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    expect(page.get_by_text("You have no API tokens.")).to_be_visible()

    # Bad input: no name, then a lifetime out of range.
    page.get_by_label("Name").fill("")
    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label("Name").fill("Backup script")
    page.get_by_label("Lifetime in days").fill("1000")
    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_text("less than or equal to 365")).to_be_visible()
    screenshot(page, "doors-api-tokens-invalid")

    page.get_by_label("Lifetime in days").fill("30")
    page.get_by_role("button", name="Make token").click()
    key = page.get_by_label("Key").input_value()
    assert len(key) > 30
    rows = page.get_by_test_id("token-list").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Backup script")
    expect(rows.first).to_contain_text(key[:8])
    screenshot(page, "doors-api-tokens-created")
    api = httpx.get(
        f"{asgi_server}/api/groups/", headers={"Authorization": f"Token {key}"}, timeout=10
    )
    assert api.status_code == 200

    # The key is not shown again.
    page.reload()
    expect(page.get_by_label("Key")).to_have_count(0)
    assert key not in page.content()

    page.get_by_role("button", name="Revoke Backup script").click()
    expect(page.get_by_text("The token “Backup script” is revoked.")).to_be_visible()
    expect(rows.first).to_contain_text("Revoked")
    screenshot(page, "doors-api-tokens-revoked")
    api = httpx.get(
        f"{asgi_server}/api/groups/", headers={"Authorization": f"Token {key}"}, timeout=10
    )
    assert api.status_code == 401
    assert page.csp_problems() == []


def test_no_page_breaks_the_content_security_policy(
    watched_page, asgi_server, first_line, admin_user
):
    page = watched_page
    base = asgi_server
    make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="User")
    agent = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    first_line.members.add(agent)
    AgentExtensionFactory(user=agent, extension="201")
    caller = PhoneNumberFactory(raw="+48 22 555 01 01", person__full_name="Anna Nowak").person
    ticket = make_ticket(caller=caller, title="VPN drops every hour")
    pbx = PbxFactory()
    problems = {}

    def visit(path, ready=None):
        page.goto(f"{base}{path}")
        if ready:
            expect(page.locator(ready).first).to_be_visible()
        page.wait_for_load_state("networkidle")
        problems[path] = page.csp_problems()

    visit("/accounts/password-reset/", "main form")
    visit("/accounts/login/")
    # The watch itself works: an inline style is refused and recorded.
    page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>p {}</style>')")
    page.wait_for_timeout(300)
    assert any("style-src" in problem for problem in page.csp_problems())
    login(page, base, "ewa", PASSWORD)
    visit("/", "main")
    visit("/tickets/new/", "main form")
    visit("/tickets/", "main")
    visit("/account/notifications/", "main form")
    logout(page)

    login(page, base, "alice", PASSWORD)
    visit("/console/", "#cti-console[data-connected=true]")
    # A screen pop: the caller card is drawn by the widget's script.
    response = httpx.post(
        f"{base}/cti/webhook/{pbx.pk}/",
        json={"event": "ring", "call_id": "csp-1", "from": "022 555 01 01", "extension": "201"},
        headers={"X-Helpdesk-Token": pbx.token},
        timeout=10,
    )
    assert response.status_code == 200
    expect(page.locator(".cti-card")).to_contain_text("Anna Nowak")
    expect(page.locator(".cti-card")).to_contain_text(ticket.number)
    page.wait_for_timeout(400)
    screenshot(page, "doors-csp-console-screen-pop", full_page=False)
    problems["/console/ (screen pop)"] = page.csp_problems()
    # An htmx search of the queue (htmx must not add its inline indicator style).
    visit("/console/", "#ticket-list")
    page.fill("input[name=q]", "VPN")
    page.wait_for_timeout(800)
    expect(page.locator("#ticket-list")).to_contain_text(ticket.number)
    problems["/console/ (search)"] = page.csp_problems()
    visit(f"/console/tickets/{ticket.number}/", "main")
    visit("/cti/calls/", "main")
    logout(page)

    login(page, base, "admin", PASSWORD)
    visit("/admin/", "#content")
    visit("/admin/auth/user/add/", "form")
    visit("/admin/helpdesk/person/add/", "form")
    visit("/admin/axes/accessattempt/", "#content")
    visit("/admin/mail/mailbox/add/", "form")
    visit("/admin/mail/inboundmessage/", "#content")
    visit("/api/docs/", ".opblock")
    screenshot(page, "doors-csp-swagger", full_page=False)
    assert {path: found for path, found in problems.items() if found} == {}
