"""The caller answers: one service (ticket_reply_by_caller), the same rule through every door.

A ticket waiting for its caller goes back to work when the caller replies, in the same
transaction as the reply; a ticket waiting for someone else stays on hold.
"""

import pytest
from django.urls import reverse

from helpdesk.errors import PermissionDenied, ValidationError
from tests.factories import make_ticket
from tickets import events, services
from tickets.models import Channel, Comment, Status, Ticket


@pytest.fixture
def waiting_for_caller(end_user, agent, first_line):
    ticket = make_ticket(caller=end_user.person, opened_by=end_user, title="VPN drops")
    ticket = services.ticket_start(ticket=ticket, by=agent)
    return services.ticket_pend(ticket=ticket, by=agent, reason="user", note="Serial number?")


@pytest.fixture
def waiting_for_supplier(end_user, agent, first_line):
    ticket = make_ticket(caller=end_user.person, opened_by=end_user, title="Laptop repair")
    ticket = services.ticket_start(ticket=ticket, by=agent)
    return services.ticket_pend(ticket=ticket, by=agent, reason="third_party")


def _stored(ticket):
    return Ticket.objects.get(pk=ticket.pk)


@pytest.mark.django_db
def test_service_adds_the_reply_and_resumes_in_one_transaction(
    waiting_for_caller, end_user, django_capture_on_commit_callbacks
):
    heard = []
    events.subscribe(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            reply = services.ticket_reply_by_caller(
                ticket=waiting_for_caller, by=end_user, body="It is SN-1234"
            )
    finally:
        events.unsubscribe(heard.append)
    assert reply.resumed is True
    stored = _stored(waiting_for_caller)
    assert (stored.status, stored.pending_reason, stored.pending_note) == (
        Status.IN_PROGRESS,
        "",
        "",
    )
    assert reply.comment.body == "It is SN-1234" and not reply.comment.is_internal
    assert [(e.kind, e.transition, e.actor_id) for e in heard] == [
        (events.Kind.COMMENTED, "", end_user.pk),
        (events.Kind.TRANSITIONED, "resume", end_user.pk),
    ]


@pytest.mark.django_db
def test_reply_to_a_ticket_waiting_for_someone_else_keeps_it_on_hold(
    waiting_for_supplier, end_user
):
    reply = services.ticket_reply_by_caller(ticket=waiting_for_supplier, by=end_user, body="News?")
    assert reply.resumed is False
    assert _stored(waiting_for_supplier).status == Status.PENDING


@pytest.mark.django_db
def test_a_caller_known_only_by_address_resumes_the_ticket_too(waiting_for_caller, end_user):
    # The e-mail channel: a mail from the caller's address, no login behind it.
    reply = services.ticket_reply_by_caller(
        ticket=waiting_for_caller,
        by=None,
        author_person=end_user.person,
        body="Serial is SN-1234",
        channel=Channel.EMAIL,
    )
    assert reply.resumed is True
    assert (reply.comment.author_person, reply.comment.channel) == (end_user.person, "email")
    assert _stored(waiting_for_caller).status == Status.IN_PROGRESS
    resumed = _stored(waiting_for_caller).timeline.get(transition="resume")
    assert resumed.actor is None


@pytest.mark.django_db
@pytest.mark.parametrize("finish", ["close", "cancel"])
def test_a_finished_ticket_takes_no_reply_and_nothing_is_written(
    finish, own_ticket, agent, end_user
):
    if finish == "close":
        services.ticket_resolve(ticket=own_ticket, by=agent, code="solved", notes="Done")
        services.ticket_close(ticket=own_ticket, by=end_user)
    else:
        services.ticket_cancel(ticket=own_ticket, by=end_user)
    with pytest.raises(ValidationError) as error:
        services.ticket_reply_by_caller(ticket=own_ticket, by=end_user, body="Again broken")
    assert "body" in error.value.message_dict
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_someone_else_cannot_reply_as_the_caller(waiting_for_caller, other_end_user, agent):
    for user in (other_end_user, agent):
        with pytest.raises(PermissionDenied):
            services.ticket_reply_by_caller(ticket=waiting_for_caller, by=user, body="Hi")
    assert _stored(waiting_for_caller).status == Status.PENDING
    assert not Comment.objects.exists()


@pytest.fixture
def own_ticket(end_user, first_line):
    return make_ticket(caller=end_user.person, opened_by=end_user, title="Printer")


@pytest.mark.django_db
def test_through_the_portal(client, waiting_for_caller, end_user):
    client.force_login(end_user)
    response = client.post(
        reverse("tickets:reply", args=[waiting_for_caller.number]),
        {"body": "It is SN-1234"},
        follow=True,
    )
    assert "the ticket is back with the help desk" in response.content.decode()
    assert _stored(waiting_for_caller).status == Status.IN_PROGRESS


@pytest.mark.django_db
def test_through_the_api(api, waiting_for_caller, waiting_for_supplier, end_user):
    api.force_login(end_user)
    response = api.post(
        f"/api/tickets/{waiting_for_caller.number}/comments/",
        {"body": "It is SN-1234"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["channel"] == "api"
    assert _stored(waiting_for_caller).status == Status.IN_PROGRESS
    # The ticket representation afterwards offers what the agent can do with a working ticket.
    detail = api.get(f"/api/tickets/{waiting_for_caller.number}/").json()
    assert detail["status"] == "in_progress"

    response = api.post(
        f"/api/tickets/{waiting_for_supplier.number}/comments/", {"body": "News?"}, format="json"
    )
    assert response.status_code == 201
    assert _stored(waiting_for_supplier).status == Status.PENDING


@pytest.mark.django_db
def test_through_the_api_a_finished_ticket_is_400_naming_the_body(api, own_ticket, end_user):
    services.ticket_cancel(ticket=own_ticket, by=end_user)
    api.force_login(end_user)
    response = api.post(
        f"/api/tickets/{own_ticket.number}/comments/", {"body": "Hello?"}, format="json"
    )
    assert response.status_code == 400
    assert "body" in response.json()


@pytest.mark.django_db
def test_an_agents_public_reply_through_the_api_does_not_resume(api, waiting_for_caller, agent):
    api.force_login(agent)
    response = api.post(
        f"/api/tickets/{waiting_for_caller.number}/comments/",
        {"body": "Any serial yet?"},
        format="json",
    )
    assert response.status_code == 201
    assert _stored(waiting_for_caller).status == Status.PENDING


@pytest.mark.django_db
def test_through_the_portal_a_finished_ticket_says_so_and_keeps_nothing(
    client, own_ticket, end_user
):
    services.ticket_cancel(ticket=own_ticket, by=end_user)
    client.force_login(end_user)
    response = client.post(
        reverse("tickets:reply", args=[own_ticket.number]), {"body": "Hello?"}, follow=True
    )
    assert response.redirect_chain == [(own_ticket.get_absolute_url(), 302)]
    assert "This ticket is finished" in response.content.decode()
    assert not Comment.objects.exists()
