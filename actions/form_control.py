"""Ways out of and around any step of ``intake_form``: why, skip, back, a person.

The same actions serve ``follow_up_form`` (withdraw, reopen, rate). Each action leaves the
form active (the rules run the form again afterwards, which asks the open step). "Restart" is
Rasa's own ``action_restart`` (intent ``restart``), and "cancel" is ``action_cancel_complaint``
(``action_cancel_follow_up`` in a follow-up).

Slots read: ``requested_slot`` and the intake's slots; slots set: the one step being undone.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timezone

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answer_matching import means_not_known
from actions.attribute_answers import choices
from actions.citizen_identity import citizen_identity
from actions.dependencies import get_open311_client, get_outbox, get_settings
from actions.follow_up import reference_in
from actions.form_steps import clean_text, failures
from actions.open311_client import (
    MAX_HANDOFF_CHARS,
    BackOfficeUnavailable,
    ExtensionUnavailable,
    RequestRejected,
    TicketNotFound,
)
from actions.outbox import file_handoff
from actions.report_issue.contact_step import contact_back, contact_skipped
from actions.report_issue.service_step import choose_service
from actions.report_issue.state import (
    CONTACT_STEPS,
    PHOTO_SKIPPED,
    SKIPPABLE_STEPS,
    answers_of,
    needs_location,
    needs_photo,
    pending_questions,
    questions_of,
)

logger = logging.getLogger(__name__)

# Enough to say what the citizen asked without sending the whole conversation.
HANDOFF_MESSAGES = 3

_WHY = {
    "issue_description": "utter_why_issue_description",
    "service_code": "utter_why_service_code",
    "attribute_answer": "utter_why_attribute_answer",
    "issue_location": "utter_why_issue_location",
    "issue_photo": "utter_why_issue_photo",
    "contact_choice": "utter_why_contact_choice",
    "contact_details": "utter_why_contact_details",
    "contact_name": "utter_why_contact_name",
    "confirm_submission": "utter_why_confirm_submission",
    "follow_up_reference": "utter_why_follow_up_reference",
    "follow_up_confirm": "utter_why_follow_up_confirm",
    "follow_up_reason": "utter_why_follow_up_reason",
    "follow_up_rating": "utter_why_follow_up_rating",
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


def _required(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """A step that cannot be skipped: said so, in other words each time, and counted as a
    failed answer, so the step itself is asked the other way too (form_steps.retrying) and no
    message comes three times in a row."""
    count = failures(tracker)
    again = "utter_step_required_again" if count % 2 else "utter_step_required"
    dispatcher.utter_message(response=again)
    return [SlotSet("failed_attempts", count + 1.0)]


class ActionSkipStep(Action):
    """Skips the open step where it may be skipped.

    The service choice can be skipped (the configured catch-all service is used), and so can
    the photo and the contact steps (replies in this chat only; no name); a service's question
    that offers "I do not know" takes it; the other steps are required by the city's system, so
    the citizen is told and offered a person.
    """

    def name(self) -> str:
        return "action_skip_step"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        step = tracker.get_slot("requested_slot")
        if step == "attribute_answer":
            return self._not_known(dispatcher, tracker)
        if step not in SKIPPABLE_STEPS:
            return _required(dispatcher, tracker)
        if step == "service_code":
            chosen = await choose_service(get_settings().fallback_service_code, dispatcher, tracker)
            if chosen.get("service_code"):
                dispatcher.utter_message(response="utter_step_skipped")
            return [SlotSet(slot, value) for slot, value in chosen.items()]
        dispatcher.utter_message(response="utter_step_skipped")
        if step in CONTACT_STEPS:
            return contact_skipped(str(step))
        return [SlotSet("issue_photo", PHOTO_SKIPPED), SlotSet("failed_attempts", 0.0)]

    @staticmethod
    def _not_known(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """ "I don't know" to a question that offers it as an option takes that option; the
        service's questions are otherwise required."""
        pending = pending_questions(tracker)
        option = (
            next(
                ((key, name) for key, name in choices(pending[0]) if means_not_known(key, name)),
                None,
            )
            if pending
            else None
        )
        if option is None:
            return _required(dispatcher, tracker)
        dispatcher.utter_message(response="utter_answer_taken", answer=option[1])
        answers = {**answers_of(tracker), pending[0]["code"]: [option[0]]}
        return [
            SlotSet("service_attributes", answers),
            SlotSet("attribute_answer", None),
            SlotSet("failed_attempts", 0.0),
        ]


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
        events: list[EventType] = contact_back(tracker, str(step))
        # The steps that come after the service's questions go back to them when the
        # service asks for no place (or, from the contact step, no photo either).
        after_questions: tuple[str, ...] = ("attribute_answer", "issue_location")
        if not needs_location(tracker):
            after_questions += ("issue_photo",)
            if not needs_photo(tracker):
                after_questions += ("contact_choice",)
        if events:
            pass  # the step before a contact step or the summary
        elif step in after_questions and answered:
            del answers[answered[-1]]
            events = [SlotSet("service_attributes", answers)]
        elif step in after_questions:
            events = [
                SlotSet("service_code", None),
                SlotSet("service_name", None),
                SlotSet("service_questions", []),
                SlotSet("service_attributes", {}),
                SlotSet("service_needs_photo", None),
                SlotSet("service_needs_location", None),
                SlotSet("service_prompts", None),
            ]
        elif step == "service_code":
            events = [SlotSet("issue_description", None)]
        elif step in ("follow_up_confirm", "follow_up_reason", "follow_up_rating"):
            events = [SlotSet("follow_up_reference", None)]
        elif step == "contact_choice" and needs_photo(tracker):
            events = [SlotSet("issue_photo", None)]
        elif step in ("contact_choice", "issue_photo"):
            events = [SlotSet("issue_location", None), SlotSet("issue_coordinates", None)]
        else:
            dispatcher.utter_message(response="utter_nothing_to_go_back_to")
            return []
        dispatcher.utter_message(response="utter_going_back")
        return [*events, SlotSet("failed_attempts", 0.0)]


