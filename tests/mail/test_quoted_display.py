"""A mail's quoted history and signature are folded on the ticket pages (console and
portal) and kept whole in the ticket: the mail app's folder plugged into tickets.display."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from helpdesk.roles import Role
from mail.parsing import split_quoted
from tests.factories import make_ticket, make_user
from tickets import display, services
from tickets.models import Channel

pytestmark = pytest.mark.django_db

DESCRIPTION = (
    "The shared drive asks for a password again.\n\n-- \nPiotr Klient\nFinance, room 204\n"
)
REPLY = (
    "Restarting did not help.\n"
    "\n"
    "On Tue, 1 Dec 2026 at 10:00, Service Desk <servicedesk@helpdesk.test> wrote:\n"
    "> Please restart the laptop and try again.\n"
)


def details_of(html: str) -> list[str]:
    return re.findall(r'<details class="quoted-text">(.*?)</details>', html, re.DOTALL)


@pytest.fixture
def mailed(first_line):
    """A ticket opened by mail, with a reply by mail, from a caller with a portal login."""
    caller = make_user(Role.END_USER, username="piotr", first_name="Piotr").person
    ticket = make_ticket(
        caller=caller,
        title="Shared drive",
        description=DESCRIPTION,
        channel=Channel.EMAIL,
        group=first_line,
    )
    services.ticket_reply_by_caller(
        ticket=ticket, by=None, author_person=caller, body=REPLY, channel=Channel.EMAIL
    )
    return ticket


def test_mail_texts_split_as_the_parser_says():
    assert display.display_parts(DESCRIPTION, Channel.EMAIL) == (
        "The shared drive asks for a password again.",
        "-- \nPiotr Klient\nFinance, room 204",
    )
    visible, folded = display.display_parts(REPLY, Channel.EMAIL)
    assert visible == "Restarting did not help."
    assert folded.startswith("On Tue, 1 Dec 2026") and folded.endswith("try again.")
    assert "".join(split_quoted(REPLY)) == REPLY


def test_the_console_folds_the_quoted_text_of_mails_and_keeps_it_whole(client, agent, mailed):
    client.force_login(agent)
    html = client.get(reverse("tickets:console_detail", args=[mailed.number])).content.decode()

    folded = details_of(html)
    assert len(folded) == 2
    signature, quote = folded
    assert "<summary>Show quoted text</summary>" in signature
    assert "Finance, room 204" in signature
    assert "&gt; Please restart the laptop and try again." in quote
    # The visible parts are outside the toggles, each text once.
    outside = re.sub(r'<details class="quoted-text">.*?</details>', "", html, flags=re.DOTALL)
    assert "The shared drive asks for a password again." in outside
    assert "Restarting did not help." in outside
    assert "Finance, room 204" not in outside
    assert "Please restart the laptop" not in outside

    mailed.refresh_from_db()
    assert mailed.description == DESCRIPTION
    assert mailed.comments.get().body == REPLY.strip()  # the service trims the ends


def test_the_portal_folds_the_quoted_text_for_the_caller(client, mailed):
    client.force_login(mailed.caller.user)
    response = client.get(reverse("tickets:detail", args=[mailed.number]))
    assert response.status_code == 200
    folded = details_of(response.content.decode())
    assert len(folded) == 2
    assert "Finance, room 204" in folded[0]
    assert "Please restart the laptop" in folded[1]


def test_texts_from_other_channels_are_not_folded(client, agent, first_line):
    ticket = make_ticket(
        title="Printer",
        description="See below.\n\n-- \nnot a signature here",
        channel=Channel.PORTAL,
        group=first_line,
    )
    client.force_login(agent)
    html = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert details_of(html) == []
    assert "not a signature here" in html
