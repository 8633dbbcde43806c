"""Index terms of Chinese text for the catalogue search (see ``search.py``).

Chinese is written without spaces, so words cannot be split on whitespace, and a segmenter
would have to guess where a citizen's words end ("路灯坏了" is 路灯 + 坏了; "楼下路灯" is
楼下 + 路灯). Character bigrams need no dictionary and find every two-character word
wherever it sits: each pair of neighbouring Chinese characters is a term, so 路灯 in a query
meets 路灯 in a keyword however the sentences around them are cut. Most Chinese words are
two characters long; longer ones match as several overlapping pairs, which scores them
higher still.

Single characters are terms too, for the one-character words citizens use (灯, 水, 狗),
but a query counts them for little: a shared character alone is weak evidence.

Typing Chinese means picking characters by their pinyin, so a common typo is a homophone
(同音字): 路登 for 路灯, 拉圾 for 垃圾. Each bigram is therefore also indexed by its toneless
pinyin (``~lu.deng``); a query bigram the catalogue does not contain is looked up by its
pinyin instead, at a lower weight than an exact match. Pinyin comes from pypinyin, which
reads the bigram as a phrase, so a character with several readings gets the one it has in
that pair (银行 hang, 行人 xing).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

PINYIN_PREFIX = "~"
"""Marks pinyin terms, so they never meet a Latin word or a Chinese bigram."""

BIGRAM_WEIGHT = 1.0
PINYIN_WEIGHT = 0.6
"""A homophone bigram counts a little more than half of the exact one."""
UNIGRAM_WEIGHT = 0.25

# CJK Unified Ideographs with extension A and the compatibility block; the rarer planes
# are left out, as no catalogue word is written in them.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RUN = re.compile(f"[{_HAN}]+")
_HAS_HAN = re.compile(f"[{_HAN}]")

_STOP_CHARACTERS = frozenset(
    "的了是在有个一这那吗呢吧啊呀哦嘛很都也就还和与或把被给让您你我他她它们么什怎哪儿"
    "着过又再才已经请想要能会可以得地之其好嗯啦"
)
"""Characters that say nothing about a service when they stand alone as single-character
terms (particles, pronouns, 的/了). They still form bigrams: 可以 is nothing, but 以前 or
要求 are left to the index's document frequencies to weigh."""

_PARTICLES = frozenset("的吗呢吧啊呀嗯哦嘛啦")
"""Sentence particles: a bigram ending in one (好的, 坏吗) or starting with one of the
interjections (嗯好, 啊我) spans two words and means nothing. 的 may start a word (的士)."""
_INTERJECTIONS = _PARTICLES - {"的"}
_FILLER_BIGRAMS = frozenset(
    {
        "这个",
        "那个",
        "一个",
        "怎么",
        "什么",
        "这么",
        "那么",
        "我们",
        "你们",
        "他们",
        "可以",
        "已经",
        "请问",
        "如何",
        "一下",
        "有没",
        "没有",
        "是不",
        "不是",
    }
)
"""Two-character words found in every kind of request ("这个月电费怎么这么高"), which
would otherwise pull up whichever entry happens to use them in a keyword."""

_MAX_QUERY_BIGRAMS = 120
"""Bigrams taken from one query; a 500-character query has at most ~500, this bounds work."""


def has_chinese(text: str) -> bool:
    """Whether ``text`` contains at least one Chinese character."""
    return _HAS_HAN.search(text) is not None


def latin_part(text: str) -> str:
    """``text`` with its Chinese characters replaced by spaces (what the English rules read)."""
    return _HAN_RUN.sub(" ", text)


def _runs(text: str) -> list[str]:
    """The uninterrupted stretches of Chinese characters; punctuation and Latin split them."""
    return _HAN_RUN.findall(text)


def _bigrams(run: str) -> list[str]:
    """The meaningful character pairs of a run (see ``_PARTICLES``, ``_FILLER_BIGRAMS``)."""
    return [
        first + second
        for first, second in itertools.pairwise(run)
        if second not in _PARTICLES
        and first not in _INTERJECTIONS
        and first + second not in _FILLER_BIGRAMS
    ]


@lru_cache(maxsize=65536)
def pinyin_term(bigram: str) -> str:
    """The toneless-pinyin term of a bigram: 路灯 -> ``~lu.deng``."""
    from pypinyin import Style, lazy_pinyin

    return PINYIN_PREFIX + ".".join(lazy_pinyin(bigram, style=Style.NORMAL))


def document_terms(text: str) -> list[str]:
    """The Chinese terms a catalogue text is indexed under: bigrams, their pinyin, characters."""
    found: list[str] = []
    for run in _runs(text):
        pairs = _bigrams(run)
        found += pairs
        found += [pinyin_term(pair) for pair in pairs]
        found += [char for char in run if char not in _STOP_CHARACTERS]
    return found


@dataclass(frozen=True)
class ChineseQueryTerm:
    """One term a Chinese query looks for.

    Attributes:
        term: The index term (a bigram, a character or a pinyin term).
        weight: How much a match counts relative to an exact bigram.
        source: The characters of the query it came from.
        fallback: For a bigram, its pinyin term: used instead when the bigram is unknown.
    """

    term: str
    weight: float
    source: str
    fallback: str | None = None


def query_terms(text: str) -> Iterator[ChineseQueryTerm]:
    """The terms of the Chinese part of a query, bigrams first, then single characters."""
    runs = _runs(text)
    pairs = [pair for run in runs for pair in _bigrams(run)][:_MAX_QUERY_BIGRAMS]
    for pair in pairs:
        yield ChineseQueryTerm(pair, BIGRAM_WEIGHT, pair, fallback=pinyin_term(pair))
    for run in runs:
        for char in run[: _MAX_QUERY_BIGRAMS + 1]:
            if char not in _STOP_CHARACTERS:
                yield ChineseQueryTerm(char, UNIGRAM_WEIGHT, char)
