"""The voice menu's question before it routes a call, for the PBX.

``GET /api/v1/ivr/announcement?from=<caller number>[&service=<service>]``, authenticated
as the PBX's other requests: its token in ``X-Helpdesk-Token`` (or ``?token=`` for dial
plans that cannot set headers). Answers:

- 200 ``text/plain``: the text to speak, in the caller's language; with
  ``Accept: application/json``: ``{"text", "language", "outages": [ids],
  "expected_end": ISO 8601 of the latest expected end or null}``;
- 204 No Content: nothing affects this caller;
- 401 for a token no active PBX has; 400 for a parameter over its bound.

In the call path: a plain Django view served by the lean machine handler, one indexed query
(the people with the number, as ``helpdesk.selectors.people_by_e164`` finds them, written
out; none for a withheld number) and the per-process snapshot of active outages
(``outages.selectors``); the PBX is cached per process as for the webhook.
"""

from __future__ import annotations

import functools
import json
import logging

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cti import api as cti_api
from helpdesk.endpoints import machine_endpoint
from helpdesk.models import Person, PhoneNumber
from helpdesk.phones import is_withheld, normalize_phone_or_none
from outages import selectors

logger = logging.getLogger(__name__)

NUMBER_MAX = 64
SERVICE_MAX = 120


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _people(number: str) -> list[tuple[int | None, str]]:
    """(site id, language) of the active people with ``number``: one indexed query."""
    if not number or is_withheld(number):
        return []
    e164 = normalize_phone_or_none(number)
    if e164 is None:
        return []
    # The query helpdesk.selectors.people_by_e164 makes (a subquery on the indexed number),
    # written out: compiling it through the ORM cost more CPU than running it.
    with connection.cursor() as cursor:
        cursor.execute(_people_sql(), [e164])
        return cursor.fetchall()


@functools.cache
def _people_sql() -> str:
    person, phone = Person._meta, PhoneNumber._meta
    column = connection.ops.quote_name
    # Only quoted names of the models are formatted in; the number is a parameter.
    return (
        f"SELECT {column(person.get_field('site').column)}, "  # noqa: S608
        f"{column(person.get_field('language').column)} FROM {column(person.db_table)} "
        f"WHERE {column(person.get_field('is_active').column)} "
        f"AND {column(person.pk.column)} IN (SELECT {column(phone.get_field('person').column)} "
        f"FROM {column(phone.db_table)} WHERE {column(phone.get_field('e164').column)} = %s) "
        f"ORDER BY {column(person.pk.column)} LIMIT 10"
    )


@machine_endpoint
@require_GET
def ivr_announcement(request: HttpRequest) -> HttpResponse:
    """What the voice menu says to this caller about the active outages, or 204."""
    token = request.headers.get(cti_api.TOKEN_HEADER, "") or request.GET.get("token", "")
    if cti_api.pbx_for_token(token) is None:
        logger.warning(
            "IVR announcement refused from %s: bad or missing token",
            request.META.get("REMOTE_ADDR", "?"),
        )
        return JsonResponse({"error": _("Invalid token, please contact your admin!")}, status=401)
    number = request.GET.get("from", "")
    service = request.GET.get("service", "")
    if len(number) > NUMBER_MAX or len(service) > SERVICE_MAX:
        field = "from" if len(number) > NUMBER_MAX else "service"
        return JsonResponse({"error": _("Too long."), "field": field}, status=400)
    snapshot = selectors.active_snapshot()
    if not snapshot.outages:
        return HttpResponse(status=204)
    service = service.strip()
    people = _people(number.strip())
    outages = selectors.outages_for_caller(
        people=people,
        service_id=snapshot.service_id(service) if service else None,
        service_given=bool(service),
    )
    if not outages:
        return HttpResponse(status=204)
    language = selectors.language_for([language for _site, language in people])
    text = selectors.announcement_text(outages, language)
    if _wants_json(request):
        ends = [outage.expected_end for outage in outages if outage.expected_end is not None]
        body = {
            "text": text,
            "language": language,
            "outages": [outage.pk for outage in outages],
            "expected_end": max(ends).isoformat() if ends else None,
        }
        response = HttpResponse(
            json.dumps(body, ensure_ascii=False), content_type="application/json"
        )
    else:
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["Content-Language"] = language
    # The lean handler has no CommonMiddleware to set it: without it the answer is framed
    # in chunks.
    response["Content-Length"] = str(len(response.content))
    return response
