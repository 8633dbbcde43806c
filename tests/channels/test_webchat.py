"""The web chat's endpoints through a real Sanic server: sessions, CSRF header, dedup,
photos, locations and proactive messages."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore, RedisDedupStore
from channels._media import BackOfficeMediaUploader
from channels._messages import channel_reply, load_messages
from channels._state import RedisState
from channels.webchat import COOKIE_NAME, SessionSigner, WebChatInput
from tests.channels.conftest import (
    FakeBackOffice,
    RecordingAgent,
    RecordingUploader,
    serve_channel,
)

SECRET = "webchat-session-secret-for-tests"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HEADERS = {"X-CivicDesk-Webchat": "1"}


async def echo(message: UserMessage) -> None:
    await message.output_channel.send_text_with_buttons(
        message.sender_id,
        f"You said: {message.text}",
        [{"title": "Yes", "payload": "/affirm"}],
    )


@pytest.fixture
async def session(agent: RecordingAgent) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A served channel and a client holding a session cookie from the page."""
    agent.reply = echo
    channel = WebChatInput(
        session_secret=SECRET, uploader=RecordingUploader(), dedup_store=MemoryDedupStore()
    )
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        page = await client.get(f"{base}/")
        assert page.status_code == 200
        yield base, client


def sender_of(client: httpx.AsyncClient) -> str:
    session_id = SessionSigner(SECRET).verify(client.cookies.get(COOKIE_NAME))
    assert session_id is not None
    return f"webchat-{session_id}"


async def test_the_page_sets_a_signed_httponly_strict_cookie(agent: RecordingAgent) -> None:
    channel = WebChatInput(session_secret=SECRET, dedup_store=MemoryDedupStore())
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        redirected = await client.get(base)
        page = await client.get(f"{base}/")
        again = await client.get(f"{base}/")
        script = await client.get(f"{base}/app.js")
    assert redirected.status_code in (301, 302)
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "set-cookie" not in again.headers  # a valid session is kept
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")


async def test_a_message_is_answered_and_the_sender_comes_from_the_cookie_only(
    session: tuple[str, httpx.AsyncClient], agent: RecordingAgent
) -> None:
    base, client = session
    response = await client.post(
        f"{base}/message",
        json={"message": "The lamp is dark", "sender": "someone-else", "client_message_id": "1"},
        headers=HEADERS,
    )
    assert response.status_code == 200
    assert response.json()["messages"] == [
        {"text": "You said: The lamp is dark", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    ]
    [message] = agent.messages
    assert message.sender_id == sender_of(client)
    assert message.sender_id != "someone-else"
    assert message.input_channel == "webchat"


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "forged.123.abc",
        SessionSigner("another-secret-entirely").issue()[1],
        SessionSigner(SECRET).issue(now=time.time() - 40 * 24 * 3600)[1],
    ],
    ids=["none", "garbage", "other-secret", "expired"],
)
async def test_without_a_valid_session_nothing_is_processed(
    agent: RecordingAgent, cookie: str | None
) -> None:
    channel = WebChatInput(session_secret=SECRET, dedup_store=MemoryDedupStore())
    cookies = {COOKIE_NAME: cookie} if cookie else {}
    async with serve_channel(channel, agent) as base, httpx.AsyncClient(cookies=cookies) as client:
        response = await client.post(
            f"{base}/message", json={"message": "hi", "sender": "victim"}, headers=HEADERS
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_session"
    assert agent.messages == []


async def test_a_post_without_the_csrf_header_is_refused(
    session: tuple[str, httpx.AsyncClient], agent: RecordingAgent
) -> None:
    base, client = session
    response = await client.post(f"{base}/message", json={"message": "hi"})
    assert response.status_code == 403
    assert agent.messages == []


async def test_a_retried_post_is_one_turn(
    agent: RecordingAgent, redis_store: RedisDedupStore
) -> None:
    channel = WebChatInput(session_secret=SECRET, dedup_store=redis_store)
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        responses = [
            await client.post(
                f"{base}/message",
                json={"message": "hi", "client_message_id": "c-1"},
                headers=HEADERS,
            )
            for _ in range(3)
        ]
    assert [r.json()["duplicate"] for r in responses] == [False, True, True]
    assert len(agent.messages) == 1


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("message", b"not json", "invalid_json"),
        ("message", b'{"message": ""}', "invalid_message"),
        ("message", b'{"message": 5}', "invalid_message"),
        ("location", b'{"latitude": 91, "longitude": 0}', "invalid_location"),
        ("location", b'{"latitude": "north"}', "invalid_location"),
    ],
)
async def test_bad_input_is_a_json_400(
    session: tuple[str, httpx.AsyncClient],
    agent: RecordingAgent,
    path: str,
    body: bytes,
    code: str,
) -> None:
    base, client = session
    response = await client.post(f"{base}/{path}", content=body, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert agent.messages == []


async def test_a_location_becomes_coordinates_in_the_metadata(
    session: tuple[str, httpx.AsyncClient], agent: RecordingAgent
) -> None:
    base, client = session
    response = await client.post(
        f"{base}/location", json={"latitude": 32.06, "longitude": 118.79}, headers=HEADERS
    )
    assert response.status_code == 200
    [message] = agent.messages
    assert message.text == "/share_location"
    assert message.metadata["location"] == {"latitude": 32.06, "longitude": 118.79}


async def test_a_photo_is_uploaded_to_the_back_office(
    agent: RecordingAgent, backoffice: FakeBackOffice
) -> None:
    uploader = BackOfficeMediaUploader(backoffice.url, backoffice.api_key)
    channel = WebChatInput(session_secret=SECRET, uploader=uploader, dedup_store=MemoryDedupStore())
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        response = await client.post(
            f"{base}/photo", files={"photo": ("lamp.png", PNG, "image/png")}, headers=HEADERS
        )
    assert response.status_code == 200
    assert backoffice.uploads[0]["data"] == PNG
    assert backoffice.uploads[0]["content_type"] == "image/png"
    [message] = agent.messages
    assert message.metadata["photo"]["media_id"] == "m1"


@pytest.mark.parametrize(
    ("accept", "setting", "lang", "send_label"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.5", None, "zh-Hans", "发送"),
        ("fr, de", None, "en", "Send"),
        (None, None, "en", "Send"),
        (None, "zh-Hans", "zh-Hans", "发送"),
        ("en-GB", "zh-Hans", "en", "Send"),
    ],
)
async def test_the_page_speaks_the_browsers_language(
    agent: RecordingAgent, accept: str | None, setting: str | None, lang: str, send_label: str
) -> None:
    channel = WebChatInput(session_secret=SECRET, dedup_store=MemoryDedupStore(), language=setting)
    headers = {"Accept-Language": accept} if accept else {}
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        page = (await client.get(f"{base}/", headers=headers)).text
    assert f'<html lang="{lang}">' in page
    assert f'<button type="submit">{send_label}</button>' in page
    assert "$" not in page, "a placeholder of the page was left unfilled"
    block = re.search(r'<script type="application/json" id="page-text">(.*?)</script>', page, re.S)
    assert block is not None
    texts = json.loads(block.group(1))
    # app.js gets every page text, in the same language as the labels.
    assert set(texts) == {key for key in load_messages()["en"] if key.startswith("page_")}
    assert texts["page_send"] == send_label


@pytest.mark.parametrize(
    ("accept", "language"), [("zh-CN,zh;q=0.9,en;q=0.5", "zh-Hans"), ("fr, de", "en")]
)
async def test_a_refused_photo_is_explained_in_the_browsers_language(
    agent: RecordingAgent, accept: str, language: str
) -> None:
    channel = WebChatInput(
        session_secret=SECRET,
        uploader=RecordingUploader(),
        max_photo_bytes=1000,
        dedup_store=MemoryDedupStore(),
    )
    files = {"photo": ("x.png", b"MZ not an image", "image/png")}
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        response = await client.post(
            f"{base}/photo", files=files, headers={**HEADERS, "Accept-Language": accept}
        )
    assert response.status_code == 415
    assert response.json()["error"]["description"] == channel_reply(
        "photo_type_unsupported", language
    )


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ({"photo": ("x.png", b"MZ not an image", "image/png")}, 415, "unsupported_photo"),
        ({"photo": ("x.png", PNG + b"\x00" * 2000, "image/png")}, 413, "photo_too_large"),
        ({"other": ("x.png", PNG, "image/png")}, 400, "missing_photo"),
    ],
    ids=["not-an-image", "too-large", "wrong-field"],
)
async def test_bad_photos_are_refused(
    agent: RecordingAgent, files: dict[str, tuple[str, bytes, str]], status: int, code: str
) -> None:
    uploader = RecordingUploader()
    channel = WebChatInput(
        session_secret=SECRET,
        uploader=uploader,
        max_photo_bytes=1000,
        dedup_store=MemoryDedupStore(),
    )
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        response = await client.post(f"{base}/photo", files=files, headers=HEADERS)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert uploader.uploads == []
    assert agent.messages == []


