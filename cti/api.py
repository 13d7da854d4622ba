"""HTTP endpoints for telephone systems: events in, routing hints out.

These are plain Django views rather than DRF ones on purpose: the generic webhook signs the
raw request body, PBXes authenticate with a per-PBX token or signature instead of a user,
and the ring path is the latency-critical one of the product.

Generic JSON webhook, ``POST /cti/webhook/<pbx id>/``::

    {"event": "ring" | "answer" | "hangup", "call_id": "1700000000.42",
     "direction": "inbound" | "outbound" (or "in"/"out"; default inbound),
     "from": "+48 22 123 45 67", "to": "100", "queue": "service-desk",
     "extension": "201" or "extensions": ["201", "202"], "user" or "users": ["agent"],
     "answered_by": "201", "cause": "normalClearing", "occurred_at": ISO 8601 or epoch}

authenticated by ``X-Helpdesk-Signature: sha256=<hex HMAC-SHA256 of the body with the PBX's
secret>`` or ``X-Helpdesk-Token: <the PBX's token>``. Answers ``{"status": ..., "call": id}``
plus ``"action": "reject", "reason": "busy"`` for a blocked caller; 400 for unreadable
events, 401 for a wrong or missing signature.

Zammad-compatible generic CTI, ``POST /api/v1/cti/<token>`` (JSON or form data), answers
as Zammad does: ``{}``, ``{"action": "reject", "reason": "busy"}``, 401 for a bad token,
422 for an invalid direction.

Routing hint, ``GET /api/v1/cti/<token>/route?from=<number>[&format=text]``: JSON
``{"target": "agent"|"queue", "extension"|"queue": ..., "reason": "sticky"|"vip"|"default"}``
or one line ``agent 201 sticky`` / ``queue vip vip`` for dial plans.

Block list, ``/cti/api/blocked-numbers/`` (session or token auth, the blockednumber model
permissions, i.e. administrators): GET lists, POST ``{"number": "...", "reason": "..."}``
blocks a number written in any form, DELETE ``<id>/`` unblocks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response

from cti import selectors, services
from cti.models import BlockedNumber, CallEvent, Pbx
from helpdesk.endpoints import machine_endpoint
from helpdesk.phones import InvalidPhoneNumber

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Helpdesk-Signature"
TOKEN_HEADER = "X-Helpdesk-Token"

_DIRECTIONS = {"in": "inbound", "out": "outbound", "inbound": "inbound", "outbound": "outbound"}
_ZAMMAD_EVENTS = {"newCall": "ring", "answer": "answer", "hangup": "hangup"}
_REJECT = {"action": "reject", "reason": "busy"}


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "?")


def _as_list(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value if item not in (None, "")]
    return [str(value)]


def _occurred_at(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        return datetime.fromtimestamp(float(value), tz=UTC)
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise services.InvalidCallEvent(_("occurred_at is not a date and time."), field="time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def signature_for(secret: str, body: bytes) -> str:
    """The X-Helpdesk-Signature value for ``body`` signed with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# The PBX of the generic webhook, read once per PBX_CACHE_SECONDS per process: the lookup is
# one of the ring path's statements. Only a PBX that authenticated a request is served from
# here; a request it does not authenticate reads the PBX again (a new token or secret is
# honoured at once). Saving or deleting a PBX empties this process's cache; another process
# sees a deactivated PBX or a revoked token after at most PBX_CACHE_SECONDS. Whatever writes
# a PBX calls pbx_cache_clear() (the admin does).
PBX_CACHE_SECONDS = 5.0
_pbx_cache: dict[int, tuple[float, Pbx]] = {}
_pbx_cache_lock = threading.Lock()


def pbx_cache_clear() -> None:
    """Forget the PBXes this process read for the webhook: call it after writing a PBX."""
    with _pbx_cache_lock:
        _pbx_cache.clear()


def _pbx_accepts(request: HttpRequest, pbx: Pbx) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if signature:
        return hmac.compare_digest(signature, signature_for(pbx.secret, request.body))
    token = request.headers.get(TOKEN_HEADER, "")
    return bool(token) and hmac.compare_digest(token, pbx.token)


