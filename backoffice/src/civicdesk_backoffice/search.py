"""Free-text search over the service catalogue: which services does a citizen's sentence mean?

The bot sends what the citizen typed ("my street lamp has been dark for a week") and gets the
catalogue entries ranked by how well they fit, so it can offer the best one or two as buttons.

Ranking is BM25F over four fields of each entry, weighted so that a word in the name or the
keywords counts more than one in the description. Words are folded (case, accents,
apostrophes), filler words are dropped and a light suffix stripper makes "lights",
"lighting" and "light" one term. Adjacent words also form a two-word term, so "street light"
outranks an entry that merely mentions "street" and "light" apart. A query word the catalogue
does not know is corrected to catalogue terms within one edit (two for long words; swapping
two letters is one edit), and such a match counts for less than an exact one.

Chinese is searched in an index of its own, built from the catalogue's zh-Hans words by the
rules of ``search_chinese.py`` (character bigrams, single characters at a low weight, and the
pinyin of each bigram for homophone typos); Latin words inside Chinese text (KTV, app) go
through the English rules above. A query containing Chinese characters is searched in the
Chinese index, any other in the English one, whatever language the answer is written in.

The index is plain Python built in memory from the active ``services`` rows; it holds no
connection. :class:`SearchIndexCache` rebuilds it when the catalogue version in the database
changes, and :func:`search_view` serves ``GET /api/v1/services/search``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import locales, search_chinese
from civicdesk_backoffice.app_keys import SESSIONMAKER
from civicdesk_backoffice.catalogue import Catalogue, CatalogueEntry, words_of
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import ServiceEntry
from civicdesk_backoffice.open311.render import mark_language

MAX_QUERY_CHARS = 500
"""Longest query accepted; a citizen's first message is rarely longer than a few lines."""
DEFAULT_LIMIT = 5
MAX_LIMIT = 50
SERVICE_TYPES = frozenset({"complaint", "application", "feedback"})

# Field weights and length normalisation (BM25F). Names are short and precise; keyword lists
# are long on purpose, so their length is barely held against them.
_FIELDS: tuple[tuple[str, float, float], ...] = (
    # (field, weight, b)
    ("name", 3.0, 0.5),
    ("keywords", 2.0, 0.2),
    ("description", 1.0, 0.75),
    ("group", 1.0, 0.0),
)
_K1 = 1.2
_BIGRAM_BOOST = 1.5
"""Two-word terms are rarer than single words; this extra factor makes phrases decisive."""
_FUZZY_WEIGHT = {1: 0.7, 2: 0.45}
"""How much a corrected word counts, by edit distance, relative to an exact match."""
_MAX_FUZZY_CANDIDATES = 3
_MAX_CORRECTED_WORDS = 16
"""Unknown words corrected per query; the rest are ignored, bounding the cost of long junk."""

_STOPWORD_TEXT = """
    a about across actually after again ago all almost along already also always am an and any
    anyone are around as at basically be because been before behind being beside between but by
    can cant completely could day days did do does doesnt done dont even ever every for from get
    gets getting got had has have having he hello her here hey hi him his how i ill im in inside
    into is isnt it its ive just keep keeps last like literally lot lots me mine month months
    more my near nearly need needs next no not now number of often on once one opposite or our
    outside over please quite really she since so some someone something sometimes still than
    that the their them then there these they this those to today too totally under up us very
    want wants was wasnt we week weeks were what when where which while who why will with would
    yesterday yet you your yours
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Words that say nothing about which service is meant.

"out" is not one: "out of work", "light out" and "out of order" lose their sense without it.
Adverbs such as "nearly" or "always" are, because otherwise they would be corrected to some
catalogue word ("nearly" to "yearly") and pull unrelated services up.
"""

