"""Fuzzing both PBX webhooks with arbitrary JSON: no answer is a 5xx, and every event
answered 200 is stored.

A signed request the webhook cannot read (400/422) is not stored: the ingest service stores
only events it can key (kind, call id), see ``call_event_ingest``.
"""

import json
import math

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti import notify
from cti.api import signature_for
from cti.models import CallEvent
from tests.factories import PbxFactory

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays stable
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example rolls its writes back itself
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Text a PBX should not send but may: NUL, lone surrogates (escaped by json.dumps), long ids.
NASTY_TEXT = st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "\udfff", "x" * 129, "é"])
TEXT = st.text(max_size=20) | NASTY_TEXT
NUMBERS = (
    st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([9999999999999999999, 10**30, 1e308, -1e20, math.nan, math.inf, -math.inf])
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
OCCURRED_AT = (
    st.sampled_from(
        [
            "2026-13-45T99:99",
            "9999999999999999999",
            "1e308",
            "NaN",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-05-01T10:00:00Z",
            1700000000,
        ]
    )
    | st.datetimes().map(lambda moment: moment.isoformat())
    | JSON_VALUES
)
GENERIC_EVENTS = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["ring", "answer", "hangup"]) | JSON_VALUES,
        "call_id": st.sampled_from(["1700000000.42", "c2"]) | JSON_VALUES,
    },
    optional={
        "direction": st.sampled_from(["in", "out", "inbound", "sideways"]) | JSON_VALUES,
        "from": st.sampled_from(["+48 22 123 45 67", "0221234567"]) | JSON_VALUES,
        "to": JSON_VALUES,
        "queue": JSON_VALUES,
        "extension": JSON_VALUES,
        "extensions": JSON_VALUES,
        "users": JSON_VALUES,
        "answered_by": JSON_VALUES,
        "cause": st.sampled_from(["normalClearing", "busy"]) | JSON_VALUES,
        "occurred_at": OCCURRED_AT,
        "extra": JSON_VALUES,
    },
)
ZAMMAD_EVENTS = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["newCall", "answer", "hangup"]) | JSON_VALUES,
        "direction": st.sampled_from(["in", "out"]) | JSON_VALUES,
        "callId": st.sampled_from(["z1", "z2"]) | JSON_VALUES,
    },
    optional={
        "from": JSON_VALUES,
        "to": JSON_VALUES,
        "user": JSON_VALUES,
        "user[]": JSON_VALUES,
        "answeringNumber": JSON_VALUES,
        "cause": JSON_VALUES,
        "extra": JSON_VALUES,
    },
)


def nested(depth: int) -> bytes:
    return b'{"event": "ring", "call_id": "x", "extra": ' + b"[" * depth + b"]" * depth + b"}"


def encoded(value) -> bytes:
    # json.dumps writes NaN and Infinity as the bare words PBX encoders send.
    return json.dumps(value).encode()


GENERIC_BODIES = (
    GENERIC_EVENTS.map(encoded)
    | JSON_VALUES.map(encoded)
    | st.integers(min_value=1, max_value=6000).map(nested)
    | st.binary(max_size=40)
)
ZAMMAD_JSON_BODIES = (
    ZAMMAD_EVENTS.map(encoded)
    | JSON_VALUES.map(encoded)
    | st.integers(min_value=1, max_value=6000).map(nested)
    | st.binary(max_size=40)
)
FORM_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20) | st.sampled_from(
    ["\x00", "x" * 129, "newCall", "in", "out"]
)
ZAMMAD_FORMS = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["newCall", "answer", "hangup"]) | FORM_TEXT,
        "direction": st.sampled_from(["in", "out"]) | FORM_TEXT,
        "callId": FORM_TEXT,
    },
    optional={
        "from": FORM_TEXT,
        "to": FORM_TEXT,
        "user[]": st.lists(FORM_TEXT, max_size=3),
        "answeringNumber": FORM_TEXT,
        "cause": FORM_TEXT,
    },
)


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


@pytest.fixture
def pbx():
    return PbxFactory(secret="s3cret", token="fuzz-token")


class _RolledBack(Exception):
    pass


def answer_and_events(send):
    """``send()``'s response and the events it stored, rolled back afterwards so that every
    example starts from the same database."""
    outcome = {}
    try:
        with transaction.atomic():
            before = set(CallEvent.objects.values_list("pk", flat=True))
            response = send()
            outcome["response"] = response
            outcome["stored"] = list(CallEvent.objects.exclude(pk__in=before))
            raise _RolledBack
    except _RolledBack:
        pass
    return outcome["response"], outcome["stored"]


def assert_answer_is_not_5xx_and_stored_if_accepted(response, stored):
    assert response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json"
    if response.status_code == 200:
        # Accepted: stored (or a redelivery of a stored event: none in these examples).
        assert len(stored) == 1
        assert stored[0].status == CallEvent.Status.PROCESSED
        if "event" in response.json():
            assert response.json()["event"] == stored[0].pk
    else:
        assert response.status_code in (400, 401, 413, 422)
        assert stored == []  # refused before storing (see the module documentation)


@FUZZ
@given(body=GENERIC_BODIES, signed=st.booleans())
def test_generic_webhook_never_answers_5xx(client, pbx, body, signed):
    headers = {"X-Helpdesk-Signature": signature_for(pbx.secret if signed else "wrong", body)}
    response, stored = answer_and_events(
        lambda: client.post(
            reverse("cti:webhook", args=[pbx.pk]),
            data=body,
            content_type="application/json",
            headers=headers,
        )
    )
    assert_answer_is_not_5xx_and_stored_if_accepted(response, stored)
    if not signed:
        assert response.status_code == 401
    elif response.status_code in (400, 422):
        assert response.json()["error"]


@FUZZ
@given(body=ZAMMAD_JSON_BODIES)
def test_zammad_json_never_answers_5xx(client, pbx, body):
    response, stored = answer_and_events(
        lambda: client.post(f"/api/v1/cti/{pbx.token}", data=body, content_type="application/json")
    )
    assert_answer_is_not_5xx_and_stored_if_accepted(response, stored)


@FUZZ
@given(form=ZAMMAD_FORMS)
def test_zammad_form_never_answers_5xx(client, pbx, form):
    response, stored = answer_and_events(lambda: client.post(f"/api/v1/cti/{pbx.token}", form))
    assert_answer_is_not_5xx_and_stored_if_accepted(response, stored)
