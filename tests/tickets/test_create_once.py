"""A ticket is created once per submission: a double click, a retried request or two
identical requests in parallel open one ticket (issue 13, second defect)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk.errors import ValidationError
from tests.factories import PersonFactory, make_ticket
from tickets import services
from tickets.models import Channel, CreationKey, Status, Ticket

KEY = "5f0c6a1e9b8d4c2fa3e7d6b5c4a39281"


def create_once(user, key=KEY, **fields):
    fields.setdefault("caller", user.person)
    fields.setdefault("opened_by", user)
    fields.setdefault("title", "Printer on floor 3 does not print")
    return services.ticket_create_once(user=user, key=key, **fields)


# --- the service -------------------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_twice_creates_one_ticket(end_user):
    first = create_once(end_user)
    second = create_once(end_user)
    assert first.created and not second.created and second.same_input
    assert first.ticket.pk == second.ticket.pk
    assert Ticket.objects.count() == 1
    assert CreationKey.objects.get().ticket == first.ticket


@pytest.mark.django_db
def test_same_key_with_other_input_returns_the_first_ticket_and_says_so(end_user):
    first = create_once(end_user, title="Printer")
    second = create_once(end_user, title="Scanner")
    assert second.ticket.pk == first.ticket.pk
    assert (second.created, second.same_input) == (False, False)
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user_and_no_key_always_creates(end_user, other_end_user):
    create_once(end_user)
    create_once(other_end_user)
    create_once(end_user, key="")
    create_once(end_user, key="")
    assert Ticket.objects.count() == 4


@pytest.mark.django_db
def test_a_failed_creation_leaves_the_key_free(end_user):
    with pytest.raises(ValidationError):
        create_once(end_user, title="   ")
    assert not CreationKey.objects.exists()
    assert create_once(end_user, title="Now with a title").created


@pytest.mark.django_db
def test_first_contact_resolution_is_created_once(agent, first_line):
    caller = PersonFactory()
    kwargs = {
        "caller": caller,
        "create": services.ticket_create_solved_on_first_contact,
        "code": "solved",
        "notes": "Restarted the spooler.",
        "channel": Channel.PHONE,
    }
    first = create_once(agent, **kwargs)
    second = create_once(agent, **kwargs)
    assert first.ticket.pk == second.ticket.pk and second.same_input
    assert Ticket.objects.get().status == Status.RESOLVED


@pytest.mark.django_db
def test_fingerprint_normalises_related_rows_and_files(end_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    person = end_user.person
    by_row = services.creation_fingerprint({"caller": person, "title": "x"})
    by_id = services.creation_fingerprint({"title": "x", "caller": person.pk})
    assert by_row == by_id
    one = services.creation_fingerprint({"attachments": [SimpleUploadedFile("a.txt", b"1")]})
    other = services.creation_fingerprint({"attachments": [SimpleUploadedFile("a.txt", b"12")]})
    assert one != other


@pytest.mark.django_db
def test_old_keys_are_forgotten(end_user):
    create_once(end_user)
    create_once(end_user, key="recent")
    CreationKey.objects.filter(key=KEY).update(created_at=timezone.now() - timedelta(days=31))
    assert services.creation_keys_delete() == 1
    assert list(CreationKey.objects.values_list("key", flat=True)) == ["recent"]
    assert Ticket.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_submissions_with_one_key_create_one_ticket(end_user):
    """The second INSERT of the key waits for the first transaction, then gets its ticket."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections (PostgreSQL)")
    make_ticket(caller=end_user.person)  # the number counter exists
    first_holds_the_key = threading.Event()
    release_first = threading.Event()
    results, errors = {}, []

    def create_and_wait(**fields):
        ticket = services.ticket_create(**fields)
        first_holds_the_key.set()
        release_first.wait(timeout=10)
        return ticket

    def submit(name, **extra):
        try:
            results[name] = create_once(end_user, **extra)
        except Exception as error:  # pragma: no cover - shown by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(
        daemon=True, target=submit, args=("first",), kwargs={"create": create_and_wait}
    )
    first.start()
    assert first_holds_the_key.wait(timeout=10)
    second = threading.Thread(daemon=True, target=submit, args=("second",))
    second.start()
    second.join(timeout=1)
    assert second.is_alive()  # its INSERT of the same key waits for the first transaction
    release_first.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert errors == []
    assert results["first"].created and not results["second"].created
    assert results["first"].ticket.pk == results["second"].ticket.pk
    assert Ticket.objects.count() == 2  # the one made above and one from the two submissions


