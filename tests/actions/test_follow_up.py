"""Following up tickets: status, my tickets, comments, withdraw, reopen, rating."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.follow_up import ActionFollowUpTicket, rating_in, reference_in
from actions.outbox import Outbox
from open311_schema import NewServiceRequest
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


async def follow_up(
    intent: str, text: str, slots: dict[str, Any] | None = None
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots or {}, text=text, intent=intent)
    return await ActionFollowUpTicket().run(dispatcher, tracker, {}), dispatcher


async def file_one(catalogue: FakeOpen311) -> str:
    created = await catalogue.create_request(
        NewServiceRequest("street_light", description="dark", address_string="1 Main St")
    )
    assert created.service_request_id
    return created.service_request_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status of CD-7K2M9Q please", "CD-7K2M9Q"),
        ("what about cd7k2m9q", "CD-7K2M9Q"),
        ("cd-7k2m9q?", "CD-7K2M9Q"),
        ("my tickets", None),
        ("CD-7K2M9QX", None),
    ],
)
def test_references_are_found_in_any_case(text: str, expected: str | None) -> None:
    assert reference_in(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5 stars", 5), ("I'd give it 2 out of 5", 2), ("five", 5), ("rate CD-7K2M9Q", None)],
)
def test_ratings(text: str, expected: int | None) -> None:
    assert rating_in(text) == expected


async def test_status_by_reference(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue)

    events, dispatcher = await follow_up("check_status", f"any news on {reference.lower()}?")

    assert responses(dispatcher) == ["utter_ticket_status_open"]
    assert dispatcher.messages[0]["service_request_id"] == reference
    assert SlotSet("ticket_reference", reference) in events


async def test_unknown_reference_is_said_plainly(catalogue: FakeOpen311) -> None:
    events, dispatcher = await follow_up("check_status", "status of CD-ZZZZZZ")

    assert responses(dispatcher) == ["utter_ticket_not_found"]
    assert events == [], "an unconfirmed reference is never remembered"


async def test_my_tickets_lists_this_conversations_tickets(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    request = NewServiceRequest("street_light", description="dark", address_string="1 Main St")
    await outbox.deliver(outbox.enqueue("citizen-1", request).idempotency_key, catalogue)
    outbox.take_unannounced("citizen-1")
    catalogue.unavailable = True
    await outbox.deliver(outbox.enqueue("citizen-1", request).idempotency_key, catalogue)
    catalogue.unavailable = False

    _, dispatcher = await follow_up("check_status", "my tickets")

    assert responses(dispatcher) == [
        "utter_my_tickets_header",
        "utter_ticket_status_open",
        "utter_ticket_pending",
    ]


async def test_no_tickets_asks_for_a_reference(catalogue: FakeOpen311) -> None:
    _, dispatcher = await follow_up("check_status", "my tickets")

    assert responses(dispatcher) == ["utter_no_tickets"]


@pytest.mark.parametrize(
    ("intent", "text", "verb", "value"),
    [
        ("add_information", "it is now blocking the pavement", "comment", None),
        ("withdraw_ticket", "it fixed itself, withdraw it", "withdraw", None),
        ("reopen_ticket", "it's broken again", "reopen", None),
        ("rate_resolution", "4 stars", "rate", 4),
    ],
)
async def test_follow_ups_use_the_extensions_where_offered(
    catalogue: FakeOpen311, intent: str, text: str, verb: str, value: Any
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    _, dispatcher = await follow_up(intent, text, {"ticket_reference": reference})

    assert responses(dispatcher) == ["utter_follow_up_done"]
    assert catalogue.follow_ups == [(verb, reference, value if value is not None else text)]


async def test_follow_ups_degrade_politely_on_plain_open311(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue)

    _, dispatcher = await follow_up("reopen_ticket", f"reopen {reference}, still dark")

    assert responses(dispatcher) == ["utter_follow_up_not_supported"]


async def test_rating_without_a_score_asks_for_one(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    _, dispatcher = await follow_up("rate_resolution", f"rate {reference}")

    assert responses(dispatcher) == ["utter_ask_rating"]
    assert catalogue.follow_ups == []


async def test_no_reference_anywhere_asks_for_it(catalogue: FakeOpen311) -> None:
    _, dispatcher = await follow_up("withdraw_ticket", "withdraw my complaint")

    assert responses(dispatcher) == ["utter_ask_reference"]


async def test_outage_is_said_plainly(catalogue: FakeOpen311) -> None:
    catalogue.unavailable = True

    _, dispatcher = await follow_up("check_status", "CD-7K2M9Q")

    assert responses(dispatcher) == ["utter_backoffice_unavailable"]