_SPELLING = {
    "license": "licence",
    "licenses": "licences",
    "center": "centre",
    "neighbor": "neighbour",
    "neighbors": "neighbours",
    "color": "colour",
    "odor": "odour",
    "mold": "mould",
    "curb": "kerb",
    "curbs": "kerbs",
    "tire": "tyre",
    "tires": "tyres",
    # Text-speak respellings: too short or too far from the word for typo correction.
    "lite": "light",
    "lites": "lights",
    "nite": "night",
    "nites": "nights",
    "thru": "through",
    "pls": "please",
    "plz": "please",
    "ppl": "people",
    "u": "you",
    "ur": "your",
    "cuz": "because",
    "coz": "because",
    "govt": "government",
    "appt": "appointment",
    "info": "information",
}
"""American spellings folded into the British ones the catalogue is written in, and the
text-speak respellings of chat messages folded into the words they stand for."""

_WORD = re.compile(r"[a-z0-9]+")
_APOSTROPHES = re.compile(r"['\u2019`]")


def _fold(text: str) -> str:
    """Lower case without accents or apostrophes ("Driver's Café" -> "drivers cafe")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _APOSTROPHES.sub("", bare)


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Strip common English suffixes so word forms meet: lights, lighting -> light.

    Deliberately light: it only has to make a citizen's word and the catalogue's word agree,
    both going through the same rules; it never has to produce a dictionary word.
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes")) or (word.endswith("es") and word[-3] in "sxz"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    else:
        # "ing" needs a longer remainder, or rating would become rat.
        for suffix, shortest in (("ing", 4), ("ed", 3)):
            if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
                word = _undouble(word[: -len(suffix)])
                break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(word: str) -> str:
    """Drop a doubled last letter (stopp, cancell) but not in pass or fill."""
    last = word[-1]
    if len(word) < 4 or last != word[-2] or last in "aeiou" or last == "s":
        return word
    if last == "l" and len(word) < 6:
        return word
    return word[:-1]


def tokens(text: str) -> list[str]:
    """The content words of ``text`` as written, folded, in order."""
    found = (_SPELLING.get(token, token) for token in _WORD.findall(_fold(text)))
    return [token for token in found if token not in _STOPWORDS]


@lru_cache(maxsize=8192)
def phrase_form(word: str) -> str:
    """The form a word takes inside a two-word term: only plurals are folded.

    Phrases keep their verb endings so that "car parked" does not meet "car park".
    """
    return word if stem(word) == word else _plural_stem(word)


def _plural_stem(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Index terms of ``text``: its stemmed words, then each pair of neighbouring words."""
    written = tokens(text)
    phrases = [phrase_form(token) for token in written]
    return [stem(token) for token in written] + [
        f"{first} {second}" for first, second in itertools.pairwise(phrases)
    ]


CHINESE = "zh-Hans"
"""The language whose index is read by the Chinese rules (``search_chinese.py``)."""


def terms_in(text: str, language: str) -> list[str]:
    """Index terms of ``text`` written in ``language``.

    Chinese text: the Chinese terms of its Chinese characters plus the English terms of any
    Latin words in it; other languages: the English rules.
    """
    if language != CHINESE:
        return terms(text)
    return terms(search_chinese.latin_part(text)) + search_chinese.document_terms(text)


def _is_word_term(term: str) -> bool:
    """A Latin single-word term: the ones a misspelt query word may be corrected to."""
    return term.isascii() and " " not in term and not term.startswith("~")


