"""Pick the catalogue entry that best fits what the citizen wrote.

The back office's catalogue search ranks when it is available; otherwise a deliberately small
local ranking (word overlap with each service's name, keywords and group) over the Open311
service list stands in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from actions.open311_client import ExtensionUnavailable, ServiceMatch
from open311_schema import Service

logger = logging.getLogger(__name__)


class CatalogueReader(Protocol):
    """The part of the Open311 client the catalogue search needs."""

    async def list_services(self) -> list[Service]: ...

    async def search_services(self, query: str, *, limit: int = 8) -> list[ServiceMatch]: ...


_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that say nothing about which service is meant.
_STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "on",
        "in",
        "at",
        "of",
        "to",
        "for",
        "my",
        "our",
        "there",
        "it",
        "its",
        "this",
        "that",
        "and",
        "or",
        "not",
        "no",
        "from",
        "by",
        "with",
        "near",
        "outside",
        "since",
        "week",
        "weeks",
        "day",
        "days",
        "again",
    }
)


def _stem(word: str) -> str:
    # Crude plural folding is enough to match "lights" to "light" and "bins" to "bin".
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> set[str]:
    """The meaningful, normalised words of ``text``."""
    return {_stem(word) for word in _WORD.findall(text.casefold()) if word not in _STOP_WORDS}


def _service_words(service: Service) -> tuple[set[str], set[str]]:
    keyword_words = set().union(*(words(keyword) for keyword in service.keywords))
    return words(service.service_name) | keyword_words, words(service.group)


def rank_services(text: str, services: Iterable[Service]) -> list[Service]:
    """Services sharing words with ``text``, best first.

    A service must share a word with its name or keywords; its group only breaks ties, since
    a group word ("street") says too little on its own.
    """
    said = words(text)
    scored: list[tuple[int, str, Service]] = []
    for service in services:
        strong, weak = _service_words(service)
        if said & strong:
            score = 2 * len(said & strong) + len(said & weak)
            scored.append((-score, service.service_code, service))
    return [service for _, _, service in sorted(scored, key=lambda item: item[:2])]


def find_service(services: Sequence[Service], service_code: str) -> Service | None:
    """The service with ``service_code``, if the catalogue has it."""
    return next((s for s in services if s.service_code == service_code), None)


# A match scoring under this share of the best one fits only by a side word (often from the
# address: "Jiefang Road" matches every road service) and is not offered as a best match.
RELATIVE_SCORE_FLOOR = 0.35


def above_floor(matches: list[ServiceMatch]) -> list[ServiceMatch]:
    """The matches scoring at least ``RELATIVE_SCORE_FLOOR`` of the best one, best first."""
    if not matches or matches[0].score <= 0:
        return matches
    floor = matches[0].score * RELATIVE_SCORE_FLOOR
    return [match for match in matches if match.score >= floor]


async def search_catalogue(
    client: CatalogueReader, text: str, limit: int = 8
) -> list[ServiceMatch]:
    """Services that fit ``text``, best first.

    Uses the back office's search (CivicDesk extension) where it exists, keeping the matches
    near the best one (:func:`above_floor`); else ranks the plain Open311 service list
    locally, so the bot works against any Open311 server.

    Raises:
        BackOfficeUnavailable: neither the search nor the service list could be read.
    """
    try:
        return above_floor(await client.search_services(text, limit=limit))
    except ExtensionUnavailable:
        logger.info("catalogue search unavailable; ranking the Open311 service list locally")
    services = await client.list_services()
    ranked = rank_services(text, services)[:limit]
    return [
        ServiceMatch(service.service_code, service.service_name, float(len(ranked) - index))
        for index, service in enumerate(ranked)
    ]
