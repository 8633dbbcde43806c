"""Following up a ticket: its status, "my tickets", and adding information.

The reference comes from the message (``CD-7K2M9Q``, in any case) or else from the ticket this
conversation last talked about. Status uses plain Open311 (``GET requests/{id}``), so any
reference works; "my tickets" and adding information use the back office's citizen endpoints
for this chat's identity (``channel:sender_id``, the ``account_id`` tickets are filed with).
Withdrawing, reopening and rating go through ``follow_up_form`` (actions/follow_up_form.py).

Slots read: ``ticket_reference``. Slots set: ``ticket_reference`` (only to a reference the
back office confirmed exists).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.citizen_identity import citizen_identity
from actions.dependencies import Open311Api, get_open311_client, get_outbox
from actions.form_steps import clean_text, latest_intent
from actions.open311_client import (
    BackOfficeUnavailable,
    CitizenTicket,
    ExtensionUnavailable,
    RequestRejected,
    TicketNotFound,
)
from actions.report_issue import announce_delivered

REFERENCE = re.compile(r"\b(cd)-?([a-z0-9]{6})\b", re.IGNORECASE)
_RATING = re.compile(r"\b([1-5])\b(?:\s*(?:/\s*5|out of 5|stars?))?")
_RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
MAX_TICKETS_LISTED = 5
STATUS_RESPONSES = {"open": "utter_ticket_status_open", "closed": "utter_ticket_status_closed"}


def reference_in(text: Any) -> str | None:
    """The first ticket reference in ``text``, normalised to ``CD-XXXXXX``."""
    if not isinstance(text, str):
        return None
    found = REFERENCE.search(text)
    return f"CD-{found.group(2).upper()}" if found else None


def reference_entity(tracker: Tracker) -> str | None:
    """The reference the NLU found in the latest message (its first ``reference`` entity)."""
    return next(
        (
            reference_in(entity.get("value"))
            for entity in tracker.latest_message.get("entities") or []
            if entity.get("entity") == "reference"
        ),
        None,
    )


def rating_in(text: Any) -> int | None:
    """A 1-5 rating stated in ``text`` ("4 stars", "3 out of 5", "five")."""
    if not isinstance(text, str):
        return None
    without_reference = REFERENCE.sub(" ", text.casefold())
    found = _RATING.search(without_reference)
    if found:
        return int(found.group(1))
    for word, value in _RATING_WORDS.items():
        if re.search(rf"\b{word}\b", without_reference):
            return value
    return None


class ActionFollowUpTicket(Action):
    """Handles check_status and add_information (withdraw, reopen, rating: ``follow_up_form``)."""

    def name(self) -> str:
        return "action_follow_up_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await announce_delivered(dispatcher, tracker)
        intent = latest_intent(tracker)
        text = clean_text(tracker.latest_message.get("text")) or ""
        said = reference_in(text) or reference_entity(tracker)
        remembered = reference_in(tracker.get_slot("ticket_reference"))
        client = get_open311_client()

        if intent == "check_status" and said is None:
            return await self._list_tickets(dispatcher, tracker, client)
        reference = said or remembered
        if reference is None:
            dispatcher.utter_message(response="utter_ask_reference")
            return []
        try:
            ticket = await client.get_request(reference)
        except TicketNotFound:
            dispatcher.utter_message(
                response="utter_ticket_not_found", service_request_id=reference
            )
            return [SlotSet("ticket_reference", None)] if reference == remembered else []
        except (BackOfficeUnavailable, RequestRejected):
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return []
        events: list[EventType] = [SlotSet("ticket_reference", reference)]

        if intent != "add_information":
            dispatcher.utter_message(
                response=STATUS_RESPONSES[ticket.status],
                service_request_id=reference,
                service_name=ticket.service_name,
                status_notes=ticket.status_notes or "",
            )
            return events
        try:
            identity = citizen_identity(tracker)
            if identity is None:
                raise ExtensionUnavailable("no citizen identity for this conversation")
            await client.add_comment(identity, reference, text)
        except TicketNotFound:
            # It exists (checked above) but was not filed from this chat.
            dispatcher.utter_message(
                response="utter_ticket_not_from_this_chat", service_request_id=reference
            )
            return events
        except (ExtensionUnavailable, RequestRejected):
            dispatcher.utter_message(
                response="utter_follow_up_not_supported", service_request_id=reference
            )
            return events
        except BackOfficeUnavailable:
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return events
        dispatcher.utter_message(response="utter_follow_up_done", service_request_id=reference)
        return events

    async def _list_tickets(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: Open311Api
    ) -> list[EventType]:
        identity = citizen_identity(tracker)
        if identity is not None:
            try:
                tickets = await client.list_citizen_tickets(identity, limit=MAX_TICKETS_LISTED)
            except (ExtensionUnavailable, BackOfficeUnavailable):
                pass  # this chat's outbox still knows its references
            else:
                return self._say_tickets(dispatcher, tracker, tickets)
        return await self._list_outbox_tickets(dispatcher, tracker, client)

    def _say_tickets(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, tickets: list[CitizenTicket]
    ) -> list[EventType]:
        """The back office's list of this citizen's tickets, after any still being sent."""
        pending = [
            entry
            for entry in get_outbox().entries_for(tracker.sender_id)
            if entry.state in ("pending", "sending")
        ]
        if not pending and not tickets:
            dispatcher.utter_message(response="utter_no_tickets")
            return []
        dispatcher.utter_message(response="utter_my_tickets_header")
        for entry in pending[-MAX_TICKETS_LISTED:]:
            received = datetime.fromtimestamp(entry.created_at, timezone.utc)
            dispatcher.utter_message(
                response="utter_ticket_pending",
                received_at=received.strftime("%Y-%m-%d %H:%M UTC"),
            )
        shown = tickets[: max(MAX_TICKETS_LISTED - len(pending), 1)]
        for ticket in shown:
            dispatcher.utter_message(
                response=STATUS_RESPONSES.get(ticket.open311_status, "utter_ticket_status_open"),
                service_request_id=ticket.service_request_id,
                service_name=ticket.service_name,
                status_notes=ticket.status_notes or "",
            )
        newest = reference_in(shown[0].service_request_id) if shown else None
        return [SlotSet("ticket_reference", newest)] if newest else []

    async def _list_outbox_tickets(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: Open311Api
    ) -> list[EventType]:
        """Without the citizen endpoint: this chat's outbox rows and their live status."""
        entries = get_outbox().entries_for(tracker.sender_id)[-MAX_TICKETS_LISTED:]
        if not entries:
            dispatcher.utter_message(response="utter_no_tickets")
            return []
        dispatcher.utter_message(response="utter_my_tickets_header")
        last_reference = None
        for entry in entries:
            if entry.state in ("pending", "sending"):
                received = datetime.fromtimestamp(entry.created_at, timezone.utc)
                dispatcher.utter_message(
                    response="utter_ticket_pending",
                    received_at=received.strftime("%Y-%m-%d %H:%M UTC"),
                )
                continue
            if entry.state != "delivered" or not entry.service_request_id:
                continue
            last_reference = entry.service_request_id
            try:
                ticket = await client.get_request(entry.service_request_id)
            except (TicketNotFound, BackOfficeUnavailable, RequestRejected):
                dispatcher.utter_message(
                    response="utter_ticket_reference_only",
                    service_request_id=entry.service_request_id,
                )
                continue
            dispatcher.utter_message(
                response=STATUS_RESPONSES[ticket.status],
                service_request_id=entry.service_request_id,
                service_name=ticket.service_name,
                status_notes=ticket.status_notes or "",
            )
        return [SlotSet("ticket_reference", last_reference)] if last_reference else []
