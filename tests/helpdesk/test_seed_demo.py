from datetime import timedelta
from io import StringIO
from itertools import pairwise

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from helpdesk import demo
from helpdesk.models import Category, Person, PhoneNumber, Service, Site, SupportGroup
from helpdesk.roles import Role, user_roles
from tickets.models import Channel, Comment, Status, Ticket, TicketCounter, TimelineEntry

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module (a few seconds), inside a transaction rolled back at the end.

    Each test's own transaction nests in it as a savepoint, so tests still cannot see each
    other's changes.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _seed()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _counts() -> dict[str, int]:
    models = [Site, SupportGroup, Service, Category, Person, PhoneNumber, User]
    models += [Ticket, Comment, TimelineEntry]
    return {model.__name__: model.objects.count() for model in models}


def test_seed_demo_builds_the_organisation(seeded):
    assert Site.objects.count() == 3
    assert SupportGroup.objects.filter(tier=SupportGroup.Tier.FIRST).count() == 1
    assert set(
        SupportGroup.objects.filter(tier=SupportGroup.Tier.SECOND).values_list("code", flat=True)
    ) == {"network", "desktop", "applications", "telephony", "access"}
    assert Service.objects.count() == 20
    assert Service.objects.filter(criticality=Service.Criticality.CRITICAL).exists()
    assert (
        Category.objects.filter(parent__isnull=False).count()
        > Category.objects.filter(parent__isnull=True).count()
    )
    assert Person.objects.filter(user__isnull=True).count() >= 250
    assert Person.objects.count() >= 300
    assert Person.objects.filter(is_vip=True).count() >= 3
    kinds = set(PhoneNumber.objects.values_list("kind", flat=True))
    assert {PhoneNumber.Kind.DESK, PhoneNumber.Kind.MOBILE, PhoneNumber.Kind.EXTENSION} <= kinds
    assert PhoneNumber.objects.filter(kind=PhoneNumber.Kind.MOBILE, e164__regex=r"^\+48[5678]")
    assert not PhoneNumber.objects.exclude(e164__regex=r"^(\+48\d{9}|ext:\d+)$").exists()
    jan = Person.objects.get(user__username="jan.kowalski")
    assert jan.phone_numbers.filter(e164="+48601234567").exists()


def test_seed_demo_tickets_cover_every_state_and_channel_over_90_days(seeded):
    # tickets.demo's 2000; the outages demo's outage has its incident too.
    assert Ticket.objects.filter(outage__isnull=True).count() == 2000
    by_status = dict(Ticket.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_status) == set(Status.values)
    assert by_status[Status.CLOSED] > by_status[Status.NEW]
    assert set(Ticket.objects.values_list("channel", flat=True)) == set(Channel.values)
    now = timezone.now()
    assert not Ticket.objects.filter(created_at__lt=now - timedelta(days=90, hours=1)).exists()
    assert not Ticket.objects.filter(updated_at__gt=now).exists()
    assert Ticket.objects.filter(created_at__lt=now - timedelta(days=60)).exists()
    # Numbers continue from the counters, so new tickets do not collide with demo ones.
    for counter in TicketCounter.objects.all():
        prefix = "INC" if counter.type == "incident" else "REQ"
        assert Ticket.objects.filter(number=f"{prefix}-{counter.value:06d}").exists()


def test_seed_demo_ticket_histories_match_their_state(seeded):
    assert not Ticket.objects.filter(status=Status.RESOLVED, resolved_at__isnull=True).exists()
    assert not Ticket.objects.filter(status=Status.CLOSED, closed_at__isnull=True).exists()
    assert not Ticket.objects.filter(status=Status.PENDING, pending_reason="").exists()
    assert not Ticket.objects.filter(
        status__in=[Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING], assignee__isnull=True
    ).exists()
    assert Ticket.objects.filter(first_contact_resolution=True, channel=Channel.PHONE).exists()
    assert not Ticket.objects.filter(
        first_contact_resolution=True, group__tier=SupportGroup.Tier.SECOND
    ).exists()
    for ticket in Ticket.objects.order_by("?")[:50]:
        entries = list(ticket.timeline.filter(field="status").order_by("created_at", "id"))
        assert entries[0].kind == TimelineEntry.Kind.CREATED
        assert entries[-1].new_value == ticket.status
        for before, after in pairwise(entries):
            assert after.old_value == before.new_value
    assert Comment.objects.filter(is_internal=True).exists()
    assert Comment.objects.filter(is_internal=False).exists()
    assert TimelineEntry.objects.filter(kind=TimelineEntry.Kind.ESCALATION).exists()
    # End users never author internal notes.
    assert not Comment.objects.filter(is_internal=True, author__groups__name=Role.END_USER).exists()


