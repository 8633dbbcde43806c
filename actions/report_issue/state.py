"""The intake's slots: their names, the values with a meaning of their own, and readers.

Every reader re-checks what it reads: a crafted ``/intent{...}`` message can put anything in
a slot, so a slot is never trusted to hold the shape the form wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType

from actions.attribute_answers import Question, is_question
from actions.form_steps import cleared

FORM = "intake_form"
SERVICES_PER_PAGE = 3
MAX_CANDIDATES = 8

# Whether staff may contact the citizen; the details and the name only when they may.
CONTACT_STEPS = ("contact_choice", "contact_details", "contact_name")
# The optional steps: the service (the catch-all is used), the photo and the contact steps
# (replies in this chat only; no name). The others are needed to file.
SKIPPABLE_STEPS = ("service_code", "issue_photo", *CONTACT_STEPS)

# `service_code` answers that are moves, not services.
MORE_SERVICES = "more"
NO_SERVICE_FITS = "none"
BROWSE_TOPICS = "topics"
BEST_MATCHES = "matches"
GROUP_PREFIX = "group:"
# `confirm_submission` values, and what a "change ..." button may empty.
SUBMIT = "submit"
# The button that closes "choose all that apply" after one option or more was tapped.
ALL_DONE = "_all_done"
CHANGE = "change"
CHANGEABLE = (
    "issue_description",
    "service_code",
    "service_attributes",
    "issue_location",
    "contact_choice",
)
# `contact_choice` values: replies in this chat only (no personal field is filed), or contact.
ANONYMOUS = "anonymous"
CONTACT = "contact"
# `contact_name` when the citizen gave none (not a valid name, so never taken for one).
NO_NAME = "no_name"
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
    "attribute_adding",
    "attribute_answer",
    "issue_location",
    "issue_coordinates",
    "issue_photo",
    "service_needs_photo",
    "service_needs_location",
    "service_prompts",
    "service_browse",
    *CONTACT_STEPS,
    "contact_phone",
    "contact_email",
    "confirm_submission",
    "failed_attempts",
    "intake_kind",
)


def cleared_intake() -> list[EventType]:
    return cleared(INTAKE_SLOTS)


def questions_of(tracker: Tracker) -> list[Question]:
    """The chosen service's questions (its required Open311 attributes), in order."""
    raw = tracker.get_slot("service_questions")
    return [q for q in raw if is_question(q)] if isinstance(raw, list) else []


def answers_of(tracker: Tracker) -> dict[str, list[str]]:
    """The answers given so far, by attribute code."""
    raw = tracker.get_slot("service_attributes")
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(code): [str(v) for v in values]
        for code, values in raw.items()
        if isinstance(values, list) and all(isinstance(v, str) for v in values)
    }


def adding_to(tracker: Tracker) -> str | None:
    """The "choose all that apply" question that takes one more tapped option, if any."""
    code = tracker.get_slot("attribute_adding")
    return code if isinstance(code, str) and code in answers_of(tracker) else None


def pending_questions(tracker: Tracker) -> list[Question]:
    """The questions still open, in order: unanswered, or taking more options."""
    answered = answers_of(tracker)
    adding = adding_to(tracker)
    return [q for q in questions_of(tracker) if q["code"] not in answered or q["code"] == adding]


def candidates_of(tracker: Tracker) -> list[tuple[str, str]]:
    """The services the search offered, as ``(code, name)``, best first."""
    raw = tracker.get_slot("service_candidates")
    if not isinstance(raw, list):
        return []
    return [
        (str(item[0]), str(item[1])) for item in raw if isinstance(item, list) and len(item) == 2
    ]


def shown_candidates(tracker: Tracker) -> list[tuple[str, str]]:
    """The services on the page of matches the citizen is looking at."""
    page = service_page(tracker)
    return candidates_of(tracker)[page * SERVICES_PER_PAGE : (page + 1) * SERVICES_PER_PAGE]


def service_page(tracker: Tracker) -> int:
    value = tracker.get_slot("service_page")
    return int(value) if isinstance(value, (int, float)) and value >= 0 else 0


def needs_photo(tracker: Tracker) -> bool:
    """Whether the chosen service asks for a photo (a step of its own)."""
    return tracker.get_slot("service_needs_photo") is True


def needs_location(tracker: Tracker) -> bool:
    """Whether the chosen service asks for a place; until one is chosen (or if the catalogue
    could not say), it is taken to, as plain Open311 requires a location."""
    return tracker.get_slot("service_needs_location") is not False


def prompt_of(tracker: Tracker, step: str) -> str | None:
    """The chosen service's own wording of the place or photo question, if it has one."""
    raw = tracker.get_slot("service_prompts")
    value = raw.get(step) if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) and value.strip() else None


def choice_entity(tracker: Tracker) -> Any:
    """The ``choice`` entity of the latest message (a button's payload), if any."""
    return next(
        (
            entity.get("value")
            for entity in tracker.latest_message.get("entities") or []
            if entity.get("entity") == "choice"
        ),
        None,
    )
