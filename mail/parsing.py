"""Reading incoming mail: raw bytes in, plain data out.

No database and no models here. Real mail is often broken (wrong or unregistered charsets,
8-bit headers, lost folding, invalid transfer encodings, missing boundaries), so every reader
in this module is lenient: it takes what can be read and never raises for a mail that is odd
but readable. Only `parse_message` raises, with `MailParseError`, when there is nothing that
looks like a mail at all.

Headers are decoded here rather than by the `email` package's header registry: that one
raises on broken headers and gives up on encoded words that real mailers break (spaces or
commas inside, unregistered charsets). The MIME structure and transfer encodings are left to
`email.parser.BytesParser` with a compat32 policy that hands header values back untouched.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import html as html_module
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum
from html.parser import HTMLParser

import nh3

DEFAULT_MAX_ATTACHMENTS = 30
# Nesting deeper than this is not a mail but an attack on the parser.
MAX_DEPTH = 30


class MailParseError(ValueError):
    """Nothing usable could be read from the bytes given as a mail."""


@dataclass(frozen=True)
class Address:
    name: str
    address: str  # as written, stripped; "" when unusable


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    is_inline: bool = False


@dataclass
class BounceInfo:
    failed_recipients: list[str]
    original_message_id: str
    original_references: list[str]
    status: str = ""
    diagnostic: str = ""
    is_permanent: bool = True


class AutoKind(StrEnum):
    NONE = ""
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    BULK = "bulk"


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: Address
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    text: str
    html: str
    attachments: list[ParsedAttachment]
    auto_kind: AutoKind
    bounce: BounceInfo | None
    loop_ids: list[str]
    is_signed: bool
    is_encrypted: bool
    date: datetime | None
    dropped_attachments: int = 0


# ---------------------------------------------------------------------------
# Charsets


# Names seen in real mail that Python does not know, or knows as a narrower charset than the
# one mailers actually use under that name (GB2312 mail is usually GBK, ISO-8859-1 usually
# windows-1252, as browsers assume too).
_CHARSET_ALIASES = {
    "iso-gb2312": "gb18030",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "x-euc-cn": "gb18030",
    "euc-cn": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "x-gb2312": "gb18030",
    "big5-hkscs": "big5hkscs",
    "x-big5": "big5",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "unicode-2-0-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf7": "utf-7",
    "utf8": "utf-8",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "unicode": "utf-16",
    "x-user-defined": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "koi8-ru": "koi8-u",
}
# Charsets that are labels rather than information: mail says them while sending anything.
_VAGUE_CHARSETS = {"cp1252", "utf-8"}


def _codec_for(charset: str | None) -> str | None:
    """The Python codec for a charset name from a mail, or None when it is unusable."""
    if not charset:
        return None
    name = str(charset).strip().strip("\"'").strip().lower()
    if not name or len(name) > 40:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    if name.startswith("x-") and _lookup(name) is None:
        name = _CHARSET_ALIASES.get(name[2:], name[2:])
    if name.startswith("windows-") and name[8:].isdigit():
        name = "cp" + name[8:]
    return _lookup(name)


def _lookup(name: str) -> str | None:
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # Codecs such as base64 or rot13 are not text encodings.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _fallback_handler(error: UnicodeError) -> tuple[str, int]:
    """Bytes that do not decode are read as windows-1252 (latin-1 where that has a hole)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chunk = error.object[error.start : error.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in chunk), error.end


codecs.register_error("helpdesk-mail-fallback", _fallback_handler)

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_GB_RUN = re.compile(rb"[\x80-\xff]+")


def _looks_like_gb2312(data: bytes) -> bool:
    """Every run of 8-bit bytes is whole GB2312 pairs (both bytes in A1-FE)."""
    runs = _GB_RUN.findall(data)
    return bool(runs) and all(
        len(run) % 2 == 0 and all(0xA1 <= b <= 0xFE for b in run) for run in runs
    )


def decode_bytes(data: bytes, charset: str | None = None, *, hints: tuple[str, ...] = ()) -> str:
    """Text from bytes whose declared charset may be wrong, unregistered or missing.

    Valid UTF-8 wins over a declared legacy charset (a wrongly labelled UTF-8 text is far more
    common than legacy text that happens to be valid UTF-8); text that is neither decodes as
    UTF-8 with the broken bytes read as windows-1252, so nothing is lost.
    """
    codec = _codec_for(charset)
    if not _HIGH_BYTE.search(data):
        if codec and codec not in ("utf-16", "utf-32", "utf-16-le", "utf-16-be"):
            with contextlib.suppress(UnicodeError, LookupError):
                return data.decode(codec)
        return data.decode("ascii", errors="replace")
    if codec and codec.startswith(("utf-16", "utf-32")):
        with contextlib.suppress(UnicodeError):
            return data.decode(codec)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [codec] if codec else []
    candidates += [c for c in (_codec_for(h) for h in hints) if c and c not in _VAGUE_CHARSETS]
    if not codec and _looks_like_gb2312(data):
        candidates.append("gb18030")
    for candidate in candidates:
        if candidate == "utf-8":
            continue
        with contextlib.suppress(UnicodeError, LookupError):
            return data.decode(candidate)
    return data.decode("utf-8", errors="helpdesk-mail-fallback")


def _unescape_surrogates(value: str) -> bytes:
    """The original bytes of a header value the parser read as ASCII with surrogate escapes."""
    return value.encode("ascii", errors="surrogateescape")


def _header_text(value: str, hints: tuple[str, ...] = ()) -> str:
    """A raw header value as text: 8-bit bytes decoded (headers declare no charset)."""
    try:
        raw = _unescape_surrogates(value)
    except UnicodeEncodeError:
        return value
    if not _HIGH_BYTE.search(raw):
        return value
    return decode_bytes(raw, hints=hints)


# ---------------------------------------------------------------------------
# RFC 2047 encoded words


