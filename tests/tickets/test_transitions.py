"""The transition registry: each transition declared once, and what pages and the API derive."""

import inspect

import pytest
from django.urls import reverse

from tests.factories import make_ticket
from tickets import services, transitions
from tickets.models import Ticket


def _model_transitions() -> set[str]:
    field = Ticket._meta.get_field("status")
    return {t.name for t in field.get_all_transitions(Ticket)}


def test_every_model_transition_is_declared_once_and_nothing_else():
    assert set(transitions.REGISTRY) == _model_transitions()


@pytest.mark.parametrize("name", sorted(transitions.REGISTRY))
def test_declaration_resolves_and_its_inputs_are_the_services_keywords(name):
    declared = transitions.REGISTRY[name]
    service = declared.service_function
    keywords = set(inspect.signature(service).parameters)
    assert {"ticket", "by", "expected_version"} <= keywords
    form_fields = set(declared.form_class().fields) - {"version"}
    assert form_fields <= keywords, f"{name}: the form names what the service does not take"
    serializer_fields = set(declared.serializer_class().fields) - {"version"}
    renamed = {"notes": "diagnostic_notes"} if name == "escalate" else {}
    assert {renamed.get(f, f) for f in serializer_fields} <= keywords
    if declared.actor_argument:
        assert declared.actor_argument in keywords
    for text in (declared.label, declared.done, declared.history, declared.summary):
        assert str(text)


@pytest.mark.django_db
def test_api_actions_are_derived_from_the_registry(as_agent, agent, end_user, first_line):
    ticket = make_ticket(caller=end_user.person)
    for name in transitions.REGISTRY:
        assert reverse(f"api-ticket-transition-{name}", args=[ticket.number]).endswith(
            f"/transitions/{name}/"
        )
    # What a ticket says is available is exactly what the model's guards allow.
    row = as_agent.get(f"/api/tickets/{ticket.number}/").json()
    assert row["available_transitions"] == services.available_transitions(ticket, agent)


@pytest.mark.django_db
def test_console_buttons_come_from_the_registry(client, agent, end_user, first_line):
    ticket = make_ticket(caller=end_user.person)
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    offered = services.available_transitions(ticket, agent)
    for name in offered:
        declared = transitions.REGISTRY[name]
        assert f'data-action="{name}"' in page
        assert f"btn-{declared.style}" in page
        assert str(declared.label) in page
    assert 'data-action="reopen"' not in page  # not possible for a new ticket


@pytest.mark.django_db
def test_assign_to_me_is_not_offered_to_the_assignee(client, agent, end_user, first_line):
    ticket = make_ticket(caller=end_user.person)
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    assert "assign" in services.available_transitions(ticket, agent)
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert 'data-action="assign"' not in page
    assert 'data-action="start"' in page


@pytest.mark.django_db
def test_unknown_transition_is_refused_with_the_allowed_ones(agent, end_user, first_line):
    from helpdesk.errors import TransitionNotAllowedError

    ticket = make_ticket(caller=end_user.person)
    with pytest.raises(TransitionNotAllowedError) as error:
        services.transition_take(ticket=ticket, by=agent, name="teleport")
    assert error.value.transition == "teleport"
    assert "start" in error.value.allowed
