"""REST API of the core directory: people (staff only), support groups, services, categories.

Reference data is readable by every signed-in user (the portal offers services to pick) and
writable only by administrators. People are personal data: only staff may read them.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.db import models
from django.db.models import ProtectedError
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from helpdesk import refdata, selectors, services
from helpdesk.api_schema import ApiAutoSchema, ErrorSerializer
from helpdesk.authentication import ApiTokenAuthentication
from helpdesk.models import ApiToken, Category, Person, PhoneNumber, Service, Site, SupportGroup
from helpdesk.phones import normalize_phone_or_none
from helpdesk.roles import Role, is_staff_member, user_roles
from helpdesk.security import ClientAddressThrottle

# --- shared pieces (tickets.api uses them too) ---------------------------------------------


# The largest id any backend stores; a bigger number in a filter is bad input, not a crash.
MAX_ID = 2**63 - 1


class PresentMeansGivenMixin:
    """A query parameter that is present must say something: ``?site=`` is refused, not
    read as "no filter" (leave the parameter out for that)."""

    def to_python(self, value):
        if value == "":
            raise forms.ValidationError(_("Give a value or leave the parameter out."))
        return super().to_python(value)


class IdField(PresentMeansGivenMixin, forms.IntegerField):
    pass


class PresentCharField(PresentMeansGivenMixin, forms.CharField):
    pass


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """Filter on a primary key: a positive integer (``?site=3``)."""

    field_class = IdField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.NullBooleanField):
    """``true`` or ``false`` (absent: no filter); anything else is refused, not ignored."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        readings = {"true": True, "1": True, "false": False, "0": False}
        if str(value).lower() in readings:
            return readings[str(value).lower()]
        raise forms.ValidationError(_("Give true or false."), code="invalid")

    def validate(self, value):
        pass


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # DRF's BooleanWidget reads anything it does not know as "no filter".
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class ApiFilterSet(filters.FilterSet):
    """A FilterSet whose generated filters refuse what they cannot read."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class ApiViewMixin:
    """Token first, so an anonymous client gets 401 with ``WWW-Authenticate: Token``.

    Bodies are JSON (a form cannot say null, a number or a list, so the schema could not
    describe what a form-encoded request means); an endpoint that takes files adds
    multipart for itself. Other bodies get 415."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [JSONParser]
    schema = ApiAutoSchema()


class InUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This record is still in use and cannot be deleted.")
    default_code = "protected"


class IsStaffMember(permissions.BasePermission):
    """Agents, engineers, the change board, managers and administrators."""

    def has_permission(self, request, view):
        return is_staff_member(request.user)


class ReadAnyWriteAdministrator(permissions.BasePermission):
    """Reads for every signed-in user, writes for administrators only."""

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return Role.ADMINISTRATOR.value in user_roles(request.user)


class NullIfBlankChoiceField(serializers.ChoiceField):
    """A choice that may be unset: the model stores "", the API says null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


class ActiveKeptField(serializers.PrimaryKeyRelatedField):
    """The primary key of an active group, service, category or site, found among the rows
    each process keeps (helpdesk.refdata) instead of by a query; a key not among them, or
    not active there, is looked up in ``queryset`` as usual (a row newer than the process's
    copy is found, and the error for a bad key is the usual one)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            try:
                pk = int(data)
            except (TypeError, ValueError):
                pk = None
            if pk is not None:
                found = refdata.get(self.queryset.model, pk)
                if found is not None and found.is_active:
                    return found
        return super().to_internal_value(data)


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    full_name = serializers.SerializerMethodField()

    def get_full_name(self, user) -> str:
        return user.get_full_name() or user.username


class PersonBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "full_name", "email", "department", "is_vip"]
        read_only_fields = fields


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "code", "name"]
        read_only_fields = fields


class PhoneNumberSerializer(serializers.ModelSerializer):
    display = serializers.CharField(read_only=True)

    class Meta:
        model = PhoneNumber
        fields = ["id", "kind", "raw", "e164", "extension", "display"]
        read_only_fields = fields


# --- people ---------------------------------------------------------------------------------


class PersonSerializer(serializers.ModelSerializer):
    site = SiteSerializer(read_only=True)
    phone_numbers = PhoneNumberSerializer(many=True, read_only=True)
    has_login = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id",
            "full_name",
            "email",
            "department",
            "site",
            "job_title",
            "is_vip",
            "language",
            "is_active",
            "has_login",
            "phone_numbers",
        ]
        read_only_fields = fields

    def get_has_login(self, person) -> bool:
        return person.user_id is not None


class PersonFilter(ApiFilterSet):
    site = IdFilter(field_name="site_id")
    is_vip = BooleanFilter()
    is_active = BooleanFilter()

    class Meta:
        model = Person
        fields = ["site", "is_vip", "is_active"]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "phone",
                OpenApiTypes.STR,
                description=_("Caller-ID lookup: every person with this number (any format)."),
            ),
            OpenApiParameter(
                "search", OpenApiTypes.STR, description=_("Part of a name or e-mail.")
            ),
        ]
    )
)
class PersonViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """The people directory, for staff. ``?phone=`` returns every candidate for a number."""

    serializer_class = PersonSerializer
    permission_classes = [permissions.IsAuthenticated, IsStaffMember]
    filterset_class = PersonFilter

    def get_queryset(self):
        queryset = selectors.person_list()
        if getattr(self, "swagger_fake_view", False) or self.action != "list":
            return queryset
        params = self.request.query_params
        phone = params.get("phone", "").strip()
        if phone:
            if normalize_phone_or_none(phone) is None:
                raise exceptions.ValidationError(
                    {"phone": [_("This is not a valid phone number.")]}
                )
            queryset = selectors.people_by_phone(phone)
        search = params.get("search", "").strip()
        if search:
            queryset = selectors.person_text_search(queryset, search)
        return queryset


