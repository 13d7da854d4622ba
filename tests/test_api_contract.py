"""The API keeps its OpenAPI contract: schemathesis against the live schema, in process.

Every operation of ``/api/schema/`` is exercised as an agent and as an end user (each with an
API token) with schemathesis's whole set of checks: responses inside their schema, status
codes and content types that are documented, valid requests accepted and invalid ones
refused, no 5xx. Cases are generated deterministically (a fixed number per operation, the
same ones every run) over a small seeded register, and half of the valid cases that name a
ticket or a record by id get one that exists, so the paths past the 404 are reached too.

An endpoint added to the schema (changes, surveys, the knowledge base ...) joins this test
without a line here. What the schema does not describe is not tested here: the PBX webhooks
and the Zammad-compatible CTI endpoints are plain Django views signed with a per-PBX HMAC or
token (no user), outside the schema; they have their own fuzz tests
(``tests/cti/test_webhook_fuzz.py``).
"""

from __future__ import annotations

import zlib

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from changes import services as change_services
from helpdesk import services as helpdesk_services
from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.factories import (
    CategoryFactory,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    SupportGroupFactory,
    make_ticket,
    make_user,
)
from tickets import services as ticket_services
from tickets.models import PendingReason, ResolutionCode

# Cases per operation and phase; with the coverage phase's boundary cases this keeps the
# whole module to a few minutes on two cores.
MAX_EXAMPLES = 10

# Operations where a request the schema allows can still break a rule of the register (who
# may do what with which record, in which state). The schema cannot say these; the API
# answers them with a 400 naming the field.
BUSINESS_RULES = {
    # A number that is no phone number (the caller-ID lookup).
    "GET /api/people/",
    # A user name and password that do not sign in.
    "POST /api/auth/token/",
    # An agent names the caller; an end user's ticket is their own, classified by the desk.
    "POST /api/tickets/",
    # Internal notes and files are for agents.
    "POST /api/tickets/{number}/comments/",
    "POST /api/tickets/{number}/attachments/",
    # To an agent or engineer; to another group; up a tier.
    "POST /api/tickets/{number}/transitions/assign/",
    "POST /api/tickets/{number}/transitions/transfer/",
    "POST /api/tickets/{number}/transitions/escalate/",
    # Not into itself, nor into a ticket that was merged or is finished.
    "POST /api/tickets/{number}/transitions/merge/",
    # A change: the requester is yourself unless you are IT staff; records that exist; a
    # planned window that ends after it starts; an implementer from the IT staff who did
    # not approve it; a standard change from a template.
    "POST /api/changes/",
    "PATCH /api/changes/{number}/",
    # A rejection needs its reason.
    "POST /api/changes/{number}/votes/",
}

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
schema.config.generation.update(
    modes=list(GenerationMode), max_examples=MAX_EXAMPLES, deterministic=True
)


