"""The generic JSON webhook: signed events in, calls out."""

import json
import logging

import pytest
from django.urls import reverse

from cti import api, notify
from cti.api import signature_for
from cti.models import BlockedNumber, Call, CallEvent, Pbx
from tests.factories import AgentExtensionFactory, PbxFactory, PhoneNumberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


@pytest.fixture
def pbx():
    return PbxFactory(secret="s3cret", token="tok-123")


def post(client, pbx, data, *, secret=None, headers=None, raw=None):
    body = raw if raw is not None else json.dumps(data).encode()
    if headers is None:
        headers = {"X-Helpdesk-Signature": signature_for(secret or pbx.secret, body)}
    return client.post(
        reverse("cti:webhook", args=[pbx.pk]),
        data=body,
        content_type="application/json",
        headers=headers,
    )


RING = {
    "event": "ring",
    "call_id": "1700000000.42",
    "from": "0048 (22) 123-45-67",
    "to": "100",
    "extension": "201",
}


def test_signed_ring_creates_a_call_for_the_extension(client, pbx, agent):
    AgentExtensionFactory(user=agent, extension="201")
    person = PhoneNumberFactory(raw="+48 22 123 45 67").person
    response = post(client, pbx, RING)
    assert response.status_code == 200
    call = Call.objects.get()
    assert response.json() == {
        "status": "processed",
        "event": CallEvent.objects.get().pk,
        "call": call.pk,
    }
    assert call.pbx == pbx and call.caller_person == person
    assert list(call.offered_to.all()) == [agent]
    assert CallEvent.objects.get().payload == RING


def test_full_call_over_the_webhook(client, pbx, agent):
    AgentExtensionFactory(user=agent, extension="201")
    post(client, pbx, RING)
    post(client, pbx, {"event": "answer", "call_id": RING["call_id"], "answered_by": "201"})
    post(
        client,
        pbx,
        {
            "event": "hangup",
            "call_id": RING["call_id"],
            "cause": "normalClearing",
            "occurred_at": "2030-01-01T10:00:00Z",
        },
    )
    call = Call.objects.get()
    assert call.outcome == Call.Outcome.ANSWERED and call.answered_by == agent


def test_token_header_is_accepted_instead_of_a_signature(client, pbx):
    response = post(client, pbx, RING, headers={"X-Helpdesk-Token": "tok-123"})
    assert response.status_code == 200
    assert Call.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Helpdesk-Signature": "sha256=" + "0" * 64},
        {"X-Helpdesk-Signature": "deadbeef"},
        {"X-Helpdesk-Token": "wrong"},
        {"X-Helpdesk-Token": ""},
    ],
)
def test_wrong_or_missing_credentials_are_refused_and_logged(client, pbx, headers, caplog):
    with caplog.at_level(logging.WARNING, logger="cti.api"):
        response = post(client, pbx, RING, headers=headers)
    assert response.status_code == 401
    assert "refused" in caplog.text
    assert CallEvent.objects.count() == 0 and Call.objects.count() == 0


def test_signature_made_with_another_pbx_secret_is_refused(client, pbx):
    response = post(client, pbx, RING, secret="someone-else")
    assert response.status_code == 401


def test_signature_covers_the_body(client, pbx):
    body = json.dumps(RING).encode()
    tampered = body.replace(b"201", b"202")
    response = post(
        client,
        pbx,
        None,
        raw=tampered,
        headers={"X-Helpdesk-Signature": signature_for(pbx.secret, body)},
    )
    assert response.status_code == 401


def test_inactive_pbx_is_refused(client, pbx):
    pbx.is_active = False
    pbx.save()
    assert post(client, pbx, RING).status_code == 401


def admin_change(client, admin_user, pbx, **changes):
    """Change ``pbx`` as an administrator does, in the admin's change form."""
    client.force_login(admin_user)
    form = {
        "name": pbx.name,
        "kind": pbx.kind,
        "site": "",
        "is_active": "on" if pbx.is_active else "",
        "token": pbx.token,
        "secret": pbx.secret,
        "default_queue": "",
        "ring_timeout_seconds": str(pbx.ring_timeout_seconds),
        "call_max_seconds": str(pbx.call_max_seconds),
        "ami_host": "",
        "ami_port": "5038",
        "ami_username": "",
        "ami_secret": "",
        **changes,
    }
    response = client.post(reverse("admin:cti_pbx_change", args=[pbx.pk]), form)
    assert response.status_code == 302, response.content
    client.logout()


