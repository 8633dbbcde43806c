"""Free-text-first intake of a complaint or an application: ``intake_form``.

The citizen's first message is taken as the description when it says enough; the catalogue is
searched with it and the best matches are offered as buttons; the chosen service's required
Open311 attributes are asked one by one; then the location (typed, or shared by the channel as
coordinates), a photo where the catalogue asks for one, whether staff may contact the citizen
(a phone number and/or email and optionally a name, or replies in this chat only), a summary to
confirm, and filing through the outbox. Besides the best matches the service step lets the
citizen browse the catalogue by its groups (topics). A photo is taken at any step (see
``actions/shared_media.py``).

Slots read and set: ``issue_description``, ``service_candidates``, ``service_page``,
``service_code``, ``service_name``, ``service_questions``, ``service_attributes``,
``service_needs_photo``, ``attribute_answer``, ``issue_location``, ``issue_coordinates``,
``issue_photo``, ``service_browse``, ``contact_choice``, ``contact_details``, ``contact_name``,
``contact_phone``, ``contact_email``, ``confirm_submission``, ``failed_attempts``,
``intake_kind``;
``service_request_id`` after filing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.attribute_answers import (
    Question,
    choices,
    display_answer,
    is_question,
    parse_answer,
    question_from_attribute,
)
from actions.citizen_identity import citizen_identity
from actions.dependencies import Open311Api, get_open311_client, get_outbox, get_settings
from actions.form_steps import (
    AskStep,
    CancelForm,
    choice_payload,
    clean_text,
    cleared,
    failed,
    failures,
    latest_intent,
)
from actions.open311_client import BackOfficeUnavailable
from actions.outbox import Move
from actions.service_matching import search_catalogue, words
from actions.shared_media import (
    check_media_url,
    coordinates_slot,
    display_coordinates,
    shared_location,
    shared_photo,
)
from open311_schema import MAX_DESCRIPTION_CHARS, NewServiceRequest

logger = logging.getLogger(__name__)

FORM = "intake_form"
MIN_DESCRIPTION_CHARS = 5
MIN_LOCATION_CHARS = 3
MAX_LOCATION_CHARS = 500
SERVICES_PER_PAGE = 3
MAX_CANDIDATES = 8
# Whether staff may contact the citizen; the details and the name only when they may.
CONTACT_STEPS = ("contact_choice", "contact_details", "contact_name")
# The optional steps: the service (the catch-all is used), the photo and the contact steps
# (replies in this chat only; no name). The others are needed
# to file (Open311 requires a location; the service's required attributes are required).
SKIPPABLE_STEPS = ("service_code", "issue_photo", *CONTACT_STEPS)

MORE_SERVICES = "more"
NO_SERVICE_FITS = "none"
SUBMIT = "submit"
CHANGE = "change"
CHANGEABLE = (
    "issue_description",
    "service_code",
    "service_attributes",
    "issue_location",
    "contact_choice",
)
# The service step's browsing: the catalogue's groups, then one group's services.
BROWSE_TOPICS = "topics"
BEST_MATCHES = "matches"
GROUP_PREFIX = "group:"
# `contact_choice` values: replies in this chat only (no personal field is filed), or contact.
ANONYMOUS = "anonymous"
CONTACT = "contact"
# `contact_name` when the citizen gave none (not a valid name, so never taken for one).
NO_NAME = "no_name"
MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
# `issue_photo` holds a checked media_url, or this when the citizen chose to send none.
PHOTO_SKIPPED = "skipped"

# Every slot this form owns, cleared when it starts, is cancelled or has filed.
INTAKE_SLOTS = (
    "issue_description",
    "service_candidates",
    "service_page",
    "service_code",
    "service_name",
    "service_questions",
    "service_attributes",
    "attribute_answer",
    "issue_location",
    "issue_coordinates",
    "issue_photo",
    "service_needs_photo",
    "service_browse",
    *CONTACT_STEPS,
    "contact_phone",
    "contact_email",
    "confirm_submission",
    "failed_attempts",
    "intake_kind",
)

# Words of an opening that only says "I want to report something" without saying what.
_OPENING_WORDS = frozenset(
    [
        "i",
        "i'd",
        "id",
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


# An email address as people type it; checked further by `check_email`.
_EMAIL = re.compile(r"[^\s@,;<>()]+@[^\s@,;<>()]+")
_EMAIL_SHAPE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}"
)
# A phone number as people type it: digits with spaces, dots, dashes or brackets, maybe a "+".
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]*\d")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
MIN_PHONE_DIGITS = 6
MAX_PHONE_DIGITS = 15  # the longest number E.164 allows
_NAME = re.compile(r"[^\W\d_]+(?:[ .'\u2019-]+[^\W\d_]+)*\.?")


def check_phone(value: Any) -> str | None:
    """A phone number kept as typed (spaces normalised), or None when it is not one.

    6 to 15 digits, optionally after "+" (or "00"), with spaces, dots, dashes or brackets.
    """
    text = clean_text(value)
    if text is None or not _PHONE.fullmatch(text):
        return None
    digits = _PHONE_SEPARATORS.sub("", text).removeprefix("+")
    if not digits.isdigit() or not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return text


def check_email(value: Any) -> str | None:
    """An email address (``name@domain.tld``, at most 254 characters), or None."""
    text = clean_text(value)
    if text is None or len(text) > MAX_EMAIL_CHARS or not _EMAIL_SHAPE.fullmatch(text):
        return None
    if ".." in text or text.split("@")[0].startswith(".") or text.split("@")[0].endswith("."):
        return None
    return text


def check_name(value: Any) -> str | None:
    """A person's name (letters, with spaces, dots, hyphens or apostrophes), or None."""
    text = clean_text(value)
    if text is None or len(text) > MAX_NAME_CHARS or not _NAME.fullmatch(text):
        return None
    return text