# Lenient: the text may hold spaces or commas (broken mailers), never a quote or angle bracket.
_ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^?\s\"<>]{1,60})\?(?P<encoding>[QqBb])\?(?P<text>[^?\"<>\r\n]*?)\?="
)
_WORD_NO_GROUPS = r"=\?[^?\s\"<>]{1,60}\?[QqBb]\?[^?\"<>\r\n]*?\?="
_ENCODED_RUN = re.compile(rf"{_WORD_NO_GROUPS}(?:\s*{_WORD_NO_GROUPS})*")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")


def _decode_word_bytes(encoding: str, text: str) -> bytes:
    raw = text.encode("ascii", errors="surrogateescape")
    if encoding.lower() == "q":
        return _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw.replace(b"_", b" "))
    compact = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
    compact = compact[: len(compact) - len(compact) % 4] if len(compact) % 4 == 1 else compact
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        return raw


def _decode_run(run: str) -> str:
    """Adjacent encoded words: whitespace between them dropped, bytes of one charset joined
    before decoding (a multibyte character may be split across two words)."""
    pieces: list[tuple[str, bytes]] = []
    for match in _ENCODED_WORD.finditer(run):
        charset = match.group("charset").split("*", 1)[0]  # RFC 2231 language suffix
        data = _decode_word_bytes(match.group("encoding"), match.group("text"))
        if pieces and pieces[-1][0].lower() == charset.lower():
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + data)
        else:
            pieces.append((charset, data))
    return "".join(decode_bytes(data, charset) for charset, data in pieces)


def decode_header_text(value: str, hints: tuple[str, ...] = ()) -> str:
    """Unstructured header text (Subject, a display name) with encoded words decoded."""
    text = _header_text(_unfold(value), hints)
    return _ENCODED_RUN.sub(lambda m: _decode_run(m.group(0)), text)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n|\r", "", value)


def _tidy(value: str) -> str:
    return " ".join(value.split())


# ---------------------------------------------------------------------------
# Addresses and ids


def _decode_address_header(value: str, hints: tuple[str, ...]) -> str:
    """An address header with encoded words replaced by quoted strings, so that a comma in
    a decoded name (or in a broken encoded word) does not split the list."""
    text = _header_text(_unfold(value), hints)
    out: list[str] = []
    in_quotes = False
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and in_quotes:
            out.append(text[position : position + 2])
            position += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
        elif char == "=" and text.startswith("=?", position):
            match = _ENCODED_RUN.match(text, position)
            if match:
                decoded = _decode_run(match.group(0))
                escaped = decoded.replace("\\", "\\\\").replace('"', '\\"')
                out.append(escaped if in_quotes else f'"{escaped}"')
                position = match.end()
                continue
        out.append(char)
        position += 1
    return "".join(out)


def _is_usable_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local.strip() and domain.strip())


def parse_addresses(values: list[str], hints: tuple[str, ...] = ()) -> list[Address]:
    """Addresses from the raw values of an address header (To, Cc, From...)."""
    result: list[Address] = []
    for value in values:
        decoded = _decode_address_header(value, hints)
        try:
            pairs = getaddresses([decoded])
        except Exception:
            pairs = []
        for name, address in pairs:
            address = address.strip()
            if not _is_usable_address(address):
                address = ""
            name = _tidy(name)
            if not name and not address:
                continue
            result.append(Address(name=name, address=address))
        if not pairs or not any(a.address for a in result):
            # The stdlib gives up on some broken forms; take a bare address where one stands.
            bare = re.search(r"[^\s<>\"(),;:]+@[^\s<>\"(),;:]+", decoded)
            if bare and not any(a.address for a in result):
                result.append(Address(name="", address=bare.group(0)))
    return result


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def parse_ids(value: str) -> list[str]:
    """Message ids from In-Reply-To or References, without angle brackets."""
    value = _unfold(value)
    ids = _MESSAGE_ID.findall(value)
    if not ids:
        # Some mailers leave the brackets out.
        ids = [token for token in value.split() if "@" in token]
    return [i.strip("<>") for i in ids if i.strip("<>")]


def _single_id(value: str) -> str:
    ids = parse_ids(value)
    if ids:
        return ids[0]
    return _unfold(value).strip().strip("<>").strip()


# ---------------------------------------------------------------------------
# Reading the bytes


class _RawHeaders(Compat32):
    """compat32, but header values come back as the raw strings they were parsed from, never
    as `Header` objects (which break the parameter helpers when a header holds 8-bit bytes)."""

    def header_fetch_parse(self, name, value):
        return _unfold(value)


class _ParsingPolicy(_RawHeaders):
    """While parsing: message/* parts are kept as bytes rather than parsed into messages, so
    a forwarded mail or a delivery report is attached exactly as it came."""

    def header_fetch_parse(self, name, value):
        value = _unfold(value)
        if name.lower() == "content-type" and value.lstrip().lower().startswith("message/"):
            return "application/x-helpdesk-kept-" + value.lstrip()[len("message/") :]
        return value


_POLICY = _RawHeaders(linesep="\n")
_PARSING_POLICY = _ParsingPolicy(linesep="\n")
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}[ \t]*:")
_MBOX_FROM = re.compile(rb"^>?From \S")


