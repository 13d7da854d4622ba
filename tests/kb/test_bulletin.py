"""The bulletin board: who reads which announcement and when, in what order, on the portal's
home page, on the console and in the intranet's RSS and Atom feeds; posting, changing and
taking announcements off the board."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kb import selectors, services
from kb.models import Announcement
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


def post(by, title, **fields):
    return services.announcement_save(by=by, title=title, **fields)


def titles(queryset):
    return [announcement.title for announcement in queryset]


@pytest.fixture
def board(agent, end_user):
    """Announcements for everyone, the end user's site, another site, the end user's
    department, one coming and one over."""
    now = timezone.now()
    mine, other = end_user.person.site, SiteFactory(name="Gdańsk")
    return {
        "old pinned": post(
            agent, "Old but pinned", pinned=True, valid_from=now - timedelta(days=9)
        ),
        "everyone": post(agent, "Mail maintenance", valid_from=now - timedelta(hours=1)),
        "newest": post(agent, "VPN client update", valid_from=now - timedelta(minutes=5)),
        "my site": post(
            agent,
            "Floor 3 printers",
            audience="site",
            site=mine,
            valid_from=now - timedelta(hours=2),
        ),
        "other site": post(
            agent, "Gdańsk lift", audience="site", site=other, valid_from=now - timedelta(hours=2)
        ),
        "department": post(
            agent,
            "Finance closing",
            audience="department",
            department="finance",  # people's profiles say "Finance": case does not matter
            valid_from=now - timedelta(hours=3),
        ),
        "coming": post(agent, "Next week's move", valid_from=now + timedelta(days=2)),
        "over": post(
            agent,
            "Yesterday's outage",
            valid_from=now - timedelta(days=2),
            valid_until=now - timedelta(days=1),
        ),
    }


def test_an_end_user_reads_current_announcements_for_them_pinned_then_newest(board, end_user):
    assert titles(selectors.announcements_for(end_user)) == [
        "Old but pinned",
        "VPN client update",
        "Mail maintenance",
        "Floor 3 printers",
        "Finance closing",
    ]


def test_staff_read_every_current_announcement_and_feeds_only_those_for_everyone(board, agent):
    staff = titles(selectors.announcements_for(agent))
    assert "Gdańsk lift" in staff and "Finance closing" in staff
    assert "Next week's move" not in staff and "Yesterday's outage" not in staff
    assert titles(selectors.announcements_for(AnonymousUser())) == [
        "Old but pinned",
        "VPN client update",
        "Mail maintenance",
    ]


def test_the_portal_home_shows_the_board_with_sanitised_markdown(
    client, agent, end_user, django_assert_max_num_queries
):
    post(agent, "Mail maintenance", body="**Outlook** is down. <script>alert(1)</script>")
    client.force_login(end_user)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("home")).content.decode()
    assert 'data-testid="bulletin-board"' in page
    assert "<strong>Outlook</strong> is down." in page
    assert "<script>alert(1)</script>" not in page


def test_the_console_queue_shows_the_board_to_staff(client, agent, board):
    client.force_login(agent)
    page = client.get(reverse("tickets:console")).content.decode()
    assert 'data-testid="console-bulletin"' in page
    # The pinned one opens the panel; three at most, with a link to the rest.
    assert " open>" in page.split('data-testid="console-bulletin"')[1][:40]
    assert page.count('data-testid="announcement"') == 3
    assert reverse("kb:announcements") in page


def test_the_feeds_are_valid_rss_and_atom_with_the_announcements_for_everyone(board):
    client = Client()
    rss = client.get(reverse("kb:announcements_rss"))
    assert rss.status_code == 200 and rss["Content-Type"].startswith("application/rss+xml")
    items = ET.fromstring(rss.content).findall("./channel/item")
    assert [item.findtext("title") for item in items] == [
        "[Information] Old but pinned",
        "[Information] VPN client update",
        "[Information] Mail maintenance",
    ]
    assert items[0].findtext("link").endswith(board["old pinned"].get_absolute_url())
    atom = client.get(reverse("kb:announcements_atom"))
    entries = ET.fromstring(atom.content).findall(f"{ATOM}entry")
    assert len(entries) == 3
    assert "Floor 3 printers" not in atom.content.decode()


def test_an_agent_posts_changes_and_ends_an_announcement(client, agent, end_user):
    client.force_login(agent)
    answer = client.post(
        reverse("kb:announcement_create"),
        {
            "title": "Phones down in Kraków",
            "body": "We are on it.",
            "severity": "critical",
            "audience": "everyone",
            "valid_from": "2026-01-01T08:00",
        },
    )
    announcement = Announcement.objects.get()
    assert answer.status_code == 302 and answer["Location"] == announcement.get_absolute_url()
    assert announcement.created_by == agent and announcement.severity == "critical"
    client.post(
        reverse("kb:announcement_edit", args=[announcement.pk]),
        {
            "title": "Phones down in Kraków (update)",
            "severity": "critical",
            "audience": "everyone",
            "valid_from": "2026-01-01T08:00",
            "pinned": "on",
        },
    )
    announcement.refresh_from_db()
    assert announcement.pinned and announcement.title.endswith("(update)")
    assert titles(selectors.announcements_for(end_user)) == [announcement.title]
    client.post(reverse("kb:announcement_end", args=[announcement.pk]))
    assert titles(selectors.announcements_for(end_user)) == []


def test_bad_input_is_named_beside_its_field(client, agent):
    client.force_login(agent)
    answer = client.post(
        reverse("kb:announcement_create"),
        {"title": "For one site", "severity": "info", "audience": "site", "valid_from": ""},
    )
    assert answer.status_code == 400
    form = answer.context["form"]
    assert "site" in form.errors and "valid_from" in form.errors
    answer = client.post(
        reverse("kb:announcement_create"),
        {
            "title": "Backwards",
            "severity": "info",
            "audience": "everyone",
            "valid_from": "2026-05-02T08:00",
            "valid_until": "2026-05-01T08:00",
        },
    )
    assert answer.status_code == 400 and "valid_until" in answer.context["form"].errors
    assert not Announcement.objects.exists()


def test_end_users_read_but_never_post_and_never_see_another_sites_notice(client, end_user, board):
    client.force_login(end_user)
    assert client.get(reverse("kb:announcement_create")).status_code == 403
    assert (
        client.post(reverse("kb:announcement_end", args=[board["everyone"].pk])).status_code == 403
    )
    assert client.get(board["my site"].get_absolute_url()).status_code == 200
    assert client.get(board["other site"].get_absolute_url()).status_code == 404
    assert client.get(board["coming"].get_absolute_url()).status_code == 404
    page = client.get(reverse("kb:announcements")).content.decode()
    assert "Gdańsk lift" not in page and 'data-testid="announcements-all"' not in page


def test_the_service_refuses_those_who_do_not_work_tickets(end_user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        post(end_user, "Hello")
