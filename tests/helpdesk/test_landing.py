"""Where each role lands: after signing in and at ``/`` (docs/roles.md, "Where each role
lands"); a ``next`` always wins."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.roles import Role, landing_url
from tests.factories import PASSWORD, make_user

LANDINGS = {
    "end_user": "/",
    "agent": "/console/?queue=groups",
    "engineer": "/console/?queue=groups",
    "change_board": "/changes/board/",
    "manager": "/console/?queue=open",
    "admin_user": "/console/?queue=open",
}


def _sign_in(client, user, next_url=None):
    data = {"username": user.get_username(), "password": PASSWORD}
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    return client.post(url, data)


@pytest.mark.parametrize("role", list(LANDINGS))
def test_each_role_lands_where_its_work_is(client, role, request):
    user = request.getfixturevalue(role)
    response = _sign_in(client, user)
    assert response.status_code == 302
    assert response["Location"] == LANDINGS[role]
    # "/" sends them to the same place; end users get the portal home there.
    home = client.get("/")
    if role == "end_user":
        assert home.status_code == 200
        assert 'id="open-tickets-heading"' in home.content.decode()
    else:
        assert home.status_code == 302
        assert home["Location"] == LANDINGS[role]
        assert client.get(home["Location"]).status_code == 200


@pytest.mark.parametrize("role", ["end_user", "agent", "change_board", "admin_user"])
def test_next_is_honoured(client, role, request):
    user = request.getfixturevalue(role)
    response = _sign_in(client, user, next_url="/tickets/new/")
    assert response["Location"] == "/tickets/new/"


def test_a_foreign_next_is_ignored(client, agent):
    response = _sign_in(client, agent, next_url="https://evil.example/")
    assert response["Location"] == LANDINGS["agent"]


def test_a_signed_in_visitor_of_the_login_page_goes_to_their_landing(client, manager):
    client.force_login(manager)
    response = client.get(reverse("login"))
    assert response["Location"] == LANDINGS["manager"]


def test_roles_add_up_to_the_widest_start(db):
    board_engineer = make_user(Role.CHANGE_BOARD, username="board-engineer")
    board_engineer.groups.add(*make_user(Role.ENGINEER, username="spare").groups.all())
    assert landing_url(board_engineer) == "/console/?queue=groups"


def test_staff_reach_the_portal_home_at_portal(client, agent):
    client.force_login(agent)
    page = client.get(reverse("portal_home"))
    assert page.status_code == 200
    assert 'id="open-tickets-heading"' in page.content.decode()


def test_navbar_entries_per_role(client, end_user, agent, change_board, admin_user):
    def navbar(user):
        client.force_login(user)
        content = client.get(reverse("tickets:my_list")).content.decode()
        return content[content.index("<nav") : content.index("</nav>")]

    end_user_bar = navbar(end_user)
    assert 'data-testid="nav-call-log"' not in end_user_bar
    assert 'data-testid="nav-admin"' not in end_user_bar
    agent_bar = navbar(agent)
    assert reverse("cti:call_log") in agent_bar
    assert 'data-testid="nav-admin"' not in agent_bar
    board_bar = navbar(change_board)  # reads tickets, answers no calls
    assert 'data-testid="nav-call-log"' not in board_bar
    # Change management: the board's work; end users follow the changes they requested.
    assert 'data-testid="nav-changes"' in board_bar
    assert 'data-testid="nav-changes"' in agent_bar
    assert 'data-testid="nav-changes"' in end_user_bar
    admin_bar = navbar(admin_user)
    assert reverse("cti:call_log") in admin_bar
    assert 'href="/admin/"' in admin_bar
    # The account pages are in the menu under the user's name.
    menu = admin_bar[admin_bar.index('data-testid="user-menu"') :]
    assert reverse("api_tokens") in menu and ">API tokens<" in menu
    assert reverse("mail:notification_settings") in menu and ">Mail notifications<" in menu
