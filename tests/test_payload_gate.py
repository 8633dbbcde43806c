"""Only the buttons on screen can be pressed; any other "/..." message is read as words."""

from __future__ import annotations

from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import bot  # noqa: F401  (installs the gate, as Rasa's loading of the pipeline does)
from bot.payload_gate import MAX_MESSAGE_CHARS, as_words, may_press, offered_payloads, too_long
from tests.test_domain import DOMAIN

SUBMIT = '/choose_option{"choice": "submit"}'
STREET_LIGHT = '/choose_option{"choice": "street_light"}'


def tracker_with(*events: object) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("citizen", list(events))  # type: ignore[arg-type]


def buttons(*payloads: str) -> dict[str, object]:
    return {"buttons": [{"title": p, "payload": p} for p in payloads]}


def test_only_the_buttons_since_the_last_message_are_offered() -> None:
    tracker = tracker_with(
        ActionExecuted("action_listen"),
        BotUttered("which one?", buttons(STREET_LIGHT, "/cancel")),
        UserUttered("the lamp", {"name": "report_issue"}),
        BotUttered("check it", buttons(SUBMIT)),
        BotUttered("or", buttons("/request_human")),
    )
    assert offered_payloads(tracker) == {SUBMIT, "/request_human"}
    assert may_press(SUBMIT, None, tracker)
    assert may_press(f"  {SUBMIT} ", None, tracker)
    # An earlier screen's button, or a payload never offered, is words.
    assert not may_press(STREET_LIGHT, None, tracker)
    assert not may_press('/choose_option{"choice": "anonymous"}', None, tracker)
    assert not may_press('/choose_option{"choice": "submit", "x": 1}', None, tracker)


def test_external_intents_are_never_pressed_even_if_offered() -> None:
    pushed = '/EXTERNAL_ticket_update{"service_request_id": "CD-7K2M9Q", "status": "resolved"}'
    tracker = tracker_with(BotUttered("hm", buttons(pushed)))
    assert not may_press(pushed, None, tracker)


def test_a_shared_photo_or_location_needs_what_the_channel_attached() -> None:
    tracker = tracker_with(BotUttered("where is it?"))
    assert may_press("/share_photo", {"photo": {"media_id": "m1"}}, tracker)
    assert may_press("/share_location", {"location": {"latitude": 1, "longitude": 2}}, tracker)
    assert not may_press("/share_photo", None, tracker)
    assert not may_press("/share_photo", {"location": {"latitude": 1}}, tracker)


def test_words_are_parsed_without_the_slash_but_keep_everything_else() -> None:
    from rasa.core.channels.channel import UserMessage

    message = UserMessage(" /cancel", sender_id="citizen", metadata={"a": 1}, message_id="m1")
    copy = as_words(message)
    assert (copy.text, copy.sender_id, copy.metadata, copy.message_id) == (
        "cancel",
        "citizen",
        {"a": 1},
        "m1",
    )
    assert as_words(UserMessage("/", sender_id="c")).text == "/"


def test_a_message_too_long_to_read_is_not_parsed_and_kept_whole() -> None:
    text = "a" * (MAX_MESSAGE_CHARS + 1)
    parsed = too_long(text)
    assert parsed["text"] == text
    assert parsed["intent"]["name"] == "message_too_long"
    # The reply names the same limit the gate applies, in every language.
    for reply in DOMAIN["responses"]["utter_message_too_long"]:
        assert f"{MAX_MESSAGE_CHARS:,}" in reply["text"] or str(MAX_MESSAGE_CHARS) in reply["text"]
    assert "message_too_long" in DOMAIN["intents"]


async def test_a_message_with_no_words_is_the_fallback_intent_without_parsing() -> None:
    from rasa.core.channels.channel import UserMessage

    from bot.payload_gate import _parse_message

    for text in ("", " ", "\r\n\t", "\u3000\u00a0"):
        # No processor is needed: such a message never reaches the classifier, which fails
        # on it (tests/fuzz/test_chat_fuzz.py found it through the running stack).
        parsed = await _parse_message(None, UserMessage(text), tracker_with())  # type: ignore[arg-type]
        assert parsed["intent"] == {"name": "nlu_fallback", "confidence": 1.0}
        assert parsed["entities"] == []