# --- reference data -----------------------------------------------------------------------------


class SupportGroupSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = SupportGroup
        fields = ["id", "name", "code", "tier", "email", "is_active", "members"]


class SupportGroupFilter(ApiFilterSet):
    class Meta:
        model = SupportGroup
        fields = ["tier", "is_active"]


class ServiceSerializer(serializers.ModelSerializer):
    owner_group = serializers.PrimaryKeyRelatedField(queryset=SupportGroup.objects.all())

    class Meta:
        model = Service
        fields = ["id", "name", "description", "owner_group", "criticality", "is_active"]


class ServiceFilter(ApiFilterSet):
    owner_group = IdFilter(field_name="owner_group_id")
    search = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Service
        fields = ["owner_group", "criticality", "is_active", "search"]


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "path", "is_active"]
        read_only_fields = ["path"]
        # Uniqueness under a parent is checked in validate(), also for a root (parent null).
        validators = []

    def validate(self, attrs):
        parent = attrs.get("parent", getattr(self.instance, "parent", None))
        node = parent
        while self.instance is not None and node is not None:
            if node.pk == self.instance.pk:
                raise serializers.ValidationError(
                    {"parent": [_("A category cannot be its own ancestor.")]}
                )
            node = node.parent
        name = attrs.get("name", getattr(self.instance, "name", None))
        clash = Category.objects.filter(parent=parent, name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                {"name": [_("A category with this name already exists here.")]}
            )
        return attrs


class CategoryFilter(ApiFilterSet):
    parent = IdFilter(field_name="parent_id")
    root = BooleanFilter(field_name="parent", lookup_expr="isnull")
    search = filters.CharFilter(field_name="path", lookup_expr="icontains")

    class Meta:
        model = Category
        fields = ["parent", "root", "is_active", "search"]


@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ErrorSerializer, description=_("Still in use.")),
        }
    )
)
class ReferenceDataViewSet(ApiViewMixin, viewsets.ModelViewSet):
    permission_classes = [ReadAnyWriteAdministrator]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise InUse() from None


class SupportGroupViewSet(ReferenceDataViewSet):
    """Support groups and their tier; members as user ids."""

    queryset = SupportGroup.objects.prefetch_related("members").order_by("tier", "name", "id")
    serializer_class = SupportGroupSerializer
    filterset_class = SupportGroupFilter


class ServiceViewSet(ReferenceDataViewSet):
    """The IT service catalogue."""

    queryset = Service.objects.order_by("name", "id")
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter


class CategoryViewSet(ReferenceDataViewSet):
    """The category tree, flattened: each node has its parent and its full path."""

    queryset = Category.objects.order_by("path", "id")
    serializer_class = CategorySerializer
    filterset_class = CategoryFilter


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("people", PersonViewSet, basename="api-person")
router.register("groups", SupportGroupViewSet, basename="api-group")
router.register("services", ServiceViewSet, basename="api-service")
router.register("categories", CategoryViewSet, basename="api-category")


# --- API tokens ----------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    is_usable = serializers.BooleanField(read_only=True)
    revoked_reason = NullIfBlankChoiceField(
        choices=ApiToken.RevokedReason.choices, help_text=_("Why it was revoked; null if not.")
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_reason",
            "is_usable",
        ]
        read_only_fields = fields


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100,
        default="API client",
        help_text=_("What the token is for; several tokens may have the same name."),
    )
    lifetime_days = serializers.IntegerField(
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        default=settings.API_TOKEN_DEFAULT_DAYS,
    )


class TokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text=_("The key; it is not shown again."))

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


class TokenView(APIView):
    """Sign in for the API: a new named token for a username and password (the login page's
    lockout applies here too); ``DELETE`` signs out the token the request came with."""

    authentication_classes = [ApiTokenAuthentication]
    throttle_classes = [ClientAddressThrottle]
    schema = ApiAutoSchema()

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    @extend_schema(
        request=TokenObtainSerializer,
        responses={
            201: TokenCreatedSerializer,
            400: OpenApiResponse(description=_("Wrong user name or password, or bad input.")),
            429: OpenApiResponse(description=_("Too many attempts: throttled or locked out.")),
        },
        auth=[],
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Django's HttpRequest, not DRF's wrapper: django-axes marks a locked-out attempt on
        # it and its middleware answers 429 from that mark.
        http_request = request._request
        user = authenticate(http_request, username=data["username"], password=data["password"])
        if user is None:
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Unable to sign in with the given credentials.")]}
            )
        token, key = services.api_token_create(
            user=user, name=data["name"], lifetime_days=data["lifetime_days"]
        )
        # A sign-in like the others: last_login is set and the failure count cleared.
        user_logged_in.send(sender=type(user), request=http_request, user=user)
        body = TokenCreatedSerializer(token).data
        body["token"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        # Only token authentication here: a browser session has no token to sign out.
        services.api_token_revoke(
            token=request.auth, by=request.user, reason=ApiToken.RevokedReason.SIGNED_OUT
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(
    ApiViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's own API tokens (usable ones, and those that stopped in the last
    30 days); ``DELETE`` revokes one. Another user's token is a 404."""

    serializer_class = ApiTokenSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return selectors.api_token_list_for(self.request.user)

    def get_object(self):
        token_id = int(self.kwargs["pk"])
        if token_id > MAX_ID:
            raise Http404
        return selectors.api_token_get_for(self.request.user, token_id)

    @extend_schema(responses={204: None, 404: OpenApiResponse(description=_("No such token."))})
    def destroy(self, request, *args, **kwargs):
        services.api_token_revoke(token=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


router.register("auth/tokens", ApiTokenViewSet, basename="api-token-mine")


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    *router.urls,
]
