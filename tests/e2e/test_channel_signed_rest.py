"""Signed REST, full stack: an integrator's signed HTTP client → Rasa with the signed REST
channel → the action server → the back office; proactive messages come back signed to the
integrator's callback URL (a small receiver on 127.0.0.1)."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from channels.signed_rest import SignatureError, sign, verify
from tests.e2e.channel_stack import (
    ChannelStack,
    assert_report_lands_on_the_ticket,
    bot_texts,
    channel_stack,
    citizen_tickets,
    latest_timestamp,
    served_in_background,
    trigger_intent,
    user_events,
)

SECRET = "e2e-signed-rest-secret"
_message_ids = itertools.count(1)


@dataclass
class Callbacks:
    """The integrator's callback endpoint: keeps what arrives with a valid signature."""

    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(
                SECRET,
                request.headers.get("X-CivicDesk-Timestamp"),
                request.headers.get("X-CivicDesk-Signature"),
                body,
            )
        except SignatureError:
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=401)
        self.received.append(json.loads(body))
        return web.json_response({"ok": True})


@dataclass
class Running:
    stack: ChannelStack
    callbacks: Callbacks

    @property
    def webhook(self) -> str:
        return self.stack.webhook_url("signed_rest")


@asynccontextmanager
async def callback_receiver(callbacks: Callbacks) -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_post("/civicdesk", callbacks.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    callbacks = Callbacks()
    with served_in_background(callback_receiver(callbacks)) as server:
        environment = {
            "CIVICDESK_SIGNED_REST_SECRET": SECRET,
            "CIVICDESK_SIGNED_REST_CALLBACK_URL": str(server.make_url("/civicdesk")),
        }
        with channel_stack(
            tmp_path_factory.mktemp("var"), "channels.signed_rest.SignedRestInput:\n", environment
        ) as stack:
            yield Running(stack, callbacks)


def post(running: Running, body: dict[str, Any], *, secret: str = SECRET) -> httpx.Response:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-CivicDesk-Timestamp": timestamp,
        "X-CivicDesk-Signature": sign(secret, timestamp, raw),
    }
    return httpx.post(running.webhook, content=raw, headers=headers, timeout=60)


@dataclass
class PortalCitizen:
    """A citizen on an integrator's portal; the portal signs each message it relays."""

    running: Running
    sender_id: str

    def _deliver(self, **fields: Any) -> None:
        body = {"sender": self.sender_id, "message_id": f"m-{next(_message_ids)}", **fields}
        response = post(self.running, body)
        assert response.status_code == 200, response.text

    def say(self, text: str) -> None:
        self._deliver(message=text)

    def press(self, button: dict[str, Any]) -> None:
        # The portal draws the buttons it got back and sends the pressed one's payload.
        self._deliver(message=button["payload"])

    def share_location(self, latitude: float, longitude: float) -> None:
        self._deliver(location={"latitude": latitude, "longitude": longitude})

    def send_photo(self, data: bytes) -> None:
        self._deliver(photo={"content_type": "image/jpeg", "data": base64.b64encode(data).decode()})


def test_a_report_with_photo_location_and_buttons_lands_on_the_ticket(running: Running) -> None:
    citizen = PortalCitizen(running, "portal-user-1")
    assert_report_lands_on_the_ticket(running.stack, citizen, "signed_rest")


def test_the_replies_come_back_with_their_buttons(running: Running) -> None:
    body = {
        "sender": "portal-user-2",
        "message_id": f"m-{next(_message_ids)}",
        "message": "There is a deep pothole in the road outside the primary school",
    }

    response = post(running, body)

    assert response.status_code == 200
    replies = response.json()
    payloads = [b["payload"] for reply in replies for b in reply.get("buttons", [])]
    assert '/choose_option{"choice": "road_damage"}' in payloads
    assert [r["text"] for r in replies] == bot_texts(running.stack, "portal-user-2")


@pytest.mark.parametrize("secret", ["", "not-the-secret"])
def test_an_unsigned_or_badly_signed_message_creates_nothing(running: Running, secret: str) -> None:
    sender = f"portal-forger-{len(secret)}"
    body = {"sender": sender, "message_id": f"m-{next(_message_ids)}", "message": "A pothole"}

    if secret:
        response = post(running, body, secret=secret)
    else:
        response = httpx.post(running.webhook, json=body, timeout=30)

    assert response.status_code == 401
    assert "code" in response.json()["error"]
    assert user_events(running.stack, sender) == []
    assert citizen_tickets(running.stack, f"signed_rest:{sender}", timeout=0) == []


def test_the_same_message_three_times_is_one_turn(running: Running) -> None:
    body = {"sender": "portal-user-3", "message_id": "retry-1", "message": "hello"}

    responses = [post(running, body) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json()
    assert [r.json() for r in responses[1:]] == [[], []]
    assert [r.headers.get("X-CivicDesk-Duplicate") for r in responses] == [None, "true", "true"]
    assert [e["text"] for e in user_events(running.stack, "portal-user-3")] == ["hello"]


def test_a_proactive_message_is_posted_signed_to_the_callback(running: Running) -> None:
    sender = "portal-user-4"
    body = {"sender": sender, "message_id": f"m-{next(_message_ids)}", "message": "hello"}
    assert post(running, body).status_code == 200
    mark = latest_timestamp(running.stack, sender)

    triggered = trigger_intent(running.stack, sender, "greet", "signed_rest")

    assert triggered.status_code == 200, triggered.text
    said = bot_texts(running.stack, sender, after=mark)
    assert said
    received = [m for m in running.callbacks.received if m.get("recipient_id") == sender]
    assert [m["text"] for m in received] == said
    assert running.callbacks.refused == 0