def test_a_pbx_deactivated_in_the_admin_is_refused_at_once(client, admin_user, pbx):
    assert post(client, pbx, RING).status_code == 200
    admin_change(client, admin_user, pbx, is_active="")
    assert post(client, pbx, {**RING, "call_id": "2"}).status_code == 401


def test_a_secret_changed_in_the_admin_counts_at_once(client, admin_user, pbx):
    assert post(client, pbx, RING).status_code == 200
    admin_change(client, admin_user, pbx, secret="n3w")
    assert post(client, pbx, {**RING, "call_id": "2"}).status_code == 401
    assert post(client, pbx, {**RING, "call_id": "3"}, secret="n3w").status_code == 200


def test_a_pbx_deleted_in_the_admin_is_refused_at_once(client, admin_user, pbx):
    assert post(client, pbx, RING).status_code == 200
    client.force_login(admin_user)
    response = client.post(reverse("admin:cti_pbx_delete", args=[pbx.pk]), {"post": "yes"})
    assert response.status_code == 302
    client.logout()
    assert post(client, pbx, {**RING, "call_id": "2"}).status_code == 401


def test_a_known_pbx_is_not_read_again_for_each_event(client, pbx):
    assert post(client, pbx, RING).status_code == 200
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ring:
        assert post(client, pbx, {**RING, "call_id": "2"}).status_code == 200
    assert not [query for query in ring.captured_queries if '"cti_pbx"' in query["sql"]]


def test_a_new_token_is_honoured_at_once_and_the_old_one_expires(client, pbx, monkeypatch):
    assert post(client, pbx, RING).status_code == 200
    # Changed elsewhere (another process): nothing tells this process's cache.
    Pbx.objects.filter(pk=pbx.pk).update(token="tok-new")
    assert post(client, pbx, RING, headers={"X-Helpdesk-Token": "tok-new"}).status_code == 200
    monkeypatch.setattr(api, "PBX_CACHE_SECONDS", 0.0)
    old = post(client, pbx, {**RING, "call_id": "3"}, headers={"X-Helpdesk-Token": "tok-123"})
    assert old.status_code == 401


def test_a_pbx_deactivated_elsewhere_is_refused_once_the_cache_expires(client, pbx, monkeypatch):
    assert post(client, pbx, RING).status_code == 200
    Pbx.objects.filter(pk=pbx.pk).update(is_active=False)
    monkeypatch.setattr(api, "PBX_CACHE_SECONDS", 0.0)
    assert post(client, pbx, {**RING, "call_id": "2"}).status_code == 401


def test_unknown_pbx_is_refused(client, pbx):
    response = client.post(
        reverse("cti:webhook", args=[pbx.pk + 100]),
        data=b"{}",
        content_type="application/json",
        headers={"X-Helpdesk-Token": pbx.token},
    )
    assert response.status_code == 401


def test_get_is_not_allowed(client, pbx):
    assert client.get(reverse("cti:webhook", args=[pbx.pk])).status_code == 405


def test_unknown_event_is_a_400_with_a_clear_error_and_a_log_line(client, pbx, caplog):
    with caplog.at_level(logging.WARNING, logger="cti.api"):
        response = post(client, pbx, {**RING, "event": "transfer"})
    assert response.status_code == 400
    assert response.json()["field"] == "kind"
    assert "transfer" in response.json()["error"]
    assert "transfer" in caplog.text
    assert Call.objects.count() == 0


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'"text"'], ids=["garbage", "list", "string"]
)
def test_body_that_is_not_a_json_object_is_a_400(client, pbx, body):
    response = post(client, pbx, None, raw=body)
    assert response.status_code == 400


def test_bad_time_is_a_400(client, pbx):
    response = post(client, pbx, {**RING, "occurred_at": "yesterday"})
    assert response.status_code == 400


def test_epoch_time_is_accepted(client, pbx):
    post(client, pbx, {**RING, "occurred_at": 1700000000})
    assert Call.objects.get().started_at.timestamp() == 1700000000


def test_redelivery_is_answered_as_duplicate(client, pbx):
    post(client, pbx, RING)
    response = post(client, pbx, RING)
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert CallEvent.objects.count() == 1


def test_blocked_caller_gets_the_reject_answer(client, pbx):
    BlockedNumber.objects.create(e164="+48221234567")
    response = post(client, pbx, RING)
    assert response.json()["action"] == "reject"
    assert Call.objects.get().outcome == Call.Outcome.REJECTED


def test_csrf_is_not_required(pbx):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert post(client, pbx, RING).status_code == 200
