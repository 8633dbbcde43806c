"""Withdraw (confirmed), reopen (with a reason) and rate (1-5) a ticket: follow_up_form."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import dependencies
from actions.follow_up_form import (
    ActionAskFollowUpConfirm,
    ActionAskFollowUpRating,
    ActionAskFollowUpReason,
    ActionAskFollowUpReference,
    ActionCancelFollowUp,
    ActionStartFollowUp,
    ActionSubmitFollowUp,
    ValidateFollowUpForm,
    reason_in,
)
from actions.open311_client import BackOfficeUnavailable, CitizenTicket
from actions.outbox import Outbox
from actions.reference_push import relay_round
from actions.report_issue import announce_delivered
from actions.settings import ActionSettings
from open311_schema import NewServiceRequest
from tests.actions.test_reference_push import RecordingPusher
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311
from tests.test_domain import DOMAIN as DOMAIN_FILE

IDENTITY = "telegram:citizen-1"


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


def slot_values(events: list[Any]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


async def file_one(
    catalogue: FakeOpen311, *, lifecycle: str = "new", account_id: str = IDENTITY
) -> str:
    catalogue.with_extensions = True
    created = await catalogue.create_request(
        NewServiceRequest(
            "street_light", description="dark", address_string="1 Main St", account_id=account_id
        )
    )
    reference = created.service_request_id
    assert reference
    catalogue.lifecycle[reference] = lifecycle
    if lifecycle in ("resolved", "closed"):
        ticket = catalogue.tickets[reference]
        catalogue.tickets[reference] = dataclasses.replace(ticket, status="closed")
    return reference


async def start(intent: str, text: str, slots: dict[str, Any] | None = None) -> dict[str, Any]:
    tracker = make_tracker(slots or {}, text=text, intent=intent, input_channel="telegram")
    return slot_values(await ActionStartFollowUp().run(CollectingDispatcher(), tracker, {}))


async def validate(slots: dict[str, Any]) -> tuple[dict[str, Any], CollectingDispatcher]:
    """Runs the validator of the open step (``requested_slot``) on its value."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots, active_loop="follow_up_form", input_channel="telegram")
    step = slots["requested_slot"]
    method = getattr(ValidateFollowUpForm(), f"validate_{step}")
    return await method(slots[step], dispatcher, tracker, {}), dispatcher


async def submit(slots: dict[str, Any]) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots, text="yes", intent="affirm", input_channel="telegram")
    return slot_values(await ActionSubmitFollowUp().run(dispatcher, tracker, {})), dispatcher


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("it's broken again", "it's broken again"),
        ("reopen CD-7K2M9Q, the repair didn't last", "reopen CD-7K2M9Q, the repair didn't last"),
        ("reopen my complaint", None),
        ("please reopen cd7k2m9q", None),
        ("/reopen_ticket", None),
    ],
)
def test_a_reason_is_what_goes_beyond_asking_to_reopen(text: str, reason: str | None) -> None:
    assert reason_in(text) == reason


async def test_what_the_first_message_says_is_kept(catalogue: FakeOpen311) -> None:
    assert await start("withdraw_ticket", "withdraw CD-7K2M9Q please") == {
        "follow_up_kind": "withdraw",
        "follow_up_reference": "CD-7K2M9Q",
        "follow_up_confirm": None,
        "follow_up_reason": None,
        "follow_up_rating": None,
        "failed_attempts": None,
    }
    reopen = await start(
        "reopen_ticket", "the lamp is dark again", {"ticket_reference": "CD-AAAAAA"}
    )
    assert reopen["follow_up_reference"] == "CD-AAAAAA", "the ticket last talked about"
    assert reopen["follow_up_reason"] == "the lamp is dark again"
    assert (await start("rate_resolution", "4 stars for cd-7k2m9q"))["follow_up_rating"] == "4"
    assert (await start("rate_resolution", "rate it"))["follow_up_rating"] is None


CANCEL_A_SERVICE = "I'd like to cancel my garden waste collection please, I don't need it any more"


