"""A fake Alipay open platform on 127.0.0.1, built from the life account's published formats.

It plays both sides of the platform: it signs gateway messages as Alipay does (form
parameters ``service``, ``sign``, ``sign_type``, ``charset``, ``biz_content`` with the
message XML), checks the signature of our signed answers, and serves the two API calls the
adapter makes (``alipay.open.public.message.custom.send`` on ``/gateway.do``, the photo
download on ``/chat/multimedia.do``), refusing any call our key did not sign.

Keys are generated when the tests run (:func:`platform_keys`); no private key is in the repository.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.alipay import (
    canonical_string,
    public_key_base64,
    response_content,
    sign,
    verify,
    verify_params,
)
from tests.channels.conftest import free_port

APP_ID = "2021000000000001"
NOTIFY_SERVICE = "alipay.mobile.public.message.notify"
CHECK_SERVICE = "alipay.service.check"


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    @property
    def public_base64(self) -> str:
        """As the Alipay console shows a public key: base64 DER on one line."""
        return public_key_base64(self.public)

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")


@dataclass(frozen=True)
class Keys:
    app: KeyPair  # the life account's own pair (the adapter signs with it)
    alipay: KeyPair  # Alipay's pair (the platform signs its gateway messages with it)
    stranger: KeyPair  # anyone else's


@functools.cache
def platform_keys() -> Keys:
    """RSA-2048 pairs made once per test run."""

    def pair() -> KeyPair:
        return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    return Keys(app=pair(), alipay=pair(), stranger=pair())


def _cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def message_xml(
    user_id: str,
    msg_id: str | None,
    msg_type: str,
    *,
    app_id: str = APP_ID,
    created_ms: int | None = None,
    **parts: dict[str, str] | str,
) -> str:
    """A message's ``biz_content`` as the gateway sends it (GBK declaration, CDATA values).

    ``parts`` are extra fields: a string is an element, a dict a nested element
    (``Text={"Content": "..."}``, ``Image={"MediaId": "...", "Format": "jpg"}``).
    """
    created = int(time.time() * 1000) if created_ms is None else created_ms
    inner = [
        f"<AppId>{_cdata(app_id)}</AppId>",
        f"<FromUserId>{_cdata(user_id)}</FromUserId>",
        f"<CreateTime>{created}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    for tag, value in parts.items():
        if isinstance(value, dict):
            children = "".join(f"<{k}>{_cdata(v)}</{k}>" for k, v in value.items())
            inner.append(f"<{tag}>{children}</{tag}>")
        else:
            inner.append(f"<{tag}>{_cdata(value)}</{tag}>")
    if msg_id is not None:
        inner.append(f"<MsgId>{_cdata(msg_id)}</MsgId>")
    return '<?xml version="1.0" encoding="gbk"?><XML>' + "".join(inner) + "</XML>"


def gateway_check_xml(app_id: str = APP_ID) -> str:
    """The ``verifygw`` event the console sends when the developer gateway is saved."""
    return (
        '<?xml version="1.0" encoding="gbk"?><XML>'
        f"<AppId>{_cdata(app_id)}</AppId><FromUserId></FromUserId>"
        f"<CreateTime>{int(time.time() * 1000)}</CreateTime>"
        f"<MsgType>{_cdata('event')}</MsgType><EventType>{_cdata('verifygw')}</EventType>"
        "<ActionParam></ActionParam><AccountNo></AccountNo></XML>"
    )


def signed_params(
    biz_content: str,
    *,
    service: str = NOTIFY_SERVICE,
    charset: str = "GBK",
    key: rsa.RSAPrivateKey | None = None,
    sign_type: str = "RSA2",
    sign_type_signed: bool = True,
) -> dict[str, str]:
    """The gateway's parameters for one message, signed with ``key`` (Alipay's by default).

    ``sign_type_signed`` picks the canonical string: with ``sign_type`` (the life-account
    rule) or without it (the generic notification rule).
    """
    params = {
        "service": service,
        "sign_type": sign_type,
        "charset": charset,
        "biz_content": biz_content,
    }
    exclude = ("sign",) if sign_type_signed else ("sign", "sign_type")
    private = key or platform_keys().alipay.private
    params["sign"] = sign(canonical_string(params, exclude=exclude), private, charset)
    return params


def form_body(params: dict[str, str]) -> tuple[str, bytes]:
    """How the gateway posts ``params``: ``charset`` in the query string, the rest as a form
    body encoded in that charset; returns the query string and the body."""
    codec = "gbk" if params.get("charset", "GBK").lower() in ("gbk", "gb2312") else "utf-8"
    query = urlencode({"charset": params["charset"]}) if "charset" in params else ""
    rest = {k: v for k, v in params.items() if k != "charset"}
    return query, urlencode(rest, encoding=codec).encode("ascii")


def answer_is_signed_by_the_app(envelope: str, charset: str = "GBK") -> bool:
    """Whether an answer envelope's ``sign`` is the app key's over its ``<response>`` text."""
    start, end = envelope.find("<sign>"), envelope.find("</sign>")
    if start < 0 or end < start:
        return False
    signature = envelope[start + len("<sign>") : end]
    return verify(response_content(envelope), signature, platform_keys().app.public, charset)


@dataclass
class FakeAlipay:
    """The platform's API as the adapter calls it; records what it was sent."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    # (code, sub_code) the next customer-service sends answer with, in order
    send_errors: list[tuple[str, str]] = field(default_factory=list)
    refused_signatures: int = 0
    # Who signs the API's answers: "alipay" (as the platform does), "stranger" or "nobody".
    answers_signed_by: str = "alipay"
    url: str = ""

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gateway.do"

    @property
    def media_url(self) -> str:
        return f"{self.url}/chat/multimedia.do"

    async def _signed_call(self, request: web.Request, method: str) -> dict[str, Any] | None:
        """The call's ``biz_content`` if it is ``method`` signed by the app's key, else None."""
        raw = await request.read()
        params = dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8"))
        if (
            params.get("app_id") != APP_ID
            or params.get("method") != method
            or params.get("sign_type") != "RSA2"
            or not verify_params(params, platform_keys().app.public)
        ):
            self.refused_signatures += 1
            return None
        content = json.loads(params["biz_content"])
        return content if isinstance(content, dict) else None

    def _answer(self, method: str, answer: dict[str, str]) -> web.Response:
        """``{"<method>_response": {...}, "sign": "..."}``, signed over the member's exact text
        as the platform signs it."""
        member = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{method.replace(".", "_")}_response":{member}'
        keys = platform_keys()
        signer = {"alipay": keys.alipay, "stranger": keys.stranger}.get(self.answers_signed_by)
        if signer is not None:
            body += f',"sign":"{sign(member, signer.private, "utf-8")}"'
        return web.Response(text=body + "}", content_type="application/json")

    def _invalid_signature(self, method: str) -> web.Response:
        return self._answer(
            method,
            {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
                "sub_msg": "invalid signature",
            },
        )

    async def gateway(self, request: web.Request) -> web.Response:
        method = "alipay.open.public.message.custom.send"
        content = await self._signed_call(request, method)
        if content is None:
            return self._invalid_signature(method)
        answer: dict[str, str] = {"code": "10000", "msg": "Success"}
        if self.send_errors:
            code, sub_code = self.send_errors.pop(0)
            answer = {"code": code, "msg": "Failed", "sub_code": sub_code, "sub_msg": "refused"}
        else:
            self.sent.append(content)
        return self._answer(method, answer)

    async def multimedia(self, request: web.Request) -> web.Response:
        method = "alipay.mobile.public.multimedia.download"
        content = await self._signed_call(request, method)
        if content is None:
            return self._invalid_signature(method)
        data = self.media.get(str(content.get("mediaId", "")))
        if data is None:
            return web.json_response(
                {"error_response": {"code": "40004", "msg": "Business Failed"}}
            )
        return web.Response(body=data, content_type="image/jpeg")

    def texts(self, user_id: str | None = None) -> list[str]:
        return [
            str(message["text"]["content"])
            for message in self.sent
            if user_id is None or message.get("to_user_id") == user_id
        ]


@asynccontextmanager
async def fake_alipay() -> AsyncIterator[FakeAlipay]:
    fake = FakeAlipay()
    app = web.Application()
    app.router.add_post("/gateway.do", fake.gateway)
    app.router.add_post("/chat/multimedia.do", fake.multimedia)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()
