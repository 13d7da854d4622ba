"""REST API of the ticket register: a thin layer over ``tickets.selectors`` and ``services``.

Reads go through the permission-scoped selectors (an end user's request for someone else's
ticket is a 404), writes through the services (which own validation, the timeline and the
side effects). Every ticket representation lists the transitions the requesting user may
take, so a client never offers what the server will refuse.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from helpdesk.api import (
    MAX_ID,
    ActiveKeptField,
    ApiFilterSet,
    ApiViewMixin,
    BooleanFilter,
    IdFilter,
    NullIfBlankChoiceField,
    PersonBriefSerializer,
    PresentCharField,
    UserBriefSerializer,
)
from helpdesk.models import Category, Person, Service, SupportGroup
from helpdesk.roles import can_work_tickets, is_staff_member
from tickets import selectors, services, transitions
from tickets.models import (
    OPEN_STATUSES,
    Attachment,
    Channel,
    Comment,
    Impact,
    PendingReason,
    ResolutionCode,
    Status,
    Tag,
    Ticket,
    TicketLink,
    TicketType,
    TicketWatcher,
    TimelineEntry,
    Urgency,
)

# --- output ---------------------------------------------------------------------------------


class GroupBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportGroup
        fields = ["id", "name", "code", "tier"]
        read_only_fields = fields


class ServiceBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name"]
        read_only_fields = fields


class CategoryBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "path"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as every endpoint returns it (list rows and detail alike)."""

    caller = PersonBriefSerializer(read_only=True)
    opened_by = UserBriefSerializer(read_only=True, allow_null=True)
    assignee = UserBriefSerializer(read_only=True, allow_null=True)
    group = GroupBriefSerializer(read_only=True, allow_null=True)
    service = ServiceBriefSerializer(read_only=True, allow_null=True)
    category = CategoryBriefSerializer(read_only=True, allow_null=True)
    parent = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    pending_reason = NullIfBlankChoiceField(
        choices=PendingReason.choices, help_text=_("Set while the ticket is pending.")
    )
    resolution_code = NullIfBlankChoiceField(
        choices=ResolutionCode.choices, help_text=_("Set once the ticket is resolved.")
    )
    available_transitions = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    # Relations: the caller is told where a merged ticket continues; tags, related tickets
    # and watchers are the staff's (empty for anyone else).
    merged_into = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text=_("The ticket this duplicate was merged into."),
    )
    tags = serializers.SerializerMethodField()
    related = serializers.SerializerMethodField()
    watchers = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "number",
            "type",
            "title",
            "description",
            "status",
            "caller",
            "opened_by",
            "channel",
            "service",
            "category",
            "impact",
            "urgency",
            "priority",
            "group",
            "assignee",
            "parent",
            "pending_reason",
            "pending_note",
            "resolution_code",
            "resolution_notes",
            "first_contact_resolution",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "due_at",
            "version",
            "available_transitions",
            "web_url",
            "merged_into",
            "tags",
            "related",
            "watchers",
        ]
        read_only_fields = fields

    def _for_staff(self) -> bool:
        return is_staff_member(self.context["request"].user)

    def get_tags(self, ticket) -> list[str]:
        """Tag names, sorted (staff only)."""
        if not self._for_staff():
            return []
        return sorted(tag.name for tag in ticket.tags.all())

    def get_related(self, ticket) -> list[str]:
        """Numbers of the related tickets (staff only)."""
        if not self._for_staff():
            return []
        numbers = [link.target.number for link in ticket.links_out.all()]
        numbers += [link.source.number for link in ticket.links_in.all()]
        return sorted(numbers)

    @extend_schema_field(UserBriefSerializer(many=True))
    def get_watchers(self, ticket):
        """Who gets the ticket's updates (staff only)."""
        if not self._for_staff():
            return []
        users = [watcher.user for watcher in ticket.watchers.all()]
        return UserBriefSerializer(users, many=True, context=self.context).data

    def get_available_transitions(self, ticket) -> list[str]:
        return services.available_transitions(ticket, self.context["request"].user)

    def get_web_url(self, ticket) -> str:
        return ticket.get_absolute_url()


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by = UserBriefSerializer(read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "is_internal",
            "comment",
            "uploaded_by",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, attachment) -> str:
        url = reverse("tickets:attachment", kwargs={"pk": attachment.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class CommentSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True, allow_null=True)
    author_name = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "body",
            "is_internal",
            "channel",
            "author",
            "author_name",
            "created_at",
            "attachments",
        ]
        read_only_fields = fields

    def get_author_name(self, comment) -> str:
        if comment.author_person_id:
            return comment.author_person.full_name
        if comment.author_id:
            return comment.author.get_full_name() or comment.author.username
        return ""


