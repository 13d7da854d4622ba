"""OAuth2 access tokens for mailboxes: renewed from the refresh token over real HTTP.

The "other" provider is the test's own token endpoint (tests/mail/dovecot.py, no Dovecot
needed); what is sent to Microsoft and Google is checked at the network edge
(``oauth._post``). XOAUTH2 sign-ins with these tokens against Dovecot are in test_fetch.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from mail import oauth
from mail.models import Mailbox
from tests.mail.dovecot import free_port

pytestmark = pytest.mark.django_db

USER = "servicedesk@helpdesk.test"


@pytest.fixture
def mailbox(provider):
    mailbox = Mailbox(
        name="OAuth",
        address=USER,
        host="imap.example.com",
        username=USER,
        auth_method=Mailbox.AuthMethod.OAUTH2,
        oauth_provider=Mailbox.OAuthProvider.CUSTOM,
        oauth_token_url=provider.token_url,
        oauth_client_id=provider.client_id,
    )
    mailbox.set_oauth_secret(provider.client_secret)
    mailbox.set_refresh_token(provider.issue_refresh_token(USER))
    mailbox.save()
    return mailbox


def test_the_first_access_token_is_fetched_and_stored_encrypted(mailbox, provider):
    token = oauth.access_token(mailbox)

    assert provider.access_tokens[token].user == USER
    request = provider.token_requests[-1]
    assert request["grant_type"] == "refresh_token"
    assert request["client_id"] == provider.client_id
    assert request["client_secret"] == provider.client_secret
    assert "scope" not in request
    mailbox.refresh_from_db()
    assert mailbox.get_access_token() == token
    assert token not in mailbox.oauth_access_token_encrypted
    expected = timezone.now() + timedelta(seconds=provider.access_lifetime)
    assert abs(mailbox.oauth_access_token_expires_at - expected) < timedelta(seconds=30)


def test_a_token_valid_for_more_than_five_minutes_is_used_as_stored(mailbox, provider):
    token = oauth.access_token(mailbox)
    requests = len(provider.token_requests)
    mailbox.oauth_access_token_expires_at = timezone.now() + timedelta(minutes=6)
    mailbox.save()

    assert oauth.access_token(mailbox) == token
    assert len(provider.token_requests) == requests


def test_a_token_expiring_within_five_minutes_is_renewed(mailbox, provider):
    first = oauth.access_token(mailbox)
    mailbox.oauth_access_token_expires_at = timezone.now() + timedelta(minutes=4)
    mailbox.save()

    second = oauth.access_token(mailbox)

    assert second != first
    mailbox.refresh_from_db()
    assert mailbox.get_access_token() == second
    assert mailbox.oauth_access_token_expires_at > timezone.now() + timedelta(minutes=55)


def test_force_refresh_renews_a_token_that_has_not_expired(mailbox, provider):
    first = oauth.access_token(mailbox)
    assert oauth.access_token(mailbox, force_refresh=True) != first


def test_a_rotated_refresh_token_replaces_the_old_one(mailbox, provider):
    provider.rotate_refresh_tokens = True
    old = mailbox.get_refresh_token()

    oauth.access_token(mailbox)

    mailbox.refresh_from_db()
    new = mailbox.get_refresh_token()
    assert new != old
    assert provider.refresh_tokens[new] == USER
    assert old not in provider.refresh_tokens
    # The stored one works for the next renewal.
    assert oauth.access_token(mailbox, force_refresh=True) in provider.access_tokens


def test_a_refused_refresh_token_raises_a_clear_error(mailbox, provider):
    provider.revoke(USER)

    with pytest.raises(oauth.OAuthError) as raised:
        oauth.access_token(mailbox)

    message = str(raised.value)
    assert "refused to renew the access token (invalid_grant)" in message
    assert "The refresh token has expired or was revoked." in message
    assert "sign in to the mailbox's account again" in message
    mailbox.refresh_from_db()
    assert mailbox.oauth_access_token_encrypted == ""


def test_a_wrong_client_secret_says_to_check_the_client(mailbox, provider):
    mailbox.set_oauth_secret("wrong")

    with pytest.raises(oauth.OAuthError, match=r"\(invalid_client\).*Check the client id"):
        oauth.access_token(mailbox)


def test_an_unreachable_token_url_raises_a_clear_error(mailbox):
    mailbox.oauth_token_url = f"http://127.0.0.1:{free_port()}/token"

    with pytest.raises(oauth.OAuthError, match="could not be reached"):
        oauth.access_token(mailbox)


def test_an_answer_without_an_access_token_is_an_error(mailbox, monkeypatch):
    monkeypatch.setattr(oauth, "_post", lambda url, form: {"token_type": "Bearer"})

    with pytest.raises(oauth.OAuthError, match="without an access token"):
        oauth.access_token(mailbox)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"oauth_provider": ""}, "no OAuth2 provider is chosen"),
        ({"oauth_token_url": ""}, "no token URL is set"),
        ({"oauth_token_url": "ftp://example.com/token"}, "is not an http(s) URL"),
        ({"oauth_client_id": ""}, "no client id is set"),
        ({"oauth_refresh_token_encrypted": ""}, "No OAuth2 refresh token is stored"),
    ],
)
def test_an_incomplete_configuration_is_named(mailbox, changes, message):
    for name, value in changes.items():
        setattr(mailbox, name, value)

    with pytest.raises(oauth.OAuthError) as raised:
        oauth.access_token(mailbox)
    assert message in str(raised.value)


@pytest.fixture
def sent(monkeypatch):
    """What would go to the provider; it answers with a token and a rotated refresh token."""
    requests = []

    def post(url, form):
        requests.append((url, form))
        return {"access_token": "at", "expires_in": 3599, "refresh_token": "rt-2"}

    monkeypatch.setattr(oauth, "_post", post)
    return requests


def test_microsoft_365_asks_its_tenant_for_imap_access(mailbox, sent):
    mailbox.oauth_provider = Mailbox.OAuthProvider.MICROSOFT
    mailbox.oauth_tenant = "contoso.onmicrosoft.com"

    assert oauth.access_token(mailbox) == "at"

    url, form = sent[0]
    assert url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert form["scope"] == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    assert form["grant_type"] == "refresh_token"
    mailbox.refresh_from_db()
    assert mailbox.get_refresh_token() == "rt-2"


def test_microsoft_365_without_a_tenant_uses_common(mailbox, sent):
    mailbox.oauth_provider = Mailbox.OAuthProvider.MICROSOFT

    oauth.access_token(mailbox)

    assert sent[0][0] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"


def test_google_uses_its_token_endpoint(mailbox, sent):
    mailbox.oauth_provider = Mailbox.OAuthProvider.GOOGLE

    oauth.access_token(mailbox)

    url, form = sent[0]
    assert url == "https://oauth2.googleapis.com/token"
    assert "scope" not in form
    assert form["client_secret"] == mailbox.get_oauth_secret()
