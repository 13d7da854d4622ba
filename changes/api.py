"""REST API of change management: a thin layer over ``changes.selectors`` and ``services``.

The same rules as the ticket API: reads through the permission-scoped selectors (a change the
user may not see is a 404), writes through the services; 400 names the field, 409 is a stale
version (``current_version``) or a transition not open now (``allowed_transitions``). Every
representation lists the transitions open to the requesting user.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from changes import selectors, services, transitions
from changes.models import (
    ApprovalRequest,
    CalendarFeedToken,
    Change,
    ChangeAttachment,
    ChangeTemplate,
    ChangeTimelineEntry,
    ChangeType,
    CloseCode,
    RiskLevel,
    State,
    Vote,
)
from helpdesk.api import (
    MAX_ID,
    ApiFilterSet,
    ApiViewMixin,
    BooleanFilter,
    IdFilter,
    NullIfBlankChoiceField,
    PersonBriefSerializer,
    PresentMeansGivenMixin,
    SiteSerializer,
    UserBriefSerializer,
)
from helpdesk.models import Category, Person, Service, Site, SupportGroup
from helpdesk.roles import can_work_tickets, is_staff_member
from tickets.api import (
    TRANSITION_CONFLICT,
    CategoryBriefSerializer,
    ConflictSerializer,
    GroupBriefSerializer,
    ServiceBriefSerializer,
)
from tickets.models import Impact

_NOT_FOUND = OpenApiResponse(description=_("No such change, or not yours."))
_BAD_INPUT = OpenApiResponse(description=_("Bad input; the field is named."))

# --- output ---------------------------------------------------------------------------------


class ChangeVoteSerializer(serializers.ModelSerializer):
    voter = UserBriefSerializer(read_only=True)

    class Meta:
        model = Vote
        fields = ["voter", "decision", "comment", "created_at", "updated_at"]
        read_only_fields = fields


class ChangeApprovalSerializer(serializers.ModelSerializer):
    """One approval step of the change, its quorum, the tally and the votes (with reasons)."""

    votes = ChangeVoteSerializer(many=True, read_only=True)
    approver_count = serializers.SerializerMethodField()
    required = serializers.SerializerMethodField()
    is_my_turn = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "name",
            "order",
            "state",
            "quorum",
            "quorum_value",
            "approver_count",
            "required",
            "is_my_turn",
            "votes",
            "opened_at",
            "completed_at",
        ]
        read_only_fields = fields

    def _approver_ids(self, request) -> set[int]:
        return {user.pk for user in request.approvers.all()}

    def get_approver_count(self, request) -> int:
        return len(self._approver_ids(request))

    def get_required(self, request) -> int:
        return request.required_approvals(len(self._approver_ids(request)))

    def get_is_my_turn(self, request) -> bool:
        """Whether the requesting user is an approver of this step while it is open."""
        user = self.context["request"].user
        return request.state == ApprovalRequest.State.OPEN and user.pk in self._approver_ids(
            request
        )


class ChangeConflictsSerializer(serializers.Serializer):
    changes = serializers.ListField(child=serializers.CharField())
    freezes = serializers.ListField(child=serializers.CharField())


class ChangeSerializer(serializers.ModelSerializer):
    requester = PersonBriefSerializer(read_only=True)
    created_by = UserBriefSerializer(read_only=True, allow_null=True)
    category = CategoryBriefSerializer(read_only=True, allow_null=True)
    services = ServiceBriefSerializer(many=True, read_only=True)
    sites = SiteSerializer(many=True, read_only=True)
    assigned_group = GroupBriefSerializer(read_only=True, allow_null=True)
    implementer = UserBriefSerializer(read_only=True, allow_null=True)
    close_code = NullIfBlankChoiceField(choices=CloseCode.choices)
    tickets = serializers.SerializerMethodField()
    approvals = ChangeApprovalSerializer(many=True, read_only=True)
    conflicts = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()

    class Meta:
        model = Change
        fields = [
            "id",
            "number",
            "title",
            "description",
            "justification",
            "requester",
            "created_by",
            "type",
            "template",
            "category",
            "services",
            "sites",
            "risk",
            "risk_score",
            "impact",
            "estimated_cost",
            "budget_line",
            "planned_start",
            "planned_end",
            "implementation_plan",
            "backout_plan",
            "test_plan",
            "assigned_group",
            "implementer",
            "tickets",
            "state",
            "close_code",
            "review_result",
            "review_problems",
            "approvals",
            "conflicts",
            "available_transitions",
            "version",
            "created_at",
            "updated_at",
            "submitted_at",
            "approved_at",
            "closed_at",
        ]
        read_only_fields = fields

    def _user(self):
        return self.context["request"].user

    def get_tickets(self, change) -> list[str]:
        """Numbers of the linked tickets the user may see (staff all; others their own)."""
        user = self._user()
        linked = sorted(change.tickets.all(), key=lambda ticket: ticket.pk)
        if is_staff_member(user):
            return [ticket.number for ticket in linked]
        person = getattr(user, "person", None)
        return [t.number for t in linked if person is not None and t.caller_id == person.pk]

    @extend_schema_field(ChangeConflictsSerializer(allow_null=True))
    def get_conflicts(self, change) -> dict | None:
        """For staff, on a single change (null in lists): other booked changes on the same
        services or sites at overlapping times, and the freeze periods the change falls into.
        Empty for others."""
        if not self.context.get("with_conflicts"):
            return None
        if not is_staff_member(self._user()):
            return {"changes": [], "freezes": []}
        found = selectors.change_conflicts(change)
        return {
            "changes": [other.number for other in found.changes],
            "freezes": [freeze.name for freeze in found.freezes],
        }

    def get_available_transitions(self, change) -> list[str]:
        return services.available_transitions(change, self._user())


class ChangeTimelineEntrySerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)
    approval = serializers.SerializerMethodField()

    class Meta:
        model = ChangeTimelineEntry
        fields = [
            "id",
            "kind",
            "actor",
            "field",
            "old_value",
            "new_value",
            "transition",
            "approval",
            "note",
            "created_at",
        ]
        read_only_fields = fields

    def get_approval(self, entry) -> str | None:
        """The approval step the line is about (a vote, a step opened or completed)."""
        return entry.approval.name if entry.approval_id else None


# --- input ----------------------------------------------------------------------------------


def _active_users():
    # The service checks that the implementer is IT staff (400 naming the field).
    return get_user_model().objects.filter(is_active=True)


class ChangeFieldsSerializer(serializers.Serializer):
    """The editable fields (names are the services' keywords)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    justification = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True
    )
    services = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.filter(is_active=True), many=True, required=False
    )
    sites = serializers.PrimaryKeyRelatedField(
        queryset=Site.objects.all(), many=True, required=False
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    estimated_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    budget_line = serializers.CharField(required=False, allow_blank=True, max_length=120)
    planned_start = serializers.DateTimeField(required=False, allow_null=True)
    planned_end = serializers.DateTimeField(required=False, allow_null=True)
    implementation_plan = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    backout_plan = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    test_plan = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    assigned_group = serializers.PrimaryKeyRelatedField(
        queryset=SupportGroup.objects.filter(is_active=True), required=False, allow_null=True
    )
    implementer = serializers.PrimaryKeyRelatedField(
        queryset=_active_users(), required=False, allow_null=True
    )


class ChangeCreateSerializer(ChangeFieldsSerializer):
    """A new draft. End users and the change board request changes for themselves; the IT
    staff for anyone (``requester``, a person id)."""

    requester = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.filter(is_active=True),
        required=False,
        help_text=_("The person who asks for the change; default: yourself."),
    )
    type = serializers.ChoiceField(choices=ChangeType.choices, default=ChangeType.NORMAL)
    template = serializers.PrimaryKeyRelatedField(
        queryset=ChangeTemplate.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text=_("A standard change's template (the type becomes standard)."),
    )

    def validate(self, attrs):
        user = self.context["request"].user
        own = getattr(user, "person", None)
        requester = attrs.get("requester") or own
        if requester is None:
            raise serializers.ValidationError(
                {"requester": [_("Name the person who asks for the change.")]}
            )
        if not can_work_tickets(user) and requester != own:
            raise serializers.ValidationError(
                {"requester": [_("You may request changes only for yourself.")]}
            )
        attrs["requester"] = requester
        return attrs