def _authenticated_pbx(request: HttpRequest, pbx_id: int) -> Pbx | None:
    cached = _pbx_cache.get(pbx_id)
    now = time.monotonic()
    if (
        cached is not None
        and now - cached[0] < PBX_CACHE_SECONDS
        and _pbx_accepts(request, cached[1])
    ):
        return cached[1]
    pbx = Pbx.objects.filter(pk=pbx_id, is_active=True).first()
    if pbx is None or not _pbx_accepts(request, pbx):
        return None
    with _pbx_cache_lock:
        _pbx_cache[pbx_id] = (now, pbx)
    return pbx


def _result_json(result: services.IngestResult) -> JsonResponse:
    if result.status == CallEvent.Status.FAILED:
        # The event is stored; a redelivery applies it again.
        return JsonResponse(
            {"status": result.status, "event": result.event.pk, "error": _("Processing failed.")},
            status=500,
        )
    data = {
        "status": result.status,
        "event": result.event.pk,
        "call": result.call.pk if result.call else None,
    }
    if result.rejected:
        data.update(_REJECT)
    return JsonResponse(data)


@machine_endpoint
@csrf_exempt
@require_POST
def generic_webhook(request: HttpRequest, pbx_id: int) -> JsonResponse:
    """Events from any PBX or bridge that can POST signed JSON (format in the module doc)."""
    pbx = _authenticated_pbx(request, pbx_id)
    if pbx is None:
        logger.warning(
            "CTI webhook for PBX %s refused from %s: bad or missing signature/token",
            pbx_id,
            _client(request),
        )
        return JsonResponse({"error": _("Invalid signature or token.")}, status=401)
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        logger.warning("CTI webhook for PBX %s: body is not a JSON object", pbx.pk)
        return JsonResponse({"error": _("The body must be a JSON object.")}, status=400)
    try:
        direction = _DIRECTIONS.get(str(data.get("direction") or "inbound"))
        if direction is None:
            raise services.InvalidCallEvent(_("Invalid direction!"), field="direction")
        event = services.PbxEvent(
            kind=str(data.get("event") or data.get("kind") or ""),
            call_id=str(data.get("call_id") or data.get("callId") or ""),
            direction=direction,
            caller=str(data.get("from") or ""),
            called=str(data.get("to") or ""),
            queue=str(data.get("queue") or ""),
            extensions=_as_list(data.get("extensions")) + _as_list(data.get("extension")),
            users=_as_list(data.get("users")) + _as_list(data.get("user")),
            answering=str(data.get("answered_by") or ""),
            cause=str(data.get("cause") or ""),
            occurred_at=_occurred_at(data.get("occurred_at")),
            payload=data,
        )
        result = services.call_event_ingest(pbx=pbx, source=CallEvent.Source.WEBHOOK, event=event)
    except services.InvalidCallEvent as error:
        logger.warning("CTI webhook for PBX %s rejected: %s; payload %r", pbx.pk, error, data)
        return JsonResponse({"error": str(error.message), "field": error.field}, status=400)
    return _result_json(result)