# Notes of these entries are meant for staff (diagnostics, why it moved between teams).
_STAFF_ONLY_NOTES = {TimelineEntry.Kind.ESCALATION, TimelineEntry.Kind.TRANSFER}


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)
    old_display = serializers.CharField(read_only=True)
    new_display = serializers.CharField(read_only=True)
    comment_body = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "kind",
            "field",
            "old_value",
            "new_value",
            "old_display",
            "new_display",
            "transition",
            "note",
            "comment",
            "comment_body",
            "is_internal",
            "actor",
            "created_at",
        ]
        read_only_fields = fields

    def _sees_internal(self) -> bool:
        return self.context["request"].user.has_perm("tickets.view_internal_notes")

    def get_note(self, entry) -> str:
        if entry.kind in _STAFF_ONLY_NOTES and not self._sees_internal():
            return ""
        return entry.note

    def get_comment_body(self, entry) -> str:
        if entry.comment_id is None:
            return ""
        if entry.comment.is_internal and not self._sees_internal():
            return ""
        return entry.comment.body


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    current_version = serializers.IntegerField(allow_null=True)


class IdempotencyConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class TransitionNotAllowedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    transition = serializers.CharField()
    state = serializers.CharField()
    allowed_transitions = serializers.ListField(child=serializers.CharField())


# A transition's 409 is either of the two, told apart by ``code``.
TRANSITION_CONFLICT = PolymorphicProxySerializer(
    component_name="TransitionConflict",
    serializers={
        "transition_not_allowed": TransitionNotAllowedSerializer,
        "conflict": ConflictSerializer,
    },
    resource_type_field_name="code",
)


# --- input ----------------------------------------------------------------------------------


def _is_worker(serializer) -> bool:
    return can_work_tickets(serializer.context["request"].user)


class TicketCreateSerializer(serializers.Serializer):
    """A new ticket. End users open tickets for themselves; agents for any caller."""

    STAFF_FIELDS = ("caller", "group", "parent", "impact", "urgency")

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=TicketType.choices, default=TicketType.INCIDENT)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    caller = serializers.PrimaryKeyRelatedField(
        queryset=Person.objects.filter(is_active=True),
        required=False,
        help_text=_("Agents: the person the ticket is for. End users: omit (it is you)."),
    )
    service = ActiveKeptField(
        queryset=Service.objects.filter(is_active=True), required=False, allow_null=True
    )
    category = ActiveKeptField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True
    )
    impact = serializers.ChoiceField(choices=Impact.choices, default=Impact.SINGLE)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.MEDIUM)
    group = ActiveKeptField(
        queryset=SupportGroup.objects.filter(is_active=True), required=False, allow_null=True
    )
    parent = serializers.SlugRelatedField(
        slug_field="number", queryset=Ticket.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs):
        request = self.context["request"]
        if _is_worker(self):
            if attrs.get("caller") is None:
                raise serializers.ValidationError(
                    {"caller": [_("Say whom the ticket is for.")]}, code="required"
                )
            return attrs
        errors = {}
        own = getattr(request.user, "person", None)
        for name in self.STAFF_FIELDS:
            if name in self.initial_data and not (name == "caller" and attrs.get(name) == own):
                errors[name] = [_("Only agents set this field.")]
        if attrs["channel"] not in (Channel.PORTAL, Channel.API):
            errors["channel"] = [_("Tickets you open yourself come from the portal or the API.")]
        if own is None:
            errors["caller"] = [_("Your account has no person profile; ask the service desk.")]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["caller"] = own
        for name in ("group", "parent"):
            attrs.pop(name, None)
        attrs["impact"], attrs["urgency"] = Impact.SINGLE, Urgency.MEDIUM
        return attrs


