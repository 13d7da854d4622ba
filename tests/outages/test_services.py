"""Outage lifecycle, grouping of tickets, automatic suggestion, child resolution."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.errors import (
    ConflictError,
    PermissionDenied,
    TransitionNotAllowedError,
    ValidationError,
)
from outages import selectors, services
from outages.models import Outage, OutageSuggestion, OutageUpdate, State
from tests.factories import ServiceFactory, SiteFactory, make_ticket
from tests.outages.factories import declare
from tickets import events
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def vpn(first_line):
    return ServiceFactory(name="VPN", name_pl="VPN (pl)", owner_group=first_line)


@pytest.fixture
def mail_service(first_line):
    return ServiceFactory(name="E-mail", owner_group=first_line)


def test_declare_creates_the_parent_incident_and_the_first_history_row(agent, vpn):
    site = SiteFactory(code="waw")
    outage = declare(agent, services_=[vpn], sites=[site])
    assert outage.state == State.ACTIVE
    parent = outage.parent_ticket
    assert parent.title == "Outage: VPN down"
    assert parent.caller == agent.person
    assert parent.service == vpn
    assert parent.status == Status.NEW
    assert list(outage.services.all()) == [vpn]
    assert list(outage.sites.all()) == [site]
    [update] = outage.updates.all()
    assert update.kind == OutageUpdate.Kind.DECLARED
    assert [active.pk for active in selectors.active_snapshot().outages] == [outage.pk]


def test_end_user_cannot_declare_an_outage(end_user, vpn):
    with pytest.raises(PermissionDenied):
        declare(end_user, services_=[vpn])
    assert not Outage.objects.exists()


def test_declare_needs_a_service_and_an_end_after_the_start(agent, vpn):
    with pytest.raises(ValidationError) as error:
        declare(agent, services_=[])
    assert "services" in error.value.error_dict
    with pytest.raises(ValidationError) as error:
        declare(agent, services_=[vpn], expected_end=timezone.now() - timedelta(hours=1))
    assert "expected_end" in error.value.error_dict


def test_each_change_of_the_expected_end_is_kept(agent, vpn):
    outage = declare(agent, services_=[vpn])
    first_end = outage.expected_end
    later = first_end + timedelta(hours=1)
    services.outage_update(
        outage=outage,
        by=agent,
        expected_end=later,
        description="Still down",
        note="Vendor delayed",
        expected_version=outage.version,
    )
    outage.refresh_from_db()
    assert outage.expected_end == later
    assert outage.version == 2
    update = outage.updates.get(kind=OutageUpdate.Kind.UPDATED)
    assert (update.previous_expected_end, update.expected_end) == (first_end, later)
    assert update.note == "Vendor delayed"
    assert selectors.active_snapshot().outages[0].expected_end == later
    # An update from a page that showed version 1 is refused.
    with pytest.raises(ConflictError):
        services.outage_update(
            outage=outage, by=agent, expected_end=None, description="x", expected_version=1
        )


def test_tickets_become_children_of_the_incident_and_finished_ones_are_skipped(agent, vpn):
    outage = declare(agent, services_=[vpn])
    first, second = make_ticket(service=vpn), make_ticket(service=vpn)
    done = make_ticket(service=vpn)
    Ticket.objects.filter(pk=done.pk).update(status=Status.CLOSED)
    done.refresh_from_db()
    outcome = services.outage_link_tickets(
        outage=outage, by=agent, tickets=[first, second, done, outage.parent_ticket]
    )
    assert {ticket.pk for ticket in outcome.linked} == {first.pk, second.pk}
    assert {number for number, _reason in outcome.skipped} == {
        done.number,
        outage.parent_ticket.number,
    }
    assert set(outage.parent_ticket.children.values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert outage.updates.filter(kind=OutageUpdate.Kind.TICKETS_LINKED).exists()


def test_an_end_user_adds_themselves_once(agent, end_user, vpn):
    outage = declare(agent, services_=[vpn])
    joined = services.outage_add_caller(outage=outage, user=end_user)
    assert joined.created
    assert joined.ticket.parent == outage.parent_ticket
    assert joined.ticket.caller == end_user.person
    assert joined.ticket.service == vpn
    again = services.outage_add_caller(outage=outage, user=end_user)
    assert not again.created
    assert again.ticket.pk == joined.ticket.pk


def test_resolving_resolves_every_open_child_with_the_notes(agent, vpn):
    outage = declare(agent, services_=[vpn])
    children = [make_ticket(service=vpn) for _ in range(3)]
    services.outage_link_tickets(outage=outage, by=agent, tickets=children)
    # One child was resolved on its own before: it keeps its own notes.
    services_resolved = []
    events.subscribe(services_resolved.append, kinds=[events.Kind.TRANSITIONED])
    try:
        already = children[0]
        from tickets import services as ticket_services

        ticket_services.ticket_resolve(
            ticket=already, by=agent, code="solved", notes="Restarted the client"
        )
        services_resolved.clear()
        outcome = services.outage_resolve(
            outage=outage, by=agent, notes="Gateway module replaced", expected_version=1
        )
    finally:
        events.unsubscribe(services_resolved.append)
    outage.refresh_from_db()
    assert outage.state == State.RESOLVED
    assert outage.resolution_notes == "Gateway module replaced"
    assert outage.ended_at is not None
    assert {ticket.pk for ticket in outcome.resolved} == {
        children[1].pk,
        children[2].pk,
        outage.parent_ticket_id,
    }
    for child in children[1:]:
        child.refresh_from_db()
        assert child.status == Status.RESOLVED
        assert child.resolution_notes == "Gateway module replaced"
    children[0].refresh_from_db()
    assert children[0].resolution_notes == "Restarted the client"
    assert selectors.active_snapshot().outages == ()
    with pytest.raises(TransitionNotAllowedError):
        services.outage_resolve(outage=outage, by=agent, notes="again")


def test_resolving_tells_the_callers_through_ticket_events(
    agent, vpn, django_capture_on_commit_callbacks
):
    """The mail app mails callers on a resolve event (docs/mail.md); the event carries it."""
    outage = declare(agent, services_=[vpn])
    child = make_ticket(service=vpn)
    services.outage_link_tickets(outage=outage, by=agent, tickets=[child])
    seen = []

    def listener(event):
        seen.append((event.ticket_id, event.transition))

    events.subscribe(listener, kinds=[events.Kind.TRANSITIONED])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.outage_resolve(outage=outage, by=agent, notes="Fixed")
    finally:
        events.unsubscribe(listener)
    assert (child.pk, "resolve") in seen


def test_cancelling_detaches_the_children_and_cancels_the_incident(agent, vpn):
    outage = declare(agent, services_=[vpn])
    child = make_ticket(service=vpn)
    services.outage_link_tickets(outage=outage, by=agent, tickets=[child])
    services.outage_cancel(outage=outage, by=agent, reason="Declared by mistake")
    outage.refresh_from_db()
    child.refresh_from_db()
    assert outage.state == State.CANCELLED
    assert child.parent_id is None
    assert child.status == Status.NEW
    assert Ticket.objects.get(pk=outage.parent_ticket_id).status == Status.CANCELLED


def test_state_is_protected(agent, vpn):
    outage = declare(agent, services_=[vpn])
    with pytest.raises(AttributeError):
        outage.state = State.RESOLVED


# --- suggestions -------------------------------------------------------------------------


def _tickets_now(service, count, django_capture_on_commit_callbacks, **kwargs):
    made = []
    for _ in range(count):
        with django_capture_on_commit_callbacks(execute=True):
            made.append(make_ticket(service=service, **kwargs))
    return made


def test_three_tickets_for_one_service_within_the_window_suggest_an_outage(
    vpn, mail_service, django_capture_on_commit_callbacks
):
    _tickets_now(vpn, 2, django_capture_on_commit_callbacks)
    _tickets_now(mail_service, 2, django_capture_on_commit_callbacks)
    assert not OutageSuggestion.objects.exists()
    tickets = _tickets_now(vpn, 2, django_capture_on_commit_callbacks)
    suggestion = OutageSuggestion.objects.get()
    assert suggestion.service == vpn
    assert suggestion.status == OutageSuggestion.Status.OPEN
    assert suggestion.ticket_count == 4
    assert tickets[-1] in suggestion.tickets.all()
    assert suggestion.window_minutes == 15


def test_old_tickets_do_not_count_towards_a_suggestion(
    vpn, settings, django_capture_on_commit_callbacks
):
    settings.OUTAGES_SUGGEST_MINUTES = 10
    old = _tickets_now(vpn, 2, django_capture_on_commit_callbacks)
    Ticket.objects.filter(pk__in=[t.pk for t in old]).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    _tickets_now(vpn, 2, django_capture_on_commit_callbacks)
    assert not OutageSuggestion.objects.exists()
    settings.OUTAGES_SUGGEST_TICKETS = 2
    _tickets_now(vpn, 1, django_capture_on_commit_callbacks)
    assert OutageSuggestion.objects.get().ticket_count == 3


def test_no_suggestion_while_an_active_outage_covers_the_service(
    agent, vpn, django_capture_on_commit_callbacks
):
    declare(agent, services_=[vpn])
    _tickets_now(vpn, 4, django_capture_on_commit_callbacks)
    assert not OutageSuggestion.objects.exists()


def test_declaring_closes_the_services_suggestion(agent, vpn, django_capture_on_commit_callbacks):
    _tickets_now(vpn, 3, django_capture_on_commit_callbacks)
    suggestion = OutageSuggestion.objects.get()
    outage = declare(agent, services_=[vpn])
    suggestion.refresh_from_db()
    assert suggestion.status == OutageSuggestion.Status.DECLARED
    assert suggestion.outage == outage
