"""Errors that services raise and that pages and the API turn into clear answers."""

from __future__ import annotations


class ConflictError(Exception):
    """Someone else changed the record since the caller read it (optimistic locking)."""

    def __init__(self, message: str, *, current_version: int | None = None):
        super().__init__(message)
        self.message = message
        self.current_version = current_version


class TransitionNotAllowedError(Exception):
    """The requested transition is not open to this user in the record's current state."""

    def __init__(self, message: str, *, transition: str, state: str, allowed: list[str]):
        super().__init__(message)
        self.message = message
        self.transition = transition
        self.state = state
        self.allowed = allowed
