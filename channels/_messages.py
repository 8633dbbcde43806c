"""The texts adapters send by themselves, from ``channels/messages.yml``, by language.

A citizen's language comes from the platform where it tells one (Telegram's
``language_code``, a browser's ``Accept-Language``), else from the channel's ``language``
setting, else English. Tags are matched loosely: ``zh``, ``zh-CN`` and ``zh_hans`` all pick
``zh-Hans``; ``en-GB`` picks ``en``; a traditional-script tag (``zh-TW``, ``zh-Hant``) picks
nothing until a ``zh-Hant`` block exists.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

# PyYAML ships no type information and its stubs are not a dependency here.
import yaml  # type: ignore[import-untyped]

MESSAGES_FILE = Path(__file__).with_name("messages.yml")
FALLBACK_LANGUAGE = "en"
# Regions that write Chinese in simplified characters, and those that write traditional.
_SIMPLIFIED_REGIONS = {"cn", "sg", "my"}
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}


class MessagesError(ValueError):
    """``messages.yml`` is malformed or lacks an English text."""


@functools.cache
def load_messages(path: Path = MESSAGES_FILE) -> dict[str, dict[str, str]]:
    """``{language: {key: text}}``; every key of every language must exist in English."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get(FALLBACK_LANGUAGE), dict):
        raise MessagesError(f"{path}: needs a mapping with an `{FALLBACK_LANGUAGE}` block")
    messages: dict[str, dict[str, str]] = {}
    for language, texts in data.items():
        if not isinstance(texts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in texts.items()
        ):
            raise MessagesError(f"{path}: `{language}` must map keys to non-empty texts")
        messages[str(language)] = {str(k): str(v) for k, v in texts.items()}
    missing = set().union(*messages.values()) - set(messages[FALLBACK_LANGUAGE])
    if missing:
        raise MessagesError(f"{path}: no English text for {sorted(missing)}")
    return messages


def supported_language(tag: str | None) -> str | None:
    """The language of ``messages.yml`` that serves ``tag`` (a BCP 47 tag), if any."""
    if not tag:
        return None
    available = {language.lower(): language for language in load_messages()}
    parts = tag.strip().replace("_", "-").lower().split("-")
    if "-".join(parts) in available:
        return available["-".join(parts)]
    if parts[0] == "zh":
        subtags = set(parts[1:])
        if "hant" in subtags or subtags & _TRADITIONAL_REGIONS:
            return available.get("zh-hant")
        if "hans" in subtags or subtags & _SIMPLIFIED_REGIONS or not subtags:
            return available.get("zh-hans")
        return None
    return available.get(parts[0])


def accept_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header that ``messages.yml`` serves."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    for _, _, tag in sorted(ranked):
        language = supported_language(tag)
        if language is not None:
            return language
    return None


def channel_reply(key: str, *languages: str | None) -> str:
    """The text for ``key`` in the first of ``languages`` that has it, else in English."""
    messages = load_messages()
    for tag in languages:
        language = supported_language(tag)
        if language is not None and key in messages[language]:
            return messages[language][key]
    return messages[FALLBACK_LANGUAGE][key]
