"""Filing a complaint: the ``complaint_form`` validator, submission and cancellation.

Slots read: ``issue_description``, ``issue_location``.
Slots set: ``service_request_id`` (after filing); the form's slots are cleared once filed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dependencies import Open311Api, get_open311_client, get_settings
from actions.open311_client import BackOfficeUnavailable, RequestRejected
from actions.service_matching import find_service, rank_services
from open311_schema import MAX_DESCRIPTION_CHARS, NewServiceRequest, Service

logger = logging.getLogger(__name__)

MIN_DESCRIPTION_CHARS = 5
MIN_LOCATION_CHARS = 3
MAX_LOCATION_CHARS = 500

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \t]+")


def clean_text(value: Any) -> str | None:
    """Normalise what a citizen typed; anything that is not text counts as no answer."""
    if not isinstance(value, str):
        return None
    text = _SPACES.sub(" ", _CONTROL_CHARACTERS.sub("", value)).strip()
    return text or None


def check_description(value: Any) -> tuple[str | None, str | None]:
    """Return ``(clean value, None)`` or ``(None, response key explaining the problem)``."""
    text = clean_text(value)
    if text is None or len(text) < MIN_DESCRIPTION_CHARS:
        return None, "utter_issue_description_too_short"
    if len(text) > MAX_DESCRIPTION_CHARS:
        return None, "utter_issue_description_too_long"
    return text, None


def check_location(value: Any) -> tuple[str | None, str | None]:
    """Return ``(clean value, None)`` or ``(None, response key explaining the problem)``."""
    text = clean_text(value)
    if text is None or len(text) < MIN_LOCATION_CHARS:
        return None, "utter_issue_location_too_short"
    if len(text) > MAX_LOCATION_CHARS:
        return None, "utter_issue_location_too_long"
    return text, None


class ValidateComplaintForm(FormValidationAction):
    """Checks each answer of ``complaint_form`` as it is given and re-asks plainly."""

    def name(self) -> str:
        return "validate_complaint_form"

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
        return {"issue_description": text}

    async def validate_issue_location(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text, problem = check_location(slot_value)
        if problem:
            dispatcher.utter_message(response=problem)
        return {"issue_location": text}


class ActionSubmitComplaint(Action):
    """Files the completed complaint with the back office and tells the citizen its reference.

    Re-validates both slots (a crafted ``/intent{...}`` message can bypass the form), picks the
    catalogue entry that fits the description, and posts an Open311 service request.
    """

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        description, description_problem = check_description(tracker.get_slot("issue_description"))
        location, location_problem = check_location(tracker.get_slot("issue_location"))
        if description is None or location is None:
            dispatcher.utter_message(response=description_problem or location_problem)
            return [
                SlotSet("issue_description", description),
                SlotSet("issue_location", location),
                FollowupAction("complaint_form"),
            ]

        client = get_open311_client()
        try:
            service = await _choose_service(client, description)
            created = await client.create_request(
                NewServiceRequest(
                    service_code=service.service_code,
                    description=description,
                    address_string=location,
                )
            )
        except BackOfficeUnavailable:
            # The answers stay in the slots, so asking again re-submits without re-typing.
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return []
        except RequestRejected as error:
            logger.error("back office rejected a complaint: %s", [e.code for e in error.errors])
            dispatcher.utter_message(response="utter_complaint_rejected")
            return []

        dispatcher.utter_message(
            response="utter_complaint_filed",
            service_request_id=created.service_request_id,
            service_name=service.service_name,
            service_notice=created.service_notice or "",
        )
        return [
            SlotSet("service_request_id", created.service_request_id),
            SlotSet("issue_description", None),
            SlotSet("issue_location", None),
        ]


async def _choose_service(client: Open311Api, description: str) -> Service:
    """The best-ranked service this form can file without further questions.

    The skeleton form asks only description and location, so a service whose definition has
    required attributes is passed over; the conversation issue asks those attributes instead.
    """
    services = await client.list_services()
    for service in rank_services(description, services)[:3]:
        if not service.metadata:
            return service
        definition = await client.get_service_definition(service.service_code)
        if not definition.required_attributes:
            return service
    fallback = find_service(services, get_settings().fallback_service_code)
    if fallback is None:
        raise BackOfficeUnavailable("the catalogue has no fallback service")
    return fallback


class ActionCancelComplaint(Action):
    """Stops the complaint form and forgets its answers; nothing is sent."""

    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_complaint_cancelled")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("issue_description", None),
            SlotSet("issue_location", None),
        ]
