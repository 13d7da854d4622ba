"""The impact x urgency -> priority matrix, its configuration and its cache."""

import itertools

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from tests.factories import make_ticket, make_user
from tickets import services
from tickets.models import Impact, Priority, PriorityRule, TimelineEntry, Urgency

pytestmark = pytest.mark.django_db

# The ITIL matrix the help desk ships with (rows: impact 1-4, columns: urgency 1-4).
EXPECTED = [
    [1, 2, 2, 3],
    [2, 2, 3, 4],
    [2, 3, 4, 4],
    [3, 4, 4, 5],
]


@pytest.fixture(autouse=True)
def _clean_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize(("impact", "urgency"), list(itertools.product(range(1, 5), range(1, 5))))
def test_default_matrix_gives_the_itil_priority(impact, urgency):
    expected = EXPECTED[impact - 1][urgency - 1]
    assert services.priority_for(impact=impact, urgency=urgency) == expected


def test_matrix_never_gets_more_urgent_when_impact_or_urgency_drops():
    for impact, urgency in itertools.product(range(1, 5), range(1, 5)):
        here = services.priority_for(impact=impact, urgency=urgency)
        if impact < 4:
            assert services.priority_for(impact=impact + 1, urgency=urgency) >= here
        if urgency < 4:
            assert services.priority_for(impact=impact, urgency=urgency + 1) >= here


def test_enterprise_outage_that_stops_work_is_p1_and_one_users_inconvenience_p5():
    ticket = make_ticket(impact=Impact.ENTERPRISE, urgency=Urgency.CRITICAL)
    assert ticket.priority == Priority.P1
    ticket = make_ticket(impact=Impact.SINGLE, urgency=Urgency.LOW)
    assert ticket.priority == Priority.P5
    assert ticket.get_priority_display() == "P5 planning"


@pytest.mark.parametrize(("impact", "urgency"), [(0, 1), (1, 5), (9, 9), ("1", 1)])
def test_unknown_impact_or_urgency_is_refused(impact, urgency):
    with pytest.raises(ValidationError):
        services.priority_for(impact=impact, urgency=urgency)
    with pytest.raises(ValidationError):
        make_ticket(impact=impact, urgency=urgency)


def test_configured_rule_overrides_the_default_cell_at_once():
    assert services.priority_for(impact=Impact.GROUP, urgency=Urgency.HIGH) == 3
    services.priority_for(impact=Impact.SINGLE, urgency=Urgency.LOW)  # matrix now cached
    services.priority_rule_set(impact=Impact.GROUP, urgency=Urgency.HIGH, priority=Priority.P1)
    assert services.priority_for(impact=Impact.GROUP, urgency=Urgency.HIGH) == 1
    assert make_ticket(impact=Impact.GROUP, urgency=Urgency.HIGH).priority == Priority.P1
    # Other cells keep the default.
    assert services.priority_for(impact=Impact.GROUP, urgency=Urgency.MEDIUM) == 4
    # Setting the cell again changes the one row.
    services.priority_rule_set(impact=Impact.GROUP, urgency=Urgency.HIGH, priority=Priority.P2)
    assert PriorityRule.objects.get().priority == Priority.P2
    assert services.priority_for(impact=Impact.GROUP, urgency=Urgency.HIGH) == 2


def test_matrix_is_read_from_the_cache_not_the_database(django_assert_num_queries):
    services.priority_for(impact=1, urgency=1)
    with django_assert_num_queries(0):
        for impact, urgency in itertools.product(range(1, 5), range(1, 5)):
            services.priority_for(impact=impact, urgency=urgency)


def test_rule_written_behind_the_services_back_shows_after_cache_expiry():
    services.priority_for(impact=1, urgency=1)
    PriorityRule.objects.create(impact=4, urgency=4, priority=1)
    # Cached for a while ...
    assert services.priority_for(impact=4, urgency=4) == 5
    cache.delete(services.PRIORITY_CACHE_KEY)
    # ... and read again once the cache entry goes.
    assert services.priority_for(impact=4, urgency=4) == 1


