"""Only buttons the bot offered can be pressed: any other message starting with "/" is text.

Rasa reads a message of the form ``/intent{"entity": "value"}`` as that intent with those
entities, whoever typed it, so a citizen could write ``/EXTERNAL_ticket_update{...}`` or
``/choose_option{"choice": "submit"}`` and push the bot into a rule or a slot value that only
the back office or a button should reach. This module wraps Rasa's message parsing
(``MessageProcessor.parse_message``, which every channel's message goes through with its
conversation) so that such a message keeps its meaning only when it is:

- the payload of a button of the bot's messages since the citizen's last message (the
  buttons on screen now), compared exactly as sent; or
- what a channel writes for a shared photo or location (``/share_photo``,
  ``/share_location``) with the photo or location in the message's metadata, which only a
  channel adapter sets (channels/_media.py).

No intent whose name starts with ``EXTERNAL_`` is accepted this way even if offered: those
come from the back office through Rasa's ``trigger_intent`` API, which does not parse text.
Anything else is parsed as the words it is; the conversation keeps the text exactly as sent,
and the step it reaches asks again in plain language (a step refuses text starting with "/").

A message longer than ``MAX_MESSAGE_CHARS`` is not parsed at all (200,000 characters would
cost the NLU seconds): it gets the intent ``message_too_long``, whose rules ask the citizen to
send it in shorter parts; the conversation keeps it whole, as sent. A message with no words
(spaces or line breaks only) is not parsed either: it is Rasa's ``nlu_fallback``, so the step
asks again (parsed, it made the classifier fail).

Installed by ``bot/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

PREFIX = "/"
MAX_MESSAGE_CHARS = 2000
TOO_LONG_INTENT = "message_too_long"
BLANK_INTENT = "nlu_fallback"
# Channel texts for a share without words, and the metadata key that must come with each.
SHARED = {"/share_photo": "photo", "/share_location": "location"}
EXTERNAL_PREFIX = "EXTERNAL_"


def offered_payloads(tracker: DialogueStateTracker) -> set[str]:
    """The payloads of the buttons the bot sent since the citizen's last message."""
    payloads: set[str] = set()
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            payloads.update(_payloads((event.data or {}).get("buttons")))
    return payloads


def _payloads(buttons: Any) -> Iterable[str]:
    if not isinstance(buttons, list):
        return []
    return [b["payload"] for b in buttons if isinstance(b, Mapping) and b.get("payload")]


def may_press(text: str, metadata: Any, tracker: DialogueStateTracker) -> bool:
    """Whether ``text``, a message starting with "/", may be read as the intent it names."""
    stripped = text.strip()
    if _intent_name(stripped).startswith(EXTERNAL_PREFIX):
        return False
    key = SHARED.get(stripped)
    if key is not None and isinstance(metadata, Mapping) and metadata.get(key):
        return True
    return stripped in {payload.strip() for payload in offered_payloads(tracker)}


def _intent_name(text: str) -> str:
    name = text[len(PREFIX) :]
    for stop in ("{", "@", " "):
        name = name.split(stop, 1)[0]
    return name


def as_words(message: UserMessage) -> UserMessage:
    """A copy of ``message`` that Rasa parses as words: the leading "/"s taken off."""
    text = message.text or ""
    return UserMessage(
        text=text.lstrip().lstrip(PREFIX) or text,
        output_channel=message.output_channel,
        sender_id=message.sender_id,
        parse_data=message.parse_data,
        input_channel=message.input_channel,
        message_id=message.message_id,
        metadata=message.metadata,
    )


_original_parse = MessageProcessor.parse_message


async def _parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    text = message.text or ""
    if len(text) > MAX_MESSAGE_CHARS:
        return too_long(text)
    if not text.strip():
        return blank(text)
    if tracker is None or not text.lstrip().startswith(PREFIX):
        return await _original_parse(self, message, tracker, only_output_properties)
    if may_press(text, message.metadata, tracker):
        return await _original_parse(self, message, tracker, only_output_properties)
    parse_data = await _original_parse(self, as_words(message), tracker, only_output_properties)
    parse_data["text"] = text  # what the citizen sent, kept as sent
    return parse_data


def blank(text: str) -> dict[str, Any]:
    """The parse of a message with no words (empty, or spaces and line breaks only): Rasa's
    fallback intent, so the step asks again. Parsed, such a message gives the classifier two
    features fewer than it was trained on and the turn fails (found by tests/fuzz/)."""
    intent = {"name": BLANK_INTENT, "confidence": 1.0}
    return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": []}


def too_long(text: str) -> dict[str, Any]:
    """The parse of a message too long to read: its own intent, no entities, the text whole."""
    intent = {"name": TOO_LONG_INTENT, "confidence": 1.0}
    return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": []}


def install() -> None:
    """Wrap Rasa's message parsing (idempotent)."""
    MessageProcessor.parse_message = _parse_message  # type: ignore[method-assign]


def uninstall() -> None:
    """Rasa's own parsing again (tests)."""
    MessageProcessor.parse_message = _original_parse  # type: ignore[method-assign]


__all__ = ["as_words", "blank", "install", "may_press", "offered_payloads", "too_long", "uninstall"]