async def test_a_withdraw_that_is_a_new_request_starts_the_intake(catalogue: FakeOpen311) -> None:
    """No ticket in this chat, none named: a story saying "cancel ... don't need it" is the
    service that stops a collection, not a ticket to withdraw."""
    catalogue.with_extensions = True
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        {}, text=CANCEL_A_SERVICE, intent="withdraw_ticket", input_channel="telegram"
    )
    events = await ActionStartFollowUp().run(dispatcher, tracker, {})

    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_start_intake"]
    assert "follow_up_kind" not in {k for k, v in slot_values(events).items() if v}
    assert [m["response"] for m in dispatcher.messages] == ["utter_comment_taken_as_new_request"]


@pytest.mark.parametrize(
    "text",
    [
        "withdraw my complaint, I don't need it any more",  # names a ticket
        "cancel it",  # says nothing else
    ],
)
async def test_a_withdraw_of_a_ticket_stays_a_withdraw(catalogue: FakeOpen311, text: str) -> None:
    catalogue.with_extensions = True
    assert (await start("withdraw_ticket", text))["follow_up_kind"] == "withdraw"


async def test_with_a_ticket_in_this_chat_a_withdraw_stays_a_withdraw(
    catalogue: FakeOpen311,
) -> None:
    await file_one(catalogue)
    assert (await start("withdraw_ticket", CANCEL_A_SERVICE))["follow_up_kind"] == "withdraw"


@pytest.mark.parametrize(
    ("kind", "second_step"),
    [
        ("withdraw", "follow_up_confirm"),
        ("reopen", "follow_up_reason"),
        ("rate", "follow_up_rating"),
    ],
)
async def test_each_kind_asks_a_reference_and_one_thing(kind: str, second_step: str) -> None:
    tracker = make_tracker({"follow_up_kind": kind}, active_loop="follow_up_form")
    slots = await ValidateFollowUpForm().required_slots([], CollectingDispatcher(), tracker, {})

    assert slots == ["follow_up_reference", second_step]


async def test_a_crafted_kind_asks_nothing() -> None:
    tracker = make_tracker({"follow_up_kind": "delete_all"}, active_loop="follow_up_form")

    assert (
        await ValidateFollowUpForm().required_slots([], CollectingDispatcher(), tracker, {}) == []
    )


async def test_an_unknown_reference_is_asked_again(catalogue: FakeOpen311) -> None:
    slots, dispatcher = await validate(
        {
            "follow_up_kind": "withdraw",
            "follow_up_reference": "CD-ZZZZZZ",
            "requested_slot": "follow_up_reference",
        }
    )

    assert responses(dispatcher) == ["utter_ticket_not_found"]
    assert slots["follow_up_reference"] is None
    assert slots["failed_attempts"] == 1.0


async def test_text_without_a_reference_is_asked_again(catalogue: FakeOpen311) -> None:
    slots, dispatcher = await validate(
        {
            "follow_up_kind": "rate",
            "follow_up_reference": "the lamp one",
            "requested_slot": "follow_up_reference",
        }
    )

    assert responses(dispatcher) == ["utter_reference_not_understood"]
    assert slots["follow_up_reference"] is None


@pytest.mark.parametrize(
    ("kind", "lifecycle", "refusal"),
    [
        ("reopen", "in_progress", "utter_reopen_not_allowed"),
        ("rate", "new", "utter_rating_not_allowed"),
        ("withdraw", "resolved", "utter_withdraw_not_allowed"),
    ],
)
async def test_a_move_the_ticket_cannot_make_is_said_before_asking_more(
    catalogue: FakeOpen311, kind: str, lifecycle: str, refusal: str
) -> None:
    reference = await file_one(catalogue, lifecycle=lifecycle)

    slots, dispatcher = await validate(
        {
            "follow_up_kind": kind,
            "follow_up_reference": reference,
            "requested_slot": "follow_up_reference",
        }
    )

    assert responses(dispatcher) == [refusal]
    assert slots["follow_up_kind"] is None, "the form ends without asking a reason or rating"
    assert catalogue.follow_ups == []