def _split_lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _repair(raw: bytes) -> bytes:
    """Tolerate what precedes the headers and headers that lost their folding whitespace.

    An mbox "From " line or a stray line or two before the first header (a copy pasted out of
    another program) is dropped. Within the header block, a line that is neither a header nor
    a continuation was meant as a continuation (its leading whitespace was lost on the way),
    and is indented again so the rest of the headers are not taken as the body.
    """
    lines = _split_lines(raw[: 256 * 1024])
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    skipped = 0
    while (
        start < len(lines)
        and skipped < 3
        and not _HEADER_LINE.match(lines[start])
        and lines[start].strip()
    ):
        if not any(_HEADER_LINE.match(line) for line in lines[start + 1 : start + 4]):
            break
        start += 1
        skipped += 1
    offset = sum(len(line) for line in lines[:start])
    changed = False
    out: list[bytes] = []
    index = start
    for index in range(start, len(lines)):
        line = lines[index]
        if not line.strip(b"\r\n"):
            break
        if not _HEADER_LINE.match(line) and line[:1] not in (b" ", b"\t") and out:
            line = b" " + line
            changed = True
        out.append(line)
    else:
        index = len(lines)
    if not changed:
        return raw[offset:]
    header_end = sum(len(line) for line in lines[:index])
    return b"".join(out) + raw[header_end:]


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _read(raw: bytes, *, headers_only: bool = False, repair: bool = True) -> Message:
    data = _repair(raw) if repair else raw
    if headers_only:
        # The parser reads a body it is told to ignore line by line all the same: an
        # attachment of a few hundred kB costs more than the headers.
        blank = _BLANK_LINE.search(data)
        if blank:
            data = data[: blank.end()]
    parser = BytesParser(policy=_PARSING_POLICY)
    message = parser.parsebytes(data, headersonly=headers_only)
    for part in message.walk():
        part.policy = _POLICY
    return message


def _raw_values(message: Message, name: str) -> list[str]:
    name = name.lower()
    try:
        return [str(value) for key, value in message.raw_items() if key.lower() == name]
    except Exception:
        return []


def _raw_value(message: Message, name: str) -> str:
    values = _raw_values(message, name)
    return values[0] if values else ""


def _content_type(part: Message) -> str:
    try:
        value = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    value = value.strip().lower()
    if "/" not in value:
        return "text/plain" if value == "text" else "application/octet-stream"
    return value


def _param(part: Message, name: str, header: str = "content-type") -> str:
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, tuple):  # RFC 2231
        charset, _language, text = value
        raw = text.encode("latin-1", errors="surrogateescape")
        raw = _unquote_percent(raw)
        return decode_bytes(raw, charset or None)
    return str(value)


def _unquote_percent(raw: bytes) -> bytes:
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def _disposition(part: Message) -> str:
    value = _raw_value(part, "content-disposition")
    return value.split(";", 1)[0].strip().lower()


def _charset_hints(message: Message) -> tuple[str, ...]:
    """Charsets the message declares anywhere: the best guess for its raw 8-bit headers."""
    hints: list[str] = []
    for part in message.walk():
        charset = _param(part, "charset")
        if charset and charset not in hints:
            hints.append(charset)
        if len(hints) > 5:
            break
    return tuple(hints)


