"""Scripts offered for a ticket: those of its category and of every category above it,
nearest first, then those of its service; a constant number of queries whatever the depth."""

from __future__ import annotations

import pytest

from kb import scripts
from tests.factories import CategoryFactory, ServiceFactory, make_ticket
from tests.kb.test_scripts import vpn_tree
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(network_group):
    return vpn_tree()


@pytest.fixture
def hardware(db):
    return CategoryFactory(name="Hardware")


def _script(engineer, tree, name, **fields):
    return scripts.script_save(by=engineer, tree=tree, name=name, **fields)


def _fresh(ticket):
    """The ticket as a page reads it: its category not loaded yet."""
    return Ticket.objects.get(pk=ticket.pk)


def test_a_parent_categorys_script_is_offered_for_the_child(engineer, agent, tree, hardware):
    printer = CategoryFactory(name="Printer", parent=hardware)
    general = _script(engineer, tree, "Hardware checks", categories=[hardware])
    ticket = make_ticket(opened_by=agent, category=printer)
    assert list(scripts.scripts_for_ticket(_fresh(ticket))) == [general]
    # Not the other way round: a ticket in "Hardware" is not offered a printer script.
    _script(engineer, tree, "Printer jam", categories=[printer])
    parent_ticket = make_ticket(opened_by=agent, category=hardware)
    assert list(scripts.scripts_for_ticket(_fresh(parent_ticket))) == [general]


def test_nearest_category_first_then_service(engineer, agent, tree, hardware):
    printer = CategoryFactory(name="Printer", parent=hardware)
    laser = CategoryFactory(name="Laser", parent=printer)
    service = ServiceFactory()
    # Names chosen so that alphabetical order would be the reverse.
    by_service = _script(engineer, tree, "A service script", services=[service])
    top = _script(engineer, tree, "B hardware", categories=[hardware])
    middle = _script(engineer, tree, "C printer", categories=[printer])
    own = _script(engineer, tree, "D laser", categories=[laser])
    # Attached to the top category and to the ticket's own: ranked by the nearest.
    both = _script(engineer, tree, "E laser and hardware", categories=[hardware, laser])
    _script(engineer, tree, "Elsewhere", categories=[CategoryFactory(name="Network")])
    ticket = make_ticket(opened_by=agent, category=laser, service=service)
    offered = list(scripts.scripts_for_ticket(_fresh(ticket)))
    assert offered == [own, both, middle, top, by_service]


def test_a_script_matching_by_category_and_service_is_offered_once(engineer, agent, tree, hardware):
    service = ServiceFactory()
    script = _script(engineer, tree, "Both", categories=[hardware], services=[service])
    ticket = make_ticket(opened_by=agent, category=hardware, service=service)
    assert list(scripts.scripts_for_ticket(_fresh(ticket))) == [script]


def test_inactive_scripts_and_unrelated_tickets_get_nothing(engineer, agent, tree, hardware):
    printer = CategoryFactory(name="Printer", parent=hardware)
    script = _script(engineer, tree, "Hardware checks", categories=[hardware])
    script.is_active = False
    script.save()
    assert list(scripts.scripts_for_ticket(make_ticket(opened_by=agent, category=printer))) == []
    assert list(scripts.scripts_for_ticket(make_ticket(opened_by=agent))) == []


def test_a_category_named_with_a_slash_is_not_taken_for_a_parent(engineer, agent, tree, hardware):
    # "Hardware / Printer" is one top-level name here: "Hardware / Printer / Ink" has the
    # path of a child of "Hardware" without being one.
    lookalike = CategoryFactory(name="Hardware / Printer")
    ink = CategoryFactory(name="Ink", parent=lookalike)
    _script(engineer, tree, "Hardware checks", categories=[hardware])
    own = _script(engineer, tree, "Lookalike", categories=[lookalike])
    ticket = make_ticket(opened_by=agent, category=ink)
    assert list(scripts.scripts_for_ticket(_fresh(ticket))) == [own]


@pytest.mark.parametrize("depth", [1, 3, 8])
def test_queries_do_not_grow_with_depth(
    engineer, agent, tree, hardware, depth, django_assert_num_queries
):
    category = hardware
    _script(engineer, tree, "Top", categories=[hardware])
    for level in range(depth):
        category = CategoryFactory(name=f"Level {level}", parent=category)
        _script(engineer, tree, f"Level {level}", categories=[category])
    ticket = _fresh(make_ticket(opened_by=agent, category=category, service=ServiceFactory()))
    # The category tree (read once, then kept by the process: helpdesk.refdata), the scripts.
    with django_assert_num_queries(2):
        offered = list(scripts.scripts_for_ticket(ticket))
    with django_assert_num_queries(1):
        assert list(scripts.scripts_for_ticket(ticket)) == offered
    assert len(offered) == depth + 1
    assert offered[0].name == f"Level {depth - 1}" and offered[-1].name == "Top"


def test_several_tickets_at_once_get_what_each_gets_alone(
    engineer, agent, tree, hardware, django_assert_num_queries
):
    printer = CategoryFactory(name="Printer", parent=hardware)
    laser = CategoryFactory(name="Laser", parent=printer)
    network = CategoryFactory(name="Network")
    service = ServiceFactory()
    _script(engineer, tree, "Service", services=[service])
    _script(engineer, tree, "Hardware", categories=[hardware])
    _script(engineer, tree, "Laser", categories=[laser])
    _script(engineer, tree, "Laser and hardware", categories=[laser, hardware])
    _script(engineer, tree, "Network", categories=[network], services=[service])
    inactive = _script(engineer, tree, "Inactive", categories=[hardware])
    inactive.is_active = False
    inactive.save()
    made = [
        make_ticket(opened_by=agent, category=laser, service=service),
        make_ticket(opened_by=agent, category=printer),
        make_ticket(opened_by=agent, category=network),
        make_ticket(opened_by=agent, service=service),
        make_ticket(opened_by=agent),
    ]
    tickets = list(Ticket.objects.filter(pk__in=[t.pk for t in made]).select_related("category"))
    with django_assert_num_queries(4):
        offered = scripts.scripts_for_tickets(tickets)
    for ticket in tickets:
        assert offered[ticket.pk] == list(scripts.scripts_for_ticket(ticket)), ticket.category
    assert [s.name for s in offered[made[0].pk]] == [
        "Laser",
        "Laser and hardware",
        "Hardware",
        "Network",
        "Service",
    ]