async def test_proactive_messages_wait_in_the_inbox_for_the_page(agent: RecordingAgent) -> None:
    channel = WebChatInput(session_secret=SECRET, dedup_store=MemoryDedupStore())
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        sender = sender_of(client)
        await channel.get_output_channel().send_text_message(sender, "Your ticket is closed")
        await channel.get_output_channel().send_text_message("webchat-other", "Not yours")
        first = await client.get(f"{base}/updates")
        second = await client.get(f"{base}/updates")
    assert first.json() == {"messages": [{"text": "Your ticket is closed"}]}
    assert second.json() == {"messages": []}


def test_session_cookies_cannot_be_altered() -> None:
    signer = SessionSigner(SECRET)
    session_id, cookie = signer.issue()
    assert signer.verify(cookie) == session_id
    other_id, _ = signer.issue()
    forged = f"{other_id}.{cookie.split('.')[1]}.{cookie.split('.')[2]}"
    assert signer.verify(forged) is None
    with pytest.raises(ValueError, match="16"):
        SessionSigner("short")


async def test_a_proactive_message_reaches_a_page_served_by_another_process(
    agent: RecordingAgent, redis_state: RedisState
) -> None:
    sending = WebChatInput(session_secret=SECRET, state=redis_state)
    serving = WebChatInput(session_secret=SECRET, state=redis_state)
    async with serve_channel(serving, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        await sending.get_output_channel().send_text_message(sender_of(client), "Fixed")
        response = await client.get(f"{base}/updates")
    assert response.json() == {"messages": [{"text": "Fixed"}]}


async def test_a_session_over_its_rate_limit_gets_429(
    agent: RecordingAgent, redis_state: RedisState
) -> None:
    channel = WebChatInput(
        session_secret=SECRET,
        max_posts_per_minute=3,
        clock=lambda: 1_764_500_000.0,  # one fixed minute
        dedup_store=MemoryDedupStore(),
        state=redis_state,
    )
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        statuses = [
            (
                await client.post(f"{base}/message", json={"message": f"m{n}"}, headers=HEADERS)
            ).status_code
            for n in range(5)
        ]
        limited = await client.post(f"{base}/message", json={"message": "x"}, headers=HEADERS)
    assert statuses == [200, 200, 200, 429, 429]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert len(agent.messages) == 3
