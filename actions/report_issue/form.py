"""``validate_intake_form``: which steps the intake has, and each answer checked.

The steps, from the chosen service's definition: what it is about, which service, each
required question, the place (when the service needs one), a photo (when it asks for one),
the contact step, and the summary. Every answer may come as a button or in words; a
failed answer is re-asked with what was not understood (``form_steps.tell_problem``).
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answer_matching import declines, match_option
from actions.attribute_answers import (
    answers_in,
    choices,
    not_a_choice,
    parse_answer,
    partly_chosen,
)
from actions.dependencies import get_settings
from actions.form_steps import clean_text, failed, failures, latest_intent, tell_problem
from actions.open311_client import BackOfficeUnavailable
from actions.report_issue import contact_step
from actions.report_issue.opening import (
    allowed_media_bases,
    check_description,
    check_location,
    location_in,
)
from actions.report_issue.service_step import search_results, validate_service
from actions.report_issue.state import (
    ALL_DONE,
    CHANGE,
    CHANGEABLE,
    CONTACT,
    CONTACT_STEPS,
    PHOTO_SKIPPED,
    SUBMIT,
    adding_to,
    answers_of,
    choice_entity,
    needs_location,
    needs_photo,
    pending_questions,
)
from actions.shared_media import (
    coordinates_slot,
    display_coordinates,
    shared_location,
    shared_photo,
)
from open311_schema import MAX_DESCRIPTION_CHARS

# The summary's options, with the words that mean them when typed.
_CONFIRM_OPTIONS = [
    (SUBMIT, "Send it yes correct right fine good go ahead submit"),
    (CHANGE, "Change something wrong fix edit mistake"),
]


# "That's all" in words, after the options of "choose all that apply" were offered again.
_ENOUGH = re.compile(
    r"^\W*(no\b\W*)?(no|nope|nothing( else)?|none|done|finished|"
    r"that'?s (all|it|everything)|no more|"
    r"(no,? )?that'?s all( thanks?)?|that is all|nothing more|"
    # The same in Chinese: 就这些, 没有了, 没别的了, 够了, 就这样吧.
    r"(好的?|嗯|对)?\W*(就这些|就这样|就这么多|就这几(个|样)|没有?了|没有?别的了?|没有?其他的?了?|"
    r"没有?其它的?了?|够了|不用了|不要了|完了|没啦|就(是)?这些)(了|吧|啦|啊|呀)*)"
    r"\W*(thanks?|thank you|谢谢)?\W*$",
    re.IGNORECASE,
)


def typed(tracker: Tracker) -> bool:
    """Whether the latest answer was written in words rather than pressed as a button."""
    text = tracker.latest_message.get("text")
    return not (isinstance(text, str) and text.startswith("/"))


def cleared_for_change(what: str) -> dict[str, Any]:
    """Slot values that empty one part of the request, so the form asks it again."""
    if what == "service_code":
        return {
            "service_code": None,
            "service_name": None,
            "service_questions": [],
            "service_attributes": {},
            "service_needs_photo": None,
            "service_needs_location": None,
            "service_prompts": None,
            "service_page": 0.0,
            "service_browse": None,
        }
    if what == "service_attributes":
        return {"service_attributes": {}, "attribute_adding": None}
    if what == "issue_location":
        return {"issue_location": None, "issue_coordinates": None}
    if what == "contact_choice":
        return {slot: None for slot in (*CONTACT_STEPS, "contact_phone", "contact_email")}
    return {what: None}


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
        choice = choice_entity(tracker)
        if not isinstance(choice, str) or not choice.startswith(f"{CHANGE}_"):
            return []
        what = choice[len(CHANGE) + 1 :]
        if what not in CHANGEABLE:
            return []
        open_step = {step: None} if isinstance(step, str) else {}
        values = {**open_step, **cleared_for_change(what), "failed_attempts": 0.0}
        return [SlotSet(slot, value) for slot, value in values.items()]

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
        if needs_location(tracker):
            slots.append("issue_location")
        if needs_photo(tracker) and tracker.get_slot("issue_photo") is None:
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
            tell_problem(dispatcher, tracker, problem, max_chars=MAX_DESCRIPTION_CHARS)
            return failed(tracker, "issue_description")
        result: dict[str, Any] = {"issue_description": text, "failed_attempts": 0.0}
        if tracker.get_slot("service_code"):
            return result  # a corrected description keeps the service already chosen
        if tracker.get_slot("issue_location") is None and tracker.get_slot("requested_slot"):
            # Described when asked: the place it names is kept as at the opening.
            location = location_in(tracker.latest_message)
            if location is not None:
                result["issue_location"] = location
        try:
            found = await search_results(str(text))
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
        if not found["service_candidates"]:
            dispatcher.utter_message(response="utter_no_service_found")
        return {**result, **found}

    async def validate_service_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return await validate_service(clean_text(slot_value), typed(tracker), dispatcher, tracker)

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
        question = pending[0]
        code = question["code"]
        so_far = answers_of(tracker).get(code, []) if adding_to(tracker) == code else []
        if so_far and (slot_value == ALL_DONE or _ENOUGH.match(str(slot_value or ""))):
            return {"attribute_answer": None, "attribute_adding": None, "failed_attempts": 0.0}
        name = tracker.get_slot("service_name")
        service_name = name if isinstance(name, str) else ""
        values, problem = parse_answer(question, slot_value, service_name=service_name)
        partly, not_understood = partly_chosen(question, slot_value, service_name)
        if values is None and partly:
            # Some parts named options: those are kept, and the others are offered again.
            dispatcher.utter_message(
                response="utter_answer_partly_understood", words=not_understood
            )
            chosen = list(dict.fromkeys([*so_far, *partly]))
            return {
                "attribute_answer": None,
                "service_attributes": {**answers_of(tracker), code: chosen},
                "attribute_adding": code,
                "failed_attempts": 0.0,
            }
        if values is None:
            if problem == "utter_answer_not_a_choice":
                problem, details = not_a_choice(question, slot_value)
                tell_problem(dispatcher, tracker, problem, **details)
            else:
                tell_problem(dispatcher, tracker, str(problem))
            return failed(tracker, "attribute_answer")
        chosen = list(dict.fromkeys([*so_far, *values]))
        answers = {**answers_of(tracker), code: chosen}
        if question["datatype"] == "multivaluelist" and not typed(tracker):
            # A button names one option of "choose all that apply": the others are offered
            # again, with "That's all", until none is left.
            more = any(key not in chosen for key, _ in choices(question))
            return {
                "attribute_answer": None,
                "service_attributes": answers,
                "attribute_adding": code if more else None,
                "failed_attempts": 0.0,
            }
        if typed(tracker) and isinstance(slot_value, str):
            # The same words may answer a question still to come ("overflowing, by the bus
            # stop"): taken only when they clearly do.
            later = [q for q in pending[1:] if q["code"] not in answers]
            answers.update(answers_in(slot_value, later, service_name=service_name))
        # The slot is emptied again so the next question can be asked with the same slot.
        closed = {"attribute_adding": None} if so_far else {}
        return {
            "attribute_answer": None,
            "service_attributes": answers,
            **closed,
            "failed_attempts": 0.0,
        }

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
            tell_problem(dispatcher, tracker, problem)
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
        if latest_intent(tracker) == "deny" or declines(clean_text(slot_value) or ""):
            return {"issue_photo": PHOTO_SKIPPED, "failed_attempts": 0.0}
        tell_problem(dispatcher, tracker, "utter_photo_expected")
        return failed(tracker, "issue_photo")

    async def validate_contact_choice(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return contact_step.validate_contact_choice(slot_value, dispatcher, tracker)

    async def validate_contact_details(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return contact_step.validate_contact_details(slot_value, dispatcher, tracker)

    async def validate_contact_name(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return contact_step.validate_contact_name(slot_value, dispatcher, tracker)

    async def validate_confirm_submission(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        value = clean_text(slot_value)
        if value and typed(tracker) and value not in (SUBMIT, CHANGE):
            value = match_option(value, _CONFIRM_OPTIONS).key or value
        if value == SUBMIT:
            return {"confirm_submission": SUBMIT, "failed_attempts": 0.0}
        if value == CHANGE:
            dispatcher.utter_message(response="utter_ask_what_to_change")
            return {"confirm_submission": None}
        if value and value.startswith(f"{CHANGE}_") and value[len(CHANGE) + 1 :] in CHANGEABLE:
            return {"confirm_submission": None, **cleared_for_change(value[len(CHANGE) + 1 :])}
        tell_problem(dispatcher, tracker, "utter_confirm_not_understood")
        return failed(tracker, "confirm_submission")