def _payload_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part.

    Unknown transfer encodings (`utf-8`, `binary`, `8bit`) are taken as no encoding; broken
    base64 decodes as far as it goes; uuencode is read without its "begin" line too. A 7bit
    part is line-oriented text by definition, so its CRLF line ends become LF; 8bit and binary
    parts are left byte for byte, as mailers label binary attachments 8bit where a CR is data.
    """
    encoding = _unfold(_raw_value(part, "content-transfer-encoding")).strip().lower()
    # The stored payload: get_payload() without decoding would decode 8-bit text already.
    payload = getattr(part, "_payload", None)
    if isinstance(payload, list):
        return b""
    raw = str(payload or "").encode("ascii", errors="surrogateescape")
    if encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(raw)
    if encoding == "base64":
        return _b64decode(raw)
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a decoder that gives up leaves the bytes as they came
        data = None
    if data is None:
        data = raw
    if encoding in ("", "7bit"):
        data = data.replace(b"\r\n", b"\n")
    return data


_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/=\r\n\t ]")


def _b64decode(raw: bytes) -> bytes:
    """base64 that tolerates junk characters, missing padding and a stray last character."""
    if b"=" not in raw.rstrip(b"\r\n\t =") and not _B64_JUNK.search(raw):
        # The usual case, clean lines with the padding at the end: decoded in C directly.
        with contextlib.suppress(binascii.Error, ValueError):
            return binascii.a2b_base64(raw)
    compact = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
    if len(compact) % 4 == 1:
        compact = compact[:-1]
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        return b""


def _uudecode(raw: bytes) -> bytes:
    lines = raw.splitlines()
    for index, line in enumerate(lines[:5]):
        if line.startswith(b"begin "):
            lines = lines[index + 1 :]
            break
    out = bytearray()
    for line in lines:
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines short; decode what the length byte promises.
            length = (line[0] - 32) & 63
            with contextlib.suppress(binascii.Error):
                out += binascii.a2b_uu(line[: 1 + (length * 4 + 2) // 3])
    return bytes(out)


def _part_text(part: Message) -> str:
    return decode_bytes(_payload_bytes(part), _param(part, "charset") or None)


# ---------------------------------------------------------------------------
# Body and attachments


_BODY_TYPES = ("text/plain", "text/html")
_SIGNATURE_NAMES = {
    "application/pgp-signature": "signature.asc",
    "application/pkcs7-signature": "smime.p7s",
    "application/x-pkcs7-signature": "smime.p7s",
}


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)

    def has_plain(self) -> bool:
        return any(piece.strip() for piece in self.plain)

    def has_html(self) -> bool:
        return any(html_to_text(piece).strip() for piece in self.html)


@dataclass
class _Walk:
    subject: str
    max_attachments: int
    attachments: list[ParsedAttachment] = field(default_factory=list)
    dropped: int = 0
    is_signed: bool = False
    is_encrypted: bool = False
    reports: list[Message] = field(default_factory=list)
    returned: list[bytes] = field(default_factory=list)
    returned_headers: list[str] = field(default_factory=list)

    def add(self, attachment: ParsedAttachment) -> None:
        if len(self.attachments) >= self.max_attachments:
            self.dropped += 1
            return
        self.attachments.append(attachment)


_EXTENSIONS = {
    "image/jpeg": "jpg",
    "video/quicktime": "mov",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "text/html": "html",
    "text/plain": "txt",
    "text/calendar": "ics",
    "text/csv": "csv",
    "application/pdf": "pdf",
    "message/delivery-status": "txt",
    "text/rfc822-headers": "txt",
    "message/disposition-notification": "txt",
}


def _filename(part: Message, content_type: str, walk: _Walk) -> str:
    name = _param(part, "filename", "content-disposition") or _param(part, "name")
    if name:
        name = _tidy(decode_header_text(name))
        # A path sent along with the name is no business of ours; macOS and Windows-1258
        # send decomposed accents.
        name = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1].strip())
    if name:
        return name
    if content_type in ("message/rfc822", "message/global"):
        inner = _read(_payload_bytes(part)[: 64 * 1024], headers_only=True, repair=False)
        subject = _tidy(decode_header_text(_raw_value(inner, "subject")))
        subject = re.sub(r"[\\/\x00-\x1f]", "_", subject)[:200]
        return f"{subject or walk.subject or 'message'}.eml"
    description = _tidy(decode_header_text(_raw_value(part, "content-description")))
    if content_type in _SIGNATURE_NAMES:
        return _SIGNATURE_NAMES[content_type]
    if content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return "smime.p7m"
    maintype = content_type.partition("/")[0]
    extension = _EXTENSIONS.get(content_type)
    if not extension and content_type != "application/octet-stream":
        guessed = mimetypes.guess_extension(content_type, strict=False)
        extension = guessed.lstrip(".") if guessed else ""
    if description and extension and "/" not in description and len(description) < 100:
        return f"{description}.{extension}"
    content_id = _raw_value(part, "content-id").strip().strip("<>").partition("@")[0]
    if re.fullmatch(r"[\w.-]{1,80}\.\w{2,5}", content_id):
        return content_id  # Outlook's image001.jpg@01CDB132.D8A510F0
    if content_type == "message/delivery-status":
        return "delivery-status.txt"
    if content_type == "text/html":
        return "message.html"
    if extension and maintype in ("image", "audio", "video", "text"):
        return f"{maintype}.{extension}"
    return f"file.{extension}" if extension else "file"


def _attachment(part: Message, content_type: str, walk: _Walk, data: bytes | None = None):
    if data is None:
        data = _payload_bytes(part)
    content_id = _unfold(_raw_value(part, "content-id")).strip().strip("<>").strip()
    disposition = _disposition(part)
    walk.add(
        ParsedAttachment(
            filename=_filename(part, content_type, walk),
            content_type=content_type,
            data=data,
            content_id=content_id,
            is_inline=disposition == "inline" or (bool(content_id) and disposition != "attachment"),
        )
    )


def _is_attachment(part: Message) -> bool:
    return _disposition(part) == "attachment" or bool(
        _param(part, "filename", "content-disposition") or _param(part, "name")
    )


def _visit(part: Message, walk: _Walk, depth: int = 0) -> _Body:
    body = _Body()
    if depth > MAX_DEPTH:
        return body
    content_type = _content_type(part)
    maintype, _, subtype = content_type.partition("/")

    if maintype == "application" and subtype.startswith("x-helpdesk-kept-"):
        # message/*: see _ParsingPolicy. The raw header tells the real type.
        content_type = "message/" + subtype[len("x-helpdesk-kept-") :]
    if content_type in ("message/rfc822", "message/global"):
        data = _payload_bytes(part)
        walk.returned.append(data)
        _attachment(part, content_type, walk, data)
        return body
    if content_type == "message/delivery-status":
        data = _payload_bytes(part)
        with contextlib.suppress(Exception):
            walk.reports.extend(_report_blocks(data))
        _attachment(part, content_type, walk, data)
        return body
    if maintype == "multipart" and not part.is_multipart():
        return body  # a multipart with nothing in it (the mail ends after its headers)

    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if subtype == "alternative":
            return _alternative(children, walk, depth)
        if subtype == "related" and children:
            start = _param(part, "start").strip("<>")
            root = children[0]
            if start:
                for child in children:
                    if _raw_value(child, "content-id").strip().strip("<>") == start:
                        root = child
                        break
            body = _visit(root, walk, depth + 1)
            for child in children:
                if child is not root:
                    _as_attachments(child, walk, depth + 1)
            return body
        if subtype == "signed":
            walk.is_signed = True
        if subtype == "encrypted":
            walk.is_encrypted = True
            for child in children:
                _as_attachments(child, walk, depth + 1)
            return body
        for child in children:
            child_type = _content_type(child)
            if subtype == "signed" and child_type in _SIGNATURE_NAMES:
                _attachment(child, child_type, walk)
                continue
            sub = _visit(child, walk, depth + 1)
            body.plain += sub.plain
            body.html += sub.html
        return body

    if content_type in _BODY_TYPES and not _is_attachment(part):
        text = _part_text(part)
        (body.plain if subtype == "plain" else body.html).append(text)
        return body
    if (
        content_type in ("application/ms-tnef", "application/vnd.ms-tnef")
        or (_param(part, "filename", "content-disposition") or _param(part, "name")).lower()
        == "winmail.dat"
    ):
        return _tnef(part, content_type, walk)
    if content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime") or (
        _param(part, "name").lower().endswith(".p7m")
    ):
        return _smime(part, content_type, walk, depth)
    if content_type == "text/rfc822-headers":
        walk.returned_headers.append(_part_text(part))
    _attachment(part, content_type, walk)
    return body


def _as_attachments(part: Message, walk: _Walk, depth: int) -> None:
    """A part that is not the body: its text parts too are kept as attachments."""
    if depth > MAX_DEPTH:
        return
    content_type = _content_type(part)
    if part.is_multipart() and not content_type.startswith("message/"):
        for child in part.get_payload():
            if isinstance(child, Message):
                _as_attachments(child, walk, depth + 1)
        return
    if content_type in _BODY_TYPES:
        _attachment(part, content_type, walk)
        return
    _visit(part, walk, depth)


def _alternative(children: list[Message], walk: _Walk, depth: int) -> _Body:
    """The text/plain alternative for text (when it has any), the last HTML one for html;
    attachments of the alternative whose body is used (images of a related HTML) are kept."""
    results: list[tuple[Message, _Walk, _Body]] = []
    for child in children:
        sub_walk = _Walk(subject=walk.subject, max_attachments=walk.max_attachments)
        results.append((child, sub_walk, _visit(child, sub_walk, depth + 1)))
    plain = next((r for r in results if r[2].has_plain()), None)
    html = next((r for r in reversed(results) if r[2].html and r[2].has_html()), None)
    if html is None:
        html = next((r for r in reversed(results) if r[2].html), None)
    body = _Body()
    if plain:
        body.plain = plain[2].plain
    if html:
        body.html = html[2].html
    if plain is None and html is None:
        chosen = next((r for r in results if r[2].plain), None)
        if chosen:
            body.plain = chosen[2].plain
    for result in results:
        _child, sub_walk, _sub_body = result
        if result is plain or result is html or not (plain or html):
            for attachment in sub_walk.attachments:
                walk.add(attachment)
            walk.dropped += sub_walk.dropped
        walk.is_signed |= sub_walk.is_signed
        walk.is_encrypted |= sub_walk.is_encrypted
        walk.reports += sub_walk.reports
        walk.returned += sub_walk.returned
        walk.returned_headers += sub_walk.returned_headers
    return body


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return decode_bytes(value.rstrip(b"\x00"))
    return str(value).rstrip("\x00")


def _tnef(part: Message, content_type: str, walk: _Walk) -> _Body:
    """winmail.dat: Outlook's own packing of attachments (and sometimes the body)."""
    from tnefparse import TNEF

    data = _payload_bytes(part)
    body = _Body()
    try:
        tnef = TNEF(data, do_checksum=False)
        files = [a for a in tnef.attachments if getattr(a, "data", b"")]
        text = _as_text(tnef.body)
        html = _as_text(tnef.htmlbody)
    except Exception:
        _attachment(part, content_type, walk, data)
        return body
    if not files and not text and not html:
        _attachment(part, content_type, walk, data)
        return body
    for attachment in files:
        try:
            name = _as_text(attachment.long_filename()) or _as_text(attachment.name)
        except Exception:
            name = ""
        name = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1].strip()) or "file"
        walk.add(
            ParsedAttachment(
                filename=name,
                content_type=_guess_type(name),
                data=bytes(attachment.data),
            )
        )
    if text.strip():
        body.plain.append(text)
    if html.strip():
        body.html.append(html)
    return body


