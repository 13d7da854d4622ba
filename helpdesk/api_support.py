"""Shared pieces of the REST API: pagination and error answers.

Errors always come back as JSON naming what is wrong: 400 with the field, 404 for what the
user may not see, 409 for conflicts and illegal transitions. Never a 500 for bad input.
"""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from helpdesk import errors
from helpdesk.errors import ConflictError, TransitionNotAllowedError
from helpdesk.paging import CappedPaginator


class ApiPaginator(CappedPaginator):
    cap = 10_000


def query_integer(request, name: str, *, maximum: int) -> int | None:
    """The query parameter ``name`` as an integer from 1 to ``maximum``; None when absent.

    Anything else is a 400 naming the parameter (``?page_size=abc`` is not quietly the
    default)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    field = forms.IntegerField(min_value=1, max_value=maximum)
    if not re.fullmatch(r"[0-9]{1,19}", raw):
        raise ValidationError({name: [field.error_messages["invalid"]]})
    try:
        return field.clean(raw)
    except DjangoValidationError as exc:
        raise ValidationError({name: exc.messages}) from None


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = ApiPaginator
    # Past the cap no page has rows; a larger number is bad input, not a 404.
    max_page = ApiPaginator.cap
    last_page_strings = ()

    def get_page_size(self, request):
        size = query_integer(request, self.page_size_query_param, maximum=self.max_page_size)
        return size or self.page_size

    def get_page_number(self, request, paginator):
        return query_integer(request, self.page_query_param, maximum=self.max_page) or 1

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: self.max_page,
            self.page_size_query_param: self.max_page_size,
        }
        for parameter in parameters:
            if parameter["name"] in bounds:
                parameter["schema"].update(minimum=1, maximum=bounds[parameter["name"]])
        return parameters

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_is_exact"] = not self.page.paginator.more
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count"]["description"] = (
            "Number of results, at most 10000 (see count_is_exact)."
        )
        schema["properties"]["count_is_exact"] = {
            "type": "boolean",
            "description": "False when there are more results than the count says.",
        }
        return schema


def exception_handler(exc, context):
    if isinstance(exc, ConflictError):
        return Response(
            {"detail": exc.message, "code": "conflict", "current_version": exc.current_version},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, TransitionNotAllowedError):
        return Response(
            {
                "detail": exc.message,
                "code": "transition_not_allowed",
                "transition": exc.transition,
                "state": exc.state,
                "allowed_transitions": exc.allowed,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, errors.ValidationError):
        if hasattr(exc, "error_dict"):
            exc = ValidationError(exc.message_dict)
        else:
            exc = ValidationError({"non_field_errors": exc.messages})
    elif isinstance(exc, errors.PermissionDenied):
        exc = PermissionDenied()
    elif isinstance(exc, Http404):
        pass
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """The project's 404: JSON under the API (``/api/``, ``/cti/api/``), as every answer of
    the API is, the usual page elsewhere. An id that no route matches (``/api/groups/x/``)
    is answered like a record that does not exist."""
    if "/api/" in request.path:
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
