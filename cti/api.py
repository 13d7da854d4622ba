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
plus ``"action": "reject", "reason": "busy"`` for a blocked caller; 400 ``{"error": ...,
"field": ...}`` for unreadable events (not JSON, NaN or Infinity, nested too deeply, a NUL
character, an impossible ``occurred_at``), 401 for a wrong or missing signature, 413 (JSON)
for a body over DATA_UPLOAD_MAX_MEMORY_SIZE.

Zammad-compatible generic CTI, ``POST /api/v1/cti/<token>`` (JSON or form data), answers
as Zammad does: ``{}``, ``{"action": "reject", "reason": "busy"}``, ``{"action": "dial",
"caller_id": ..., "number": ...}`` for an outbound newCall that an outbound caller ID rule
matches, 401 for a bad token, 422 for a disabled PBX, an invalid direction (only ``in`` and
``out``) or an unreadable body.

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
import math
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
from helpdesk.api import ApiViewMixin
from helpdesk.endpoints import machine_endpoint
from helpdesk.phones import InvalidPhoneNumber

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Helpdesk-Signature"
TOKEN_HEADER = "X-Helpdesk-Token"

_DIRECTIONS = {"in": "inbound", "out": "outbound", "inbound": "inbound", "outbound": "outbound"}
# Zammad's endpoint knows only "in" and "out" and answers 422 "Invalid direction!" to the
# rest; the generic webhook also reads inbound/outbound.
_ZAMMAD_DIRECTIONS = {"in": "inbound", "out": "outbound"}
_ZAMMAD_EVENTS = {"newCall": "ring", "answer": "answer", "hangup": "hangup"}
_REJECT = {"action": "reject", "reason": "busy"}


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "?")


def _as_list(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list | tuple):
        # An empty value names nobody: "user=" in a form post is no user.
        return [str(item) for item in value if item is not None and str(item).strip()]
    return [str(value)]


# Times a PBX may report. Outside them a clock or an encoder is broken, and Python's or the
# database's datetimes would overflow (year 1 or 9999 moved to another zone, durations).
OCCURRED_AT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
OCCURRED_AT_MAX = datetime(2100, 1, 1, tzinfo=UTC)


