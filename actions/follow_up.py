"""Following up a ticket: its status, "my tickets", adding information and photos.

The reference comes from the message (``CD-7K2M9Q``, in any case) or else from the ticket this
conversation last talked about. Status uses plain Open311 (``GET requests/{id}``), so any
reference works; "my tickets" and adding information use the back office's citizen endpoints
for this chat's identity (``channel:sender_id``, the ``account_id`` tickets are filed with).
Withdrawing, reopening and rating go through ``follow_up_form`` (actions/follow_up_form.py).

A photo sent outside the intake while the conversation is about a ticket goes on that ticket
(``action_add_photo``): channels have uploaded it already, so only its ``media_id`` is sent.

Information added with no ticket known is kept in ``follow_up_comment`` while the citizen is
asked which ticket (this chat's latest as buttons, or typed); the answer posts it.

Slots read: ``ticket_reference``, ``follow_up_photo``, ``follow_up_comment``. Slots set:
``ticket_reference`` (only to a reference the back office confirmed exists, or the citizen
picked or typed for a photo), ``follow_up_photo`` (a photo waiting for the citizen to say which
ticket it is for), ``follow_up_comment`` (information waiting for the same answer).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.citizen_identity import citizen_identity
from actions.dependencies import Open311Api, get_open311_client, get_outbox
from actions.form_steps import choice_payload, clean_text, latest_intent
from actions.open311_client import (
    BackOfficeUnavailable,
    CitizenTicket,
    ExtensionUnavailable,
    RequestRejected,
    TicketNotFound,
)
from actions.report_issue import allowed_media_bases, announce_delivered, says_what_is_wrong
from actions.report_issue.opening import says_a_matter
from actions.shared_media import check_media_url, media_id_of, shared_photo

REFERENCE = re.compile(r"\b(cd)-?([a-z0-9]{6})\b", re.IGNORECASE)
_RATING = re.compile(r"\b([1-5])\b(?:\s*(?:/\s*5|out of 5|stars?))?")
_RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# Words that ask to add to a ticket, as opposed to an "also" inside a new story.
# A message that speaks of a ticket already filed: "my complaint", "the request", a reference.
NAMES_A_TICKET = re.compile(
    r"\b(my|the|that|this) (ticket|complaint|report|request|application)\b|\breference\b",
    re.IGNORECASE,
)
_ADDING = re.compile(
    r"\badd(s|ed|ing)?\b|forgot|mention|more (information|info|details)|another (photo|picture)"
    r"|" + NAMES_A_TICKET.pattern,
    re.IGNORECASE,
)
MAX_TICKETS_LISTED = 5
STATUS_RESPONSES = {"open": "utter_ticket_status_open", "closed": "utter_ticket_status_closed"}
PHOTO_TICKET_BUTTONS = 3
# What became of a photo kept while the back office was down.
_PHOTO_OUTCOMES = {
    "done": "utter_photo_added",
    "refused": "utter_photo_refused",
    "not_found": "utter_ticket_not_from_this_chat",
}


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
        announce_kept_photos(dispatcher, tracker)
        events = await self._answer(dispatcher, tracker)
        keeps_comment = any(
            event.get("event") == "slot" and event.get("name") == "follow_up_comment"
            for event in events
        )
        if tracker.get_slot("follow_up_comment") is not None and not keeps_comment:
            # Posted, or the citizen moved on to a different request.
            events.append(SlotSet("follow_up_comment", None))
        return events

    async def _answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        intent = latest_intent(tracker)
        text = clean_text(tracker.latest_message.get("text")) or ""
        said = picked_reference(tracker) or reference_entity(tracker)
        remembered = reference_in(tracker.get_slot("ticket_reference"))
        client = get_open311_client()
        asked = _last_action_was(tracker, "action_follow_up_ticket")
        # Only right after "which ticket?" is the kept information this message's business.
        kept = clean_text(tracker.get_slot("follow_up_comment")) if asked else None

        pending = check_media_url(tracker.get_slot("follow_up_photo"), allowed_media_bases())
        if (
            pending is not None
            and said is not None
            and _last_action_was(tracker, "action_add_photo")
        ):
            # The answer to "which ticket is this photo for?", typed instead of picked.
            return await attach_photo(dispatcher, tracker, said, pending)
        if kept is not None:
            if said is not None:
                return await self._add_comment(dispatcher, tracker, said, kept, kept=True)
            if intent == "add_information":
                # More words before the ticket is named: keep them all.
                return await self._ask_ticket_for(dispatcher, tracker, f"{kept}\n{text}")
            if intent == "check_status":
                # "Which ones are mine?": the list, then the question still stands.
                events = await self._list_tickets(dispatcher, tracker, client)
                return [*events, SlotSet("follow_up_comment", kept)]
        if intent in ("nlu_fallback", "choose_option") and said is None:
            # Words after a status or "which ticket?" that name no ticket: as anywhere.
            dispatcher.utter_message(response="utter_please_rephrase")
            return [SlotSet("follow_up_comment", kept)] if kept is not None else []
        if intent == "check_status" and said is None:
            return await self._list_tickets(dispatcher, tracker, client)
        reference = said or remembered
        if reference is None:
            if (
                intent == "add_information"
                and text
                and not shared_photo(tracker, allowed_media_bases())[0]
            ):
                return await self._ask_ticket_for(dispatcher, tracker, text)
            dispatcher.utter_message(response="utter_ask_reference")
            return []
        if intent == "add_information":
            return await self._add_comment(dispatcher, tracker, reference, text)
        return await self._tell_status(dispatcher, reference, remembered)

    @staticmethod
    async def _ask_ticket_for(
        dispatcher: CollectingDispatcher, tracker: Tracker, comment: str
    ) -> list[EventType]:
        """Keep ``comment`` and ask which ticket it is for.

        With no ticket from this chat and none talked about, a message that says what is
        wrong without asking to add to something is a new matter that happens to say "also"
        or "update": it starts the intake (whose catalogue search reads it), instead of
        asking for a reference the citizen does not have.
        """
        buttons = await ticket_buttons(tracker)
        text = clean_text(tracker.latest_message.get("text")) or ""
        if (
            not buttons
            and reference_in(tracker.get_slot("ticket_reference")) is None
            and says_what_is_wrong(text)
            and not _ADDING.search(text)
        ):
            dispatcher.utter_message(response="utter_comment_taken_as_new_request")
            return [SlotSet("follow_up_comment", None), FollowupAction("action_start_intake")]
        dispatcher.utter_message(
            response="utter_ask_comment_ticket_pick" if buttons else "utter_ask_comment_ticket",
            buttons=buttons,
        )
        return [SlotSet("follow_up_comment", comment)]

    async def _tell_status(
        self, dispatcher: CollectingDispatcher, reference: str, remembered: str | None
    ) -> list[EventType]:
        client = get_open311_client()
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
        dispatcher.utter_message(
            response=STATUS_RESPONSES[ticket.status],
            service_request_id=reference,
            service_name=ticket.service_name,
            status_notes=ticket.status_notes or "",
        )
        return [SlotSet("ticket_reference", reference)]

    async def _add_comment(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        reference: str,
        text: str,
        *,
        kept: bool = False,
    ) -> list[EventType]:
        """Put ``text`` (with the latest message's photo, if any) on ``reference``.

        ``kept``: ``text`` is the information kept while asking which ticket; if it cannot go on
        ``reference`` it stays kept, so another reference typed next still posts it.
        """
        client = get_open311_client()
        remembered = reference_in(tracker.get_slot("ticket_reference"))
        still_kept: list[EventType] = [SlotSet("follow_up_comment", text)] if kept else []
        try:
            await client.get_request(reference)
        except TicketNotFound:
            dispatcher.utter_message(
                response="utter_ticket_not_found", service_request_id=reference
            )
            forget = [SlotSet("ticket_reference", None)] if reference == remembered else []
            return [*forget, *still_kept]
        except (BackOfficeUnavailable, RequestRejected):
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return still_kept
        events: list[EventType] = [SlotSet("ticket_reference", reference)]
        try:
            identity = citizen_identity(tracker)
            if identity is None:
                raise ExtensionUnavailable("no citizen identity for this conversation")
            # A photo with a caption arrives with the caption's intent: keep both together.
            photo, _ = shared_photo(tracker, allowed_media_bases())
            media_id = media_id_of(photo) if photo else None
            if media_id is not None:
                await client.add_photo(identity, reference, media_id, text or None)
            else:
                await client.add_comment(identity, reference, text)
        except TicketNotFound:
            # It exists (checked above) but was not filed from this chat.
            dispatcher.utter_message(
                response="utter_ticket_not_from_this_chat", service_request_id=reference
            )
            return [*events, *still_kept]
        except (ExtensionUnavailable, RequestRejected):
            dispatcher.utter_message(
                response="utter_follow_up_not_supported", service_request_id=reference
            )
            return events
        except BackOfficeUnavailable:
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return [*events, *still_kept]
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
            return _no_tickets(dispatcher, tracker)
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
            return _no_tickets(dispatcher, tracker)
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


def announce_kept_photos(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Tell what became of photos kept while the back office was down (each once)."""
    for kept in get_outbox().take_unannounced_photos(tracker.sender_id):
        dispatcher.utter_message(
            response=_PHOTO_OUTCOMES.get(str(kept.outcome), "utter_photo_refused"),
            service_request_id=kept.service_request_id,
        )


class ActionAnnounceKeptPhotos(Action):
    """After the relay pushed this conversation: what became of its kept photos.

    Reads and sets no slots.
    """

    def name(self) -> str:
        return "action_announce_kept_photos"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        announce_kept_photos(dispatcher, tracker)
        return []


async def attach_photo(
    dispatcher: CollectingDispatcher, tracker: Tracker, reference: str, photo: str
) -> list[EventType]:
    """Put ``photo`` (a checked ``media_url``) on ``reference`` and say how it went.

    Back office down: kept in the outbox, its outcome told once it is sent.
    """
    events: list[EventType] = [
        SlotSet("follow_up_photo", None),
        SlotSet("ticket_reference", reference),
    ]
    media_id = media_id_of(photo)
    identity = citizen_identity(tracker)
    if media_id is None or identity is None:
        dispatcher.utter_message(
            response="utter_follow_up_not_supported", service_request_id=reference
        )
        return events
    try:
        await get_open311_client().add_photo(identity, reference, media_id)
    except TicketNotFound:
        dispatcher.utter_message(
            response="utter_ticket_not_from_this_chat", service_request_id=reference
        )
        return [SlotSet("follow_up_photo", None)]
    except ExtensionUnavailable:
        dispatcher.utter_message(
            response="utter_follow_up_not_supported", service_request_id=reference
        )
    except RequestRejected:
        dispatcher.utter_message(response="utter_photo_refused", service_request_id=reference)
    except BackOfficeUnavailable:
        # Nothing the citizen sent is lost: the relay sends it and the outcome is told.
        get_outbox().enqueue_move(
            tracker.sender_id, identity, "photo", reference, {"media_id": media_id}
        )
        dispatcher.utter_message(response="utter_photo_queued", service_request_id=reference)
    else:
        dispatcher.utter_message(response="utter_photo_added", service_request_id=reference)
    return events


class ActionAddPhoto(Action):
    """Puts a photo sent outside the intake on the ticket the conversation is about.

    The photo is the latest message's (``shared_photo``, re-validated) or, after the citizen
    picked a ticket for it, the one kept in ``follow_up_photo``. The ticket is the one picked
    with a button or typed now, else ``ticket_reference``; with none, the citizen is asked
    which, with this chat's latest tickets as buttons. Back office down: the photo is kept in
    the outbox and its outcome told once it is sent.

    Slots read: ``ticket_reference``, ``follow_up_photo``. Slots set: both.
    """

    def name(self) -> str:
        return "action_add_photo"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await announce_delivered(dispatcher, tracker)
        announce_kept_photos(dispatcher, tracker)
        bases = allowed_media_bases()
        photo, problem = shared_photo(tracker, bases)
        if problem is not None:
            dispatcher.utter_message(response=problem)
            return []
        if photo is None:
            photo = check_media_url(tracker.get_slot("follow_up_photo"), bases)
        picked = picked_reference(tracker)
        reference = picked or reference_in(tracker.get_slot("ticket_reference"))
        if photo is None:
            # A ticket picked or named, but the photo is still to come.
            if picked is None:
                # Words the NLU could not place, after a photo was dealt with: as anywhere.
                unclear = latest_intent(tracker) == "nlu_fallback"
                dispatcher.utter_message(
                    response="utter_please_rephrase" if unclear else "utter_ask_photo"
                )
                return []
            dispatcher.utter_message(
                response="utter_ask_photo_for_ticket", service_request_id=picked
            )
            return [SlotSet("ticket_reference", picked)]
        if reference is None:
            await self._ask_ticket(dispatcher, tracker)
            return [SlotSet("follow_up_photo", photo)]
        return await attach_photo(dispatcher, tracker, reference, photo)

    @staticmethod
    async def _ask_ticket(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        buttons = await ticket_buttons(tracker)
        dispatcher.utter_message(
            response="utter_ask_photo_ticket_pick" if buttons else "utter_ask_photo_ticket",
            buttons=buttons,
        )


def picked_reference(tracker: Tracker) -> str | None:
    """A ticket chosen with a button, or typed, in the latest message."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "choice":
            return reference_in(entity.get("value"))
    return reference_in(clean_text(tracker.latest_message.get("text"))) or reference_entity(tracker)


async def ticket_buttons(tracker: Tracker) -> list[dict[str, str]]:
    """This chat's latest tickets as buttons; none when the back office cannot list them."""
    tickets: list[CitizenTicket] = []
    identity = citizen_identity(tracker)
    if identity is not None:
        try:
            tickets = await get_open311_client().list_citizen_tickets(
                identity, limit=PHOTO_TICKET_BUTTONS
            )
        except (BackOfficeUnavailable, ExtensionUnavailable, RequestRejected):
            tickets = []  # the question still works typed
    return [
        {
            "title": f"{ticket.service_request_id} {ticket.service_name}",
            "payload": choice_payload(ticket.service_request_id),
        }
        for ticket in tickets
        if reference_in(ticket.service_request_id)
    ][:PHOTO_TICKET_BUTTONS]


def _last_action_was(tracker: Tracker, action: str) -> bool:
    """Whether the bot's last action before this message was ``action``."""
    seen_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_message:
                return False
            seen_message = True
        elif seen_message and event.get("event") == "action":
            name = event.get("name")
            if name not in ("action_listen", None):
                return bool(name == action)
    return False


def _no_tickets(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """No ticket from this chat: a message that says what a matter is about ("my residents
    parking permit still shows the old reg, need it updated before I get a ticket") is a new
    request, not a question about tickets; anything else hears there are none."""
    text = clean_text(tracker.latest_message.get("text")) or ""
    if not text.startswith("/") and says_a_matter(text):
        dispatcher.utter_message(response="utter_comment_taken_as_new_request")
        return [FollowupAction("action_start_intake")]
    dispatcher.utter_message(response="utter_no_tickets")
    return []
