"""Reads of the surveys: results for managers (a fixed number of aggregate queries whatever
the data), the portal card, the dashboard's agent column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.utils import timezone

from helpdesk.models import in_reader_language
from surveys.models import Answer, SurveyInvitation, SurveyResponse, SurveySettings
from tickets.models import Ticket

LOWEST_LISTED = 50
TOP_ROWS = 50
TICKET = "invitation__ticket__"


@dataclass(frozen=True)
class ResultsFilter:
    """Responses first submitted in [start, end), optionally narrowed."""

    start: datetime
    end: datetime
    group_id: int | None = None
    service_id: int | None = None
    agent_id: int | None = None


def responses_in(filters: ResultsFilter) -> QuerySet[SurveyResponse]:
    condition = Q(submitted_at__gte=filters.start, submitted_at__lt=filters.end)
    if filters.group_id:
        condition &= Q(**{f"{TICKET}group_id": filters.group_id})
    if filters.service_id:
        condition &= Q(**{f"{TICKET}service_id": filters.service_id})
    if filters.agent_id:
        condition &= Q(**{f"{TICKET}assignee_id": filters.agent_id})
    return SurveyResponse.objects.filter(condition)


def _rounded(value) -> float | None:
    return None if value is None else round(value, 2)


def summary(filters: ResultsFilter, *, low: int) -> dict:
    """Responses, the mean score and how many had a low rating (one query)."""
    figures = responses_in(filters).aggregate(
        count=Count("id"),
        score=Avg("score"),
        low=Count("id", filter=Q(lowest_rating__lte=low)),
        followed_up=Count("id", filter=Q(lowest_rating__lte=low, follow_up_at__isnull=False)),
    )
    figures["score"] = _rounded(figures["score"])
    return figures


def averages_by(filters: ResultsFilter, dimension: str) -> list[dict]:
    """Mean score and count per ``agent``, ``group`` or ``service`` of the ticket (one
    query; agents' names in a second)."""
    responses = responses_in(filters)
    if dimension == "agent":
        rows = list(
            responses.values(f"{TICKET}assignee_id")
            .annotate(score=Avg("score"), count=Count("id"))
            .order_by("-count", f"{TICKET}assignee_id")[:TOP_ROWS]
        )
        users = (
            get_user_model()
            .objects.select_related("person")
            .in_bulk([row[f"{TICKET}assignee_id"] for row in rows if row[f"{TICKET}assignee_id"]])
        )
        result = []
        for row in rows:
            user = users.get(row[f"{TICKET}assignee_id"])
            name = ""
            if user is not None:
                person = getattr(user, "person", None)
                name = (person.full_name if person else "") or user.get_full_name()
                name = name or user.get_username()
            result.append(
                {
                    "key": row[f"{TICKET}assignee_id"],
                    "label": name,
                    "score": _rounded(row["score"]),
                    "count": row["count"],
                }
            )
        return result
    name, polish = f"{TICKET}{dimension}__name", f"{TICKET}{dimension}__name_pl"
    rows = (
        responses.values(f"{TICKET}{dimension}_id", name, polish)
        .annotate(score=Avg("score"), count=Count("id"))
        .order_by("-count", name)[:TOP_ROWS]
    )
    return [
        {
            "key": row[f"{TICKET}{dimension}_id"],
            "label": in_reader_language(row[name] or "", row[polish] or ""),
            "score": _rounded(row["score"]),
            "count": row["count"],
        }
        for row in rows
    ]


def lowest_ratings(filters: ResultsFilter, *, low: int) -> list[SurveyResponse]:
    """The responses with a rating at or below ``low``, the worst first (one query)."""
    return list(
        responses_in(filters)
        .filter(lowest_rating__lte=low)
        .select_related(
            "invitation__ticket",
            "invitation__ticket__assignee",
            "invitation__ticket__group",
            "invitation__person",
            "follow_up_by",
        )
        .order_by("lowest_rating", "score", "-submitted_at", "-id")[:LOWEST_LISTED]
    )


def results(filters: ResultsFilter) -> dict:
    config = SurveySettings.load()
    low = config.low_rating_threshold
    return {
        "low": low,
        "summary": summary(filters, low=low),
        "by_agent": averages_by(filters, "agent"),
        "by_group": averages_by(filters, "group"),
        "by_service": averages_by(filters, "service"),
        "lowest": lowest_ratings(filters, low=low),
    }


# What the API shows of each response, read with it.
RESPONSE_RELATED = (
    "invitation__ticket__assignee",
    "invitation__ticket__group",
    "invitation__ticket__service",
    "invitation__person",
    "follow_up_by",
)


def response_list(
    filters: ResultsFilter,
    *,
    rating: int | None = None,
    low: bool | None = None,
    threshold: int = 2,
    followed_up: bool | None = None,
) -> QuerySet[SurveyResponse]:
    """Responses for the API's list (one query a page): ``rating`` the lowest rating given,
    ``low`` at or below ``threshold`` (or above), ``followed_up`` noted on or not."""
    responses = responses_in(filters)
    if rating is not None:
        responses = responses.filter(lowest_rating=rating)
    if low is True:
        responses = responses.filter(lowest_rating__lte=threshold)
    elif low is False:
        responses = responses.exclude(lowest_rating__lte=threshold)
    if followed_up is not None:
        responses = responses.filter(follow_up_at__isnull=not followed_up)
    return responses.select_related(*RESPONSE_RELATED).order_by("-submitted_at", "-id")


def response_detail(pk: int) -> SurveyResponse | None:
    """One response with its answers and their questions (two queries), or None."""
    return (
        SurveyResponse.objects.filter(pk=pk)
        .select_related(*RESPONSE_RELATED)
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("question")))
        .first()
    )


