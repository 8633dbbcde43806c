"""Never stuck: why, skip, back and a person, at any step of the intake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import dependencies
from actions.attribute_answers import question_from_attribute
from actions.form_control import (
    ActionExplainStep,
    ActionGoBack,
    ActionHandOff,
    ActionSkipStep,
)
from actions.outbox import Outbox
from actions.reference_push import relay_round
from actions.report_issue import announce_delivered
from actions.settings import ActionSettings
from open311_schema import NewServiceRequest
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311, list_attribute

QUESTIONS = [
    question_from_attribute(list_attribute("position", 1, "road")),
    question_from_attribute(list_attribute("size", 2, "small")),
]


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


def slot_values(events: list[Any]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


async def run(action: Any, slots: dict[str, Any]) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots, active_loop="intake_form")
    return await action.run(dispatcher, tracker, {}), dispatcher


@pytest.mark.parametrize(
    ("step", "response"),
    [
        ("issue_location", "utter_why_issue_location"),
        ("attribute_answer", "utter_why_attribute_answer"),
        ("issue_photo", "utter_why_issue_photo"),
        ("contact_choice", "utter_why_contact_choice"),
        ("contact_details", "utter_why_contact_details"),
        ("contact_name", "utter_why_contact_name"),
        (None, "utter_why_general"),
    ],
)
async def test_why_explains_the_open_step(step: str | None, response: str) -> None:
    events, dispatcher = await run(ActionExplainStep(), {"requested_slot": step})

    assert responses(dispatcher) == [response]
    assert events == [], "explaining changes nothing; the form asks the same step again"


async def test_skipping_the_service_choice_uses_the_fallback(catalogue: FakeOpen311) -> None:
    events, dispatcher = await run(ActionSkipStep(), {"requested_slot": "service_code"})

    assert slot_values(events)["service_code"] == "other_problem"
    assert responses(dispatcher) == ["utter_step_skipped"]


async def test_the_photo_step_can_be_skipped(catalogue: FakeOpen311) -> None:
    events, dispatcher = await run(ActionSkipStep(), {"requested_slot": "issue_photo"})

    assert slot_values(events)["issue_photo"] == "skipped"
    assert responses(dispatcher) == ["utter_step_skipped"]


@pytest.mark.parametrize("step", ["contact_choice", "contact_details"])
async def test_skipping_the_contact_steps_means_replies_in_this_chat_only(step: str) -> None:
    events, dispatcher = await run(
        ActionSkipStep(),
        {"requested_slot": step, "contact_choice": "contact", "contact_phone": "0612345678"},
    )

    values = slot_values(events)
    assert values["contact_choice"] == "anonymous"
    assert values["contact_phone"] is None
    assert responses(dispatcher) == ["utter_step_skipped"]


async def test_the_name_can_be_skipped() -> None:
    events, dispatcher = await run(ActionSkipStep(), {"requested_slot": "contact_name"})

    assert slot_values(events) == {"contact_name": "no_name", "failed_attempts": 0.0}
    assert responses(dispatcher) == ["utter_step_skipped"]


async def test_required_steps_cannot_be_skipped(catalogue: FakeOpen311) -> None:
    events, dispatcher = await run(ActionSkipStep(), {"requested_slot": "issue_location"})

    assert slot_values(events) == {"failed_attempts": 1.0}, "counted, so it is asked another way"
    assert responses(dispatcher) == ["utter_step_required"]


async def test_asking_again_to_skip_a_required_step_is_answered_in_other_words(
    catalogue: FakeOpen311,
) -> None:
    said = []
    failures = 0.0
    for _ in range(4):
        slots = {"requested_slot": "issue_location", "failed_attempts": failures}
        events, dispatcher = await run(ActionSkipStep(), slots)
        said += responses(dispatcher)
        failures = slot_values(events)["failed_attempts"]

    assert said == ["utter_step_required", "utter_step_required_again"] * 2
    assert failures == 4.0


@pytest.mark.parametrize(
    ("slots", "expected"),
    [
        ({"requested_slot": "service_code"}, {"issue_description": None}),
        ({"requested_slot": "contact_choice"}, {"issue_location": None}),
        (
            {"requested_slot": "issue_photo", "service_needs_photo": True},
            {"issue_location": None, "issue_coordinates": None},
        ),
        (
            {"requested_slot": "contact_choice", "service_needs_photo": True},
            {"issue_photo": None},
        ),
        ({"requested_slot": "confirm_submission"}, {"contact_choice": None}),
        (
            {"requested_slot": "confirm_submission", "contact_choice": "contact"},
            {"contact_name": None},
        ),
        (
            {"requested_slot": "contact_name", "contact_choice": "contact"},
            {"contact_details": None, "contact_phone": None, "contact_email": None},
        ),
        ({"requested_slot": "contact_details"}, {"contact_choice": None}),
        (
            {
                "requested_slot": "issue_location",
                "service_questions": QUESTIONS,
                "service_attributes": {"position": ["road"], "size": ["small"]},
            },
            {"service_attributes": {"position": ["road"]}},
        ),
        (
            {"requested_slot": "attribute_answer", "service_questions": QUESTIONS},
            {"service_code": None},
        ),
    ],
)
async def test_back_empties_the_previous_step(
    slots: dict[str, Any], expected: dict[str, Any]
) -> None:
    events, dispatcher = await run(ActionGoBack(), slots)

    values = slot_values(events)
    assert {key: values[key] for key in expected} == expected
    assert responses(dispatcher) == ["utter_going_back"]


async def test_back_at_the_first_step_says_so() -> None:
    events, dispatcher = await run(ActionGoBack(), {"requested_slot": "issue_description"})

    assert events == []
    assert responses(dispatcher) == ["utter_nothing_to_go_back_to"]


async def test_without_an_identity_a_person_is_offered_by_phone_and_answers_kept() -> None:
    events, dispatcher = await run(ActionHandOff(), {"issue_description": "dark lamp"})

    assert events == []
    assert responses(dispatcher) == ["utter_handoff", "utter_handoff_answers_kept"]


def conversation(
    *said: str, slots: dict[str, Any] | None = None, loop: str | None = None
) -> Tracker:
    """A telegram conversation in which the citizen said ``said`` (bot turns in between)."""
    events: list[dict[str, Any]] = [{"event": "session_started"}]
    for text in said:
        events.append({"event": "user", "text": text, "input_channel": "telegram"})
        events.append({"event": "bot", "text": "..."})
    return Tracker(
        sender_id="12345",
        slots=slots or {},
        latest_message={"text": said[-1], "intent": {"name": "request_human"}, "entities": []},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": loop} if loop else {},
        latest_action_name="action_listen",
    )


async def test_a_handoff_carries_the_last_few_things_the_citizen_typed(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    tracker = conversation(
        "hello",
        "my bin was not emptied",
        '/choose_option{"choice": "2"}',
        "why is that",
        "talk to a person",
    )
    dispatcher = CollectingDispatcher()

    events = await ActionHandOff().run(dispatcher, tracker, {})

    assert events == []
    assert catalogue.handoffs == [
        ("telegram:12345", "my bin was not emptied\nwhy is that\ntalk to a person", None)
    ]
    assert responses(dispatcher) == ["utter_handoff_filed"]
    told = dispatcher.messages[0]
    assert told["department"] == "Street Lighting"
    assert told["expected_response"] == "2026-12-01 09:30 UTC"
    assert told["expected_response_hours"] == 24


async def test_a_handoff_names_the_ticket_of_this_conversation(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    created = await catalogue.create_request(
        NewServiceRequest(
            "street_light", description="d", address_string="1 Main St", account_id="telegram:12345"
        )
    )
    tracker = conversation(
        "a person please", slots={"ticket_reference": created.service_request_id}
    )

    await ActionHandOff().run(CollectingDispatcher(), tracker, {})

    assert catalogue.handoffs == [("telegram:12345", "a person please", created.service_request_id)]


@pytest.mark.parametrize("kept_first", [False, True])
async def test_a_handoff_about_another_chats_ticket_reaches_a_person_without_it(
    catalogue: FakeOpen311, tmp_path: Path, kept_first: bool
) -> None:
    catalogue.with_extensions = True
    theirs = await catalogue.create_request(
        NewServiceRequest(
            "street_light", description="d", address_string="1 Main St", account_id="telegram:9"
        )
    )
    outbox = Outbox(tmp_path / "kept.sqlite3")
    dependencies.override(client=catalogue, settings=ActionSettings(), outbox=outbox)
    catalogue.unavailable = kept_first
    tracker = conversation("a person please", slots={"ticket_reference": theirs.service_request_id})

    await ActionHandOff().run(CollectingDispatcher(), tracker, {})
    catalogue.unavailable = False
    if kept_first:
        assert catalogue.handoffs == []
        [sent] = await outbox.deliver_due_handoffs(catalogue)
        assert sent.state == "delivered"

    assert catalogue.handoffs == [("telegram:12345", "a person please", None)]


async def test_a_handoff_in_the_intake_keeps_its_answers(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    tracker = conversation(
        "the lamp is dark",
        "person",
        slots={"issue_description": "the lamp is dark"},
        loop="intake_form",
    )
    dispatcher = CollectingDispatcher()

    events = await ActionHandOff().run(dispatcher, tracker, {})

    assert events == [], "no slot of the intake is touched"
    assert responses(dispatcher) == ["utter_handoff_filed", "utter_handoff_answers_kept"]
    assert catalogue.handoffs[0][1] == "the lamp is dark\nperson"


async def test_a_button_press_alone_still_files_the_intakes_problem(
    catalogue: FakeOpen311,
) -> None:
    catalogue.with_extensions = True
    tracker = conversation(
        "/request_human", slots={"issue_description": "bin not emptied"}, loop="intake_form"
    )

    await ActionHandOff().run(CollectingDispatcher(), tracker, {})

    assert catalogue.handoffs == [("telegram:12345", "bin not emptied", None)]


async def test_a_handoff_is_kept_while_the_back_office_is_down_and_sent_later(
    catalogue: FakeOpen311, tmp_path: Path
) -> None:
    now = [1000.0]
    outbox = Outbox(tmp_path / "kept.sqlite3", clock=lambda: now[0], rng=lambda: 0.5)
    dependencies.override(client=catalogue, settings=ActionSettings(), outbox=outbox)
    catalogue.with_extensions = True
    catalogue.unavailable = True
    dispatcher = CollectingDispatcher()

    await ActionHandOff().run(dispatcher, conversation("my water bill is wrong", "a human"), {})

    assert responses(dispatcher) == ["utter_handoff_queued"]
    assert catalogue.handoffs == []
    assert await outbox.deliver_due_handoffs(catalogue) != []
    assert catalogue.handoffs == [], "still down: kept for the next round"

    catalogue.unavailable = False
    await relay_round(outbox, catalogue, None)
    assert catalogue.handoffs == [], "not before its retry time"
    now[0] += 3600
    await relay_round(outbox, catalogue, None)

    assert catalogue.handoffs == [("telegram:12345", "my water bill is wrong\na human", None)]
    await relay_round(outbox, catalogue, None)
    assert len(catalogue.handoffs) == 1, "sent once"
    # Every try, the first one in the turn included, asked with one key: a first try that
    # timed out after the back office took it is the same handoff as the relay's.
    assert len(catalogue.handoff_keys) >= 3
    assert len(set(catalogue.handoff_keys)) == 1
    assert catalogue.handoff_keys[0]

    # The citizen then hears who will answer and by when, once.
    told = CollectingDispatcher()
    await announce_delivered(told, conversation("hello"))
    assert responses(told) == ["utter_queued_handoff_filed"]
    assert told.messages[0]["department"] == "Street Lighting"
    assert told.messages[0]["expected_response"] == "2026-12-01 09:30 UTC"
    again = CollectingDispatcher()
    await announce_delivered(again, conversation("hello"))
    assert again.messages == []


async def test_a_server_without_handoffs_gives_the_phone_number(catalogue: FakeOpen311) -> None:
    dispatcher = CollectingDispatcher()

    await ActionHandOff().run(dispatcher, conversation("a person"), {})

    assert responses(dispatcher) == ["utter_handoff"]


async def test_not_knowing_takes_the_option_that_says_so() -> None:
    question = question_from_attribute(list_attribute("neighbours", 1, "yes", "no", "unknown"))
    slots = {
        "requested_slot": "attribute_answer",
        "service_questions": [question],
        "service_attributes": {},
    }
    events, dispatcher = await run(ActionSkipStep(), slots)

    assert slot_values(events)["service_attributes"] == {"neighbours": ["unknown"]}
    assert responses(dispatcher) == ["utter_answer_taken"]


async def test_a_question_without_such_an_option_stays_required() -> None:
    slots = {"requested_slot": "attribute_answer", "service_questions": QUESTIONS}
    events, dispatcher = await run(ActionSkipStep(), slots)

    assert slot_values(events) == {"failed_attempts": 1.0}
    assert responses(dispatcher) == ["utter_step_required"]
