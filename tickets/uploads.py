"""Recognise an upload's type from its content, never from its name."""

from __future__ import annotations

import filetype

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
