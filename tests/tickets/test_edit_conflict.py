"""Two agents editing one ticket's classification: nobody's change is lost.

A save writes only the fields the user changed (the form carries what the page showed);
changes to other fields than a colleague's go on top of the newer version; where both
changed the same field the page shows the current values with the user's own changes and
marks that field.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.errors import ConflictError
from helpdesk.roles import Role
from tests.factories import ServiceFactory, make_ticket, make_user
from tickets import services
from tickets.models import Impact, Ticket, TimelineEntry, Urgency


@pytest.fixture
def ticket(db, end_user, first_line):
    return make_ticket(caller=end_user.person, title="Printer jams on floor 2")


@pytest.fixture
def colleague(db, first_line):
    user = make_user(Role.AGENT, username="colleague", first_name="Cora", last_name="League")
    first_line.members.add(user)
    return user


def read_page(client, ticket) -> dict:
    """The classification form's fields as the ticket page sends them back, unchanged."""
    response = client.get(reverse("tickets:console_detail", args=[ticket.number]))
    assert response.status_code == 200
    return _posted(response.context["edit_form"])


def _posted(form) -> dict:
    data = {"version": form["version"].value()}
    for name in form.FIELDS:
        value = form[name].value()
        data[name] = "" if value is None else str(value)
        hidden = form[name].html_initial_name
        data[hidden] = form.data[hidden] if form.is_bound else data[name]
    return data


def save(client, ticket, data):
    return client.post(reverse("tickets:console_edit", args=[ticket.number]), data)


# --- the service -------------------------------------------------------------------------


def test_stale_copy_changing_another_field_keeps_the_colleagues_change(ticket, agent, colleague):
    read = {"impact": ticket.impact, "urgency": ticket.urgency}
    services.ticket_update(
        ticket=ticket, by=colleague, expected_version=1, urgency=Urgency.CRITICAL
    )
    saved = services.ticket_update(
        ticket=ticket, by=agent, expected_version=1, read=read, impact=Impact.DEPARTMENT
    )
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.impact, stored.version) == (
        Urgency.CRITICAL,
        Impact.DEPARTMENT,
        3,
    )
    assert saved.version == 3
    # Priority follows the combination of both changes.
    assert stored.priority == services.priority_for(
        impact=Impact.DEPARTMENT, urgency=Urgency.CRITICAL
    )


def test_stale_copy_changing_the_same_field_is_a_conflict_naming_it(ticket, agent, colleague):
    read = {"impact": ticket.impact, "urgency": ticket.urgency}
    services.ticket_update(
        ticket=ticket, by=colleague, expected_version=1, urgency=Urgency.CRITICAL
    )
    with pytest.raises(ConflictError) as error:
        services.ticket_update(
            ticket=ticket,
            by=agent,
            expected_version=1,
            read=read,
            urgency=Urgency.LOW,
            impact=Impact.GROUP,
        )
    assert error.value.fields == ("urgency",)
    assert error.value.current_version == 2
    stored = Ticket.objects.get(pk=ticket.pk)
    # Nothing of the refused save was written, not even the field without a clash.
    assert (stored.urgency, stored.impact) == (Urgency.CRITICAL, Impact.SINGLE)


def test_both_choosing_the_same_value_is_no_conflict(ticket, agent, colleague):
    read = {"urgency": ticket.urgency}
    services.ticket_update(ticket=ticket, by=colleague, expected_version=1, urgency=Urgency.HIGH)
    services.ticket_update(
        ticket=ticket, by=agent, expected_version=1, read=read, urgency=Urgency.HIGH
    )
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.version) == (Urgency.HIGH, 2)


def test_without_read_values_a_stale_version_is_still_refused(ticket, agent, colleague):
    services.ticket_update(ticket=ticket, by=colleague, expected_version=1, urgency=1)
    with pytest.raises(ConflictError) as error:
        services.ticket_update(ticket=ticket, by=agent, expected_version=1, impact=2)
    assert error.value.fields == ()


def test_related_rows_compare_by_id(ticket, agent, colleague):
    vpn, printing = ServiceFactory(name="VPN"), ServiceFactory(name="Printing")
    services.ticket_update(ticket=ticket, by=colleague, expected_version=1, service=vpn)
    with pytest.raises(ConflictError) as error:
        # The page showed no service (""), the colleague set VPN, this user picks Printing.
        services.ticket_update(
            ticket=ticket, by=agent, expected_version=1, read={"service": ""}, service=printing
        )
    assert error.value.fields == ("service",)
    services.ticket_update(
        ticket=ticket, by=agent, expected_version=2, read={"service": str(vpn.pk)}, service=printing
    )
    assert Ticket.objects.get(pk=ticket.pk).service == printing


# --- the ticket page ---------------------------------------------------------------------


def test_page_sends_back_what_it_showed(client, agent, ticket):
    client.force_login(agent)
    content = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert f'name="initial-urgency" value="{Urgency.MEDIUM}"' in content
    assert f'name="initial-impact" value="{Impact.SINGLE}"' in content
    assert 'name="initial-service"' in content


