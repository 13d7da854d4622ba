"""OAuth2 access tokens for mailboxes that sign in with XOAUTH2 (Microsoft 365, Google, other).

The administrator stores a refresh token once (with the client id and secret of the
application registered at the provider); from it this module gets short-lived access
tokens with the refresh-token grant (RFC 6749 section 6). An access token is kept,
encrypted, until it expires within :data:`REFRESH_MARGIN`; a refresh token the provider
rotates is stored in place of the old one.

Failures raise :class:`OAuthError` with a sentence for the administrator (the fetcher saves
it on the mailbox as its last error); nothing here retries.
"""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from mail.models import Mailbox

logger = logging.getLogger("mail.oauth")

REFRESH_MARGIN = timedelta(minutes=5)
TIMEOUT_SECONDS = 30
# When a provider does not say how long its token lives (they all do, in ``expires_in``).
DEFAULT_LIFETIME_SECONDS = 3600

MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
MICROSOFT_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"


class OAuthError(Exception):
    """No access token could be had; the message says why, for the administrator."""


def token_url(mailbox: Mailbox) -> str:
    provider = mailbox.oauth_provider
    if provider == Mailbox.OAuthProvider.MICROSOFT:
        tenant = mailbox.oauth_tenant.strip() or "common"
        return MICROSOFT_TOKEN_URL.format(tenant=urllib.parse.quote(tenant, safe=""))
    if provider == Mailbox.OAuthProvider.GOOGLE:
        return GOOGLE_TOKEN_URL
    if provider == Mailbox.OAuthProvider.CUSTOM:
        if not mailbox.oauth_token_url:
            raise OAuthError(_("The OAuth2 provider is “other”, but no token URL is set."))
        return mailbox.oauth_token_url
    raise OAuthError(_("The mailbox signs in with OAuth2, but no OAuth2 provider is chosen."))


def needs_refresh(mailbox: Mailbox) -> bool:
    """Whether the stored access token is missing or expires within the margin."""
    expires_at = mailbox.oauth_access_token_expires_at
    return (
        not mailbox.oauth_access_token_encrypted
        or expires_at is None
        or expires_at - timezone.now() < REFRESH_MARGIN
        or not mailbox.get_access_token()  # stored under a key that has changed since
    )


def access_token(mailbox: Mailbox, *, force_refresh: bool = False) -> str:
    """An access token good for at least :data:`REFRESH_MARGIN`, renewed when needed.

    ``force_refresh``: renew even though the stored one has not expired (the server refused
    it: revoked early)."""
    if not force_refresh and not needs_refresh(mailbox):
        return mailbox.get_access_token()
    return access_token_refresh(mailbox=mailbox)


def access_token_refresh(*, mailbox: Mailbox) -> str:
    """Ask the provider for a new access token; store it (and a rotated refresh token)."""
    refresh_token = mailbox.get_refresh_token()
    if not refresh_token:
        raise OAuthError(
            _(
                "No OAuth2 refresh token is stored for this mailbox: sign in to the "
                "mailbox's account again and store the new refresh token."
            )
        )
    if not mailbox.oauth_client_id:
        raise OAuthError(_("The mailbox signs in with OAuth2, but no client id is set."))
    url = token_url(mailbox)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": mailbox.oauth_client_id,
    }
    secret = mailbox.get_oauth_secret()
    if secret:
        form["client_secret"] = secret
    if mailbox.oauth_provider == Mailbox.OAuthProvider.MICROSOFT:
        form["scope"] = MICROSOFT_SCOPE
    answer = _post(url, form)

    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise OAuthError(
            _("The OAuth2 token URL %(url)s answered without an access token.") % {"url": url}
        )
    try:
        lifetime = int(answer.get("expires_in") or DEFAULT_LIFETIME_SECONDS)
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_SECONDS
    mailbox.set_access_token(token)
    mailbox.oauth_access_token_expires_at = timezone.now() + timedelta(seconds=lifetime)
    fields = ["oauth_access_token_encrypted", "oauth_access_token_expires_at"]
    rotated = answer.get("refresh_token")
    if isinstance(rotated, str) and rotated and rotated != refresh_token:
        mailbox.set_refresh_token(rotated)
        fields.append("oauth_refresh_token_encrypted")
    mailbox.save(update_fields=fields)
    logger.info(
        "mailbox %s: access token renewed for %s s%s",
        mailbox.name,
        lifetime,
        ", refresh token rotated" if len(fields) == 3 else "",
    )
    return token


def _post(url: str, form: dict) -> dict:
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise OAuthError(_("The OAuth2 token URL %(url)s is not an http(s) URL.") % {"url": url})
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as error:
        raise OAuthError(_refusal(url, error)) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise OAuthError(
            _("The OAuth2 token URL %(url)s could not be reached: %(reason)s")
            % {"url": url, "reason": reason}
        ) from error
    try:
        answer = json.loads(body)
    except ValueError as error:
        raise OAuthError(
            _("The OAuth2 token URL %(url)s did not answer with JSON.") % {"url": url}
        ) from error
    if not isinstance(answer, dict):
        raise OAuthError(_("The OAuth2 token URL %(url)s did not answer with JSON.") % {"url": url})
    return answer


def _refusal(url: str, error: urllib.error.HTTPError) -> str:
    """The provider's own words (``error``, ``error_description``) where it gave them."""
    try:
        answer = json.loads(error.read() or b"{}")
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    code = str(answer.get("error") or f"HTTP {error.code}")
    description = str(answer.get("error_description") or error.reason or "")[:500]
    message = _("The OAuth2 provider refused to renew the access token (%(code)s): %(reason)s") % {
        "code": code,
        "reason": description,
    }
    if code == "invalid_grant":
        message += " " + _(
            "The refresh token has expired or was revoked: sign in to the mailbox's account "
            "again and store the new refresh token."
        )
    elif code in ("invalid_client", "unauthorized_client"):
        message += " " + _("Check the client id and secret.")
    return message
