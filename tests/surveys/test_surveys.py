"""Surveys: invitations after a close (delay, sample, once, quiet period), the signed link,
the answers (low-rating comment, 12-hour lock), the mail, the results and the portal card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from helpdesk.errors import ValidationError
from mail.models import Mailbox, OutboundMessage
from surveys import services
from surveys.models import SurveyInvitation, SurveyResponse
from tests.factories import PersonFactory
from tests.mail.smtp import eager_celery, smtp  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
Status = SurveyInvitation.Status


def _send(ticket, committed, *, after=3 * H):
    with committed():
        services.invitations_send_due(now=ticket.closed_at + after)
    return SurveyInvitation.objects.get(ticket=ticket)


def _answers(questions, rating=5, yes=True, text=""):
    return {questions[0].pk: rating, questions[1].pk: yes, questions[2].pk: text}


# --- invitations -----------------------------------------------------------------------------


def test_closing_a_ticket_invites_its_caller_after_the_delay(config, close_ticket, committed):
    ticket = close_ticket(PersonFactory())
    invitation = SurveyInvitation.objects.get(ticket=ticket)
    assert invitation.status == Status.PENDING
    assert invitation.person_id == ticket.caller_id
    assert invitation.send_after == ticket.closed_at + 2 * H
    with committed():
        assert services.invitations_send_due(now=ticket.closed_at + H) == 0  # too early
        assert services.invitations_send_due(now=ticket.closed_at + 2 * H) == 1
        assert services.invitations_send_due(now=ticket.closed_at + 3 * H) == 0  # once
    invitation.refresh_from_db()
    assert invitation.status == Status.SENT
    assert invitation.expires_at == ticket.closed_at + 2 * H + timedelta(days=14)


def test_sampling_is_deterministic_under_a_seed_and_near_the_share():
    draws = [services.is_sampled(pk, percent=30, seed="spring") for pk in range(1, 2001)]
    assert draws == [services.is_sampled(pk, percent=30, seed="spring") for pk in range(1, 2001)]
    assert 540 <= sum(draws) <= 660  # about 30 % of 2000
    other = [services.is_sampled(pk, percent=30, seed="autumn") for pk in range(1, 2001)]
    assert other != draws  # another seed, another sample
    assert all(services.is_sampled(pk, percent=100, seed="x") for pk in range(50))
    assert not any(services.is_sampled(pk, percent=0, seed="x") for pk in range(50))


def test_a_ticket_outside_the_sample_is_recorded_and_never_sent(config, close_ticket, committed):
    config.sample_percent = 30
    config.save()
    tickets = [close_ticket(PersonFactory()) for _ in range(8)]
    for ticket in tickets:
        invitation = SurveyInvitation.objects.get(ticket=ticket)
        sampled = services.is_sampled(ticket.pk, percent=30, seed=config.sampling_seed)
        assert invitation.status == (Status.PENDING if sampled else Status.SKIPPED)
        if not sampled:
            assert invitation.skip_reason == SurveyInvitation.SkipReason.NOT_SAMPLED


def test_one_invitation_per_ticket(config, close_ticket, committed):
    ticket = close_ticket(PersonFactory())
    again = services.invitation_create(ticket=ticket, closed_at=timezone.now())
    assert again is None
    assert SurveyInvitation.objects.filter(ticket=ticket).count() == 1


def test_a_caller_surveyed_recently_is_not_asked_again(config, close_ticket, committed):
    caller = PersonFactory()
    first = close_ticket(caller)
    second = close_ticket(caller)  # closed before the first was sent: pending too
    with committed():
        assert services.invitations_send_due(now=timezone.now() + 3 * H) == 1
    states = dict(SurveyInvitation.objects.values_list("ticket_id", "status"))
    assert states == {first.pk: Status.SENT, second.pk: Status.SKIPPED}  # checked at send time
    third = close_ticket(caller)  # after a sent one: skipped at once
    assert SurveyInvitation.objects.get(ticket=third).skip_reason == "quiet"
    other = close_ticket(PersonFactory())
    assert SurveyInvitation.objects.get(ticket=other).status == Status.PENDING


def test_a_cancelled_ticket_gets_no_survey(config, committed, end_user):
    from tests.factories import make_ticket
    from tickets import services as ticket_services

    with committed():
        ticket = make_ticket(caller=end_user.person, opened_by=end_user)
        ticket_services.transition_take(ticket=ticket, by=end_user, name="cancel", reason="Gone")
    assert not SurveyInvitation.objects.filter(ticket=ticket).exists()


# --- the link ----------------------------------------------------------------------------------


def test_the_link_opens_the_survey_and_a_tampered_one_a_clear_page(
    client, config, questions, close_ticket, committed
):
    invitation = _send(close_ticket(PersonFactory()), committed)
    token = services.invitation_token(invitation)
    page = client.get(reverse("surveys:answer", args=[token]))
    assert page.status_code == 200
    assert "How satisfied are you?" in page.content.decode()
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "garbage", signing.dumps(invitation.pk, salt="another")):
        page = client.get(reverse("surveys:answer", args=[bad]))
        assert page.status_code == 400
        assert "This survey link does not work" in page.content.decode()
    with pytest.raises(services.SurveyLinkInvalid):
        services.invitation_from_token(tampered)


def test_an_expired_link_gets_a_clear_page(client, config, questions, close_ticket, committed):
    invitation = _send(close_ticket(PersonFactory()), committed)
    token = services.invitation_token(invitation)
    invitation.expires_at = timezone.now() - H
    invitation.save()
    page = client.get(reverse("surveys:answer", args=[token]))
    assert page.status_code == 410
    assert "This survey has expired" in page.content.decode()
    # And a token older than the validity, whatever the invitation says.
    invitation.expires_at = timezone.now() + H
    invitation.save()
    config.link_valid_days = 1
    config.save()
    old = signing.TimestampSigner(salt=services.TOKEN_SALT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: timezone.now().timestamp() - 2 * 86400)
        stale = signing.dumps(invitation.pk, salt=services.TOKEN_SALT)
    assert old  # the signer kind the link uses
    with pytest.raises(services.SurveyLinkExpired):
        services.invitation_from_token(stale)
    assert client.get(reverse("surveys:answer", args=[stale])).status_code == 410


# --- answers -----------------------------------------------------------------------------------


def test_a_low_rating_needs_a_comment(config, questions, close_ticket, committed):
    invitation = _send(close_ticket(PersonFactory()), committed)
    now = invitation.sent_at + H
    with pytest.raises(ValidationError) as refused:
        services.response_submit(
            invitation=invitation, answers=_answers(questions, rating=2), now=now
        )
    assert "comment" in refused.value.error_dict
    response = services.response_submit(
        invitation=invitation,
        answers=_answers(questions, rating=2),
        comment="Took three days.",
        now=now,
    )
    assert (response.score, response.lowest_rating) == (2.0, 2)
    # A rating above the threshold needs none.
    response = services.response_submit(
        invitation=invitation, answers=_answers(questions, rating=3), now=now
    )
    assert response.lowest_rating == 3 and response.comment == ""


def test_answers_are_checked(config, questions, close_ticket, committed):
    invitation = _send(close_ticket(PersonFactory()), committed)
    now = invitation.sent_at + H
    for answers, field in (
        ({questions[0].pk: 6, questions[1].pk: True}, f"q{questions[0].pk}"),
        ({questions[0].pk: 4}, f"q{questions[1].pk}"),  # a required question left out
        ({questions[0].pk: 4, questions[1].pk: True, questions[2].pk: "x" * 2001}, None),
    ):
        with pytest.raises(ValidationError) as refused:
            services.response_submit(invitation=invitation, answers=answers, now=now)
        if field:
            assert field in refused.value.error_dict
    with pytest.raises(ValidationError):
        services.response_submit(
            invitation=invitation, answers=_answers(questions), comment="x" * 2001, now=now
        )
    assert not SurveyResponse.objects.exists()


def test_answers_can_be_changed_for_12_hours_then_they_lock(
    config, questions, close_ticket, committed
):
    invitation = _send(close_ticket(PersonFactory()), committed)
    first = invitation.sent_at + H
    services.response_submit(invitation=invitation, answers=_answers(questions, 4), now=first)
    changed = services.response_submit(
        invitation=invitation,
        answers=_answers(questions, 5, text="Quick"),
        now=first + 11 * H + 59 * timedelta(minutes=1),
    )
    assert changed.score == 5.0
    assert changed.answers.get(question=questions[2]).text == "Quick"
    assert changed.submitted_at == first  # the lock counts from the first submission
    with pytest.raises(ValidationError) as refused:
        services.response_submit(
            invitation=invitation, answers=_answers(questions, 1), now=first + 12 * H
        )
    assert refused.value.code == "locked"
    assert SurveyResponse.objects.get().score == 5.0


def test_the_page_saves_answers_shows_thanks_and_refuses_after_the_lock(
    client, config, questions, close_ticket, committed
):
    invitation = _send(close_ticket(PersonFactory()), committed)
    url = reverse("surveys:answer", args=[services.invitation_token(invitation)])
    data = {f"q{questions[0].pk}": "1", f"q{questions[1].pk}": "no", "comment": ""}
    page = client.post(url, data)
    assert page.status_code == 400
    assert "a comment is needed for a low rating" in page.content.decode()
    data["comment"] = "<script>alert(1)</script> nobody called back"
    page = client.post(url, data, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Thank you for your answers" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    response = SurveyResponse.objects.get()
    response.submitted_at = timezone.now() - 13 * H
    response.save()
    html = client.get(url + "?change=1").content.decode()
    assert "Your answers are final" in html and 'name="comment"' not in html
    page = client.post(url, {**data, f"q{questions[0].pk}": "5"}, follow=True)
    assert "locked 12 hours after" in page.content.decode()
    assert SurveyResponse.objects.get().score == 1.0


# --- the mail ----------------------------------------------------------------------------------


def test_the_invitation_is_mailed_once_in_the_callers_language(
    config,
    close_ticket,
    committed,
    smtp,  # noqa: F811
    eager_celery,  # noqa: F811
):
    Mailbox.objects.create(name="Service desk", address="servicedesk@helpdesk.test")
    caller = PersonFactory(language="pl", email="anna@example.com")
    ticket = close_ticket(caller)
    _send(ticket, committed)
    with committed():
        services.invitations_send_due(now=ticket.closed_at + 5 * H)
    mails = smtp.to("anna@example.com")
    invitations = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.SURVEY_INVITATION)
    assert invitations.count() == 1
    assert invitations.get().language == "pl"
    sent_id = invitations.get().message_id
    [mail] = [m for m in mails if m.message["Message-ID"].strip("<>") == sent_id]
    link = "https://helpdesk.example.com/surveys/s/"
    assert link in mail.text
    token = mail.text.split(link)[1].split("/")[0]
    assert services.invitation_from_token(token).ticket_id == ticket.pk
    assert ticket.number in mail.message["Subject"]


# --- results, follow-up, the portal and the dashboard ---------------------------------------------


def _responses(questions, close_ticket, committed, agent, ratings):
    made = []
    for rating in ratings:
        invitation = _send(close_ticket(PersonFactory()), committed)
        made.append(
            services.response_submit(
                invitation=invitation,
                answers=_answers(questions, rating),
                comment="Slow" if rating <= 2 else "",
            )
        )
    return made


def test_results_for_managers(
    client, config, questions, close_ticket, committed, manager, agent,
    django_assert_max_num_queries,
):  # fmt: skip
    made = _responses(questions, close_ticket, committed, agent, [5, 4, 1])
    client.force_login(manager)
    url = reverse("surveys:results")
    client.get(url)
    with django_assert_max_num_queries(16):
        page = client.get(url)
    results = page.context["results"]
    assert results["summary"]["count"] == 3 and results["summary"]["low"] == 1
    assert results["summary"]["score"] == pytest.approx(3.33, abs=0.01)
    [row] = results["by_agent"]
    assert (row["key"], row["count"]) == (agent.pk, 3)
    assert [r.pk for r in results["lowest"]] == [made[2].pk]
    _responses(questions, close_ticket, committed, agent, [2, 3, 1, 1])
    with django_assert_max_num_queries(16):
        page = client.get(url)
    assert len(page.context["results"]["lowest"]) == 4
    # Narrowed to another agent: nothing.
    page = client.get(url, {"agent": manager.pk})
    assert page.context["results"]["summary"]["count"] == 0


def test_a_manager_notes_the_follow_up_and_others_may_not(
    client, config, questions, close_ticket, committed, manager, agent
):
    [low] = _responses(questions, close_ticket, committed, agent, [1])
    url = reverse("surveys:follow_up", args=[low.pk])
    client.force_login(agent)
    assert client.post(url, {"note": "Called"}).status_code == 403
    client.force_login(manager)
    page = client.post(url, {"note": "Called the caller, apologised.", "query": "period=7d"})
    assert page.status_code == 302 and "period=7d" in page["Location"]
    low.refresh_from_db()
    assert (low.follow_up_by, low.follow_up_note) == (manager, "Called the caller, apologised.")
    assert low.follow_up_at is not None
    client.post(url, {"note": "x" * 2001})
    low.refresh_from_db()
    assert low.follow_up_note == "Called the caller, apologised."


def test_the_portal_offers_the_survey_to_the_caller_only(
    client, config, questions, close_ticket, committed, end_user, other_end_user
):
    ticket = close_ticket(end_user.person)
    detail = reverse("tickets:detail", args=[ticket.number])
    client.force_login(end_user)
    assert "Rate this ticket" not in client.get(detail).content.decode()  # not sent yet
    _send(ticket, committed)
    html = client.get(detail).content.decode()
    assert "Rate this ticket" in html
    link = html.split('data-testid="survey-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert client.get(link).status_code == 200
    client.force_login(other_end_user)
    assert client.get(detail).status_code == 404


def test_the_agent_scorecard_shows_the_survey_score(
    client, config, questions, close_ticket, committed, manager, agent
):
    _responses(questions, close_ticket, committed, agent, [5, 2])
    client.force_login(manager)
    page = client.get(reverse("sla:dashboard"))
    table = page.context["figures"]["tables"]["agents"]
    assert table.header[-1] == "Survey score"
    [row] = [row for row in table.rows if row[-1].value is not None]
    assert row[-1].value == 3.5 and row[-1].text == "3.50 (2)"


def test_the_page_speaks_the_callers_language(client, config, questions, close_ticket, committed):
    invitation = _send(close_ticket(PersonFactory(language="pl")), committed)
    html = client.get(reverse("surveys:answer", args=[services.invitation_token(invitation)]))
    assert '<html lang="pl">' in html.content.decode()
    assert "Jak bardzo jesteś zadowolony?" in html.content.decode()


def test_the_admin_edits_settings_questions_and_reads_responses(
    client, config, questions, close_ticket, committed, admin_user
):
    invitation = _send(close_ticket(PersonFactory()), committed)
    services.response_submit(invitation=invitation, answers=_answers(questions, 4))
    client.force_login(admin_user)
    for url in (
        "/admin/surveys/surveysettings/1/change/",
        "/admin/surveys/question/",
        "/admin/surveys/surveyinvitation/",
        f"/admin/surveys/surveyresponse/{SurveyResponse.objects.get().pk}/change/",
    ):
        assert client.get(url).status_code == 200, url


def test_the_agents_ticket_page_shows_the_survey(
    client, config, questions, close_ticket, committed, agent
):
    ticket = close_ticket(PersonFactory())
    client.force_login(agent)
    url = reverse("tickets:console_detail", args=[ticket.number])
    assert "The caller will be invited" in client.get(url).content.decode()
    invitation = _send(ticket, committed)
    services.response_submit(
        invitation=invitation, answers=_answers(questions, 2), comment="<b>slow</b>"
    )
    html = client.get(url).content.decode()
    assert 'data-testid="ticket-survey"' in html
    assert "2 / 5" in html and "&lt;b&gt;slow&lt;/b&gt;" in html
