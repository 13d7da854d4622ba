"""The survey page from its link (issue 17): filled in, thanked, an answer changed; a
tampered link shows the clear page; the caller finds it on the portal's ticket page too."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.roles import Role
from surveys import services
from surveys.models import Question, QuestionKind, SurveyInvitation, SurveyResponse
from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD, make_ticket, make_user
from tickets import services as ticket_services
from tickets.models import ResolutionCode

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def invitation(db):
    agent = make_user(Role.AGENT, username="anna", first_name="Anna", last_name="Agent")
    caller = make_user(Role.END_USER, username="ewa", first_name="Ewa", last_name="Nowak")
    Question.objects.create(text="How satisfied are you?", kind=QuestionKind.RATING, order=1)
    Question.objects.create(text="Is it solved for good?", kind=QuestionKind.YES_NO, order=2)
    Question.objects.create(
        text="What could we do better?", kind=QuestionKind.TEXT, order=3, is_required=False
    )
    ticket = make_ticket(caller=caller.person, opened_by=caller, title="Printer jams on floor 3")
    ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
    ticket_services.ticket_resolve(
        ticket=ticket, by=agent, code=ResolutionCode.SOLVED, notes="New rollers."
    )
    ticket_services.ticket_close(ticket=ticket, by=caller)
    services.invitations_send_due(now=timezone.now() + timezone.timedelta(hours=3))
    return SurveyInvitation.objects.get(ticket=ticket)


def test_the_survey_from_its_link_is_answered_changed_and_a_tampered_link_explained(
    page, base_url, invitation
):
    token = services.invitation_token(invitation)
    page.goto(f"{base_url}/surveys/s/{token}/")
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    expect(page.get_by_test_id("survey-ticket")).to_contain_text(invitation.ticket.number)
    # A low rating without a comment: asked for one, nothing saved.
    page.get_by_role("group", name="How satisfied are you?").get_by_label("2").check()
    page.get_by_role("group", name="Is it solved for good?").get_by_label("No").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("a comment is needed for a low rating")).to_be_visible()
    screenshot(page, "surveys-01-comment-required")
    assert not SurveyResponse.objects.exists()
    page.get_by_label("Comment").fill("The printer jammed again the next day.")
    page.get_by_role("button", name="Send my answers").click()
    thanks = page.get_by_test_id("survey-thanks")
    expect(thanks).to_contain_text("Thank you for your answers")
    expect(thanks).to_contain_text("2 / 5")
    screenshot(page, "surveys-02-thanks")

    # Changed within the 12 hours: the form comes back filled in.
    page.get_by_test_id("survey-change").click()
    rating = page.get_by_role("group", name="How satisfied are you?")
    expect(rating.get_by_label("2")).to_be_checked()
    expect(page.get_by_label("Comment")).to_have_value("The printer jammed again the next day.")
    rating.get_by_label("4").check()
    page.get_by_role("button", name="Save my changes").click()
    expect(page.get_by_test_id("survey-thanks")).to_contain_text("4 / 5")
    assert SurveyResponse.objects.get().score == 4.0

    # A link with a character changed: the clear page, with its status.
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    answer = page.goto(f"{base_url}/surveys/s/{tampered}/")
    assert answer.status == 400
    expect(page.get_by_test_id("survey-link-problem")).to_contain_text(
        "This survey link does not work"
    )
    screenshot(page, "surveys-03-tampered-link")


def test_the_caller_rates_from_the_portal_ticket_page(page, base_url, invitation):
    login(page, base_url, "ewa", PASSWORD)
    page.goto(f"{base_url}/tickets/{invitation.ticket.number}/")
    card = page.get_by_test_id("survey-card")
    expect(card).to_contain_text("How did we do?")
    screenshot(page, "surveys-04-portal-card")
    card.get_by_role("link", name="Rate this ticket").click()
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()


def test_a_manager_reads_the_results_and_notes_a_follow_up(page, base_url, invitation):
    make_user(Role.MANAGER, username="boss", first_name="Maria", last_name="Manager")
    services.response_submit(
        invitation=invitation,
        answers={question.pk: value for question, value in zip(
            Question.objects.order_by("order"), [1, False, ""], strict=True
        )},
        comment="Nobody called me back.",
    )  # fmt: skip
    login(page, base_url, "boss", PASSWORD)
    page.get_by_test_id("nav-reports").click()  # the managers' menu
    page.get_by_test_id("nav-surveys").click()
    expect(page.get_by_role("heading", name="Survey results")).to_be_visible()
    expect(page.get_by_test_id("survey-average")).to_have_text("1.0")
    expect(page.get_by_test_id("averages-agent")).to_contain_text("Anna Agent")
    low = page.get_by_test_id("low-rating")
    expect(low).to_contain_text("Nobody called me back.")
    low.get_by_label("What was done").fill("Called Ewa, the rollers were replaced again.")
    low.get_by_role("button", name="Save the follow-up").click()
    expect(page.get_by_test_id("follow-up-note")).to_contain_text("Followed up by Maria Manager")
    screenshot(page, "surveys-05-results")
