"""Step 2: which service. The catalogue's best matches, more of them, or browsing by topic.

The citizen taps a service, or names it in words ("the street light one", "the second one"),
or says it differently, and the catalogue is searched again with the new words. Once chosen,
the service's Open311 definition says what else is asked: its required attributes, and (its
catalogue entry's extension fields) whether a place and a photo are needed and how to ask.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_matching import OptionMatch, fold, match_option, meaningful_words, word_count
from actions.attribute_answers import answers_in, choices, question_from_attribute
from actions.dependencies import get_open311_client, get_settings
from actions.form_steps import failed, tell_problem
from actions.open311_client import BackOfficeUnavailable
from actions.report_issue.state import (
    BEST_MATCHES,
    BROWSE_TOPICS,
    GROUP_PREFIX,
    MAX_CANDIDATES,
    MORE_SERVICES,
    NO_SERVICE_FITS,
    SERVICES_PER_PAGE,
    candidates_of,
    service_page,
    shown_candidates,
)
from actions.service_matching import search_catalogue

# The moves of the service step, with the words that mean them when typed.
# The words of each move (not "services" or "another": a need says those too).
_MOVE_WORDS = {
    MORE_SERVICES: "other more others different else show ones 其他 其它 别的 更多",
    BROWSE_TOPICS: "topic topics categories category browse 类别 分类",
    NO_SERVICE_FITS: "none neither nothing 都不是 都不对",
    BEST_MATCHES: "back best matches 返回 最符合",
}
# A move is said in a few words; a longer message describes the need again.
_MAX_MOVE_WORDS = 6
_CODE = re.compile(r"[a-z0-9_]{2,64}")


async def catalogue_groups() -> dict[str, list[tuple[str, str]]]:
    """The catalogue's groups (Open311 ``group``), each with its services by name.

    Raises:
        BackOfficeUnavailable: the services list could not be read.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for service in await get_open311_client().list_services():
        if service.group:
            groups.setdefault(service.group, []).append(
                (service.service_code, service.service_name)
            )
    return {
        group: sorted(services, key=lambda pair: pair[1].casefold())
        for group, services in sorted(groups.items(), key=lambda item: item[0].casefold())
    }


