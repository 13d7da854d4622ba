"""Phone number normalisation with ``phonenumbers``.

Every number the help desk stores or looks up goes through :func:`normalize_phone`, so a
caller ID from the PBX (``0048 22 123 45 67``, ``+48221234567``, ``(22) 123-45-67``) and the
number typed into a person's profile meet at the same E.164 string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings

# Short internal extensions (2-6 digits) are not E.164 numbers; they are stored as "ext:1234".
EXTENSION_PATTERN = re.compile(r"^\d{2,6}$")
_SEPARATORS = re.compile(r"[\s\-./()]+")
_WITHHELD = {"", "anonymous", "unknown", "private", "withheld", "restricted", "unavailable"}


class InvalidPhoneNumber(ValueError):
    """The text cannot be read as a phone number or internal extension."""


@dataclass(frozen=True)
class NormalizedPhone:
    e164: str  # "+48221234567", or "ext:1234" for an internal extension
    extension: str = ""  # the "ext. 12" part of a full number, when given

    @property
    def is_internal(self) -> bool:
        return self.e164.startswith("ext:")


def is_withheld(raw: str | None) -> bool:
    """Whether a caller ID says the caller hid their number."""
    return raw is None or raw.strip().lower() in _WITHHELD


def normalize_phone(raw: str, *, region: str | None = None) -> NormalizedPhone:
    """Read ``raw`` as a phone number and return its normalised form.

    Accepts national and international forms, the ``00`` international prefix, spaces,
    dashes, dots, slashes and brackets, an extension (``ext. 12``, ``x12``, ``#12``) and short
    internal extensions. Raises :class:`InvalidPhoneNumber` otherwise.
    """
    if is_withheld(raw):
        raise InvalidPhoneNumber(raw)
    text = raw.strip()
    compact = _SEPARATORS.sub("", text)
    if EXTENSION_PATTERN.match(compact):
        return NormalizedPhone(e164=f"ext:{compact}")
    if compact.startswith("00"):
        text = "+" + compact[2:]
    region = region or settings.PHONE_DEFAULT_REGION
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(raw) from error
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(raw)
    return NormalizedPhone(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        extension=parsed.extension or "",
    )


def normalize_phone_or_none(raw: str | None, *, region: str | None = None) -> str | None:
    """The E.164 (or ``ext:``) key for ``raw``, or None when it is not a number."""
    try:
        return normalize_phone(raw or "", region=region).e164
    except InvalidPhoneNumber:
        return None


def format_phone(e164: str) -> str:
    """A readable international form for display (``+48 22 123 45 67``)."""
    if e164.startswith("ext:"):
        return e164[4:]
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164
