"""Blocked numbers: stored normalised, rejected on ring, managed in the admin."""

import pytest

from cti import notify, services
from cti.models import BlockedNumber, Call, CallEvent
from helpdesk.phones import InvalidPhoneNumber

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_push(monkeypatch):
    monkeypatch.setattr(notify, "call_changed", lambda call_id, **_kwargs: None)


def ring(caller, call_id="c1", direction="inbound"):
    return services.call_event_ingest(
        pbx=None,
        source=CallEvent.Source.SIMULATOR,
        event=services.PbxEvent(
            kind="ring", call_id=call_id, direction=direction, caller=caller, called="100"
        ),
    )


def test_number_is_blocked_in_any_written_form():
    services.blocked_number_add(number="(22) 123-45-67", reason="abuse")
    assert BlockedNumber.objects.get().e164 == "+48221234567"
    assert services.is_blocked("0048 22 123 45 67")
    assert not services.is_blocked("+48 22 123 45 68")
    assert not services.is_blocked("anonymous")


def test_blocking_twice_keeps_one_row():
    services.blocked_number_add(number="+48221234567")
    services.blocked_number_add(number="22 123 45 67")
    assert BlockedNumber.objects.count() == 1


def test_invalid_number_cannot_be_blocked():
    with pytest.raises(InvalidPhoneNumber):
        services.blocked_number_add(number="call me maybe")


def test_unblocked_number_rings_again():
    services.blocked_number_add(number="+48221234567")
    assert ring("+48221234567", call_id="1").rejected
    assert services.blocked_number_remove(number="22 123 45 67") == 1
    result = ring("+48221234567", call_id="2")
    assert not result.rejected
    assert result.call.state == Call.State.RINGING


def test_blocked_ring_is_recorded_as_rejected():
    services.blocked_number_add(number="+48221234567")
    result = ring("+48 22 123 45 67")
    assert result.rejected
    assert result.call.outcome == Call.Outcome.REJECTED
    assert result.call.ended_at is not None


def test_outbound_call_to_a_blocked_number_is_not_rejected():
    services.blocked_number_add(number="+48221234567")
    result = services.call_event_ingest(
        pbx=None,
        source=CallEvent.Source.SIMULATOR,
        event=services.PbxEvent(
            kind="ring", call_id="out", direction="outbound", caller="201", called="+48221234567"
        ),
    )
    assert not result.rejected
    assert result.call.state == Call.State.RINGING


def test_admin_blocks_a_number_typed_nationally(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/cti/blockednumber/add/", {"number": "22 123 45 67", "reason": "spam"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    blocked = BlockedNumber.objects.get()
    assert blocked.e164 == "+48221234567"
    assert blocked.created_by == admin_user


def test_admin_refuses_an_invalid_or_duplicate_number(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/cti/blockednumber/add/", {"number": "abc", "reason": ""})
    assert response.status_code == 200
    assert BlockedNumber.objects.count() == 0
    BlockedNumber.objects.create(e164="+48221234567")
    response = client.post("/admin/cti/blockednumber/add/", {"number": "0221234567"})
    assert response.status_code == 200
    assert BlockedNumber.objects.count() == 1


def test_admin_pages_for_calls_and_events_render(client, admin_user):
    client.force_login(admin_user)
    ring("+48 22 123 45 67")
    for url in [
        "/admin/cti/call/",
        "/admin/cti/callevent/",
        "/admin/cti/pbx/",
        "/admin/cti/callqueue/",
        f"/admin/cti/call/{Call.objects.get().pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url


def test_api_blocks_lists_and_unblocks_for_an_administrator(client, admin_user):
    from django.urls import reverse

    client.force_login(admin_user)
    url = reverse("cti:blocked_number_list")
    response = client.post(
        url, {"number": "0048 (22) 123-45-67", "reason": "spam"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["e164"] == "+48221234567"
    assert BlockedNumber.objects.get().created_by == admin_user
    assert [row["e164"] for row in client.get(url).json()["results"]] == ["+48221234567"]
    blocked = BlockedNumber.objects.get()
    detail = reverse("cti:blocked_number_detail", args=[blocked.pk])
    assert client.delete(detail).status_code == 204
    assert BlockedNumber.objects.count() == 0


def test_api_refuses_an_invalid_number(client, admin_user):
    from django.urls import reverse

    client.force_login(admin_user)
    response = client.post(
        reverse("cti:blocked_number_list"), {"number": "abc"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "number" in response.json()


def test_agents_and_anonymous_cannot_use_the_block_list_api(client, agent):
    from django.urls import reverse

    url = reverse("cti:blocked_number_list")
    assert client.get(url).status_code in (401, 403)
    client.force_login(agent)
    assert client.get(url).status_code == 403
    assert client.post(url, {"number": "+48221234567"}).status_code == 403
    assert BlockedNumber.objects.count() == 0


@pytest.mark.parametrize(
    ("blocked", "caller"),
    [
        ("491715000000", "+49 171 5000000"),  # Zammad's spec: blocked without a prefix
        ("+49 171 5000000", "491715000000"),
        ("0049 171 5000000", "491715000000"),
        ("4930123456789", "+49 30 123456789"),
        ("442079460958", "0044 20 7946 0958"),
        ("+44 7911 123456", "447911123456"),
        ("12025550143", "+1 (202) 555-0143"),
        ("001 202 555 0143", "12025550143"),
        ("48221234567", "22 123 45 67"),
        ("22 123 45 67", "48221234567"),
    ],
)
def test_the_block_list_matches_every_form_a_ring_accepts(blocked, caller):
    services.blocked_number_add(number=blocked)
    assert services.is_blocked(caller)
    result = ring(caller)
    assert result.rejected
    assert result.call.outcome == Call.Outcome.REJECTED


def test_a_foreign_number_without_prefix_is_blocked_through_the_admin_form():
    from cti.admin import BlockedNumberForm

    form = BlockedNumberForm(data={"number": "447911123456", "reason": "spam"})
    assert form.is_valid(), form.errors
    assert form.save().e164 == "+447911123456"
    assert ring("+44 7911 123456").rejected
