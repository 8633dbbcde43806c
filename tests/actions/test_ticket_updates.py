"""Pushed news (EXTERNAL_ticket_update): the right response for each kind and status."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.ticket_updates import STATUS_RESPONSES, STATUSES, ActionAnnounceTicketUpdate
from tests.conftest import make_tracker
from tests.test_domain import DOMAIN


async def announce(**pushed: str) -> tuple[list[Any], CollectingDispatcher]:
    # As Rasa's trigger_intent turns the body's {"name": value} entities into entities.
    entities = [{"entity": name, "value": value} for name, value in pushed.items()]
    tracker = make_tracker({}, intent="EXTERNAL_ticket_update", entities=entities)
    dispatcher = CollectingDispatcher()
    return await ActionAnnounceTicketUpdate().run(dispatcher, tracker, {}), dispatcher


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


@pytest.mark.parametrize("status", STATUSES)
async def test_each_status_has_its_own_words(status: str) -> None:
    events, dispatcher = await announce(
        service_request_id="CD-7K2M9Q", status=status, kind="status", message=""
    )

    expected = [STATUS_RESPONSES[status]]
    if status == "resolved":
        expected.append("utter_offer_rating")
    assert responses(dispatcher) == expected
    assert all(key in DOMAIN["responses"] for key in expected)
    assert dispatcher.messages[0]["service_request_id"] == "CD-7K2M9Q"
    assert events == [SlotSet("ticket_reference", "CD-7K2M9Q")]


async def test_a_status_note_follows_the_status() -> None:
    _, dispatcher = await announce(
        service_request_id="cd-7k2m9q", status="in_progress", kind="status", message="Crew booked"
    )

    assert responses(dispatcher) == ["utter_ticket_update_in_progress", "utter_ticket_update_note"]
    assert dispatcher.messages[0]["service_request_id"] == "CD-7K2M9Q"
    assert dispatcher.messages[1]["message"] == "Crew booked"


async def test_a_comment_is_passed_on() -> None:
    _, dispatcher = await announce(
        service_request_id="CD-7K2M9Q", status="acknowledged", kind="comment", message="Parts due"
    )

    assert responses(dispatcher) == ["utter_ticket_update_comment"]
    assert dispatcher.messages[0]["message"] == "Parts due"


async def test_a_persons_reply_needs_no_ticket() -> None:
    events, dispatcher = await announce(
        service_request_id="", status="", kind="handoff_reply", message="Call us on Monday\x07"
    )

    assert responses(dispatcher) == ["utter_handoff_reply"]
    assert dispatcher.messages[0]["message"] == "Call us on Monday"
    assert events == []


@pytest.mark.parametrize(
    "pushed",
    [
        {"service_request_id": "CD-7K2M9Q", "status": "exploded", "kind": "status"},
        {"service_request_id": "CD-7K2M9Q", "status": "new", "kind": "rumour"},
        {"service_request_id": "CD-7K2M9Q", "kind": "comment", "message": "  "},
    ],
)
async def test_anything_unexpected_still_says_there_is_news(pushed: dict[str, str]) -> None:
    _, dispatcher = await announce(**pushed)

    assert responses(dispatcher) == ["utter_ticket_update_other"]


async def test_news_without_a_usable_reference_says_nothing() -> None:
    events, dispatcher = await announce(service_request_id="../etc", status="new", kind="status")

    assert (events, dispatcher.messages) == ([], [])
