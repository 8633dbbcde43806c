"""The parts both forms are built from (actions/form_steps.py), as the action server sees them."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor

from actions.form_steps import clean_text, failed
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