class ChangeUpdateSerializer(ChangeFieldsSerializer):
    version = serializers.IntegerField(min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False


class ChangeTransitionInputSerializer(serializers.Serializer):
    """Every transition accepts the version the client read; stale -> 409."""

    version = serializers.IntegerField(min_value=1, required=False)

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        data.pop("version", None)
        return data


class ChangeScheduleInputSerializer(ChangeTransitionInputSerializer):
    planned_start = serializers.DateTimeField(
        required=False, help_text=_("Default: the planned start stored.")
    )
    planned_end = serializers.DateTimeField(
        required=False, help_text=_("Default: the planned end stored.")
    )


class ChangeFinishInputSerializer(ChangeTransitionInputSerializer):
    code = serializers.ChoiceField(choices=CloseCode.choices)


class ChangeCloseInputSerializer(ChangeTransitionInputSerializer):
    code = serializers.ChoiceField(
        choices=CloseCode.choices, required=False, help_text=_("Default: the one of finish.")
    )
    result = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    problems = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20000,
        help_text=_("What went wrong: required for a failed or backed-out change."),
    )


class ChangeWithdrawInputSerializer(ChangeTransitionInputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ChangeVoteInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Vote.Decision.choices)
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text=_("Required for a rejection: the reason."),
    )


# --- filters --------------------------------------------------------------------------------


