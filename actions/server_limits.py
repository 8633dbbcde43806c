"""What the action server refuses before rasa_sdk reads a request: too much, or not an action call.

rasa_sdk's ``/webhook`` reads the body as an action call and trusts its shape: a JSON list,
a ``tracker`` that is a string or a tracker without ``sender_id`` ends in a 500 with a stack
trace in the log, and a ``Content-Encoding: deflate`` body is inflated without a limit (a few
kilobytes can inflate to gigabytes). Only Rasa calls this server (the action token is checked
first), so none of this comes from a citizen; it is refused all the same, with a JSON 400 or
413 that says why, so that a wrong client or a broken proxy is told what it sent wrong.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from channels._server_limits import apply

WEBHOOK_PATH = "/webhook"
# The parts of a tracker rasa_sdk reads, and the JSON type each must have when present.
_TRACKER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "slots": dict,
    "latest_message": dict,
    "events": list,
    "active_loop": dict,
    "followup_action": str,
    "latest_action_name": str,
}


def install(app: Sanic, limit: int) -> None:
    """Cap bodies at ``limit`` bytes (inflated ones too) and refuse malformed action calls.

    Register it after the token check, so that a caller without the token learns nothing
    about what a well-formed call looks like.
    """
    apply(app, limit)

    @app.on_request
    async def check_action_call(request: Request) -> HTTPResponse | None:
        if request.method != "POST" or request.path != WEBHOOK_PATH or not request.body:
            # Sanic runs request middleware again, body unread, to answer a body over the
            # limit; the 413 must go out then. An empty body rasa_sdk refuses itself (400).
            return None
        if request.headers.get("Content-Encoding") == "deflate":
            return inflated_error(request.body or b"", limit)
        try:
            call = request.json  # parsed once: rasa_sdk reads this same parse
        except (InvalidUsage, RecursionError):
            return _error(400, "invalid_json", "the body is not JSON")
        return call_error(call)


def _error(status: int, code: str, description: str) -> HTTPResponse:
    return json_response({"error": {"code": code, "description": description}}, status=status)


def inflated_error(body: bytes, limit: int) -> HTTPResponse | None:
    """For a deflate body: a 413 past ``limit`` once inflated (inflating stops there), a 400
    if it is not deflate data or not an action call, else ``None``."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        return _error(400, "invalid_body", "the body is not deflate data")
    if len(data) > limit or inflater.unconsumed_tail:
        return _error(413, "body_too_large", f"the inflated body is over {limit} bytes")
    try:
        call = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _error(400, "invalid_json", "the body is not JSON")
    return call_error(call)


def call_error(call: Any) -> HTTPResponse | None:
    """A 400 naming what is wrong with a parsed action call, or ``None`` if nothing is."""
    if not isinstance(call, dict):
        return _error(400, "invalid_json", "the body is not a JSON object")
    if call.get("next_action") is None:
        return None  # rasa_sdk answers "no action" itself
    if not isinstance(call["next_action"], str):
        return _error(400, "invalid_action_call", "next_action must be a string")
    domain = call.get("domain")
    if domain is not None and not isinstance(domain, dict):
        return _error(400, "invalid_action_call", "domain must be an object")
    return _tracker_error(call.get("tracker"))


def _tracker_error(tracker: Any) -> HTTPResponse | None:
    if not isinstance(tracker, dict) or not isinstance(tracker.get("sender_id"), str):
        return _error(400, "invalid_action_call", "tracker must be an object with a sender_id")
    for field, kind in _TRACKER_FIELDS.items():
        value = tracker.get(field)
        if value is not None and not isinstance(value, kind):
            return _error(400, "invalid_action_call", f"tracker.{field} has the wrong type")
    if any(not isinstance(event, dict) for event in tracker.get("events") or []):
        return _error(400, "invalid_action_call", "tracker.events must be objects")
    return None
