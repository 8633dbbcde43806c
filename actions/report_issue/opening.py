"""The first message of an intake: what it says about the matter and the place.

Every message outside a process that is not a command (status, my tickets, help, a reference,
cancel, a person) comes here (``bot/rules/report_issue.yml``): a complaint, a need, a
suggestion, and also what the NLU could not place. The catalogue search, not the intent,
decides what it is about, so a typo-laden "brokn lite xinhua rd" is searched like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answer_matching import CHINESE_RUN
from actions.dependencies import get_settings
from actions.form_steps import clean_text, latest_intent
from actions.report_issue.delivered import announce_delivered
from actions.report_issue.state import FORM, cleared_intake
from actions.service_matching import words
from actions.shared_media import display_coordinates, shared_location, shared_photo
from open311_schema import MAX_DESCRIPTION_CHARS

MIN_DESCRIPTION_CHARS = 5
MIN_LOCATION_CHARS = 3
MAX_LOCATION_CHARS = 500

# What the citizen came for, by the intent of the opening (for the replies' wording only:
# which service it is comes from the catalogue search).
INTAKE_KINDS = {"request_service": "request_service", "give_feedback": "give_feedback"}

# Words of an opening that only says "I want to report something" without saying what.
_OPENING_WORDS = frozenset(
    [
        "i",
        "i'd",
        "id",
        "i'm",
        "im",
        "want",
        "wanna",
        "would",
        "like",
        "to",
        "make",
        "file",
        "report",
        "complain",
        "complaint",
        "issue",
        "problem",
        "something",
        "please",
        "can",
        "you",
        "help",
        "me",
        "need",
        "apply",
        "application",
        "request",
        "service",
        "a",
        "an",
        "new",
        "hello",
        "hi",
        "hey",
        "how",
        "do",
        "does",
        "start",
        "lodge",
        "submit",
        "log",
        "have",
        "got",
        "there",
        "is",
        "it",
        "a",
        "an",
        "with",
        "about",
        "some",
        "question",
    ]
)


def check_description(value: Any) -> tuple[str | None, str | None]:
    """Return ``(clean value, None)`` or ``(None, response key explaining the problem)``."""
    text = clean_text(value)
    if text is None or len(text) < MIN_DESCRIPTION_CHARS or text.startswith("/"):
        return None, "utter_issue_description_too_short"
    if len(text) > MAX_DESCRIPTION_CHARS:
        return None, "utter_issue_description_too_long"
    return text, None


def check_location(value: Any) -> tuple[str | None, str | None]:
    """Return ``(clean value, None)`` or ``(None, response key explaining the problem)``."""
    text = clean_text(value)
    if text is None or len(text) < MIN_LOCATION_CHARS or text.startswith("/"):
        return None, "utter_issue_location_too_short"
    if len(text) > MAX_LOCATION_CHARS:
        return None, "utter_issue_location_too_long"
    return text, None


# A house number just before a street ("no. 12 Jiefang Road", "12 Jiefang Road") or just
# after it ("Jiefang Road 12", "Jiefang Road, no. 12"); the NLU entity often leaves it out.
_NUMBER = r"(?:(?:no\.?|nr\.?|number|#)\s*)?\d{1,5}[a-z]?(?:\s*[-/]\s*\d{1,5}[a-z]?)?"
_NUMBER_BEFORE = re.compile(rf"\b{_NUMBER}[ ,]*$|#\d{{1,5}}[ ,]*$", re.IGNORECASE)
_NUMBER_AFTER = re.compile(rf"^,?\s*{_NUMBER}\b", re.IGNORECASE)


def location_in(message: Mapping[str, Any]) -> str | None:
    """The place a message names (its ``location`` entity), with the house number kept.

    The entity's span is widened to a house number right before or after it in the text, so
    "outside no. 12 Jiefang Road" gives "no. 12 Jiefang Road", not "Jiefang Road".
    """
    text = message.get("text")
    for entity in message.get("entities") or []:
        if not isinstance(entity, dict) or entity.get("entity") != "location":
            continue
        value = entity.get("value")
        start, end = entity.get("start"), entity.get("end")
        if not isinstance(value, str):
            continue
        if not (
            isinstance(text, str)
            and isinstance(start, int)
            and isinstance(end, int)
            and 0 <= start < end <= len(text)
        ):
            return clean_text(value)
        start = _name_start(text, start, end)
        before = _NUMBER_BEFORE.search(text[:start])
        if before:
            start = before.start()
        after = _NUMBER_AFTER.match(text[end:])
        if after and not before:
            end += after.end()
        place = clean_text(text[start:end].strip(" ,"))
        # A lone word ("Street", "park") names no place to find; the step asks for one.
        if (
            place is not None
            and (len(place.split()) >= 2 or any(c.isdigit() for c in place))
            and _looks_like_a_place(place)
            and _names_somewhere(place)
        ):
            return place
    return None


# Words of a greeting or a time, which the entity model sometimes takes for a place ("Dear
# Sir or Madam", "Every single Sunday"); a street word or a number outweighs them.
_NOT_PLACE_WORDS = re.compile(
    r"\b(dear|sir|madam|hello|hi|thanks|regards|every|single|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|weekend|morning|afternoon|evening|night|today|"
    r"yesterday|tomorrow|week|month|year|january|february|march|april|june|july|august|"
    r"september|october|november|december)\b",
    re.IGNORECASE,
)
_PLACE_WORDS = re.compile(
    r"\b(road|rd|street|st|lane|ln|avenue|ave|way|drive|close|court|square|place|park|"
    r"bridge|station|school|market|estate|block|building|tower|flat|house|hall|centre|center|"
    r"office|church|library|hospital|garden|gardens|terrace|crescent|row|hill|green|gate)\b",
    re.IGNORECASE,
)


# The kinds of street a name ends with ("Grange Road", "Elm St"): with a word before it that
# is not "the" or "a", a place one can find.
_STREET_KINDS = re.compile(
    r"\b(?!(?:the|a|an|this|that|our|my|main)\s)[^\W\d_][\w'-]*\s+"
    r"(road|rd|street|st|lane|ln|avenue|ave|way|drive|close|court|square|crescent|terrace|"
    r"row|grove|place|walk|parade|mews|gardens)\b",
    re.IGNORECASE,
)


def _names_somewhere(place: str) -> bool:
    """Whether a place said in passing names somewhere staff could find: a number, a named
    street, a capitalised name ("Orchard Primary") or Chinese (its own checks apply).

    "across the path by the swings" or "in the park" says where within a place the citizen has
    in mind, not which place: the place step asks for it instead.
    """
    if any(c.isdigit() for c in place) or CHINESE_RUN.search(place) or _STREET_KINDS.search(place):
        return True
    return any(
        word[:1].isupper() and word.casefold() not in _BEFORE_PLACE
        for word in re.findall(r"[^\W\d_][\w'-]*", place)
        if word != "I"
    )


def _looks_like_a_place(place: str) -> bool:
    if any(c.isdigit() for c in place) or _PLACE_WORDS.search(place):
        return True
    return not _NOT_PLACE_WORDS.search(place)


# Words that end a place's name on its left: "on Main Street", "outside the library".
_BEFORE_PLACE = frozenset(
    [
        "on",
        "in",
        "at",
        "by",
        "near",
        "outside",
        "opposite",
        "behind",
        "beside",
        "along",
        "from",
        "to",
        "of",
        "the",
        "a",
        "an",
        "my",
        "our",
        "this",
        "that",
        "is",
        "are",
        "was",
        "and",
        "or",
    ]
)


def _name_start(text: str, start: int, end: int) -> int:
    """Where a one-word place entity really starts: "Street" in "on Main Street" widens to
    "Main Street" (the NLU entity often keeps only the street's kind)."""
    if len(text[start:end].split()) > 1:
        return start
    before = re.search(r"([^\W\d_][\w'-]*)\s+$", text[:start])
    if before and before.group(1).casefold() not in _BEFORE_PLACE:
        return before.start(1)
    return start


def says_what_is_wrong(text: str) -> bool:
    """True if an opening message describes the matter rather than only asking to start."""
    return len(words(text) - _OPENING_WORDS) >= 2


def allowed_media_bases() -> tuple[str, ...]:
    settings = get_settings()
    return (settings.backoffice_url, settings.backoffice_public_url)


class ActionStartIntake(Action):
    """Starts ``intake_form`` from the first message, keeping what it already says.

    Sets ``issue_description`` from the message when it describes the matter, and
    ``issue_location`` from a ``location`` entity; both are validated when the form starts.
    Also reached from a command that turned out not to be one (a "status" question that
    names no ticket and asks for a service), so it runs the form itself.
    """

    def name(self) -> str:
        return "action_start_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await announce_delivered(dispatcher, tracker)
        events = cleared_intake()
        kind = INTAKE_KINDS.get(str(latest_intent(tracker)), "report_issue")
        events.append(SlotSet("intake_kind", kind))
        # A photo or a place sent with nothing going on starts the intake and is kept.
        photo, photo_problem = shared_photo(tracker, allowed_media_bases())
        if photo is not None:
            events.append(SlotSet("issue_photo", photo))
            dispatcher.utter_message(response="utter_photo_received")
        coordinates, location_problem = shared_location(tracker)
        if coordinates is not None:
            events.append(SlotSet("issue_location", display_coordinates(coordinates)))
            events.append(SlotSet("issue_coordinates", list(coordinates)))
            dispatcher.utter_message(response="utter_location_received")
        for problem in (photo_problem, location_problem):
            if problem:
                dispatcher.utter_message(response=problem)
        text = clean_text(tracker.latest_message.get("text"))
        if text and not text.startswith("/") and says_what_is_wrong(text):
            events.append(SlotSet("issue_description", text))
            location = location_in(tracker.latest_message)
            if location is not None and coordinates is None:
                events.append(SlotSet("issue_location", location))
        return [*events, FollowupAction(FORM)]


# Meaningful words a stray answer must have, outside a process, to be taken as a new matter:
# more than a way out or a yes ("no, go back to the start") ever says.
STRAY_MATTER_WORDS = 4


class ActionAnswerStrayReply(Action):
    """A yes, no, skip, back, change or button answer with nothing going on.

    The intent model files some needs under these ("I am having Indian driving licence, can I
    change it to local one?" is change_value), and the command gate keeps them by their cue
    words; with no form to answer, a message that says what it is about starts the intake as
    a new matter. Anything shorter gets "anything else I can help with?". Reads the latest
    message only; sets what :class:`ActionStartIntake` sets.
    """

    def name(self) -> str:
        return "action_answer_stray_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = clean_text(tracker.latest_message.get("text"))
        if text and not text.startswith("/") and says_a_matter(text):
            return [FollowupAction("action_start_intake")]
        dispatcher.utter_message(response="utter_anything_else")
        return []


def says_a_matter(text: str) -> bool:
    """Whether a message said outside any process says what a new matter is about.

    Chinese is written without spaces ("这个月电费比平时翻了一倍" is one run of several
    words), so a run counts a word per three whole characters: fewer than ``word_count``'s two, as
    a way out in Chinese is wordier ("不对 回到上一步", "我不想继续了 先这样吧" stay ways out).
    """
    said = words(text) - _OPENING_WORDS - _WAYS_OUT_WORDS
    count = sum(len(word) // 3 if CHINESE_RUN.fullmatch(word) else 1 for word in said)
    return count >= STRAY_MATTER_WORDS


# The words of the ways out and of yes and no, which say nothing about a matter.
_WAYS_OUT_WORDS = frozenset(
    [
        "yes",
        "no",
        "not",
        "ok",
        "okay",
        "go",
        "back",
        "start",
        "skip",
        "next",
        "change",
        "previous",
        "step",
        "question",
        "sure",
        "fine",
        "right",
        "wrong",
        "that",
        "this",
        "one",
        "again",
    ]
)
