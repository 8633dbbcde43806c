"""Points for confirmed reports, in the chat: the offer after a complaint, and "my points".

After a complaint is filed the bot asks, once and without waiting for it, whether the citizen
wants to earn points when the city confirms the report (docs/conversation.md, "Points").
The answer, tapped or typed right after, is sent to the back office's
``PUT /api/v1/citizens/{identity}/tickets/{id}/points``; "my points" reads
``GET /api/v1/citizens/{identity}/points`` (docs/backoffice-api.md, "Points for confirmed
reports"). Points are only ever added, so nothing here can take one away.
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.citizen_identity import citizen_identity
from actions.dependencies import get_open311_client
from actions.open311_client import (
    BackOfficeUnavailable,
    CitizenPoints,
    ExtensionUnavailable,
    RequestRejected,
    TicketNotFound,
)

logger = logging.getLogger(__name__)

OFFER_SLOT = "points_offer"
"""The reference of the complaint whose points question is still unanswered."""
COMPLAINT_KIND = "report_issue"
"""The ``intake_kind`` of a complaint; applications and feedback earn no points."""
MAX_LISTED = 10
"""How many awards "my points" names; the balance counts them all."""


def offer_points(
    dispatcher: CollectingDispatcher, tracker: Tracker, service_request_id: str | None
) -> list[EventType]:
    """Ask the points question for a complaint just filed (called by the filing action).

    Reads ``intake_kind`` (before the intake's slots are cleared) and sets ``points_offer``.
    Nothing is asked for an application or feedback, or where the chat has no identity for
    the back office to keep the answer under.
    """
    if (
        not service_request_id
        or tracker.get_slot("intake_kind") != COMPLAINT_KIND
        or citizen_identity(tracker) is None
    ):
        return [SlotSet(OFFER_SLOT, None)]
    dispatcher.utter_message(response="utter_offer_points")
    return [SlotSet(OFFER_SLOT, service_request_id)]


class ActionAnswerPointsOffer(Action):
    """Sends the citizen's yes or no to the points question, and confirms it in one line.

    Runs for an ``affirm`` or ``deny`` (the buttons send those too) right after the offer.
    Reads ``points_offer``; with none pending, the message is a stray answer as anywhere
    else. Clears ``points_offer`` once the back office has the answer; when it cannot be
    reached the offer stays and the citizen is asked to answer again (buttons shown again).
    """

    def name(self) -> str:
        return "action_answer_points_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reference = tracker.get_slot(OFFER_SLOT)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        identity = citizen_identity(tracker)
        if (
            not isinstance(reference, str)
            or intent not in ("affirm", "deny")
            or identity is None
            or not just_asked(tracker)
        ):
            return [FollowupAction("action_answer_stray_reply")]
        opt_in = intent == "affirm"
        try:
            earned = await get_open311_client().set_points_opt_in(identity, reference, opt_in)
        except BackOfficeUnavailable:
            dispatcher.utter_message(response="utter_points_answer_not_sent")
            return []
        except (TicketNotFound, ExtensionUnavailable, RequestRejected) as error:
            logger.warning("points answer refused: %s", type(error).__name__)
            dispatcher.utter_message(response="utter_points_not_available")
            return [SlotSet(OFFER_SLOT, None)]
        if opt_in:
            response = "utter_points_opted_in_earned" if earned else "utter_points_opted_in"
        else:
            response = "utter_points_declined"
        dispatcher.utter_message(response=response, service_request_id=reference)
        return [SlotSet(OFFER_SLOT, None)]


class ActionShowPoints(Action):
    """Answers "my points": the balance and the confirmed reports it came from.

    Reads the chat's identity only; sets no slot.
    """

    def name(self) -> str:
        return "action_show_points"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        identity = citizen_identity(tracker)
        if identity is None:
            dispatcher.utter_message(response="utter_points_not_available")
            return []
        try:
            points = await get_open311_client().citizen_points(identity)
        except BackOfficeUnavailable:
            dispatcher.utter_message(response="utter_points_unreachable")
            return []
        except ExtensionUnavailable:
            dispatcher.utter_message(response="utter_points_not_available")
            return []
        if points.balance <= 0 or not points.awards:
            dispatcher.utter_message(response="utter_points_none")
            return []
        response = "utter_points_balance_one" if points.balance == 1 else "utter_points_balance"
        dispatcher.utter_message(
            response=response, balance=points.balance, references=references_of(points)
        )
        return []


def just_asked(tracker: Tracker) -> bool:
    """Whether the bot's last message before the citizen's latest one was the points question.

    A question left unanswered stays in ``points_offer``; a "yes" to something else later
    (after a filing that waits in the outbox, say) must not answer it.
    """
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "bot" and seen_user:
            said = (event.get("metadata") or {}).get("utter_action")
            return said in _QUESTIONS
    return False


_QUESTIONS = frozenset({"utter_offer_points", "utter_points_answer_not_sent"})


def references_of(points: CitizenPoints) -> str:
    """The awards' tickets, newest first, as a list to read out: ``CD-1, CD-2 (2)``.

    An award of more than one point says how many; past :data:`MAX_LISTED` an ellipsis.
    """
    named = [
        award.service_request_id
        if award.points == 1
        else f"{award.service_request_id} ({award.points})"
        for award in points.awards[:MAX_LISTED]
    ]
    if len(points.awards) > MAX_LISTED:
        named.append("…")
    return ", ".join(named)