def test_invalid_rule_is_refused():
    with pytest.raises(ValidationError) as error:
        services.priority_rule_set(impact=1, urgency=7, priority=9)
    assert set(error.value.message_dict) == {"urgency", "priority"}
    assert not PriorityRule.objects.exists()


def test_rule_change_in_the_admin_applies_to_the_next_ticket(client):
    admin = make_user("administrator", username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert services.priority_for(impact=2, urgency=3) == 3
    response = client.post(
        "/admin/tickets/priorityrule/add/", {"impact": 2, "urgency": 3, "priority": 1}
    )
    assert response.status_code == 302, response.content[:500]
    assert services.priority_for(impact=2, urgency=3) == 1
    rule = PriorityRule.objects.get()
    response = client.post(f"/admin/tickets/priorityrule/{rule.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert services.priority_for(impact=2, urgency=3) == 3


def test_changing_the_matrix_leaves_existing_tickets_alone():
    ticket = make_ticket(impact=Impact.SINGLE, urgency=Urgency.MEDIUM)
    assert ticket.priority == Priority.P4
    services.priority_rule_set(impact=Impact.SINGLE, urgency=Urgency.MEDIUM, priority=Priority.P2)
    ticket.refresh_from_db()
    assert ticket.priority == Priority.P4


def test_editing_impact_recomputes_priority_and_records_both_changes(agent):
    ticket = make_ticket(impact=Impact.SINGLE, urgency=Urgency.HIGH)
    assert ticket.priority == Priority.P4
    ticket = services.ticket_update(
        ticket=ticket, by=agent, expected_version=ticket.version, impact=Impact.ENTERPRISE
    )
    assert ticket.priority == Priority.P2
    changes = {
        e.field: (e.old_display, e.new_display)
        for e in ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE)
    }
    assert changes == {
        "impact": ("Single user", "Enterprise-wide"),
        "priority": ("P4 low", "P2 high"),
    }
    assert ticket.timeline.get(field="priority").actor == agent


def test_editing_urgency_without_priority_change_records_only_urgency(agent):
    ticket = make_ticket(impact=Impact.GROUP, urgency=Urgency.MEDIUM)
    assert ticket.priority == Priority.P4
    ticket = services.ticket_update(
        ticket=ticket, by=agent, expected_version=ticket.version, urgency=Urgency.LOW
    )
    assert ticket.priority == Priority.P4
    assert list(
        ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE).values_list("field", flat=True)
    ) == ["urgency"]


def test_invalid_impact_edit_changes_nothing(agent):
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        services.ticket_update(ticket=ticket, by=agent, expected_version=ticket.version, impact=7)
    ticket.refresh_from_db()
    assert (ticket.impact, ticket.version) == (Impact.SINGLE, 1)
    assert not ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE).exists()


@pytest.mark.django_db
def test_admin_edits_the_matrix_through_the_service_and_new_tickets_see_it_at_once(
    client, admin_user, end_user, first_line
):
    assert services.priority_for(impact=Impact.SINGLE, urgency=Urgency.CRITICAL) == Priority.P3
    client.force_login(admin_user)
    response = client.post(
        "/admin/tickets/priorityrule/add/",
        {"impact": Impact.SINGLE, "urgency": Urgency.CRITICAL, "priority": Priority.P1},
    )
    assert response.status_code == 302
    # Cached matrix dropped by the service: no stale priority for the next ticket.
    ticket = make_ticket(caller=end_user.person, impact=Impact.SINGLE, urgency=Urgency.CRITICAL)
    assert ticket.priority == Priority.P1
    rule = PriorityRule.objects.get(impact=Impact.SINGLE, urgency=Urgency.CRITICAL)
    response = client.post(f"/admin/tickets/priorityrule/{rule.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PriorityRule.objects.exists()
    assert services.priority_for(impact=Impact.SINGLE, urgency=Urgency.CRITICAL) == Priority.P3
