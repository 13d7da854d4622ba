"""The ring path's written-out statements give what the ORM gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cti import statements
from cti.models import BlockedNumber, Call, CallEvent
from helpdesk.models import PhoneNumber
from helpdesk.roles import Role
from helpdesk.selectors import caller_card_people
from tests.factories import (
    AgentExtensionFactory,
    PbxFactory,
    PersonFactory,
    PhoneNumberFactory,
    ServiceFactory,
    SiteFactory,
    make_ticket,
    make_user,
)
from tickets.models import OPEN_STATUSES, Ticket
from tickets.selectors import caller_card_tickets

pytestmark = pytest.mark.django_db
NUMBER = "+48225550101"


def test_caller_lookup_finds_active_people_with_their_site_and_the_block_list():
    site = SiteFactory(name="Warsaw HQ")
    anna = PhoneNumberFactory(
        raw=NUMBER, person__full_name="Anna", person__site=site, person__is_vip=True
    ).person
    bert = PhoneNumberFactory(raw=NUMBER, person__full_name="Bert", person__site=None).person
    PhoneNumberFactory(raw=NUMBER, person__is_active=False)
    PhoneNumberFactory(raw="+48 22 555 09 09")

    lookup = statements.caller_lookup(NUMBER, limit=11)
    assert [person.pk for person in lookup.people] == sorted([anna.pk, bert.pk])
    first = lookup.people[0] if lookup.people[0].pk == anna.pk else lookup.people[1]
    assert (first.full_name, first.is_vip, first.site.name) == ("Anna", True, "Warsaw HQ")
    assert first.department == anna.department and first.job_title == anna.job_title
    other = next(person for person in lookup.people if person.pk == bert.pk)
    assert other.site is None and other.is_vip is False
    assert lookup.blocked is False
    # The same people as the directory query of the ORM.
    expected = (
        PhoneNumber.objects.filter(e164=NUMBER, person__is_active=True)
        .order_by("person_id")
        .values_list("person_id", flat=True)
    )
    assert [person.pk for person in lookup.people] == list(expected)
    assert len(statements.caller_lookup(NUMBER, limit=1).people) == 1

    BlockedNumber.objects.create(e164=NUMBER)
    assert statements.caller_lookup(NUMBER, limit=11).blocked is True
    BlockedNumber.objects.create(e164="+48225550199")
    nobody = statements.caller_lookup("+48225550199", limit=11)
    assert nobody.people == [] and nobody.blocked is True
    assert statements.caller_lookup("+48225550188", limit=11).blocked is False


def _callers_sharing_a_number():
    """Four active people with NUMBER (various sites, VIP or not), an inactive one, and
    someone with another number; the first of them with tickets in several states."""
    warsaw, krakow = SiteFactory(name="Warsaw HQ"), SiteFactory(name="Krakow")
    people = [
        PhoneNumberFactory(
            raw=NUMBER,
            person__full_name=f"Person {n}",
            person__department=f"Department {n}",
            person__job_title=f"Title {n}",
            person__is_vip=n == 2,
            person__site=[warsaw, None, krakow, warsaw][n],
        ).person
        for n in range(4)
    ]
    PhoneNumberFactory(raw=NUMBER, person__is_active=False)
    PhoneNumberFactory(raw="+48 22 555 09 09")
    now = timezone.now()
    for n in range(6):
        ticket = make_ticket(caller=people[0], title=f"Problem {n}")
        status = "closed" if n in (1, 4) else ticket.status
        Ticket.objects.filter(pk=ticket.pk).update(
            status=status, created_at=now - timedelta(hours=n)
        )
    make_ticket(caller=people[1])
    return people


@pytest.mark.parametrize("limit", [1, 3, 11])
def test_caller_lookup_reads_the_rows_of_the_directorys_caller_card_selector(limit):
    # The written-out statement and helpdesk.selectors.caller_card_people must not drift
    # apart (a column, a filter, the order): the card shows whichever ran.
    _callers_sharing_a_number()
    for number in (NUMBER, "+48225550909", "+48225550000"):
        rows = caller_card_people(number, limit=limit)
        assert statements.caller_lookup(number, limit=limit).people == [
            statements._person(row) for row in rows
        ]
    assert len(caller_card_people(NUMBER, limit=limit)) == min(limit, 4)


@pytest.mark.parametrize("open_only", [False, True])
@pytest.mark.parametrize("limit", [2, 10])
def test_caller_tickets_reads_the_rows_of_the_tickets_caller_card_selector(limit, open_only):
    people = _callers_sharing_a_number()
    for person in people:
        rows = caller_card_tickets(person.pk, limit=limit, open_only=open_only)
        assert statements.caller_tickets(person.pk, limit=limit, open_only=open_only) == [
            statements._ticket(row) for row in rows
        ]
    assert caller_card_tickets(people[0].pk, limit=limit, open_only=open_only)


def test_ring_reads_find_the_tickets_the_selectors_find_for_the_sole_caller():
    people = _callers_sharing_a_number()
    # Four people share NUMBER: the caller is not known, so no tickets.
    assert statements.ring_reads(NUMBER, [], people=11, tickets=3, calls=5).tickets == []
    PhoneNumber.objects.filter(e164=NUMBER).exclude(person=people[0]).delete()
    [(sole_id, *_card)] = caller_card_people(NUMBER, limit=2)
    reads = statements.ring_reads(NUMBER, [], people=11, tickets=3, calls=5)
    assert reads.tickets == [
        statements._ticket(row) for row in caller_card_tickets(sole_id, limit=3)
    ]
    assert len(reads.tickets) == 3


def test_agents_by_extension_gives_each_agent_with_their_language():
    polish = make_user(Role.AGENT, username="pl")
    polish.person.language = "pl"
    polish.person.save()
    no_person = make_user(Role.AGENT, username="np", person=False)
    AgentExtensionFactory(user=polish, extension="201")
    AgentExtensionFactory(user=no_person, extension="202")
    found = statements.agents_by_extension(["201", "202", "299"])
    assert found == {polish.pk: "pl", no_person.pk: None}
    assert statements.agents_by_extension([]) == {}


def test_insert_writes_every_field_and_reports_an_existing_row():
    pbx = PbxFactory()
    started = timezone.now() - timedelta(minutes=3)
    call = Call(pbx=pbx, call_id="c-1", caller_number="022 555 01 01", started_at=started)
    assert statements.insert(call, conflict=("pbx", "call_id")) is True
    stored = Call.objects.get(pk=call.pk)
    assert (stored.call_id, stored.caller_number, stored.started_at) == (
        "c-1",
        "022 555 01 01",
        started,
    )
    assert stored.state == Call.State.RINGING and stored.direction == Call.Direction.INBOUND
    twin = Call(pbx=pbx, call_id="c-1")
    assert statements.insert(twin, conflict=("pbx", "call_id")) is False
    assert twin.pk is None and Call.objects.count() == 1

    event = CallEvent(pbx=pbx, source="webhook", kind="ring", call_id="c-1", dedup_key="k")
    event.payload = {"from": "022", "nested": [1, 2]}
    statements.insert(event)
    assert CallEvent.objects.get(pk=event.pk).payload == {"from": "022", "nested": [1, 2]}
    with pytest.raises(IntegrityError), transaction.atomic():
        statements.insert(CallEvent(source="webhook", kind="ring", call_id="x", dedup_key="k"))


def test_links_insert_adds_many_to_many_rows_once():
    call = Call.objects.create(call_id="c-2")
    users = [make_user(Role.AGENT, username=f"a{number}") for number in range(3)]
    through = Call.offered_to.through
    statements.links_insert(through, "call", call.pk, "user", [users[0].pk, users[1].pk])
    statements.links_insert(through, "call", call.pk, "user", [users[1].pk, users[2].pk])
    statements.links_insert(through, "call", call.pk, "user", [])
    assert sorted(call.offered_to.values_list("pk", flat=True)) == sorted(u.pk for u in users)


def test_caller_tickets_and_earlier_calls_match_the_orm():
    person = PersonFactory()
    tickets = [make_ticket(caller=person, title=f"Problem {number}") for number in range(5)]
    Ticket.objects.filter(pk=tickets[1].pk).update(status="closed")
    make_ticket(caller=PersonFactory())
    rows = statements.caller_tickets(person.pk, limit=3)
    expected = Ticket.objects.filter(caller=person).order_by("-created_at")[:3]
    assert [(row.pk, row.number, row.title, row.status, row.created_at) for row in rows] == [
        (ticket.pk, ticket.number, ticket.title, ticket.status, ticket.created_at)
        for ticket in expected
    ]
    open_rows = statements.caller_tickets(person.pk, limit=10, open_only=True)
    assert [row.pk for row in open_rows] == list(
        Ticket.objects.filter(caller=person, status__in=OPEN_STATUSES)
        .order_by("-created_at")
        .values_list("pk", flat=True)
    )
    assert tickets[1].pk not in [row.pk for row in open_rows]

    agent = make_user(Role.AGENT, username="ag", first_name="Ada", last_name="Lovelace")
    nameless = make_user(Role.AGENT, username="nameless", first_name="", last_name="")
    now = timezone.now()
    calls = [
        Call.objects.create(
            call_id=f"e-{number}", caller_e164=NUMBER, started_at=now - timedelta(minutes=number)
        )
        for number in range(4)
    ]
    Call.objects.filter(pk=calls[1].pk).update(answered_by=agent, outcome="answered")
    Call.objects.filter(pk=calls[2].pk).update(answered_by=nameless)
    Call.objects.create(call_id="other", caller_e164="+48225550999")
    earlier = statements.calls_from_number(NUMBER, exclude_pk=calls[0].pk, limit=5)
    assert [row.pk for row in earlier] == [call.pk for call in calls[1:]]
    assert [row.agent_name for row in earlier] == ["Ada Lovelace", "nameless", ""]
    assert earlier[0].outcome == "answered"
    assert earlier[0].started_at == Call.objects.get(pk=calls[1].pk).started_at
    assert earlier[0].started_at.tzinfo is not None


@pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="prepared statements are PostgreSQL's",
)
def test_on_postgresql_the_statements_are_prepared_once_per_connection():
    from django.db import connection

    PhoneNumberFactory(raw=NUMBER)
    for _round in range(3):
        statements.caller_lookup(NUMBER, limit=11)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    lookups = [sql for sql in prepared if "cti_blockednumber" in sql]
    assert len(lookups) == 1, prepared
    # The ORM's own queries are not prepared.
    list(PhoneNumber.objects.filter(e164=NUMBER))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == len(prepared)


def test_ring_reads_give_what_the_single_statements_give():
    anna = PhoneNumberFactory(raw=NUMBER, person__full_name="Anna").person
    tickets = [make_ticket(caller=anna, title=f"Problem {n}") for n in range(3)]
    agent = make_user(Role.AGENT, username="ag")
    AgentExtensionFactory(user=agent, extension="201")
    earlier = Call.objects.create(call_id="earlier", caller_e164=NUMBER)
    BlockedNumber.objects.create(e164="+48225550999")

    reads = statements.ring_reads(NUMBER, ["201", "299"], people=11, tickets=2, calls=5)
    assert reads.lookup == statements.caller_lookup(NUMBER, limit=11)
    assert reads.agents == statements.agents_by_extension(["201", "299"]) == {agent.pk: "en"}
    assert [row.pk for row in reads.tickets] == [ticket.pk for ticket in tickets[::-1][:2]]
    assert reads.tickets == statements.caller_tickets(anna.pk, limit=2)
    assert [row.pk for row in reads.calls] == [earlier.pk]

    # Two active people with the number: nobody's tickets (the caller is not known).
    PhoneNumberFactory(raw=NUMBER, person__full_name="Bert")
    assert statements.ring_reads(NUMBER, [], people=11, tickets=2, calls=5).tickets == []
    # An inactive second person does not count.
    nobody = statements.ring_reads("+48225550999", [], people=11, tickets=2, calls=5)
    assert nobody.lookup.people == [] and nobody.lookup.blocked is True
    assert nobody.tickets == [] and nobody.calls == [] and nobody.agents == {}
    withheld = statements.ring_reads("", [], people=11, tickets=2, calls=5)
    assert withheld.lookup.people == [] and withheld.tickets == []


def test_ring_reads_ignore_inactive_people_when_finding_the_callers_tickets():
    anna = PhoneNumberFactory(raw=NUMBER, person__full_name="Anna").person
    PhoneNumberFactory(raw=NUMBER, person__is_active=False)
    ticket = make_ticket(caller=anna)
    reads = statements.ring_reads(NUMBER, [], people=11, tickets=5, calls=5)
    assert [row.pk for row in reads.tickets] == [ticket.pk]


only_postgresql = pytest.mark.skipif(
    "postgresql" not in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
    reason="pipeline mode is PostgreSQL's",
)


@only_postgresql
def test_on_postgresql_a_pipeline_reads_its_results_at_the_end():
    PhoneNumberFactory(raw=NUMBER)
    with statements.pipeline():
        first = statements.caller_lookup_pending(NUMBER, limit=11)
        second = statements.calls_from_number_pending(NUMBER, exclude_pk=0, limit=5)
        assert first._rows is None and second._rows is None  # sent, not waited for
    assert len(first.result().people) == 1
    assert second.result() == []
    # Outside a pipeline a statement is read at once.
    assert statements.caller_lookup_pending(NUMBER, limit=11)._rows is not None


@only_postgresql
def test_on_postgresql_a_failed_insert_in_a_pipeline_raises_djangos_error_and_writes_nothing():
    pbx = PbxFactory()
    CallEvent.objects.create(source="webhook", kind="ring", call_id="x", dedup_key="taken")
    with pytest.raises(IntegrityError), transaction.atomic(), statements.pipeline():
        statements.insert_pending(
            CallEvent(source="webhook", kind="ring", call_id="x", dedup_key="taken")
        )
        statements.insert_pending(Call(pbx=pbx, call_id="x"), conflict=("pbx", "call_id"))
    assert not Call.objects.exists()
    assert CallEvent.objects.count() == 1


def test_ring_insert_writes_the_event_the_call_and_its_offers():
    pbx = PbxFactory()
    agents = [make_user(Role.AGENT, username=f"a{n}") for n in range(2)]
    event = CallEvent(source="webhook", kind="ring", call_id="x", dedup_key="first")
    call = Call(pbx=pbx, call_id="x", caller_e164=NUMBER)
    assert statements.ring_insert(event, call, [agent.pk for agent in agents]) is True
    assert CallEvent.objects.get(pk=event.pk).dedup_key == "first"
    assert set(Call.objects.get(pk=call.pk).offered_to.all()) == set(agents)

    # The call exists: the event is stored, the call and its offers are left alone.
    again = CallEvent(source="webhook", kind="ring", call_id="x", dedup_key="second")
    twin = Call(pbx=pbx, call_id="x")
    newcomer = make_user(Role.AGENT, username="newcomer")
    assert statements.ring_insert(again, twin, [newcomer.pk]) is False
    assert twin.pk is None and again.pk is not None
    assert Call.objects.count() == 1
    assert not Call.objects.filter(offered_to=newcomer).exists()

    # Without an event and without offers.
    alone = Call(pbx=pbx, call_id="y")
    assert statements.ring_insert(None, alone, []) is True
    assert alone.offered_to.count() == 0


def test_ring_insert_of_an_event_stored_before_writes_nothing():
    pbx = PbxFactory()
    agent = make_user(Role.AGENT, username="a")
    CallEvent.objects.create(source="webhook", kind="ring", call_id="x", dedup_key="taken")
    event = CallEvent(source="webhook", kind="ring", call_id="x", dedup_key="taken")
    with pytest.raises(IntegrityError), transaction.atomic():
        statements.ring_insert(event, Call(pbx=pbx, call_id="x"), [agent.pk])
    assert not Call.objects.exists()
    assert CallEvent.objects.count() == 1


def test_queued_ticket_reads_what_the_orm_values_give(agent, first_line):
    from cti.notify import QUEUED_TICKET_FIELDS
    from tickets import services

    plain = make_ticket(caller=PersonFactory())
    assigned = make_ticket(caller=PersonFactory(), group=first_line, service=ServiceFactory())
    services.ticket_assign(ticket=assigned, by=agent, assignee=agent)
    for ticket in (plain, assigned):
        expected = Ticket.objects.filter(pk=ticket.pk).values(*QUEUED_TICKET_FIELDS).get()
        assert statements.queued_ticket(ticket.pk) == expected
    assert statements.queued_ticket(10**9) is None