def _occurred_at(value, *, field: str = "occurred_at") -> datetime | None:
    """The event's time from ISO 8601 or epoch seconds; raises InvalidCallEvent naming ``field``."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise services.InvalidCallEvent(_("occurred_at is not a date and time."), field=field)
    if isinstance(value, int | float) or _is_number(value):
        try:
            seconds = float(value)
        except OverflowError:  # an integer too large for a float
            seconds = math.inf
        if not OCCURRED_AT_MIN.timestamp() <= seconds < OCCURRED_AT_MAX.timestamp():
            raise _occurred_at_out_of_bounds(field)
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well formed, but no such date: month 13, hour 99
        parsed = None
    if parsed is None:
        raise services.InvalidCallEvent(_("occurred_at is not a date and time."), field=field)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_bounds = OCCURRED_AT_MIN <= parsed < OCCURRED_AT_MAX
    except OverflowError:  # year 1 or 9999 with an offset
        in_bounds = False
    if not in_bounds:
        raise _occurred_at_out_of_bounds(field)
    return parsed


def _occurred_at_out_of_bounds(field: str) -> services.InvalidCallEvent:
    return services.InvalidCallEvent(
        _("occurred_at must be between %(min)s and %(max)s.")
        % {"min": OCCURRED_AT_MIN.isoformat(), "max": OCCURRED_AT_MAX.isoformat()},
        field=field,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# What a body may hold. Deeper nesting than this is no PBX event, and would exhaust the
# recursion limit of json, repr() and the database drivers further on; a call id longer
# than the column is refused by PostgreSQL.
MAX_NESTING = 32
CALL_ID_MAX_LENGTH = CallEvent._meta.get_field("call_id").max_length


class _NotFinite(ValueError):
    pass


def _not_finite(text: str):
    raise _NotFinite(text)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999
        raise _NotFinite(text)
    return number


def _json_object(body: bytes) -> dict:
    """The JSON object a PBX sent: strict JSON (no NaN or Infinity), nested at most
    MAX_NESTING levels; raises InvalidCallEvent (field ``body``)."""
    try:
        data = json.loads(body or b"{}", parse_constant=_not_finite, parse_float=_finite_float)
    except _NotFinite:
        raise services.InvalidCallEvent(
            _("NaN and Infinity are not JSON numbers."), field="body"
        ) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # not JSON, not UTF-8, an integer of more than 4,300 digits
        data = None
    if not isinstance(data, dict):
        raise services.InvalidCallEvent(_("The body must be a JSON object."), field="body")
    _storable_check(data)
    return data


def _too_deep() -> services.InvalidCallEvent:
    return services.InvalidCallEvent(
        _("The body is nested more than %(levels)d levels deep.") % {"levels": MAX_NESTING},
        field="body",
    )


def _storable_check(data: dict) -> None:
    """Refuse what no database stores: NUL characters and lone surrogates (\\ud800 in
    JSON), and nesting deeper than MAX_NESTING. The error names the top-level field."""
    for key, value in data.items():
        if not _storable_text(key):
            raise _unstorable("body")
        problem = _unstorable_value(value, depth=1)
        if problem == "depth":
            raise _too_deep()
        if problem:
            raise _unstorable(key)


def _unstorable_value(value, *, depth: int) -> str:
    if isinstance(value, str):
        return "" if _storable_text(value) else "text"
    if isinstance(value, dict | list):
        if depth >= MAX_NESTING:
            return "depth"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and not _storable_text(key):
                return "text"
            problem = _unstorable_value(item, depth=depth + 1)
            if problem:
                return problem
    return ""


def _storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _unstorable(field: str) -> services.InvalidCallEvent:
    return services.InvalidCallEvent(
        _("%(field)s holds a NUL character or an unpaired surrogate.") % {"field": field},
        field=field,
    )


def _call_id(value) -> str:
    call_id = str(value or "")
    if len(call_id.strip()) > CALL_ID_MAX_LENGTH:
        raise services.InvalidCallEvent(
            _("The call id is longer than %(length)d characters.") % {"length": CALL_ID_MAX_LENGTH},
            field="call_id",
        )
    return call_id


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


_pbx_token_cache: dict[str, tuple[float, Pbx]] = {}


def pbx_cache_clear() -> None:
    """Forget the PBXes this process read for the webhook: call it after writing a PBX."""
    with _pbx_cache_lock:
        _pbx_cache.clear()
        _pbx_token_cache.clear()


def pbx_for_token(token: str) -> Pbx | None:
    """The active PBX whose token is ``token`` (compared in constant time), cached like the
    webhook's PBX: for other apps' machine endpoints that a PBX calls with its token (the
    outages app's voice-menu announcement)."""
    if not token or len(token) > 64:
        return None
    now = time.monotonic()
    cached = _pbx_token_cache.get(token)
    if cached is not None and now - cached[0] < PBX_CACHE_SECONDS:
        return cached[1]
    pbx = Pbx.objects.filter(token=token, is_active=True).first()
    if pbx is None or not hmac.compare_digest(pbx.token, token):
        return None
    with _pbx_cache_lock:
        _pbx_token_cache[token] = (now, pbx)
    return pbx


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
    data: dict = {}
    try:
        data = _json_object(request.body)
        direction = _DIRECTIONS.get(str(data.get("direction") or "inbound"))
        if direction is None:
            raise services.InvalidCallEvent(_("Invalid direction!"), field="direction")
        event = services.PbxEvent(
            kind=str(data.get("event") or data.get("kind") or ""),
            call_id=_call_id(data.get("call_id") or data.get("callId")),
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
        data = _json_object(request.body)
        data["user"] = _as_list(data.get("user")) + _as_list(data.pop("user[]", None))
        return data
    data = {key: request.POST.get(key) for key in request.POST if not key.endswith("[]")}
    data["user"] = _as_list(request.POST.getlist("user") + request.POST.getlist("user[]"))
    _storable_check(data)
    return data


@machine_endpoint
@csrf_exempt
@require_POST
def zammad_event(request: HttpRequest, token: str) -> JsonResponse:
    """The Zammad generic CTI endpoint, so PBXes set up for Zammad work unchanged."""
    pbx, refused = _zammad_pbx(request, token, what="event")
    if refused is not None:
        return refused
    params: dict = {}
    try:
        params = _zammad_params(request)
        direction = _ZAMMAD_DIRECTIONS.get(str(params.get("direction") or ""))
        if direction is None:
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
            call_id=_call_id(params.get("callId") or params.get("call_id")),
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
    if pbx_event.kind == CallEvent.Kind.RING and direction == "outbound":
        # Zammad's outbound caller ID: the number to present, by the dialled number.
        caller_id = selectors.outbound_caller_id(pbx=pbx, number=pbx_event.called)
        if caller_id:
            return JsonResponse(
                {"action": "dial", "caller_id": caller_id, "number": pbx_event.called}
            )
    return JsonResponse({})


def _zammad_pbx(request: HttpRequest, token: str, *, what: str):
    """The active PBX of ``token``, or the answer refusing the request: 401 for a token no
    PBX has, 422 saying the connection is disabled for an inactive PBX (as Zammad answers
    while its CTI integration is switched off)."""
    pbx = Pbx.objects.filter(token=token).first()
    if pbx is None:
        logger.warning("CTI Zammad %s refused from %s: invalid token", what, _client(request))
        error = _("Invalid token, please contact your admin!")
        return None, JsonResponse({"error": error}, status=401)
    if not pbx.is_active:
        logger.warning(
            "CTI Zammad %s refused from %s: the PBX connection %s (id %s) is disabled",
            what,
            _client(request),
            pbx.name,
            pbx.pk,
        )
        error = _("Feature is disabled, please contact your administrator!")
        return None, JsonResponse({"error": error}, status=422)
    return pbx, None


@machine_endpoint
@require_GET
def route(request: HttpRequest, token: str) -> HttpResponse:
    """Where the PBX should send a caller: sticky agent, VIP queue or the default queue."""
    pbx, refused = _zammad_pbx(request, token, what="routing hint")
    if refused is not None:
        return refused
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
    ApiViewMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
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
