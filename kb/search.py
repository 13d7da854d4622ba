"""Searching articles: ranked, typo-tolerant, diacritics folded, with highlighted snippets.

Both databases search the folded text (``kb.text.fold``) with the same meaning of a query:
each word matches as a word prefix (``pass`` finds ``password``), articles with every word
come first and, when fewer than asked have them all, articles with some of them follow; a
title match outranks a body match and the exact phrase outranks scattered words; a word
with a typo still finds a title by trigram similarity.

- PostgreSQL: the generated ``search_vector`` column (title weight A, body B) with its GIN
  index, ``ts_rank_cd`` (cover density: words close together rank higher), a bonus for the
  phrase in the title and in the text, and ``pg_trgm``'s ``<%`` (word similarity, GIN
  trigram index on the folded title) for typos. One query per attempt.
- SQLite (the embedded run): ``LIKE`` on the folded columns finds at most
  ``SQLITE_CANDIDATES`` candidates, ranked in Python with the same weights; typos are
  matched against titles by the same trigram similarity.

Snippets are cut from the article's plain text in Python (``kb.text.highlight``), so they
show the original diacritics while matching folded words.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from kb import text
from kb.models import Article

MAX_RESULTS = 50
SQLITE_CANDIDATES = 500
# PostgreSQL: how many matches are ranked at most (see _candidates).
TITLE_CANDIDATES = 60
TEXT_CANDIDATES = 60
TYPO_CANDIDATES = 30
TYPO_MAX_TERMS = 3
SQLITE_TYPO_SCAN = 2000
# Trigram similarity from which a word with a typo matches a title word (pg_trgm's default
# for word_similarity is 0.6).
TYPO_SIMILARITY = 0.5
PHRASE_IN_TITLE_BONUS = 1.0
PHRASE_IN_BODY_BONUS = 0.3
ALL_WORDS_BONUS = 1.0


@dataclass
class Hit:
    article: Article
    rank: float
    snippet: SafeString
    title_html: SafeString


def search(queryset: QuerySet[Article], query: str, *, limit: int = 10) -> list[Hit]:
    """The articles of ``queryset`` (already scoped to what the user may see) that match
    ``query``, best first, at most ``limit`` (capped at ``MAX_RESULTS``)."""
    terms = text.query_terms(query)
    limit = max(1, min(limit, MAX_RESULTS))
    if not terms:
        return []
    if connection.vendor == "postgresql":
        ranked = _postgresql(queryset, terms, limit)
    else:
        ranked = _sqlite(queryset, terms, limit)
    if not ranked:
        return []
    articles = (
        queryset.select_related("category")
        .defer("search_title", "search_body")
        .in_bulk([pk for pk, _rank in ranked])
    )
    hits = []
    for pk, rank in ranked:
        article = articles.get(pk)
        if article is None:
            continue
        body = text.snippet_text(article.body)
        source = f"{article.summary} {body}".strip() if article.summary else body
        hits.append(
            Hit(
                article=article,
                rank=rank,
                snippet=text.highlight(source, terms),
                title_html=text.highlight(article.title, terms, width=text.MAX_TERM_LENGTH * 10),
            )
        )
    return hits


# --- PostgreSQL ---------------------------------------------------------------------------


# Left out when any word may match (a typed sentence): words in most articles, English and
# Polish (folded), whose posting lists would make the index read most of the table.
_STOP_WORDS = (
    "a an and are at be but by can do does for from has have i in is it my no not of on or "
    "the to was with you your "
    "a ale bo by co czy dla do i jak jest ma mam mi moj moja mnie na nie o od po sie ta to "
    "w we z za ze"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())


def _tsquery(terms: list[str], operator: str, weight: str = "") -> str:
    # Terms are letters and digits only (kb.text.query_terms): safe in to_tsquery's syntax.
    # A word of one or two letters matches whole (as a prefix it would match thousands).
    return f" {operator} ".join(
        f"{term}:*{weight}" if len(term) > 2 else f"{term}{':' + weight if weight else ''}"
        for term in terms
    )


def _matching(queryset: QuerySet[Article], tsquery: str, column: str) -> QuerySet[Article]:
    # column is one of two names written here, never input.
    match = RawSQL(f"{column} @@ to_tsquery('simple', %s)", (tsquery,), BooleanField())  # noqa: S611
    return queryset.filter(match).order_by().values_list("pk", flat=True)


def _as_typed(terms: list[str], operator: str) -> str:
    """The words joined by ``operator``, each matched whole except the last: the one still
    being typed. A prefix costs a GIN "partial match", which gathers the rows of every word
    form in full (no skipping ahead as for whole words): four prefixes of a typed title took
    12 ms where the same four words whole took 3.5 ms, at 100,000 articles."""
    *whole, last = terms
    return f" {operator} ".join([*whole, _tsquery([last], operator)])


def _candidates(queryset: QuerySet[Article], tsquery: str) -> list[int]:
    """At most ``TITLE_CANDIDATES + TEXT_CANDIDATES`` ids, in one query: articles with the
    words in the title, and articles with them anywhere. Bounding the set bounds the
    ranking's cost whatever the number of matches (a word in 7 % of 100,000 articles)."""
    title = _matching(queryset, tsquery, "title_vector")[:TITLE_CANDIDATES]
    anywhere = _matching(queryset, tsquery, "search_vector")[:TEXT_CANDIDATES]
    return list(title.union(anywhere))