class ActionHandOff(Action):
    """Files a request for a person (a handoff) with what the citizen asked; answers are kept.

    The handoff carries the citizen's last few typed messages (button payloads left out) and
    the ticket this conversation is about, if any. The back office answers with the
    department and when a person will reply, here in this chat (through the push of
    ``EXTERNAL_ticket_update``). If the back office cannot be reached the handoff is kept in
    the outbox and sent by the relay; without an identity or on a server without handoffs,
    the citizen gets the service centre's number. Reads ``ticket_reference`` and
    ``active_loop``; sets no slots (an intake's answers stay, so the form can resume).
    """

    def name(self) -> str:
        return "action_hand_off"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await self._hand_off(dispatcher, tracker)
        if (tracker.active_loop or {}).get("name"):
            dispatcher.utter_message(response="utter_handoff_answers_kept")
        return []

    async def _hand_off(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        identity = citizen_identity(tracker)
        message = handoff_message(tracker)
        if identity is None or message is None:
            dispatcher.utter_message(response="utter_handoff")
            return
        reference = reference_in(tracker.get_slot("ticket_reference"))
        # One key for this request's every try: a first try that timed out after the back
        # office took it and the relay's later tries make one handoff.
        key = uuid.uuid4().hex
        try:
            handoff = await file_handoff(get_open311_client(), identity, message, reference, key)
        except BackOfficeUnavailable:
            get_outbox().enqueue_handoff(tracker.sender_id, identity, message, reference, key)
            logger.info("handoff kept for the relay: back office unreachable")
            dispatcher.utter_message(response="utter_handoff_queued")
        except (ExtensionUnavailable, RequestRejected, TicketNotFound, ValueError):
            dispatcher.utter_message(response="utter_handoff")
        else:
            dispatcher.utter_message(
                response="utter_handoff_filed",
                department=handoff.department,
                expected_response=handoff.expected_response.astimezone(timezone.utc).strftime(
                    "%Y-%m-%d %H:%M UTC"
                ),
                expected_response_hours=handoff.expected_response_hours,
            )


def handoff_message(tracker: Tracker) -> str | None:
    """What the citizen asked: their last few typed messages, oldest first, within the limit.

    Button payloads are left out; an intake's description is added when the messages no
    longer hold it (it may have been typed many turns ago).
    """
    said: list[str] = []
    for event in reversed(tracker.events):
        if event.get("event") == "session_started" and said:
            break
        if event.get("event") != "user":
            continue
        text = clean_text(event.get("text"))
        if text and not text.startswith("/"):
            said.append(text)
        if len(said) == HANDOFF_MESSAGES:
            break
    # Inside an intake, the problem as described, if it is not among those messages.
    description = clean_text(tracker.get_slot("issue_description"))
    if description and description not in said:
        said.append(description)
    if not said:
        return None
    return "\n".join(reversed(said))[-MAX_HANDOFF_CHARS:]
