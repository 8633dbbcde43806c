"""A fake WeChat API (token, customer-service messages, media) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.channels.conftest import free_port

APP_ID = "wx1234567890abcdef"
APP_SECRET = "app-secret"


@dataclass
class FakeWeChat:
    tokens_issued: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    expire_next_token_use: bool = False
    # errcodes the next customer-service sends answer with, in order (43004, 45015, ...)
    send_errors: list[int] = field(default_factory=list)
    url: str = ""

    def _valid(self, token: str | None) -> bool:
        return token == f"token-{self.tokens_issued}"

    async def token(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": f"token-{self.tokens_issued}", "expires_in": 7200}
        )

    async def custom_send(self, request: web.Request) -> web.Response:
        if self.expire_next_token_use:
            self.expire_next_token_use = False
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        if not self._valid(request.query.get("access_token")):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.send_errors:
            return web.json_response({"errcode": self.send_errors.pop(0), "errmsg": "refused"})
        self.sent.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def media_get(self, request: web.Request) -> web.Response:
        if not self._valid(request.query.get("access_token")):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        data = self.media.get(request.query.get("media_id", ""))
        if data is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=data, content_type="image/jpeg")

    def texts(self) -> list[str]:
        return [str(message["text"]["content"]) for message in self.sent]


@asynccontextmanager
async def fake_wechat() -> AsyncIterator[FakeWeChat]:
    fake = FakeWeChat()
    app = web.Application()
    app.router.add_get("/cgi-bin/token", fake.token)
    app.router.add_post("/cgi-bin/message/custom/send", fake.custom_send)
    app.router.add_get("/cgi-bin/media/get", fake.media_get)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()