def test_seed_demo_has_a_mass_incident_with_children(seeded):
    parent = Ticket.objects.get(title__startswith="CRM down", parent__isnull=True)
    assert parent.priority == 1
    children = list(parent.children.all())
    assert len(children) == 6
    for child in children:
        assert child.service_id == parent.service_id
        assert child.resolution_code == "duplicate"
        assert child.created_at >= parent.created_at


def test_seed_demo_twice_duplicates_nothing(seeded):
    assert "2000 tickets created" in seeded
    first = _counts()
    output = _seed()
    assert _counts() == first
    assert "0 tickets created" in output


def test_demo_logins_sign_in_with_their_roles(client, seeded):
    output = seeded
    assert "password for all: demo" in output
    expected = {
        "admin": Role.ADMINISTRATOR,
        "agent": Role.AGENT,
        "agent2": Role.AGENT,
        "engineer": Role.ENGINEER,
        "cab": Role.CHANGE_BOARD,
        "manager": Role.MANAGER,
        "jan.kowalski": Role.END_USER,
    }
    for username, role in expected.items():
        assert username in output
        assert client.login(username=username, password="demo"), username
        assert role.value in user_roles(User.objects.get(username=username))
        client.logout()
    assert User.objects.get(username="admin").is_superuser
    assert SupportGroup.objects.get(code="network").members.filter(username="engineer").exists()
    assert SupportGroup.objects.get(code="service-desk").members.filter(username="agent").exists()
    jan = Person.objects.get(user__username="jan.kowalski")
    statuses = set(Ticket.objects.filter(caller=jan).values_list("status", flat=True))
    assert {Status.NEW, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED} <= statuses


def test_seed_demo_calls_each_app_demo_module_in_installed_apps_order(monkeypatch):
    calls = []

    class FakeDemo:
        @staticmethod
        def seed(*, stdout, tickets):
            calls.append((Ticket.objects.count(), tickets))
            stdout.write("later app's demo ready\n")

    modules = demo.app_demo_modules()
    assert [module.__name__ for module in modules] == [
        "tickets.demo",
        "cti.demo",
        "mail.demo",
        "sla.demo",
        "changes.demo",
        "outages.demo",
        "surveys.demo",
        "kb.demo",
    ]
    monkeypatch.setattr(demo, "app_demo_modules", lambda: [*modules, FakeDemo])
    out = StringIO()
    call_command("seed_demo", "--people", "40", "--tickets", "60", stdout=out)
    # Called after the apps listed before it, so it can refer to their people and tickets,
    # and given the options it names.
    [(tickets_seen, tickets_option)] = calls
    assert tickets_seen == Ticket.objects.count() > 0 and tickets_option == 60
    assert out.getvalue().index("Demo tickets") < out.getvalue().index("Telephony")
    assert "later app's demo ready" in out.getvalue()


def test_demo_generators_are_deterministic(seeded):
    import random

    from helpdesk.demo.organisation import person_rows
    from tickets.demo.stories import build_context, build_story

    def people():
        return list(person_rows(50, rng=random.Random(5), site_codes=["waw-hq", "krk-cc"]))

    assert people() == people()
    context = build_context(now=timezone.now())

    def stories():
        rng = random.Random(9)
        return [build_story(rng, context) for _ in range(30)]

    assert stories() == stories()