def contact_in(text: Any) -> tuple[str | None, str | None, bool]:
    """``(phone, email, usable)`` read from what the citizen typed at the details step.

    Usable when it holds a valid phone number or email and nothing that looks like a broken
    one: "call 0612 345 678" is read, "name@example" or "12345" is not.
    """
    line = clean_text(text)
    if line is None or line.startswith("/"):
        return None, None, False
    emails = _EMAIL.findall(line)
    email = check_email(emails[0]) if len(emails) == 1 else None
    if emails and email is None:
        return None, None, False
    rest = _EMAIL.sub(" ", line)
    numbers = [m.group().strip() for m in _PHONE.finditer(rest)]
    phone = check_phone(numbers[0]) if len(numbers) == 1 else None
    if numbers and phone is None:
        return None, None, False
    return phone, email, bool(phone or email)


def split_name(name: str) -> tuple[str, str | None]:
    """Open311 ``first_name`` and ``last_name`` from a name typed in one line."""
    first, _, last = name.partition(" ")
    return first, last.strip() or None


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
        before = _NUMBER_BEFORE.search(text[:start])
        if before:
            start = before.start()
        after = _NUMBER_AFTER.match(text[end:])
        if after and not before:
            end += after.end()
        return clean_text(text[start:end].strip(" ,"))
    return None


def says_what_is_wrong(text: str) -> bool:
    """True if an opening message describes the matter rather than only asking to start."""
    return len(words(text) - _OPENING_WORDS) >= 2


def questions_of(tracker: Tracker) -> list[Question]:
    raw = tracker.get_slot("service_questions")
    return [q for q in raw if is_question(q)] if isinstance(raw, list) else []


def answers_of(tracker: Tracker) -> dict[str, list[str]]:
    raw = tracker.get_slot("service_attributes")
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(code): [str(v) for v in values]
        for code, values in raw.items()
        if isinstance(values, list) and all(isinstance(v, str) for v in values)
    }


def pending_questions(tracker: Tracker) -> list[Question]:
    answered = answers_of(tracker)
    return [q for q in questions_of(tracker) if q["code"] not in answered]


def candidates_of(tracker: Tracker) -> list[tuple[str, str]]:
    raw = tracker.get_slot("service_candidates")
    if not isinstance(raw, list):
        return []
    return [
        (str(item[0]), str(item[1])) for item in raw if isinstance(item, list) and len(item) == 2
    ]


def photo_step(tracker: Tracker) -> int:
    """1 when the chosen service asks for a photo (a step of its own), else 0."""
    return 1 if tracker.get_slot("service_needs_photo") is True else 0


def contact_steps(tracker: Tracker) -> int:
    """The contact question, plus the details and the name when the citizen may be contacted."""
    return 3 if tracker.get_slot("contact_choice") == CONTACT else 1


def total_steps(tracker: Tracker) -> int:
    return 4 + len(questions_of(tracker)) + photo_step(tracker) + contact_steps(tracker)


def allowed_media_bases() -> tuple[str, ...]:
    settings = get_settings()
    return (settings.backoffice_url, settings.backoffice_public_url)


def checked_photo(value: Any) -> tuple[str | None, bool]:
    """The ``issue_photo`` slot re-validated: ``(media_url or None, whether it is usable)``."""
    if value is None or value == PHOTO_SKIPPED:
        return None, True
    url = check_media_url(value, allowed_media_bases())
    return url, url is not None


def step_number(tracker: Tracker, slot: str) -> int:
    """Where ``slot`` is in the process, counting from 1."""
    count = len(questions_of(tracker))
    if slot == "issue_description":
        return 1
    if slot == "service_code":
        return 2
    if slot == "attribute_answer":
        return min(3 + len(answers_of(tracker)), 2 + max(count, 1))
    if slot == "issue_location":
        return 3 + count
    if slot == "issue_photo":
        return 4 + count
    if slot in CONTACT_STEPS:
        return 4 + count + photo_step(tracker) + CONTACT_STEPS.index(slot)
    return total_steps(tracker)


def cleared_intake() -> list[EventType]:
    return cleared(INTAKE_SLOTS)


