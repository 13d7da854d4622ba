"""Survey demo data for ``manage.py seed_demo``.

- the settings (sent two hours after closing, every ticket, quiet for 30 days, links valid
  for 14 days, a comment asked for ratings of 2 or less) with the address of ``make run``;
- four questions in English and Polish (two ratings, a yes/no, a free text);
- invitations for the demo's closed tickets (sent, their links open for 14 days from the
  seed), most of them answered: a spread of scores for the results and the dashboard's
  agent scorecards, two low ratings with comments (one followed up by the manager); the demo
  end user's latest closed ticket is left unanswered, so the portal shows "Rate this ticket".

Idempotent: questions are created only when there are none; a ticket that has an invitation
is left as it is.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from surveys import services
from surveys.models import (
    Answer,
    Question,
    QuestionKind,
    SurveyInvitation,
    SurveyResponse,
    SurveySettings,
)
from tickets.models import ResolutionCode, Status, Ticket

QUESTIONS = [
    ("How satisfied are you with how your ticket was handled?",
     "Jak oceniasz obsługę Twojego zgłoszenia?", QuestionKind.RATING, True),
    ("How quickly did we solve it?", "Jak szybko rozwiązaliśmy problem?",
     QuestionKind.RATING, True),
    ("Is the problem solved for good?", "Czy problem został rozwiązany na dobre?",
     QuestionKind.YES_NO, True),
    ("What could we do better?", "Co możemy zrobić lepiej?", QuestionKind.TEXT, False),
]  # fmt: skip

# (overall, speed, solved, text, comment) per answered ticket, in turn.
ANSWERS = [
    (5, 5, True, "", ""),
    (4, 4, True, "", ""),
    (5, 4, True, "Very friendly on the phone.", ""),
    (2, 1, False, "", "Three days without an answer, then closed without asking me."),
    (4, 3, True, "", ""),
    (3, 3, True, "", ""),
    (1, 2, False, "", "The laptop still does not connect to the VPN."),
    (5, 5, True, "", ""),
]
DEMO_CALLER = "jan.kowalski"
TICKETS = 12


def _settings() -> SurveySettings:
    config = SurveySettings.load()
    if config.site_url == "http://localhost:8000":
        config.site_url = "http://127.0.0.1:8000"
        config.save(update_fields=["site_url"])
    return config


def _questions() -> list[Question]:
    if not Question.objects.exists():
        for order, (text, polish, kind, required) in enumerate(QUESTIONS, start=1):
            Question.objects.create(
                text=text, text_pl=polish, kind=kind, is_required=required, order=order
            )
    return list(Question.objects.filter(is_active=True).order_by("order", "id"))


def seed(stdout=None) -> None:
    stdout = stdout or sys.stdout
    now = timezone.now()
    with transaction.atomic():
        config = _settings()
        questions = _questions()
        # Idempotent: the answers are written once; a second run leaves the surveys as they are.
        already = SurveyInvitation.objects.exists()
        closed = (
            []
            if already
            else list(
                Ticket.objects.filter(
                    status=Status.CLOSED, closed_at__isnull=False, survey__isnull=True
                )
                .exclude(resolution_code=ResolutionCode.DUPLICATE)
                .select_related("caller__user")
                .order_by("-closed_at", "-id")[:TICKETS]
            )
        )
        # The demo end user's latest closed ticket waits for its answer.
        unanswered = next(
            (t for t in closed if t.caller.user and t.caller.user.username == DEMO_CALLER), None
        )
        manager = User.objects.filter(username="manager").first()
        answered = 0
        for index, ticket in enumerate(closed):
            sent_at = max(ticket.closed_at + config.delay, now - timedelta(days=1))
            invitation = SurveyInvitation.objects.create(
                ticket=ticket,
                person_id=ticket.caller_id,
                status=SurveyInvitation.Status.SENT,
                closed_at=ticket.closed_at,
                send_after=ticket.closed_at + config.delay,
                sent_at=sent_at,
                expires_at=now + config.link_validity,
            )
            if ticket is unanswered:
                continue
            overall, speed, solved, text, comment = ANSWERS[answered % len(ANSWERS)]
            values = {QuestionKind.RATING: [overall, speed], QuestionKind.YES_NO: [solved]}
            values[QuestionKind.TEXT] = [text] if text else []
            answers = {}
            for question in questions:
                queue = values.get(question.kind, [])
                answers[question.pk] = queue.pop(0) if queue else None
            response = services.response_submit(
                invitation=invitation,
                answers=answers,
                comment=comment,
                now=sent_at + timedelta(hours=1 + index % 5),
            )
            answered += 1
            if comment and manager is not None and answered <= 4:
                services.follow_up_note_set(
                    response=response,
                    by=manager,
                    note="Called the caller, apologised and reopened the problem with the "
                    "network team.",
                )
    stdout.write(
        f"Surveys: {len(questions)} questions, {len(closed)} invitations, "
        f"{answered} answered ({SurveyResponse.objects.count()} in all, "
        f"{Answer.objects.count()} answers).\n"
    )