async def test_a_known_reference_is_remembered(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue, lifecycle="resolved")

    slots, dispatcher = await validate(
        {
            "follow_up_kind": "reopen",
            "follow_up_reference": reference.lower(),
            "requested_slot": "follow_up_reference",
        }
    )

    assert dispatcher.messages == []
    assert slots["follow_up_reference"] == reference
    assert slots["ticket_reference"] == reference


@pytest.mark.parametrize(
    ("given", "expected"), [("5", "5"), ("two", "2"), ("9", None), ("great", None)]
)
async def test_ratings_are_checked(given: str, expected: str | None) -> None:
    slots, dispatcher = await validate(
        {
            "follow_up_kind": "rate",
            "follow_up_reference": "CD-7K2M9Q",
            "follow_up_rating": given,
            "requested_slot": "follow_up_rating",
        }
    )

    assert slots["follow_up_rating"] == expected
    assert responses(dispatcher) == ([] if expected else ["utter_rating_not_understood"])


@pytest.mark.parametrize(
    ("failed_attempts", "expected"),
    [
        (0.0, ["utter_ask_follow_up_rating"]),
        (2.0, ["utter_ask_simpler_follow_up", "utter_ask_follow_up_rating_again"]),
    ],
)
async def test_the_rating_step_shows_five_buttons_and_its_progress(
    failed_attempts: float, expected: list[str]
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"follow_up_reference": "CD-7K2M9Q", "failed_attempts": failed_attempts})

    await ActionAskFollowUpRating().run(dispatcher, tracker, {})

    assert responses(dispatcher) == expected
    asked = dispatcher.messages[-1]
    assert (asked["step"], asked["total"]) == (2, 2)
    assert [b["payload"] for b in asked["buttons"]] == [
        f'/choose_option{{"choice": "{n}"}}' for n in range(1, 6)
    ]


@pytest.mark.parametrize(
    ("action", "question"),
    [
        (ActionAskFollowUpReason(), "utter_ask_follow_up_reason"),
        (ActionAskFollowUpRating(), "utter_ask_follow_up_rating"),
    ],
)
@pytest.mark.parametrize("failed_attempts", [0.0, 1.0, 2.0, 3.0, 4.0])
async def test_the_second_step_names_the_ticket_and_is_asked_another_way_every_second_failure(
    action: Any, question: str, failed_attempts: float
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"follow_up_reference": "CD-7K2M9Q", "failed_attempts": failed_attempts})

    await action.run(dispatcher, tracker, {})

    other_way = failed_attempts in (2.0, 4.0)
    expected = ["utter_ask_simpler_follow_up", f"{question}_again"] if other_way else [question]
    assert responses(dispatcher) == expected
    assert expected[-1] in DOMAIN_FILE["responses"]
    asked = dispatcher.messages[-1]
    assert asked["service_request_id"] == "CD-7K2M9Q"
    assert (asked["step"], asked["total"]) == (2, 2)
    assert action.name() == f"action_ask_{action.slot}"


@pytest.mark.parametrize("failed_attempts", [0.0, 1.0, 2.0, 3.0, 4.0])
async def test_the_withdrawal_question_is_asked_by_number_every_second_failure(
    failed_attempts: float,
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"follow_up_reference": "CD-7K2M9Q", "failed_attempts": failed_attempts})

    await ActionAskFollowUpConfirm().run(dispatcher, tracker, {})

    asked = dispatcher.messages[-1]
    assert (asked["step"], asked["total"]) == (2, 2)
    if failed_attempts in (2.0, 4.0):
        assert responses(dispatcher) == ["utter_ask_simpler_follow_up", "utter_ask_numbered"]
        assert asked["numbered"] == "1. Yes, withdraw it\n2. No, keep it"
        assert [b["payload"] for b in asked["buttons"]] == [
            f'/choose_option{{"choice": "{key}"}}' for key in ("yes", "no")
        ]
    else:
        assert responses(dispatcher) == ["utter_ask_follow_up_confirm"]
        assert asked["service_request_id"] == "CD-7K2M9Q"


