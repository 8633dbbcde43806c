"""The compiled check of action server responses gives Rasa's own verdict, much faster."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)

import bot  # noqa: F401  (installs the check, as Rasa's loading of the pipeline does)
from bot.action_results import ResponseValidator

SPEC = RemoteAction.action_response_format_spec()
VALID_EVENTS = [
    SlotSet("service_attributes", {"position": ["road"]}).as_dict(),
    SlotSet("failed_attempts", 0.0).as_dict(),
    BotUttered("Step 3 of 6", {"buttons": [{"title": "Yes", "payload": "/affirm"}]}).as_dict(),
    ActiveLoop("intake_form").as_dict(),
    ActiveLoop(None).as_dict(),
    FollowupAction("action_listen").as_dict(),
    ActionExecuted("action_listen").as_dict(),
    UserUttered("hello", {"name": "greet", "confidence": 1.0}).as_dict(),
    Restarted().as_dict(),
    AllSlotsReset().as_dict(),
    SessionStarted().as_dict(),
]
RESPONSES: list[Any] = [
    {"events": VALID_EVENTS, "responses": [{"text": "hi", "buttons": []}]},
    {"events": [], "responses": []},
    {},
    {"events": [{"event": "slot", "name": 3, "value": 1}]},  # a name that is not a string
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "x"}]},  # no event name
    {"events": ["slot"]},
    {"events": {"event": "slot"}},
    {"responses": "hello"},
    {"responses": [1]},
    [],
    {"events": [{"event": "active_loop", "name": 5}]},
    {"events": [{"event": "bot", "text": 7}]},
]


def rasa_verdict(result: Any) -> bool:
    try:
        jsonschema.validate(result, SPEC)
    except jsonschema.ValidationError:
        return False
    return True


def our_verdict(result: Any) -> bool:
    try:
        ResponseValidator(SPEC).validate(result)
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("result", RESPONSES, ids=[str(i) for i in range(len(RESPONSES))])
def test_the_verdict_is_rasas(result: Any) -> None:
    assert our_verdict(result) == rasa_verdict(result)


def test_both_verdicts_occur() -> None:
    verdicts = {rasa_verdict(result) for result in RESPONSES}
    assert verdicts == {True, False}, "the cases include valid and invalid responses"


def test_rasa_uses_the_compiled_check_and_keeps_its_hint() -> None:
    action = RemoteAction("action_anything", None)

    assert action._validate_action_result({"events": VALID_EVENTS}) is True
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server"):
        action._validate_action_result({"events": [{"event": "no_such_event"}]})
