"""Checking a citizen's answer to one Open311 attribute question, by its datatype.

The questions come from the chosen service's Open311 definition and travel in the
``service_questions`` slot as plain dictionaries (see :func:`question_from_attribute`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from open311_schema import MAX_DESCRIPTION_CHARS, ServiceAttribute, format_datetime

MAX_STRING_CHARS = 255
MAX_NUMBER = 1_000_000

Question = dict[str, Any]
Answer = tuple[tuple[str, ...] | None, str | None]

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_NUMBER_WORDS = {
    word: index
    for index, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        )
    )
}
_AGO = re.compile(r"(\d+|an?|one|two|three|four|five|six)\s+(minute|hour|day|week)s?\s+ago")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
_SEPARATORS = re.compile(r"\s*(?:,|;|\band\b|&)\s*")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def question_from_attribute(attribute: ServiceAttribute) -> Question:
    """The slot-friendly form of one attribute question."""
    return {
        "code": attribute.code,
        "datatype": attribute.datatype,
        "question": attribute.description or attribute.code,
        "hint": attribute.datatype_description or "",
        "choices": [[value.key, value.name] for value in attribute.values],
    }


def is_question(value: Any) -> bool:
    """True for a well-formed question dictionary (slot values are re-checked, not trusted)."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("code"), str)
        and isinstance(value.get("datatype"), str)
        and isinstance(value.get("question"), str)
        and isinstance(value.get("choices", []), list)
    )


def choices(question: Question) -> list[tuple[str, str]]:
    return [(str(pair[0]), str(pair[1])) for pair in question.get("choices") or []]


def parse_answer(
    question: Question, raw: Any, *, now: Callable[[], datetime] | None = None
) -> Answer:
    """Return ``(values, None)`` or ``(None, response key explaining the problem)``."""
    if not isinstance(raw, str):
        return None, "utter_answer_empty"
    text = _CONTROL_CHARACTERS.sub("", raw).strip()
    if not text:
        return None, "utter_answer_empty"
    datatype = question.get("datatype")
    if datatype == "number":
        number = _parse_number(text)
        return ((number,), None) if number is not None else (None, "utter_answer_not_a_number")
    if datatype == "datetime":
        moment = _parse_datetime(text, (now or _utc_now)())
        return ((moment,), None) if moment is not None else (None, "utter_answer_not_a_date")
    if datatype == "singlevaluelist":
        key = _match_choice(text, choices(question))
        return ((key,), None) if key is not None else (None, "utter_answer_not_a_choice")
    if datatype == "multivaluelist":
        keys = [_match_choice(part, choices(question)) for part in _SEPARATORS.split(text)]
        if not keys or any(key is None for key in keys):
            return None, "utter_answer_not_a_choice"
        return tuple(dict.fromkeys(key for key in keys if key is not None)), None
    limit = MAX_DESCRIPTION_CHARS if datatype == "text" else MAX_STRING_CHARS
    if len(text) > limit:
        return None, "utter_answer_too_long"
    return (text,), None


def display_answer(question: Question, values: tuple[str, ...] | list[str]) -> str:
    """The answer as the citizen would recognise it (choice names, not keys)."""
    names = dict(choices(question))
    return ", ".join(names.get(value, value) for value in values)


def _parse_number(text: str) -> str | None:
    lowered = text.casefold()
    if lowered in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[lowered])
    found = _NUMBER.findall(lowered)
    if len(found) != 1:
        return None
    value = float(found[0].replace(",", "."))
    if abs(value) > MAX_NUMBER:
        return None
    return str(int(value)) if value.is_integer() else str(value)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_datetime(text: str, now: datetime) -> str | None:
    lowered = text.casefold()
    if lowered in ("now", "right now", "just now", "today"):
        return format_datetime(now)
    if lowered in ("yesterday", "last night"):
        return format_datetime(now - timedelta(days=1))
    ago = _AGO.search(lowered)
    if ago:
        amount_text, unit = ago.groups()
        amount = int(amount_text) if amount_text.isdigit() else _NUMBER_WORDS.get(amount_text, 1)
        return format_datetime(now - timedelta(**{f"{unit}s": amount}))
    day_month_year = _DAY_MONTH_YEAR.fullmatch(lowered)
    try:
        if day_month_year:
            day, month, year = (int(part) for part in day_month_year.groups())
            moment = datetime(year, month, day, tzinfo=now.tzinfo)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=now.tzinfo)
    except ValueError:
        return None
    if moment > now + timedelta(days=1):
        return None
    return format_datetime(moment)


def _match_choice(text: str, options: list[tuple[str, str]]) -> str | None:
    wanted = text.strip().casefold()
    if not wanted:
        return None
    for key, name in options:
        if wanted in (key.casefold(), name.casefold()):
            return key
    if wanted.isdigit() and 1 <= int(wanted) <= len(options):
        return options[int(wanted) - 1][0]
    partial = [key for key, name in options if wanted in name.casefold()]
    return partial[0] if len(partial) == 1 else None
