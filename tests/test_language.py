"""The conversation's language: what a message decides (bot/language.py)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import SlotSet
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker

from bot import language
from bot.language import CHINESE, ENGLISH, chosen_language, named_language, written_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中文", CHINESE),
        ("简体中文。", CHINESE),
        ("English", ENGLISH),
        ("english please!", ENGLISH),
        ("英文", ENGLISH),
        ("Chinese", CHINESE),
        ("I speak English", None),
        ("中文怎么说", None),
    ],
)
def test_a_message_that_only_names_a_language_switches_to_it(
    text: str, expected: str | None
) -> None:
    assert named_language(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我家楼下的路灯坏了一个星期了", CHINESE),
        ("天河区体育西路 12号 路灯不亮", CHINESE),
        ("The street light on my road has been dark for a week", ENGLISH),
        ("is it done yet", ENGLISH),
        # Decides nothing: an address, a name, a yes, a number, a reference.
        ("12 Tianhe Road", None),
        ("李娜", None),
        ("李娜 13912345678", None),
        ("ok", None),
        ("2", None),
        ("CD-7K2M9Q", None),
        # Mostly English with a Chinese name in it.
        ("my name is 李娜 and my phone is 13912345678", None),
    ],
)
def test_the_script_decides_only_when_it_is_plain(text: str, expected: str | None) -> None:
    assert written_language(text) == expected


def test_the_channel_decides_only_while_the_conversation_has_no_language() -> None:
    zh_user = {"language": "zh-CN"}

    assert chosen_language("ok", zh_user, None) == CHINESE
    assert chosen_language("ok", {"language": "en_GB"}, None) == ENGLISH
    assert chosen_language("ok", zh_user, ENGLISH) is None, "the citizen chose English"
    assert chosen_language("ok", {"language": "fr"}, None) is None
    assert chosen_language("ok", "not a mapping", None) is None
    # What the citizen writes wins over the channel.
    assert chosen_language("the bin on my street is full", zh_user, None) == ENGLISH
    assert chosen_language("路灯坏了很久", zh_user, CHINESE) is None, "no change, no entity"


class _Processor:
    """Stands in for Rasa's processor: the parse of the wrapped method is a fixed one."""

    async def parse_message(self, *args: Any) -> dict[str, Any]:
        intent = {"name": "report_issue", "confidence": 0.9}
        return {"intent": intent, "intent_ranking": [intent], "entities": []}


def _tracker(current: str | None) -> DialogueStateTracker:
    tracker = DialogueStateTracker("citizen", [TextSlot("language", mappings=[])])
    tracker.update(SlotSet("language", current))
    return tracker


async def _parse(text: str, current: str | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(language, "_inner_parse", _Processor.parse_message)
    message = UserMessage(text=text, sender_id="citizen", metadata={"language": "en"})
    processor: Any = _Processor()
    return await language._parse_message(processor, message, _tracker(current))


async def test_a_chinese_message_carries_the_entity_that_fills_the_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parse = await _parse("小区门口的垃圾桶满了", ENGLISH, monkeypatch)

    assert parse["intent"]["name"] == "report_issue", "the meaning is the model's"
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == [("language", CHINESE)]


async def test_a_language_name_is_the_set_language_intent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parse = await _parse("中文", ENGLISH, monkeypatch)

    assert parse["intent"] == {"name": "set_language", "confidence": 1.0}
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == [("language", CHINESE)]


async def test_buttons_and_undecided_messages_are_left_as_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (await _parse('/set_language{"language": "en"}', CHINESE, monkeypatch))["entities"] == []
    assert (await _parse("12 Tianhe Road", CHINESE, monkeypatch))["entities"] == []


def test_it_wraps_rasas_parsing_once() -> None:
    wrapped = MessageProcessor.parse_message
    language.install()

    assert MessageProcessor.parse_message is wrapped is language._parse_message


def test_a_bare_language_name_inside_a_form_is_an_answer() -> None:
    assert named_language("Chinese", in_form=True) is None, "What is your nationality?"
    assert named_language("English", in_form=True) is None
    assert named_language("中文", in_form=True) == CHINESE
    assert named_language("English please", in_form=True) == ENGLISH
