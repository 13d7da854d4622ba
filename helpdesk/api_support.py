"""Shared pieces of the REST API: pagination and error answers.

Errors always come back as JSON naming what is wrong: 400 with the field, 404 for what the
user may not see, 409 for conflicts and illegal transitions. Never a 500 for bad input.
"""

from __future__ import annotations

from django.http import Http404
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


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = ApiPaginator

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
