"""Which language a response is written in: the ``locale`` parameter, else Accept-Language.

Open311 has one language per endpoint; CivicDesk serves the catalogue in several from one
endpoint (docs/backoffice-api.md, "Languages"). A client names the language it wants with
``?locale=<BCP 47 tag>`` or, without that, with the ``Accept-Language`` header (q-values
respected). Tags are matched to the languages the catalogue is written in: English (``en``,
the default) and Simplified Chinese (``zh-Hans``). Every Chinese tag (``zh``, ``zh-CN``,
``zh-Hans-SG``, also ``zh-TW``) is served ``zh-Hans``, the only Chinese the catalogue has,
which a reader of Chinese follows more easily than English. A well-formed tag of any other
language falls back to English; a malformed ``locale`` parameter is refused with a 400 so a
client's bug shows, while malformed parts of ``Accept-Language`` are skipped, as HTTP asks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from civicdesk_backoffice.errors import ApiError

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "zh-Hans")
"""Every locale responses can be written in; the catalogue's translations name the others."""

MAX_TAG_CHARS = 35
"""Longest language tag accepted (RFC 5646 recommends supporting at least 35 characters)."""

# RFC 5646 in the shape clients send: a 2-3 letter language (or a 4-8 letter registered
# one), then subtags of 1-8 letters or digits. Private-use and grandfathered forms such as
# "i-klingon" are well-formed too; they simply match nothing we serve.
_TAG = re.compile(r"^(?:[A-Za-z]{2,8}|[iIxX])(?:-[A-Za-z0-9]{1,8})*$")
_QUALITY = re.compile(r"^[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
_MAX_RANGES = 20
"""Accept-Language entries looked at; browsers send a handful, the rest are ignored."""


def is_language_tag(text: str) -> bool:
    """Whether ``text`` has the shape of a BCP 47 language tag (``en``, ``zh-Hans-CN``)."""
    return len(text) <= MAX_TAG_CHARS and _TAG.fullmatch(text) is not None


def supported_locale(tag: str) -> str | None:
    """The served locale a well-formed ``tag`` is answered in, or None if it has none."""
    primary = tag.split("-", 1)[0].casefold()
    if primary == "zh":
        return "zh-Hans"
    if primary == "en":
        return "en"
    return None


def parse_locale_parameter(raw: str) -> str:
    """The locale a ``locale`` parameter asks for: a served one, else the default.

    Raises:
        ApiError: 400 if ``raw`` is not a language tag.
    """
    tag = raw.strip()
    if not is_language_tag(tag):
        raise ApiError(
            400,
            "The parameter locale must be a language tag such as en or zh-Hans "
            f"(at most {MAX_TAG_CHARS} letters, digits and hyphens).",
        )
    return supported_locale(tag) or DEFAULT_LOCALE


def from_accept_language(header: str) -> str:
    """The served locale an ``Accept-Language`` header prefers most; the default if none.

    Ranges are ranked by their q-value (1 when absent), ties in the order written; ``q=0``
    means "not this one", and ``*`` stands for the default.
    """
    ranked: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    for position, part in enumerate(header.split(",")[:_MAX_RANGES]):
        pieces = [piece.strip() for piece in part.split(";")]
        tag = pieces[0]
        quality = 1.0
        for parameter in pieces[1:]:
            match = _QUALITY.fullmatch(parameter)
            quality = float(match.group(1)) if match else -1.0
        if quality < 0 or not (tag == "*" or is_language_tag(tag)):
            continue  # a malformed range: skipped, the others still count
        locale = DEFAULT_LOCALE if tag == "*" else supported_locale(tag)
        if locale is None:
            continue
        if quality == 0:
            refused.add(locale)
        else:
            ranked.append((-quality, position, locale))
    for _, _, locale in sorted(ranked):
        if locale not in refused:
            return locale
    return DEFAULT_LOCALE


def negotiate(query: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """The locale of a response: the ``locale`` query parameter, else Accept-Language.

    Raises:
        ApiError: 400 if the ``locale`` parameter is not a language tag.
    """
    raw = query.get("locale")
    if raw is not None:
        return parse_locale_parameter(raw)
    return from_accept_language(headers.get("Accept-Language", ""))