def _zammad_params(request: HttpRequest) -> dict:
    """Zammad's parameters from a JSON body or form data (``user`` may repeat as ``user[]``)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise services.InvalidCallEvent(_("The body must be a JSON object."), field="body")
        data = dict(data)
        data["user"] = _as_list(data.get("user")) + _as_list(data.pop("user[]", None))
        return data
    data = {key: request.POST.get(key) for key in request.POST if not key.endswith("[]")}
    data["user"] = request.POST.getlist("user") + request.POST.getlist("user[]")
    return data


@machine_endpoint
@csrf_exempt
@require_POST
def zammad_event(request: HttpRequest, token: str) -> JsonResponse:
    """The Zammad generic CTI endpoint, so PBXes set up for Zammad work unchanged."""
    pbx = Pbx.objects.filter(token=token, is_active=True).first()
    if pbx is None:
        logger.warning("CTI Zammad event refused from %s: invalid token", _client(request))
        return JsonResponse({"error": _("Invalid token, please contact your admin!")}, status=401)
    params: dict = {}
    try:
        params = _zammad_params(request)
        direction = _DIRECTIONS.get(str(params.get("direction") or ""))
        if direction is None or direction not in ("inbound", "outbound"):
            raise services.InvalidCallEvent(_("Invalid direction!"), field="direction")
        event = str(params.get("event") or "")
        if event not in _ZAMMAD_EVENTS:
            raise services.InvalidCallEvent(
                _("Unknown event %(event)r; expected newCall, answer or hangup.")
                % {"event": event},
                field="event",
            )
        users = [str(user) for user in params.get("user") or []]
        answering = str(params.get("answeringNumber") or "")
        pbx_event = services.PbxEvent(
            kind=_ZAMMAD_EVENTS[event],
            call_id=str(params.get("callId") or params.get("call_id") or ""),
            direction=direction,
            caller=str(params.get("from") or ""),
            called=str(params.get("to") or ""),
            queue=str(params.get("queue") or ""),
            users=users,
            # In Zammad "answeringNumber" is the extension that picked up; "user" names who.
            answering=answering or (users[0] if len(users) == 1 else ""),
            cause=str(params.get("cause") or ""),
            payload=params,
        )
        result = services.call_event_ingest(
            pbx=pbx, source=CallEvent.Source.ZAMMAD, event=pbx_event
        )
    except services.InvalidCallEvent as error:
        logger.warning("CTI Zammad event for PBX %s rejected: %s; params %r", pbx.pk, error, params)
        return JsonResponse({"error": str(error.message)}, status=422)
    if result.status == CallEvent.Status.FAILED:
        return _result_json(result)
    if result.rejected and result.event.kind == CallEvent.Kind.RING:
        return JsonResponse(_REJECT)
    return JsonResponse({})


@machine_endpoint
@require_GET
def route(request: HttpRequest, token: str) -> HttpResponse:
    """Where the PBX should send a caller: sticky agent, VIP queue or the default queue."""
    pbx = Pbx.objects.filter(token=token, is_active=True).first()
    if pbx is None:
        logger.warning("CTI routing hint refused from %s: invalid token", _client(request))
        return JsonResponse({"error": _("Invalid token, please contact your admin!")}, status=401)
    number = request.GET.get("from") or request.GET.get("number") or ""
    if services.is_blocked(number):
        hint = selectors.RouteHint("reject", "", "blocked")
    else:
        hint = selectors.route_hint(number=number, pbx=pbx)
    if request.GET.get("format") == "text":
        return HttpResponse(hint.as_text() + "\n", content_type="text/plain; charset=utf-8")
    return JsonResponse(hint.as_dict())


# --- block list (REST, for administrators) -----------------------------------------------


class BlockedNumberPermission(DjangoModelPermissions):
    """Reading the block list needs the view permission too, not just a login."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": ["%(app_label)s.view_%(model_name)s"]}


class BlockedNumberSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockedNumber
        fields = ["id", "e164", "reason", "created_at"]
        read_only_fields = fields


class BlockedNumberInputSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class BlockedNumberViewSet(
    mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Numbers whose calls the PBX is told to reject: list, block (any written form), unblock."""

    queryset = BlockedNumber.objects.order_by("e164")
    serializer_class = BlockedNumberSerializer
    permission_classes = [BlockedNumberPermission]

    @extend_schema(request=BlockedNumberInputSerializer, responses=BlockedNumberSerializer)
    def create(self, request):
        data = BlockedNumberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            blocked = services.blocked_number_add(
                number=data.validated_data["number"],
                reason=data.validated_data.get("reason", ""),
                by=request.user,
            )
        except InvalidPhoneNumber:
            raise serializers.ValidationError(
                {"number": [_("This is not a valid phone number.")]}
            ) from None
        return Response(BlockedNumberSerializer(blocked).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.blocked_number_remove(number=instance.e164)


blocked_number_list = BlockedNumberViewSet.as_view({"get": "list", "post": "create"})
blocked_number_detail = BlockedNumberViewSet.as_view({"delete": "destroy"})
