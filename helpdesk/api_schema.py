"""The OpenAPI schema's view of the API: the error answers every operation documents.

Separate from ``api_support`` because drf-spectacular's AutoSchema imports DRF's generic
views, which import the pagination class named in the settings (``api_support``).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# A 400 names each field with its messages; an unreadable body has a ``detail`` instead.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Each key names a field (or non_field_errors) and lists its messages.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}

_OPEN_PERMISSIONS = (permissions.AllowAny, permissions.IsAuthenticated)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error answers every operation can give.

    An operation documents what it declares itself (``extend_schema(responses=...)``) and
    what follows from how it is built: 401 for a wrong or expired token, 400 where it reads
    input, 403 where a permission or the session's CSRF check can refuse, 404 where the path
    names a record or a list pages, 415 where it reads a body, 429 where it is throttled.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        view = self.view
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_path = "{" in self.path
        listing = self._is_list_view()
        paginated = listing and view.paginator is not None
        filtered = listing and bool(getattr(view, "filterset_class", None))
        restricted = any(
            type(permission) not in _OPEN_PERMISSIONS for permission in view.get_permissions()
        )
        csrf_checked = self.method not in permissions.SAFE_METHODS and any(
            issubclass(authentication, SessionAuthentication)
            for authentication in view.authentication_classes
        )
        errors = {
            "400": has_body or filtered or paginated,
            "401": True,
            "403": restricted or csrf_checked,
            "404": has_path or paginated,
            "415": has_body,
            "429": bool(view.get_throttles()),
        }
        for code, applies in errors.items():
            if applies and code not in responses:
                responses[code] = self._error_response(code)
        return dict(sorted(responses.items()))

    def _error_response(self, code: str) -> dict:
        if code == "400":
            component = ResolvedComponent(
                name="ValidationError",
                type=ResolvedComponent.SCHEMA,
                object="ValidationError",
                schema=VALIDATION_ERROR_SCHEMA,
            )
            self.registry.register_on_missing(component)
            return {
                "content": {"application/json": {"schema": component.ref}},
                "description": "The input is wrong; each field is named.",
            }
        return self._get_response_for_code(ErrorSerializer, code)