class TicketUpdateSerializer(serializers.Serializer):
    """Classification and text; ``version`` is the one the client read (optimistic locking).

    Never partial: a PATCH sends only the fields it changes, but always the version (DRF and
    drf-spectacular would make every field optional for PATCH)."""

    @property
    def partial(self):
        return False

    @partial.setter
    def partial(self, value):
        pass

    version = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    service = ActiveKeptField(
        queryset=Service.objects.filter(is_active=True), required=False, allow_null=True
    )
    category = ActiveKeptField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    parent = serializers.SlugRelatedField(
        slug_field="number", queryset=Ticket.objects.all(), required=False, allow_null=True
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        max_length=20,
        help_text=_("All the ticket's tags: letters, digits, “-” and “_” (stored lower-case)."),
    )


class TransitionInputSerializer(serializers.Serializer):
    """Every transition accepts the version the client read; stale -> 409."""

    version = serializers.IntegerField(min_value=1, required=False)

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        data.pop("version", None)
        return data


class AssignInputSerializer(TransitionInputSerializer):
    assignee = serializers.IntegerField(help_text=_("User id of the agent or engineer."))

    def validate_assignee(self, value):
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(_("No such user."))
        return user


class PendInputSerializer(TransitionInputSerializer):
    reason = serializers.ChoiceField(choices=PendingReason.choices)
    note = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")


class ResolveInputSerializer(TransitionInputSerializer):
    code = serializers.ChoiceField(choices=ResolutionCode.choices)
    notes = serializers.CharField()
    first_contact = serializers.BooleanField(default=False)


class ReasonInputSerializer(TransitionInputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class TransferInputSerializer(TransitionInputSerializer):
    group = ActiveKeptField(queryset=SupportGroup.objects.filter(is_active=True))
    reason = serializers.CharField()


class EscalateInputSerializer(TransitionInputSerializer):
    group = ActiveKeptField(queryset=SupportGroup.objects.filter(is_active=True))
    notes = serializers.CharField(help_text=_("The diagnostics already done (an internal note)."))

    def service_kwargs(self) -> dict:
        data = super().service_kwargs()
        data["diagnostic_notes"] = data.pop("notes")
        return data


class MergeInputSerializer(TransitionInputSerializer):
    into = serializers.CharField(
        max_length=20, help_text=_("Number of the ticket that continues (INC-000123).")
    )

    def validate_into(self, value):
        number = selectors.ticket_number_normalized(value)
        queryset = selectors.ticket_queryset_for(self.context["request"].user)
        ticket = queryset.filter(number=number).first() if number else None
        if ticket is None:
            raise serializers.ValidationError(_("There is no such ticket."))
        return ticket


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField()
    is_internal = serializers.BooleanField(
        default=False, help_text=_("An internal work note (staff only).")
    )

    def validate_is_internal(self, value):
        if value and not _is_worker(self):
            raise serializers.ValidationError(_("Only agents write internal notes."))
        return value


class AttachmentInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_("Size and type are checked on the content, not the name.")
    )
    is_internal = serializers.BooleanField(default=False)

    def validate_is_internal(self, value):
        if value and not _is_worker(self):
            raise serializers.ValidationError(_("Only agents add internal attachments."))
        return value


# --- filters --------------------------------------------------------------------------------


