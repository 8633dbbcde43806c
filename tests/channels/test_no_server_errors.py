"""No input makes an adapter answer 5xx, and none of it reaches the agent unauthenticated."""

from __future__ import annotations

import base64
import itertools
import time

import httpx

from channels._dedup import MemoryDedupStore
from channels.signed_rest import SignedRestInput
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
