"""The change transition registry: each model transition declared once, services take it."""

import inspect

import pytest

from changes import services, transitions
from changes.models import Change
from helpdesk.errors import TransitionNotAllowedError
from tests.changes.conftest import make_change


def _model_transitions() -> set[str]:
    field = Change._meta.get_field("state")
    return {t.name for t in field.get_all_transitions(Change)}


def test_every_model_transition_is_declared_once_and_nothing_else():
    assert set(transitions.REGISTRY) == _model_transitions()


@pytest.mark.parametrize("name", sorted(transitions.REGISTRY))
def test_declaration_resolves_and_its_inputs_are_the_services_keywords(name):
    declared = transitions.REGISTRY[name]
    keywords = set(inspect.signature(declared.service_function).parameters)
    assert {"change", "by", "expected_version"} <= keywords
    assert set(declared.inputs) <= keywords, f"{name}: declares inputs the service does not take"
    for text in (declared.label, declared.done, declared.summary):
        assert str(text)


def test_only_approve_and_reject_are_system_transitions():
    assert {n for n, t in transitions.REGISTRY.items() if t.system} == {"approve", "reject"}


@pytest.mark.django_db
def test_unknown_transition_is_refused_with_the_allowed_ones(end_user, engineer):
    change = make_change(requester=end_user.person, by=end_user)
    with pytest.raises(TransitionNotAllowedError) as error:
        services.transition_take(change=change, by=engineer, name="teleport")
    assert error.value.transition == "teleport"
    assert error.value.allowed == ["submit", "withdraw"]


@pytest.mark.parametrize("name", sorted(n for n, t in transitions.REGISTRY.items() if not t.system))
def test_api_action_takes_the_declared_inputs(name):
    from django.urls import reverse

    from changes import api

    serializer = api._TRANSITION_INPUTS.get(name, api.ChangeTransitionInputSerializer)()
    assert set(serializer.fields) - {"version"} == set(transitions.REGISTRY[name].inputs)
    assert reverse(f"api-change-transition-{name}", args=["CHG-000001"]).endswith(
        f"/transitions/{name}/"
    )
