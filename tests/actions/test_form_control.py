"""Never stuck: why, skip, back and a person, at any step of the intake."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.attribute_answers import question_from_attribute
from actions.form_control import (
    ActionExplainStep,
    ActionGoBack,
    ActionHandOff,
    ActionSkipStep,
)
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


async def test_required_steps_cannot_be_skipped(catalogue: FakeOpen311) -> None:
    events, dispatcher = await run(ActionSkipStep(), {"requested_slot": "issue_location"})

    assert events == []
    assert responses(dispatcher) == ["utter_step_required"]


@pytest.mark.parametrize(
    ("slots", "expected"),
    [
        ({"requested_slot": "service_code"}, {"issue_description": None}),
        ({"requested_slot": "confirm_submission"}, {"issue_location": None}),
        (
            {"requested_slot": "issue_photo", "service_needs_photo": True},
            {"issue_location": None, "issue_coordinates": None},
        ),
        (
            {"requested_slot": "confirm_submission", "service_needs_photo": True},
            {"issue_photo": None},
        ),
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


async def test_a_person_is_offered_and_answers_kept() -> None:
    events, dispatcher = await run(ActionHandOff(), {"issue_description": "dark lamp"})

    assert events == []
    assert responses(dispatcher) == ["utter_handoff"]
