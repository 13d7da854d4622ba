"""A console whose person signed out (in another tab, or the session expired) stops
reconnecting and sends the person to the sign-in page, in a real browser against uvicorn
(see test_screen_pop.py for the set-up)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.e2e.conftest import login, logout, screenshot
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Keeps every websocket the page opens, so the test can drop the connection as a network
# blip or a server restart would, and count the console's attempts.
RECORD_SOCKETS = """
(function () {
  var Original = window.WebSocket;
  window.__sockets = [];
  function Recorded(url, protocols) {
    var socket = protocols === undefined ? new Original(url) : new Original(url, protocols);
    window.__sockets.push(socket);
    socket.addEventListener("close", function (event) {
      // Kept across the navigation to the sign-in page (same tab, same origin).
      var codes = JSON.parse(window.sessionStorage.getItem("closeCodes") || "[]");
      codes.push(event.code);
      window.sessionStorage.setItem("closeCodes", JSON.stringify(codes));
    });
    return socket;
  }
  Recorded.prototype = Original.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    Recorded[name] = Original[name];
  });
  window.WebSocket = Recorded;
})();
"""


def test_signed_out_console_goes_to_the_sign_in_page_instead_of_reconnecting(
    first_line, asgi_server, new_page
):
    agent = make_user(Role.AGENT, username="alice", first_name="Alice", last_name="Agent")
    first_line.members.add(agent)
    page = new_page()
    page.add_init_script(RECORD_SOCKETS)
    login(page, asgi_server, "alice", PASSWORD)
    page.goto(f"{asgi_server}/cti/calls/?outcome=missed")
    expect(page.locator("#cti-console")).to_have_attribute("data-connected", "true")

    # Alice signs out in another tab; the console's socket stays open until it drops.
    other_tab = page.context.new_page()
    other_tab.goto(f"{asgi_server}/cti/calls/")
    logout(other_tab)
    other_tab.close()
    page.evaluate("window.__sockets[window.__sockets.length - 1].close()")

    # The reconnect is refused as signed out (4403, not a failed handshake), and the
    # console sends her to the sign-in page, coming back to where she was.
    page.wait_for_url("**/accounts/login/**")
    assert "next=/cti/calls/%3Foutcome%3Dmissed" in page.url or (
        "next=%2Fcti%2Fcalls%2F%3Foutcome%3Dmissed" in page.url
    )
    expect(page.locator("input[name=username]")).to_be_visible()
    # The drop we caused (1005: closed without a code), then one refusal the script read.
    codes = page.evaluate('JSON.parse(window.sessionStorage.getItem("closeCodes") || "[]")')
    assert codes == [1005, 4403]
    screenshot(page, "cti-console-signed-out", full_page=False)