def _guess_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return (guessed or "application/octet-stream").lower()


def _smime(part: Message, content_type: str, walk: _Walk, depth: int) -> _Body:
    """application/pkcs7-mime: an opaque signed mail carries its content inside the PKCS #7
    structure, which we read; an encrypted one we cannot read and keep as smime.p7m."""
    data = _payload_bytes(part)
    smime_type = _param(part, "smime-type").lower()
    if smime_type in ("enveloped-data", "authenveloped-data"):
        walk.is_encrypted = True
        _attachment(part, content_type, walk, data)
        return _Body()
    content = _pkcs7_signed_content(data)
    if content is None:
        if not smime_type:
            walk.is_encrypted = True
        _attachment(part, content_type, walk, data)
        return _Body()
    walk.is_signed = True
    try:
        inner = BytesParser(policy=_POLICY).parsebytes(content)
    except Exception:
        _attachment(part, content_type, walk, data)
        return _Body()
    body = _visit(inner, walk, depth + 1)
    walk.add(ParsedAttachment(filename="smime.p7m", content_type=content_type, data=data))
    return body


def _ber_item(data: bytes, position: int) -> tuple[int, bool, int, int, int]:
    """(tag, constructed, content start, content end or -1 for indefinite, next position)."""
    tag = data[position]
    constructed = bool(tag & 0x20)
    position += 1
    if tag & 0x1F == 0x1F:  # high tag number
        while data[position] & 0x80:
            position += 1
        position += 1
    length = data[position]
    position += 1
    if length == 0x80:
        return tag, constructed, position, -1, -1
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[position : position + count], "big")
        position += count
    end = position + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, constructed, position, end, end


def _ber_children(data: bytes, start: int, end: int) -> list[tuple[int, bool, int, int, int]]:
    """The items inside a constructed item; `end` -1 reads up to the end-of-contents mark."""
    items = []
    position = start
    while (end == -1 or position < end) and position < len(data):
        if end == -1 and data[position : position + 2] == b"\x00\x00":
            return [*items, (0, False, position, position, position + 2)]
        item = _ber_item(data, position)
        if item[3] == -1:
            inner = _ber_children(data, item[2], -1)
            close = inner[-1][4] if inner else item[2] + 2
            item = (item[0], item[1], item[2], close - 2, close)
        items.append(item)
        position = item[4]
        if len(items) > 10000:
            raise ValueError("too many items")
    return items


def _ber_octets(data: bytes, item: tuple[int, bool, int, int, int]) -> bytes:
    _tag, constructed, start, end, _next = item
    if not constructed:
        return data[start:end]
    return b"".join(
        _ber_octets(data, child) for child in _ber_children(data, start, end) if child[0]
    )


_OID_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")