def _some_words_in_title(queryset: QuerySet[Article], terms: list[str]) -> list[int]:
    """Articles whose title has some of the words (a typed sentence that no article has
    whole). Titles only, and every word but the last matched whole: it is the one being
    typed (see :func:`_as_typed`). An any-word query over the text, with every word a
    prefix, took 30 ms of a typed title's 70 at 100,000 articles; a title with one of the
    words ranks above a text that merely mentions it anyway."""
    return list(_matching(queryset, _as_typed(terms, "|"), "title_vector")[:TEXT_CANDIDATES])


def _typo_candidates(queryset: QuerySet[Article], terms: list[str]) -> list[int]:
    """Titles similar to the query (pg_trgm word similarity): asked only when the words
    themselves found too little, as a trigram search of a common word is the costliest."""
    # The user's scope is applied afterwards, by id: with the scope's conditions in the same
    # statement the planner walked the scope's b-tree and computed the similarity of every
    # visible title (0.5 s at 100,000 articles) instead of asking the trigram index.
    # Word by word: two misspelt words together are too far from any title as a phrase.
    words = [term for term in terms if len(term) >= 4]
    if not words:
        return []
    condition = " OR ".join(["%s <%% search_title"] * len(words))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM kb_article WHERE {condition} LIMIT %s",  # noqa: S608 - placeholders
            [*words, TYPO_CANDIDATES * 4],
        )
        similar = [row[0] for row in cursor.fetchall()]
    if not similar:
        return []
    return list(
        queryset.filter(pk__in=similar).order_by().values_list("pk", flat=True)[:TYPO_CANDIDATES]
    )


