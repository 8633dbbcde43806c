"""What the outbox sent since the citizen last heard: references, moves, requests for a person.

Said at the start of the citizen's next turn (the intake's start, a follow-up, a pushed
reference), so a request that was queued while the back office was down is never silent.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dependencies import get_outbox
from actions.outbox import Move


async def announce_delivered(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Tell the citizen what was sent from the outbox since they last heard.

    References of queued submissions, the outcome of kept withdrawals, reopenings and
    ratings, and for kept requests for a person, which department will answer and by when.
    """
    outbox = get_outbox()
    for entry in outbox.take_unannounced(tracker.sender_id):
        dispatcher.utter_message(
            response="utter_queued_request_filed",
            service_request_id=entry.service_request_id,
        )
    for move in outbox.take_unannounced_moves(tracker.sender_id):
        dispatcher.utter_message(
            response=MOVE_DONE[move.move]
            if move.outcome == "done"
            else _MOVE_NOT_DONE.get(str(move.outcome), "utter_follow_up_refused"),
            service_request_id=move.service_request_id,
        )
    for handoff in outbox.take_unannounced_handoffs(tracker.sender_id):
        dispatcher.utter_message(
            response="utter_queued_handoff_filed",
            department=handoff.department or "",
            expected_response=_utc_text(handoff.expected_response),
        )


# What a withdrawal, reopening or rating came to, said when it is done (at once, or when a
# kept one is known).
MOVE_DONE: dict[Move, str] = {
    "withdraw": "utter_ticket_withdrawn",
    "reopen": "utter_ticket_reopened",
    "rate": "utter_rated",
}
_MOVE_NOT_DONE = {
    "refused": "utter_follow_up_refused",
    "not_found": "utter_ticket_not_from_this_chat",
}


def _utc_text(iso: str | None) -> str:
    """An ISO 8601 time as "YYYY-MM-DD HH:MM UTC" (as the handoff reply says it)."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
