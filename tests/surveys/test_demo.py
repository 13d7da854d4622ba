import io

import pytest

from helpdesk.roles import Role
from surveys import demo, selectors
from surveys.models import Question, SurveyInvitation, SurveyResponse
from tests.factories import PersonFactory, make_user


@pytest.mark.django_db
def test_demo_seeds_questions_and_answers_once(close_ticket, manager, client):
    jan = make_user(Role.END_USER, username="jan.kowalski")
    mine = close_ticket(jan.person)
    for _ in range(5):
        close_ticket(PersonFactory())
    SurveyInvitation.objects.all().delete()  # as if closed before surveys were installed
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "4 questions, 6 invitations, 5 answered" in out.getvalue()
    assert Question.objects.filter(text_pl="").count() == 0
    assert SurveyResponse.objects.count() == 5
    assert SurveyResponse.objects.filter(follow_up_by=manager).count() == 1
    # The demo end user's ticket waits for its answer: the portal offers it.
    assert selectors.portal_card(mine, jan)["response"] is None
    # More closed tickets without a survey (the demo has more than it surveys): still nothing.
    later = close_ticket(PersonFactory())
    SurveyInvitation.objects.filter(ticket=later).delete()
    demo.seed(stdout=out)
    assert "0 invitations, 0 answered" in out.getvalue()
    assert SurveyResponse.objects.count() == 5
