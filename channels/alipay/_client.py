"""The Alipay open-platform calls the adapter makes, each signed with the account's private key:
customer-service text messages (``alipay.open.public.message.custom.send``) and the download
of a photo a citizen sent (``alipay.mobile.public.multimedia.download``).

Alipay signs its JSON answers too: ``sign`` is its signature over the exact text of the
``<method>_response`` (or ``error_response``) member as it appears in the body. A success is
believed only with that signature; so is a refusal, before it is taken as final.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from channels._media import PhotoTooLarge
from channels.alipay._signature import SIGN_TYPE, sign_params, verify

logger = logging.getLogger(__name__)

DEFAULT_GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
DEFAULT_MEDIA_URL = "https://openfile.alipay.com/chat/multimedia.do"
SEND_METHOD = "alipay.open.public.message.custom.send"
MEDIA_METHOD = "alipay.mobile.public.multimedia.download"
SUCCESS_CODE = "10000"
# The gateway reads `timestamp` as Beijing time.
_BEIJING = timezone(timedelta(hours=8))


class AlipayApiError(RuntimeError):
    """The gateway refused a call (``code``/``sub_code`` as Alipay answered) or was unreachable."""

    def __init__(self, code: str, sub_code: str = "", description: str = "") -> None:
        super().__init__(f"Alipay API error {code} {sub_code}: {description}".strip())
        self.code = code
        self.sub_code = sub_code


class AlipayApiClient:
    """Signed calls to the gateway for one life account (``app_id``)."""

    def __init__(
        self,
        app_id: str,
        private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        *,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        media_url: str = DEFAULT_MEDIA_URL,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._app_id = app_id
        self._key = private_key
        self._alipay_key = alipay_public_key
        self._gateway_url = gateway_url
        self._media_url = media_url
        self._timeout = timeout_seconds

    def signed_params(self, method: str, biz_content: dict[str, Any]) -> dict[str, str]:
        """The common request parameters for ``method``, with ``sign`` over all of them."""
        params = {
            "app_id": self._app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": SIGN_TYPE,
            "timestamp": datetime.now(_BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = sign_params(params, self._key)
        return params

    async def send_text(self, user_id: str, content: str) -> None:
        """A customer-service text message to a citizen who follows the life account.

        Raises:
            AlipayApiError: the gateway refused it or could not be reached.
        """
        params = self.signed_params(
            SEND_METHOD,
            {"to_user_id": user_id, "msg_type": "text", "text": {"content": content}, "chat": "1"},
        )
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._gateway_url, data=params)
        except httpx.HTTPError as error:
            raise AlipayApiError("unreachable", description=type(error).__name__) from error
        body = _json(response)
        member = SEND_METHOD.replace(".", "_") + "_response"
        if member not in body:
            member = "error_response"
        answer = body.get(member)
        if not isinstance(answer, dict):
            raise AlipayApiError("invalid_answer", description=f"HTTP {response.status_code}")
        code = str(answer.get("code", ""))
        raw = raw_json_member(response.text, member)
        signature = body.get("sign")
        if not (
            raw is not None
            and isinstance(signature, str)
            and verify(raw, signature, self._alipay_key, "utf-8")
        ):
            # Not Alipay's word: neither a success nor a final refusal can be trusted.
            raise AlipayApiError("invalid_answer_signature", code, "answer not signed by Alipay")
        if code != SUCCESS_CODE:
            raise AlipayApiError(
                code, str(answer.get("sub_code", "")), str(answer.get("sub_msg", ""))
            )

    async def download_media(self, media_id: str, max_bytes: int) -> bytes:
        """A photo a citizen sent, by its ``MediaId``, refusing more than ``max_bytes``.

        Raises:
            AlipayApiError: the platform answered an error instead of the image.
            PhotoTooLarge: the image is over ``max_bytes``.
        """
        params = self.signed_params(MEDIA_METHOD, {"mediaId": media_id})
        try:
            async with (
                httpx.AsyncClient(timeout=self._timeout) as client,
                client.stream("POST", self._media_url, data=params) as response,
            ):
                content_type = response.headers.get("content-type", "")
                if content_type.startswith(("application/json", "text/")):
                    answer = _json(httpx.Response(200, content=await response.aread()))
                    error = answer.get("error_response") or answer
                    code = str(error.get("code", "")) if isinstance(error, dict) else ""
                    raise AlipayApiError(code or "media_unavailable", description="no image")
                if not response.is_success:
                    raise AlipayApiError(f"HTTP {response.status_code}", description="media")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise PhotoTooLarge("photo is over the size cap")
                return bytes(data)
        except httpx.HTTPError as error:
            raise AlipayApiError("unreachable", description=type(error).__name__) from error


def raw_json_member(text: str, name: str) -> str | None:
    """The exact text of the object value of the top-level member ``name`` of the JSON object
    in ``text`` (what Alipay signs), or ``None``; ``text`` must already parse as JSON."""
    key = json.dumps(name)
    depth, index, in_string, start = 0, 0, False, -1
    while index < len(text):
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1  # the escaped character cannot end the string
            elif char == '"':
                in_string = False
        elif char == '"':
            if depth == 1 and start < 0 and text.startswith(key, index):
                after = text[index + len(key) :].lstrip()
                if after.startswith(":"):
                    value = after[1:].lstrip()
                    if not value.startswith("{"):
                        return None
                    start = len(text) - len(value)
                    index, depth = start + 1, 2
                    continue
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if start >= 0 and depth == 1:
                return text[start : index + 1]
        index += 1
    return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        status = f"HTTP {response.status_code}"
        raise AlipayApiError("invalid_answer", description=status) from error
    if not isinstance(body, dict):
        raise AlipayApiError("invalid_answer", description="not a JSON object")
    return body