def test_save_writes_only_the_fields_the_user_changed(client, agent, ticket):
    client.force_login(agent)
    data = read_page(client, ticket)
    data["impact"] = str(Impact.GROUP)
    response = save(client, ticket, data)
    assert response.status_code == 302
    changed = set(
        ticket.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE).values_list("field", flat=True)
    )
    assert changed == {"impact"}


def test_other_field_saved_from_a_stale_page_keeps_the_colleagues_urgency(
    client, agent, colleague, ticket
):
    """The issue's case: A sets urgency Critical; B, on an older page, changes impact."""
    client.force_login(agent)
    data = read_page(client, ticket)
    services.ticket_update(
        ticket=ticket, by=colleague, expected_version=1, urgency=Urgency.CRITICAL
    )
    data["impact"] = str(Impact.DEPARTMENT)
    response = save(client, ticket, data)
    assert response.status_code == 302
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.impact) == (Urgency.CRITICAL, Impact.DEPARTMENT)
    assert not stored.timeline.filter(field="urgency", actor=agent).exists()
    page = client.get(response["Location"]).content.decode()
    assert "The classification was saved." in page
    assert "Someone else had changed this ticket meanwhile; their changes are kept." in page


def test_same_field_changed_by_both_shows_current_values_and_marks_the_field(
    client, agent, colleague, ticket
):
    vpn = ServiceFactory(name="VPN")
    client.force_login(agent)
    data = read_page(client, ticket)
    services.ticket_update(
        ticket=ticket,
        by=colleague,
        expected_version=1,
        urgency=Urgency.CRITICAL,
        service=vpn,
    )
    data["urgency"] = str(Urgency.LOW)
    data["impact"] = str(Impact.GROUP)
    response = save(client, ticket, data)
    assert response.status_code == 409
    content = response.content.decode()
    assert 'data-testid="conflict"' in content
    assert 'data-testid="both-changed-urgency"' in content
    assert 'data-testid="both-changed-impact"' not in content
    assert "Someone else changed this to “Critical: work stopped” meanwhile" in content
    form = response.context["edit_form"]
    # The colleague's service (which this user did not touch), the user's own two choices,
    # read again at the current version.
    assert form["service"].value() == str(vpn.pk)
    assert form["urgency"].value() == str(Urgency.LOW)
    assert form["impact"].value() == str(Impact.GROUP)
    assert form["version"].value() == 2
    assert form.data["initial-urgency"] == str(Urgency.CRITICAL)
    assert form.data["initial-service"] == str(vpn.pk)
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.impact, stored.version) == (Urgency.CRITICAL, Impact.SINGLE, 2)

    # "Save again" keeps the colleague's service and applies only the user's choices.
    response = save(client, ticket, _posted(form))
    assert response.status_code == 302
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.service, stored.urgency, stored.impact) == (vpn, Urgency.LOW, Impact.GROUP)


def test_save_again_after_a_conflict_keeps_the_colleagues_value_of_untouched_fields(
    client, agent, colleague, ticket
):
    client.force_login(agent)
    data = read_page(client, ticket)
    services.ticket_update(
        ticket=ticket,
        by=colleague,
        expected_version=1,
        urgency=Urgency.CRITICAL,
        impact=Impact.ENTERPRISE,
    )
    data["impact"] = str(Impact.GROUP)
    response = save(client, ticket, data)
    assert response.status_code == 409
    form = response.context["edit_form"]
    assert form["urgency"].value() == str(Urgency.CRITICAL)
    # The user gives way on impact: picks the colleague's value and saves.
    again = _posted(form)
    again["impact"] = str(Impact.ENTERPRISE)
    response = save(client, ticket, again)
    assert response.status_code == 302
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.impact, stored.version) == (
        Urgency.CRITICAL,
        Impact.ENTERPRISE,
        2,
    )


def test_a_save_without_changes_writes_nothing(client, agent, colleague, ticket):
    client.force_login(agent)
    data = read_page(client, ticket)
    services.ticket_update(ticket=ticket, by=colleague, expected_version=1, urgency=1)
    response = save(client, ticket, data)
    assert response.status_code == 302
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.version) == (Urgency.CRITICAL, 2)


# --- the API -----------------------------------------------------------------------------


def test_api_patch_writes_only_the_fields_sent(as_agent, colleague, ticket):
    services.ticket_update(ticket=ticket, by=colleague, expected_version=1, urgency=1)
    response = as_agent.patch(
        f"/api/tickets/{ticket.number}/", {"version": 2, "impact": 2}, format="json"
    )
    assert response.status_code == 200, response.content
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.impact, stored.title) == (1, 2, "Printer jams on floor 2")
    fields = set(
        stored.timeline.filter(kind=TimelineEntry.Kind.FIELD_CHANGE)
        .exclude(actor=colleague)
        .values_list("field", flat=True)
    )
    assert fields == {"impact", "priority"}