async def test_withdrawing_needs_a_yes(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue, lifecycle="acknowledged")

    _, kept = await submit(
        {"follow_up_kind": "withdraw", "follow_up_reference": reference, "follow_up_confirm": "no"}
    )
    assert responses(kept) == ["utter_withdraw_kept"]
    assert catalogue.follow_ups == []

    slots, done = await submit(
        {"follow_up_kind": "withdraw", "follow_up_reference": reference, "follow_up_confirm": "yes"}
    )
    assert responses(done) == ["utter_ticket_withdrawn"]
    assert catalogue.lifecycle[reference] == "closed"
    assert slots["follow_up_kind"] is None
    assert slots["ticket_reference"] == reference


async def test_reopening_sends_the_reason(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue, lifecycle="resolved")

    _, dispatcher = await submit(
        {
            "follow_up_kind": "reopen",
            "follow_up_reference": reference,
            "follow_up_reason": "dark again",
        }
    )

    assert responses(dispatcher) == ["utter_ticket_reopened"]
    assert catalogue.follow_ups == [("reopen", reference, "dark again")]
    assert catalogue.lifecycle[reference] == "reopened"


async def test_rating_sends_the_number(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue, lifecycle="closed")

    _, dispatcher = await submit(
        {"follow_up_kind": "rate", "follow_up_reference": reference, "follow_up_rating": "4"}
    )

    assert responses(dispatcher) == ["utter_rated"]
    assert catalogue.follow_ups == [("rating", reference, 4)]


async def test_a_refusal_by_the_back_office_is_said_plainly(catalogue: FakeOpen311) -> None:
    # Open311 said "closed" when asked, but the ticket moved on before the citizen answered.
    reference = await file_one(catalogue, lifecycle="in_progress")

    _, dispatcher = await submit(
        {"follow_up_kind": "rate", "follow_up_reference": reference, "follow_up_rating": "5"}
    )

    assert responses(dispatcher) == ["utter_follow_up_refused"]
    assert catalogue.follow_ups == []


async def test_another_chats_ticket_is_not_changed(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue, lifecycle="new", account_id="telegram:someone-else")

    _, dispatcher = await submit(
        {"follow_up_kind": "withdraw", "follow_up_reference": reference, "follow_up_confirm": "yes"}
    )

    assert responses(dispatcher) == ["utter_ticket_not_from_this_chat"]
    assert catalogue.lifecycle[reference] == "new"


async def test_during_an_outage_the_move_is_kept_sent_later_and_told_once(
    catalogue: FakeOpen311, tmp_path: Path
) -> None:
    now = [1000.0]
    outbox = Outbox(tmp_path / "kept.sqlite3", clock=lambda: now[0], rng=lambda: 0.5)
    dependencies.override(client=catalogue, settings=ActionSettings(), outbox=outbox)
    reference = await file_one(catalogue, lifecycle="resolved")
    catalogue.unavailable = True
    reason = {"follow_up_kind": "reopen", "follow_up_reference": reference}

    checked, said = await validate({**reason, "requested_slot": "follow_up_reference"})
    assert checked["follow_up_reference"] == reference, "taken as given while down"
    assert said.messages == []
    _, dispatcher = await submit({**reason, "follow_up_reason": "dark again"})

    assert responses(dispatcher) == ["utter_follow_up_queued"]
    assert catalogue.follow_ups == []
    await relay_round(outbox, catalogue, None)
    assert catalogue.follow_ups == [], "still down"

    catalogue.unavailable = False
    now[0] += 3600
    pusher = RecordingPusher()
    await relay_round(outbox, catalogue, pusher)

    assert catalogue.follow_ups == [("reopen", reference, "dark again")]
    assert pusher.pushed == ["citizen-1"]
    told = CollectingDispatcher()
    await announce_delivered(told, make_tracker({}))
    assert responses(told) == ["utter_ticket_reopened"]
    assert told.messages[0]["service_request_id"] == reference
    again = CollectingDispatcher()
    await announce_delivered(again, make_tracker({}))
    assert again.messages == []


class LostReply(FakeOpen311):
    """Withdraws the ticket, then loses the reply (once)."""

    lose_next: bool = True

    async def withdraw_request(
        self, identity: str, service_request_id: str, reason: str | None = None
    ) -> CitizenTicket:
        ticket = await super().withdraw_request(identity, service_request_id, reason)
        if self.lose_next:
            self.lose_next = False
            raise BackOfficeUnavailable("reply lost")
        return ticket


