"""WeChat, full stack: encrypted (safe mode) deliveries as WeChat sends them → Rasa with the
WeChat channel → the action server → the back office; replies passive or through the fake
customer-service API on 127.0.0.1, and Rasa's proactive ``trigger_intent`` through that API."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from channels.wechat import WeChatCrypto, parse_message, signature
from tests.channels.fake_wechat import APP_ID, APP_SECRET, FakeWeChat, fake_wechat
from tests.e2e.channel_stack import (
    ChannelStack,
    assert_report_lands_on_the_ticket,
    bot_texts,
    channel_stack,
    citizen_tickets,
    latest_timestamp,
    served_in_background,
    trigger_intent,
    user_events,
)

TOKEN = "e2e-wechat-token"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
ACCOUNT = "gh_civicdesk"
_msg_ids = itertools.count(5000)


@dataclass
class Running:
    stack: ChannelStack
    wechat: FakeWeChat

    @property
    def webhook(self) -> str:
        return self.stack.webhook_url("wechat")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    environment = {
        "CIVICDESK_WECHAT_TOKEN": TOKEN,
        "CIVICDESK_WECHAT_APP_ID": APP_ID,
        "CIVICDESK_WECHAT_APP_SECRET": APP_SECRET,
        "CIVICDESK_WECHAT_ENCODING_AES_KEY": AES_KEY,
        "CIVICDESK_WECHAT_MODE": "safe",
    }
    with served_in_background(fake_wechat()) as wechat:
        channels = f'channels.wechat.WeChatInput:\n  api_base_url: "{wechat.url}"\n'
        with channel_stack(tmp_path_factory.mktemp("var"), channels, environment) as stack:
            yield Running(stack, wechat)


def message_xml(open_id: str, msg_id: int, **fields: str) -> str:
    base = {
        "ToUserName": ACCOUNT,
        "FromUserName": open_id,
        "CreateTime": str(int(time.time())),
        "MsgId": str(msg_id),
    }
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in {**base, **fields}.items())
    return f"<xml>{inner}</xml>"


def encrypted_post(
    running: Running, xml: str, *, token: str = TOKEN
) -> tuple[httpx.Response, dict[str, str]]:
    """POST ``xml`` as WeChat does in safe mode; returns the response and the query used."""
    encrypt = WeChatCrypto(AES_KEY, APP_ID).encrypt(xml)
    timestamp, nonce = str(int(time.time())), "n0nce"
    params = {
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": signature(token, timestamp, nonce),
        "encrypt_type": "aes",
        "msg_signature": signature(token, timestamp, nonce, encrypt),
    }
    envelope = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
    response = httpx.post(running.webhook, params=params, content=envelope, timeout=60)
    return response, params


def passive_reply(response: httpx.Response) -> str | None:
    """The text of a passive (encrypted) reply, or ``None`` when WeChat was told ``success``."""
    assert response.status_code == 200, response.text
    if response.text == "success":
        return None
    outer = parse_message(response.content)
    assert outer["MsgSignature"] == signature(
        TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
    )
    return parse_message(WeChatCrypto(AES_KEY, APP_ID).decrypt(outer["Encrypt"]))["Content"]


@dataclass
class WeChatCitizen:
    """A WeChat follower: each message is an encrypted delivery; a tap sends the label."""

    running: Running
    open_id: str

    @property
    def sender_id(self) -> str:
        return self.open_id

    def _deliver(self, **fields: str) -> None:
        response, _ = encrypted_post(
            self.running, message_xml(self.open_id, next(_msg_ids), **fields)
        )
        passive_reply(response)

    def say(self, text: str) -> None:
        self._deliver(MsgType="text", Content=text)

    def press(self, button: dict[str, Any]) -> None:
        # WeChat shows a bizmsgmenu link; tapping it sends the label as the message.
        self._deliver(MsgType="text", Content=str(button["title"]))

    def share_location(self, latitude: float, longitude: float) -> None:
        self._deliver(
            MsgType="location",
            Location_X=str(latitude),
            Location_Y=str(longitude),
            Scale="15",
            Label="Gulou",
        )

    def send_photo(self, data: bytes) -> None:
        media_id = f"MEDIA-{self.open_id}-{len(self.running.wechat.media)}"
        self.running.wechat.media[media_id] = data
        # PicUrl is WeChat's public copy; the adapter must fetch by MediaId instead.
        self._deliver(MsgType="image", PicUrl="http://127.0.0.1:9/never.jpg", MediaId=media_id)


def service_texts(running: Running, open_id: str) -> list[str]:
    return [
        str(message["text"]["content"])
        for message in running.wechat.sent
        if message.get("touser") == open_id
    ]


def test_a_report_with_photo_location_and_buttons_lands_on_the_ticket(running: Running) -> None:
    citizen = WeChatCitizen(running, open_id="oE2eCitizen0001")
    assert_report_lands_on_the_ticket(running.stack, citizen, "wechat")


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_a_missing_or_wrong_signature_creates_nothing(running: Running, token: str) -> None:
    open_id = f"oE2eForged{len(token)}"
    xml = message_xml(open_id, next(_msg_ids), MsgType="text", Content="Pothole on Zhongshan Road")

    response, _ = encrypted_post(running, xml, token=token)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert user_events(running.stack, open_id) == []
    assert service_texts(running, open_id) == []
    assert citizen_tickets(running.stack, f"wechat:{open_id}", timeout=0) == []


def test_the_same_msgid_three_times_is_one_turn(running: Running) -> None:
    open_id = "oE2eRepeat0001"
    xml = message_xml(open_id, next(_msg_ids), MsgType="text", Content="hello")
    mark = latest_timestamp(running.stack, open_id)

    replies = [passive_reply(encrypted_post(running, xml)[0]) for _ in range(3)]

    assert [e["text"] for e in user_events(running.stack, open_id)] == ["hello"]
    said = bot_texts(running.stack, open_id, after=mark)
    assert said
    # The answer went out once: passively on the first delivery or through the service API;
    # the redeliveries are answered "success" with nothing said again.
    assert replies[1:] == [None, None]
    delivered = [replies[0]] if replies[0] is not None else service_texts(running, open_id)
    assert len(delivered) == len(said)
    assert [d.startswith(s) for d, s in zip(delivered, said, strict=True)] == [True] * len(said)


def test_a_proactive_message_goes_through_the_customer_service_api(running: Running) -> None:
    open_id = "oE2eProactive01"
    passive_reply(
        encrypted_post(
            running, message_xml(open_id, next(_msg_ids), MsgType="text", Content="hello")
        )[0]
    )
    before = len(service_texts(running, open_id))
    mark = latest_timestamp(running.stack, open_id)

    triggered = trigger_intent(running.stack, open_id, "greet", "wechat")

    assert triggered.status_code == 200, triggered.text
    said = bot_texts(running.stack, open_id, after=mark)
    assert said, "the triggered intent made the bot say something"
    sent = service_texts(running, open_id)[before:]
    assert len(sent) == len(said)
    assert [s.startswith(t) for s, t in zip(sent, said, strict=True)] == [True] * len(said)


def test_a_proactive_message_past_the_48_hour_window_is_dropped_not_failed(
    running: Running,
) -> None:
    open_id = "oE2eWindowClosed"
    passive_reply(
        encrypted_post(
            running, message_xml(open_id, next(_msg_ids), MsgType="text", Content="hello")
        )[0]
    )
    running.wechat.send_errors = [45015] * 5  # every part of the answer is refused

    triggered = trigger_intent(running.stack, open_id, "greet", "wechat")

    # The relay is not made to retry what WeChat will never accept.
    assert triggered.status_code == 200, triggered.text
    assert service_texts(running, open_id) == []
    running.wechat.send_errors.clear()
