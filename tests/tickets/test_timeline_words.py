"""The ticket pages' words: people's names instead of logins, an escalation told by its
groups, the caller's resolved sentence, the reopen date, and a stale one-click action."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import SupportGroup
from helpdesk.roles import Role
from tests.factories import SupportGroupFactory, make_ticket, make_user
from tickets import services
from tickets.templatetags.ticket_tags import person_name


def _timeline(content: str) -> str:
    start = content.index('data-testid="timeline"')
    return content[start : content.index("</ol>", start)]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def anna(first_line):
    user = make_user(Role.AGENT, username="anna.login", first_name="Ann", last_name="Login")
    user.person.full_name = "Anna Nowak"
    user.person.save()
    first_line.members.add(user)
    return user


def test_person_name_prefers_the_directory_then_the_login_name(db):
    with_person = make_user(Role.AGENT, username="p1", first_name="Pe", last_name="One")
    with_person.person.full_name = "Piotr Zieliński"
    assert person_name(with_person) == "Piotr Zieliński"
    no_person = make_user(
        Role.AGENT, username="p2", first_name="Paula", last_name="Two", person=False
    )
    assert person_name(no_person) == "Paula Two"
    bare = make_user(Role.AGENT, username="p3", person=False, first_name="", last_name="")
    assert person_name(bare) == "p3"


def test_timeline_names_people_not_logins(client, agent, anna, first_line):
    ticket = make_ticket(title="Laptop does not boot")
    services.ticket_assign(ticket=ticket, by=anna, assignee=anna)
    client.force_login(agent)
    content = client.get(reverse("tickets:console_detail", args=[ticket.number])).content
    timeline = _text(_timeline(content.decode()))
    assert "anna.login" not in timeline
    assert "→ Anna Nowak" in timeline  # the assignee
    assert "· Anna Nowak" in timeline  # who did it


def test_escalation_is_told_by_its_groups(client, agent, first_line):
    network = SupportGroupFactory(
        name="Network Operations", code="net-ops", tier=SupportGroup.Tier.SECOND
    )
    ticket = make_ticket(title="VPN drops")
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    services.ticket_escalate(
        ticket=ticket, by=agent, group=network, diagnostic_notes="Rebooted the router."
    )
    client.force_login(agent)
    content = client.get(reverse("tickets:console_detail", args=[ticket.number])).content
    timeline = _text(_timeline(content.decode()))
    assert f"Escalated: {first_line.name} → Network Operations" in timeline, timeline
    assert "Escalated: New → New" not in timeline
    assert "Escalated: In progress → New" not in timeline
    # The group change is told once, by the escalation.
    assert "Changed group" not in timeline


def test_timeline_queries_do_not_grow_with_the_rows(client, agent, anna, first_line):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ticket = make_ticket(title="Printer jam")
    client.force_login(agent)
    url = reverse("tickets:console_detail", args=[ticket.number])
    client.get(url)  # warm up (session, caches)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    services.ticket_assign(ticket=ticket, by=anna, assignee=anna)
    few = count()
    for _round in range(4):
        services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
        services.ticket_assign(ticket=ticket, by=anna, assignee=anna)
    assert count() == few


def test_caller_reads_a_natural_resolved_sentence(client, end_user, agent):
    ticket = make_ticket(caller=end_user.person, title="Mail does not sync")
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Re-synced.")
    client.force_login(end_user)
    content = _text(client.get(reverse("tickets:detail", args=[ticket.number])).content.decode())
    assert "Resolved: Solved" not in content
    assert "Your ticket was resolved. Outcome: Solved." in content


def test_reopen_date_has_no_doubled_full_stop(client, end_user, agent):
    ticket = make_ticket(caller=end_user.person, title="Teams crashes")
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Updated.")
    # Yesterday afternoon: English short times end in "p.m."
    resolved = (timezone.localtime() - timedelta(days=1)).replace(hour=14, minute=30)
    type(ticket).objects.filter(pk=ticket.pk).update(resolved_at=resolved)
    client.force_login(end_user)
    content = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    match = re.search(r"Possible until ([^<]*)<", content)
    assert match, "the reopen deadline is shown"
    assert "p.m." in match.group(1)
    assert not match.group(1).rstrip().endswith("..")
    assert "p.m.." not in content


def test_stale_one_click_action_does_not_claim_to_keep_input(client, agent):
    ticket = make_ticket(title="Old page")
    client.force_login(agent)
    response = client.post(
        reverse("tickets:console_action", args=[ticket.number, "assign"]),
        {"version": ticket.version + 5},
    )
    assert response.status_code == 409
    content = response.content.decode()
    assert 'data-testid="conflict"' in content
    assert "Your input is kept" not in content
    assert "Nothing was done." in content


def test_stale_action_with_input_says_it_is_kept(client, agent, first_line):
    network = SupportGroupFactory(name="Net", code="net2", tier=SupportGroup.Tier.SECOND)
    ticket = make_ticket(title="Old page with a form")
    client.force_login(agent)
    response = client.post(
        reverse("tickets:console_action", args=[ticket.number, "escalate"]),
        {
            "version": ticket.version + 5,
            "group": network.pk,
            "diagnostic_notes": "Checked the cable.",
        },
    )
    assert response.status_code == 409
    assert "Your input is kept" in response.content.decode()