async def test_a_kept_move_done_before_its_reply_was_lost_counts_as_done(
    tmp_path: Path,
) -> None:
    fake = LostReply(with_extensions=True)
    now = [1000.0]
    outbox = Outbox(tmp_path / "kept.sqlite3", clock=lambda: now[0], rng=lambda: 0.5)
    reference = await file_one(fake, lifecycle="in_progress")
    catalogue_closed = dataclasses.replace(fake.tickets[reference], status="closed")
    key = outbox.enqueue_move("citizen-1", IDENTITY, "withdraw", reference, None).key

    assert (await outbox.deliver_move(key, fake)).state == "pending"
    fake.tickets[reference] = catalogue_closed  # as Open311 shows a withdrawn ticket
    now[0] += 3600
    done = await outbox.deliver_move(key, fake)

    assert (done.state, done.outcome) == ("delivered", "done"), "the 422 echoed the first try"


async def test_a_kept_move_for_another_chats_ticket_is_told_as_such(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    reference = await file_one(catalogue, lifecycle="resolved", account_id="telegram:other")
    outbox.enqueue_move("citizen-1", IDENTITY, "rate", reference, 5)

    await relay_round(outbox, catalogue, None)
    told = CollectingDispatcher()
    await announce_delivered(told, make_tracker({}))

    assert responses(told) == ["utter_ticket_not_from_this_chat"]
    assert catalogue.follow_ups == []


async def test_crafted_slots_are_checked_again_before_sending(catalogue: FakeOpen311) -> None:
    reference = await file_one(catalogue, lifecycle="closed")

    slots, dispatcher = await submit(
        {"follow_up_kind": "rate", "follow_up_reference": reference, "follow_up_rating": "11"}
    )

    assert dispatcher.messages == []
    assert slots == {"follow_up_rating": None}
    assert catalogue.follow_ups == []


async def test_cancel_changes_nothing() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"follow_up_kind": "withdraw"}, active_loop="follow_up_form")

    events = await ActionCancelFollowUp().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_follow_up_cancelled"]
    assert slot_values(events)["follow_up_kind"] is None


async def test_the_reference_step_offers_this_chats_tickets(catalogue: FakeOpen311) -> None:
    older = await file_one(catalogue)
    await file_one(catalogue, account_id="telegram:someone-else")
    newer = await file_one(catalogue)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({}, input_channel="telegram")

    await ActionAskFollowUpReference().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ask_follow_up_reference_pick"]
    asked = dispatcher.messages[0]
    assert (asked["step"], asked["total"]) == (1, 2)
    assert [b["payload"] for b in asked["buttons"]] == [
        f'/choose_option{{"choice": "{newer}"}}',
        f'/choose_option{{"choice": "{older}"}}',
    ]


async def test_without_tickets_the_reference_is_asked_typed(catalogue: FakeOpen311) -> None:
    catalogue.unavailable = True
    dispatcher = CollectingDispatcher()

    await ActionAskFollowUpReference().run(
        dispatcher, make_tracker({}, input_channel="telegram"), {}
    )

    assert responses(dispatcher) == ["utter_ask_follow_up_reference"]
    assert dispatcher.messages[0]["buttons"] == []


@pytest.mark.parametrize(
    ("given", "intent", "kept"),
    [
        ("the lamp is dark again", "reopen_ticket", True),
        ("yes", "affirm", False),
        ("no", "deny", False),
        ('/choose_option{"choice": "4"}', "choose_option", False),
    ],
)
async def test_a_reason_must_say_something(given: str, intent: str, kept: bool) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"follow_up_kind": "reopen"}, text=given, intent=intent)

    slots = await ValidateFollowUpForm().validate_follow_up_reason(given, dispatcher, tracker, {})

    assert slots["follow_up_reason"] == (given if kept else None)
    assert responses(dispatcher) == ([] if kept else ["utter_reopen_reason_too_short"])
