"""The API answers each error of the shared vocabulary the same way, whichever app raised it."""

from __future__ import annotations

from helpdesk import errors
from helpdesk.api_support import exception_handler


def test_services_permission_denied_is_a_403():
    response = exception_handler(errors.PermissionDenied("only agents"), {})
    assert response.status_code == 403


def test_services_validation_error_names_the_field():
    response = exception_handler(errors.ValidationError({"title": "Required."}), {})
    assert response.status_code == 400
    assert response.data == {"title": ["Required."]}


def test_conflict_and_refused_transition_are_409_with_their_own_code():
    conflict = exception_handler(errors.ConflictError("changed", current_version=3), {})
    refused = exception_handler(
        errors.TransitionNotAllowedError(
            "no", transition="resolve", state="closed", allowed=["reopen"]
        ),
        {},
    )
    assert (conflict.status_code, conflict.data["code"]) == (409, "conflict")
    assert conflict.data["current_version"] == 3
    assert (refused.status_code, refused.data["code"]) == (409, "transition_not_allowed")
    assert refused.data["allowed_transitions"] == ["reopen"]


def test_built_in_permission_error_is_not_an_api_answer():
    # Services raise errors.PermissionDenied; a bare PermissionError is a bug, not a 403.
    assert exception_handler(PermissionError("x"), {}) is None


def test_errors_reexports_django_exceptions():
    from django.core import exceptions

    assert errors.PermissionDenied is exceptions.PermissionDenied
    assert errors.ValidationError is exceptions.ValidationError