async def announce_delivered(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Tell the citizen what was sent from the outbox since they last heard.

    References of queued submissions, the outcome of kept withdrawals, reopenings and
    ratings, and for kept requests for a person, which department will answer and by when.
    """
    outbox = get_outbox()
    for entry in outbox.take_unannounced(tracker.sender_id):
        dispatcher.utter_message(
            response="utter_queued_request_filed",
            service_request_id=entry.service_request_id,
        )
    for move in outbox.take_unannounced_moves(tracker.sender_id):
        dispatcher.utter_message(
            response=MOVE_DONE[move.move]
            if move.outcome == "done"
            else _MOVE_NOT_DONE.get(str(move.outcome), "utter_follow_up_refused"),
            service_request_id=move.service_request_id,
        )
    for handoff in outbox.take_unannounced_handoffs(tracker.sender_id):
        dispatcher.utter_message(
            response="utter_queued_handoff_filed",
            department=handoff.department or "",
            expected_response=_utc_text(handoff.expected_response),
        )


# What a withdrawal, reopening or rating came to, said when it is done (at once, or when a
# kept one is known).
MOVE_DONE: dict[Move, str] = {
    "withdraw": "utter_ticket_withdrawn",
    "reopen": "utter_ticket_reopened",
    "rate": "utter_rated",
}
_MOVE_NOT_DONE = {
    "refused": "utter_follow_up_refused",
    "not_found": "utter_ticket_not_from_this_chat",
}


def _utc_text(iso: str | None) -> str:
    """An ISO 8601 time as "YYYY-MM-DD HH:MM UTC" (as the handoff reply says it)."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class ActionStartIntake(Action):
    """Starts ``intake_form`` from the first message, keeping what it already says.

    Sets ``issue_description`` from the message when it describes the matter, and
    ``issue_location`` from a ``location`` entity; both are validated when the form starts.
    """

    def name(self) -> str:
        return "action_start_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await announce_delivered(dispatcher, tracker)
        events = cleared_intake()
        intent = latest_intent(tracker)
        kind = intent if intent == "request_service" else "report_issue"
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
        return events


class ValidateIntakeForm(FormValidationAction):
    """Checks each answer of ``intake_form`` and decides which steps are still open."""

    def name(self) -> str:
        return "validate_intake_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Takes a photo or a shared location from the message at any step, then validates.

        What the channel attached is put on the tracker before the usual extraction and
        validation, so the form counts a step as answered and asks the next open one (or
        the same one again, after a word that the photo or place was received).
        """
        change = self._change_asked(tracker)
        if change:
            return change
        shared = self._shared_in_message(dispatcher, tracker)
        tracker.add_slots(shared)
        return [*shared, *await super().run(dispatcher, tracker, domain)]

    def _change_asked(self, tracker: Tracker) -> list[EventType]:
        """A "change the ..." button pressed at any step: that step is emptied and asked again.

        (At the summary the confirmation's own validator does the same.)
        """
        step = tracker.get_slot("requested_slot")
        if latest_intent(tracker) != "choose_option" or (step == "confirm_submission"):
            return []
        choice = next(
            (
                entity.get("value")
                for entity in tracker.latest_message.get("entities") or []
                if entity.get("entity") == "choice"
            ),
            None,
        )
        if not isinstance(choice, str) or not choice.startswith(f"{CHANGE}_"):
            return []
        what = choice[len(CHANGE) + 1 :]
        if what not in CHANGEABLE:
            return []
        open_step = {step: None} if isinstance(step, str) else {}
        cleared = {**open_step, **_cleared_for_change(what), "failed_attempts": 0.0}
        return [SlotSet(slot, value) for slot, value in cleared.items()]

    def _shared_in_message(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        step = tracker.get_slot("requested_slot")
        events: list[EventType] = []
        photo, photo_problem = shared_photo(tracker, allowed_media_bases())
        coordinates, location_problem = shared_location(tracker)
        if photo is not None and photo != tracker.get_slot("issue_photo"):
            events.append(SlotSet("issue_photo", photo))
            if step != "issue_photo":
                dispatcher.utter_message(response="utter_photo_received")
        if coordinates is not None:
            events.append(SlotSet("issue_location", display_coordinates(coordinates)))
            if step not in ("issue_location", None) and (
                coordinates_slot(tracker.get_slot("issue_coordinates")) != coordinates
            ):
                dispatcher.utter_message(response="utter_location_received")
        problem = photo_problem or location_problem
        if problem and not events:
            # Said here and counted as a failed answer, so the form asks the step again
            # instead of giving up on the message.
            dispatcher.utter_message(response=problem)
            events.append(SlotSet("failed_attempts", float(failures(tracker) + 1)))
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = ["issue_description", "service_code"]
        if pending_questions(tracker):
            slots.append("attribute_answer")
        slots.append("issue_location")
        if photo_step(tracker) and tracker.get_slot("issue_photo") is None:
            slots.append("issue_photo")
        slots.append("contact_choice")
        if tracker.get_slot("contact_choice") == CONTACT:
            slots += ["contact_details", "contact_name"]
        return [*slots, "confirm_submission"]

    async def validate_issue_description(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text, problem = check_description(slot_value)
        if problem:
            dispatcher.utter_message(response=problem, max_chars=MAX_DESCRIPTION_CHARS)
            return failed(tracker, "issue_description")
        result: dict[str, Any] = {"issue_description": text, "failed_attempts": 0.0}
        if tracker.get_slot("service_code"):
            return result  # a corrected description keeps the service already chosen
        client = get_open311_client()
        try:
            matches = await search_catalogue(client, str(text), limit=MAX_CANDIDATES)
        except BackOfficeUnavailable:
            # Without the catalogue the request still gets filed (through the outbox) under
            # the configured catch-all service; staff re-route it.
            fallback = get_settings().fallback_service_code
            return {
                **result,
                "service_code": fallback,
                "service_name": fallback,
                "service_questions": [],
                "service_attributes": {},
            }
        result["service_candidates"] = [[m.service_code, m.service_name] for m in matches]
        result["service_page"] = 0.0
        return result

    async def validate_service_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        value = clean_text(slot_value)
        page = int(tracker.get_slot("service_page") or 0)
        if value == MORE_SERVICES:
            return {"service_code": None, "service_page": float(page + 1), "service_browse": None}
        if value == BEST_MATCHES:
            return {"service_code": None, "service_page": 0.0, "service_browse": None}
        browse = tracker.get_slot("service_browse")
        # A topic's button is taken whenever it is pressed, as a service's is.
        topic = value is not None and value.startswith(GROUP_PREFIX)
        if (
            value == BROWSE_TOPICS
            or topic
            or (isinstance(browse, str) and value != NO_SERVICE_FITS)
        ):
            browsed = await _browsed(value, browse, dispatcher, tracker)
            if browsed is not None:
                return browsed
            if value == BROWSE_TOPICS or topic or browse == BROWSE_TOPICS:
                dispatcher.utter_message(response="utter_service_group_not_recognised")
                return failed(tracker, "service_code")
        code = _chosen_service(value, candidates_of(tracker), page)
        if value == NO_SERVICE_FITS:
            code = get_settings().fallback_service_code
        if code is None:
            dispatcher.utter_message(response="utter_service_not_recognised")
            return failed(tracker, "service_code")
        return await choose_service(code, dispatcher, tracker)

    async def validate_attribute_answer(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        pending = pending_questions(tracker)
        if not pending:
            return {"attribute_answer": None}
        values, problem = parse_answer(pending[0], slot_value)
        if values is None:
            dispatcher.utter_message(response=problem)
            return failed(tracker, "attribute_answer")
        answers = {**answers_of(tracker), pending[0]["code"]: list(values)}
        # The slot is emptied again so the next question can be asked with the same slot.
        return {"attribute_answer": None, "service_attributes": answers, "failed_attempts": 0.0}

    async def validate_issue_location(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        coordinates, shared_problem = shared_location(tracker)
        if coordinates is not None:
            return {
                "issue_location": display_coordinates(coordinates),
                "issue_coordinates": list(coordinates),
                "failed_attempts": 0.0,
            }
        if shared_problem:
            # Already said by `run`; the place is asked again.
            return {"issue_location": None, "issue_coordinates": None}
        text, problem = check_location(slot_value)
        if problem:
            dispatcher.utter_message(response=problem)
            return failed(tracker, "issue_location", issue_coordinates=None)
        return {"issue_location": text, "issue_coordinates": None, "failed_attempts": 0.0}

    async def validate_issue_photo(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        photo, problem = shared_photo(tracker, allowed_media_bases())
        if photo is not None:
            return {"issue_photo": photo, "failed_attempts": 0.0}
        if problem:
            return {"issue_photo": None}  # already said by `run`
        if latest_intent(tracker) == "deny":
            return {"issue_photo": PHOTO_SKIPPED, "failed_attempts": 0.0}
        dispatcher.utter_message(response="utter_photo_expected")
        return failed(tracker, "issue_photo")

    async def validate_contact_choice(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        value = clean_text(slot_value)
        intent = latest_intent(tracker)
        if value == ANONYMOUS or intent == "deny":
            return {
                **_cleared_for_change("contact_choice"),
                "contact_choice": ANONYMOUS,
                "failed_attempts": 0.0,
            }
        if value == CONTACT or intent == "affirm":
            return {"contact_choice": CONTACT, "failed_attempts": 0.0}
        # A phone number or an email typed straight away answers the details step too.
        phone, email, usable = contact_in(value)
        if usable:
            return {"contact_choice": CONTACT, **_contact_values(phone, email)}
        dispatcher.utter_message(response="utter_contact_choice_not_understood")
        return failed(tracker, "contact_choice")

    async def validate_contact_details(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        phone, email, usable = contact_in(slot_value)
        if not usable:
            dispatcher.utter_message(response="utter_contact_details_invalid")
            return failed(tracker, "contact_details", contact_phone=None, contact_email=None)
        return _contact_values(phone, email)

    async def validate_contact_name(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if clean_text(slot_value) == NO_NAME or latest_intent(tracker) == "deny":
            return {"contact_name": NO_NAME, "failed_attempts": 0.0}
        name = check_name(slot_value)
        if name is None:
            dispatcher.utter_message(response="utter_contact_name_invalid")
            return failed(tracker, "contact_name")
        return {"contact_name": name, "failed_attempts": 0.0}

    async def validate_confirm_submission(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        value = clean_text(slot_value)
        if value == SUBMIT:
            return {"confirm_submission": SUBMIT, "failed_attempts": 0.0}
        if value == CHANGE:
            dispatcher.utter_message(response="utter_ask_what_to_change")
            return {"confirm_submission": None}
        if value and value.startswith(f"{CHANGE}_") and value[len(CHANGE) + 1 :] in CHANGEABLE:
            return {"confirm_submission": None, **_cleared_for_change(value[len(CHANGE) + 1 :])}
        dispatcher.utter_message(response="utter_confirm_not_understood")
        return failed(tracker, "confirm_submission")


def _contact_values(phone: str | None, email: str | None) -> dict[str, Any]:
    """Slot values for checked contact details; ``contact_details`` is what the summary shows."""
    return {
        "contact_details": ", ".join(part for part in (phone, email) if part),
        "contact_phone": phone,
        "contact_email": email,
        "failed_attempts": 0.0,
    }


def contact_of(tracker: Tracker) -> tuple[dict[str, str | None] | None, str | None]:
    """The Open311 personal fields to file, re-checked: ``(fields, None)`` or ``(None, problem)``.

    Replies in this chat only files no personal field, whatever the other slots hold.
    """
    choice = tracker.get_slot("contact_choice")
    if choice == ANONYMOUS:
        return {}, None
    if choice != CONTACT:
        return None, "utter_contact_choice_not_understood"
    raw_phone, raw_email = tracker.get_slot("contact_phone"), tracker.get_slot("contact_email")
    phone, email = check_phone(raw_phone), check_email(raw_email)
    if (raw_phone is not None and phone is None) or (raw_email is not None and email is None):
        return None, "utter_contact_details_invalid"
    if phone is None and email is None:
        return None, "utter_contact_details_invalid"
    raw_name = tracker.get_slot("contact_name")
    name = None if raw_name in (None, NO_NAME) else check_name(raw_name)
    if raw_name not in (None, NO_NAME) and name is None:
        return None, "utter_contact_name_invalid"
    first, last = split_name(name) if name else (None, None)
    return {"phone": phone, "email": email, "first_name": first, "last_name": last}, None


def contact_skipped(step: str) -> list[EventType]:
    """Skipping a contact step: the name is left out; the others mean replies here only."""
    if step == "contact_name":
        return [SlotSet("contact_name", NO_NAME), SlotSet("failed_attempts", 0.0)]
    return [
        *cleared((*CONTACT_STEPS, "contact_phone", "contact_email")),
        SlotSet("contact_choice", ANONYMOUS),
        SlotSet("failed_attempts", 0.0),
    ]


def contact_back(tracker: Tracker, step: str) -> list[EventType]:
    """Going back from the summary or a contact step to the contact step before it.

    Empty when the step before is not a contact step (the contact question goes back to the
    photo or the place).
    """
    if step == "confirm_submission" and tracker.get_slot("contact_choice") == CONTACT:
        return [SlotSet("contact_name", None)]
    if step == "confirm_submission":
        return [SlotSet("contact_choice", None)]
    if step == "contact_name":
        return cleared(("contact_details", "contact_phone", "contact_email"))
    if step == "contact_details":
        return [SlotSet("contact_choice", None)]
    return []


def contact_summary(tracker: Tracker) -> str | None:
    """The contact details as the summary shows them (the citizen's own words), or None."""
    fields, _ = contact_of(tracker)
    if not fields:
        return None
    name = " ".join(part for part in (fields["first_name"], fields["last_name"]) if part)
    return ", ".join(part for part in (name, fields["phone"], fields["email"]) if part)


def _chosen_service(value: str | None, candidates: list[tuple[str, str]], page: int) -> str | None:
    if value is None:
        return None
    for code, name in candidates:
        if value == code or value.casefold() == name.casefold():
            return code
    shown = candidates[page * SERVICES_PER_PAGE : (page + 1) * SERVICES_PER_PAGE]
    if value.isdigit() and 1 <= int(value) <= len(shown):
        return shown[int(value) - 1][0]
    # A button from a "see others" page names a catalogue code; it is checked below.
    return value if re.fullmatch(r"[a-z0-9_]{2,64}", value) else None


async def _catalogue_groups() -> dict[str, list[tuple[str, str]]]:
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


def _picked(value: str, options: list[str]) -> str | None:
    """One of ``options`` named by ``value``: itself, its number in the list, or its name."""
    if value.isdigit() and 1 <= int(value) <= len(options):
        return options[int(value) - 1]
    return next((o for o in options if o.casefold() == value.casefold()), None)


async def _browsed(
    value: str | None, browse: str | None, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any] | None:
    """Slot values for an answer while browsing by topic, or None when it picks no topic.

    "Browse by topic" opens the list of groups; a group (button, number or name) opens its
    services; a service of the open group (number or name) is chosen. A service code from a
    button is left to the usual choice.
    """
    if value is None:
        return None
    try:
        groups = await _catalogue_groups()
    except BackOfficeUnavailable:
        dispatcher.utter_message(response="utter_backoffice_unavailable")
        return {"service_code": None, "service_browse": None}
    if value == BROWSE_TOPICS:
        return {"service_code": None, "service_browse": BROWSE_TOPICS, "failed_attempts": 0.0}
    names = list(groups)
    if value.startswith(GROUP_PREFIX) or browse == BROWSE_TOPICS:
        group = _picked(value.removeprefix(GROUP_PREFIX), names)
        if group is None:
            return None
        return {"service_code": None, "service_browse": GROUP_PREFIX + group}
    services = groups.get(str(browse).removeprefix(GROUP_PREFIX), [])
    by_name = {name: code for code, name in services}
    name = _picked(value, list(by_name))
    return await choose_service(by_name[name], dispatcher, tracker) if name else None


async def choose_service(
    code: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """Slot values for choosing ``code``: its name and required questions, from the catalogue."""
    client = get_open311_client()
    try:
        services = {s.service_code: s for s in await client.list_services()}
        service = services.get(code)
        if service is None:
            dispatcher.utter_message(response="utter_service_not_recognised")
            return failed(tracker, "service_code")
        definition = await client.get_service_definition(code) if service.metadata else None
        needs_photo = await client.needs_photo(code)
    except BackOfficeUnavailable:
        dispatcher.utter_message(response="utter_backoffice_unavailable")
        return {"service_code": None}
    questions = (
        [question_from_attribute(a) for a in definition.required_attributes] if definition else []
    )
    return {
        "service_code": code,
        "service_name": service.service_name,
        "service_questions": questions,
        "service_attributes": {},
        "service_needs_photo": needs_photo,
        "service_browse": None,
        "failed_attempts": 0.0,
    }


def _cleared_for_change(what: str) -> dict[str, Any]:
    if what == "service_code":
        return {
            "service_code": None,
            "service_name": None,
            "service_questions": [],
            "service_attributes": {},
            "service_needs_photo": None,
            "service_page": 0.0,
            "service_browse": None,
        }
    if what == "service_attributes":
        return {"service_attributes": {}}
    if what == "issue_location":
        return {"issue_location": None, "issue_coordinates": None}
    if what == "contact_choice":
        return {slot: None for slot in (*CONTACT_STEPS, "contact_phone", "contact_email")}
    return {what: None}


class _AskStep(AskStep):
    """The intake's ask actions: its step numbers and its simpler re-ask."""

    def step(self, tracker: Tracker) -> dict[str, int]:
        return {"step": step_number(tracker, self.slot), "total": total_steps(tracker)}

    def simpler_response(self) -> str:
        # Says so and offers the way out before asking again; skip is offered only where the
        # step may be skipped.
        return "utter_ask_simpler" if self.slot in SKIPPABLE_STEPS else "utter_ask_simpler_required"


class ActionAskIssueDescription(_AskStep, Action):
    slot = "issue_description"
    response = "utter_ask_issue_description"


class ActionAskServiceCode(_AskStep, Action):
    slot = "service_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        self.simpler_first(dispatcher, tracker)
        browse = tracker.get_slot("service_browse")
        if isinstance(browse, str) and await self._ask_browsing(dispatcher, tracker, browse):
            return []
        candidates = candidates_of(tracker)
        page = int(tracker.get_slot("service_page") or 0)
        shown = candidates[page * SERVICES_PER_PAGE : (page + 1) * SERVICES_PER_PAGE]
        if page > 0 and not shown:
            shown = await _catalogue_page(candidates, page)
        buttons = [{"title": name, "payload": choice_payload(code)} for code, name in shown]
        response = "utter_ask_service_code" if page == 0 else "utter_ask_service_code_more"
        dispatcher.utter_message(response=response, buttons=buttons, **self.step(tracker))
        dispatcher.utter_message(response="utter_service_code_other_options")
        return []

    async def _ask_browsing(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, browse: str
    ) -> bool:
        """Asks for a topic (the catalogue's groups) or one of the open topic's services.

        False when the catalogue cannot be read: the best matches are asked instead.
        """
        try:
            groups = await _catalogue_groups()
        except BackOfficeUnavailable:
            return False
        if browse == BROWSE_TOPICS:
            buttons = [
                {"title": group, "payload": choice_payload(GROUP_PREFIX + group)}
                for group in groups
            ]
            dispatcher.utter_message(
                response="utter_ask_service_group", buttons=buttons, **self.step(tracker)
            )
            dispatcher.utter_message(response="utter_service_group_other_options")
            return True
        group = browse.removeprefix(GROUP_PREFIX)
        if group not in groups:
            return False
        buttons = [{"title": name, "payload": choice_payload(code)} for code, name in groups[group]]
        dispatcher.utter_message(
            response="utter_ask_service_in_group",
            group=group,
            buttons=buttons,
            **self.step(tracker),
        )
        dispatcher.utter_message(response="utter_service_in_group_other_options")
        return True


async def _catalogue_page(candidates: list[tuple[str, str]], page: int) -> list[tuple[str, str]]:
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


class ActionAskAttributeAnswer(_AskStep, Action):
    slot = "attribute_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        pending = pending_questions(tracker)
        if not pending:
            return []
        self.simpler_first(dispatcher, tracker)
        question = pending[0]
        buttons = [
            {"title": name, "payload": choice_payload(key)} for key, name in choices(question)
        ]
        hint = question.get("hint")
        dispatcher.utter_message(
            response="utter_ask_attribute_answer_hint" if hint else "utter_ask_attribute_answer",
            question=question["question"],
            hint=hint or "",
            buttons=buttons,
            **self.step(tracker),
        )
        return []


class ActionAskIssueLocation(_AskStep, Action):
    slot = "issue_location"
    response = "utter_ask_issue_location"


class ActionAskIssuePhoto(_AskStep, Action):
    slot = "issue_photo"
    response = "utter_ask_issue_photo"


class ActionAskContactChoice(_AskStep, Action):
    slot = "contact_choice"
    response = "utter_ask_contact_choice"


class ActionAskContactDetails(_AskStep, Action):
    slot = "contact_details"
    response = "utter_ask_contact_details"


class ActionAskContactName(_AskStep, Action):
    slot = "contact_name"
    response = "utter_ask_contact_name"


# The summary, by (a photo is attached, the citizen may be contacted).
_SUMMARY = {
    (False, False): "utter_ask_confirm_submission",
    (True, False): "utter_ask_confirm_submission_with_photo",
    (False, True): "utter_ask_confirm_submission_with_contact",
    (True, True): "utter_ask_confirm_submission_with_photo_and_contact",
}


class ActionAskConfirmSubmission(_AskStep, Action):
    slot = "confirm_submission"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        self.simpler_first(dispatcher, tracker)
        answers = answers_of(tracker)
        details = " ".join(
            f"{q['question']} {display_answer(q, answers[q['code']])}."
            for q in questions_of(tracker)
            if q["code"] in answers
        )
        photo, _ = checked_photo(tracker.get_slot("issue_photo"))
        contact = contact_summary(tracker)
        dispatcher.utter_message(
            response=_SUMMARY[bool(photo), bool(contact)],
            contact=contact or "",
            service_name=tracker.get_slot("service_name") or "",
            issue_description=tracker.get_slot("issue_description") or "",
            issue_location=tracker.get_slot("issue_location") or "",
            details=f" {details}" if details else "",
            **self.step(tracker),
        )
        return []


class ActionSubmitComplaint(Action):
    """Files the confirmed request through the outbox and tells the citizen its reference.

    Re-validates every slot first (a crafted ``/intent{...}`` message can set slots around the
    form): description, location, confirmation, and the service and its answers against the
    catalogue. Sets ``service_request_id`` once filed and clears the form's slots.
    """

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        request, problem = await _checked_request(tracker)
        if request is None:
            if problem:
                dispatcher.utter_message(response=problem)
            return [*problem_events(problem, tracker), FollowupAction(FORM)]

        outbox = get_outbox()
        entry = outbox.enqueue(tracker.sender_id, request)
        entry = await outbox.deliver(entry.idempotency_key, get_open311_client())
        if entry.state == "rejected":
            dispatcher.utter_message(response="utter_complaint_rejected")
            return cleared_intake()
        if entry.state != "delivered":
            # Kept durably; the action server's relay retries, and the reference is given
            # the next time the citizen writes (see announce_delivered).
            dispatcher.utter_message(response="utter_submission_queued")
            return cleared_intake()
        outbox.mark_announced(entry.idempotency_key)
        dispatcher.utter_message(
            response="utter_complaint_filed",
            service_request_id=entry.service_request_id,
            service_name=tracker.get_slot("service_name") or request.service_code,
            service_notice=entry.service_notice or "",
        )
        dispatcher.utter_message(
            response="utter_what_happens_next", service_request_id=entry.service_request_id
        )
        return [
            *cleared_intake(),
            SlotSet("service_request_id", entry.service_request_id),
            SlotSet("ticket_reference", entry.service_request_id),
        ]


def problem_events(problem: str | None, tracker: Tracker) -> list[EventType]:
    """Empty the slots that failed re-validation, so the form asks them again."""
    if problem in ("utter_issue_description_too_short", "utter_issue_description_too_long"):
        return [SlotSet("issue_description", None)]
    if problem in (
        "utter_issue_location_too_short",
        "utter_issue_location_too_long",
        "utter_shared_location_invalid",
    ):
        return [SlotSet("issue_location", None), SlotSet("issue_coordinates", None)]
    if problem == "utter_photo_not_usable":
        return [SlotSet("issue_photo", None), SlotSet("confirm_submission", None)]
    if problem == "utter_service_not_recognised":
        return [SlotSet(slot, None) for slot in ("service_code", "service_name")] + [
            SlotSet("service_questions", []),
            SlotSet("service_attributes", {}),
        ]
    if problem == "utter_answer_not_a_choice":
        return [SlotSet("service_attributes", {})]
    if problem == "utter_contact_choice_not_understood":
        return [*cleared((*CONTACT_STEPS, "contact_phone", "contact_email", "confirm_submission"))]
    if problem == "utter_contact_details_invalid":
        return [
            *cleared(("contact_details", "contact_phone", "contact_email", "confirm_submission"))
        ]
    if problem == "utter_contact_name_invalid":
        return [*cleared(("contact_name", "confirm_submission"))]
    return [SlotSet("confirm_submission", None)]


async def _checked_request(tracker: Tracker) -> tuple[NewServiceRequest | None, str | None]:
    description, problem = check_description(tracker.get_slot("issue_description"))
    if description is None:
        return None, problem
    raw_coordinates = tracker.get_slot("issue_coordinates")
    coordinates = coordinates_slot(raw_coordinates)
    location: str | None = None
    if raw_coordinates is not None and coordinates is None:
        return None, "utter_shared_location_invalid"
    if coordinates is None:
        location, problem = check_location(tracker.get_slot("issue_location"))
        if location is None:
            return None, problem
    photo, photo_usable = checked_photo(tracker.get_slot("issue_photo"))
    if not photo_usable:
        return None, "utter_photo_not_usable"
    if tracker.get_slot("confirm_submission") != SUBMIT:
        return None, None
    contact, problem = contact_of(tracker)
    if contact is None:
        return None, problem
    code = tracker.get_slot("service_code")
    if not isinstance(code, str) or not code:
        return None, "utter_service_not_recognised"
    attributes, problem = await _checked_attributes(get_open311_client(), code, tracker)
    if attributes is None:
        return None, problem
    return (
        NewServiceRequest(
            service_code=code,
            description=description,
            # A shared place is filed as Open311 lat/long instead of an address.
            lat=coordinates[0] if coordinates else None,
            long=coordinates[1] if coordinates else None,
            address_string=location,
            attributes=attributes,
            media_url=photo,
            # Links the ticket to this chat, for "my tickets" and comments.
            account_id=citizen_identity(tracker),
            # Only staff handling the ticket see these; Open311's public reads never show them.
            first_name=contact.get("first_name"),
            last_name=contact.get("last_name"),
            phone=contact.get("phone"),
            email=contact.get("email"),
        ),
        None,
    )


async def _checked_attributes(
    client: Open311Api, code: str, tracker: Tracker
) -> tuple[dict[str, tuple[str, ...]] | None, str | None]:
    """The answers, re-checked against the service's current definition where reachable."""
    answers = answers_of(tracker)
    try:
        services = {s.service_code: s for s in await client.list_services()}
        if code not in services:
            return None, "utter_service_not_recognised"
        definition = await client.get_service_definition(code) if services[code].metadata else None
    except BackOfficeUnavailable:
        # Filing is queued; the back office validates again on delivery.
        return {key: tuple(values) for key, values in answers.items()}, None
    checked: dict[str, tuple[str, ...]] = {}
    for attribute in definition.attributes if definition else ():
        given = answers.get(attribute.code)
        if not given:
            if attribute.required and attribute.variable:
                return None, "utter_answer_not_a_choice"
            continue
        question = question_from_attribute(attribute)
        values: list[str] = []
        for value in given:
            parsed, _ = parse_answer(question, value)
            if parsed is None:
                return None, "utter_answer_not_a_choice"
            values.extend(parsed)
        checked[attribute.code] = tuple(values)
    return checked, None


class ActionCancelComplaint(CancelForm, Action):
    """Stops the intake and forgets its answers; nothing is sent."""

    response = "utter_complaint_cancelled"
    form_slots = INTAKE_SLOTS

    def name(self) -> str:
        return "action_cancel_complaint"


__all__ = [
    "ActionAskAttributeAnswer",
    "ActionAskConfirmSubmission",
    "ActionAskContactChoice",
    "ActionAskContactDetails",
    "ActionAskContactName",
    "ActionAskIssueDescription",
    "ActionAskIssueLocation",
    "ActionAskIssuePhoto",
    "ActionAskServiceCode",
    "ActionCancelComplaint",
    "ActionStartIntake",
    "ActionSubmitComplaint",
    "ValidateIntakeForm",
]
