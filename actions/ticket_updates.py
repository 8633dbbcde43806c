"""News pushed by the back office: a status change, a staff comment, a person's reply.

The back office's outbox relay triggers the intent ``EXTERNAL_ticket_update`` through Rasa's
HTTP API with the entities ``service_request_id``, ``status``, ``kind`` (``status``,
``comment`` or ``handoff_reply``) and ``message``; its rule runs this action. Every entity is
checked here like anything else a message carries: the reference must look like one, the
status must be a known one, the message is cleaned and bounded.

Slots read: none. Slots set: ``ticket_reference`` (the ticket the news is about), so "rate
it" or "it's broken again" right after refers to it.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.follow_up import reference_in
from actions.form_steps import clean_text

# The back office's lifecycle, and what the citizen is told when a ticket moves to each.
STATUS_RESPONSES = {
    "new": "utter_ticket_update_new",
    "acknowledged": "utter_ticket_update_acknowledged",
    "in_progress": "utter_ticket_update_in_progress",
    "resolved": "utter_ticket_update_resolved",
    "closed": "utter_ticket_update_closed",
    "reopened": "utter_ticket_update_reopened",
    "rejected": "utter_ticket_update_rejected",
    "duplicate": "utter_ticket_update_duplicate",
}
STATUSES = tuple(STATUS_RESPONSES)
KINDS = ("status", "comment", "handoff_reply")
MAX_MESSAGE_CHARS = 4000


def pushed_entities(tracker: Tracker) -> dict[str, str]:
    """The pushed entities by name (the first of each), as text."""
    found: dict[str, str] = {}
    for entity in tracker.latest_message.get("entities") or []:
        if not isinstance(entity, dict):
            continue
        name, value = entity.get("entity"), entity.get("value")
        if isinstance(name, str) and isinstance(value, str) and name not in found:
            found[name] = value
    return found


class ActionAnnounceTicketUpdate(Action):
    """Tells the citizen what staff did or said, in the words of the domain's responses."""

    def name(self) -> str:
        return "action_announce_ticket_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        pushed = pushed_entities(tracker)
        reference = reference_in(pushed.get("service_request_id"))
        kind = pushed.get("kind")
        status = pushed.get("status")
        message = (clean_text(pushed.get("message")) or "")[:MAX_MESSAGE_CHARS]
        events: list[EventType] = [SlotSet("ticket_reference", reference)] if reference else []

        if kind == "handoff_reply":
            if message:
                dispatcher.utter_message(response="utter_handoff_reply", message=message)
            return events
        if reference is None:
            return []  # nothing a citizen could act on; the back office keeps the row
        if kind == "status" and status in STATUS_RESPONSES:
            dispatcher.utter_message(
                response=STATUS_RESPONSES[status], service_request_id=reference
            )
            if message:
                dispatcher.utter_message(response="utter_ticket_update_note", message=message)
            if status == "resolved":
                dispatcher.utter_message(
                    response="utter_offer_rating", service_request_id=reference
                )
            return events
        if kind == "comment" and message:
            dispatcher.utter_message(
                response="utter_ticket_update_comment",
                service_request_id=reference,
                message=message,
            )
            return events
        dispatcher.utter_message(response="utter_ticket_update_other", service_request_id=reference)
        return events
