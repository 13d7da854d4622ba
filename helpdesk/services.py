"""Writes of the core: the directory and API tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.models import ApiToken, Person

logger = logging.getLogger(__name__)

# How often a token's "last used" is written: once a minute is exact enough to show, and
# spares a write on every API call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def person_language_set(*, person: Person, language: str) -> None:
    """Remember ``language`` as the interface language of ``person`` (used at sign-in and
    for what is sent to them); nothing is written when it is theirs already."""
    if language not in Person.Language.values:
        raise ValidationError({"language": _("This language is not offered.")})
    if person.language == language:
        return
    person.language = language
    person.save(update_fields=["language"])


# --- the directory changed: apps above the core follow --------------------------------------

PersonListener = Callable[[int, frozenset[str]], None]
_person_listeners: list[PersonListener] = []


def subscribe_person_changes(listener: PersonListener) -> None:
    """Call ``listener(person_id, changed_fields)`` after a change of a person commits.

    An app that keeps something derived from people (the SLA app: VIP callers' policies)
    subscribes in its ``AppConfig.ready``; the core does not know it."""
    if listener not in _person_listeners:
        _person_listeners.append(listener)


def person_changed(*, person: Person, fields: Iterable[str]) -> None:
    """Announce, after the commit, that ``fields`` of ``person`` were changed (the admin)."""
    fields = frozenset(fields)
    if not fields or not _person_listeners:
        return

    def deliver():
        for listener in list(_person_listeners):
            try:
                listener(person.pk, fields)
            except Exception:
                logger.exception("Person listener %s failed for person %s", listener, person.pk)

    transaction.on_commit(deliver)


# --- API tokens -------------------------------------------------------------------------------


def _api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user, name: str, lifetime_days: int) -> tuple[ApiToken, str]:
    """Make a named API token for ``user`` valid for ``lifetime_days``; returns the token
    and its key, which is stored only as a digest and so can be shown this once."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = _("Give the token a name.")
    elif len(name) > ApiToken._meta.get_field("name").max_length:
        errors["name"] = _("The name is too long.")
    if not 1 <= lifetime_days <= settings.API_TOKEN_MAX_DAYS:
        errors["lifetime_days"] = _("The lifetime must be between 1 and %(max)d days.") % {
            "max": settings.API_TOKEN_MAX_DAYS
        }
    if errors:
        raise ValidationError(errors)
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:8],
        key_digest=_api_token_digest(key),
        expires_at=timezone.now() + timedelta(days=lifetime_days),
    )
    logger.info("API token %s (%s) made for user %s", token.pk, token.prefix, user.pk)
    return token, key


def api_token_authenticate(key: str) -> ApiToken | None:
    """The usable token with this key, its user joined; ``None`` for an unknown, revoked or
    expired key. Notes when it was last used (at most once a minute, not on every call)."""
    now = timezone.now()
    token = (
        # The user with their profile, as HelpdeskBackend loads a signed-in user.
        ApiToken.objects.select_related("user__person__site")
        .filter(key_digest=_api_token_digest(key), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by, reason: str = ApiToken.RevokedReason.BY_USER) -> None:
    """Revoke ``token``; only its owner may. Revoking a revoked token changes nothing."""
    if token.user_id != by.pk:
        raise PermissionDenied
    if token.revoked_at is not None:
        return
    token.revoked_at = timezone.now()
    token.revoked_reason = reason
    token.save(update_fields=["revoked_at", "revoked_reason"])
    logger.info("API token %s (%s) revoked: %s", token.pk, token.prefix, reason)


@transaction.atomic
def api_tokens_revoke_all(*, user, reason: str) -> int:
    """Revoke every token of ``user`` still open (a new password, a deactivated account);
    returns how many."""
    count = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    if count:
        logger.info("%d API token(s) of user %s revoked: %s", count, user.pk, reason)
    return count
