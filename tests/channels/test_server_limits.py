"""The Sanic servers' body-size limit: a JSON 413 past it, before any handler runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rasa.core.channels import channel as rasa_channel
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from channels import _server_limits
from channels._server_limits import (
    DEFAULT_RASA_MAX_BODY_BYTES,
    RASA_ENV,
    apply,
    max_body_bytes,
)
from channels.rest import MAX_BODY_BYTES as REST_MAX_BODY_BYTES
from channels.rest import RestInput
from channels.webchat import WebChatInput
from channels.webchat._channel import MAX_JSON_BYTES as WEBCHAT_MAX_JSON_BYTES
from tests.channels.conftest import serve_app

_numbers = itertools.count()
LIMIT = 100_000


def limited_app(seen: list[int]) -> Sanic:
    Sanic.test_mode = True
    app = Sanic(f"limits_test_{next(_numbers)}")

    @app.post("/echo")
    async def echo(request: Request) -> HTTPResponse:
        seen.append(len(request.body))
        return json({"bytes": len(request.body)})

    apply(app, LIMIT)
    return app


async def chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 10_000):
        yield b"x" * 10_000


async def test_a_body_past_the_limit_is_a_json_413_and_reaches_no_handler() -> None:
    seen: list[int] = []
    async with serve_app(limited_app(seen)) as base, httpx.AsyncClient() as client:
        under = await client.post(f"{base}/echo", content=b"x" * (LIMIT - 1))
        over = await client.post(f"{base}/echo", content=b"x" * (LIMIT + 1))
    assert under.status_code == 200
    assert over.status_code == 413
    assert over.headers["content-type"].startswith("application/json")
    assert over.json()["error"]["code"] == "body_too_large"
    assert str(LIMIT) in over.json()["error"]["description"]
    assert seen == [LIMIT - 1]


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit() -> None:
    seen: list[int] = []
    async with serve_app(limited_app(seen)) as base, httpx.AsyncClient() as client:
        over = await client.post(f"{base}/echo", content=chunks(LIMIT + 10_000))
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "body_too_large"
    assert seen == []


@pytest.fixture
def rasa_app() -> Sanic:
    Sanic.test_mode = True
    return Sanic(f"rasa_like_{next(_numbers)}")


def test_rasa_registering_its_channels_puts_the_limit_on_its_app(
    rasa_app: Sanic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RASA_ENV, raising=False)
    # channels._base installed the wrapper on import; Rasa's run module calls it this way.
    assert rasa_channel.register.__module__ == _server_limits.__name__
    rasa_channel.register([RestInput()], rasa_app, route="/webhooks/")
    assert rasa_app.config.REQUEST_MAX_SIZE == DEFAULT_RASA_MAX_BODY_BYTES
    assert any(route.path.startswith("webhooks/rest") for route in rasa_app.router.routes)


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RASA_ENV, "200000")
    assert max_body_bytes(RASA_ENV, DEFAULT_RASA_MAX_BODY_BYTES) == 200_000
    for bad in ("lots", "1000"):
        monkeypatch.setenv(RASA_ENV, bad)
        with pytest.raises(ValueError, match=RASA_ENV):
            max_body_bytes(RASA_ENV, DEFAULT_RASA_MAX_BODY_BYTES)


ROUTE_LIMIT = 1_000


def app_with_a_small_route(seen: list[int]) -> Sanic:
    app = limited_app(seen)

    @app.post("/small", ctx_max_body_bytes=ROUTE_LIMIT)
    async def small(request: Request) -> HTTPResponse:
        seen.append(len(request.body))
        return json({"bytes": len(request.body)})

    return app


async def headers_only(
    base: str, path: str, length: int, headers: dict[str, str] | None = None
) -> bytes:
    """Send a POST's headers declaring ``length`` bytes and none of the body; the answer, or
    b"" if the server still waits for the body after two seconds."""
    host, port = base.removeprefix("http://").split(":")
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {length}\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(65536), timeout=2)
        except asyncio.TimeoutError:
            return b""
    finally:
        writer.close()


async def test_a_route_with_its_own_limit_refuses_past_it_before_reading() -> None:
    seen: list[int] = []
    async with serve_app(app_with_a_small_route(seen)) as base, httpx.AsyncClient() as client:
        under = await client.post(f"{base}/small", content=b"x" * ROUTE_LIMIT)
        over = await client.post(f"{base}/small", content=b"x" * (ROUTE_LIMIT + 1))
        chunked = await client.post(f"{base}/small", content=chunks(30_000))
        elsewhere = await client.post(f"{base}/echo", content=b"x" * (ROUTE_LIMIT + 1))
        declared = await headers_only(base, "/small", LIMIT - 1)
        waited = await headers_only(base, "/echo", LIMIT - 1)
    assert under.status_code == 200
    assert (over.status_code, chunked.status_code) == (413, 413)
    assert over.json()["error"]["code"] == "body_too_large"
    assert f"limit of {ROUTE_LIMIT} bytes" in over.json()["error"]["description"]
    assert elsewhere.status_code == 200, "other routes keep the process's limit"
    assert seen == [ROUTE_LIMIT, ROUTE_LIMIT + 1]
    # Refused on the declared length alone: none of the body was sent.
    assert declared.startswith(b"HTTP/1.1 413"), declared
    assert waited == b"", "a route without its own limit waits for the body"


@pytest.mark.parametrize(
    ("channel", "path", "limit"),
    [
        (RestInput(), "/webhooks/rest/webhook", REST_MAX_BODY_BYTES),
        (WebChatInput(), "/webhooks/webchat/message", WEBCHAT_MAX_JSON_BYTES),
    ],
)
async def test_channel_webhooks_refuse_a_body_declared_over_their_limit_unread(
    rasa_app: Sanic, channel: Any, path: str, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RASA_ENV, raising=False)
    rasa_channel.register([channel], rasa_app, route="/webhooks/")
    async with serve_app(rasa_app) as base:
        answer = await headers_only(base, path, limit + 1)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"body_too_large" in answer
