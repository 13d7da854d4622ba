import pytest

from surveys.models import Question, QuestionKind, SurveySettings
from tests.factories import make_ticket
from tickets import services as ticket_services
from tickets.models import ResolutionCode


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def config(db):
    config = SurveySettings.load()
    config.delay_hours = 2
    config.sample_percent = 100
    config.quiet_days = 30
    config.link_valid_days = 14
    config.low_rating_threshold = 2
    config.site_url = "https://helpdesk.example.com"
    config.save()
    return config


@pytest.fixture
def questions(db):
    return [
        Question.objects.create(
            text="How satisfied are you?", text_pl="Jak bardzo jesteś zadowolony?",
            kind=QuestionKind.RATING, order=1,
        ),
        Question.objects.create(text="Was it solved?", kind=QuestionKind.YES_NO, order=2),
        Question.objects.create(
            text="Anything else?", kind=QuestionKind.TEXT, order=3, is_required=False
        ),
    ]  # fmt: skip


@pytest.fixture
def close_ticket(committed, agent):
    """Create, resolve and close a ticket of ``caller`` (events delivered): the ticket."""

    def close(caller, **fields):
        with committed():
            ticket = make_ticket(caller=caller, opened_by=agent, **fields)
            ticket_services.ticket_assign(ticket=ticket, by=agent, assignee=agent)
            ticket_services.ticket_resolve(
                ticket=ticket, by=agent, code=ResolutionCode.SOLVED, notes="Replaced the toner."
            )
            ticket_services.ticket_close(ticket=ticket, by=agent)
        ticket.refresh_from_db()
        return ticket

    return close
