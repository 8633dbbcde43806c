"""Withdrawing, reopening and rating a ticket: ``follow_up_form``.

``action_start_follow_up`` notes what the citizen wants (``withdraw_ticket``,
``reopen_ticket``, ``rate_resolution``) and whatever the message already says: the reference
(or the ticket this conversation last talked about), a reason, a rating. The form asks only
what is missing, in two steps: which ticket, then the confirmation (withdraw, buttons), the
reason (reopen) or the rating (1 to 5, buttons). ``action_submit_follow_up`` then sends it
through the back office's citizen endpoints for this chat's identity.

Slots read and set: ``follow_up_kind``, ``follow_up_reference``, ``follow_up_confirm``,
``follow_up_reason``, ``follow_up_rating``, ``failed_attempts``; ``ticket_reference`` once the
back office confirmed the ticket exists.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answer_matching import match_option
from actions.catalogue_language import button_title
from actions.citizen_identity import citizen_identity
from actions.dependencies import get_open311_client, get_outbox
from actions.follow_up import (
    NAMES_A_TICKET,
    rating_in,
    reference_entity,
    reference_in,
    ticket_buttons,
)
from actions.form_steps import (
    AskStep,
    CancelForm,
    choice_payload,
    clean_text,
    cleared,
    failed,
    latest_intent,
    tell_problem,
)
from actions.open311_client import (
    MAX_REASON_CHARS,
    BackOfficeError,
    BackOfficeUnavailable,
    CitizenTicket,
    ExtensionUnavailable,
    RequestRejected,
    TicketNotFound,
    TransitionRefused,
)
from actions.outbox import Move
from actions.report_issue import MOVE_DONE, says_what_is_wrong
from actions.service_matching import words

FORM = "follow_up_form"
WITHDRAW: Move = "withdraw"
REOPEN: Move = "reopen"
RATE: Move = "rate"
KINDS: dict[str, Move] = {
    "withdraw_ticket": WITHDRAW,
    "reopen_ticket": REOPEN,
    "rate_resolution": RATE,
}
YES = "yes"
NO = "no"
STEPS = 2
MIN_REASON_CHARS = 3
TICKET_BUTTONS = 3

FOLLOW_UP_SLOTS = (
    "follow_up_kind",
    "follow_up_reference",
    "follow_up_confirm",
    "follow_up_reason",
    "follow_up_rating",
    "failed_attempts",
)
# The second step of each kind.
_DETAIL_SLOT = {WITHDRAW: "follow_up_confirm", REOPEN: "follow_up_reason", RATE: "follow_up_rating"}
# Open311's public status says whether a move can be allowed at all; the back office decides.
_ALLOWED_WHEN = {WITHDRAW: "open", REOPEN: "closed", RATE: "closed"}
_NOT_ALLOWED = {
    WITHDRAW: "utter_withdraw_not_allowed",
    REOPEN: "utter_reopen_not_allowed",
    RATE: "utter_rating_not_allowed",
}
# Words that only say "reopen/withdraw my ticket"; anything beyond them is a reason.
_REQUEST_WORDS = frozenset(
    words(
        "reopen re-open open again withdraw cancel close delete remove retract take back "
        "scrap forget ticket tickets complaint report case request application issue "
        "please want would like can could you my it this that the a i"
    )
)


def reason_in(text: Any) -> str | None:
    """The message as a reason, when it says more than "reopen/withdraw my ticket"."""
    clean = clean_text(text)
    if clean is None or clean.startswith("/"):
        return None
    without_reference = clean_text(_strip_reference(clean))
    if not without_reference or not words(without_reference) - _REQUEST_WORDS:
        return None
    return clean[:MAX_REASON_CHARS]


def _strip_reference(text: str) -> str:
    reference = reference_in(text)
    if reference is None:
        return text
    for form in (reference, reference.replace("-", "")):
        text = text.replace(form, " ").replace(form.lower(), " ")
    return text


def follow_up_kind(tracker: Tracker) -> Move | None:
    kind = tracker.get_slot("follow_up_kind")
    return next((known for known in (WITHDRAW, REOPEN, RATE) if known == kind), None)


def step_of(tracker: Tracker, slot: str) -> dict[str, int]:
    return {"step": 1 if slot == "follow_up_reference" else 2, "total": STEPS}


def cleared_follow_up() -> list[EventType]:
    return cleared(FOLLOW_UP_SLOTS)


class ActionStartFollowUp(Action):
    """Notes what the citizen wants done to which ticket, from the message that asked."""

    def name(self) -> str:
        return "action_start_follow_up"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind = KINDS.get(str(latest_intent(tracker)))
        events = cleared_follow_up()
        if kind is None:
            return events
        text = tracker.latest_message.get("text")
        reference = (
            reference_in(text)
            or reference_entity(tracker)
            or reference_in(tracker.get_slot("ticket_reference"))
        )
        if not reference and kind != RATE and await _a_new_matter(tracker, str(text or "")):
            dispatcher.utter_message(response="utter_comment_taken_as_new_request")
            return [*events, FollowupAction("action_start_intake")]
        events.append(SlotSet("follow_up_kind", kind))
        if reference:
            # Validated (does it exist, can it be changed) when the form starts.
            events.append(SlotSet("follow_up_reference", reference))
        if kind == REOPEN and reason_in(text):
            events.append(SlotSet("follow_up_reason", reason_in(text)))
        if kind == RATE and rating_in(text) is not None:
            events.append(SlotSet("follow_up_rating", str(rating_in(text))))
        return events


async def _a_new_matter(tracker: Tracker, text: str) -> bool:
    """A "withdraw" or "reopen" that is a new request: no ticket from this chat, none named,
    and the message says what it is about ("cancel my garden waste collection, I don't need
    it any more" is the service that stops a collection, not a ticket to withdraw)."""
    if NAMES_A_TICKET.search(text) or not says_what_is_wrong(text):
        return False
    return not await ticket_buttons(tracker)


class ValidateFollowUpForm(FormValidationAction):
    """Checks the ticket and the answer of ``follow_up_form``."""

    def name(self) -> str:
        return "validate_follow_up_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        kind = follow_up_kind(tracker)
        if kind is None:
            return []
        return ["follow_up_reference", _DETAIL_SLOT[kind]]

    async def validate_follow_up_reference(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        reference = reference_in(slot_value)
        if reference is None:
            tell_problem(dispatcher, tracker, "utter_reference_not_understood")
            return failed(tracker, "follow_up_reference")
        try:
            ticket = await get_open311_client().get_request(reference)
        except TicketNotFound:
            dispatcher.utter_message(
                response="utter_ticket_not_found", service_request_id=reference
            )
            return failed(tracker, "follow_up_reference")
        except BackOfficeUnavailable:
            # Taken as given: the move is kept and sent when the back office answers, which
            # then checks the ticket (and the citizen hears the outcome).
            return {"follow_up_reference": reference, "failed_attempts": 0.0}
        except RequestRejected:
            dispatcher.utter_message(response="utter_backoffice_unavailable")
            return {"follow_up_kind": None, "follow_up_reference": None}
        kind = follow_up_kind(tracker)
        if kind is not None and ticket.status != _ALLOWED_WHEN[kind]:
            # Said now, so the citizen is not asked a reason or a rating for nothing.
            dispatcher.utter_message(response=_NOT_ALLOWED[kind], service_request_id=reference)
            return {
                "follow_up_kind": None,
                "follow_up_reference": None,
                "ticket_reference": reference,
            }
        return {
            "follow_up_reference": reference,
            "ticket_reference": reference,
            "failed_attempts": 0.0,
        }

    async def validate_follow_up_confirm(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        value = slot_value
        if isinstance(value, str) and value not in (YES, NO):
            value = match_option(value, _CONFIRM_OPTIONS).key
        if value in (YES, NO):
            return {"follow_up_confirm": value, "failed_attempts": 0.0}
        tell_problem(dispatcher, tracker, "utter_withdraw_confirm_not_understood")
        return failed(tracker, "follow_up_confirm")

    async def validate_follow_up_reason(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = clean_text(slot_value)
        # A bare "yes"/"no" or a button payload says nothing about what is wrong.
        bare = latest_intent(tracker) in ("affirm", "deny")
        if bare or text is None or len(text) < MIN_REASON_CHARS or text.startswith("/"):
            tell_problem(dispatcher, tracker, "utter_reopen_reason_too_short")
            return failed(tracker, "follow_up_reason")
        return {"follow_up_reason": text[:MAX_REASON_CHARS], "failed_attempts": 0.0}

    async def validate_follow_up_rating(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        rating = rating_in(str(slot_value)) if slot_value is not None else None
        if rating is None:
            tell_problem(dispatcher, tracker, "utter_rating_not_understood")
            return failed(tracker, "follow_up_rating")
        return {"follow_up_rating": str(rating), "failed_attempts": 0.0}


class _AskFollowUp(AskStep):
    """The follow-up's ask actions: two steps, each question names the ticket."""

    def step(self, tracker: Tracker) -> dict[str, int]:
        return step_of(tracker, self.slot)

    def simpler_response(self) -> str:
        return "utter_ask_simpler_follow_up"

    def details(self, tracker: Tracker) -> dict[str, Any]:
        return {"service_request_id": tracker.get_slot("follow_up_reference") or ""}


class ActionAskFollowUpReference(_AskFollowUp, Action):
    """Asks which ticket, with this chat's latest tickets as buttons where the back office has
    them, so nobody has to find and type a reference."""

    slot = "follow_up_reference"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        options = [
            (ticket.service_request_id, f"{ticket.service_request_id} {ticket.service_name}")
            for ticket in await _own_tickets(tracker)
        ]
        if self.ask_again(dispatcher, tracker, options):
            return []
        buttons = [{"title": title, "payload": choice_payload(key)} for key, title in options]
        dispatcher.utter_message(
            response="utter_ask_follow_up_reference_pick"
            if buttons
            else "utter_ask_follow_up_reference",
            buttons=buttons,
            **self.step(tracker),
        )
        return []


async def _own_tickets(tracker: Tracker) -> list[CitizenTicket]:
    identity = citizen_identity(tracker)
    if identity is None:
        return []
    try:
        tickets = await get_open311_client().list_citizen_tickets(identity, limit=TICKET_BUTTONS)
    except BackOfficeError:
        return []  # the question still works typed
    return [t for t in tickets if reference_in(t.service_request_id)][:TICKET_BUTTONS]


class ActionAskFollowUpConfirm(_AskFollowUp, Action):
    slot = "follow_up_confirm"
    response = "utter_ask_follow_up_confirm"

    def options(self, tracker: Tracker) -> list[tuple[str, str]]:
        return [(YES, button_title("withdraw_yes")), (NO, button_title("withdraw_no"))]


# The withdrawal's options, with the words that mean them when typed.
_CONFIRM_OPTIONS = [(YES, "Yes, withdraw it stop cancel"), (NO, "No, keep it open")]


class ActionAskFollowUpReason(_AskFollowUp, Action):
    slot = "follow_up_reason"
    response = "utter_ask_follow_up_reason"


class ActionAskFollowUpRating(_AskFollowUp, Action):
    slot = "follow_up_rating"
    response = "utter_ask_follow_up_rating"

    def details(self, tracker: Tracker) -> dict[str, Any]:
        # The scale is numbers, the same in every language; the question is a response key.
        buttons = [{"title": str(n), "payload": choice_payload(str(n))} for n in range(1, 6)]
        return {**super().details(tracker), "buttons": buttons}


class ActionSubmitFollowUp(Action):
    """Sends the completed follow-up to the back office and says how it went.

    Re-checks every slot first: a crafted ``/intent{...}`` message can set slots around the
    form. Clears the form's slots afterwards.
    """

    def name(self) -> str:
        return "action_submit_follow_up"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind = follow_up_kind(tracker)
        reference = reference_in(tracker.get_slot("follow_up_reference"))
        if kind is None or reference is None:
            return cleared_follow_up()  # already answered (not allowed, unknown ticket)
        if kind == WITHDRAW and tracker.get_slot("follow_up_confirm") != YES:
            dispatcher.utter_message(response="utter_withdraw_kept", service_request_id=reference)
            return cleared_follow_up()
        identity = citizen_identity(tracker)
        client = get_open311_client()
        detail: str | int | None = None
        if kind == WITHDRAW:
            detail = _withdraw_reason(tracker)
        elif kind == REOPEN:
            reason = clean_text(tracker.get_slot("follow_up_reason"))
            if reason is None:
                return [SlotSet("follow_up_reason", None)]
            detail = reason[:MAX_REASON_CHARS]
        else:
            detail = rating_in(tracker.get_slot("follow_up_rating"))
            if detail is None:
                return [SlotSet("follow_up_rating", None)]
        if identity is None:
            dispatcher.utter_message(
                response="utter_follow_up_not_supported", service_request_id=reference
            )
            return cleared_follow_up()
        try:
            if kind == WITHDRAW:
                await client.withdraw_request(
                    identity, reference, detail if isinstance(detail, str) else None
                )
            elif kind == REOPEN:
                await client.reopen_request(identity, reference, str(detail))
            else:
                await client.rate_request(identity, reference, int(detail or 0))
        except TicketNotFound:
            dispatcher.utter_message(
                response="utter_ticket_not_from_this_chat", service_request_id=reference
            )
        except TransitionRefused:
            # The ticket moved on since it was checked (or its status does not allow this);
            # the back office's reason is not shown (it is not a response of the domain).
            dispatcher.utter_message(
                response="utter_follow_up_refused", service_request_id=reference
            )
        except (ExtensionUnavailable, RequestRejected, ValueError):
            dispatcher.utter_message(
                response="utter_follow_up_not_supported", service_request_id=reference
            )
        except BackOfficeUnavailable:
            # Nothing the citizen said is lost: kept and sent by the relay, outcome told later.
            get_outbox().enqueue_move(tracker.sender_id, identity, kind, reference, detail)
            dispatcher.utter_message(
                response="utter_follow_up_queued", service_request_id=reference
            )
        else:
            dispatcher.utter_message(response=MOVE_DONE[kind], service_request_id=reference)
        return [*cleared_follow_up(), SlotSet("ticket_reference", reference)]


def _withdraw_reason(tracker: Tracker) -> str | None:
    # The words of the message that asked to withdraw, when they say why.
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent == "withdraw_ticket":
                return reason_in(event.get("text"))
    return None


class ActionCancelFollowUp(CancelForm, Action):
    """Stops the follow-up; nothing is changed."""

    response = "utter_follow_up_cancelled"
    form_slots = FOLLOW_UP_SLOTS

    def name(self) -> str:
        return "action_cancel_follow_up"


__all__ = [
    "ActionAskFollowUpConfirm",
    "ActionAskFollowUpRating",
    "ActionAskFollowUpReason",
    "ActionAskFollowUpReference",
    "ActionCancelFollowUp",
    "ActionStartFollowUp",
    "ActionSubmitFollowUp",
    "ValidateFollowUpForm",
]
