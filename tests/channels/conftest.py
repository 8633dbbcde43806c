"""Fixtures for the channel adapter tests: a real Sanic server per test, a recording agent,
a real Redis dedup store, and a fake back-office media endpoint."""

from __future__ import annotations

import itertools
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

from channels._dedup import RedisDedupStore
from channels._media import UploadedMedia
from channels._state import RedisState

_app_numbers = itertools.count()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RecordingAgent:
    """Stands in for ``app.ctx.agent.handle_message``: records messages, may reply."""

    messages: list[UserMessage] = field(default_factory=list)
    reply: Callable[[UserMessage], Awaitable[None]] | None = None
    fail_next: int = 0

    async def __call__(self, message: UserMessage) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("agent failed")
        self.messages.append(message)
        if self.reply is not None:
            await self.reply(message)


@pytest.fixture(autouse=True)
def _no_ambient_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their stores explicitly; a developer's CIVICDESK_REDIS_URL must not leak in."""
    monkeypatch.delenv("CIVICDESK_REDIS_URL", raising=False)


@pytest.fixture
def agent() -> RecordingAgent:
    return RecordingAgent()


@asynccontextmanager
async def serve_app(app: Sanic) -> AsyncIterator[str]:
    """Serve a Sanic app on a free 127.0.0.1 port in this event loop; yields its base URL."""
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


@asynccontextmanager
async def serve_channel(channel: InputChannel, agent: RecordingAgent) -> AsyncIterator[str]:
    """Serve ``channel``'s blueprint the way Rasa registers it; yields the channel's base URL."""
    # Several apps start in one process here; test mode keeps Sanic's start-up rewrite of its
    # own methods repeatable (it breaks on the second app otherwise).
    Sanic.test_mode = True
    app = Sanic(f"channel_test_{next(_app_numbers)}")
    app.blueprint(channel.blueprint(agent), url_prefix=f"/webhooks/{channel.url_prefix()}")
    async with serve_app(app) as base:
        yield f"{base}/webhooks/{channel.url_prefix()}"


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisDedupStore]:
    """A dedup store on the machine's real Redis, under a prefix unique to the test."""
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"civicdesk:test:{uuid.uuid4().hex}:"
    store = RedisDedupStore(client, ttl_seconds=60, prefix=prefix)
    yield store
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.close()


@pytest.fixture
async def redis_state() -> AsyncIterator[RedisState]:
    """Shared state on the machine's real Redis, under a prefix unique to the test."""
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"civicdesk:test:{uuid.uuid4().hex}:"
    yield RedisState(client, prefix=prefix)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.close()


@dataclass
class FakeBackOffice:
    """``POST /api/v1/media`` as the back office will serve it; records what it received."""

    api_key: str = "test-key"
    uploads: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    status: int = 201

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != self.api_key:
            return web.json_response({"error": "forbidden"}, status=403)
        if self.status >= 300:
            return web.json_response({"error": "down"}, status=self.status)
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        data = upload.file.read()
        media_id = f"m{len(self.uploads) + 1}"
        self.uploads.append(
            {"filename": upload.filename, "content_type": upload.content_type, "data": data}
        )
        return web.json_response(
            {"media_id": media_id, "media_url": f"{self.url}/media/{media_id}"}, status=201
        )


@pytest.fixture
async def backoffice() -> AsyncIterator[FakeBackOffice]:
    fake = FakeBackOffice()
    app = web.Application()
    app.router.add_post("/api/v1/media", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@dataclass
class RecordingUploader:
    """An in-process ``MediaUploader`` for tests that are not about the upload itself."""

    uploads: list[bytes] = field(default_factory=list)

    async def upload(self, data: bytes, *, filename: str, content_type: str) -> UploadedMedia:
        self.uploads.append(bytes(data))
        n = len(self.uploads)
        return UploadedMedia(media_id=f"media-{n}", media_url=f"http://media.test/{n}")
