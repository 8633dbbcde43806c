"""The parts both forms are built from (actions/form_steps.py), as the action server sees them."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.form_steps import (
    AskStep,
    choice_payload,
    clean_text,
    failed,
    numbered,
    retrying,
    tell_problem,
)
from tests.conftest import make_tracker
from tests.test_domain import DOMAIN


def served_actions() -> set[str]:
    executor = ActionExecutor()
    executor.register_package("actions")
    return set(executor.actions)


def test_the_shared_parts_are_not_served_as_actions_of_their_own() -> None:
    served = served_actions()

    # A shared part taken for an action would be served as "action_ask_" (no slot).
    assert "action_ask_" not in served
    asked_by_forms = {
        f"action_ask_{slot}"
        for form in DOMAIN["forms"].values()
        for slot in form["required_slots"]
        if f"action_ask_{slot}" in DOMAIN["actions"]
    }
    assert asked_by_forms, "the domain names no ask actions: the test is out of date"
    assert asked_by_forms <= served
    assert {"action_cancel_complaint", "action_cancel_follow_up"} <= served


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("  the lamp\tis \x07dark  ", "the lamp is dark"),
        ("\x00 \t", None),
        (42, None),
        (None, None),
    ],
)
def test_clean_text(typed: Any, clean: str | None) -> None:
    assert clean_text(typed) == clean


def test_a_failed_answer_empties_the_slot_and_counts_one_more() -> None:
    tracker = make_tracker({"failed_attempts": 1.0})

    assert failed(tracker, "issue_location", issue_coordinates=None) == {
        "issue_location": None,
        "failed_attempts": 2.0,
        "issue_coordinates": None,
    }


class _Step(AskStep):
    """A step as a form defines it: its numbers, its ways out, maybe its options."""

    slot = "colour"
    response = "utter_ask_colour"

    def __init__(self, options: list[tuple[str, str]] | None = None) -> None:
        self._options = options or []

    def step(self, tracker: Tracker) -> dict[str, int]:
        return {"step": 2, "total": 3}

    def simpler_response(self) -> str:
        return "utter_ways_out"

    def details(self, tracker: Tracker) -> dict[str, Any]:
        return {"hint": "any colour"}

    def options(self, tracker: Tracker) -> list[tuple[str, str]]:
        return self._options


COLOURS = [("red", "Red"), ("blue", "Dark blue")]


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


async def ask(step: AskStep, failures: float) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    await step.run(dispatcher, make_tracker({"failed_attempts": failures}), {})
    return dispatcher


@pytest.mark.parametrize(
    ("count", "other_way"),
    [(0, False), (1, False), (2, True), (3, False), (4, True), (5, False), (6, True)],
)
def test_the_other_way_takes_turns_with_the_plain_question_from_two_failures(
    count: int, other_way: bool
) -> None:
    assert retrying(make_tracker({"failed_attempts": float(count)})) is other_way


def test_no_failures_counted_is_the_plain_question() -> None:
    assert not retrying(make_tracker({}))
    assert not retrying(make_tracker({"failed_attempts": "2"}))


@pytest.mark.parametrize("failures", [0.0, 1.0, 3.0])
async def test_the_plain_question_has_its_details_and_numbers(failures: float) -> None:
    dispatcher = await ask(_Step(COLOURS), failures)

    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_colour"
    assert (message["hint"], message["step"], message["total"]) == ("any colour", 2, 3)


@pytest.mark.parametrize("failures", [2.0, 4.0])
async def test_a_step_with_options_is_asked_again_by_number(failures: float) -> None:
    dispatcher = await ask(_Step(COLOURS), failures)

    assert responses(dispatcher) == ["utter_ways_out", "utter_ask_numbered"]
    numbered = dispatcher.messages[1]
    assert numbered["numbered"] == "1. Red\n2. Dark blue"
    assert [(b["title"], b["payload"]) for b in numbered["buttons"]] == [
        ("Red", '/choose_option{"choice": "red"}'),
        ("Dark blue", '/choose_option{"choice": "blue"}'),
    ]
    assert (numbered["step"], numbered["total"]) == (2, 3)
    assert "question" not in numbered


class _QuestionStep(_Step):
    """A step whose question is data, as a service's own attribute question is."""

    def details(self, tracker: Tracker) -> dict[str, Any]:
        return {"question": "Which colour is the bin?"}


async def test_a_step_with_its_own_question_says_it_again_above_the_numbers() -> None:
    dispatcher = await ask(_QuestionStep(COLOURS), 2.0)

    assert responses(dispatcher) == ["utter_ways_out", "utter_ask_numbered_question"]
    numbered = dispatcher.messages[1]
    assert numbered["question"] == "Which colour is the bin?"
    assert numbered["numbered"] == "1. Red\n2. Dark blue"


@pytest.mark.parametrize("failures", [2.0, 4.0])
async def test_a_step_without_options_is_asked_in_its_other_words(failures: float) -> None:
    dispatcher = await ask(_Step(), failures)

    assert responses(dispatcher) == ["utter_ways_out", "utter_ask_colour_again"]
    again = dispatcher.messages[1]
    assert (again["hint"], again["step"], again["total"]) == ("any colour", 2, 3)


def test_options_given_by_the_caller_stand_in_for_the_steps_own() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"failed_attempts": 2.0})

    assert _Step(COLOURS).ask_again(dispatcher, tracker, [("green", "Green")])
    assert dispatcher.messages[1]["numbered"] == "1. Green"


def test_ask_again_does_nothing_when_it_is_not_time() -> None:
    dispatcher = CollectingDispatcher()

    assert not _Step(COLOURS).ask_again(dispatcher, make_tracker({"failed_attempts": 3.0}))
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("failures", "said"), [(0.0, True), (1.0, True), (2.0, False), (3.0, False)]
)
def test_the_problem_is_said_only_for_the_first_two_failed_answers(
    failures: float, said: bool
) -> None:
    dispatcher = CollectingDispatcher()

    tell_problem(dispatcher, make_tracker({"failed_attempts": failures}), "utter_bad", words="x")

    said_now = [(m["response"], m.get("words")) for m in dispatcher.messages]
    assert said_now == ([("utter_bad", "x")] if said else [])


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ([], ""),
        ([("a", "Alpha")], "1. Alpha"),
        ([("a", "Alpha"), ("b", "Beta"), ("c", "Gamma")], "1. Alpha\n2. Beta\n3. Gamma"),
    ],
)
def test_numbered(options: list[tuple[str, str]], text: str) -> None:
    assert numbered(options) == text


def test_numbered_takes_any_iterable_of_pairs() -> None:
    assert numbered(iter([("x", "Ex"), ("y", "Why")])) == "1. Ex\n2. Why"


def test_choice_payload_fills_the_choice_entity() -> None:
    assert choice_payload('say "hi"') == '/choose_option{"choice": "say \\"hi\\""}'