@dataclass(frozen=True)
class SearchDocument:
    """What the search knows about one service."""

    code: str
    name: str
    group: str
    type: str
    description: str
    keywords: tuple[str, ...]
    department: str

    @classmethod
    def from_row(cls, row: ServiceEntry, locale: str = locales.DEFAULT_LOCALE) -> SearchDocument:
        """From a ``services`` row in ``locale`` (its keywords already include the synonyms)."""
        words = words_of(row, locale)
        return cls(
            code=row.code,
            name=words.name,
            group=words.group,
            type=row.type,
            description=words.description,
            keywords=tuple(str(keyword) for keyword in words.keywords),
            department=row.department,
        )

    @classmethod
    def from_entry(
        cls, entry: CatalogueEntry, translated: Mapping[str, Any] | None = None
    ) -> SearchDocument:
        """From a catalogue file entry, as it will be stored.

        Args:
            entry: The entry.
            translated: Its words in another language, as ``services.translations`` keeps
                them (``CatalogueEntry.stored_translation``); None for the English.
        """
        words = translated or {}
        return cls(
            code=entry.code,
            name=words.get("name") or entry.name,
            group=words.get("group") or entry.group,
            type=entry.type,
            description=words.get("description") or entry.description,
            keywords=tuple(words.get("keywords") or entry.column_values()["keywords"]),
            department=entry.department,
        )

    def field_terms(self, language: str = locales.DEFAULT_LOCALE) -> dict[str, list[str]]:
        """Index terms per field; keywords are phrases, so no pair spans two of them."""
        return {
            "name": terms_in(self.name, language),
            "keywords": [term for keyword in self.keywords for term in terms_in(keyword, language)],
            "description": terms_in(self.description, language),
            "group": terms_in(self.group, language),
        }


@dataclass(frozen=True)
class SearchHit:
    """One ranked service.

    Attributes:
        document: The service.
        score: Relevance; only comparable between hits of the same query.
        matched: The query words that matched this service, as the citizen wrote them.
    """

    document: SearchDocument
    score: float
    matched: tuple[str, ...]

    def to_json(self, shown: SearchDocument | None = None) -> dict[str, Any]:
        """The hit as the search API returns it.

        Args:
            shown: The same service's document in the language of the answer, when the
                query was searched in another language's index.
        """
        named = shown or self.document
        return {
            "service_code": self.document.code,
            "service_name": named.name,
            "group": named.group,
            "type": self.document.type,
            "department": self.document.department,
            "score": round(self.score, 3),
            "matched": list(self.matched),
        }


@dataclass(frozen=True)
class _QueryTerm:
    term: str
    weight: float
    source: str  # the query word(s) it came from


