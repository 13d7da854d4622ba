"""The portal page where a person turns kinds of mail off, and what it changes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mail.models import MailAddress, NotificationMute, OutboundMessage
from mail.services import notifications
from tests.factories import make_user

pytestmark = pytest.mark.django_db

Kind = OutboundMessage.Kind
URL = "/account/notifications/"
# "survey": the surveys app is installed (its invitations are the caller's to turn off).
CALLER_KINDS = ["acknowledgement", "agent_reply", "waiting", "resolved", "closed", "survey"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def checkboxes(content: str) -> dict[str, bool]:
    """name -> ticked, for each checkbox of the page's form."""
    found = {}
    for chunk in content.split("<input")[1:]:
        tag = chunk.split(">", 1)[0]
        if 'type="checkbox"' in tag:
            name = tag.split('name="', 1)[1].split('"', 1)[0]
            found[name] = " checked" in tag
    return found


def test_the_page_is_at_its_address_and_needs_a_sign_in(client):
    assert reverse("mail:notification_settings") == URL
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_end_user_sees_the_mails_about_their_tickets_all_on(end_user):
    response = signed_in(end_user).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert checkboxes(page) == dict.fromkeys(CALLER_KINDS, True)
    assert "Mail notifications" in page
    assert end_user.person.email in page


def test_staff_also_choose_assignments_their_groups_tickets_watched_mentions_and_sla(agent):
    boxes = checkboxes(signed_in(agent).get(URL).content.decode())
    assert list(boxes) == [
        *CALLER_KINDS,
        "assigned",
        "group_new",
        "watched",
        "mentioned",
        "sla_alert",
    ]


def test_unticking_mutes_and_ticking_again_unmutes(end_user):
    client = signed_in(end_user)
    wanted = {kind: "on" for kind in CALLER_KINDS if kind not in {"resolved", "closed"}}
    response = client.post(URL, wanted, follow=True)
    assert "Your mail notification settings are saved." in response.content.decode()
    person = end_user.person
    muted = set(NotificationMute.objects.filter(person=person).values_list("kind", flat=True))
    assert muted == {"resolved", "closed"}
    boxes = checkboxes(response.content.decode())
    assert (boxes["resolved"], boxes["closed"], boxes["agent_reply"]) == (False, False, True)
    client.post(URL, {**wanted, "closed": "on"})
    muted = set(NotificationMute.objects.filter(person=person).values_list("kind", flat=True))
    assert muted == {"resolved"}


def test_an_end_user_cannot_mute_what_only_staff_get(end_user):
    notifications.notification_mutes_set(
        person=end_user.person, user=end_user, muted={"assigned", "closed"}
    )
    muted = set(
        NotificationMute.objects.filter(person=end_user.person).values_list("kind", flat=True)
    )
    assert muted == {"closed"}


def test_a_sign_in_without_a_person_is_told_why_there_is_nothing_to_choose(db):
    user = make_user(person=False, username="robot")
    response = signed_in(user).get(URL)
    assert response.status_code == 200
    assert 'data-testid="no-person"' in response.content.decode()
    assert signed_in(user).post(URL, {}).status_code == 200
    assert not NotificationMute.objects.exists()


def test_a_refused_address_is_pointed_out(end_user):
    MailAddress.objects.create(address=end_user.person.email, permanently_failing=True)
    page = signed_in(end_user).get(URL).content.decode()
    assert 'data-testid="address-problem"' in page


def test_the_navigation_links_to_the_page_and_it_keeps_the_content_security_policy(end_user):
    client = signed_in(end_user)
    home = client.get(reverse("home")).content.decode()
    assert f'href="{URL}"' in home
    response = client.get(URL)
    page = response.content.decode()
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "<script>" not in page
    assert " style=" not in page


def test_the_page_is_in_polish_for_a_polish_session(end_user):
    client = signed_in(end_user)
    client.post(reverse("set_language"), {"language": "pl", "next": URL})
    response = client.get(URL)
    assert response.status_code == 200
    assert '<html lang="pl"' in response.content.decode()
