"""Alipay life account, full stack: gateway messages signed as Alipay signs them → Rasa with the
Alipay channel → the action server → the back office; replies, Rasa's proactive
``trigger_intent`` and staff news from the back office's outbox relay through the fake
customer-service API on 127.0.0.1."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from channels.alipay import parse_biz_content, response_content
from tests.channels.fake_alipay import (
    APP_ID,
    FakeAlipay,
    answer_is_signed_by_the_app,
    fake_alipay,
    form_body,
    message_xml,
    platform_keys,
    signed_params,
)
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
    wait_for_turn,
)

_msg_ids = itertools.count(9000)
_OPTION = re.compile(r"^(\d+)\. (.+)$")


@dataclass
class Running:
    stack: ChannelStack
    alipay: FakeAlipay

    @property
    def webhook(self) -> str:
        return self.stack.webhook_url("alipay")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    keys = platform_keys()
    key_dir = tmp_path_factory.mktemp("alipay-keys")
    private_key_file = key_dir / "app_private_key.pem"
    private_key_file.write_text(keys.app.private_pem)
    private_key_file.chmod(0o600)
    environment = {
        "CIVICDESK_ALIPAY_APP_ID": APP_ID,
        "CIVICDESK_ALIPAY_PRIVATE_KEY_FILE": str(private_key_file),
        "CIVICDESK_ALIPAY_PUBLIC_KEY": keys.alipay.public_base64,
    }
    with served_in_background(fake_alipay()) as alipay:
        channels = (
            "channels.alipay.AlipayInput:\n"
            f'  gateway_url: "{alipay.gateway_url}"\n'
            f'  media_url: "{alipay.media_url}"\n'
        )
        with channel_stack(tmp_path_factory.mktemp("var"), channels, environment) as stack:
            yield Running(stack, alipay)


def deliver(running: Running, params: dict[str, str]) -> httpx.Response:
    """POST a gateway message as Alipay does (charset in the query, a GBK form body)."""
    query, body = form_body(params)
    return httpx.post(
        f"{running.webhook}?{query}",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )


def assert_signed_ack(response: httpx.Response, user_id: str) -> None:
    assert response.status_code == 200, response.text
    envelope = response.content.decode("gbk")
    assert answer_is_signed_by_the_app(envelope), envelope
    ack = parse_biz_content(response_content(envelope))
    assert (ack["MsgType"], ack["ToUserId"]) == ("ack", user_id)


@dataclass
class AlipayCitizen:
    """A follower of the life account: each message is a signed gateway delivery; a choice is
    answered with the number the menu showed for it."""

    running: Running
    user_id: str

    @property
    def sender_id(self) -> str:
        return self.user_id

    def _deliver(self, msg_type: str, **parts: dict[str, str] | str) -> None:
        xml = message_xml(self.user_id, f"msg-{next(_msg_ids)}", msg_type, **parts)
        assert_signed_ack(deliver(self.running, signed_params(xml)), self.user_id)

    def say(self, text: str) -> None:
        self._deliver("text", Text={"Content": text})

    def press(self, button: dict[str, Any]) -> None:
        # The newest menu line with this title (a question may span several messages).
        numbers = [
            match.group(1)
            for message in reversed(self.running.alipay.texts(self.user_id))
            for line in reversed(message.splitlines())
            if (match := _OPTION.match(line)) and match.group(2) == button["title"]
        ]
        assert numbers, f"no menu line for {button['title']!r} was sent to this citizen"
        self.say(numbers[0])

    def share_location(self, latitude: float, longitude: float) -> None:
        self._deliver(
            "location",
            Location={"Latitude": str(latitude), "Longitude": str(longitude), "Label": "鼓楼"},
        )

    def send_photo(self, data: bytes) -> None:
        media_id = f"MEDIA-{self.user_id}-{len(self.running.alipay.media)}"
        self.running.alipay.media[media_id] = data
        self._deliver("image", Image={"MediaId": media_id, "Format": "jpg"})


def assert_sent_once(sent: list[str], said: list[str]) -> None:
    """What the platform was asked to deliver is what the bot said, each once, in order (a
    message with buttons has its numbered menu under the text)."""
    assert said
    assert len(sent) == len(said), (sent, said)
    assert [s.startswith(t) for s, t in zip(sent, said, strict=True)] == [True] * len(said)


def test_a_report_lands_on_the_ticket_and_staff_news_reaches_the_chat(running: Running) -> None:
    user_id = "2088000000000001"
    citizen = AlipayCitizen(running, user_id=user_id)
    ticket, _ = assert_report_lands_on_the_ticket(running.stack, citizen, "alipay")
    reference = ticket["service_request_id"]
    before = len(running.alipay.texts(user_id))
    note = "A crew is booked for Tuesday morning"
    credentials = running.stack.credentials
    assert credentials is not None

    # The whole proactive path: a staff change in the back office → its outbox relay →
    # Rasa's trigger_intent with output_channel=alipay → custom.send on the platform.
    moved = httpx.post(
        f"{running.stack.config.backoffice_url}/api/v1/staff/tickets/{reference}/status",
        json={"status": "acknowledged", "note": note},
        auth=(credentials.staff_username, credentials.staff_password),
        timeout=30,
    )

    assert moved.status_code == 200, moved.text
    deadline = time.monotonic() + 60
    pushed: list[str] = []
    while time.monotonic() < deadline:
        pushed = running.alipay.texts(user_id)[before:]
        if any(note in text for text in pushed):
            break
        time.sleep(0.25)
    assert any(reference in text for text in pushed), pushed
    assert any(note in text for text in pushed), pushed
    assert running.alipay.refused_signatures == 0


@pytest.mark.parametrize("forgery", ["unsigned", "other-key", "tampered"])
def test_a_forged_or_unsigned_message_creates_nothing(running: Running, forgery: str) -> None:
    user_id = {"unsigned": "2088000000000011", "other-key": "2088000000000012"}.get(
        forgery, "2088000000000013"
    )
    xml = message_xml(user_id, f"msg-{next(_msg_ids)}", "text", Text={"Content": "Pothole"})
    params = signed_params(xml)
    if forgery == "unsigned":
        del params["sign"]
    elif forgery == "other-key":
        params = signed_params(xml, key=platform_keys().stranger.private)
    else:
        params["biz_content"] = xml.replace("Pothole", "Pothole on Zhongshan Road")

    response = deliver(running, params)

    assert response.status_code == 403
    assert response.json()["error"]["code"] in ("missing_signature", "invalid_signature")
    assert user_events(running.stack, user_id) == []
    assert running.alipay.texts(user_id) == []
    assert citizen_tickets(running.stack, f"alipay:{user_id}", timeout=0) == []


def test_the_same_msgid_three_times_is_one_turn(running: Running) -> None:
    user_id = "2088000000000101"
    xml = message_xml(user_id, f"msg-{next(_msg_ids)}", "text", Text={"Content": "hello"})
    params = signed_params(xml)
    mark = latest_timestamp(running.stack, user_id)

    responses = [deliver(running, params) for _ in range(3)]

    for response in responses:
        assert_signed_ack(response, user_id)
    wait_for_turn(running.stack, user_id, mark)
    assert [e["text"] for e in user_events(running.stack, user_id)] == ["hello"]
    assert_sent_once(running.alipay.texts(user_id), bot_texts(running.stack, user_id, after=mark))


def test_a_proactive_message_goes_through_the_customer_service_api(running: Running) -> None:
    user_id = "2088000000000102"
    citizen = AlipayCitizen(running, user_id=user_id)
    citizen.say("hello")
    wait_for_turn(running.stack, user_id, 0.0)
    before = len(running.alipay.texts(user_id))
    mark = latest_timestamp(running.stack, user_id)

    triggered = trigger_intent(running.stack, user_id, "greet", "alipay")

    assert triggered.status_code == 200, triggered.text
    said = bot_texts(running.stack, user_id, after=mark)
    assert_sent_once(running.alipay.texts(user_id)[before:], said)