def response_for_follow_up(pk: int) -> SurveyResponse:
    """A response a manager may note on (the view checks the permission)."""
    return SurveyResponse.objects.select_related("invitation__ticket").get(pk=pk)


# --- the portal's card --------------------------------------------------------------------


def invitation_for_caller(ticket: Ticket, user) -> SurveyInvitation | None:
    """The ticket's sent invitation when ``user`` is its caller (one query), else None."""
    if not user.is_authenticated or not ticket.is_caller(user):
        return None
    invitation = (
        SurveyInvitation.objects.filter(ticket=ticket, status=SurveyInvitation.Status.SENT)
        .select_related("response")
        .first()
    )
    return invitation


def portal_card(ticket: Ticket, user, *, now: datetime | None = None) -> dict | None:
    """What the portal's ticket page shows of the survey: nothing, "Rate this ticket",
    or the answers given (changeable until they lock)."""
    invitation = invitation_for_caller(ticket, user)
    if invitation is None:
        return None
    now = now or timezone.now()
    response = getattr(invitation, "response", None)
    if response is None and not invitation.is_open(now):
        return None
    return {"invitation": invitation, "response": response, "now": now}


# --- the dashboard's agent scorecards (sla) ------------------------------------------------


def agent_scores_for_dashboard(filters, user_ids: list[int]) -> dict[int, tuple[object, str]]:
    """Each agent's mean survey score over responses submitted in the dashboard's period,
    narrowed like it (site, group, service, channel): ``{user id: (value, text)}``. One
    query. ``filters`` is the dashboard's ``sla.reports.ReportFilter``."""
    if not user_ids:
        return {}
    condition = Q(submitted_at__gte=filters.start, submitted_at__lt=filters.end)
    for attribute, lookup in (
        ("site_id", "caller__site_id"),
        ("group_id", "group_id"),
        ("service_id", "service_id"),
        ("channel", "channel"),
    ):
        value = getattr(filters, attribute, None)
        if value:
            condition &= Q(**{f"{TICKET}{lookup}": value})
    rows = (
        SurveyResponse.objects.filter(
            condition, score__isnull=False, **{f"{TICKET}assignee_id__in": user_ids}
        )
        .values(f"{TICKET}assignee_id")
        .annotate(score=Avg("score"), count=Count("id"))
        .order_by()
    )
    return {
        row[f"{TICKET}assignee_id"]: (
            round(row["score"], 2),
            f"{row['score']:.2f} ({row['count']})",
        )
        for row in rows
    }


# --- the agent's ticket page ---------------------------------------------------------------


def ticket_survey(ticket: Ticket) -> dict | None:
    """The ticket's invitation with its response and answers (two queries), or None."""
    invitation = (
        SurveyInvitation.objects.filter(ticket=ticket)
        .select_related("response")
        .prefetch_related("response__answers__question")
        .first()
    )
    if invitation is None:
        return None
    return {
        "invitation": invitation,
        "response": getattr(invitation, "response", None),
        "low": SurveySettings.load().low_rating_threshold,
    }
