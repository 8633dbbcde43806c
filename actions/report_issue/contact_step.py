"""The contact step: may staff contact the citizen, and how (one step, up to three messages).

The question itself asks for the details. Typed straight away ("Li Na, 13912345678") they
answer the whole step, and without a name in them no name is asked for. "Yes" asks for the
details and then a name; declining in plain words ("I'd rather not say",
"anonymous", "just reply here") means replies in this chat only, and no personal field is
filed.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_matching import declines, match_option
from actions.contact_details import (
    ContactDetails,
    check_email,
    check_name,
    check_phone,
    name_in,
    read_contact,
    split_name,
)
from actions.form_steps import clean_text, cleared, failed, latest_intent, tell_problem
from actions.report_issue.state import ANONYMOUS, CONTACT, CONTACT_STEPS, NO_NAME

# The contact question's options, with the words that mean them when typed.
# In the order of the question's buttons, so "1" or "the first one" is the first button.
CONTACT_OPTIONS = [
    (ANONYMOUS, "No, reply in this chat only"),
    (CONTACT, "Yes, you may contact me call phone email ring text"),
]


# Saying yes with a negative word in it: "I don't mind", "no problem".
_YES_PHRASES = re.compile(
    r"\b(?:(?:i )?(?:don'?t|do not) mind|no problem|not a problem|why not)\b", re.IGNORECASE
)


def anonymous() -> dict[str, Any]:
    """Slot values for replies in this chat only."""
    return {
        **{slot: None for slot in (*CONTACT_STEPS, "contact_phone", "contact_email")},
        "contact_choice": ANONYMOUS,
        "failed_attempts": 0.0,
    }


def contact_values(details: ContactDetails) -> dict[str, Any]:
    """Slot values for checked details; ``contact_details`` is what the summary shows."""
    values: dict[str, Any] = {
        "contact_choice": CONTACT,
        "contact_details": ", ".join(part for part in (details.phone, details.email) if part),
        "contact_phone": details.phone,
        "contact_email": details.email,
        "failed_attempts": 0.0,
    }
    if details.name:
        values["contact_name"] = details.name
    return values


def validate_contact_choice(
    value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    text = clean_text(value) or ""
    details = read_contact(text)
    if details is not None and details.usable:
        # The question invited a name with the details; typed without one, none is wanted.
        return {"contact_name": NO_NAME, **contact_values(details)}
    intent = latest_intent(tracker)
    if text == ANONYMOUS or intent == "deny":
        return anonymous()
    if text == CONTACT or intent == "affirm":
        return {"contact_choice": CONTACT, "failed_attempts": 0.0}
    found = match_option(text, CONTACT_OPTIONS)
    if declines(_YES_PHRASES.sub(" yes ", text)) or found.key == ANONYMOUS:
        return anonymous()
    if found.key == CONTACT:
        return {"contact_choice": CONTACT, "failed_attempts": 0.0}
    tell_problem(dispatcher, tracker, "utter_contact_choice_not_understood")
    return failed(tracker, "contact_choice")


def validate_contact_details(
    value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    details = read_contact(value)
    if details is not None and details.usable:
        return contact_values(details)
    text = clean_text(value) or ""
    if latest_intent(tracker) == "deny" or (details is not None and declines(text)):
        # "No, I'd rather not after all": replies here only, which the summary shows.
        return anonymous()
    tell_problem(dispatcher, tracker, "utter_contact_details_invalid")
    return failed(tracker, "contact_details", contact_phone=None, contact_email=None)


def validate_contact_name(
    value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    text = clean_text(value) or ""
    if text == NO_NAME or latest_intent(tracker) == "deny" or declines(text):
        return {"contact_name": NO_NAME, "failed_attempts": 0.0}
    name = name_in(text) or check_name(text)
    if name is None:
        tell_problem(dispatcher, tracker, "utter_contact_name_invalid")
        return failed(tracker, "contact_name")
    return {"contact_name": name, "failed_attempts": 0.0}


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
    return [SlotSet(slot, value) for slot, value in anonymous().items()]


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
