import pytest

from tests.factories import make_ticket
from tickets import services
from tickets.models import Status


@pytest.mark.django_db
def test_ticket_goes_from_new_to_closed(agent, end_user, first_line):
    ticket = make_ticket(caller=end_user.person, opened_by=end_user)
    assert ticket.number == "INC-000001"
    assert ticket.group == first_line
    ticket = services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket = services.ticket_start(ticket=ticket, by=agent)
    ticket = services.ticket_resolve(ticket=ticket, by=agent, code="solved", notes="Cleared jam")
    assert ticket.status == Status.RESOLVED
    ticket = services.ticket_close(ticket=ticket, by=end_user)
    assert ticket.status == Status.CLOSED
    assert [e.new_value for e in ticket.timeline.filter(field="status")] == [
        "new",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
    ]
