"""The change transitions, each declared once (the pattern of :mod:`tickets.transitions`).

A transition has three halves, each in the one place its kind of code lives:

- *when and who*: the ``@transition`` method of the same name on :class:`changes.models.Change`
  (sources, conditions, the permission guard), which changes fields of the change only;
- *the write*: its service in :mod:`changes.services` (validation, the timeline, the approval
  requests);
- *everything a page or a client shows of it*: the declaration below.

``available_transitions(change, user)`` offers the names of this registry whose model guard
lets the user take them, in this order; pages and the API (next) derive their buttons and
actions from it. ``approve`` and ``reject`` are ``system``: they follow from the votes
(``changes.services.vote_cast``) and are never offered to a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ChangeTransition:
    name: str  # the Change method
    service: str  # dotted path of the service that takes it
    label: Promise  # the button
    done: Promise  # the message after it was taken
    summary: Promise  # the API operation's summary
    style: str = "outline-secondary"  # Bootstrap button variant
    one_click: bool = False  # no input but the version
    # The keywords the service takes beyond change, by and expected_version (a form's fields).
    inputs: tuple[str, ...] = ()
    system: bool = False  # taken by the system only (never a button)

    @cached_property
    def service_function(self) -> Callable:
        return import_string(self.service)


_SERVICES = "changes.services"

REGISTRY: dict[str, ChangeTransition] = {
    t.name: t
    for t in [
        ChangeTransition(
            name="submit",
            service=f"{_SERVICES}.change_submit",
            label=_("Submit"),
            done=_("The change is submitted."),
            summary=_("Submit a draft change for assessment"),
            style="primary",
            one_click=True,
        ),
        ChangeTransition(
            name="assess",
            service=f"{_SERVICES}.change_assess",
            label=_("Start assessment"),
            done=_("The change is being assessed."),
            summary=_("Start the assessment of a submitted change"),
            style="primary",
            one_click=True,
        ),
        ChangeTransition(
            name="request_approval",
            service=f"{_SERVICES}.change_request_approval",
            label=_("Request approval"),
            done=_("The change awaits approval."),
            summary=_("Send the change to its approvers"),
            style="primary",
            one_click=True,
        ),
        ChangeTransition(
            name="approve",
            service=f"{_SERVICES}.change_approve",
            label=_("Approve"),
            done=_("The change is approved."),
            summary=_("Approved once every approval step is (system)"),
            style="success",
            system=True,
        ),
        ChangeTransition(
            name="reject",
            service=f"{_SERVICES}.change_reject",
            label=_("Reject"),
            done=_("The change is rejected."),
            summary=_("Rejected when a step can no longer be approved (system)"),
            style="danger",
            system=True,
        ),
        ChangeTransition(
            name="schedule",
            service=f"{_SERVICES}.change_schedule",
            label=_("Schedule"),
            done=_("The change is scheduled."),
            summary=_("Book the planned window of an approved or standard change"),
            style="primary",
            inputs=("planned_start", "planned_end"),
        ),
        ChangeTransition(
            name="implement",
            service=f"{_SERVICES}.change_implement",
            label=_("Start implementation"),
            done=_("The implementation started."),
            summary=_("Start implementing a scheduled change"),
            style="primary",
            one_click=True,
        ),
        ChangeTransition(
            name="finish",
            service=f"{_SERVICES}.change_finish",
            label=_("Finish implementation"),
            done=_("The change is waiting for its review."),
            summary=_("Finish the implementation with its outcome"),
            style="success",
            inputs=("code",),
        ),
        ChangeTransition(
            name="close",
            service=f"{_SERVICES}.change_close",
            label=_("Close after review"),
            done=_("The change is closed."),
            summary=_("Close the change with the post-implementation review"),
            style="success",
            inputs=("code", "result", "problems"),
        ),
        ChangeTransition(
            name="withdraw",
            service=f"{_SERVICES}.change_withdraw",
            label=_("Withdraw"),
            done=_("The change is withdrawn."),
            summary=_("Withdraw a change that has not started"),
            style="outline-danger",
            inputs=("reason",),
        ),
    ]
}
