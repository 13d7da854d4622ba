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
    active language (``"SHORT_DATE_FORMAT"``) or a format string.

    The queue's rows format four dates each (200 a page): Django's formatter looks the format
    up and walks it character by character on every call (~50 us). The format is compiled
    once per language instead (:func:`_compiled`), with the same output (tests/helpdesk/
    test_jinja_dates.py compares the two); a format with a character it does not know is
    left to Django."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    if format_name == "c":
        return value.isoformat()
    compiled = _compiled(get_language(), format_name)
    if compiled is None:
        return formats.date_format(value, format_name)
    return compiled(value)


def _twelve_hour(value: datetime) -> str:
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d}" if value.minute else str(hour)


# Django's format characters compiled here, each to a function of the datetime (or, for the
# ones whose words depend on the language, of the datetime and the words).
_CODES = {
    "d": lambda value, words: f"{value.day:02d}",
    "j": lambda value, words: str(value.day),
    "m": lambda value, words: f"{value.month:02d}",
    "n": lambda value, words: str(value.month),
    "Y": lambda value, words: f"{value.year:04d}",
    "y": lambda value, words: f"{value.year % 100:02d}",
    "H": lambda value, words: f"{value.hour:02d}",
    "G": lambda value, words: str(value.hour),
    "i": lambda value, words: f"{value.minute:02d}",
    "s": lambda value, words: f"{value.second:02d}",
    "a": lambda value, words: words["p.m."] if value.hour > 11 else words["a.m."],
    "A": lambda value, words: words["PM"] if value.hour > 11 else words["AM"],
    "P": lambda value, words: (
        words["midnight"]
        if (value.hour, value.minute) == (0, 0)
        else words["noon"]
        if (value.hour, value.minute) == (12, 0)
        else f"{_twelve_hour(value)} {words['p.m.'] if value.hour > 11 else words['a.m.']}"
    ),
}


@functools.lru_cache(maxsize=256)
def _compiled(language: str | None, format_name: str):
    """``format_name`` (a named format or a format string) of ``language`` as one function
    of a datetime, or None when it uses a character :data:`_CODES` does not know."""
    with override(language):
        pattern = formats.get_format(format_name)
        words = {word: gettext(word) for word in ("a.m.", "p.m.", "AM", "PM", "midnight", "noon")}
    pieces: list = []
    escaped = False
    for char in pattern:
        if escaped:
            pieces.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _CODES:
            pieces.append(_CODES[char])
        elif char.isalpha():
            return None
        else:
            pieces.append(char)

    def formatted(value: datetime) -> str:
        return "".join(piece if isinstance(piece, str) else piece(value, words) for piece in pieces)

    return formatted


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