def _postgresql(queryset: QuerySet[Article], terms: list[str], limit: int) -> list:
    phrase = " ".join(terms)
    like = f"%{_like_escape(phrase)}%"
    sql = """
        SELECT a.id,
               ts_rank_cd(a.search_vector, q.any_word)
               + CASE WHEN a.search_vector @@ q.all_words THEN %s ELSE 0 END
               + CASE WHEN a.search_title LIKE %s THEN %s ELSE 0 END
               + CASE WHEN a.search_body LIKE %s THEN %s ELSE 0 END
               + word_similarity(%s, a.search_title) * 0.5 AS rank
        FROM kb_article a,
             (SELECT to_tsquery('simple', %s) AS all_words,
                     to_tsquery('simple', %s) AS any_word) q
        WHERE a.id = ANY(%s)
        ORDER BY rank DESC, a.id DESC
        LIMIT %s
    """
    params = [
        ALL_WORDS_BONUS,
        like,
        PHRASE_IN_TITLE_BONUS,
        like,
        PHRASE_IN_BODY_BONUS,
        phrase,
        _tsquery(terms, "&"),
        _tsquery(terms, "|"),
    ]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # Each candidate query has a LIMIT, and the planner's guess for prefix queries is
        # rough: it picked a sequential scan "to stop early" that then read the whole table
        # when few rows matched (800 ms at 100,000 articles). The indexes are always right.
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            # Common words are left out of the matching (a typed sentence's "my", "does",
            # "nie", "się" rarely all appear, and cost a posting list each); the ranking
            # below still weighs the whole phrase.
            words = [term for term in terms if term not in STOP_WORDS] or terms
            # Cheapest first, each step only while fewer than asked were found: every word
            # (whole, the last as typed), titles with some of the words, then every word as
            # a prefix (``printer`` finding ``printers``). The ranking below weighs every
            # candidate by the prefixes, however it was found.
            ids = _candidates(queryset, _as_typed(words, "&"))
            if len(ids) < limit and len(words) > 1:
                ids = list({*ids, *_some_words_in_title(queryset, words)})
                if len(ids) < limit:
                    ids = list({*ids, *_candidates(queryset, _tsquery(words, "&"))})
            # Typos matter in a few words (a title being typed); a sentence finds enough by
            # its other words, and a trigram search of many words is the costliest query.
            if len(ids) < limit and len(words) <= TYPO_MAX_TERMS:
                ids = list({*ids, *_typo_candidates(queryset, words)})
        finally:
            # Within a longer transaction (a test, a request's), the rest plans as usual.
            cursor.execute("SET LOCAL enable_seqscan = on")
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, ids, limit])
        rows = cursor.fetchall()
    return [(pk, float(rank)) for pk, rank in rows]


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- SQLite (and any other database): bounded candidates ranked in Python ------------------


def _word_match(term: str, folded: str) -> int:
    """How often ``term`` starts a word of ``folded``."""
    count, start = 0, 0
    while True:
        index = folded.find(term, start)
        if index < 0:
            return count
        if index == 0 or not folded[index - 1].isalnum():
            count += 1
        start = index + 1


def _typo_match(term: str, title_words: list[str]) -> float:
    if len(term) < 4:
        return 0.0
    return max((text.similarity(term, word) for word in title_words), default=0.0)


def _score(terms: list[str], phrase: str, title: str, body: str) -> float:
    title_words = title.split()
    score, matched = 0.0, 0
    for term in terms:
        in_title = _word_match(term, title)
        in_body = _word_match(term, body)
        if in_title or in_body:
            matched += 1
        elif (similar := _typo_match(term, title_words)) >= TYPO_SIMILARITY:
            matched += 1
            score += similar * 0.5
        score += min(in_title, 3) * 1.0 + min(in_body, 10) * 0.1
    if not matched:
        return 0.0
    if matched == len(terms):
        score += ALL_WORDS_BONUS
    if len(terms) > 1 and phrase in title:
        score += PHRASE_IN_TITLE_BONUS
    if len(terms) > 1 and phrase in body:
        score += PHRASE_IN_BODY_BONUS
    return score


def _sqlite(queryset: QuerySet[Article], terms: list[str], limit: int) -> list:
    from django.db.models import Q

    phrase = " ".join(terms)
    condition = Q()
    for term in terms:
        condition |= Q(search_title__contains=term) | Q(search_body__contains=term)
    rows = list(
        queryset.filter(condition)
        .order_by("-id")
        .values_list("pk", "search_title", "search_body")[:SQLITE_CANDIDATES]
    )
    if len(rows) < limit:
        # Typos: titles near the words, among the newest visible articles.
        seen = {pk for pk, _title, _body in rows}
        rows += [
            row
            for row in queryset.order_by("-id").values_list("pk", "search_title", "search_body")[
                :SQLITE_TYPO_SCAN
            ]
            if row[0] not in seen
        ]
    scored = [
        (pk, score) for pk, title, body in rows if (score := _score(terms, phrase, title, body)) > 0
    ]
    scored.sort(key=lambda item: (-item[1], -item[0]))
    return scored[:limit]