class Register:
    """The seeded objects a path parameter may name."""

    def __init__(self, agent, end_user):
        first_line = SupportGroupFactory(
            name="Service Desk", code="service-desk", tier=SupportGroup.Tier.FIRST
        )
        network = SupportGroupFactory(name="Network", code="network", tier=SupportGroup.Tier.SECOND)
        first_line.members.add(agent)
        engineer = make_user(Role.ENGINEER, username="engineer")
        network.members.add(engineer)
        service = ServiceFactory(name="E-mail", owner_group=network)
        parent_category = CategoryFactory(name="Hardware")
        category = CategoryFactory(name="Printer", parent=parent_category)
        someone = PersonFactory(full_name="Anna Nowak")
        PhoneNumberFactory(person=someone, raw="+48 22 555 01 02")
        mine = make_ticket(
            caller=end_user.person, opened_by=end_user, service=service, category=category
        )
        ticket_services.comment_add(ticket=mine, by=agent, body="Restart it, please.")
        ticket_services.comment_add(
            ticket=mine, by=agent, body="Looks like the driver.", is_internal=True
        )
        waiting = make_ticket(caller=end_user.person, opened_by=agent, title="VPN drops")
        ticket_services.ticket_assign(ticket=waiting, by=agent, assignee=agent)
        ticket_services.ticket_pend(
            ticket=waiting, by=agent, reason=PendingReason.USER, note="Which client?"
        )
        resolved = make_ticket(caller=end_user.person, opened_by=agent, title="Password")
        ticket_services.ticket_assign(ticket=resolved, by=agent, assignee=agent)
        ticket_services.ticket_resolve(
            ticket=resolved, by=agent, code=ResolutionCode.USER_INSTRUCTED, notes="Reset."
        )
        others = make_ticket(caller=someone, opened_by=agent, group=first_line)
        numbers = [t.number for t in (mine, waiting, resolved, others)]
        my_change = change_services.change_create(
            requester=end_user.person, by=end_user, title="A second screen", services=[service]
        )
        their_change = change_services.change_create(
            requester=someone, by=agent, title="New switch", services=[service]
        )
        change_services.change_submit(change=their_change, by=agent)
        self.change_numbers = [my_change.number, their_change.number]
        groups = [first_line.pk, network.pk]
        # Path parameters: half of the valid cases name one of these.
        self.path_values = {
            "number": numbers,
            "id": [*groups, service.pk, category.pk, parent_category.pk, someone.pk],
        }
        # Body fields that refer to a record: a valid case always names an existing one (the
        # schema can say "an id", not "the id of a row that exists"; a made-up one is a 400
        # naming the field, tested in tests/tickets/test_api.py).
        self.references = {
            "caller": [someone.pk, end_user.person.pk],
            "service": [service.pk],
            "category": [category.pk, parent_category.pk],
            "group": groups,
            "owner_group": groups,
            "assignee": [agent.pk, engineer.pk],
            "parent": numbers,
            "into": numbers,
        }
        self.category_ids = [category.pk, parent_category.pk]

    def use_real_records(self, case) -> None:
        """Point a valid case at seeded records, the same way on every run."""
        for name, value in (case.path_parameters or {}).items():
            choices = self.path_values.get(name)
            if name == "number" and case.path.startswith("/api/changes/"):
                choices = self.change_numbers
            draw = _draw(value)
            if choices and not draw % 2:
                case.path_parameters[name] = choices[(draw // 2) % len(choices)]
        if not isinstance(case.body, dict):
            return
        for name, value in case.body.items():
            choices = self.references.get(name)
            if name == "parent" and case.path.startswith("/api/categories/"):
                choices = self.category_ids
            if choices and value is not None:
                case.body[name] = choices[_draw(value) % len(choices)]


def _draw(value) -> int:
    return zlib.crc32(repr(value).encode())


@pytest.fixture(params=[Role.AGENT, Role.END_USER], ids=["agent", "end_user"])
def token_header(request, db):
    user = make_user(request.param, username=f"contract-{request.param}")
    agent = user if request.param == Role.AGENT else make_user(Role.AGENT, username="agent")
    end_user = user if request.param == Role.END_USER else make_user(Role.END_USER)
    register = Register(agent, end_user)
    _token, key = helpdesk_services.api_token_create(
        user=user, name="schemathesis", lifetime_days=1
    )
    # The sign-in endpoint throttles by client address: no count left over between operations.
    cache.clear()
    # schemathesis calls the WSGI application itself; like Django's test client, keep the
    # request signals from closing the test's connection (on PostgreSQL it is inside the
    # test's transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": f"Token {key}"}, register
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        cache.clear()


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_keeps_its_contract(case, token_header):
    headers, register = token_header
    if _is_positive(case):
        register.use_real_records(case)
    excluded = []
    if case.operation.label in BUSINESS_RULES:
        # These answer a well-formed request that breaks a rule with a 400 naming the field,
        # which is checked below instead of "every valid request is accepted".
        excluded.append(positive_data_acceptance)
    response = case.call_and_validate(headers=headers, excluded_checks=excluded)
    if excluded and response.status_code == 400 and _is_positive(case):
        errors = response.json()
        assert set(errors) <= {*_input_names(case.operation), "non_field_errors"}, errors


def _input_names(operation) -> set[str]:
    """The names of an operation's query parameters and body fields, from the schema."""
    raw = operation.definition.raw
    names = {parameter["name"] for parameter in raw.get("parameters", [])}
    for media in raw.get("requestBody", {}).get("content", {}).values():
        component = media["schema"]["$ref"].rsplit("/", 1)[1]
        names |= set(schema.raw_schema["components"]["schemas"][component]["properties"])
    return names


def _is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