def _pkcs7_signed_content(data: bytes) -> bytes | None:
    """The encapsulated content of a PKCS #7 / CMS SignedData, or None."""
    if data[:1] not in (b"0",) and data.lstrip()[:3] == b"MII":
        with contextlib.suppress(binascii.Error, ValueError):
            data = base64.b64decode(data)
    try:
        outer = _ber_item(data, 0)
        content_info = _ber_children(data, outer[2], outer[3])
        oid = content_info[0]
        if data[oid[2] : oid[3]] != _OID_SIGNED_DATA:
            return None
        signed_data_wrapper = _ber_children(data, content_info[1][2], content_info[1][3])[0]
        signed_data = _ber_children(data, signed_data_wrapper[2], signed_data_wrapper[3])
        encap = _ber_children(data, signed_data[2][2], signed_data[2][3])
        if len(encap) < 2 or encap[1][0] != 0xA0:
            return None  # detached signature: no content inside
        octets = _ber_children(data, encap[1][2], encap[1][3])[0]
        return _ber_octets(data, octets)
    except (IndexError, ValueError):
        return None


def _report_blocks(data: bytes) -> list[Message]:
    text = data.replace(b"\r\n", b"\n")
    return [
        BytesParser(policy=_POLICY).parsebytes(block + b"\n\n", headersonly=True)
        for block in re.split(rb"\n\s*\n", text)
        if block.strip()
    ]


# ---------------------------------------------------------------------------
# HTML


_URL_ATTRIBUTES = {"href", "src", "cite", "action", "background", "longdesc", "poster"}
_CLEAN_CONTENT_TAGS = {"script", "style", "title", "head", "template", "noscript"}
_ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"form", "input", "button", "select", "textarea"} | {"font"}
_ALLOWED_ATTRIBUTES = {tag: set(attributes) for tag, attributes in nh3.ALLOWED_ATTRIBUTES.items()}
_ALLOWED_ATTRIBUTES.setdefault("font", set()).update({"color", "face", "size"})
for _tag in ("td", "th", "table", "tr", "p", "div"):
    _ALLOWED_ATTRIBUTES.setdefault(_tag, set()).update({"align", "valign", "bgcolor", "width"})


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    lowered = value.strip().lower()
    if tag == "img" and attribute == "src":
        if lowered.startswith("cid:"):
            return value
        if lowered.startswith("data:image/") and not lowered.startswith("data:image/svg"):
            return value
        return None  # remote images track the reader
    if attribute in _URL_ATTRIBUTES and lowered.startswith(("data:", "cid:")):
        return None
    return value


def sanitize_html(html: str) -> str:
    """HTML safe to show in the help desk: no active content, no remote images (they tell
    the sender the mail was read), no style attributes (they hide text from the agent), and
    links that do not leak the help desk to the site."""
    if not html:
        return ""
    try:
        return nh3.clean(
            html,
            tags=_ALLOWED_TAGS,
            clean_content_tags=_CLEAN_CONTENT_TAGS,
            attributes=_ALLOWED_ATTRIBUTES,
            attribute_filter=_attribute_filter,
            url_schemes=nh3.ALLOWED_URL_SCHEMES | {"cid", "data"},
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    except Exception:
        return html_module.escape(html_to_text(html))


_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "tbody", "tfoot", "thead", "tr", "ul", "caption",
}  # fmt: skip
_INVISIBLE_TAGS = {"script", "style", "head", "title", "template", "noscript", "object"}


_PARAGRAPH_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "table",
    "ul",
    "ol",
    "pre",
}


