"""Password reset by e-mail: a link mailed to the account's address, working once and for
PASSWORD_RESET_TIMEOUT; the same answer whether or not the address is known; at most
PASSWORD_RESET_PER_HOUR mails per address; the new password signs the user out elsewhere,
revokes their API tokens and lifts a sign-in lockout."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from helpdesk import services
from helpdesk.models import ApiToken
from tests.factories import PASSWORD

NEW_PASSWORD = "Correct-horse-battery-42"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _ask(client: Client, email: str):
    return client.post("/accounts/password-reset/", {"email": email}, follow=True)


def _link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/password-reset/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_the_sign_in_and_lockout_pages_lead_to_the_reset(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password-reset/"' in page
    assert client.get("/accounts/password-reset/").status_code == 200


def test_a_known_address_gets_a_link_that_sets_a_new_password_once(end_user):
    end_user.email = "Jan.Kowalski@mobilnet.example"
    end_user.save()
    answer = _ask(Client(), "jan.kowalski@MOBILNET.example")
    assert answer.status_code == 200
    assert 'data-testid="reset-sent"' in answer.content.decode()
    [message] = mail.outbox
    assert message.to == ["Jan.Kowalski@mobilnet.example"]
    assert "Reset your password" in message.subject
    assert end_user.username in message.body

    browser = Client()
    form = browser.get(_link(message), follow=True)
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert 'data-testid="reset-complete"' in done.content.decode()
    assert Client().login(username=end_user.username, password=NEW_PASSWORD)
    assert not Client().login(username=end_user.username, password=PASSWORD)

    again = Client().get(_link(message), follow=True)
    assert 'data-testid="reset-invalid"' in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(db, end_user):
    known = _ask(Client(), end_user.email)
    unknown = _ask(Client(), "nobody@mobilnet.example")
    assert unknown.status_code == known.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [end_user.email]


def test_an_inactive_account_gets_no_link(end_user):
    end_user.is_active = False
    end_user.save()
    _ask(Client(), end_user.email)
    assert mail.outbox == []


def test_a_bad_address_is_named_on_the_form(db):
    answer = Client().post("/accounts/password-reset/", {"email": "not an address"})
    assert answer.status_code == 200
    assert "is-invalid" in answer.content.decode()
    assert mail.outbox == []


def test_at_most_the_hourly_number_of_mails_go_to_one_address(end_user, settings, caplog):
    settings.PASSWORD_RESET_PER_HOUR = 2
    for _ in range(4):
        assert _ask(Client(), end_user.email).status_code == 200
    assert len(mail.outbox) == 2
    assert "over the hourly limit" in caplog.text


def test_a_mail_server_that_refuses_is_logged_not_shown(end_user, monkeypatch, caplog):
    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    answer = _ask(Client(), end_user.email)
    assert answer.status_code == 200
    assert 'data-testid="reset-sent"' in answer.content.decode()
    assert "Failed to send password reset email" in caplog.text


def test_the_new_password_signs_out_other_sessions_and_revokes_tokens(end_user):
    elsewhere = Client()
    elsewhere.force_login(end_user)
    assert elsewhere.get("/account/api-tokens/").status_code == 200
    _token, key = services.api_token_create(user=end_user, name="laptop", lifetime_days=30)

    _ask(Client(), end_user.email)
    browser = Client()
    form = browser.get(_link(mail.outbox[0]), follow=True)
    browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert elsewhere.get("/account/api-tokens/").status_code == 302
    assert not ApiToken.objects.filter(user=end_user, revoked_at__isnull=True).exists()
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/groups/").status_code == 401


def test_a_weak_new_password_is_refused_on_the_form(end_user):
    _ask(Client(), end_user.email)
    browser = Client()
    form = browser.get(_link(mail.outbox[0]), follow=True)
    answer = browser.post(
        form.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"}
    )
    assert answer.status_code == 200
    assert "is-invalid" in answer.content.decode()
    assert Client().login(username=end_user.username, password=PASSWORD)


def test_a_reset_lifts_the_sign_in_lockout(end_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": end_user.username, "password": "wrong"})
    locked = Client().post(
        "/accounts/login/", {"username": end_user.username, "password": PASSWORD}
    )
    assert locked.status_code == 429

    _ask(Client(), end_user.email)
    browser = Client()
    form = browser.get(_link(mail.outbox[0]), follow=True)
    browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    signed_in = Client().post(
        "/accounts/login/", {"username": end_user.username, "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302
