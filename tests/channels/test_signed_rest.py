"""Signed REST through a real Sanic server: signatures, replay window, dedup, errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore, RedisDedupStore
from channels._media import BackOfficeMediaUploader
from channels.signed_rest import SignatureError as SignatureError_
from channels.signed_rest import SignedRestInput, sign, verify
from tests.channels.conftest import FakeBackOffice, RecordingAgent, free_port, serve_channel

SECRET = "integrator-shared-secret"


def signed_headers(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-CivicDesk-Timestamp": ts,
        "X-CivicDesk-Signature": sign(secret, ts, body),
    }


def body_of(**fields: Any) -> bytes:
    data = {"sender": "integrator-user-1", "message": "hello", "message_id": "m-1", **fields}
    return json.dumps(data).encode()


@pytest.fixture
async def webhook(agent: RecordingAgent, redis_store: RedisDedupStore) -> AsyncIterator[str]:
    async def reply(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Step 1 of 2")

    agent.reply = reply
    channel = SignedRestInput(SECRET, dedup_store=redis_store)
    async with serve_channel(channel, agent) as base:
        yield f"{base}/webhook"


async def test_a_signed_message_reaches_the_agent_and_replies_come_back(
    webhook: str, agent: RecordingAgent
) -> None:
    body = body_of(location={"latitude": 32.06, "longitude": 118.79})
    async with httpx.AsyncClient() as client:
        response = await client.post(webhook, content=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert response.json() == [{"recipient_id": "integrator-user-1", "text": "Step 1 of 2"}]
    [message] = agent.messages
    assert message.text == "hello"
    assert message.sender_id == "integrator-user-1"
    assert message.input_channel == "signed_rest"
    assert message.metadata["location"] == {"latitude": 32.06, "longitude": 118.79}


def _tamper(headers: dict[str, str]) -> dict[str, str]:
    sig = headers["X-CivicDesk-Signature"]
    return {**headers, "X-CivicDesk-Signature": sig[:-1] + ("0" if sig[-1] != "0" else "1")}


@pytest.mark.parametrize(
    ("make_headers", "code"),
    [
        (lambda body: {"Content-Type": "application/json"}, "missing_signature"),
        (
            lambda body: {
                k: v for k, v in signed_headers(body).items() if k != "X-CivicDesk-Timestamp"
            },
            "missing_signature",
        ),
        (lambda body: signed_headers(body, secret="not-the-secret"), "invalid_signature"),
        (lambda body: _tamper(signed_headers(body)), "invalid_signature"),
        (
            lambda body: signed_headers(body, timestamp=int(time.time()) - 301),
            "expired_signature",
        ),
        (
            lambda body: signed_headers(body, timestamp=int(time.time()) + 301),
            "expired_signature",
        ),
        (
            lambda body: {**signed_headers(body), "X-CivicDesk-Timestamp": "soon"},
            "invalid_timestamp",
        ),
        # A valid signature for another body: the body was changed in transit.
        (lambda body: signed_headers(body_of(message="other")), "invalid_signature"),
    ],
)
async def test_unsigned_or_badly_signed_requests_are_refused_and_nothing_is_processed(
    webhook: str,
    agent: RecordingAgent,
    redis_store: RedisDedupStore,
    make_headers: Any,
    code: str,
) -> None:
    body = body_of()
    async with httpx.AsyncClient() as client:
        response = await client.post(webhook, content=body, headers=make_headers(body))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert agent.messages == []
    # Nothing was claimed either: the same message id, correctly signed, is still processed.
    async with httpx.AsyncClient() as client:
        good = await client.post(webhook, content=body, headers=signed_headers(body))
    assert good.status_code == 200
    assert len(agent.messages) == 1


async def test_the_same_delivery_three_times_is_one_turn(
    webhook: str, agent: RecordingAgent
) -> None:
    body = body_of(message_id="delivery-7")
    async with httpx.AsyncClient() as client:
        responses = [
            await client.post(webhook, content=body, headers=signed_headers(body)) for _ in range(3)
        ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(agent.messages) == 1
    assert responses[1].json() == []
    assert responses[1].headers["X-CivicDesk-Duplicate"] == "true"


async def test_the_message_id_may_come_in_a_header(webhook: str, agent: RecordingAgent) -> None:
    body = json.dumps({"sender": "u", "message": "hi"}).encode()
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            headers = {**signed_headers(body), "X-CivicDesk-Message-Id": "hdr-1"}
            assert (await client.post(webhook, content=body, headers=headers)).status_code == 200
    assert len(agent.messages) == 1
    assert agent.messages[0].message_id == "hdr-1"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (json.dumps({"message": "hi", "message_id": "1"}).encode(), "invalid_sender"),
        (json.dumps({"sender": 5, "message": "hi", "message_id": "1"}).encode(), "invalid_sender"),
        (json.dumps({"sender": "u", "message": "hi"}).encode(), "invalid_message_id"),
        (json.dumps({"sender": "u", "message_id": "1"}).encode(), "invalid_message"),
        (json.dumps({"sender": "u", "message": "", "message_id": "1"}).encode(), "invalid_message"),
        (body_of(message="x" * 5000), "invalid_message"),
        (body_of(location={"latitude": 100, "longitude": 0}), "invalid_location"),
        (body_of(location="here"), "invalid_location"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_bad_input_gets_a_json_400_and_is_not_processed(
    webhook: str, agent: RecordingAgent, body: bytes, code: str
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(webhook, content=body, headers=signed_headers(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert agent.messages == []


async def test_an_oversized_body_is_refused(webhook: str, agent: RecordingAgent) -> None:
    body = body_of(padding="x" * SignedRestInput(SECRET).max_body_bytes)
    async with httpx.AsyncClient() as client:
        response = await client.post(webhook, content=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert agent.messages == []


def test_verify_accepts_only_the_right_signature() -> None:
    body = b'{"a":1}'
    verify(SECRET, "1000", sign(SECRET, 1000, body), body, now=1100)
    with pytest.raises(SignatureError_):
        verify(SECRET, "1000", sign(SECRET, 1000, body), body, now=1301)
    with pytest.raises(SignatureError_):
        verify(SECRET, "1000", sign(SECRET, 1000, body).upper(), body, now=1000)


def test_a_channel_without_a_secret_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICDESK_SIGNED_REST_SECRET", raising=False)
    with pytest.raises(ValueError, match="secret"):
        SignedRestInput.from_credentials({})
    monkeypatch.setenv("CIVICDESK_SIGNED_REST_SECRET", "from-env")
    assert isinstance(SignedRestInput.from_credentials(None), SignedRestInput)


async def test_proactive_messages_are_posted_signed_to_the_callback() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def callback(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.json_response({}, status=202)

    app = web.Application()
    app.router.add_post("/cb", callback)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        channel = SignedRestInput(SECRET, callback_url=str(server.make_url("/cb")))
        output = channel.get_output_channel()
        assert output is not None
        await output.send_response("u-1", {"text": "Your ticket CD-1 is closed"})
    finally:
        await server.close()
    [(headers, body)] = received
    verify(SECRET, headers["X-CivicDesk-Timestamp"], headers["X-CivicDesk-Signature"], body)
    assert json.loads(body) == {"recipient_id": "u-1", "text": "Your ticket CD-1 is closed"}
    assert SignedRestInput(SECRET).get_output_channel() is None


async def test_a_failing_turn_is_a_json_503_and_the_retry_is_processed(
    webhook: str, agent: RecordingAgent
) -> None:
    agent.fail_next = 1
    body = body_of(message_id="retry-1")
    async with httpx.AsyncClient() as client:
        failed = await client.post(webhook, content=body, headers=signed_headers(body))
        retried = await client.post(webhook, content=body, headers=signed_headers(body))
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "unavailable"
    assert retried.status_code == 200
    assert len(agent.messages) == 1


PHOTO = b"\xff\xd8\xff\xe0 a jpeg from the portal"


def photo_field(data: bytes = PHOTO, content_type: str = "image/jpeg") -> dict[str, str]:
    return {"content_type": content_type, "data": base64.b64encode(data).decode()}


@pytest.fixture
async def photo_webhook(
    agent: RecordingAgent, backoffice: FakeBackOffice
) -> AsyncIterator[tuple[str, FakeBackOffice]]:
    channel = SignedRestInput(
        SECRET,
        uploader=BackOfficeMediaUploader(backoffice.url, backoffice.api_key),
        max_photo_bytes=1000,
        dedup_store=MemoryDedupStore(),
    )
    async with serve_channel(channel, agent) as base:
        yield f"{base}/webhook", backoffice


async def test_a_photo_is_uploaded_once_and_travels_in_the_metadata(
    photo_webhook: tuple[str, FakeBackOffice], agent: RecordingAgent
) -> None:
    webhook, backoffice = photo_webhook
    body = json.dumps({"sender": "portal-9", "message_id": "p-1", "photo": photo_field()}).encode()
    async with httpx.AsyncClient() as client:
        responses = [
            await client.post(webhook, content=body, headers=signed_headers(body)) for _ in range(3)
        ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [u["data"] for u in backoffice.uploads] == [PHOTO], "a redelivery uploads nothing"
    [message] = agent.messages
    assert message.text == "/share_photo"
    assert message.metadata["photo"] == {
        "media_id": "m1",
        "media_url": f"{backoffice.url}/media/m1",
    }


@pytest.mark.parametrize(
    ("photo", "status", "code"),
    [
        ("a photo", 400, "invalid_photo"),
        ({"content_type": "image/jpeg", "data": "not base64!"}, 400, "invalid_photo"),
        ({"content_type": "image/jpeg", "data": ""}, 400, "invalid_photo"),
        (photo_field(content_type="application/pdf"), 400, "invalid_photo"),
        (photo_field(b"x" * 1001), 413, "photo_too_large"),
    ],
)
async def test_a_bad_photo_is_refused_and_nothing_is_stored_or_processed(
    photo_webhook: tuple[str, FakeBackOffice],
    agent: RecordingAgent,
    photo: Any,
    status: int,
    code: str,
) -> None:
    webhook, backoffice = photo_webhook
    body = body_of(photo=photo)
    async with httpx.AsyncClient() as client:
        response = await client.post(webhook, content=body, headers=signed_headers(body))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert backoffice.uploads == []
    assert agent.messages == []


async def test_a_back_office_outage_is_a_503_and_the_retry_is_processed(
    photo_webhook: tuple[str, FakeBackOffice], agent: RecordingAgent
) -> None:
    webhook, backoffice = photo_webhook
    body = body_of(message="the lamp", photo=photo_field())
    backoffice.status = 503
    async with httpx.AsyncClient() as client:
        refused = await client.post(webhook, content=body, headers=signed_headers(body))
        backoffice.status = 201
        retried = await client.post(webhook, content=body, headers=signed_headers(body))
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "media_unavailable"
    assert retried.status_code == 200
    [message] = agent.messages
    assert message.text == "the lamp"
    assert message.metadata["photo"]["media_id"] == "m1"
