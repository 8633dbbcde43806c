"""No input makes an adapter answer 5xx, and none of it reaches the agent unauthenticated."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx

from channels._base import UNLIMITED
from channels._dedup import MemoryDedupStore
from channels.rest import RestInput
from channels.signed_rest import SignedRestInput, sign
from channels.telegram import TelegramInput
from channels.webchat import WebChatInput
from channels.wechat import WeChatInput, signature
from tests.channels.conftest import RecordingAgent, RecordingUploader, serve_channel
from tests.channels.fake_telegram import TOKEN, fake_telegram

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
BODIES = [
    b"",
    b"\x00\xff\xfe",
    b'{"a":' * 50,
    b"<xml><Encrypt>x</Encrypt></xml>",
    b'--b\r\nContent-Disposition: form-data; name="photo"\r\n\r\nx\r\n',
    b"[" * 20_000,
    b'{"sender": 7, "message": ["a"], "metadata": ' + b'{"a":' * 3000 + b"1" + b"}" * 3001,
    b'{"sender": "\\ud800", "message": "\\udfff\\u0000"}',
]
CONTENT_TYPES = [None, "application/json", "multipart/form-data; boundary=b", "multipart/form-data"]


async def server_errors(
    base: str, paths: list[str], headers: dict[str, str], params: dict[str, str] | None = None
) -> list[tuple[str, str, bytes, str | None, int]]:
    errors = []
    async with httpx.AsyncClient() as client:
        await client.get(f"{base}/")  # the web chat's session cookie, if any
        for path, body, content_type in itertools.product(paths, BODIES, CONTENT_TYPES):
            sent = dict(headers)
            if content_type:
                sent["Content-Type"] = content_type
            for method in ("POST", "GET"):
                response = await client.request(
                    method,
                    base + path,
                    content=body if method == "POST" else None,
                    headers=sent,
                    params=params,
                )
                if response.status_code >= 500:
                    errors.append((method, path, body[:20], content_type, response.status_code))
    return errors


async def test_odd_requests_never_get_a_server_error(agent: RecordingAgent) -> None:
    errors = []
    webchat = WebChatInput(
        session_secret="x" * 20,
        dedup_store=MemoryDedupStore(),
        uploader=RecordingUploader(),
        max_posts_per_minute=10_000,
    )
    async with serve_channel(webchat, agent) as base:
        errors += await server_errors(
            base, ["/message", "/location", "/photo", "/updates"], {"X-CivicDesk-Webchat": "1"}
        )
    async with serve_channel(SignedRestInput("s", dedup_store=MemoryDedupStore()), agent) as base:
        errors += await server_errors(base, ["/webhook"], {})
    async with serve_channel(RestInput(rate_limiter=UNLIMITED), agent) as base:
        errors += await server_errors(base, ["/webhook"], {})
    wechat = WeChatInput(
        token="t",
        app_id="a",
        app_secret="s",
        encoding_aes_key=AES_KEY,
        mode="plain",
        dedup_store=MemoryDedupStore(),
    )
    ts = str(int(time.time()))
    signed = {"timestamp": ts, "nonce": "n", "signature": signature("t", ts, "n")}
    async with serve_channel(wechat, agent) as base:
        errors += await server_errors(base, ["/webhook"], {}, params=signed)
        errors += await server_errors(
            base, ["/webhook"], {}, params={**signed, "encrypt_type": "aes", "msg_signature": "x"}
        )
    async with fake_telegram() as telegram:
        channel = TelegramInput(
            TOKEN,
            secret_token="sec",
            base_url=telegram.base_url,
            base_file_url=telegram.base_file_url,
            dedup_store=MemoryDedupStore(),
        )
        async with serve_channel(channel, agent) as base:
            errors += await server_errors(
                base, ["/webhook"], {"X-Telegram-Bot-Api-Secret-Token": "sec"}
            )
    assert errors == []
    assert agent.messages == []


JUNK = [
    b"",
    b"{not json",
    b"[1, 2]",
    b"[" * 5_000,
    b'{"sender": 7, "message": ["hi"], "message_id": 7, "update_id": "x"}',
    # A lone surrogate (half of a UTF-16 pair) cannot be stored or sent on as text.
    b'{"sender": "ana", "message": "hi \\udfff", "message_id": "m", "update_id": 1}',
]


async def statuses(
    url: str, bodies: list[bytes], headers: Callable[[bytes], dict[str, str]], **kwargs: Any
) -> list[int]:
    async with httpx.AsyncClient() as client:
        await client.get(url.rsplit("/", 1)[0] + "/")  # the web chat's session cookie
        return [
            (await client.post(url, content=body, headers=headers(body), **kwargs)).status_code
            for body in bodies
        ]


async def test_junk_from_an_authenticated_sender_is_a_400_and_too_much_a_413(
    agent: RecordingAgent,
) -> None:
    """Past authentication, each webhook says what is wrong with a body (400) or that it is
    too large (413); none of it reaches the agent."""
    huge = b'{"message": "' + b"x" * 2_000_000 + b'"}'

    def signed(body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        return {"X-CivicDesk-Timestamp": ts, "X-CivicDesk-Signature": sign("s", ts, body)}

    found: dict[str, list[int]] = {}
    async with serve_channel(RestInput(rate_limiter=UNLIMITED), agent) as base:
        found["rest"] = await statuses(f"{base}/webhook", [*JUNK, huge], lambda _: {})
    channel = SignedRestInput("s", dedup_store=MemoryDedupStore())
    async with serve_channel(channel, agent) as base:
        found["signed_rest"] = await statuses(f"{base}/webhook", [*JUNK, huge * 8], signed)
    webchat = WebChatInput(
        session_secret="x" * 20, dedup_store=MemoryDedupStore(), max_posts_per_minute=10_000
    )
    async with serve_channel(webchat, agent) as base:
        found["webchat"] = await statuses(
            f"{base}/message", [*JUNK, huge], lambda _: {"X-CivicDesk-Webchat": "1"}
        )
    ts = str(int(time.time()))
    wechat = WeChatInput(
        token="t", app_id="a", app_secret="s", mode="plain", dedup_store=MemoryDedupStore()
    )
    async with serve_channel(wechat, agent) as base:
        found["wechat"] = await statuses(
            f"{base}/webhook",
            [*JUNK, b"<xml>" * 10_000, huge],
            lambda _: {},
            params={"timestamp": ts, "nonce": "n", "signature": signature("t", ts, "n")},
        )
    async with fake_telegram() as telegram:
        channel = TelegramInput(
            TOKEN,
            secret_token="sec",
            base_url=telegram.base_url,
            base_file_url=telegram.base_file_url,
            dedup_store=MemoryDedupStore(),
        )
        async with serve_channel(channel, agent) as base:
            found["telegram"] = await statuses(
                f"{base}/webhook",
                [*JUNK, huge],
                lambda _: {"X-Telegram-Bot-Api-Secret-Token": "sec"},
            )
    assert found == {
        "rest": [400] * len(JUNK) + [413],
        "signed_rest": [400] * len(JUNK) + [413],
        "webchat": [400] * len(JUNK) + [413],
        "wechat": [400] * (len(JUNK) + 1) + [413],
        "telegram": [400] * len(JUNK) + [413],
    }
    assert agent.messages == []
