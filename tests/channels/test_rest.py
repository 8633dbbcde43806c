"""The plain REST channel: Rasa's wire format, and a 400 with a reason for malformed bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage

from channels._base import UNLIMITED
from channels.rest import MAX_BODY_BYTES, RestInput
from tests.channels.conftest import RecordingAgent, serve_channel


async def reply(message: UserMessage) -> None:
    await message.output_channel.send_text_with_buttons(
        message.sender_id, f"You said: {message.text}", [{"title": "Yes", "payload": "/affirm"}]
    )


@pytest.fixture
async def webhook(agent: RecordingAgent) -> AsyncIterator[str]:
    agent.reply = reply
    async with serve_channel(RestInput(rate_limiter=UNLIMITED), agent) as base:
        yield f"{base}/webhook"


async def post(url: str, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as client:
        return await client.post(
            url, content=content, headers={"Content-Type": "application/json"}, **kwargs
        )


async def test_a_message_gets_the_replies_as_rasas_rest_channel_gives_them(
    webhook: str, agent: RecordingAgent
) -> None:
    response = await post(
        webhook, {"sender": "ana", "message": "dark lamp", "metadata": {"photo": {"id": "m"}}}
    )
    assert response.status_code == 200
    assert response.json() == [
        {
            "recipient_id": "ana",
            "text": "You said: dark lamp",
            "buttons": [{"title": "Yes", "payload": "/affirm"}],
        }
    ]
    [message] = agent.messages
    assert (message.sender_id, message.input_channel) == ("ana", "rest")
    assert message.metadata == {"photo": {"id": "m"}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"sender": 42, "message": "hi"}, "invalid_sender"),
        ({"sender": "", "message": "hi"}, "invalid_sender"),
        ({"sender": "x" * 129, "message": "hi"}, "invalid_sender"),
        ({"sender": "a\x00b", "message": "hi"}, "invalid_sender"),
        ({"sender": " ana", "message": "hi"}, "invalid_sender"),
        ({"message": "hi"}, "invalid_sender"),
        ({"sender": "ana", "message": ["hi"]}, "invalid_message"),
        ({"sender": "ana", "message": None}, "invalid_message"),
        ({"sender": "ana"}, "invalid_message"),
        ({"sender": "ana", "message": {"text": "hi"}}, "invalid_message"),
        ({"sender": "ana", "message": "hi", "metadata": []}, "invalid_metadata"),
        ({"sender": "ana", "message": "hi", "metadata": "x"}, "invalid_metadata"),
        (
            {"sender": "ana", "message": "hi", "metadata": {"a": [[[[[[[[[1]]]]]]]]]}},
            "invalid_metadata",
        ),
        ({"sender": "ana", "message": "hi", "input_channel": "telegram"}, "invalid_input_channel"),
        (["sender", "ana"], "invalid_json"),
        ("just a string", "invalid_json"),
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[" * 20_000, "invalid_json"),
        (b'{"a":' * 10_000, "invalid_json"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 30 else "",
)
async def test_a_malformed_body_is_a_400_with_the_reason_and_nothing_is_processed(
    webhook: str, agent: RecordingAgent, body: Any, code: str
) -> None:
    response = await post(webhook, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["description"]
    assert agent.messages == []


async def test_streaming_is_refused_rather_than_answered_another_way(
    webhook: str, agent: RecordingAgent
) -> None:
    response = await post(webhook, {"sender": "ana", "message": "hi"}, params={"stream": "true"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stream_unsupported"
    assert agent.messages == []


async def test_a_body_over_the_cap_is_a_413_and_the_text_is_not_cut(
    webhook: str, agent: RecordingAgent
) -> None:
    response = await post(webhook, {"sender": "ana", "message": "x" * MAX_BODY_BYTES})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert agent.messages == []


async def test_a_long_message_under_the_cap_reaches_the_bot_whole(
    webhook: str, agent: RecordingAgent
) -> None:
    # The bot answers past 2,000 characters itself (bot/payload_gate.py); the channel keeps it.
    text = " ".join(["lamp"] * 2000)
    response = await post(webhook, {"sender": "ana", "message": text})
    assert response.status_code == 200
    assert [m.text for m in agent.messages] == [text]


async def test_a_failing_turn_is_a_503_so_the_client_sends_it_again(
    webhook: str, agent: RecordingAgent
) -> None:
    agent.fail_next = 1
    failed = await post(webhook, {"sender": "ana", "message": "hi"})
    retried = await post(webhook, {"sender": "ana", "message": "hi"})
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "unavailable"
    assert retried.status_code == 200
    assert [m.text for m in agent.messages] == ["hi"]


def test_it_is_built_from_credentials_with_the_common_options() -> None:
    channel = RestInput.from_credentials({"rate_limit_per_minute": "0"})
    assert channel.name() == "rest"
    assert channel.rate_limiter is UNLIMITED