class CatalogueIndex:
    """An immutable search index over a set of services."""

    def __init__(
        self,
        documents: Iterable[SearchDocument],
        *,
        version: int | None = None,
        language: str = locales.DEFAULT_LOCALE,
    ) -> None:
        """Index ``documents``, written in ``language``, of catalogue ``version``."""
        self.documents: tuple[SearchDocument, ...] = tuple(documents)
        self.version = version
        self.language = language
        self.by_code = {document.code: document for document in self.documents}
        self._postings = self._build_postings()
        self._vocabulary = frozenset(term for term in self._postings if _is_word_term(term))
        self._deletions: dict[str, set[str]] = defaultdict(set)
        for term in self._vocabulary:
            for variant in _deletions(term, _max_edits(term)):
                self._deletions[variant].add(term)
        self._corrections: dict[str, tuple[tuple[str, int], ...]] = {}
        self._longest_term = max((len(term) for term in self._vocabulary), default=0)

    def _build_postings(self) -> dict[str, dict[int, float]]:
        """Term -> {document number: BM25F contribution}, computed once at build time."""
        per_document = [document.field_terms(self.language) for document in self.documents]
        count = max(len(self.documents), 1)
        average = {
            name: max(sum(len(fields[name]) for fields in per_document) / count, 1.0)
            for name, _, _ in _FIELDS
        }
        weighted: dict[str, dict[int, float]] = defaultdict(dict)
        for number, fields in enumerate(per_document):
            pseudo_tf: dict[str, float] = defaultdict(float)
            for name, weight, b in _FIELDS:
                terms_here = fields[name]
                norm = 1 - b + b * len(terms_here) / average[name]
                for term in terms_here:
                    pseudo_tf[term] += weight / norm
            for term, tf in pseudo_tf.items():
                weighted[term][number] = tf
        postings: dict[str, dict[int, float]] = {}
        for term, by_document in weighted.items():
            frequency = len(by_document)
            idf = math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))
            if " " in term:
                idf *= _BIGRAM_BOOST
            postings[term] = {
                number: idf * tf * (_K1 + 1) / (tf + _K1) for number, tf in by_document.items()
            }
        return postings

    def search(
        self, query: str, limit: int = DEFAULT_LIMIT, *, types: Collection[str] | None = None
    ) -> list[SearchHit]:
        """The services best matching ``query``, best first; empty if nothing matches.

        Args:
            query: Free text as the citizen wrote it.
            limit: At most this many hits.
            types: Only services of these types (complaint, application, feedback).
        """
        scores: dict[int, float] = defaultdict(float)
        query_terms = list(self._query_terms(query))
        for query_term in query_terms:
            for number, contribution in self._postings.get(query_term.term, {}).items():
                scores[number] += query_term.weight * contribution
        if types is not None:
            scores = {n: score for n, score in scores.items() if self.documents[n].type in types}
        ranked = sorted(scores.items(), key=lambda item: (-item[1], self.documents[item[0]].code))
        return [
            SearchHit(self.documents[number], score, self._matched(number, query_terms))
            for number, score in ranked[:limit]
        ]

    def _matched(self, number: int, query_terms: Sequence[_QueryTerm]) -> tuple[str, ...]:
        """The query words behind the terms that document ``number`` contains."""
        sources = (term.source for term in query_terms if number in self._postings[term.term])
        return tuple(dict.fromkeys(sources))

    def _query_terms(self, query: str) -> Iterator[_QueryTerm]:
        if self.language != CHINESE:
            yield from self._english_query_terms(query)
            return
        yield from self._english_query_terms(search_chinese.latin_part(query))
        seen: set[str] = set()
        for chinese in search_chinese.query_terms(query):
            term, weight = chinese.term, chinese.weight
            if term not in self._postings and chinese.fallback is not None:
                # An unknown bigram may be a homophone typo: look for its pinyin instead.
                term, weight = chinese.fallback, search_chinese.PINYIN_WEIGHT
            if term in self._postings and term not in seen:
                seen.add(term)
                yield _QueryTerm(term, weight, chinese.source)

    def _english_query_terms(self, query: str) -> Iterator[_QueryTerm]:
        written = tokens(query)
        stems = [stem(token) for token in written]
        phrases = [phrase_form(token) for token in written]
        seen: set[str] = set()
        # Each query word is resolved to the catalogue terms it stands for: itself if the
        # catalogue knows it, otherwise its closest corrections.
        resolved: list[tuple[tuple[str, float], ...]] = []
        corrections_left = _MAX_CORRECTED_WORDS
        for token, word in zip(written, stems, strict=True):
            options: tuple[tuple[str, float], ...] = ()
            if word in self._vocabulary:
                options = ((word, 1.0),)
            elif corrections_left:
                corrections_left -= 1
                options = tuple(
                    (term, _FUZZY_WEIGHT[distance]) for term, distance in self._correct(word)
                )
            resolved.append(options)
            for term, weight in options:
                if term not in seen:
                    seen.add(term)
                    yield _QueryTerm(term, weight, token)
        for index in range(len(resolved) - 1):
            source = f"{written[index]} {written[index + 1]}"
            for first, first_weight in self._phrase_options(phrases[index], resolved[index]):
                for second, second_weight in self._phrase_options(
                    phrases[index + 1], resolved[index + 1]
                ):
                    pair = f"{first} {second}"
                    if pair not in seen and pair in self._postings:
                        seen.add(pair)
                        yield _QueryTerm(pair, first_weight * second_weight, source)

    def _phrase_options(
        self, phrase: str, resolved: tuple[tuple[str, float], ...]
    ) -> tuple[tuple[str, float], ...]:
        """A query word inside a pair: as written, or its corrections if it was unknown."""
        if len(resolved) == 1 and resolved[0][1] == 1.0:
            return ((phrase, 1.0),)
        return resolved

    def _correct(self, word: str) -> tuple[tuple[str, int], ...]:
        """Catalogue terms within the allowed edits of an unknown ``word``, closest first."""
        known = self._corrections.get(word)
        if known is not None:
            return known
        limit = _max_edits(word)
        candidates: set[str] = set()
        # A word longer than every catalogue term by more than the allowed edits cannot be a
        # misspelling of one; checking it anyway would cost time quadratic in its length.
        if limit and len(word) - limit <= self._longest_term:
            for variant in _deletions(word, limit):
                candidates |= self._deletions.get(variant, set())
        found = sorted(
            (distance, term)
            for term in candidates
            if (distance := _edit_distance(word, term, limit)) <= limit
        )
        best = tuple((term, distance) for distance, term in found[:_MAX_FUZZY_CANDIDATES])
        if len(self._corrections) < 10_000:  # bounded: queries are attacker-controlled
            self._corrections[word] = best
        return best


