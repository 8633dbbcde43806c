"""Points for confirmed reports in the chat: the offer after filing, the answer, "my points"."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.open311_client import CitizenPoints, PointsAward
from actions.points import (
    MAX_LISTED,
    OFFER_SLOT,
    ActionAnswerPointsOffer,
    ActionShowPoints,
    references_of,
)
from actions.report_issue.submission import ActionSubmitComplaint
from open311_schema import NewServiceRequest
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311
from tests.test_domain import DOMAIN as DOMAIN_FILE

IDENTITY = "telegram:citizen-1"
FILED = {
    "issue_description": "The street lamp outside no. 12 has been dark for a week",
    "issue_location": "12 Jiefang Road",
    "service_code": "street_light",
    "service_name": "Street light out",
    "service_questions": [],
    "service_attributes": {},
    "contact_choice": "anonymous",
    "confirm_submission": "submit",
    "intake_kind": "report_issue",
}


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


async def submit(slots: dict[str, Any]) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots, intent="affirm", text="yes", input_channel="telegram")
    return await ActionSubmitComplaint().run(dispatcher, tracker, {}), dispatcher


async def answer(
    intent: str, slots: dict[str, Any], text: str = "", *, after: str = "utter_offer_points"
) -> tuple[list[Any], CollectingDispatcher]:
    """The citizen's message right after the bot said ``after`` (a response key)."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots, intent=intent, text=text, input_channel="telegram")
    tracker.events[:0] = [
        {"event": "user", "text": "send it", "input_channel": "telegram"},
        {"event": "bot", "text": "...", "metadata": {"utter_action": after}},
    ]
    return await ActionAnswerPointsOffer().run(dispatcher, tracker, {}), dispatcher


async def show() -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({}, intent="show_points", text="my points", input_channel="telegram")
    await ActionShowPoints().run(dispatcher, tracker, {})
    return dispatcher


async def file_one(catalogue: FakeOpen311) -> str:
    created = await catalogue.create_request(
        NewServiceRequest("street_light", description="dark", account_id=IDENTITY)
    )
    assert created.service_request_id
    return created.service_request_id


# --- the offer -------------------------------------------------------------------------------


async def test_a_filed_complaint_is_followed_by_the_points_question(
    catalogue: FakeOpen311,
) -> None:
    events, dispatcher = await submit(FILED)

    assert responses(dispatcher) == [
        "utter_complaint_filed",
        "utter_what_happens_next",
        "utter_offer_points",
    ]
    assert SlotSet(OFFER_SLOT, "CD-TEST01") in events
    assert catalogue.points_opt_in == {}, "nothing is sent before the citizen answers"


async def test_applications_and_feedback_get_no_points_question(catalogue: FakeOpen311) -> None:
    for kind in ("request_service", "give_feedback"):
        events, dispatcher = await submit({**FILED, "intake_kind": kind})

        assert "utter_offer_points" not in responses(dispatcher)
        assert SlotSet(OFFER_SLOT, None) in events


async def test_a_queued_filing_asks_nothing_about_points(catalogue: FakeOpen311) -> None:
    catalogue.unavailable = True

    events, dispatcher = await submit(FILED)

    assert responses(dispatcher) == ["utter_submission_queued"]
    assert [e for e in events if e.get("name") == OFFER_SLOT] == []


def test_the_question_says_points_are_never_taken_away_in_both_languages() -> None:
    english, chinese = DOMAIN_FILE["responses"]["utter_offer_points"]

    assert "never taken away or used against you" in english["text"]
    assert "不会被用来对您不利" in chinese["text"]
    for variation in (english, chinese):
        assert [b["payload"] for b in variation["buttons"]] == ["/affirm", "/deny"]


# --- the answer ------------------------------------------------------------------------------


