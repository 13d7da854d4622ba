"""The Jinja2 environment for the few templates rendered on a latency-critical path.

Every page and e-mail is a Django template. A template that is rendered for every incoming
event is written for Jinja2 instead (``<app>/jinja2/``): the console's call card is rendered
on every ring, and Django's template language spent about 0.6 ms of CPU on it against
about 0.2 ms for the same card compiled by Jinja2 (bench/cti_ring_cpu.py, docs/cti.md).

Such templates translate with ``_("...")`` only: Django's makemessages reads that form in
``.html`` files like any template, so their strings land in the app's catalogue as usual.
Autoescaping is on, as in Django templates.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import get_language, gettext, override
from jinja2 import Environment

_BETWEEN_TAGS = re.compile(r">\s+<")


def date(value: datetime | None, format_name: str) -> str:
    """Django's ``date`` filter: ``value`` in the current time zone, in a format of the
    active language (``"SHORT_DATE_FORMAT"``) or a format string."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, format_name)


@functools.lru_cache(maxsize=4096)
def _translated(language: str | None, message: str) -> str:
    with override(language):
        return gettext(message)


def translate(message: str) -> str:
    """``gettext`` for templates: a message looked up once per language and process (the
    catalogues are loaded once per process; Django's lookup is most of a card's cost)."""
    return _translated(get_language(), message)


def spaceless(html: str) -> str:
    """Django's ``{% spaceless %}``: no whitespace between tags."""
    return _BETWEEN_TAGS.sub("><", html).strip()


def environment(**options) -> Environment:
    options.pop("autoescape", None)  # always on, whatever the settings say
    env = Environment(autoescape=True, **options)
    env.globals["_"] = translate
    env.filters["date"] = date
    return env
