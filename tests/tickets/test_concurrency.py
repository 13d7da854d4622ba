"""Two agents on one ticket: the one who saved second from a stale copy gets a conflict."""

import threading

import pytest
from django.db import connection, connections, transaction

from helpdesk.errors import ConflictError
from tests.factories import make_ticket
from tickets import services
from tickets.models import Status, Ticket, TimelineEntry


@pytest.fixture
def ticket(db, end_user):
    return make_ticket(caller=end_user.person, title="VPN drops every hour")


@pytest.mark.django_db
def test_second_edit_from_a_stale_copy_is_refused_and_overwrites_nothing(ticket, agent, engineer):
    mine = Ticket.objects.get(pk=ticket.pk)
    theirs = Ticket.objects.get(pk=ticket.pk)
    assert mine.version == theirs.version == 1
    mine = services.ticket_update(
        ticket=mine, by=agent, expected_version=mine.version, title="VPN drops hourly (Cisco)"
    )
    assert mine.version == 2
    with pytest.raises(ConflictError) as error:
        services.ticket_update(
            ticket=theirs,
            by=engineer,
            expected_version=theirs.version,
            title="VPN broken",
            description="Overwritten?",
        )
    assert error.value.current_version == 2
    assert "changed by someone else" in error.value.message
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.title, stored.description, stored.version) == (
        "VPN drops hourly (Cisco)",
        "Paper jam light is on.",
        2,
    )
    title_changes = stored.timeline.filter(field="title")
    assert list(title_changes.values_list("actor__username", flat=True)) == ["agent"]


@pytest.mark.django_db
def test_after_reloading_the_loser_can_save(ticket, agent, engineer):
    services.ticket_update(ticket=ticket, by=agent, expected_version=1, title="First")
    with pytest.raises(ConflictError) as error:
        services.ticket_update(ticket=ticket, by=engineer, expected_version=1, title="Second")
    fresh = services.ticket_update(
        ticket=ticket, by=engineer, expected_version=error.value.current_version, title="Second"
    )
    assert (fresh.title, fresh.version) == ("Second", 3)


@pytest.mark.django_db
def test_transition_on_a_stale_copy_is_refused(ticket, agent, engineer):
    stale_version = ticket.version
    services.ticket_update(ticket=ticket, by=agent, expected_version=stale_version, urgency=1)
    with pytest.raises(ConflictError) as error:
        services.ticket_start(ticket=ticket, by=engineer, expected_version=stale_version)
    assert error.value.current_version == stale_version + 1
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.status, stored.assignee) == (Status.NEW, None)
    assert not stored.timeline.filter(kind=TimelineEntry.Kind.TRANSITION).exists()


@pytest.mark.django_db
def test_two_agents_resolving_at_once_only_one_wins(ticket, agent, engineer):
    seen = ticket.version
    services.ticket_resolve(
        ticket=ticket, by=agent, code="solved", notes="Reset VPN profile.", expected_version=seen
    )
    with pytest.raises(ConflictError):
        services.ticket_resolve(
            ticket=ticket, by=engineer, code="workaround", notes="Other.", expected_version=seen
        )
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.resolution_code, stored.assignee) == ("solved", agent)
    assert stored.timeline.filter(transition="resolve").count() == 1


@pytest.mark.django_db
def test_edit_from_a_copy_older_than_a_transition_is_refused(ticket, agent):
    seen = ticket.version
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent, expected_version=seen)
    with pytest.raises(ConflictError):
        services.ticket_update(ticket=ticket, by=agent, expected_version=seen, title="Late edit")
    assert Ticket.objects.get(pk=ticket.pk).title == "VPN drops every hour"


@pytest.mark.django_db
def test_unchanged_edit_from_a_stale_copy_is_still_a_conflict(ticket, agent):
    services.ticket_update(ticket=ticket, by=agent, expected_version=1, title="New title")
    with pytest.raises(ConflictError):
        services.ticket_update(ticket=ticket, by=agent, expected_version=1, title="New title")


@pytest.mark.django_db
def test_replies_do_not_make_an_open_edit_stale(ticket, agent, end_user):
    seen = ticket.version
    services.comment_add(ticket=ticket, by=end_user, body="Still dropping.")
    services.comment_add(ticket=ticket, by=agent, body="Looking.", is_internal=True)
    updated = services.ticket_update(ticket=ticket, by=agent, expected_version=seen, urgency=2)
    assert updated.version == seen + 1


@pytest.mark.django_db
def test_without_expected_version_the_service_works_on_the_stored_ticket(ticket, agent):
    # An internal caller (a Celery task, the CTI) that passes no version is not refused;
    # it reads the stored row under lock, so it never writes stale fields.
    Ticket.objects.filter(pk=ticket.pk).update(title="Changed elsewhere", version=5)
    updated = services.ticket_update(ticket=ticket, by=agent, expected_version=None, urgency=1)
    assert (updated.title, updated.version) == ("Changed elsewhere", 6)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_edits_with_the_same_version_one_wins_one_conflicts(ticket, agent, engineer):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks from concurrent connections (PostgreSQL)")
    barrier = threading.Barrier(2)
    outcomes = []

    def edit(user, title):
        try:
            barrier.wait(timeout=10)
            services.ticket_update(ticket=ticket, by=user, expected_version=1, title=title)
            outcomes.append("saved")
        except ConflictError as error:
            outcomes.append(("conflict", error.current_version))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(daemon=True, target=edit, args=(agent, "Agent's title")),
        threading.Thread(daemon=True, target=edit, args=(engineer, "Engineer's title")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes, key=str) == [("conflict", 2), "saved"]
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.version == 2
    assert stored.timeline.filter(field="title").count() == 1


@pytest.mark.django_db(transaction=True)
def test_transition_waits_for_a_concurrent_edit_and_then_sees_the_new_version(
    ticket, agent, engineer
):
    """The row lock makes read-check-write one step: a transition that starts while an edit
    holds the ticket waits, then checks the version the edit left (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks from concurrent connections (PostgreSQL)")
    edit_holds_lock = threading.Event()
    outcome = []

    def resolve_from_the_page_read_before():
        try:
            edit_holds_lock.wait(timeout=10)
            services.ticket_resolve(
                ticket=ticket, by=engineer, code="solved", notes="Fixed", expected_version=1
            )
            outcome.append("resolved")
        except ConflictError as error:
            outcome.append(("conflict", error.current_version))
        finally:
            connections.close_all()

    thread = threading.Thread(daemon=True, target=resolve_from_the_page_read_before)
    thread.start()
    with transaction.atomic():
        services.ticket_update(ticket=ticket, by=agent, expected_version=1, title="Edited first")
        edit_holds_lock.set()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting for the edit's row lock
    thread.join(timeout=30)
    assert outcome == [("conflict", 2)]
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.status, stored.title, stored.version) == (Status.NEW, "Edited first", 2)


@pytest.mark.django_db(transaction=True)
def test_tickets_created_at_the_same_time_get_distinct_consecutive_numbers(end_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections (PostgreSQL)")
    make_ticket(caller=end_user.person)  # the counter row exists
    barrier = threading.Barrier(3)
    errors = []

    def create_five():
        try:
            barrier.wait(timeout=10)
            for _ in range(5):
                make_ticket(caller=end_user.person)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(daemon=True, target=create_five) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    numbers = sorted(Ticket.objects.values_list("number", flat=True))
    assert numbers == [f"INC-{n:06d}" for n in range(1, 17)]
