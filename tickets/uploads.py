"""Recognise an upload's type from its content, never from its name."""

from __future__ import annotations

from dataclasses import dataclass

import filetype
from django.conf import settings
from django.utils.translation import gettext_lazy as _

_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        if error.start < len(head) - 4:
            try:
                head.decode("cp1250")
            except UnicodeDecodeError:
                return False
    return True


def detect_content_type(head: bytes, name: str = "") -> str:
    """The MIME type of a file whose first bytes are ``head``.

    Binary formats are told by their magic numbers (``filetype``). Office documents are zip
    files; their first entry names tell which kind. Text is anything that decodes as UTF-8
    or Windows-1250 with no NUL bytes; HTML and SVG are refused as text because a browser
    would run their scripts.
    """
    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime == "application/zip":
            for marker, mime in _OOXML.items():
                if marker.encode() in head:
                    return mime
        return kind.mime
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if _looks_like_text(head):
        lowered = head[:1024].lower().lstrip()
        if (
            lowered.startswith((b"<!doctype html", b"<html", b"<svg", b"<?xml"))
            or b"<script" in lowered
        ):
            return "text/html"
        if head.startswith(
            (b"Received:", b"Return-Path:", b"From:", b"Message-ID:", b"MIME-Version:")
        ):
            return "message/rfc822"
        if name.lower().endswith(".csv"):
            # Only a text file can be CSV; the name picks between two text types.
            return "text/csv"
        return "text/plain"
    return "application/octet-stream"


# At most this many files in one upload field (a form's, as the API's one file per request).
MAX_FILES = 10

# What people call the allowed types, and the file name endings a file picker offers for
# them (the ``accept`` attribute: a hint for the picker; the server still checks the content).
_TYPE_NAMES = {
    "image/png": ("PNG", ".png"),
    "image/jpeg": ("JPEG", ".jpg,.jpeg"),
    "image/gif": ("GIF", ".gif"),
    "image/webp": ("WebP", ".webp"),
    "application/pdf": ("PDF", ".pdf"),
    "text/plain": (_("text"), ".txt,.log"),
    "text/csv": ("CSV", ".csv"),
    "application/zip": ("ZIP", ".zip"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "Word (.docx)",
        ".docx",
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (
        "Excel (.xlsx)",
        ".xlsx",
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "PowerPoint (.pptx)",
        ".pptx",
    ),
    "application/vnd.oasis.opendocument.text": ("ODT", ".odt"),
    "application/vnd.oasis.opendocument.spreadsheet": ("ODS", ".ods"),
    "message/rfc822": (_("e-mail (.eml)"), ".eml"),
}


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may be, as the forms tell people before they choose files."""

    type_names: tuple[str, ...]
    accept: str  # for <input type="file" accept="...">
    max_bytes: int
    max_files: int


def upload_limits() -> UploadLimits:
    """The allowed types (``ATTACHMENT_ALLOWED_TYPES``) and size (``ATTACHMENT_MAX_BYTES``)
    as read now from the settings; a type without a known name is shown as its MIME type."""
    names, accept = [], []
    for mime in settings.ATTACHMENT_ALLOWED_TYPES:
        name, endings = _TYPE_NAMES.get(mime, (mime, ""))
        names.append(str(name))
        accept += [mime, *filter(None, endings.split(","))]
    return UploadLimits(
        type_names=tuple(dict.fromkeys(names)),
        accept=",".join(dict.fromkeys(accept)),
        max_bytes=settings.ATTACHMENT_MAX_BYTES,
        max_files=MAX_FILES,
    )
