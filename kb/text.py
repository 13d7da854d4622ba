"""Text of articles: Markdown rendered safely, plain text for search, diacritics folded,
highlighted snippets.

Folding is done here, in Python, for both databases: the stored search columns
(``Article.search_title``, ``Article.search_body``) and every query are folded the same
way, so ``zolty`` finds ``żółty`` on PostgreSQL and SQLite alike, and no ``unaccent``
dictionary (which differs between installations) decides what matches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import markdown
import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Letters NFKD does not decompose into a base letter and a combining mark.
_EXTRA_FOLDS = str.maketrans({"ł": "l", "Ł": "l", "ß": "s", "ø": "o", "Ø": "o", "đ": "d"})

# What an article's Markdown may produce: text structure, code, tables and links; no
# images, forms, scripts or styles (nh3 removes everything else and unsafe URLs).
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}

# Query words are letters and digits; the longest German compound stays under this.
MAX_TERM_LENGTH = 40
MAX_TERMS = 8
_WORD = re.compile(r"\w+", re.UNICODE)


def fold_char(char: str) -> str:
    """One character folded: lower case, without diacritics (may be empty or longer)."""
    decomposed = unicodedata.normalize("NFKD", char.translate(_EXTRA_FOLDS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _drop_combining(match: re.Match) -> str:
    char = match.group()
    return "" if unicodedata.combining(char) else char


def fold(text: str) -> str:
    """Lower case without diacritics: ``Żółty Łoś`` -> ``zolty los``."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    # Only the few characters outside ASCII are looked at (a search folds every hit's text:
    # a generator over each character cost 3-6 ms per search).
    return _NON_ASCII.sub(_drop_combining, decomposed).lower()


def render_markdown(source: str) -> SafeString:
    """An article's Markdown as HTML that is safe to put in a page."""
    html = markdown.markdown(source, extensions=["extra", "sane_lists"], output_format="html")
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above


def plain_text(source: str) -> str:
    """An article's Markdown as plain text (what search indexes and snippets quote)."""
    html = markdown.markdown(source, extensions=["extra", "sane_lists"], output_format="html")
    # Block ends become spaces so that words of adjacent paragraphs do not run together.
    html = re.sub(r"</(p|li|h[1-6]|pre|td|th|tr|blockquote|dd|dt)>|<br\s*/?>", " ", html)
    text = nh3.clean(html, tags=set())
    # nh3 escapes what it keeps as text; the plain text wants the characters.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    text = text.replace("&#39;", "'").replace("&amp;", "&")
    return re.sub(r"\s+", " ", text).strip()


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+|[*_`|~]+|^\s*[-:| ]{3,}\s*$", re.M)


def snippet_text(source: str) -> str:
    """A quick plain text of Markdown for snippets (links to their text, markup characters
    dropped, HTML tags left as text and escaped when shown): ten times cheaper than
    rendering, which search would do for every hit."""
    return re.sub(r"\s+", " ", _MARKUP.sub(" ", _LINK.sub(r"\1", source))).strip()


def query_terms(query: str) -> list[str]:
    """The folded words of a query (letters and digits only), bounded in count and length."""
    terms = []
    for word in _WORD.findall(fold(query)):
        word = word.replace("_", "")[:MAX_TERM_LENGTH]
        if word and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word (padded with two spaces before, one after)."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """pg_trgm's ``similarity`` of two words: shared trigrams over all trigrams."""
    left, right = trigrams(a), trigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


@dataclass(frozen=True)
class _Folded:
    text: str
    # origin[i]: the index in the original text of the character folded into text[i]
    origin: list[int]


def _fold_with_origin(text: str) -> _Folded:
    folded = fold(text)
    if len(folded) == len(text):
        # Nearly always: every character folds to one (ż -> z, ł -> l).
        return _Folded(folded, list(range(len(text))))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = fold_char(char)
        out.append(folded)
        origin.extend([index] * len(folded))
    return _Folded("".join(out), origin)


def highlight(text: str, terms: list[str], *, width: int = 160) -> SafeString:
    """An escaped snippet of ``text`` around the first place where most ``terms`` occur,
    with each occurrence (matched after folding, so ``zolty`` marks ``żółty``, and as a word
    prefix, as the search matches) in ``<mark>``."""
    if not text:
        return mark_safe("")
    folded = _fold_with_origin(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        for match in re.finditer(rf"(?<!\w){re.escape(term)}\w*", folded.text):
            start = folded.origin[match.start()]
            end = folded.origin[match.end() - 1] + 1
            spans.append((start, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    # The window holding the most marks, starting a little before its first one.
    window_start = 0
    if merged:
        best, best_count = merged[0][0], 0
        for start, _end in merged:
            count = sum(1 for s, _e in merged if start <= s < start + width)
            if count > best_count:
                best, best_count = start, count
        window_start = max(0, best - width // 4)
        space = text.rfind(" ", 0, window_start)
        window_start = 0 if space < 0 or window_start == 0 else space + 1
    window_end = min(len(text), window_start + width)
    if window_end < len(text):
        space = text.rfind(" ", window_start, window_end)
        if space > window_start:
            window_end = space
    parts = ["…" if window_start > 0 else ""]
    cursor = window_start
    for start, end in merged:
        if end <= window_start or start >= window_end:
            continue
        start, end = max(start, window_start), min(end, window_end)
        parts.append(escape(text[cursor:start]))
        parts.append(f"<mark>{escape(text[start:end])}</mark>")
        cursor = end
    parts.append(escape(text[cursor:window_end]))
    if window_end < len(text):
        parts.append("…")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above
