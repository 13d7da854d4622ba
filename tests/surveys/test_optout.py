"""A caller turns the survey invitation mails off on the "Mail notifications" page: their
invitations are then skipped with the reason, never sent; on by default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from mail.models import NotificationMute, OutboundMessage
from surveys import services
from surveys.models import SurveyInvitation
from tests.factories import PersonFactory
from tests.mail.test_notification_settings import checkboxes

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
Status = SurveyInvitation.Status
URL = "/account/notifications/"
SURVEY = OutboundMessage.Kind.SURVEY_INVITATION


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _turn_off_surveys(user) -> None:
    """Untick only the survey invitations on the page."""
    client = _signed_in(user)
    boxes = checkboxes(client.get(URL).content.decode())
    wanted = {kind: "on" for kind in boxes if kind != SURVEY}
    assert client.post(URL, wanted).status_code == 302


def _send(ticket, committed):
    with committed():
        services.invitations_send_due(now=ticket.closed_at + 3 * H)
    return SurveyInvitation.objects.get(ticket=ticket)


def test_callers_see_the_survey_invitation_on_their_page_ticked(end_user, agent):
    page = _signed_in(end_user).get(URL).content.decode()
    assert checkboxes(page)[SURVEY] is True
    assert "the help desk asks me to rate my closed ticket" in page
    # Staff are callers too: they may turn it off as well.
    assert checkboxes(_signed_in(agent).get(URL).content.decode())[SURVEY] is True


def test_the_label_is_translated(end_user):
    end_user.person.language = "pl"
    end_user.person.save(update_fields=["language"])
    with translation.override("pl"):
        from mail.forms import KIND_LABELS

        label = str(KIND_LABELS[SURVEY])
    page = _signed_in(end_user).get(URL, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert label in page


def test_a_caller_who_turned_it_off_is_skipped_with_the_reason_and_gets_no_mail(
    config, close_ticket, committed, end_user
):
    _turn_off_surveys(end_user)
    assert NotificationMute.objects.filter(person=end_user.person, kind=SURVEY).exists()
    ticket = close_ticket(end_user.person)
    invitation = _send(ticket, committed)
    assert (invitation.status, invitation.skip_reason) == (Status.SKIPPED, "opted_out")
    assert invitation.sent_at is None
    assert not OutboundMessage.objects.filter(kind=SURVEY).exists()
    assert invitation.get_skip_reason_display() == "The caller turned survey invitations off"


def test_others_are_still_invited_by_default(config, close_ticket, committed, end_user):
    _turn_off_surveys(end_user)
    ticket = close_ticket(PersonFactory(email="o@example.com"))
    invitation = _send(ticket, committed)
    assert invitation.status == Status.SENT
    assert OutboundMessage.objects.filter(kind=SURVEY, to="o@example.com").count() == 1


def test_turning_it_off_after_the_close_still_stops_the_invitation(
    config, close_ticket, committed, end_user
):
    ticket = close_ticket(end_user.person)
    assert SurveyInvitation.objects.get(ticket=ticket).status == Status.PENDING
    _turn_off_surveys(end_user)
    invitation = _send(ticket, committed)
    assert invitation.skip_reason == "opted_out"


def test_turning_it_on_again_invites_for_the_next_closed_ticket(
    config, close_ticket, committed, end_user
):
    _turn_off_surveys(end_user)
    first = close_ticket(end_user.person)
    assert _send(first, committed).status == Status.SKIPPED
    client = _signed_in(end_user)
    boxes = checkboxes(client.get(URL).content.decode())
    client.post(URL, dict.fromkeys(boxes, "on"))
    assert not NotificationMute.objects.filter(person=end_user.person).exists()
    second = close_ticket(end_user.person)
    assert _send(second, committed).status == Status.SENT
    assert OutboundMessage.objects.filter(kind=SURVEY).count() == 1


def test_the_agents_ticket_page_says_why_the_caller_was_not_asked(
    client, config, close_ticket, committed, end_user, agent
):
    _turn_off_surveys(end_user)
    ticket = close_ticket(end_user.person)
    _send(ticket, committed)
    client.force_login(agent)
    page = client.get(reverse("tickets:console_detail", args=[ticket.number])).content.decode()
    assert "The caller turned survey invitations off" in page
