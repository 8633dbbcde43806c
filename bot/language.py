"""The conversation's language: English or Simplified Chinese, in one bot.

Every response in ``domain.yml`` has an English variation and a ``zh-Hans`` one chosen by the
``language`` slot (a Rasa response condition), and the slot is filled from a ``language``
entity. This module adds that entity to a message's parse when the message decides the
language:

- a message that only names a language ("English", "中文", "简体中文") switches to it, with the
  intent ``set_language`` (the help's two buttons send the same intent as a payload);
- a message written in Chinese (three Chinese characters or more, at least half of its
  letters) is Chinese; one that is plainly English prose (two or more English function words,
  no Chinese) is English. An address, a name or "ok" decides nothing, so a citizen writing in
  Chinese who types "12 Tianhe Road" or "OK" keeps Chinese, and an English speaker who gives
  a Chinese name keeps English;
- otherwise, only while the conversation has no language yet, the channel's: the
  ``language`` key of the message metadata (Telegram's ``language_code``, the web page's
  ``Accept-Language``, a REST client's setting), read as a BCP 47 tag.

Rasa's NLU sees no conversation, so this runs where the conversation is known: it wraps
``MessageProcessor.parse_message`` (inside the payload gate's wrapper, which decides first
whether a "/" message is a button). Installed by ``bot/__init__.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

from bot.command_gate import CHINESE_CHARACTERS
from bot.payload_gate import MAX_MESSAGE_CHARS

ENGLISH = "en"
CHINESE = "zh-Hans"
SLOT = "language"
ENTITY = "language"
INTENT = "set_language"

# A message that is only one of these names switches the conversation to that language.
_NAMES = {
    ENGLISH: ("english", "in english", "english please", "英文", "英语", "英語"),
    CHINESE: ("中文", "汉语", "漢語", "简体中文", "簡體中文", "普通话", "chinese", "in chinese"),
}
_NAMED = {name: language for language, names in _NAMES.items() for name in names}
# Names that also answer a question ("What is your nationality?" "Chinese"): inside a form
# they are that answer, and switch nothing.
_ALSO_ANSWERS = frozenset({"english", "chinese"})
_CJK = re.compile(f"[{CHINESE_CHARACTERS}]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z']+")
# Words that occur in English sentences and not in addresses, names or references.
_ENGLISH_FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "been",
        "my",
        "our",
        "your",
        "i",
        "we",
        "you",
        "it",
        "its",
        "this",
        "that",
        "there",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "and",
        "but",
        "not",
        "no",
        "please",
        "can",
        "could",
        "would",
        "will",
        "do",
        "does",
        "did",
        "what",
        "where",
        "when",
        "how",
        "why",
    ]
)
MIN_CHINESE_CHARACTERS = 3
MIN_ENGLISH_FUNCTION_WORDS = 2


def named_language(text: str, *, in_form: bool = False) -> str | None:
    """The language a message that only names one switches to ("中文", "English please");
    in a form, a bare "English" or "Chinese" is an answer, not a switch."""
    said = re.sub(r"[\W_]+", " ", text).strip().casefold()
    if in_form and said in _ALSO_ANSWERS:
        return None
    return _NAMED.get(said)


def written_language(text: str) -> str | None:
    """The language a message is plainly written in, or None when it does not tell."""
    chinese = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if chinese >= MIN_CHINESE_CHARACTERS and chinese >= latin:
        return CHINESE
    if chinese == 0:
        words = [word.casefold() for word in _WORD.findall(text)]
        if sum(word in _ENGLISH_FUNCTION_WORDS for word in words) >= MIN_ENGLISH_FUNCTION_WORDS:
            return ENGLISH
    return None


def channel_language(metadata: Any) -> str | None:
    """The language a channel says its user reads (``metadata["language"]``, BCP 47)."""
    if not isinstance(metadata, Mapping):
        return None
    tag = metadata.get("language")
    if not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").casefold().split("-", 1)[0]
    return {"en": ENGLISH, "zh": CHINESE}.get(primary)


def chosen_language(text: str, metadata: Any, current: Any) -> str | None:
    """The language this message sets, or None to keep ``current``."""
    language = written_language(text)
    if language is None and current not in (ENGLISH, CHINESE):
        language = channel_language(metadata)
    return language if language != current else None


def with_language(parse_data: dict[str, Any], language: str) -> dict[str, Any]:
    """``parse_data`` with the ``language`` entity that fills the slot."""
    entity = {"entity": ENTITY, "value": language, "extractor": "language"}
    entities = [e for e in parse_data.get("entities") or [] if e.get("entity") != ENTITY]
    return {**parse_data, "entities": [*entities, entity]}


def switched(parse_data: dict[str, Any], language: str) -> dict[str, Any]:
    """The parse of a message that only names ``language``: ``set_language`` with it."""
    intent = {"name": INTENT, "confidence": 1.0}
    return with_language({**parse_data, "intent": intent, "intent_ranking": [intent]}, language)


_inner_parse = MessageProcessor.parse_message


async def _parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    parse_data: dict[str, Any] = await _inner_parse(self, message, tracker, only_output_properties)
    text = message.text or ""
    if text.lstrip().startswith("/") or len(text) > MAX_MESSAGE_CHARS:
        return parse_data  # a button says what it means; a message too long is not read
    in_form = tracker is not None and bool(tracker.active_loop_name)
    named = named_language(text, in_form=in_form)
    if named is not None:
        return switched(parse_data, named)
    current = tracker.get_slot(SLOT) if tracker is not None else None
    language = chosen_language(text, message.metadata, current)
    return with_language(parse_data, language) if language else parse_data


def install() -> None:
    """Wrap the message parsing installed so far (call after ``payload_gate.install``)."""
    global _inner_parse
    if MessageProcessor.parse_message is not _parse_message:
        _inner_parse = MessageProcessor.parse_message
        MessageProcessor.parse_message = _parse_message  # type: ignore[method-assign]


__all__ = [
    "CHINESE",
    "ENGLISH",
    "channel_language",
    "chosen_language",
    "install",
    "named_language",
    "written_language",
]
