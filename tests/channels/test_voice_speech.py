"""Replies made fit to hear (channels/voice/_speech.py) and the adapter's reading of spoken
answers it handles itself (a number for "this device's address")."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from channels.voice import (
    SpokenChoice,
    picks_location,
    speak_document,
    speak_turn,
    spoken_position,
)
from channels.voice._speech import seconds_to_say, ssml_of, without_unspeakables


def test_text_is_escaped_and_references_and_phone_numbers_are_spelled() -> None:
    ssml = ssml_of("Ref CD-AB12CD: call 138 0013 8000 & say <yes> at 8:00 in 2026.")
    assert ssml == (
        'Ref <say-as interpret-as="characters">CDAB12CD</say-as><break time="200ms"/>: call '
        "1 3 8 0 0 1 3 8 0 0 0 &amp; say &lt;yes&gt; at 8:00 in 2026."
    )
    ElementTree.fromstring(speak_document(ssml))


def test_links_emoji_and_markup_are_not_read_aloud() -> None:
    assert without_unspeakables("See https://x.example/a?b=1 or www.city.example 👍🏽 *now*") == (
        "See or now"
    )
    assert without_unspeakables("Family 👨‍👩‍👧 ok ✅") == "Family ok"


def test_buttons_become_one_numbered_choice_in_the_order_sent() -> None:
    speech = speak_turn(
        [
            {"text": "Which fits best?", "buttons": [{"title": "A", "payload": "/a"}]},
            {"text": "Or:", "buttons": [{"title": "B", "payload": "/b"}, {"title": "C"}]},
        ]
    )
    assert speech.parts == ("Which fits best? Or: Say one for A, two for B, or three for C.",)
    assert speech.reprompt == "Say one for A, two for B, or three for C."
    assert [(c.number, c.title, c.payload) for c in speech.choices] == [
        (1, "A", "/a"),
        (2, "B", "/b"),
        (3, "C", "C"),
    ]
    assert speech.text.endswith("1. A\n2. B\n3. C")


def test_screen_words_are_said_as_voice_words() -> None:
    [part] = speak_turn([{"text": "Type an address, or press Skip."}]).parts
    assert part == "Say an address, or say Skip."


def test_a_long_turn_is_cut_into_parts_each_within_the_budget() -> None:
    text = " ".join(
        f"Sentence number {n} has some words in it, like the others." for n in range(30)
    )
    speech = speak_turn([{"text": text, "buttons": [{"title": "Yes", "payload": "/affirm"}]}])

    assert len(speech.parts) > 2
    for part in speech.parts[:-1]:
        assert part.endswith("Say continue to hear the rest.")
    assert speech.parts[-1].endswith("Say one for Yes.")
    plain = [p.replace("Say continue to hear the rest.", "") for p in speech.parts]
    assert all(seconds_to_say(p) <= 22.0 for p in plain)
    assert " ".join(plain).count("Sentence number") == 30


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("one", 1),
        ("the first", 1),
        ("the first one", 1),
        ("number one", 1),
        ("option 2", 2),
        ("the second one", 2),
        ("3rd please", 3),
        ("street light", None),
        ("two three", None),
        ("", None),
    ],
)
def test_spoken_positions(said: str, number: int | None) -> None:
    assert spoken_position(said) == number


LOCATION_CHOICES = (SpokenChoice(1, "this device's address", "/share_location"),)


@pytest.mark.parametrize(
    ("said", "picked"),
    [
        ("one", True),
        ("the first one", True),
        ("use this device's address", True),
        ("my location", True),
        ("two", False),
        ("my address is 3 zhongshan road", False),
        ("the bus stop at the library", False),
    ],
)
def test_the_device_address_option_is_picked_only_by_its_number_or_name(
    said: str, picked: bool
) -> None:
    assert picks_location(said, LOCATION_CHOICES) is picked
    assert picks_location(said, (SpokenChoice(1, "Yes", "/affirm"),)) is False


def test_chinese_is_timed_by_the_character_and_cut_at_its_own_full_stops() -> None:
    sentence = "办理的工作人员可以联系您吗？可以的话，请在这里输入您的电话或邮箱。"
    speech = speak_turn([{"text": sentence * 4}])

    assert seconds_to_say(sentence) > 10  # 33 characters, not one "word"
    assert len(speech.parts) > 1
    plain = [p.replace("Say continue to hear the rest.", "") for p in speech.parts]
    assert all(seconds_to_say(p) <= 22.0 for p in plain)
    assert "".join(p.replace(" ", "") for p in plain) == sentence * 4
