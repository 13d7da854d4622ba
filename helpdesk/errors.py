"""The errors every service raises, and that pages and the API turn into clear answers.

One vocabulary for all apps: import them from here.

- ``ValidationError`` (Django's): the input is wrong; a page shows it on the form, the API
  answers 400 naming the field.
- ``PermissionDenied`` (Django's): this user may not do this; the API answers 403. (What the
  user may not *see* is a 404 from the selector, never a 403 that confirms it exists.)
- ``ConflictError``: someone else changed the record meanwhile; 409 with the current version.
- ``TransitionNotAllowedError``: the transition is not open in this state; 409 naming the
  transitions that are.

``TransitionNotAllowedError`` is deliberately not a subclass of ``ConflictError``: pages catch
``ConflictError`` before ``TransitionNotAllowedError`` and answer the two differently (a
conflict re-renders the form with the newer version, a refused transition is a message).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

__all__ = [
    "ConflictError",
    "PermissionDenied",
    "TransitionNotAllowedError",
    "ValidationError",
]


class ConflictError(Exception):
    """Someone else changed the record since the caller read it (optimistic locking)."""

    def __init__(
        self, message: str, *, current_version: int | None = None, fields: tuple[str, ...] = ()
    ):
        super().__init__(message)
        self.message = message
        self.current_version = current_version
        # The fields both sides changed, when the caller said what it had read (else empty).
        self.fields = tuple(fields)


class TransitionNotAllowedError(Exception):
    """The requested transition is not open to this user in the record's current state."""

    def __init__(self, message: str, *, transition: str, state: str, allowed: list[str]):
        super().__init__(message)
        self.message = message
        self.transition = transition
        self.state = state
        self.allowed = allowed
