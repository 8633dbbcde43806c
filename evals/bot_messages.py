"""Reading the bot's replies as a citizen would: which question is this, and what can I tap?

The replies are recognised by the response templates in ``domain.yml`` (each placeholder
matches any text), so the harness follows the wording the bot really uses and breaks loudly
when a reply is not one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DOMAIN = Path(__file__).resolve().parent.parent / "domain.yml"

# The step a question asks, by the start of its response key (longest prefix first).
_STEPS = (
    ("utter_ask_issue_description", "description"),
    ("utter_ask_service_code", "service"),
    ("utter_ask_service_group", "service"),
    ("utter_ask_service_in_group", "service"),
    ("utter_ask_attribute_answer", "attribute"),
    ("utter_ask_attribute_more", "attribute_more"),
    ("utter_ask_issue_location", "place"),
    ("utter_ask_issue_photo", "photo"),
    ("utter_ask_contact_choice", "contact_choice"),
    ("utter_ask_contact_details", "contact_details"),
    ("utter_ask_contact_name", "contact_name"),
    ("utter_ask_confirm_submission", "confirm"),
    ("utter_ask_numbered", "numbered"),
    ("utter_complaint_filed", "filed"),
    ("utter_submission_queued", "queued"),
)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    @property
    def choice(self) -> str | None:
        """The value of a ``/choose_option{"choice": ...}`` payload, else None."""
        if not self.payload.startswith("/choose_option"):
            return None
        try:
            value = json.loads(self.payload[len("/choose_option") :]).get("choice")
        except ValueError:
            return None
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Reply:
    """One turn of the bot: its texts, every button offered, and the step it asks (if any)."""

    texts: tuple[str, ...]
    buttons: tuple[Button, ...]
    step: str | None
    # Placeholders of the recognised question (``question``, ``service_request_id``, ...).
    values: Mapping[str, str]
    # The buttons of the question's own message.
    question_buttons: tuple[Button, ...] = ()

    @property
    def question(self) -> str:
        return self.values.get("question", "")


@cache
def _templates() -> list[tuple[str, re.Pattern[str]]]:
    responses = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"]
    found: list[tuple[str, re.Pattern[str]]] = []
    for key, variants in responses.items():
        for variant in variants:
            text = variant.get("text")
            if not isinstance(text, str):
                continue
            pattern = _placeholders(re.escape(text))
            found.append((key, re.compile(pattern + "$", re.DOTALL)))
    # The most specific template first: the one with the most literal text.
    found.sort(key=lambda item: -len(re.sub(r"\(\?P<\w+>\.\*\?\)", "", item[1].pattern)))
    return found


def _placeholders(escaped: str) -> str:
    """Each ``{name}`` as a named group; a name used twice is a plain group the second time."""
    seen: set[str] = set()

    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            return "(?:.*?)"
        seen.add(name)
        return f"(?P<{name}>.*?)"

    return re.sub(r"\\\{(\w+)\\\}", group, escaped)


def response_key(text: str) -> tuple[str | None, dict[str, str]]:
    """The domain response a bot text was made from, and its placeholders' values."""
    for key, pattern in _templates():
        match = pattern.match(text)
        if match:
            return key, match.groupdict()
    return None, {}


def _step_of(key: str) -> str | None:
    return next((step for prefix, step in _STEPS if key.startswith(prefix)), None)


def read_reply(messages: Iterable[Mapping[str, Any]]) -> Reply:
    """What one turn of the REST channel's output asks of the citizen."""
    texts: list[str] = []
    buttons: list[Button] = []
    step: str | None = None
    values: dict[str, str] = {}
    question_buttons: list[Button] = []
    for message in messages:
        text = message.get("text")
        own = [
            Button(str(button.get("title", "")), str(button.get("payload", "")))
            for button in message.get("buttons") or []
        ]
        if isinstance(text, str):
            texts.append(text)
            key, found = response_key(text)
            if key is not None and _step_of(key) is not None:
                # The last question of the turn is the one to answer.
                step, values, question_buttons = _step_of(key), found, own
        buttons.extend(own)
    return Reply(tuple(texts), tuple(buttons), step, values, tuple(question_buttons))
