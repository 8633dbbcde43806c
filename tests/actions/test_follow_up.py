"""Following up tickets: status, my tickets, comments (withdraw etc.: test_follow_up_form)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen_identity import citizen_identity
from actions.follow_up import ActionFollowUpTicket, rating_in, reference_in
from actions.outbox import Outbox
from open311_schema import NewServiceRequest
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


IDENTITY = "telegram:citizen-1"


async def follow_up(
    intent: str,
    text: str,
    slots: dict[str, Any] | None = None,
    *,
    input_channel: str | None = "telegram",
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots or {}, text=text, intent=intent, input_channel=input_channel)
    return await ActionFollowUpTicket().run(dispatcher, tracker, {}), dispatcher


async def file_one(catalogue: FakeOpen311, account_id: str | None = IDENTITY) -> str:
    created = await catalogue.create_request(
        NewServiceRequest(
            "street_light", description="dark", address_string="1 Main St", account_id=account_id
        )
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


async def test_my_tickets_come_from_the_back_office_for_this_chat(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.with_extensions = True
    older = await file_one(catalogue)
    await file_one(catalogue, account_id="telegram:someone-else")
    newer = await file_one(catalogue)
    catalogue.unavailable = True
    request = NewServiceRequest("street_light", description="dark", address_string="1 Main St")
    await outbox.deliver(outbox.enqueue("citizen-1", request).idempotency_key, catalogue)
    catalogue.unavailable = False

    events, dispatcher = await follow_up("check_status", "my tickets")

    assert responses(dispatcher) == [
        "utter_my_tickets_header",
        "utter_ticket_pending",
        "utter_ticket_status_open",
        "utter_ticket_status_open",
    ]
    shown = [m.get("service_request_id") for m in dispatcher.messages[2:]]
    assert shown == [newer, older], "newest first, and only this chat's"
    assert SlotSet("ticket_reference", newer) in events


async def test_my_tickets_without_an_identity_use_the_outbox(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.with_extensions = True
    await file_one(catalogue)

    _, dispatcher = await follow_up("check_status", "my tickets", input_channel=None)

    assert responses(dispatcher) == ["utter_no_tickets"]


async def test_information_is_added_as_a_comment_of_this_chat(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    text = "it is now blocking the pavement"

    _, dispatcher = await follow_up("add_information", text, {"ticket_reference": reference})

    assert responses(dispatcher) == ["utter_follow_up_done"]
    assert catalogue.follow_ups == [("comment", reference, text)]


async def test_information_for_another_citizens_ticket_is_not_added(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue, account_id="telegram:someone-else")

    _, dispatcher = await follow_up("add_information", f"add to {reference}: it buzzes")

    assert responses(dispatcher) == ["utter_ticket_not_from_this_chat"]
    assert catalogue.follow_ups == []


async def test_information_degrades_politely_on_plain_open311(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue)

    _, dispatcher = await follow_up("add_information", f"add to {reference}: still dark")

    assert responses(dispatcher) == ["utter_follow_up_not_supported"]


async def test_no_reference_anywhere_asks_for_it(catalogue: FakeOpen311) -> None:
    _, dispatcher = await follow_up("add_information", "add that it buzzes")

    assert responses(dispatcher) == ["utter_ask_reference"]


async def test_outage_is_said_plainly(catalogue: FakeOpen311) -> None:
    catalogue.unavailable = True

    _, dispatcher = await follow_up("check_status", "CD-7K2M9Q")

    assert responses(dispatcher) == ["utter_backoffice_unavailable"]


@pytest.mark.parametrize(
    ("channel", "sender", "expected"),
    [
        ("telegram", "12345", "telegram:12345"),
        ("rest", "citizen-42", "rest:citizen-42"),
        ("webchat", "a/b", None),
        ("tele gram", "1", None),
        (None, "1", None),
    ],
)
def test_the_identity_is_channel_and_sender(
    channel: str | None, sender: str, expected: str | None
) -> None:
    tracker = make_tracker({}, sender_id=sender, input_channel=channel)

    assert citizen_identity(tracker) == expected
