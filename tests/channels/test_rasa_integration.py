"""The adapters inside Rasa's own server app: loaded from credentials by module path,
registered by Rasa under /webhooks/<name>/, and chosen as output channels by name."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.run import configure_app, create_http_input_channels
from rasa.server import _get_output_channel
from sanic import Sanic

from bot.erasure import ConversationErasureInput
from bot.metrics import MetricsInput
from channels.alipay import AlipayInput, AlipayOutput
from channels.signed_rest import SignedRestInput, sign
from channels.telegram import TelegramInput, TelegramOutput
from channels.webchat import WebChatInput
from channels.wechat import WeChatInput, WeChatOutput, signature
from tests.channels.conftest import RecordingAgent, serve_app
from tests.channels.fake_alipay import (
    APP_ID,
    CHECK_SERVICE,
    answer_is_signed_by_the_app,
    form_body,
    gateway_check_xml,
    platform_keys,
    signed_params,
)
from tests.channels.fake_telegram import TOKEN, fake_telegram

ROOT = Path(__file__).resolve().parents[2]
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")

ALL_CHANNELS = """
rest:
channels.signed_rest.SignedRestInput:
channels.telegram.TelegramInput:
  api_base_url: "{telegram}/bot"
  api_file_url: "{telegram}/file/bot"
channels.wechat.WeChatInput:
  mode: plain
channels.alipay.AlipayInput:
channels.webchat.WebChatInput:
"""


@pytest.fixture
def channel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CIVICDESK_SIGNED_REST_SECRET": "integration-secret",
        "CIVICDESK_TELEGRAM_TOKEN": TOKEN,
        "CIVICDESK_TELEGRAM_SECRET_TOKEN": "tg-secret",
        "CIVICDESK_WECHAT_TOKEN": "wx-token",
        "CIVICDESK_WECHAT_APP_ID": "wx-app",
        "CIVICDESK_WECHAT_APP_SECRET": "wx-secret",
        "CIVICDESK_WECHAT_ENCODING_AES_KEY": AES_KEY,
        "CIVICDESK_ALIPAY_APP_ID": APP_ID,
        "CIVICDESK_ALIPAY_PRIVATE_KEY": platform_keys().app.private_pem,
        "CIVICDESK_ALIPAY_PUBLIC_KEY": platform_keys().alipay.public_base64,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CIVICDESK_TELEGRAM_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("CIVICDESK_REDIS_URL", raising=False)


def test_the_repositorys_credentials_file_loads() -> None:
    channels = create_http_input_channels(None, str(ROOT / "credentials.yml"))
    assert {type(channel) for channel in channels} == {
        WebChatInput,
        MetricsInput,
        ConversationErasureInput,
    }


def test_every_channel_loads_from_credentials_by_module_path(
    channel_env: None, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(ALL_CHANNELS.replace("{telegram}", "http://127.0.0.1:9"))
    channels = create_http_input_channels(None, str(credentials))
    assert [type(channel) for channel in channels] == [
        RestInput,
        SignedRestInput,
        TelegramInput,
        WeChatInput,
        AlipayInput,
        WebChatInput,
    ]


def test_rasa_picks_each_adapters_output_channel_by_name(channel_env: None, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(ALL_CHANNELS.replace("{telegram}", "http://127.0.0.1:9"))
    channels = create_http_input_channels(None, str(credentials))

    def output_for(name: str) -> Any:
        request = SimpleNamespace(
            args={"output_channel": name},
            app=SimpleNamespace(ctx=SimpleNamespace(input_channels=channels)),
        )
        return _get_output_channel(request, None)

    assert isinstance(output_for("telegram"), TelegramOutput)
    assert isinstance(output_for("wechat"), WeChatOutput)
    assert isinstance(output_for("alipay"), AlipayOutput)
    assert output_for("webchat").name() == "webchat"


class _StubAgent:
    """What Rasa's channel handler calls: ``app.ctx.agent.handle_message``."""

    def __init__(self, agent: RecordingAgent) -> None:
        self._agent = agent

    async def handle_message(self, message: UserMessage) -> None:
        await self._agent(message)


async def test_rasas_server_app_serves_every_adapter(channel_env: None, tmp_path: Path) -> None:
    agent = RecordingAgent()
    async with fake_telegram() as telegram:
        credentials = tmp_path / "credentials.yml"
        credentials.write_text(ALL_CHANNELS.replace("{telegram}", telegram.url))
        channels = create_http_input_channels(None, str(credentials))
        Sanic.test_mode = True
        app = configure_app(channels, enable_api=True)
        app.ctx.agent = _StubAgent(agent)
        async with serve_app(app) as base, httpx.AsyncClient() as client:
            # The Telegram Application was initialised at server start (getMe).
            assert telegram.called("getMe")
            body = json.dumps({"sender": "i-1", "message": "hi", "message_id": "x1"}).encode()
            ts = str(int(time.time()))
            signed = await client.post(
                f"{base}/webhooks/signed_rest/webhook",
                content=body,
                headers={
                    "X-CivicDesk-Timestamp": ts,
                    "X-CivicDesk-Signature": sign("integration-secret", ts, body),
                },
            )
            unsigned = await client.post(f"{base}/webhooks/signed_rest/webhook", content=body)
            telegram_refused = await client.post(
                f"{base}/webhooks/telegram/webhook", json={"update_id": 1}
            )
            nonce = "abc"
            wechat_check = await client.get(
                f"{base}/webhooks/wechat/webhook",
                params={
                    "timestamp": ts,
                    "nonce": nonce,
                    "signature": signature("wx-token", ts, nonce),
                    "echostr": "echo-1",
                },
            )
            page = await client.get(f"{base}/webhooks/webchat/")
            query, body = form_body(signed_params(gateway_check_xml(), service=CHECK_SERVICE))
            alipay_check = await client.post(
                f"{base}/webhooks/alipay/webhook?{query}",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
    assert signed.status_code == 200
    assert unsigned.status_code == 401
    assert telegram_refused.status_code == 403
    assert wechat_check.text == "echo-1"
    assert alipay_check.status_code == 200
    assert answer_is_signed_by_the_app(alipay_check.content.decode("gbk"))
    assert page.status_code == 200
    assert "<h1>CivicDesk</h1>" in page.text
    assert [(m.text, m.sender_id, m.input_channel) for m in agent.messages] == [
        ("hi", "i-1", "signed_rest")
    ]
