"""API tokens: named, several per user, expiring, stored as a digest, listed and revoked by
their owner (page and API), revoked on a new password or a deactivated account."""

from __future__ import annotations

import hashlib
import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk import services
from helpdesk.errors import ValidationError
from helpdesk.models import ApiToken
from tests.factories import PASSWORD


def make_token(user, name="script", days=30):
    return services.api_token_create(user=user, name=name, lifetime_days=days)


def with_key(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_has_a_name_a_lifetime_and_only_its_digest_is_stored(end_user):
    token, key = make_token(end_user, "backup script", 10)
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.name == "backup script"
    assert stored.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_digest, stored.prefix}
    assert stored.prefix == key[:8]
    assert timedelta(days=9, hours=23) < stored.expires_at - timezone.now() <= timedelta(days=10)
    assert with_key(key).get("/api/groups/").status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_a_user_has_several_tokens_each_working_on_its_own(end_user):
    _first, first_key = make_token(end_user, "laptop")
    second, second_key = make_token(end_user, "server")
    services.api_token_revoke(token=second, by=end_user)
    assert with_key(first_key).get("/api/groups/").status_code == 200
    assert with_key(second_key).get("/api/groups/").status_code == 401


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [("", 30, "name"), ("   ", 30, "name"), ("x" * 101, 30, "name"), ("ok", 0, "lifetime_days")],
)
def test_bad_name_or_lifetime_is_refused(end_user, name, days, field):
    with pytest.raises(ValidationError) as error:
        make_token(end_user, name, days)
    assert field in error.value.message_dict


def test_lifetime_longer_than_the_setting_is_refused(settings, end_user):
    settings.API_TOKEN_MAX_DAYS = 30
    with pytest.raises(ValidationError):
        make_token(end_user, days=31)


def test_an_expired_token_is_refused(end_user):
    token, key = make_token(end_user)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = with_key(key).get("/api/groups/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_deactivating_the_account_revokes_its_tokens(end_user):
    token, key = make_token(end_user)
    end_user.is_active = False
    end_user.save()
    token.refresh_from_db()
    assert token.revoked_reason == ApiToken.RevokedReason.DEACTIVATED
    end_user.is_active = True
    end_user.save()
    assert with_key(key).get("/api/groups/").status_code == 401


def test_a_new_password_revokes_every_token(end_user):
    first, _key = make_token(end_user, "one")
    second, _key = make_token(end_user, "two")
    end_user.set_password("another-long-passphrase")
    end_user.save(update_fields=["password"])
    for token in (first, second):
        token.refresh_from_db()
        assert token.revoked_reason == ApiToken.RevokedReason.PASSWORD_CHANGED


def test_a_password_set_in_the_admin_revokes_tokens(end_user, admin_user):
    _token, key = make_token(end_user)
    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        f"/admin/auth/user/{end_user.pk}/password/",
        {"password1": "another-long-passphrase", "password2": "another-long-passphrase"},
    )
    assert response.status_code == 302, response.content[:500]
    assert with_key(key).get("/api/groups/").status_code == 401


def test_other_saves_of_the_user_keep_tokens(end_user):
    _token, key = make_token(end_user)
    end_user.last_login = timezone.now()
    end_user.save(update_fields=["last_login"])
    end_user.first_name = "Renamed"
    end_user.save()
    assert with_key(key).get("/api/groups/").status_code == 200


# --- API ---------------------------------------------------------------------------------------


def test_sign_in_makes_a_named_token_with_a_chosen_lifetime(api, end_user):
    response = api.post(
        "/api/auth/token/",
        {"username": "enduser", "password": PASSWORD, "name": "monitoring", "lifetime_days": 7},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "monitoring"
    assert body["is_usable"] is True
    token = ApiToken.objects.get(pk=body["id"])
    assert token.key_digest == hashlib.sha256(body["token"].encode()).hexdigest()
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)


