"""Phone number normalisation with ``phonenumbers``.

Every number the help desk stores or looks up goes through :func:`normalize_phone`, so a
caller ID from the PBX (``0048 22 123 45 67``, ``+48221234567``, ``(22) 123-45-67``) and the
number typed into a person's profile meet at the same E.164 string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

# Short internal extensions (2-6 digits) are not E.164 numbers; they are stored as "ext:1234".
EXTENSION_PATTERN = re.compile(r"^\d{2,6}$")
# A bare extension written out: "ext. 12", "x12", "wew. 12" (Polish), "#12".
_BARE_EXTENSION = re.compile(r"^(?:ext|extension|x|wew|#)[.:]?(\d{1,6})$", re.IGNORECASE)
# The marker that separates a number from its extension, as phonenumbers reads it.
_EXTENSION_MARKER = re.compile(r"(?:ext|extension|x|wew|#)[.:]?\s*\d{1,6}\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-./()]+")
# "+48 (0) 22 ..." is the European way of showing the trunk prefix; it is not dialled.
_TRUNK_IN_BRACKETS = re.compile(r"^(\+\d{1,3})\s*\(0\)")
_WITHHELD = {"", "anonymous", "unknown", "private", "withheld", "restricted", "unavailable"}


class InvalidPhoneNumber(ValueError):
    """The text cannot be read as a phone number or internal extension.

    ``message`` says why in the reader's language; ``raw`` is the text as given.
    """

    def __init__(self, raw, message=None):
        self.raw = raw
        if message is None:
            message = _("“%(number)s” is not a valid phone number.") % {"number": raw or ""}
        self.message = str(message)
        super().__init__(self.message)


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


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def normalize_phone(raw: str, *, region: str | None = None) -> NormalizedPhone:
    """Read ``raw`` as a phone number and return its normalised form.

    Accepts national and international forms, the ``00`` international prefix, an
    international number without its prefix when the digits are no valid national number
    of ``region`` (``491715000000``: the national reading wins when both are valid), spaces,
    dashes, dots, slashes and brackets, an extension (``ext. 12``, ``x12``, ``#12``), short
    internal extensions (``1234``, ``ext. 12``) and a national number written with the old
    trunk ``0`` (``022 123 45 67``, ``+48 (0) 22 ...``). Raises :class:`InvalidPhoneNumber`
    with a readable message otherwise, also for a withheld number.
    """
    if is_withheld(raw):
        raise InvalidPhoneNumber(raw, _("The number is withheld or empty."))
    # A "tel:" URI (RFC 3966), as some PBXs and directories write numbers.
    text = re.sub(r"^tel:", "", raw.strip(), flags=re.IGNORECASE)
    compact = _SEPARATORS.sub("", text)
    if EXTENSION_PATTERN.match(compact):
        return NormalizedPhone(e164=f"ext:{compact}")
    bare = _BARE_EXTENSION.match(compact)
    if bare:
        return NormalizedPhone(e164=f"ext:{bare.group(1)}")
    # Letters outside an extension marker are a typo, not a vanity number to translate.
    if re.search(r"[^\d+\s\-./()]", _EXTENSION_MARKER.sub("", text)):
        raise InvalidPhoneNumber(raw)
    text = _TRUNK_IN_BRACKETS.sub(r"\1", text)
    # phonenumbers knows "ext." but not the Polish "wew." (wewnętrzny).
    text = re.sub(r"\bwew[.:]?\s*(?=\d)", " ext. ", text, flags=re.IGNORECASE)
    if compact.startswith("00"):
        text = "+" + text.lstrip()[2:].lstrip(" -./")
    region = region or settings.PHONE_DEFAULT_REGION
    parsed = _parse(text, region)
    if parsed is None and not text.startswith("+"):
        digits = _SEPARATORS.sub("", _EXTENSION_MARKER.sub("", text))
        if digits.startswith("0") and not digits.startswith("00"):
            # An old national form with a trunk 0 in a country that no longer dials one.
            parsed = _parse(text.replace("0", "", 1), region)
        elif digits.isdigit():
            # No national number here: the international form without "+" or "00" that
            # many PBXes send (491715000000), if its leading digits are a country code.
            parsed = _parse("+" + text.lstrip(), region)
    if parsed is None:
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


@functools.lru_cache(maxsize=4096)
def format_phone(e164: str) -> str:
    """A readable international form for display (``+48 22 123 45 67``); remembered per
    process, as each ring's card shows its caller's number."""
    if e164.startswith("ext:"):
        return e164[4:]
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164
