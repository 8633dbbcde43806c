"""Filing the confirmed intake through the outbox, after re-checking every slot.

A crafted ``/intent{...}`` message can set slots around the form, so the submission checks
them all again (description, place, photo, contact, the service and its answers against the
catalogue) and sends the form back to a step whose slot fails.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.attribute_answers import parse_answer, question_from_attribute
from actions.catalogue_language import catalogue_locale
from actions.citizen_identity import citizen_identity
from actions.dependencies import Open311Api, get_open311_client, get_outbox
from actions.form_steps import CancelForm, cleared
from actions.open311_client import BackOfficeUnavailable
from actions.points import offer_points
from actions.report_issue.contact_step import contact_of
from actions.report_issue.opening import (
    allowed_media_bases,
    check_description,
    check_location,
    says_a_matter,
)
from actions.report_issue.state import (
    CONTACT_STEPS,
    FORM,
    INTAKE_SLOTS,
    PHOTO_SKIPPED,
    SUBMIT,
    answers_of,
    cleared_intake,
    needs_location,
)
from actions.shared_media import check_media_url, coordinates_slot
from open311_schema import NewServiceRequest


def checked_photo(value: Any) -> tuple[str | None, bool]:
    """The ``issue_photo`` slot re-validated: ``(media_url or None, whether it is usable)``."""
    if value is None or value == PHOTO_SKIPPED:
        return None, True
    url = check_media_url(value, allowed_media_bases())
    return url, url is not None


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
        entry = outbox.enqueue(tracker.sender_id, request, locale=catalogue_locale.get())
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
        # Offered after the reference is known; ignoring it changes nothing (actions/points.py).
        offer = offer_points(dispatcher, tracker, entry.service_request_id)
        return [
            *cleared_intake(),
            SlotSet("service_request_id", entry.service_request_id),
            SlotSet("ticket_reference", entry.service_request_id),
            *offer,
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
    raw_location = tracker.get_slot("issue_location")
    if coordinates is None and (needs_location(tracker) or raw_location is not None):
        # A place the citizen named is filed even where the service needs none.
        location, problem = check_location(raw_location)
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
    """Stops the intake and forgets its answers; nothing is sent.

    With nothing going on, a "cancel" that says what a matter is about ("we don't need the
    garden waste bin any more, can you stop it and stop charging me") is a request to stop a
    service: it starts the intake instead of cancelling nothing.
    """

    response = "utter_complaint_cancelled"
    form_slots = INTAKE_SLOTS

    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        if not tracker.active_loop_name and not text.startswith("/") and says_a_matter(text):
            return [FollowupAction("action_start_intake")]
        return await super().run(dispatcher, tracker, domain)
