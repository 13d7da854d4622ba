"""REST API of the satisfaction surveys, for managers and administrators (the results
page's rule: ``tickets.view_reports``; everyone else gets 403, as on the pages).

- ``GET /api/surveys/responses/``: the responses of a period (7, 30, 90 days or from/to),
  narrowed by agent, group, service, lowest rating, low or not, followed up or not;
- ``GET /api/surveys/responses/{id}/``: one response with its answers and follow-up;
- ``PATCH /api/surveys/responses/{id}/``: a manager notes what was done about it;
- ``GET /api/surveys/results/``: the results page's figures: count, mean score, low
  ratings and their follow-ups, mean score and count per agent, group and service.

Each answer reads a fixed number of queries whatever the data."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.http import Http404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from helpdesk.api import MAX_ID, ApiViewMixin, UserBriefSerializer
from helpdesk.errors import ValidationError
from surveys import selectors, services
from surveys.models import (
    NOTE_MAX_LENGTH,
    RATING_MAX,
    RATING_MIN,
    Answer,
    QuestionKind,
    SurveyResponse,
    SurveySettings,
)

MAX_PERIOD_DAYS = 366
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}


class CanViewReports(permissions.BasePermission):
    """Managers and administrators (``tickets.view_reports``)."""

    def has_permission(self, request, view):
        return request.user.is_authenticated and request.user.has_perm("tickets.view_reports")


# --- input --------------------------------------------------------------------------------


class PeriodQuerySerializer(serializers.Serializer):
    """The period and the narrowing, as the results page takes them."""

    period = serializers.ChoiceField(
        choices=[*PERIOD_DAYS, "custom"],
        default="30d",
        help_text=_("The last 7, 30 or 90 days (today included), or custom: date_from to date_to."),
    )
    date_from = serializers.DateField(required=False, help_text=_("First day of a custom period."))
    date_to = serializers.DateField(required=False, help_text=_("Last day of a custom period."))
    agent = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("The ticket's assignee.")
    )
    group = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("The ticket's group.")
    )
    service = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("The ticket's service.")
    )

    def validate(self, attrs):
        if attrs["period"] != "custom":
            return attrs
        first, last = attrs.get("date_from"), attrs.get("date_to")
        if first is None or last is None:
            missing = "date_from" if first is None else "date_to"
            raise serializers.ValidationError(
                {missing: [_("A custom period needs both a start and an end date.")]}
            )
        if last < first:
            raise serializers.ValidationError(
                {"date_to": [_("The end date is before the start date.")]}
            )
        if (last - first).days >= MAX_PERIOD_DAYS:
            raise serializers.ValidationError(
                {
                    "date_to": [
                        _("A period is at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS}
                    ]
                }
            )
        return attrs

    def results_filter(self) -> selectors.ResultsFilter:
        data = self.validated_data
        if data["period"] == "custom":
            first, last = data["date_from"], data["date_to"]
        else:
            last = timezone.localdate()
            first = last - timedelta(days=PERIOD_DAYS[data["period"]] - 1)
        zone = timezone.get_current_timezone()
        return selectors.ResultsFilter(
            start=datetime.combine(first, time.min, tzinfo=zone),
            end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
            group_id=data.get("group"),
            service_id=data.get("service"),
            agent_id=data.get("agent"),
        )


class ResponseQuerySerializer(PeriodQuerySerializer):
    rating = serializers.IntegerField(
        required=False,
        min_value=RATING_MIN,
        max_value=RATING_MAX,
        help_text=_("The lowest rating given in the response."),
    )
    low = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("true: a rating at or below the low threshold; false: none."),
    )
    followed_up = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("true: a follow-up was noted; false: not yet."),
    )


class FollowUpInputSerializer(serializers.Serializer):
    follow_up_note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, help_text=_("What was done about the response.")
    )


# --- output -------------------------------------------------------------------------------


class NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class PersonNameSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    full_name = serializers.CharField(read_only=True)


class AnswerSerializer(serializers.ModelSerializer):
    question = serializers.IntegerField(source="question_id", read_only=True)
    question_text = serializers.CharField(source="question.text", read_only=True)
    kind = serializers.ChoiceField(
        source="question.kind", choices=QuestionKind.choices, read_only=True
    )

    class Meta:
        model = Answer
        fields = ["question", "question_text", "kind", "rating", "yes_no", "text"]
        read_only_fields = fields


class SurveyResponseSummarySerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="invitation.ticket.number", read_only=True)
    ticket_title = serializers.CharField(source="invitation.ticket.title", read_only=True)
    caller = PersonNameSerializer(source="invitation.person", read_only=True)
    agent = UserBriefSerializer(
        source="invitation.ticket.assignee", read_only=True, allow_null=True
    )
    group = NamedSerializer(source="invitation.ticket.group", read_only=True, allow_null=True)
    service = NamedSerializer(source="invitation.ticket.service", read_only=True, allow_null=True)
    is_low = serializers.SerializerMethodField(
        help_text=_("A rating at or below the low threshold: listed for follow-up.")
    )
    follow_up_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "ticket",
            "ticket_title",
            "caller",
            "agent",
            "group",
            "service",
            "score",
            "lowest_rating",
            "is_low",
            "comment",
            "submitted_at",
            "updated_at",
            "follow_up_note",
            "follow_up_by",
            "follow_up_at",
        ]
        read_only_fields = fields

    def get_is_low(self, response) -> bool:
        low = self.context["low"]
        return response.lowest_rating is not None and response.lowest_rating <= low


class SurveyResponseSerializer(SurveyResponseSummarySerializer):
    answers = AnswerSerializer(many=True, read_only=True)

    class Meta(SurveyResponseSummarySerializer.Meta):
        fields = [*SurveyResponseSummarySerializer.Meta.fields, "answers"]
        read_only_fields = fields


class ScoreRowSerializer(serializers.Serializer):
    key = serializers.IntegerField(
        allow_null=True, help_text=_("The agent's user id, the group's or the service's id.")
    )
    label = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Responses first submitted in the period."))
    score = serializers.FloatField(allow_null=True, help_text=_("Their mean score."))
    low = serializers.IntegerField(help_text=_("How many had a low rating."))
    followed_up = serializers.IntegerField(help_text=_("How many of those were followed up."))


class ResultsSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text=_("The period's start (included)."))
    end = serializers.DateTimeField(help_text=_("The period's end (excluded)."))
    low_rating_threshold = serializers.IntegerField()
    summary = SummarySerializer()
    by_agent = ScoreRowSerializer(many=True)
    by_group = ScoreRowSerializer(many=True)
    by_service = ScoreRowSerializer(many=True)


# --- views --------------------------------------------------------------------------------


def _threshold() -> int:
    return SurveySettings.load().low_rating_threshold


class SurveyResponseViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Survey responses, newest first (managers and administrators)."""

    permission_classes = [permissions.IsAuthenticated, CanViewReports]
    serializer_class = SurveyResponseSerializer
    filter_backends = []
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "list":
            return SurveyResponseSummarySerializer
        return SurveyResponseSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context.setdefault("low", self.low)
        return context

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.low = _threshold()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or self.action != "list":
            return SurveyResponse.objects.none()
        query = ResponseQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return selectors.response_list(
            query.results_filter(),
            rating=data.get("rating"),
            low=data.get("low"),
            threshold=self.low,
            followed_up=data.get("followed_up"),
        )

    def get_object(self):
        pk = int(self.kwargs["pk"])
        response = selectors.response_detail(pk) if pk <= MAX_ID else None
        if response is None:
            raise Http404
        return response

    @extend_schema(
        summary=_("Survey responses of a period"),
        description=_(
            "Responses first submitted in the period (the last 30 days unless told), newest "
            "first, without their answers."
        ),
        parameters=[ResponseQuerySerializer],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary=_("One survey response"),
        description=_("The response with its answers and its follow-up."),
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary=_("Note what was done about a response"),
        description=_(
            "Records the follow-up note of a response with a low rating (another is a 400); "
            "who and when are kept. Without follow_up_note nothing changes."
        ),
        request=FollowUpInputSerializer,
        responses={200: SurveyResponseSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        response = self.get_object()
        data = FollowUpInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "follow_up_note" in data.validated_data:
            try:
                services.follow_up_note_set(
                    response=response, by=request.user, note=data.validated_data["follow_up_note"]
                )
            except ValidationError as error:
                # The service names the page's field; the API's is follow_up_note.
                raise serializers.ValidationError({"follow_up_note": error.messages}) from None
            response = selectors.response_detail(response.pk)
        return Response(self.get_serializer(response).data)


class SurveyResultsView(ApiViewMixin, APIView):
    """The figures of the results page for a period (managers and administrators)."""

    permission_classes = [permissions.IsAuthenticated, CanViewReports]

    @extend_schema(
        summary=_("Survey results of a period"),
        parameters=[PeriodQuerySerializer],
        responses={
            200: ResultsSerializer,
            400: OpenApiResponse(description=_("A filter is wrong; it is named.")),
        },
    )
    def get(self, request):
        query = PeriodQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.results_filter()
        low = _threshold()
        body = {
            "start": filters.start,
            "end": filters.end,
            "low_rating_threshold": low,
            "summary": selectors.summary(filters, low=low),
            "by_agent": selectors.averages_by(filters, "agent"),
            "by_group": selectors.averages_by(filters, "group"),
            "by_service": selectors.averages_by(filters, "service"),
        }
        return Response(ResultsSerializer(body).data)


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("surveys/responses", SurveyResponseViewSet, basename="api-survey-response")

urlpatterns = [
    path("surveys/results/", SurveyResultsView.as_view(), name="api-survey-results"),
    *router.urls,
]