@pytest.mark.django_db(transaction=True)
def test_two_identical_api_requests_in_parallel_open_one_ticket(end_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections (PostgreSQL)")
    make_ticket(caller=PersonFactory())
    barrier = threading.Barrier(4)
    statuses, numbers = [], set()

    def post():
        client = APIClient()
        client.force_login(end_user)
        try:
            barrier.wait(timeout=10)
            response = client.post(
                "/api/tickets/",
                {"title": "VPN drops every hour"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="retry-1",
            )
            statuses.append(response.status_code)
            numbers.add(response.json()["number"])
        finally:
            connections.close_all()

    threads = [threading.Thread(daemon=True, target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 200, 200, 201]
    assert len(numbers) == 1
    assert Ticket.objects.filter(title="VPN drops every hour").count() == 1


# --- the pages ---------------------------------------------------------------------------


def _key_in(content: bytes) -> str:
    match = re.search(rb'name="submission_key" value="([0-9a-f]{32})"', content)
    assert match, "the form carries no one-time token"
    return match[1].decode()


@pytest.mark.django_db
def test_portal_form_sent_twice_opens_one_ticket(client, end_user, first_line):
    client.force_login(end_user)
    page = client.get(reverse("tickets:create"))
    key = _key_in(page.content)
    assert key != _key_in(client.get(reverse("tickets:create")).content)  # new per form
    data = {"title": "Outlook asks for my password", "description": "Since today.", "service": ""}
    data["submission_key"] = key
    first = client.post(reverse("tickets:create"), data)
    second = client.post(reverse("tickets:create"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_portal_form_shown_again_with_errors_keeps_its_token(client, end_user, first_line):
    client.force_login(end_user)
    key = _key_in(client.get(reverse("tickets:create")).content)
    response = client.post(
        reverse("tickets:create"), {"title": "", "description": "x", "submission_key": key}
    )
    assert response.status_code == 200
    assert _key_in(response.content) == key


@pytest.mark.django_db
def test_portal_form_sent_again_after_editing_shows_the_first_ticket(client, end_user, first_line):
    client.force_login(end_user)
    key = _key_in(client.get(reverse("tickets:create")).content)
    data = {"title": "Printer", "description": "Jams.", "submission_key": key}
    first = client.post(reverse("tickets:create"), data)
    second = client.post(reverse("tickets:create"), {**data, "title": "Printer and scanner"})
    assert first["Location"] == second["Location"]
    assert Ticket.objects.get().title == "Printer"


@pytest.mark.django_db
def test_console_new_ticket_form_sent_twice_opens_one_ticket(client, agent, first_line):
    caller = PersonFactory()
    client.force_login(agent)
    key = _key_in(client.get(reverse("tickets:console_create")).content)
    data = {
        "submission_key": key,
        "caller": caller.pk,
        "title": "Headset crackles",
        "description": "",
        "type": "incident",
        "channel": "phone",
        "impact": 4,
        "urgency": 3,
    }
    first = client.post(reverse("tickets:console_create"), data)
    second = client.post(reverse("tickets:console_create"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_a_made_up_token_is_no_token(client, end_user, first_line):
    client.force_login(end_user)
    data = {"title": "Printer", "description": "Jams.", "submission_key": "x" * 500}
    client.post(reverse("tickets:create"), data)
    client.post(reverse("tickets:create"), data)
    assert Ticket.objects.count() == 2
    assert not CreationKey.objects.exists()


# --- the API -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_repeat_with_the_same_idempotency_key_returns_the_same_ticket(as_end_user, first_line):
    body = {"title": "VPN drops every hour", "description": "Since Monday."}
    first = as_end_user.post("/api/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = as_end_user.post("/api/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == first.json()["number"]
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_api_same_key_with_another_body_is_409(as_end_user, first_line):
    as_end_user.post("/api/tickets/", {"title": "VPN"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = as_end_user.post(
        "/api/tickets/", {"title": "Printer"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in response.json()["detail"]
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_api_without_a_key_creates_each_time(as_end_user, first_line):
    for _ in range(2):
        response = as_end_user.post("/api/tickets/", {"title": "VPN"}, format="json")
        assert response.status_code == 201
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_api_refuses_a_malformed_key(as_end_user, first_line):
    response = as_end_user.post(
        "/api/tickets/", {"title": "VPN"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 81
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_api_keys_of_different_users_do_not_meet(api, end_user, other_end_user, first_line):
    numbers = set()
    for user in (end_user, other_end_user):
        api.force_login(user)
        response = api.post(
            "/api/tickets/", {"title": "VPN"}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        assert response.status_code == 201
        numbers.add(response.json()["number"])
    assert len(numbers) == 2


@pytest.mark.django_db
def test_schema_documents_the_idempotency_key(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    create = schema["paths"]["/api/tickets/"]["post"]
    header = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and not header.get("required", False)
    assert {"200", "201", "409"} <= set(create["responses"])
