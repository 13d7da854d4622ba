"""The doors: failed sign-ins lock out on the login page, the admin and the API token
endpoint alike; the client address is the peer unless it is a trusted proxy; sessions of
staff are shorter; every HTML page carries a Content-Security-Policy."""

from __future__ import annotations

import logging
import random

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from helpdesk.security import ClientAddressThrottle, client_ip
from tests.factories import PASSWORD

LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def _address():
    """A client address of its own per test: the throttle's counts live in the cache,
    which on Redis outlives a test."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def login_page(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def admin_login(client, username, password, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, **extra
    )


def token_endpoint(client, username, password, **extra):
    return client.post(
        "/api/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


DOORS = [
    pytest.param(login_page, "end_user", id="login page"),
    pytest.param(admin_login, "admin_user", id="admin"),
    pytest.param(token_endpoint, "end_user", id="API token"),
]


def signed_in(response, client) -> bool:
    if response.status_code == 201:  # the token endpoint
        return "token" in response.json()
    return SESSION_KEY in client.session and response.status_code == 302


@pytest.mark.parametrize(("door", "who"), DOORS)
def test_wrong_passwords_lock_the_account_out_even_for_the_right_one(request, door, who):
    user = request.getfixturevalue(who)
    client = Client(REMOTE_ADDR=_address())
    for _attempt in range(LIMIT - 1):
        response = door(client, user.username, "wrong")
        assert response.status_code in (200, 400), response.status_code
    # The last allowed failure is already answered as a lockout.
    assert door(client, user.username, "wrong").status_code == 429
    # The right password no longer signs in, from anywhere.
    elsewhere = Client(REMOTE_ADDR=_address())
    response = door(elsewhere, user.username, PASSWORD)
    assert response.status_code == 429
    assert not signed_in(response, elsewhere)
    assert response["Retry-After"] == "900"


@pytest.mark.parametrize(("door", "who"), DOORS)
def test_failures_from_one_address_lock_that_address_out_for_every_name(request, door, who):
    user = request.getfixturevalue(who)
    address = _address()
    client = Client(REMOTE_ADDR=address)
    for number in range(LIMIT):
        door(client, f"guess{number}", "wrong")
    assert door(client, user.username, PASSWORD).status_code == 429
    # The account itself is not locked: from another address it signs in.
    other = Client(REMOTE_ADDR=_address())
    assert signed_in(door(other, user.username, PASSWORD), other)


def test_lockout_answer_does_not_tell_whether_the_account_exists(end_user):
    answers = []
    for username in ("enduser", "nobody-at-all"):
        client = Client(REMOTE_ADDR=_address())
        for _attempt in range(LIMIT):
            response = login_page(client, username, "wrong")
        page = response.content.decode()
        answers.append((response.status_code, page[page.index('data-testid="locked-out"') :]))
        api = token_endpoint(Client(REMOTE_ADDR=_address()), username, "wrong")
        answers.append((api.status_code, api.json()))
    assert answers[0] == answers[2]
    assert answers[1] == answers[3]
    assert answers[0][0] == 429
    assert "Too many failed sign-in attempts" in answers[0][1]
    assert answers[1][1]["code"] == "locked_out"


def test_a_successful_sign_in_clears_the_count(end_user):
    client = Client(REMOTE_ADDR=_address())
    for _round in range(3):
        for _attempt in range(LIMIT - 1):
            login_page(client, "enduser", "wrong")
        assert signed_in(login_page(client, "enduser", PASSWORD), client)
        client.logout()


def test_lockouts_are_logged_and_an_administrator_unlocks(end_user, admin_user, caplog):
    client = Client(REMOTE_ADDR=_address())
    with caplog.at_level(logging.WARNING):
        for _attempt in range(LIMIT):
            login_page(client, "enduser", "wrong")
    assert any(
        record.name == "helpdesk.security" and "enduser" in record.getMessage()
        for record in caplog.records
    )
    attempt = AccessAttempt.objects.get(username="enduser")
    admin = Client()
    admin.force_login(admin_user)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "enduser" in listing.content.decode()
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert signed_in(login_page(client, "enduser", PASSWORD), client)


# --- the client address ------------------------------------------------------------------


def _request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_forwarded_header_is_ignored_without_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("127.0.0.1", "203.0.113.9")) == "127.0.0.1"


def test_forwarded_header_is_read_from_a_trusted_proxy_only(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.1.0.0/16"]
    # From the proxy: the right-most address that is not a proxy; what the client put in
    # front of it (a forged left part) does not count.
    assert client_ip(_request("127.0.0.1", "198.51.100.1, 203.0.113.9")) == "203.0.113.9"
    assert client_ip(_request("127.0.0.1", "203.0.113.9, 10.1.2.3")) == "203.0.113.9"
    assert client_ip(_request("127.0.0.1", "not-an-address")) == "127.0.0.1"
    assert client_ip(_request("127.0.0.1")) == "127.0.0.1"
    # Not from a proxy: the header is the client's own.
    assert client_ip(_request("192.0.2.7", "203.0.113.9")) == "192.0.2.7"


def test_forged_forwarded_headers_do_not_escape_the_address_lockout(settings, end_user):
    settings.TRUSTED_PROXIES = []
    client = Client(REMOTE_ADDR=_address())
    for number in range(LIMIT):
        login_page(client, f"guess{number}", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{number}")
    response = login_page(client, "enduser", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert response.status_code == 429


def test_clients_behind_a_trusted_proxy_are_counted_apart(settings, end_user):
    proxy = _address()
    settings.TRUSTED_PROXIES = [proxy]
    client = Client(REMOTE_ADDR=proxy)
    for number in range(LIMIT):
        login_page(client, f"guess{number}", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.7")
    # The client that failed is locked out, whatever name it tries...
    locked = login_page(client, "enduser", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert locked.status_code == 429
    # ...another client behind the same proxy is not.
    response = login_page(client, "enduser", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert signed_in(response, client)


def test_token_endpoint_throttle_is_keyed_by_the_client_address(settings, monkeypatch, db):
    monkeypatch.setattr(ClientAddressThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    settings.TRUSTED_PROXIES = []
    api = APIClient(REMOTE_ADDR=_address())
    statuses = [
        api.post(
            "/api/auth/token/",
            {"username": f"guess{number}", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}",
        ).status_code
        for number in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


def test_token_endpoint_throttle_honours_a_trusted_proxy(settings, monkeypatch, db):
    monkeypatch.setattr(ClientAddressThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    proxy = _address()
    settings.TRUSTED_PROXIES = [proxy]
    api = APIClient(REMOTE_ADDR=proxy)
    statuses = [
        api.post(
            "/api/auth/token/",
            {"username": f"guess{number}", "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.18.{number}.1",
        ).status_code
        for number in range(4)
    ]
    assert statuses == [400, 400, 400, 400]


# --- sessions ----------------------------------------------------------------------------


def test_staff_sessions_are_shorter_than_end_users(settings, agent, end_user):
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600
    settings.STAFF_SESSION_COOKIE_AGE = 8 * 3600
    staff = Client()
    login_page(staff, "agent", PASSWORD)
    assert staff.session.get_expiry_age() == 8 * 3600
    user = Client()
    login_page(user, "enduser", PASSWORD)
    assert user.session.get_expiry_age() == 14 * 24 * 3600


# --- Content-Security-Policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/accounts/login/", None),
        ("/", "end_user"),
        ("/console/", "agent"),
        ("/account/api-tokens/", "end_user"),
        ("/account/notifications/", "end_user"),
        ("/account/notifications/", "agent"),
        ("/accounts/password-reset/", None),
        ("/accounts/password-reset/sent/", None),
        ("/admin/", "admin_user"),
        ("/admin/mail/mailbox/add/", "admin_user"),
        ("/admin/mail/inboundmessage/", "admin_user"),
        ("/admin/login/", None),
        ("/api/docs/", None),
    ],
)
def test_html_pages_carry_a_strict_content_security_policy(request, db, path, who):
    client = Client()
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(
        ([*directive.split(" ", 1), ""])[:2]
        for directive in (part.strip() for part in response["Content-Security-Policy"].split(";"))
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert policy["connect-src"].split() == ["'self'", "ws://testserver", "wss://testserver"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    page = response.content.decode()
    assert "<script>" not in page
    assert " style=" not in page
