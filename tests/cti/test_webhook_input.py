"""No input makes the PBX endpoints answer 500: whatever a PBX sends is either an event
(stored, then applied) or a 400/422 naming what is wrong."""

import json

import pytest
from django.urls import reverse

from cti import notify
from cti.api import signature_for
from cti.models import CallEvent
from tests.factories import PbxFactory
from tests.helpdesk.test_endpoints import asgi_call, in_own_thread

pytestmark = pytest.mark.django_db

ZAMMAD_URL = "/api/v1/cti/zammad-token"

RING = {"event": "ring", "call_id": "1700000000.42", "from": "+48 22 123 45 67", "to": "100"}
NEW_CALL = {
    "event": "newCall",
    "from": "0221234567",
    "to": "100",
    "direction": "in",
    "callId": "4991155921769858278-1",
}


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


@pytest.fixture
def pbx():
    return PbxFactory(secret="s3cret", token="zammad-token")


def signed_post(client, pbx, body: bytes):
    return client.post(
        reverse("cti:webhook", args=[pbx.pk]),
        data=body,
        content_type="application/json",
        headers={"X-Helpdesk-Signature": signature_for(pbx.secret, body)},
    )


def deeply_nested(depth: int) -> bytes:
    return b'{"event": "ring", "call_id": "x", "extra": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-13-45T99:99",
        "9999999999999999999",
        9999999999999999999,
        1e308,
        -1e20,
        "1e308",
        "10000-01-01T00:00:00",
        "0001-01-01T00:00:00",
        -62135596800,
        253402300800,
    ],
)
def test_an_impossible_occurred_at_is_a_400_naming_the_field(client, pbx, occurred_at):
    response = signed_post(client, pbx, json.dumps({**RING, "occurred_at": occurred_at}).encode())
    assert response.status_code == 400
    assert response.json()["field"] == "occurred_at"
    assert not CallEvent.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["occurred_at", "from", "extension", "extra"])
def test_nan_or_infinity_anywhere_is_a_400(client, pbx, constant, field):
    body = json.dumps(RING)[:-1].encode() + f', "{field}": [{constant}]}}'.encode()
    response = signed_post(client, pbx, body)
    assert response.status_code == 400
    assert "NaN" in response.json()["error"]
    assert not CallEvent.objects.exists()


def test_a_body_nested_5000_levels_deep_is_a_400(client, pbx):
    response = signed_post(client, pbx, deeply_nested(5000))
    assert response.status_code == 400
    assert "nested" in response.json()["error"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("call_id", "x" * 129),
        ("call_id", "a\x00b"),
        ("from", "\x00"),
        ("extra", "\ud800"),
        ("to", "\udfff"),
        ("extra", {"\x00": 1}),
    ],
)
def test_text_no_database_can_store_is_a_400_naming_the_field(client, pbx, field, value):
    response = signed_post(client, pbx, json.dumps({**RING, field: value}).encode())
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not CallEvent.objects.exists()


def test_zammad_json_nested_5000_levels_deep_is_a_422(client, pbx):
    response = client.post(ZAMMAD_URL, data=deeply_nested(5000), content_type="application/json")
    assert response.status_code == 422
    assert "nested" in response.json()["error"]


def test_zammad_json_with_nan_is_a_422(client, pbx):
    body = json.dumps(NEW_CALL)[:-1].encode() + b', "extra": NaN}'
    response = client.post(ZAMMAD_URL, data=body, content_type="application/json")
    assert response.status_code == 422
    assert "NaN" in response.json()["error"]
    assert not CallEvent.objects.exists()


@pytest.mark.parametrize("value", ["a\x00b", "x" * 129])
def test_zammad_form_with_a_call_id_no_database_can_store_is_a_422(client, pbx, value):
    response = client.post(ZAMMAD_URL, {**NEW_CALL, "callId": value})
    assert response.status_code == 422
    assert not CallEvent.objects.exists()


def test_zammad_form_with_a_nul_in_a_field_is_a_422(client, pbx):
    response = client.post(ZAMMAD_URL, {**NEW_CALL, "from": "022\x00"})
    assert response.status_code == 422
    assert not CallEvent.objects.exists()


def test_a_5_mb_body_gets_a_json_413_from_the_webhook(client, pbx, settings):
    body = b'{"event": "ring", "call_id": "x", "pad": "' + b" " * (5 * 1024 * 1024) + b'"}'
    response = signed_post(client, pbx, body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_5_mb_body_gets_a_json_413_from_the_zammad_endpoint(client, pbx, content_type):
    body = b"event=newCall&pad=" + b"x" * (5 * 1024 * 1024)
    response = client.post(ZAMMAD_URL, data=body, content_type=content_type)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_a_5_mb_body_gets_a_json_413_from_the_lean_asgi_handler(pbx):
    # Served as a server serves it: the machine endpoint's handler, not the test client's
    # whole middleware stack.
    body = b'{"event": "ring", "call_id": "x", "pad": "' + b" " * (5 * 1024 * 1024) + b'"}'
    status, headers, content = in_own_thread(
        asgi_call,
        "POST",
        f"/cti/webhook/{pbx.pk}/",
        body,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-helpdesk-signature", signature_for(pbx.secret, body).encode()),
        ],
    )
    assert status == 413
    assert headers["content-type"] == ["application/json"]
    assert json.loads(content)["error"]
