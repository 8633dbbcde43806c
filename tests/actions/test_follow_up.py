"""Following up tickets: status, my tickets, comments, photos (withdraw: test_follow_up_form)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.citizen_identity import citizen_identity
from actions.follow_up import (
    ActionAddPhoto,
    ActionAnnounceKeptPhotos,
    ActionFollowUpTicket,
    rating_in,
    reference_in,
)
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
    # A second request (the same one again would be the first: a retried turn).
    second = dataclasses.replace(request, description="dark again")
    await outbox.deliver(outbox.enqueue("citizen-1", second).idempotency_key, catalogue)
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


async def test_a_status_question_that_says_a_matter_with_no_tickets_is_a_new_request(
    catalogue: FakeOpen311,
) -> None:
    text = (
        "Changed my car last weekend. My residents parking permit still shows the old reg. "
        "Need it updated before I get a ticket."
    )

    events, dispatcher = await follow_up("check_status", text)

    assert responses(dispatcher) == ["utter_comment_taken_as_new_request"]
    assert {"event": "followup", "name": "action_start_intake"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]


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


@pytest.mark.parametrize(
    "text",
    ["what is the status of my complaint", "any news on my request?", "show me my tickets"],
)
async def test_a_status_question_without_a_reference_lists_the_tickets(
    catalogue: FakeOpen311, text: str
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    events, dispatcher = await follow_up("check_status", text)

    assert responses(dispatcher) == ["utter_my_tickets_header", "utter_ticket_status_open"]
    assert dispatcher.messages[1]["service_request_id"] == reference
    assert not any(event.get("event") == "followup" for event in events)


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


async def test_information_with_no_ticket_known_is_kept_and_the_ticket_asked(
    catalogue: FakeOpen311,
) -> None:
    events, dispatcher = await follow_up("add_information", "add that it buzzes")

    assert responses(dispatcher) == ["utter_ask_comment_ticket"]
    assert not dispatcher.messages[0]["buttons"]
    assert events == [SlotSet("follow_up_comment", "add that it buzzes")]
    assert catalogue.follow_ups == []


def answering_which_ticket(
    kept: str, *, text: str, intent: str, entities: list[dict[str, Any]] | None = None
) -> Any:
    """A tracker whose latest message answers the "which ticket?" action_follow_up_ticket asked."""
    tracker = make_tracker(
        {"follow_up_comment": kept},
        text=text,
        intent=intent,
        entities=entities,
        input_channel="telegram",
    )
    tracker.events[:0] = [
        {"event": "action", "name": "action_follow_up_ticket"},
        {"event": "slot", "name": "follow_up_comment", "value": kept},
        {"event": "action", "name": "action_listen"},
    ]
    return tracker


@pytest.mark.parametrize(
    ("intent", "answer"),
    [("check_status", "it is {ref}"), ("nlu_fallback", "{ref}"), ("check_status", "{lower}")],
)
async def test_kept_information_goes_on_the_ticket_typed_next(
    catalogue: FakeOpen311, intent: str, answer: str
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    kept = "the lamp post is also leaning"
    text = answer.format(ref=reference, lower=reference.lower())

    dispatcher = CollectingDispatcher()
    tracker = answering_which_ticket(kept, text=text, intent=intent)
    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_follow_up_done"]
    assert catalogue.follow_ups == [("comment", reference, kept)]
    assert SlotSet("ticket_reference", reference) in events
    assert SlotSet("follow_up_comment", None) in events


async def test_kept_information_goes_on_the_ticket_picked_with_a_button(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    older, newer = await file_one(catalogue), await file_one(catalogue)
    said = "it now floods the whole crossing"

    events, dispatcher = await follow_up("add_information", said)

    assert responses(dispatcher) == ["utter_ask_comment_ticket_pick"]
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == [
        f'/choose_option{{"choice": "{newer}"}}',
        f'/choose_option{{"choice": "{older}"}}',
    ]
    assert events == [SlotSet("follow_up_comment", said)]

    dispatcher = CollectingDispatcher()
    tracker = answering_which_ticket(
        said,
        text=buttons[1]["payload"],
        intent="choose_option",
        entities=[{"entity": "choice", "value": older}],
    )
    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_follow_up_done"]
    assert catalogue.follow_ups == [("comment", older, said)]
    assert SlotSet("follow_up_comment", None) in events


async def test_more_information_before_the_ticket_is_kept_with_the_first(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    dispatcher = CollectingDispatcher()
    tracker = answering_which_ticket(
        "it buzzes", text="and it flickers at night", intent="add_information"
    )
    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ask_comment_ticket_pick"]
    both = "it buzzes\nand it flickers at night"
    assert events == [SlotSet("follow_up_comment", both)]

    dispatcher = CollectingDispatcher()
    tracker = answering_which_ticket(both, text=reference, intent="check_status")
    await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert catalogue.follow_ups == [("comment", reference, both)]


async def test_a_wrong_reference_keeps_the_information_for_the_next_try(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True

    dispatcher = CollectingDispatcher()
    tracker = answering_which_ticket("it buzzes", text="CD-ZZZZZZ", intent="check_status")
    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_not_found"]
    assert events == [SlotSet("follow_up_comment", "it buzzes")]
    assert catalogue.follow_ups == []


async def test_unclear_words_after_which_ticket_keep_the_information(
    catalogue: FakeOpen311,
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = answering_which_ticket("it buzzes", text="hmm not sure", intent="nlu_fallback")
    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_please_rephrase"]
    assert events == [SlotSet("follow_up_comment", "it buzzes")]


async def test_a_later_different_request_clears_the_kept_information(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    # Something else happened between the question and this status check.
    tracker = make_tracker(
        {"follow_up_comment": "it buzzes"},
        text=f"status of {reference}",
        intent="check_status",
        input_channel="telegram",
    )
    tracker.events[:0] = [
        {"event": "action", "name": "utter_you_are_welcome"},
        {"event": "action", "name": "action_listen"},
    ]
    dispatcher = CollectingDispatcher()

    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_ticket_status_open"]
    assert catalogue.follow_ups == [], "old information is never posted on a guess"
    assert SlotSet("follow_up_comment", None) in events


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


MEDIA_ID = "Q2l2aWNEZXNrUGhvdG8x_A"
PHOTO = {"media_id": MEDIA_ID, "media_url": f"http://127.0.0.1:8000/media/{MEDIA_ID}.jpg"}


async def add_photo(
    slots: dict[str, Any] | None = None,
    *,
    intent: str = "share_photo",
    text: str = "/share_photo",
    photo: Any = PHOTO,
    entities: list[dict[str, Any]] | None = None,
) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots or {},
        text=text,
        intent=intent,
        entities=entities,
        metadata=None if photo is None else {"photo": photo},
        input_channel="telegram",
    )
    return await ActionAddPhoto().run(dispatcher, tracker, {}), dispatcher


async def test_a_photo_goes_on_the_ticket_in_focus(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    events, dispatcher = await add_photo({"ticket_reference": reference})

    assert responses(dispatcher) == ["utter_photo_added"]
    assert dispatcher.messages[0]["service_request_id"] == reference
    assert catalogue.follow_ups == [("photo", reference, MEDIA_ID)]
    assert SlotSet("follow_up_photo", None) in events


async def test_without_a_ticket_in_focus_the_citizen_picks_one_then_it_is_added(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    older, newer = await file_one(catalogue), await file_one(catalogue)

    events, dispatcher = await add_photo()

    assert responses(dispatcher) == ["utter_ask_photo_ticket_pick"]
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == [
        f'/choose_option{{"choice": "{newer}"}}',
        f'/choose_option{{"choice": "{older}"}}',
    ]
    assert events == [SlotSet("follow_up_photo", PHOTO["media_url"])]
    assert catalogue.follow_ups == []

    events, dispatcher = await add_photo(
        {"follow_up_photo": PHOTO["media_url"]},
        intent="choose_option",
        text=buttons[1]["payload"],
        photo=None,
        entities=[{"entity": "choice", "value": older}],
    )

    assert responses(dispatcher) == ["utter_photo_added"]
    assert catalogue.follow_ups == [("photo", older, MEDIA_ID)]
    assert SlotSet("ticket_reference", older) in events
    assert SlotSet("follow_up_photo", None) in events


async def test_without_tickets_from_this_chat_the_reference_is_asked_typed(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True

    _, dispatcher = await add_photo()

    assert responses(dispatcher) == ["utter_ask_photo_ticket"]
    assert not dispatcher.messages[0]["buttons"]


async def test_a_photo_from_elsewhere_is_refused_and_nothing_is_sent(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    foreign = {"media_id": MEDIA_ID, "media_url": f"https://evil.example/media/{MEDIA_ID}.jpg"}

    _, dispatcher = await add_photo({"ticket_reference": reference}, photo=foreign)

    assert responses(dispatcher) == ["utter_photo_not_usable"]
    assert catalogue.follow_ups == []


async def test_a_photo_for_another_citizens_ticket_is_not_added(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue, account_id="telegram:someone-else")

    _, dispatcher = await add_photo({"ticket_reference": reference})

    assert responses(dispatcher) == ["utter_ticket_not_from_this_chat"]
    assert catalogue.follow_ups == []


async def test_a_photo_already_on_another_ticket_is_refused(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    first, second = await file_one(catalogue), await file_one(catalogue)
    await add_photo({"ticket_reference": first})

    _, dispatcher = await add_photo({"ticket_reference": second})

    assert responses(dispatcher) == ["utter_photo_refused"]
    assert catalogue.follow_ups == [("photo", first, MEDIA_ID)]


async def test_a_photo_during_an_outage_is_kept_sent_later_and_told_once(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    catalogue.unavailable = True

    _, dispatcher = await add_photo({"ticket_reference": reference})

    assert responses(dispatcher) == ["utter_photo_queued"]
    assert catalogue.follow_ups == []
    catalogue.unavailable = False
    [kept] = await outbox.deliver_due_moves(catalogue)
    assert (kept.move, kept.outcome) == ("photo", "done")
    assert catalogue.follow_ups == [("photo", reference, MEDIA_ID)]
    # The lifecycle announcements do not take it; the photo announcement does, once.
    assert outbox.take_unannounced_moves("citizen-1") == []
    tracker = make_tracker({}, text="/EXTERNAL_request_filed", intent="EXTERNAL_request_filed")
    dispatcher = CollectingDispatcher()
    await ActionAnnounceKeptPhotos().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_photo_added"]
    assert dispatcher.messages[0]["service_request_id"] == reference
    dispatcher = CollectingDispatcher()
    await ActionAnnounceKeptPhotos().run(dispatcher, tracker, {})
    assert dispatcher.messages == []


async def test_a_captioned_photo_sent_as_information_goes_on_with_its_words(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    dispatcher = CollectingDispatcher()
    text = f"add this to {reference}: the lamp from the other side"
    tracker = make_tracker(
        {}, text=text, intent="add_information", metadata={"photo": PHOTO}, input_channel="telegram"
    )

    await ActionFollowUpTicket().run(dispatcher, tracker, {})

    assert responses(dispatcher) == ["utter_follow_up_done"]
    assert catalogue.follow_ups == [("photo", reference, MEDIA_ID), ("comment", reference, text)]


async def test_a_ticket_picked_before_the_photo_waits_for_it(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    events, dispatcher = await add_photo(
        intent="choose_option",
        text=f'/choose_option{{"choice": "{reference}"}}',
        photo=None,
        entities=[{"entity": "choice", "value": reference}],
    )

    assert responses(dispatcher) == ["utter_ask_photo_for_ticket"]
    assert events == [SlotSet("ticket_reference", reference)]
    assert catalogue.follow_ups == []


@pytest.mark.parametrize("asked_before", [True, False])
async def test_a_typed_reference_answers_which_ticket_the_kept_photo_is_for(
    catalogue: FakeOpen311, asked_before: bool
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    tracker = make_tracker(
        {"follow_up_photo": PHOTO["media_url"]},
        text=f"it is {reference}",
        intent="check_status",
        input_channel="telegram",
    )
    last_action = "action_add_photo" if asked_before else "action_follow_up_ticket"
    tracker.events[:0] = [
        {"event": "action", "name": last_action},
        {"event": "action", "name": "action_listen"},
    ]
    dispatcher = CollectingDispatcher()

    events = await ActionFollowUpTicket().run(dispatcher, tracker, {})

    if asked_before:
        assert responses(dispatcher) == ["utter_photo_added"]
        assert catalogue.follow_ups == [("photo", reference, MEDIA_ID)]
        assert SlotSet("follow_up_photo", None) in events
    else:  # a later status question: only the status, the old photo is not sent on a guess
        assert responses(dispatcher) == ["utter_ticket_status_open"]
        assert catalogue.follow_ups == []


async def test_a_bare_typed_reference_answers_which_ticket(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    events, dispatcher = await add_photo(
        {"follow_up_photo": PHOTO["media_url"]}, intent="nlu_fallback", text=reference, photo=None
    )

    assert SlotSet("follow_up_photo", None) in events
    assert responses(dispatcher) == ["utter_photo_added"]
    assert catalogue.follow_ups == [("photo", reference, MEDIA_ID)]


async def test_unclear_words_after_a_photo_are_met_as_anywhere(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True

    events, dispatcher = await add_photo(intent="nlu_fallback", text="blorp", photo=None)

    assert responses(dispatcher) == ["utter_please_rephrase"]
    assert events == []


async def test_a_kept_photo_survives_a_restart_and_a_refusal_is_told(
    catalogue: FakeOpen311, outbox: Outbox, tmp_path: Path
) -> None:
    catalogue.with_extensions = True
    first, second = await file_one(catalogue), await file_one(catalogue)
    await add_photo({"ticket_reference": first})  # the photo is on the first ticket
    catalogue.unavailable = True
    _, dispatcher = await add_photo({"ticket_reference": second})
    assert responses(dispatcher) == ["utter_photo_queued"]

    catalogue.unavailable = False
    reopened = Outbox(tmp_path / "outbox.sqlite3")  # the action server started again
    [kept] = await reopened.deliver_due_moves(catalogue)

    assert (kept.move, kept.outcome, kept.state) == ("photo", "refused", "rejected")
    assert catalogue.follow_ups == [("photo", first, MEDIA_ID)]
    dispatcher = CollectingDispatcher()
    await ActionAnnounceKeptPhotos().run(dispatcher, make_tracker({}), {})
    assert responses(dispatcher) == ["utter_photo_refused"]
    assert dispatcher.messages[0]["service_request_id"] == second


@pytest.mark.parametrize(
    "text",
    [
        "We arrived in March, my son is six and also needs a place at a school near us",
        "Update: the heating in my flat stopped working yesterday and it is freezing",
    ],
)
async def test_a_new_matter_that_says_also_starts_the_intake_when_no_ticket_exists(
    catalogue: FakeOpen311, text: str
) -> None:
    catalogue.with_extensions = True

    events, dispatcher = await follow_up("add_information", text)

    assert responses(dispatcher) == ["utter_comment_taken_as_new_request"]
    assert FollowupAction("action_start_intake") in events
    assert catalogue.follow_ups == []


async def test_a_story_asking_to_add_still_asks_which_ticket(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    text = "I forgot to mention that the lamp I reported also buzzes all night long"

    events, dispatcher = await follow_up("add_information", text)

    assert responses(dispatcher) == ["utter_ask_comment_ticket"]
    assert events == [SlotSet("follow_up_comment", text)]


async def test_a_story_with_also_is_asked_about_when_this_chat_has_tickets(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    await file_one(catalogue)
    text = "The lamp is also leaning towards the road and the cover is hanging off"

    _, dispatcher = await follow_up("add_information", text)

    assert responses(dispatcher) == ["utter_ask_comment_ticket_pick"]