async def test_yes_right_after_the_offer_opts_in(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    events, dispatcher = await answer("affirm", {OFFER_SLOT: reference}, "yes please")

    assert catalogue.points_opt_in == {reference: True}
    assert responses(dispatcher) == ["utter_points_opted_in"]
    assert dispatcher.messages[0]["service_request_id"] == reference
    assert events == [SlotSet(OFFER_SLOT, None)]


async def test_no_thanks_is_sent_too(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    events, dispatcher = await answer("deny", {OFFER_SLOT: reference}, "不用了")

    assert catalogue.points_opt_in == {reference: False}
    assert responses(dispatcher) == ["utter_points_declined"]
    assert events == [SlotSet(OFFER_SLOT, None)]


async def test_a_back_office_outage_keeps_the_question_open(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    catalogue.unavailable = True

    events, dispatcher = await answer("affirm", {OFFER_SLOT: reference})

    assert responses(dispatcher) == ["utter_points_answer_not_sent"]
    assert events == [], "the offer stays, so the next tap sends it"
    catalogue.unavailable = False
    events, dispatcher = await answer(
        "affirm", {OFFER_SLOT: reference}, after="utter_points_answer_not_sent"
    )
    assert catalogue.points_opt_in == {reference: True}
    assert responses(dispatcher) == ["utter_points_opted_in"]


async def test_a_yes_with_no_question_open_is_a_stray_answer(catalogue: FakeOpen311) -> None:
    events, dispatcher = await answer("affirm", {})

    assert events == [FollowupAction("action_answer_stray_reply")]
    assert dispatcher.messages == []


async def test_a_question_left_unanswered_is_not_answered_by_a_later_yes(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)

    # The question was ignored; later a filing waited in the outbox, and "yes" came after it.
    events, _ = await answer("affirm", {OFFER_SLOT: reference}, after="utter_submission_queued")

    assert events == [FollowupAction("action_answer_stray_reply")]
    assert catalogue.points_opt_in == {}


async def test_a_server_without_points_says_so_and_closes_the_question(
    catalogue: FakeOpen311,
) -> None:
    reference = await file_one(catalogue)  # extensions off: no points endpoints

    events, dispatcher = await answer("affirm", {OFFER_SLOT: reference})

    assert responses(dispatcher) == ["utter_points_not_available"]
    assert events == [SlotSet(OFFER_SLOT, None)]


# --- my points -------------------------------------------------------------------------------


async def test_no_points_yet_says_how_they_are_earned(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True

    dispatcher = await show()

    assert responses(dispatcher) == ["utter_points_none"]
    assert "confirms" in DOMAIN_FILE["responses"]["utter_points_none"][0]["text"]


async def test_my_points_names_each_confirmed_report(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    first, second, declined = [await file_one(catalogue) for _ in range(3)]
    for reference in (first, second):
        await catalogue.set_points_opt_in(IDENTITY, reference, True)
    await catalogue.set_points_opt_in(IDENTITY, declined, False)
    for reference in (first, second, declined):
        catalogue.confirm(reference)

    dispatcher = await show()

    assert responses(dispatcher) == ["utter_points_balance"]
    assert dispatcher.messages[0]["balance"] == 2
    assert dispatcher.messages[0]["references"] == f"{second}, {first}"


async def test_one_point_is_said_in_the_singular(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    reference = await file_one(catalogue)
    await catalogue.set_points_opt_in(IDENTITY, reference, True)
    catalogue.confirm(reference)

    dispatcher = await show()

    assert responses(dispatcher) == ["utter_points_balance_one"]
    assert dispatcher.messages[0]["references"] == reference


async def test_my_points_with_the_back_office_down(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    catalogue.unavailable = True

    assert responses(await show()) == ["utter_points_unreachable"]


def test_a_long_history_is_cut_and_bigger_awards_say_how_many() -> None:
    awards = tuple(
        PointsAward(
            points=2 if n == 0 else 1, reason="report_confirmed", service_request_id=f"CD-{n}"
        )
        for n in range(MAX_LISTED + 3)
    )

    listed = references_of(CitizenPoints(balance=MAX_LISTED + 4, awards=awards))

    assert listed.startswith("CD-0 (2), CD-1, ")
    assert listed.endswith(f"CD-{MAX_LISTED - 1}, …")


def test_every_points_response_has_both_languages() -> None:
    keys = [key for key in DOMAIN_FILE["responses"] if "points" in key]

    assert len(keys) == 10
    for key in keys:
        assert len(DOMAIN_FILE["responses"][key]) == 2, key
