"""Checking the action server's responses in Rasa, with validators built once.

Rasa 3.6 checks every response of the action server against a JSON schema
(``RemoteAction._validate_action_result``) by calling ``jsonschema.validate``, which builds a
validator and checks the schema itself on every call, then tries each of the 23 event schemas
of a ``oneOf`` for every event. On a typical intake turn that is about 33 ms of the Rasa
process's CPU per action call (docs/benchmarks.md, "Checking action responses").

This module installs a replacement that gives the same verdict from validators built once:
the response without its events, then each event against the one event schema whose
``event`` constant it names (the branches of the ``oneOf`` are told apart by that constant,
so "exactly one branch holds" is "the branch for this name holds"). An event with no known
name is checked against the whole ``oneOf``, so its error reads as Rasa's own would. Errors
carry Rasa's hint about the response format, as before.

Imported by ``bot/__init__.py``, so it is in place whenever Rasa loads the model (the
pipeline names ``bot.command_gate.CommandGate``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_HINT = (
    ". Failed to validate Action server response from API, make sure your response from the "
    f"Action endpoint is valid. For more information about the format visit "
    f"{DOCS_BASE_URL}/custom-actions"
)


class ResponseValidator:
    """Rasa's action response schema, compiled once and checked event by event."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        item = schema["properties"]["events"]["items"]
        branches = item.get("oneOf") or []
        names = [branch.get("properties", {}).get("event", {}).get("const") for branch in branches]
        self._whole = cls(schema)
        self._by_name: dict[str, Any] = {}
        if branches and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            outer = copy.deepcopy(schema)
            outer["properties"]["events"]["items"] = {}
            self._outer = cls(outer)
            base = {key: value for key, value in item.items() if key != "oneOf"}
            self._item = cls(item)
            self._by_name = {
                name: cls({"allOf": [base, branch]})
                for name, branch in zip(names, branches, strict=True)
            }

    def errors(self, result: Any) -> Iterator[ValidationError]:
        """The ways ``result`` breaks the schema (none when it is valid)."""
        if not self._by_name:
            yield from self._whole.iter_errors(result)
            return
        yield from self._outer.iter_errors(result)
        events = result.get("events") if isinstance(result, dict) else None
        if not isinstance(events, list):
            return
        for event in events:
            name = event.get("event") if isinstance(event, dict) else None
            check = self._by_name.get(name) if isinstance(name, str) else None
            yield from (check or self._item).iter_errors(event)

    def validate(self, result: Any) -> None:
        """Raise the most relevant :class:`ValidationError`, with Rasa's hint, if any."""
        error = best_match(self.errors(result))
        if error is not None:
            error.message += _HINT
            raise error


_VALIDATOR = ResponseValidator(RemoteAction.action_response_format_spec())


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    _VALIDATOR.validate(result)
    return True


def install() -> None:
    """Put the compiled check in place of Rasa's (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
