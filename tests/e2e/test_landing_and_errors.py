"""Where each demo role lands after signing in, the navbar on one line in Polish at 1280px,
and the error pages, in a real browser against the project's ASGI application (DEBUG off,
static files from WhiteNoise)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.e2e.conftest import login, open_user_menu, screenshot
from tests.factories import PASSWORD, SupportGroupFactory, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The demo's logins (helpdesk/demo/data.py), with their roles and names.
DEMO = [
    ("jan.kowalski", Role.END_USER, "Jan", "Kowalski", "/", "Your open tickets"),
    ("agent", Role.AGENT, "Anna", "Nowak", "/console/?queue=groups", "My groups"),
    ("engineer", Role.ENGINEER, "Tomasz", "Kamiński", "/console/?queue=groups", "My groups"),
    ("cab", Role.CHANGE_BOARD, "Celina", "Borkowska", "/changes/board/", "awaiting my vote"),
    ("manager", Role.MANAGER, "Marek", "Manager", "/console/?queue=open", "All open"),
    ("admin", Role.ADMINISTRATOR, "Adam", "Administrator", "/console/?queue=open", "All open"),
]


@pytest.fixture
def demo_people(db):
    desk = SupportGroupFactory(name="Service Desk", code="service-desk")
    users = {}
    for username, role, first, last, *_rest in DEMO:
        admin = role == Role.ADMINISTRATOR
        user = make_user(
            role,
            username=username,
            first_name=first,
            last_name=last,
            is_staff=admin,
            is_superuser=admin,
        )
        user.person.full_name = f"{first} {last}"
        user.person.save()
        if role in (Role.AGENT, Role.ENGINEER):
            desk.members.add(user)
        users[username] = user
    return users


@pytest.mark.parametrize(
    ("username", "landing", "heading"), [(row[0], row[4], row[5]) for row in DEMO]
)
def test_each_demo_role_lands_where_its_work_is(
    new_page, asgi_server, demo_people, username, landing, heading
):
    page = new_page()
    login(page, asgi_server, username, PASSWORD)
    assert page.url == asgi_server + landing
    if landing in ("/", "/changes/board/"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    else:
        current = page.locator(".queue-nav .nav-link.active, .queue-nav [aria-current]").first
        expect(current).to_contain_text(heading)
    navbar = page.locator("nav.navbar")
    works = username not in ("jan.kowalski", "cab")
    expect(navbar.get_by_role("link", name="Calls")).to_have_count(1 if works else 0)
    expect(navbar.get_by_role("link", name="Admin")).to_have_count(1 if username == "admin" else 0)
    screenshot(page, f"landing-{username.replace('.', '-')}")


def _navbar_height(page) -> float:
    return page.locator("nav.navbar").bounding_box()["height"]


@pytest.mark.parametrize("width", [1280, 1366])
def test_polish_navbar_is_one_line(new_page, asgi_server, demo_people, width):
    """The widest navbar (an administrator's, on a portal page and on the console) is as
    high in Polish as in English: one line."""
    page = new_page(viewport={"width": width, "height": 800})
    login(page, asgi_server, "admin", PASSWORD)
    heights = {}
    for language in ("en", "pl"):
        open_user_menu(page)  # the language is chosen in the menu under the user's name
        page.locator("#language-select").select_option(language)
        page.locator("#language-select + button").click()
        expect(page.locator("html")).to_have_attribute("lang", language)
        for path in ("/tickets/", "/console/?queue=open"):
            page.goto(asgi_server + path)
            heights[language, path] = _navbar_height(page)
            screenshot(page, f"navbar-{language}-{width}-{path.strip('/').split('/')[0]}")
            # Nothing runs off the right edge (a bar that does not wrap could overflow).
            overflow = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert overflow[0] <= overflow[1], (language, path, overflow)
    # One line is about 50px high (the console's bar a pixel less), two lines about 70px.
    for path in ("/tickets/", "/console/?queue=open"):
        assert heights["pl", path] == heights["en", path], heights
        assert heights["en", path] < 60, heights
    open_user_menu(page)
    expect(page.get_by_role("button", name="Wyloguj")).to_be_visible()


def test_polish_404_and_403_pages(new_page, asgi_server, demo_people):
    page = new_page()
    user = demo_people["jan.kowalski"]
    user.person.language = "pl"
    user.person.save()
    login(page, asgi_server, "jan.kowalski", PASSWORD)
    response = page.goto(asgi_server + "/no/such/page/")
    assert response.status == 404
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Strona nie została znaleziona")
    expect(page.locator("nav.navbar")).to_be_visible()
    expect(page.get_by_text("URLconf")).to_have_count(0)
    screenshot(page, "error-404-polish")
    response = page.goto(asgi_server + "/console/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dostęp zabroniony")
    screenshot(page, "error-403-polish")


def test_favicon_and_static_files_are_served_with_debug_off(asgi_server, db):
    icon = httpx.get(asgi_server + "/favicon.ico", follow_redirects=True)
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    css = httpx.get(asgi_server + "/static/css/helpdesk.css")
    assert css.status_code == 200


def test_timeline_tells_names_and_groups(new_page, asgi_server, demo_people):
    from helpdesk.models import SupportGroup
    from tests.factories import make_ticket
    from tickets import services

    agent = demo_people["agent"]
    network = SupportGroupFactory(
        name="Network Operations", code="network", tier=SupportGroup.Tier.SECOND
    )
    network.name_pl = "Zespół sieci"
    network.save()
    ticket = make_ticket(title="VPN drops every hour", caller=demo_people["jan.kowalski"].person)
    services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    services.ticket_escalate(
        ticket=ticket, by=agent, group=network, diagnostic_notes="Router rebooted."
    )
    page = new_page()
    login(page, asgi_server, "agent", PASSWORD)
    page.goto(f"{asgi_server}/console/tickets/{ticket.number}/")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Anna Nowak")
    expect(timeline).to_contain_text("Escalated: Service Desk → Network Operations")
    expect(timeline).not_to_contain_text("→ agent")
    timeline.scroll_into_view_if_needed()
    screenshot(page, "timeline-names-and-groups")