class _TextExtractor(HTMLParser):
    """Text with line breaks where a browser breaks lines: one at a block boundary (however
    many blocks meet there), an empty line around paragraphs, one per <br>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.pending = 0  # line breaks owed before the next text

    def _block(self, tag: str) -> None:
        self.pending = max(self.pending, 2 if tag in _PARAGRAPH_TAGS else 1)

    def handle_starttag(self, tag, attrs):
        if tag in _INVISIBLE_TAGS:
            self.hidden += 1
        elif tag == "br":
            self.chunks.append("\n" * self.pending + "\n")
            self.pending = 0
        elif tag in _BLOCK_TAGS:
            self._block(tag)
            if tag == "pre":
                self.pre += 1
        elif tag in ("td", "th"):
            self.chunks.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self.handle_starttag(tag, attrs)
        elif tag in _BLOCK_TAGS:
            self._block(tag)

    def handle_endtag(self, tag):
        if tag in _INVISIBLE_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self._block(tag)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data):
        if self.hidden:
            return
        data = data.replace("\x00", "")
        if not self.pre:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        if not data.strip():
            if data and not self.pending:
                self.chunks.append(" ")
            return
        if self.pending:
            self.chunks.append("\n" * self.pending)
            self.pending = 0
        self.chunks.append(data)


def html_to_text(html: str) -> str:
    """The visible text of HTML: block elements and <br> become line breaks, entities are
    decoded, spaces collapsed, at most one empty line in a row."""
    if not html:
        return ""
    parser = _TextExtractor()
    # Old Python versions raised on some broken markup; what was read so far is kept.
    with contextlib.suppress(Exception):
        parser.feed(html)
        parser.close()
    text = "".join(parser.chunks).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


# ---------------------------------------------------------------------------
# Quoted history and signatures


_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"On\b.{0,300}\bwrote:"
    r"|W\s+dniu\b.{0,300}\bpisze:"
    r"|Am\b.{0,300}\bschrieb\b.{0,100}:"
    r"|Le\b.{0,300}\ba\s+écrit\s*:"
    r"|El\b.{0,300}\bescribió:"
    r"|Il\b.{0,300}\bha\s+scritto:"
    r"|Op\b.{0,300}\bschreef\b.{0,100}:"
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:Original\s+Message|Ursprüngliche\s+Nachricht|Originalnachricht"
    r"|Wiadomość\s+oryginalna|Oryginalna\s+wiadomość|Message\s+d'origine|Forwarded\s+message"
    r"|Weitergeleitete\s+Nachricht|Mensaje\s+original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|Von|Od|De|Från|Fra|Van)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(?:Sent|Date|Gesendet|Datum|Wysłano|Wysłane|Data|Envoyé|Enviado|Skickat|Sendt"
    r"|Verzonden)\s*:\*?\s*\S",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def split_quoted(text: str) -> tuple[str, str]:
    """(what the sender wrote, the rest to fold away): quoted history at the end, the reply
    header of a mail client ("On ... wrote:", "-----Original Message-----", Outlook's
    "From: ... Sent: ..." block) and what follows it, and a "-- " signature.

    `visible + folded == text`. Nothing is folded when that would leave nothing visible.
    """
    if not text:
        return "", ""
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    candidates: list[int] = []

    for index, line in enumerate(bare):
        if _SEPARATOR.match(line):
            candidates.append(index)
            break
        if _HEADER_FROM.match(line) and any(
            _HEADER_SENT.match(following) for following in bare[index + 1 : index + 5]
        ):
            start = index
            if index > 0 and _UNDERSCORES.match(bare[index - 1]):
                start = index - 1
            candidates.append(start)
            break

    for index, line in enumerate(bare):
        joined = line
        if index + 1 < len(bare) and not _ATTRIBUTION.match(line):
            joined = f"{line} {bare[index + 1]}"  # attributions wrapped onto a second line
        if _ATTRIBUTION.match(line) or (
            _ATTRIBUTION.match(joined) and re.match(r"^\s*(On|W dniu|Am|Le|El)\b", line)
        ):
            rest = bare[index + 1 :]
            if not _has_reply_below_quote(rest):
                candidates.append(index)
            break

    for index, line in enumerate(bare):
        if line in ("-- ", "--"):
            candidates.append(index)
            break

    # A quoted block that runs to the end (blank lines around it included).
    end = len(bare)
    while end > 0 and not bare[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (_is_quoted(bare[start - 1]) or not bare[start - 1].strip()):
        start -= 1
    if start < end and any(_is_quoted(line) for line in bare[start:end]):
        while start < end and not bare[start].strip():
            start += 1
        candidates.append(start)

    if not candidates:
        return text, ""
    cut = min(candidates)
    # Keep the empty lines before the fold with what is folded.
    while cut > 0 and not bare[cut - 1].strip():
        cut -= 1
    visible = "".join(lines[:cut])
    if not visible.strip():
        return text, ""
    return visible, "".join(lines[cut:])


def _has_reply_below_quote(lines: list[str]) -> bool:
    """Whether unquoted text follows quoted lines (bottom posting, inline answers)."""
    seen_quote = False
    for line in lines:
        if line in ("-- ", "--"):
            return False
        if _is_quoted(line):
            seen_quote = True
        elif seen_quote and line.strip():
            return True
    return False


# ---------------------------------------------------------------------------
# Automatic mail


_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:Delivery Status Notification|Undeliver(?:ed|able)(?: Mail| Message)?\b"
    r"|Mail delivery failed|Returned mail\b|Delivery failure|Non[- ]?delivery"
    r"|Unzustellbar|Nicht zustellbar|Benachrichtung\s+zum|Benachrichtigung\s+zum"
    r"|Niedostarczalne|Failure Notice)",
    re.IGNORECASE,
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:Automatic reply|Auto(?:matic)?[- ]?(?:reply|response)|Out of (?:the )?Office"
    r"|Abwesenheitsnotiz|Automatische Antwort|Odpowied[źz] automatyczna"
    r"|Automatyczna odpowied[źz]|R[ée]ponse automatique|Respuesta autom[áa]tica"
    r"|Autosvar)(?:\s*Auto[- ]?Reply)?\s*(?::|$)",
    re.IGNORECASE,
)
_DAEMON_LOCALS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")


def classify_auto(
    message: Message, *, sender: str = "", subject: str = "", has_report: bool = False
) -> AutoKind:
    """What kind of automatic mail this is (NONE for mail a person wrote).

    Bounces first (they often carry Auto-Submitted too), then auto-replies, then mailing
    lists, then bulk mail.
    """

    def header(name: str) -> str:
        return _tidy(_unfold(_raw_value(message, name))).lower()

    content_type = _content_type(message)
    report_type = _param(message, "report-type").lower()
    local = sender.lower().rpartition("@")[0]
    from_daemon = local in _DAEMON_LOCALS
    null_return_path = header("return-path") in ("<>", "")
    if (
        has_report
        or (content_type == "multipart/report" and report_type == "delivery-status")
        or from_daemon
        or (_BOUNCE_SUBJECT.match(subject or "") and (not sender or null_return_path))
    ):
        return AutoKind.BOUNCE
    auto_submitted = header("auto-submitted").split(";")[0].strip()
    if (
        (auto_submitted and auto_submitted != "no")
        or _raw_values(message, "x-autoreply")
        or _raw_values(message, "x-autorespond")
        or _AUTO_REPLY_SUBJECT.match(subject or "")
    ):
        return AutoKind.AUTO_REPLY
    precedence = header("precedence")
    if _raw_values(message, "list-id") or precedence == "list":
        return AutoKind.LIST
    if (
        precedence in ("bulk", "junk")
        or _raw_values(message, "list-unsubscribe")
        # Exchange and ticket systems set it on what programs send (notifications, reports):
        # automatic, so not to be answered, but still something to act on.
        or _raw_values(message, "x-auto-response-suppress")
    ):
        return AutoKind.BULK
    return AutoKind.NONE


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def _bounce_info(message: Message, walk: _Walk, text: str) -> BounceInfo:
    failed: list[str] = []
    status = diagnostic = action = ""
    for block in walk.reports:
        recipient = _raw_value(block, "final-recipient") or _raw_value(block, "original-recipient")
        if recipient:
            address = _unfold(recipient).split(";", 1)[-1].strip().strip("<>")
            if address and address not in failed:
                failed.append(address)
        status = status or _unfold(_raw_value(block, "status")).strip()
        diagnostic = diagnostic or _tidy(_unfold(_raw_value(block, "diagnostic-code")))
        action = action or _unfold(_raw_value(block, "action")).strip().lower()
    original_id = ""
    references: list[str] = []
    for data in walk.returned:
        returned = _read(data[: 256 * 1024], headers_only=True, repair=False)
        original_id = _single_id(_raw_value(returned, "message-id"))
        references = parse_ids(_raw_value(returned, "references"))
        if original_id:
            break
    if not original_id:
        for headers in walk.returned_headers:
            block = BytesParser(policy=_POLICY).parsebytes(
                headers.encode("utf-8", errors="replace"), headersonly=True
            )
            original_id = _single_id(_raw_value(block, "message-id"))
            references = parse_ids(_raw_value(block, "references"))
            if original_id:
                break
    if not original_id:
        # A plain-text bounce: the returned headers, if any, are pasted into the text.
        match = re.search(r"^\s*Message-ID:\s*<([^<>\s]+)>", text, re.IGNORECASE | re.MULTILINE)
        if match:
            original_id = match.group(1)
        match = re.search(
            r"^\s*References:\s*((?:<[^<>\s]+>\s*)+)", text, re.IGNORECASE | re.MULTILINE
        )
        if match:
            references = parse_ids(match.group(1))
    if not failed:
        for match in re.finditer(
            r"^\s*<?([^\s<>@:;,\"]+@[^\s<>@:;,\"]+\.[A-Za-z]{2,})>?:?\s*(?:$|\(|\bhost\b|\d{3}\b)",
            text,
            re.MULTILINE,
        ):
            if match.group(1) not in failed:
                failed.append(match.group(1))
    if not status:
        match = _STATUS.search(diagnostic) or _STATUS.search(text)
        if match:
            status = match.group(0)
    is_permanent = True
    if (
        action == "delayed"
        or status.startswith("4")
        or (not action and not status and re.search(r"\bdelay", text, re.IGNORECASE))
    ):
        is_permanent = False
    return BounceInfo(
        failed_recipients=failed,
        original_message_id=original_id,
        original_references=references,
        status=status,
        diagnostic=diagnostic,
        is_permanent=is_permanent,
    )


# ---------------------------------------------------------------------------
# Entry points


def _max_attachments() -> int:
    try:
        from django.conf import settings

        return int(getattr(settings, "MAIL_MAX_ATTACHMENTS", DEFAULT_MAX_ATTACHMENTS))
    except Exception:
        return DEFAULT_MAX_ATTACHMENTS


def _sender(message: Message, hints: tuple[str, ...]) -> Address:
    for name in ("from", "reply-to", "sender", "return-path"):
        for address in parse_addresses(_raw_values(message, name), hints):
            if address.address:
                return address
    # A From without a usable address still names someone.
    for address in parse_addresses(_raw_values(message, "from"), hints):
        return address
    return Address(name="", address="")


def _date(message: Message) -> datetime | None:
    value = _unfold(_raw_value(message, "date")).strip()
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def header_summary(raw: bytes) -> tuple[str, Address, str]:
    """(message id, sender, subject) from the headers alone: cheap, and never raises, so a
    mail can be stored before it is parsed."""
    try:
        head = raw[: 256 * 1024]
        message = _read(head, headers_only=True)
        hints = (_param(message, "charset"),) if _param(message, "charset") else ()
        return (
            _single_id(_raw_value(message, "message-id")),
            _sender(message, hints),
            _tidy(decode_header_text(_raw_value(message, "subject"), hints)),
        )
    except Exception:
        return "", Address(name="", address=""), ""


def parse_message(raw: bytes) -> ParsedMail:
    """Everything the help desk uses from a mail. Raises `MailParseError` only when the
    bytes hold nothing that looks like a mail."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise MailParseError("A mail is bytes.")
    raw = bytes(raw)
    if not raw.strip():
        raise MailParseError("The mail is empty.")
    try:
        message = _read(raw)
    except Exception as error:
        raise MailParseError(f"The mail could not be read: {error}") from error
    if not message.keys():
        raise MailParseError("The mail has no headers.")

    hints = _charset_hints(message)
    subject = _tidy(decode_header_text(_raw_value(message, "subject"), hints))
    walk = _Walk(subject=subject, max_attachments=max(0, _max_attachments()))
    try:
        body = _visit(message, walk)
    except RecursionError:
        body = _Body()

    html = "\n".join(sanitize_html(piece) for piece in body.html if piece.strip())
    if body.has_plain():
        text = "\n".join(piece.rstrip() for piece in body.plain if piece.strip())
    else:
        text = html_to_text(html)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        text = ""

    sender = _sender(message, hints)
    auto_kind = classify_auto(
        message, sender=sender.address, subject=subject, has_report=bool(walk.reports)
    )
    bounce = _bounce_info(message, walk, text) if auto_kind == AutoKind.BOUNCE else None
    return ParsedMail(
        message_id=_single_id(_raw_value(message, "message-id")),
        in_reply_to=parse_ids(_raw_value(message, "in-reply-to")),
        references=[i for value in _raw_values(message, "references") for i in parse_ids(value)],
        subject=subject,
        sender=sender,
        reply_to=parse_addresses(_raw_values(message, "reply-to"), hints),
        to=parse_addresses(_raw_values(message, "to"), hints),
        cc=parse_addresses(_raw_values(message, "cc"), hints),
        text=text,
        html=html,
        attachments=walk.attachments,
        auto_kind=auto_kind,
        bounce=bounce,
        loop_ids=[_tidy(_unfold(v)) for v in _raw_values(message, "x-loop")],
        is_signed=walk.is_signed,
        is_encrypted=walk.is_encrypted,
        date=_date(message),
        dropped_attachments=walk.dropped,
    )
