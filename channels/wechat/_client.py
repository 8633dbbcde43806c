"""The WeChat API calls the adapter makes: access token, customer-service messages, media."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from channels._media import PhotoTooLarge

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
# errcodes meaning "the access token is no longer valid": fetch a new one and retry once.
_TOKEN_INVALID = {40001, 40014, 42001}


class WeChatApiError(RuntimeError):
    def __init__(self, errcode: int, description: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {description}")
        self.errcode = errcode


class WeChatApiClient:
    """Access token (cached until shortly before it expires) and the calls that need it."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str = DEFAULT_API_BASE,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._base = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    async def _access_token(self, client: httpx.AsyncClient, *, refresh: bool = False) -> str:
        async with self._lock:
            if refresh or not self._token or time.monotonic() >= self._token_expires:
                response = await client.get(
                    f"{self._base}/cgi-bin/token",
                    params={
                        "grant_type": "client_credential",
                        "appid": self._app_id,
                        "secret": self._app_secret,
                    },
                )
                body = _json(response)
                if "access_token" not in body:
                    raise WeChatApiError(int(body.get("errcode", -1)), "no access token")
                self._token = str(body["access_token"])
                self._token_expires = time.monotonic() + int(body.get("expires_in", 7200)) - 300
            return self._token

    async def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            for attempt in (0, 1):
                token = await self._access_token(client, refresh=attempt == 1)
                response = await client.post(
                    f"{self._base}{path}", params={"access_token": token}, json=payload
                )
                body = _json(response)
                errcode = int(body.get("errcode", 0))
                if errcode in _TOKEN_INVALID and attempt == 0:
                    continue
                if errcode:
                    raise WeChatApiError(errcode, str(body.get("errmsg", "")))
                return body
        raise WeChatApiError(-1, "unreachable")  # pragma: no cover

    async def send_text(self, open_id: str, content: str) -> None:
        """A customer-service text message (allowed within 48 h of the citizen's last message)."""
        await self._post_json(
            "/cgi-bin/message/custom/send",
            {"touser": open_id, "msgtype": "text", "text": {"content": content}},
        )

    async def download_media(self, media_id: str, max_bytes: int) -> bytes:
        """A temporary media file by id, refusing more than ``max_bytes``."""
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            token = await self._access_token(client)
            async with client.stream(
                "GET",
                f"{self._base}/cgi-bin/media/get",
                params={"access_token": token, "media_id": media_id},
            ) as response:
                if response.headers.get("content-type", "").startswith(
                    ("application/json", "text/")
                ):
                    body = _json(httpx.Response(200, content=await response.aread()))
                    raise WeChatApiError(int(body.get("errcode", -1)), "media not available")
                if not response.is_success:
                    # Not raise_for_status: its message holds the URL, access token included.
                    raise WeChatApiError(-1, f"media download answered {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise PhotoTooLarge("photo is over the size cap")
                return bytes(data)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise WeChatApiError(-1, f"HTTP {response.status_code}, not JSON") from error
    if not isinstance(body, dict):
        raise WeChatApiError(-1, "unexpected answer")
    return body