def _max_edits(word: str) -> int:
    """Edits allowed when correcting ``word``: none for short words, where typos are guesses."""
    if len(word) < 5:
        return 0
    return 1 if len(word) < 8 else 2


def _deletions(word: str, edits: int) -> set[str]:
    """``word`` and every string made from it by deleting up to ``edits`` letters."""
    found = {word}
    frontier = {word}
    for _ in range(edits):
        frontier = {
            variant[:position] + variant[position + 1 :]
            for variant in frontier
            for position in range(len(variant))
        }
        found |= frontier
    return found


def _edit_distance(first: str, second: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours is one edit), capped at limit+1."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(second) + 1))
    for i, char in enumerate(first, start=1):
        current = [i] + [0] * len(second)
        for j, other in enumerate(second, start=1):
            cost = 0 if char == other else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char == second[j - 2] and first[i - 2] == other:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


Fingerprint = tuple[int | None, int]
"""(highest catalogue version, number of active services) of the ``services`` table."""


@dataclass
class SearchIndexCache:
    """The index of the active services, rebuilt when the catalogue in the database changes.

    The database is asked for the catalogue version at most every ``recheck_seconds``, so a
    search usually touches no database at all; a catalogue loaded by another process is
    picked up within that delay.
    """

    recheck_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _indexes: dict[str, CatalogueIndex] = field(default_factory=dict, init=False)
    _fingerprint: Fingerprint | None = field(default=None, init=False)
    _checked_at: float = field(default=-math.inf, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def index(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        language: str = locales.DEFAULT_LOCALE,
    ) -> CatalogueIndex:
        """The current index of ``language``, rebuilding it first if the catalogue changed.

        Each language's index is built the first time it is asked for, and all are dropped
        together when the catalogue changes.
        """
        current = self._indexes.get(language)
        if current is not None and self.clock() - self._checked_at < self.recheck_seconds:
            return current
        async with self._lock:
            current = self._indexes.get(language)
            if current is not None and self.clock() - self._checked_at < self.recheck_seconds:
                return current  # another request refreshed it while we waited
            async with sessionmaker() as session:
                fingerprint = await _fingerprint(session)
                if fingerprint != self._fingerprint:
                    self._indexes = {}
                    self._fingerprint = fingerprint
                current = self._indexes.get(language)
                if current is None:
                    current = await _build_index(session, version=fingerprint[0], language=language)
                    self._indexes[language] = current
            self._checked_at = self.clock()
            return current


async def _fingerprint(session: AsyncSession) -> Fingerprint:
    query = select(func.max(ServiceEntry.catalogue_version), func.count()).where(
        ServiceEntry.active.is_(True)
    )
    version, count = (await session.execute(query)).one()
    return version, count


async def _build_index(
    session: AsyncSession, *, version: int | None, language: str
) -> CatalogueIndex:
    rows = await session.scalars(select(ServiceEntry).where(ServiceEntry.active.is_(True)))
    documents = sorted(
        (SearchDocument.from_row(row, language) for row in rows), key=lambda d: d.code
    )
    return CatalogueIndex(documents, version=version, language=language)


@dataclass(frozen=True)
class SearchRequest:
    """A checked search query string."""

    text: str
    limit: int = DEFAULT_LIMIT
    types: frozenset[str] | None = None


def parse_search_query(query: Mapping[str, str]) -> SearchRequest:
    """Check the ``q``, ``limit`` and ``type`` query parameters.

    Args:
        query: The request's query string as a mapping. ``type`` is optional: one type or
            several separated by commas, e.g. ``type=complaint,feedback``.

    Returns:
        What to search for, how many hits and of which service types.

    Raises:
        ApiError: 400 naming what is wrong.
    """
    text = query.get("q")
    if text is None or not text.strip():
        raise ApiError(
            400, "The query parameter q is required: the citizen's words, e.g. q=broken lamp."
        )
    if len(text) > MAX_QUERY_CHARS:
        raise ApiError(400, f"The query parameter q is longer than {MAX_QUERY_CHARS} characters.")
    raw_limit = query.get("limit", str(DEFAULT_LIMIT))
    if not re.fullmatch(r"[0-9]{1,3}", raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ApiError(
            400, f"The query parameter limit must be a whole number from 1 to {MAX_LIMIT}."
        )
    raw_types = query.get("type")
    types = None
    if raw_types is not None:
        types = frozenset(part.strip() for part in raw_types.split(","))
        if not types <= SERVICE_TYPES:
            raise ApiError(
                400,
                "The query parameter type must be complaint, application or feedback, "
                "or several of them separated by commas.",
            )
    return SearchRequest(text, int(raw_limit), types)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def query_language(text: str) -> str:
    """The index a query is searched in: Chinese if it has a Chinese character, else English."""
    return CHINESE if search_chinese.has_chinese(text) else locales.DEFAULT_LOCALE


def search_view(cache: SearchIndexCache | None = None) -> Handler:
    """The handler of ``GET /api/v1/services/search?q=...&limit=N&type=T&locale=L``.

    The answer is ``{"query", "catalogue_version", "locale", "query_language",
    "results": [hit, ...]}``, best hit first; ``results`` is empty when no catalogue word
    matches. The query is searched in the index of its script (``query_language``); names
    and groups are in the negotiated ``locale`` (``locales.negotiate``), marked with
    ``Content-Language`` and ``Vary``. The handler has its own index cache.
    """
    own_cache = cache or SearchIndexCache()

    async def search_services(request: web.Request) -> web.Response:
        wanted = parse_search_query(request.query)
        locale = locales.negotiate(request.query, request.headers)
        searched_in = query_language(wanted.text)
        sessionmaker = request.app[SESSIONMAKER]
        index = await own_cache.index(sessionmaker, searched_in)
        shown = index if locale == searched_in else await own_cache.index(sessionmaker, locale)
        hits = index.search(wanted.text, wanted.limit, types=wanted.types)
        response = web.json_response(
            {
                "query": wanted.text,
                "catalogue_version": index.version,
                "locale": locale,
                "query_language": searched_in,
                "results": [hit.to_json(shown.by_code.get(hit.document.code)) for hit in hits],
            }
        )
        mark_language(response.headers, locale)
        return response

    return search_services


def index_of_entries(entries: Sequence[CatalogueEntry], version: int) -> CatalogueIndex:
    """An index straight from catalogue file entries (tests and benchmarks need no database)."""
    return CatalogueIndex((SearchDocument.from_entry(entry) for entry in entries), version=version)


def index_of_catalogue(catalogue: Catalogue, language: str) -> CatalogueIndex:
    """A catalogue file's index in ``language`` (English for a language it lacks), no database."""
    overlay = catalogue.translations.get(language)
    documents = (
        SearchDocument.from_entry(
            entry, None if overlay is None else entry.stored_translation(overlay)
        )
        for entry in catalogue.services
    )
    return CatalogueIndex(documents, version=catalogue.version, language=language)
