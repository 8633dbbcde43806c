"""Ways out of and around any step of ``intake_form``: why, skip, back, a person.

Each action leaves the form active (the rules run ``intake_form`` again afterwards, which asks
the open step). "Restart" is Rasa's own ``action_restart`` (intent ``restart``), and "cancel" is
``action_cancel_complaint``.

Slots read: ``requested_slot`` and the intake's slots; slots set: the one step being undone.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dependencies import get_settings
from actions.report_issue import (
    PHOTO_SKIPPED,
    answers_of,
    choose_service,
    photo_step,
    questions_of,
)

_WHY = {
    "issue_description": "utter_why_issue_description",
    "service_code": "utter_why_service_code",
    "attribute_answer": "utter_why_attribute_answer",
    "issue_location": "utter_why_issue_location",
    "issue_photo": "utter_why_issue_photo",
    "confirm_submission": "utter_why_confirm_submission",
}


class ActionExplainStep(Action):
    """Says why the open step is asked (the form then asks it again)."""

    def name(self) -> str:
        return "action_explain_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        step = tracker.get_slot("requested_slot")
        dispatcher.utter_message(response=_WHY.get(str(step), "utter_why_general"))
        return []


class ActionSkipStep(Action):
    """Skips the open step where it may be skipped.

    The service choice can be skipped (the configured catch-all service is used), and so can
    the photo; the other steps are required by the city's system, so the citizen is told and
    offered a person.
    """

    def name(self) -> str:
        return "action_skip_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("requested_slot") == "service_code":
            chosen = await choose_service(get_settings().fallback_service_code, dispatcher, tracker)
            if chosen.get("service_code"):
                dispatcher.utter_message(response="utter_step_skipped")
            return [SlotSet(slot, value) for slot, value in chosen.items()]
        if tracker.get_slot("requested_slot") == "issue_photo":
            dispatcher.utter_message(response="utter_step_skipped")
            return [SlotSet("issue_photo", PHOTO_SKIPPED), SlotSet("failed_attempts", 0.0)]
        dispatcher.utter_message(response="utter_step_required")
        return []


class ActionGoBack(Action):
    """Empties the step before the open one, so the form asks it again."""

    def name(self) -> str:
        return "action_go_back"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        step = tracker.get_slot("requested_slot")
        answers = answers_of(tracker)
        answered = [q["code"] for q in questions_of(tracker) if q["code"] in answers]
        events: list[EventType]
        if step in ("attribute_answer", "issue_location") and answered:
            del answers[answered[-1]]
            events = [SlotSet("service_attributes", answers)]
        elif step in ("attribute_answer", "issue_location"):
            events = [
                SlotSet("service_code", None),
                SlotSet("service_name", None),
                SlotSet("service_questions", []),
                SlotSet("service_attributes", {}),
                SlotSet("service_needs_photo", None),
            ]
        elif step == "service_code":
            events = [SlotSet("issue_description", None)]
        elif step == "confirm_submission" and photo_step(tracker):
            events = [SlotSet("issue_photo", None)]
        elif step in ("confirm_submission", "issue_photo"):
            events = [SlotSet("issue_location", None), SlotSet("issue_coordinates", None)]
        else:
            dispatcher.utter_message(response="utter_nothing_to_go_back_to")
            return []
        dispatcher.utter_message(response="utter_going_back")
        return [*events, SlotSet("failed_attempts", 0.0)]


class ActionHandOff(Action):
    """Points the citizen to a person; the answers so far are kept."""

    def name(self) -> str:
        return "action_hand_off"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff")
        return []