@pytest.mark.parametrize(
    "extra", [{"name": ""}, {"lifetime_days": 0}, {"lifetime_days": 366}, {"lifetime_days": "x"}]
)
def test_sign_in_with_bad_name_or_lifetime_is_400(api, end_user, extra):
    response = api.post(
        "/api/auth/token/", {"username": "enduser", "password": PASSWORD, **extra}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) & {"name", "lifetime_days"}
    assert not ApiToken.objects.exists()


def test_a_client_signs_out_its_own_token_only(end_user):
    _laptop, laptop_key = make_token(end_user, "laptop")
    _server, server_key = make_token(end_user, "server")
    assert with_key(laptop_key).delete("/api/auth/token/").status_code == 204
    assert with_key(laptop_key).get("/api/groups/").status_code == 401
    assert with_key(server_key).get("/api/groups/").status_code == 200


def test_signing_out_without_a_token_is_refused(api, end_user):
    assert api.delete("/api/auth/token/").status_code == 401
    # A browser session has no token to sign out.
    api.force_login(end_user)
    assert api.delete("/api/auth/token/").status_code == 401


def test_users_list_and_revoke_their_own_tokens_only(end_user, other_end_user):
    mine, key = make_token(end_user, "mine")
    theirs, _key = make_token(other_end_user, "theirs")
    client = with_key(key)
    listed = client.get("/api/auth/tokens/").json()["results"]
    assert [token["name"] for token in listed] == ["mine"]
    assert "key_digest" not in listed[0]
    assert client.get(f"/api/auth/tokens/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/auth/tokens/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/auth/tokens/{2**70}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert client.delete(f"/api/auth/tokens/{mine.pk}/").status_code == 204
    assert client.get("/api/auth/tokens/").status_code == 401


# --- the page ----------------------------------------------------------------------------------


@pytest.fixture
def browser_of(end_user):
    client = Client()
    client.force_login(end_user)
    return client


def test_the_page_makes_a_token_and_shows_its_key_once(browser_of, end_user):
    response = browser_of.post(
        "/account/api-tokens/", {"name": "report script", "lifetime_days": "30"}, follow=True
    )
    # Redirected: reloading the page does not make another token.
    assert response.redirect_chain == [("/account/api-tokens/", 302)]
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=end_user)
    key = response.context["key"]
    assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert key in response.content.decode()
    again = browser_of.get("/account/api-tokens/")
    assert key not in again.content.decode()
    assert "report script" in again.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "lifetime_days": "30"}, "name"),
        ({"name": "x", "lifetime_days": "0"}, "lifetime_days"),
        ({"name": "x", "lifetime_days": "366"}, "lifetime_days"),
        ({"name": "x", "lifetime_days": "soon"}, "lifetime_days"),
    ],
)
def test_the_page_refuses_bad_input(browser_of, data, field):
    response = browser_of.post("/account/api-tokens/", data)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not ApiToken.objects.exists()


def test_the_page_revokes_own_tokens_and_not_others(browser_of, end_user, other_end_user):
    mine, _key = make_token(end_user)
    theirs, _key = make_token(other_end_user)
    assert browser_of.post(f"/account/api-tokens/{theirs.pk}/revoke/").status_code == 404
    response = browser_of.post(f"/account/api-tokens/{mine.pk}/revoke/")
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_reason == ApiToken.RevokedReason.BY_USER
    assert theirs.revoked_at is None


def test_the_page_needs_a_signed_in_user(client, db):
    response = client.get("/account/api-tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- carried over from DRF's tokens -------------------------------------------------------------


def test_drf_tokens_are_carried_over_and_their_clear_keys_removed(end_user):
    migration = importlib.import_module("helpdesk.migrations.0003_carry_over_drf_tokens")
    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE authtoken_token ("key" varchar(40), user_id integer)')
        cursor.execute(
            'INSERT INTO authtoken_token ("key", user_id) VALUES (%s, %s)', [key, end_user.pk]
        )
    migration.carry_over(global_apps, SimpleNamespace(connection=connection))
    assert with_key(key).get("/api/groups/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