ASSIGNEE_PATTERN = re.compile(r"me|none|[1-9][0-9]{0,18}")


@extend_schema_field({"type": "string", "pattern": f"^(?:{ASSIGNEE_PATTERN.pattern})$"})
class AssigneeFilter(filters.CharFilter):
    field_class = PresentCharField


class TicketFilter(ApiFilterSet):
    status = filters.MultipleChoiceFilter(distinct=False, choices=Status.choices)
    priority = filters.MultipleChoiceFilter(
        distinct=False, choices=Ticket._meta.get_field("priority").choices
    )
    support_group = IdFilter(field_name="group_id")
    assignee = AssigneeFilter(
        method="filter_assignee",
        help_text=_("A user id, “me” or “none” (unassigned)."),
    )
    service = IdFilter(field_name="service_id")
    category = IdFilter(field_name="category_id")
    channel = filters.MultipleChoiceFilter(distinct=False, choices=Channel.choices)
    type = filters.ChoiceFilter(choices=TicketType.choices)
    caller = IdFilter(field_name="caller_id")
    open = BooleanFilter(method="filter_open", help_text=_("Only open (or closed) ones."))

    class Meta:
        model = Ticket
        fields = [
            "status",
            "priority",
            "support_group",
            "assignee",
            "service",
            "category",
            "channel",
            "type",
            "caller",
            "open",
        ]

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee_id=self.request.user.pk)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if not ASSIGNEE_PATTERN.fullmatch(value) or int(value) > MAX_ID:
            raise serializers.ValidationError({"assignee": [_("Give a user id, “me” or “none”.")]})
        return queryset.filter(assignee_id=int(value))

    def filter_open(self, queryset, name, value):
        open_statuses = Q(status__in=OPEN_STATUSES)
        return queryset.filter(open_statuses) if value else queryset.exclude(open_statuses)


# --- views ----------------------------------------------------------------------------------

# What a representation shows of tags, related tickets and watchers: one query each per page.
RELATIONS_PREFETCH = (
    Prefetch("tags", queryset=Tag.objects.order_by("name")),
    Prefetch("links_out", queryset=TicketLink.objects.select_related("target")),
    Prefetch("links_in", queryset=TicketLink.objects.select_related("source")),
    Prefetch("watchers", queryset=TicketWatcher.objects.select_related("user")),
)

_NOT_FOUND = OpenApiResponse(description=_("No such ticket, or not yours."))
# Ticket creation honours an optional Idempotency-Key (services.ticket_create_once).
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[!-~]{1,80}$")


class TicketViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Tickets the user may see: all for staff, only their own for end users."""

    serializer_class = TicketSerializer
    lookup_field = "number"
    lookup_value_regex = r"[A-Za-z]+-[0-9]+"
    filterset_class = TicketFilter
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["created_at", "updated_at", "priority", "number", "status", "due_at"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Ticket.objects.none()
        search = self.request.query_params.get("search", "")
        # Only staff are shown tags, related tickets and watchers.
        relations = RELATIONS_PREFETCH if is_staff_member(self.request.user) else ()
        # Joining all eight tables made PostgreSQL spend ~25 ms planning each page (measured on
        # 1M tickets); the three small reference tables come by prefetch instead (<1 ms).
        return (
            selectors.ticket_list(self.request.user, search=search)
            .select_related(None)
            .select_related("caller", "assignee", "opened_by", "parent", "merged_into")
            .prefetch_related("group", "service", "category", *relations)
        )

    def get_object(self) -> Ticket:
        try:
            ticket = selectors.ticket_get_for(
                self.request.user, number=self.kwargs["number"].upper()
            )
        except Ticket.DoesNotExist:
            raise Http404 from None
        return ticket

    def _with_relations(self, ticket: Ticket, *, new: bool = False) -> Ticket:
        """``ticket`` with the tags, related tickets and watchers it shows read in one query
        each (without them, one query per related ticket and per watcher). Only staff are
        shown them; a ticket this request created has none yet (nothing links, tags or
        watches a ticket as it is created), so nothing is read for it."""
        if not is_staff_member(self.request.user):
            return ticket
        if new:
            ticket._prefetched_objects_cache = {
                "tags": Tag.objects.none(),
                "links_out": TicketLink.objects.none(),
                "links_in": TicketLink.objects.none(),
                "watchers": TicketWatcher.objects.none(),
            }
        else:
            prefetch_related_objects([ticket], *RELATIONS_PREFETCH)
        return ticket

    def _fresh(self, ticket: Ticket, *, new: bool = False) -> dict:
        """The ticket as stored now (the listeners of its change may have set its due time)."""
        ticket = selectors.ticket_get_for(self.request.user, pk=ticket.pk)
        ticket = self._with_relations(ticket, new=new)
        return TicketSerializer(ticket, context=self.get_serializer_context()).data

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description=_("A number, part of the title, the caller's name, e-mail or phone."),
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=TicketCreateSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                required=False,
                pattern=IDEMPOTENCY_KEY_PATTERN.pattern,
                description=_(
                    "Optional: a key of your choice (for example a UUID), new for each ticket "
                    "you mean to open. Sending the same request again with the same key "
                    "(a retry after a timeout) opens no second ticket: the answer is 200 with "
                    "the ticket the first request opened. The same key with a different body "
                    "is refused with 409. Keys are kept for 30 days, per user."
                ),
            )
        ],
        responses={
            201: TicketSerializer,
            200: OpenApiResponse(
                TicketSerializer,
                description=_(
                    "A repeated request with an Idempotency-Key already used: the "
                    "ticket that key opened (nothing new was created)."
                ),
            ),
            400: OpenApiResponse(description=_("Bad input.")),
            409: OpenApiResponse(
                IdempotencyConflictSerializer,
                description=_("The Idempotency-Key was already used for a different request."),
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
            raise serializers.ValidationError(
                {IDEMPOTENCY_HEADER: [_("Use 1 to 80 visible ASCII characters.")]}
            )
        data = TicketCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        once = services.ticket_create_once(
            user=request.user, key=key or "", opened_by=request.user, **data.validated_data
        )
        if not once.same_input:
            return Response(
                {
                    "detail": _(
                        "This Idempotency-Key was already used for a different request; "
                        "use a new key for a new ticket."
                    ),
                    "code": "idempotency_key_reused",
                },
                status=status.HTTP_409_CONFLICT,
            )
        if not once.created:
            return Response(self._fresh(once.ticket), headers={"Idempotent-Replayed": "true"})
        return Response(self._fresh(once.ticket, new=True), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: TicketSerializer, 404: _NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        ticket = self._with_relations(self.get_object())
        return Response(self.get_serializer(ticket).data)

    @extend_schema(
        request=TicketUpdateSerializer,
        responses={
            200: TicketSerializer,
            400: OpenApiResponse(description=_("Bad input.")),
            404: _NOT_FOUND,
            409: ConflictSerializer,
        },
    )
    def partial_update(self, request, *args, **kwargs):
        ticket = self.get_object()
        data = TicketUpdateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        version = changes.pop("version")
        tags = changes.pop("tags", None)
        with transaction.atomic():
            ticket = services.ticket_update(
                ticket=ticket, by=request.user, expected_version=version, **changes
            )
            if tags is not None:
                services.ticket_tags_set(ticket=ticket, by=request.user, names=tags)
        return Response(self._fresh(ticket))

    def _transition(self, request, name: str) -> Response:
        ticket = self.get_object()
        allowed = services.available_transitions(ticket, request.user)
        if name not in allowed:
            # Refuse before validating input: the answer that matters is "not now".
            raise services.transition_not_allowed(ticket, request.user, name)
        input_class = transitions.REGISTRY[name].serializer_class
        data = input_class(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        ticket = services.transition_take(
            ticket=ticket,
            by=request.user,
            name=name,
            expected_version=data.validated_data.get("version"),
            **data.service_kwargs(),
        )
        return Response(self._fresh(ticket))

    @extend_schema(methods=["GET"], responses={200: CommentSerializer(many=True), 404: _NOT_FOUND})
    @extend_schema(
        methods=["POST"],
        request=CommentInputSerializer,
        responses={201: CommentSerializer, 404: _NOT_FOUND},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def comments(self, request, number=None):
        """Public replies and, for staff, internal work notes."""
        ticket = self.get_object()
        if request.method == "POST":
            data = CommentInputSerializer(data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            if ticket.is_caller(request.user) and not data.validated_data["is_internal"]:
                # The caller's answer: a ticket waiting for them goes back to work.
                comment = services.ticket_reply_by_caller(
                    ticket=ticket,
                    by=request.user,
                    body=data.validated_data["body"],
                    channel=Channel.API,
                ).comment
            else:
                comment = services.comment_add(
                    ticket=ticket, by=request.user, channel=Channel.API, **data.validated_data
                )
            comment = selectors.comments_for(request.user, ticket).get(pk=comment.pk)
            return Response(
                CommentSerializer(comment, context={"request": request}).data,
                status=status.HTTP_201_CREATED,
            )
        comments = selectors.comments_for(request.user, ticket).prefetch_related(None)
        # Each attachment shows its uploader: join it into the prefetch (no query per row).
        attachments = Attachment.objects.select_related("uploaded_by").order_by("id")
        if not request.user.has_perm("tickets.view_internal_notes"):
            # An agent may mark one file of a public reply internal.
            attachments = attachments.filter(is_internal=False)
        comments = comments.prefetch_related(Prefetch("attachments", queryset=attachments))
        return self._paginated(comments, CommentSerializer)

    @extend_schema(
        methods=["GET"], responses={200: AttachmentSerializer(many=True), 404: _NOT_FOUND}
    )
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: AttachmentSerializer, 404: _NOT_FOUND},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        parser_classes=[MultiPartParser],
    )
    def attachments(self, request, number=None):
        """Files of the ticket; each downloads through the permission-checking view."""
        ticket = self.get_object()
        if request.method == "POST":
            data = AttachmentInputSerializer(data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            attachment = services.attachment_add(
                ticket=ticket,
                by=request.user,
                upload=data.validated_data["file"],
                is_internal=data.validated_data["is_internal"],
            )
            return Response(
                AttachmentSerializer(attachment, context={"request": request}).data,
                status=status.HTTP_201_CREATED,
            )
        return self._paginated(
            selectors.attachments_for(request.user, ticket).order_by("created_at", "id"),
            AttachmentSerializer,
        )

    @extend_schema(responses={200: TimelineEntrySerializer(many=True), 404: _NOT_FOUND})
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, number=None):
        """Who did what and when: transitions, field changes (old -> new), replies, notes."""
        ticket = self.get_object()
        return self._paginated(
            selectors.timeline_for(request.user, ticket), TimelineEntrySerializer
        )

    def _paginated(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        context = {"request": self.request}
        return self.get_paginated_response(serializer_class(page, many=True, context=context).data)


def _transition_action(name: str, input_class, summary):
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
        operation_id=f"tickets_transition_{name}",
        summary=summary,
        request=input_class,
        responses={
            200: TicketSerializer,
            400: OpenApiResponse(description=_("Bad input; the field is named.")),
            404: _NOT_FOUND,
            409: OpenApiResponse(
                response=TRANSITION_CONFLICT,
                description=_("Not possible now (allowed ones listed), or a stale version."),
            ),
        },
    )(handler)


for _declared in transitions.REGISTRY.values():
    setattr(
        TicketViewSet,
        f"transition_{_declared.name}",
        _transition_action(_declared.name, _declared.serializer_class, _declared.summary),
    )


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tickets", TicketViewSet, basename="api-ticket")

urlpatterns = router.urls
