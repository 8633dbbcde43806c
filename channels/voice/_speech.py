"""The bot's replies as speech: SSML in short parts, buttons as a spoken numbered choice.

A voice assistant reads aloud whatever it is given, so the text is made fit to be heard:
links and emoji are dropped (the Alexa app's card still shows the whole text), words about
screens ("type", "press") become "say", ticket references and phone numbers are read one
character at a time, and everything is XML-escaped. The buttons of the whole turn become one
sentence at the end, "Say one for ..., two for ..., or three for ...", numbered in the order
the bot sent them, because the bot reads "one", "the first" or "2" against that same order.

A turn that would take too long to hear is cut at sentence ends into parts that each fit
:data:`DEFAULT_BUDGET_SECONDS`; the first part ends by offering the rest ("say continue").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from channels._output import SHARE_LOCATION_PAYLOAD, Button

# An estimate of how long speech takes, kept on the slow side of Alexa's and espeak-ng's
# default voices (about 150 to 175 words a minute): the 30-second ceiling must hold on both.
WORDS_PER_SECOND = 2.4
SPELLED_CHARACTER_SECONDS = 0.45
# Chinese is read character by character, about 2.7 a second by espeak-ng's Mandarin voice.
CJK_CHARACTERS_PER_SECOND = 2.5
# Below the 30 s a reply may take, with room for the estimate being off.
DEFAULT_BUDGET_SECONDS = 22.0

NUMBER_WORDS = [
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
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# A ticket reference (the back office's ``CD-7KQ2XM``) and a phone number: five digits or
# more, spaces allowed between them ("12345", "+86 138 0013 8000"); times and years are
# shorter, so they are read as numbers.
_SPELLED = re.compile(r"\b(?P<reference>CD-?[0-9A-Z]{6})\b|(?P<phone>\+?\d(?:[ ]?\d){4,})")
_SCREEN_WORDS = re.compile(r"\b(type|press|tap|click)\b", re.IGNORECASE)
# A sentence ends at ". ", "! " or "? " before a capital, or after Chinese 。！？；
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|(?<=[。！？；])\s*")
_WORD = re.compile(r"\S+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


@dataclass(frozen=True)
class ChoicePhrases:
    """How a numbered choice is said, in the citizen's language (``channels/messages.yml``).

    ``first``, ``middle`` and ``last`` take ``{number}`` and ``{title}``; ``location`` is what
    a "share my location" button is called by voice; ``more`` ends a part that has a rest.
    """

    first: str = "Say {number} for {title}"
    middle: str = "{number} for {title}"
    last: str = "or {number} for {title}"
    location: str = "this device's address"
    more: str = "Say continue to hear the rest."
    spell_numbers: bool = True


@dataclass(frozen=True)
class SpokenChoice:
    """One button as offered by voice: its number, what was said, what the bot sent."""

    number: int
    title: str
    payload: str

    @property
    def shares_location(self) -> bool:
        return self.payload == SHARE_LOCATION_PAYLOAD


@dataclass(frozen=True)
class Speech:
    """A turn made ready to be heard.

    Attributes:
        parts: SSML fragments (no ``<speak>`` around them), each within the time budget;
            the first is said now, the others when the citizen says "continue".
        reprompt: What to say if the citizen says nothing (the choice, else the question).
        text: The whole turn as plain text with numbered options, for a screen or a card.
        choices: The buttons as spoken, numbered from 1.
    """

    parts: tuple[str, ...]
    reprompt: str
    text: str
    choices: tuple[SpokenChoice, ...]


def without_unspeakables(text: str) -> str:
    """``text`` with links, emoji and other pictographs, and markdown marks taken out."""
    text = _URL.sub("", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        # So: emoji and pictographs; Sk: skin tones; Cf: the joiners and selectors inside emoji.
        if category in ("So", "Sk", "Cs", "Co", "Cf") or char in "*`_":
            continue
        kept.append(char)
    return re.sub(r"[ \t]+", " ", "".join(kept)).strip()


def for_the_ear(text: str) -> str:
    """Screen words said as voice words: "type your answer" becomes "say your answer"."""

    def spoken(match: re.Match[str]) -> str:
        return "Say" if match.group(1)[0].isupper() else "say"

    return _SCREEN_WORDS.sub(spoken, text)


def ssml_of(text: str) -> str:
    """Plain ``text`` as an SSML fragment: escaped, references and phone numbers spelled.

    A reference is marked ``say-as characters``; a phone number becomes digits with spaces
    between them, which every voice reads one by one (espeak-ng reads digits marked as
    characters in pairs, with "comma" between). A short pause follows a spelled reference:
    it helps the listener, and espeak-ng would otherwise read a full stop after it as "dot".
    """
    pieces: list[str] = []
    position = 0
    for match in _SPELLED.finditer(text):
        pieces.append(escape(text[position : match.start()]))
        digits_or_letters = match.group(0).replace(" ", "")
        if match.group("reference"):
            spelled = escape(digits_or_letters.replace("-", ""))
            pieces.append(f'<say-as interpret-as="characters">{spelled}</say-as>')
            pieces.append('<break time="200ms"/>')
        else:
            pieces.append(" ".join(digits_or_letters))
        position = match.end()
    pieces.append(escape(text[position:]))
    return "".join(pieces)


def seconds_to_say(text: str) -> float:
    """An estimate of how long plain ``text`` takes to say: words, Chinese characters, and
    spelled runs, each at their own pace."""
    seconds = 0.0
    position = 0
    for match in _SPELLED.finditer(text):
        seconds += _plain_seconds(text[position : match.start()])
        seconds += len(match.group(0).replace(" ", "")) * SPELLED_CHARACTER_SECONDS
        position = match.end()
    return seconds + _plain_seconds(text[position:])


def _plain_seconds(text: str) -> float:
    characters = len(_CJK.findall(text))
    words = len(_WORD.findall(_CJK.sub(" ", text)))
    return words / WORDS_PER_SECOND + characters / CJK_CHARACTERS_PER_SECOND


def number_word(number: int, phrases: ChoicePhrases) -> str:
    if phrases.spell_numbers and 0 <= number < len(NUMBER_WORDS):
        return NUMBER_WORDS[number]
    return str(number)


def choices_of(buttons: Sequence[Button], phrases: ChoicePhrases) -> tuple[SpokenChoice, ...]:
    """The buttons numbered in the order they were sent, titles made speakable."""
    choices = []
    for number, button in enumerate(buttons, 1):
        if button.payload == SHARE_LOCATION_PAYLOAD:
            title = phrases.location
        else:
            title = without_unspeakables(button.title) or button.payload
        choices.append(SpokenChoice(number, title, button.payload))
    return tuple(choices)


def choice_sentence(choices: Sequence[SpokenChoice], phrases: ChoicePhrases) -> str:
    """ "Say one for A, two for B, or three for C." as plain text."""
    said = []
    for index, choice in enumerate(choices):
        template = phrases.first if index == 0 else phrases.middle
        if index and index == len(choices) - 1:
            template = phrases.last
        said.append(template.format(number=number_word(choice.number, phrases), title=choice.title))
    return (", ".join(said) + ".") if said else ""


def sentences_of(text: str, budget_seconds: float) -> list[str]:
    """``text`` cut at sentence ends; a sentence too long for the budget is cut at words."""
    sentences: list[str] = []
    for line in text.splitlines():
        for sentence in _SENTENCE_END.split(line.strip()):
            sentence = sentence.strip()
            if not sentence:
                continue
            while seconds_to_say(sentence) > budget_seconds:
                if _CJK.search(sentence):
                    # Chinese has no spaces: cut between characters.
                    cut = max(1, int(budget_seconds * CJK_CHARACTERS_PER_SECOND * 0.8))
                    sentences.append(sentence[:cut])
                    sentence = sentence[cut:]
                    continue
                words = sentence.split(" ")
                cut = max(1, int(budget_seconds * WORDS_PER_SECOND * 0.8))
                sentences.append(" ".join(words[:cut]))
                sentence = " ".join(words[cut:])
            if sentence:
                sentences.append(sentence)
    return sentences


def speak_turn(
    messages: Sequence[Mapping[str, Any]],
    *,
    phrases: ChoicePhrases | None = None,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
) -> Speech:
    """Rasa's messages of one turn (``{"text", "buttons", ...}``) as one :class:`Speech`."""
    phrases = phrases or ChoicePhrases()
    buttons: list[Button] = []
    written: list[str] = []
    spoken_sentences: list[str] = []
    for message in messages:
        text = str(message.get("text") or "")
        if text:
            written.append(text)
            spoken_sentences.extend(
                sentences_of(for_the_ear(without_unspeakables(text)), budget_seconds)
            )
        for raw in message.get("buttons") or message.get("quick_replies") or []:
            if isinstance(raw, Mapping):
                buttons.append(Button.from_rasa(dict(raw)))
    choices = choices_of(buttons, phrases)
    choice = choice_sentence(choices, phrases)
    if choice:
        spoken_sentences.append(choice)
        written.append("\n".join(f"{c.number}. {c.title}" for c in choices))
    parts = _packed(spoken_sentences, phrases, budget_seconds)
    reprompt = choice or (spoken_sentences[-1] if spoken_sentences else "")
    return Speech(
        parts=tuple(parts),
        reprompt=ssml_of(reprompt),
        text="\n".join(written),
        choices=choices,
    )


def _packed(sentences: Sequence[str], phrases: ChoicePhrases, budget: float) -> list[str]:
    """Sentences grouped into SSML parts that each fit ``budget`` with the "continue" offer."""
    offer = seconds_to_say(phrases.more)
    parts: list[list[str]] = [[]]
    used = 0.0
    for index, sentence in enumerate(sentences):
        cost = seconds_to_say(sentence)
        is_last = index == len(sentences) - 1
        room = budget if is_last else budget - offer
        if parts[-1] and used + cost > room:
            parts.append([])
            used = 0.0
        parts[-1].append(sentence)
        used += cost
    rendered = []
    for index, part in enumerate(parts):
        said = " ".join(ssml_of(sentence) for sentence in part)
        if index < len(parts) - 1:
            said += " " + escape(phrases.more)
        rendered.append(said)
    return [part for part in rendered if part.strip()] or [""]


def speak_document(fragment: str) -> str:
    """An SSML fragment as a whole document, as Alexa and espeak-ng take it."""
    return f"<speak>{fragment}</speak>"