async def catalogue_page(candidates: list[tuple[str, str]], page: int) -> list[tuple[str, str]]:
    """Services beyond the search results, alphabetically, for the later "see others" pages."""
    try:
        services = await get_open311_client().list_services()
    except BackOfficeUnavailable:
        return []
    offered = {code for code, _ in candidates}
    rest = sorted(
        ((s.service_code, s.service_name) for s in services if s.service_code not in offered),
        key=lambda pair: pair[1].casefold(),
    )
    first_page = -(-len(candidates) // SERVICES_PER_PAGE)
    start = (page - first_page) * SERVICES_PER_PAGE
    return rest[start : start + SERVICES_PER_PAGE] if start >= 0 else []


async def offered_services(tracker: Tracker) -> list[tuple[str, str]]:
    """The services on the citizen's screen now: a page of matches or of the catalogue."""
    shown = shown_candidates(tracker)
    page = service_page(tracker)
    if page > 0 and not shown:
        shown = await catalogue_page(candidates_of(tracker), page)
    return shown


def with_moves(services: list[tuple[str, str]], *moves: str) -> list[tuple[str, str]]:
    return [*services, *((move, _MOVE_WORDS[move]) for move in moves)]


async def search_results(text: str) -> dict[str, Any]:
    """Slot values for a new search: the matches, from the first page (no topic open).

    Raises:
        BackOfficeUnavailable: the catalogue could not be read.
    """
    matches = await search_catalogue(get_open311_client(), text, limit=MAX_CANDIDATES)
    return {
        "service_candidates": [[m.service_code, m.service_name] for m in matches],
        "service_page": 0.0,
        "service_browse": None if matches else BROWSE_TOPICS,
    }


async def choose_service(
    code: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """Slot values for choosing ``code``: its name, questions, place and photo, from the catalogue.

    The list questions that the description already answers are answered from it (the
    summary shows them, and "change" corrects them).
    """
    client = get_open311_client()
    try:
        services = {s.service_code: s for s in await client.list_services()}
        service = services.get(code)
        if service is None:
            dispatcher.utter_message(response="utter_service_not_recognised")
            return failed(tracker, "service_code")
        definition = await client.get_service_definition(code) if service.metadata else None
        needs = await client.service_needs(code)
    except BackOfficeUnavailable:
        dispatcher.utter_message(response="utter_backoffice_unavailable")
        return {"service_code": None}
    questions = (
        [question_from_attribute(a) for a in definition.required_attributes] if definition else []
    )
    description = tracker.get_slot("issue_description")
    given = (
        answers_in(
            description,
            questions,
            service_name=service.service_name,
            service_words=" ".join(word for word in service.keywords if " " not in word.strip()),
            lists=True,
        )
        if isinstance(description, str)
        else {}
    )
    return {
        # "Choose all that apply" with options the description named: asked as "so far ...,
        # anything else?", so the citizen taps only what the story did not say.
        "attribute_adding": next(
            (
                q["code"]
                for q in questions
                if q["datatype"] == "multivaluelist"
                and q["code"] in given
                and any(key not in given[q["code"]] for key, _ in choices(q))
            ),
            None,
        ),
        "service_code": code,
        "service_name": service.service_name,
        "service_questions": questions,
        "service_attributes": given,
        "service_needs_photo": needs.photo,
        "service_needs_location": needs.location,
        "service_prompts": {
            "issue_location": needs.location_question,
            "issue_photo": needs.photo_question,
        },
        "service_browse": None,
        "failed_attempts": 0.0,
    }


async def validate_service(
    value: str | None, typed: bool, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """Slot values for the service step's answer: a service, a move, or a re-ask.

    ``typed`` when the citizen wrote words rather than pressing a button.
    """
    if value is None:
        tell_problem(dispatcher, tracker, "utter_service_not_recognised")
        return failed(tracker, "service_code")
    browse = tracker.get_slot("service_browse")
    if typed:
        value = await _typed_choice(value, browse if isinstance(browse, str) else None, tracker)
        if value is None:
            return await _search_again(str(tracker.latest_message.get("text")), dispatcher, tracker)
    page = service_page(tracker)
    if value == MORE_SERVICES:
        return {"service_code": None, "service_page": float(page + 1), "service_browse": None}
    if value == BEST_MATCHES:
        return {"service_code": None, "service_page": 0.0, "service_browse": None}
    if value == NO_SERVICE_FITS:
        return await choose_service(get_settings().fallback_service_code, dispatcher, tracker)
    if value == BROWSE_TOPICS:
        return {"service_code": None, "service_browse": BROWSE_TOPICS, "failed_attempts": 0.0}
    if value.startswith(GROUP_PREFIX):
        return await _open_group(value.removeprefix(GROUP_PREFIX), dispatcher, tracker)
    if _CODE.fullmatch(value):
        # A service's button: from the matches, a catalogue page or a topic; checked there.
        return await choose_service(value, dispatcher, tracker)
    tell_problem(dispatcher, tracker, "utter_service_not_recognised")
    return failed(tracker, "service_code")


async def _typed_choice(text: str, browse: str | None, tracker: Tracker) -> str | None:
    """The button a typed answer means at the service step, or None."""
    try:
        groups = await catalogue_groups()
        topics = [(GROUP_PREFIX + group, group) for group in groups]
        moves: tuple[str, ...]
        if browse == BROWSE_TOPICS:
            shown, moves = topics, (BEST_MATCHES,)
        elif isinstance(browse, str) and browse.startswith(GROUP_PREFIX):
            shown = groups.get(browse.removeprefix(GROUP_PREFIX), [])
            # "Show me other ones" in a topic: the other services are in the other topics.
            moves = (MORE_SERVICES, BROWSE_TOPICS, NO_SERVICE_FITS)
        else:
            shown = await offered_services(tracker)
            moves = (MORE_SERVICES, BROWSE_TOPICS, NO_SERVICE_FITS)
    except BackOfficeUnavailable:
        return None
    # What is on the screen first, by its words or its number; then a move said in a few
    # words; then a topic named at any page ("waste services").
    short = word_count(text) <= _MAX_MOVE_WORDS
    named = [key for key, name in topics if fold(name) == fold(text).strip(" .!")]
    if named:
        return named[0]  # a topic's whole name, as listed ("public health")
    found: OptionMatch = match_option(text, with_moves(shown, *moves))
    if found.key in moves and not short:
        found = match_option(text, shown)
    gives_up = found.key == NO_SERVICE_FITS or NO_SERVICE_FITS in found.tied
    if gives_up and _asks_for_others(text):
        # "None of these, are there others?" asks to see more, not to give up the list.
        found = OptionMatch(MORE_SERVICES)
    if found.key == MORE_SERVICES and browse != BROWSE_TOPICS and browse is not None:
        return BROWSE_TOPICS
    if found.key is not None:
        return found.key
    if browse != BROWSE_TOPICS and (described := await _described_on_screen(text, shown)):
        return described
    if not short:
        return None
    topic = match_option(text, topics, by_position=False)
    return topic.key if topic.clear else None


def _asks_for_others(text: str) -> bool:
    return match_option(text, with_moves([], MORE_SERVICES), by_position=False).key is not None


# Words that turn a description away from the services on the screen.
_NOT_THESE = re.compile(
    r"\b(none|neither|nor|not|other|others|different|else|wrong)\b|都不|不是|不对|其他|其它|别的"
)


async def _described_on_screen(text: str, shown: list[tuple[str, str]]) -> str | None:
    """The service on the screen that ``text`` describes in words of its own, or None.

    "The one for changing a licence from abroad" names no button's words beyond "licence",
    which three buttons share; the catalogue's search, which knows each service's keywords
    and synonyms, ranks "Exchange a foreign driving licence" first. Its best match is taken
    when it is on the screen, unless the words turn away from the list ("none of those").
    """
    if not shown or _NOT_THESE.search(fold(text)):
        return None
    try:
        matches = await search_catalogue(get_open311_client(), text, limit=MAX_CANDIDATES)
    except BackOfficeUnavailable:
        return None
    on_screen = {code for code, _ in shown}
    return matches[0].service_code if matches and matches[0].service_code in on_screen else None


async def _search_again(
    text: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """Words that pick no button: searched as a new description of what is needed."""
    if len(meaningful_words(text)) >= 1:
        try:
            found = await search_results(text)
        except BackOfficeUnavailable:
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return failed(tracker, "service_code")
        offered = {code for code, _ in candidates_of(tracker)}
        fresh = [pair for pair in found["service_candidates"] if pair[0] not in offered]
        if found["service_candidates"] and fresh:
            dispatcher.utter_message(response="utter_service_searched_again")
            return {**failed(tracker, "service_code"), **found}
    tell_problem(dispatcher, tracker, "utter_service_words_not_understood", words=text[:80].strip())
    return failed(tracker, "service_code")


async def _open_group(
    group: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    try:
        groups = await catalogue_groups()
    except BackOfficeUnavailable:
        dispatcher.utter_message(response="utter_backoffice_unavailable")
        return {"service_code": None, "service_browse": None}
    if group not in groups:
        tell_problem(dispatcher, tracker, "utter_service_group_not_recognised")
        return failed(tracker, "service_code")
    return {"service_code": None, "service_browse": GROUP_PREFIX + group, "failed_attempts": 0.0}
