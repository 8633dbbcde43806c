"""The action server refuses too much and malformed action calls with a JSON 413/400, on the
app ``python -m actions`` runs; a well-formed call still runs its action."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sanic import Sanic

from actions import metrics
from actions.__main__ import TOKEN_HEADER, create_server_app
from actions.settings import ActionSettings
from channels._server_limits import ACTIONS_ENV
from tests.channels.conftest import serve_app
from tests.channels.test_server_limits import headers_only
from tests.fakes import FakeOpen311

AUTH = {TOKEN_HEADER: "action-secret", "Content-Type": "application/json"}
LIMIT = 200_000
TRACKER = {
    "sender_id": "rest:m-7",
    "slots": {},
    "latest_message": {},
    "events": [],
    "paused": False,
    "followup_action": None,
    "active_loop": {},
    "latest_action_name": None,
}


def call(**changes: object) -> dict[str, object]:
    return {
        "next_action": "action_announce_kept_photos",
        "sender_id": "rest:m-7",
        "tracker": TRACKER,
        "domain": {},
        "version": "3.6.21",
        **changes,
    }


@pytest.fixture
async def base(catalogue: FakeOpen311, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv(ACTIONS_ENV, str(LIMIT))
    Sanic.test_mode = True
    app = create_server_app(ActionSettings(action_token=SecretStr("action-secret")), relay=False)
    try:
        async with serve_app(app) as url:
            yield url
    finally:
        metrics.uninstrument(app)


async def post(base: str, body: bytes, headers: dict[str, str] = AUTH) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{base}/webhook", content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{nope", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"[" * 5000, "invalid_json"),
        (json.dumps(call(next_action=7)).encode(), "invalid_action_call"),
        (json.dumps(call(tracker="junk")).encode(), "invalid_action_call"),
        (json.dumps(call(tracker={"slots": {}})).encode(), "invalid_action_call"),
        (json.dumps(call(tracker={**TRACKER, "slots": []})).encode(), "invalid_action_call"),
        (json.dumps(call(tracker={**TRACKER, "events": [1]})).encode(), "invalid_action_call"),
        (json.dumps(call(tracker={**TRACKER, "active_loop": "x"})).encode(), "invalid_action_call"),
        (json.dumps(call(domain=[])).encode(), "invalid_action_call"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_a_malformed_action_call_is_a_400_not_a_500(
    base: str, body: bytes, code: str
) -> None:
    response = await post(base, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


async def test_a_well_formed_call_still_runs_and_deflate_still_works(base: str) -> None:
    plain = await post(base, json.dumps(call()).encode())
    packed = await post(
        base, zlib.compress(json.dumps(call()).encode()), {**AUTH, "Content-Encoding": "deflate"}
    )
    assert plain.status_code == 200
    assert packed.status_code == 200
    assert packed.json() == plain.json()
    assert set(plain.json()) == {"events", "responses"}


async def test_too_much_is_a_413_inflated_or_not(base: str) -> None:
    big = json.dumps(call(padding="x" * LIMIT)).encode()
    bomb = zlib.compress(b" " * (LIMIT * 50))  # a few hundred bytes that inflate to 10 MB
    assert len(bomb) < LIMIT
    raw = await post(base, big)
    inflated = await post(base, bomb, {**AUTH, "Content-Encoding": "deflate"})
    broken = await post(base, b"not deflate", {**AUTH, "Content-Encoding": "deflate"})
    assert (raw.status_code, raw.json()["error"]["code"]) == (413, "body_too_large")
    assert (inflated.status_code, inflated.json()["error"]["code"]) == (413, "body_too_large")
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "invalid_body")


async def test_without_the_token_the_shape_is_not_even_looked_at(base: str) -> None:
    response = await post(base, b"[1]", {"Content-Type": "application/json"})
    assert response.status_code == 401


async def test_an_empty_body_is_refused_by_rasa_sdk_itself(base: str) -> None:
    response = await post(base, b"")
    assert response.status_code == 400


async def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(base: str) -> None:
    # Only the headers go: the 413 comes back without the server waiting for the body.
    answer = await headers_only(base, "/webhook", LIMIT + 1, {TOKEN_HEADER: "action-secret"})
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"body_too_large" in answer