class PresentIsoDateTimeField(PresentMeansGivenMixin, IsoDateTimeField):
    pass


class InstantFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 instant; ``?planned_to=`` (present, empty) is refused."""

    field_class = PresentIsoDateTimeField


class ChangeFilter(ApiFilterSet):
    state = filters.MultipleChoiceFilter(distinct=False, choices=State.choices)
    type = filters.ChoiceFilter(choices=ChangeType.choices)
    risk = filters.ChoiceFilter(choices=RiskLevel.choices)
    service = IdFilter(field_name="services", distinct=True)
    site = IdFilter(field_name="sites", distinct=True)
    planned_from = InstantFilter(
        field_name="planned_end",
        lookup_expr="gt",
        help_text=_("Calendar range: changes whose window ends after this instant."),
    )
    planned_to = InstantFilter(
        field_name="planned_start",
        lookup_expr="lt",
        help_text=_("Calendar range: changes whose window starts before this instant."),
    )
    awaiting_my_vote = BooleanFilter(
        method="filter_awaiting_my_vote",
        help_text=_("Changes with an open approval step where you have not voted yet."),
    )

    class Meta:
        model = Change
        fields = [
            "state",
            "type",
            "risk",
            "service",
            "site",
            "planned_from",
            "planned_to",
            "awaiting_my_vote",
        ]

    def filter_awaiting_my_vote(self, queryset, name, value):
        waiting = selectors.changes_awaiting_vote(self.request.user).values("pk")
        return queryset.filter(pk__in=waiting) if value else queryset.exclude(pk__in=waiting)


# --- views ----------------------------------------------------------------------------------

_PREFETCH = (
    "services",
    "sites",
    "tickets",
    "category",
    Prefetch(
        "approvals",
        queryset=ApprovalRequest.objects.order_by("order", "id").prefetch_related(
            "approvers", Prefetch("votes", queryset=Vote.objects.select_related("voter"))
        ),
    ),
)

_TRANSITION_INPUTS = {
    "schedule": ChangeScheduleInputSerializer,
    "finish": ChangeFinishInputSerializer,
    "close": ChangeCloseInputSerializer,
    "withdraw": ChangeWithdrawInputSerializer,
}


class ChangeAttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = UserBriefSerializer(read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ChangeAttachment
        fields = ["id", "name", "content_type", "size", "sha256", "uploaded_by", "created_at"]
        fields += ["download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment) -> str:
        url = reverse(
            "changes:attachment",
            kwargs={"number": attachment.change.number, "pk": attachment.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ChangeAttachmentInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_("Size and type are checked on the content, not the name.")
    )


class ChangeViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Changes the user may see: all for staff; for others those they requested or are asked
    to approve."""

    serializer_class = ChangeSerializer
    lookup_field = "number"
    lookup_value_regex = r"[A-Za-z]+-[0-9]+"
    filterset_class = ChangeFilter
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["created_at", "updated_at", "planned_start", "number", "state"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Change.objects.none()
        return (
            selectors.change_queryset_for(self.request.user)
            .select_related("created_by", "assigned_group")
            .prefetch_related(*_PREFETCH)
        )

    def get_object(self) -> Change:
        change = self.get_queryset().filter(number=self.kwargs["number"].upper()).first()
        if change is None:
            raise Http404
        return change

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["with_conflicts"] = self.action != "list"
        return context

    def _fresh(self, change: Change) -> dict:
        change = self.get_queryset().get(pk=change.pk)
        return ChangeSerializer(change, context=self.get_serializer_context()).data

    @extend_schema(responses={200: ChangeSerializer(many=True), 400: _BAD_INPUT})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ChangeCreateSerializer,
        responses={201: ChangeSerializer, 400: _BAD_INPUT},
    )
    def create(self, request, *args, **kwargs):
        data = ChangeCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        change = services.change_create(by=request.user, **data.validated_data)
        return Response(self._fresh(change), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ChangeSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=ChangeUpdateSerializer,
        responses={
            200: ChangeSerializer,
            400: _BAD_INPUT,
            403: OpenApiResponse(description=_("You may not edit this change.")),
            404: _NOT_FOUND,
            409: ConflictSerializer,
        },
    )
    def partial_update(self, request, *args, **kwargs):
        change = self.get_object()
        data = ChangeUpdateSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "version" not in fields:
            raise serializers.ValidationError({"version": [_("Send the version you read.")]})
        version = fields.pop("version")
        change = services.change_update(
            change=change, by=request.user, expected_version=version, **fields
        )
        return Response(self._fresh(change))

    def _transition(self, request, name: str) -> Response:
        change = self.get_object()
        if name not in services.available_transitions(change, request.user):
            # Refuse before validating input: the answer that matters is "not now".
            raise services.transition_not_allowed(change, request.user, name)
        data = _TRANSITION_INPUTS.get(name, ChangeTransitionInputSerializer)(
            data=request.data, context={"request": request}
        )
        data.is_valid(raise_exception=True)
        change = services.transition_take(
            change=change,
            by=request.user,
            name=name,
            expected_version=data.validated_data.get("version"),
            **data.service_kwargs(),
        )
        return Response(self._fresh(change))

    @extend_schema(
        request=ChangeVoteInputSerializer,
        responses={
            201: ChangeSerializer,
            400: _BAD_INPUT,
            403: OpenApiResponse(
                description=_("Not an approver, or the requester or implementer of the change.")
            ),
            404: _NOT_FOUND,
            409: OpenApiResponse(
                ConflictSerializer, description=_("The vote on this change is over.")
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def votes(self, request, number=None):
        """Approve or reject the change's open approval step (a rejection needs a reason). A
        vote may be changed while its step is open; the change answers with its new state."""
        change = self.get_object()
        data = ChangeVoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.vote_cast(change=change, by=request.user, **data.validated_data)
        return Response(self._fresh(change), status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], responses={200: ChangeAttachmentSerializer(many=True), 404: _NOT_FOUND}
    )
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": ChangeAttachmentInputSerializer},
        responses={201: ChangeAttachmentSerializer, 400: _BAD_INPUT, 404: _NOT_FOUND},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        parser_classes=[MultiPartParser],
    )
    def attachments(self, request, number=None):
        """Files of the change (anyone who may see it adds one, checked as ticket files);
        each downloads through the page's permission-checking URL."""
        change = self.get_object()
        if request.method == "POST":
            data = ChangeAttachmentInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            attachment = services.change_attachment_add(
                change=change, by=request.user, upload=data.validated_data["file"]
            )
            return Response(
                ChangeAttachmentSerializer(attachment, context={"request": request}).data,
                status=status.HTTP_201_CREATED,
            )
        files = change.attachments.select_related("uploaded_by", "change").order_by(
            "created_at", "id"
        )
        page = self.paginate_queryset(files)
        return self.get_paginated_response(
            ChangeAttachmentSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(responses={200: ChangeTimelineEntrySerializer(many=True), 404: _NOT_FOUND})
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, number=None):
        """Every step, field change, vote (with its reason) and comment."""
        change = self.get_object()
        entries = change.timeline.select_related("actor", "approval").order_by("created_at", "id")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(
            ChangeTimelineEntrySerializer(page, many=True, context={"request": request}).data
        )


def _transition_action(name: str, summary):
    input_class = _TRANSITION_INPUTS.get(name, ChangeTransitionInputSerializer)

    def handler(self, request, number=None):
        return self._transition(request, name)

    handler.__name__ = f"transition_{name}"
    handler.__doc__ = str(summary)
    handler = action(
        detail=True,
        methods=["post"],
        url_path=f"transitions/{name}",
        url_name=f"transition-{name}",
    )(handler)
    return extend_schema(
        operation_id=f"changes_transition_{name}",
        summary=summary,
        request=input_class,
        responses={
            200: ChangeSerializer,
            400: _BAD_INPUT,
            404: _NOT_FOUND,
            409: OpenApiResponse(
                response=TRANSITION_CONFLICT,
                description=_("Not possible now (allowed ones listed), or a stale version."),
            ),
        },
    )(handler)


# Approval and rejection follow from the votes: no action for them.
for _declared in transitions.REGISTRY.values():
    if not _declared.system:
        setattr(
            ChangeViewSet,
            f"transition_{_declared.name}",
            _transition_action(_declared.name, _declared.summary),
        )

# --- calendar feeds -------------------------------------------------------------------------


class CalendarFeedSerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarFeedToken
        fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class CalendarFeedCreatedSerializer(CalendarFeedSerializer):
    url = serializers.URLField(
        read_only=True,
        help_text=_("The feed's address with its secret: shown this once, keep it private."),
    )

    class Meta(CalendarFeedSerializer.Meta):
        fields = [*CalendarFeedSerializer.Meta.fields, "url"]
        read_only_fields = fields


class CalendarFeedViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The user's iCalendar feeds of changes, for calendar programs: ``POST`` makes one and
    answers its URL once (only a digest of the secret is kept), ``DELETE`` revokes one.
    Another user's feed is a 404."""

    serializer_class = CalendarFeedSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CalendarFeedToken.objects.none()
        return CalendarFeedToken.objects.filter(user=self.request.user).order_by("-id")

    def get_object(self):
        token_id = int(self.kwargs["pk"])
        token = self.get_queryset().filter(pk=token_id).first() if token_id <= MAX_ID else None
        if token is None:
            raise Http404
        return token

    @extend_schema(request=None, responses={201: CalendarFeedCreatedSerializer})
    def create(self, request, *args, **kwargs):
        token, key = services.calendar_feed_token_create(user=request.user)
        token.url = request.build_absolute_uri(reverse("changes:calendar_feed", args=[key]))
        return Response(CalendarFeedCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 404: OpenApiResponse(description=_("No such feed."))})
    def destroy(self, request, *args, **kwargs):
        services.calendar_feed_token_revoke(token=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("changes", ChangeViewSet, basename="api-change")
router.register("calendar-feeds", CalendarFeedViewSet, basename="api-calendar-feed")

urlpatterns = router.urls
