"""Telegram, full stack: the fake Bot API on 127.0.0.1 → Rasa with the Telegram channel → the
action server → the back office, and Rasa's proactive ``trigger_intent`` back to the chat."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.channels.fake_telegram import TOKEN, FakeTelegram, fake_telegram
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

SECRET = "e2e-telegram-secret"
_update_ids = itertools.count(1000)


@dataclass
class Running:
    stack: ChannelStack
    telegram: FakeTelegram

    @property
    def webhook(self) -> str:
        return self.stack.webhook_url("telegram")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    environment = {
        "CIVICDESK_TELEGRAM_TOKEN": TOKEN,
        "CIVICDESK_TELEGRAM_SECRET_TOKEN": SECRET,
        "CIVICDESK_TELEGRAM_WEBHOOK_URL": "",
        "CIVICDESK_TELEGRAM_MODE": "webhook",
    }
    with served_in_background(fake_telegram()) as telegram:
        channels = (
            "channels.telegram.TelegramInput:\n"
            f'  api_base_url: "{telegram.base_url}"\n'
            f'  api_file_url: "{telegram.base_file_url}"\n'
        )
        with channel_stack(tmp_path_factory.mktemp("var"), channels, environment) as stack:
            yield Running(stack, telegram)


def _chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private"}


def _from(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Ana"}


def message_update(chat_id: int, update_id: int | None = None, **content: Any) -> dict[str, Any]:
    update_id = next(_update_ids) if update_id is None else update_id
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": _from(chat_id),
            **content,
        },
    }


def post(running: Running, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    return httpx.post(running.webhook, json=update, headers=headers, timeout=60)


@dataclass
class TelegramCitizen:
    """A Telegram user: every message is an update POSTed as Telegram would."""

    running: Running
    chat_id: int

    @property
    def sender_id(self) -> str:
        return str(self.chat_id)

    def _deliver(self, update: dict[str, Any]) -> None:
        response = post(self.running, update)
        assert response.status_code == 200, response.text

    def say(self, text: str) -> None:
        self._deliver(message_update(self.chat_id, text=text))

    def press(self, button: dict[str, Any]) -> None:
        # Press the inline button Telegram shows for this title in the last keyboard sent.
        keyboards = [
            call["reply_markup"]["inline_keyboard"]
            for call in self.running.telegram.called("sendMessage")
            if int(call["chat_id"]) == self.chat_id
            and "inline_keyboard" in (call.get("reply_markup") or {})
        ]
        assert keyboards, "no inline keyboard was sent to this chat"
        # The newest key with this title (a question may span several messages).
        data = next(
            key["callback_data"]
            for keyboard in reversed(keyboards)
            for row in keyboard
            for key in row
            if key["text"] == button["title"]
        )
        update_id = next(_update_ids)
        self._deliver(
            {
                "update_id": update_id,
                "callback_query": {
                    "id": f"cbq-{update_id}",
                    "from": _from(self.chat_id),
                    "chat_instance": f"ci-{self.chat_id}",
                    "data": data,
                    "message": {
                        "message_id": update_id,
                        "date": int(time.time()),
                        "chat": _chat(self.chat_id),
                        "text": "buttons",
                    },
                },
            }
        )

    def share_location(self, latitude: float, longitude: float) -> None:
        self._deliver(
            message_update(self.chat_id, location={"latitude": latitude, "longitude": longitude})
        )

    def send_photo(self, data: bytes) -> None:
        file_id = f"photo-{self.chat_id}-{len(self.running.telegram.files)}"
        self.running.telegram.files[file_id] = data
        sizes = [
            {"file_id": f"{file_id}-thumb", "file_unique_id": "t", "width": 8, "height": 6},
            {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "width": 64,
                "height": 48,
                "file_size": len(data),
            },
        ]
        self._deliver(message_update(self.chat_id, photo=sizes))


def sent_texts(running: Running, chat_id: int) -> list[str]:
    return [
        str(call.get("text"))
        for call in running.telegram.called("sendMessage")
        if int(call["chat_id"]) == chat_id
    ]


def test_a_report_with_photo_location_and_buttons_lands_on_the_ticket(running: Running) -> None:
    citizen = TelegramCitizen(running, chat_id=7001)
    ticket, presses = assert_report_lands_on_the_ticket(running.stack, citizen, "telegram")
    # The bot's answers reached the chat through the Bot API, the reference among them.
    assert any(ticket["service_request_id"] in text for text in sent_texts(running, 7001))
    # Every button press was answered, so the citizen's client stopped spinning.
    assert len(running.telegram.called("answerCallbackQuery")) >= presses


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_a_missing_or_wrong_secret_token_creates_nothing(
    running: Running, secret: str | None
) -> None:
    chat_id = 7002 if secret is None else 7003
    update = message_update(chat_id, text="There is a pothole on Zhongshan Road")

    response = post(running, update, secret=secret)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert user_events(running.stack, str(chat_id)) == []
    assert sent_texts(running, chat_id) == []
    assert citizen_tickets(running.stack, f"telegram:{chat_id}", timeout=0) == []


def test_the_same_update_three_times_is_one_turn(running: Running) -> None:
    chat_id = 7004
    update = message_update(chat_id, text="hello")
    mark = latest_timestamp(running.stack, str(chat_id))

    responses = [post(running, update) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in responses] == [False, True, True]
    assert [e["text"] for e in user_events(running.stack, str(chat_id))] == ["hello"]
    # One answer, sent once.
    assert sent_texts(running, chat_id) == bot_texts(running.stack, str(chat_id), after=mark)
    assert sent_texts(running, chat_id)


def test_a_proactive_message_reaches_the_chat_the_citizen_used(running: Running) -> None:
    chat_id = 7005
    assert post(running, message_update(chat_id, text="hello")).status_code == 200
    before = len(sent_texts(running, chat_id))
    mark = latest_timestamp(running.stack, str(chat_id))

    triggered = trigger_intent(running.stack, str(chat_id), "greet", "telegram")

    assert triggered.status_code == 200, triggered.text
    said = bot_texts(running.stack, str(chat_id), after=mark)
    assert said, "the triggered intent made the bot say something"
    assert sent_texts(running, chat_id)[before:] == said


def test_staff_news_reaches_the_telegram_chat_through_the_outbox_relay(running: Running) -> None:
    # The whole proactive path: a staff change in the back office → its outbox relay →
    # Rasa's trigger_intent with output_channel=telegram → sendMessage on the Bot API.
    chat_id = 7010
    citizen = TelegramCitizen(running, chat_id=chat_id)
    ticket, _ = assert_report_lands_on_the_ticket(running.stack, citizen, "telegram")
    reference = ticket["service_request_id"]
    before = len(sent_texts(running, chat_id))
    note = "A crew is booked for Tuesday morning"
    credentials = running.stack.credentials
    assert credentials is not None

    moved = httpx.post(
        f"{running.stack.config.backoffice_url}/api/v1/staff/tickets/{reference}/status",
        json={"status": "acknowledged", "note": note},
        auth=(credentials.staff_username, credentials.staff_password),
        timeout=30,
    )

    assert moved.status_code == 200, moved.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pushed = sent_texts(running, chat_id)[before:]
        if any(note in text for text in pushed):
            break
        time.sleep(0.25)
    assert any(reference in text for text in pushed), pushed
    assert any(note in text for text in pushed), pushed


def bot_api_error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    """A refusal as the Bot API sends it (HTTP status and body), for ``FakeTelegram.failures``;
    ``parameters`` are its ``ResponseParameters`` (``retry_after``...)."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, body


def test_a_proactive_message_waits_out_flood_control(running: Running) -> None:
    chat_id = 7006
    assert post(running, message_update(chat_id, text="hello")).status_code == 200
    before = len(sent_texts(running, chat_id))
    running.telegram.failures["sendMessage"] = [
        bot_api_error(429, "Too Many Requests: retry after 1", retry_after=1)
    ]

    started = time.monotonic()
    triggered = trigger_intent(running.stack, str(chat_id), "greet", "telegram")

    assert triggered.status_code == 200, triggered.text
    assert time.monotonic() - started >= 1.0, "retry_after was waited out"
    texts = sent_texts(running, chat_id)[before:]
    # The refused attempt and its retry carry the same text; the retry was accepted.
    assert len(texts) >= 2, texts
    assert texts[0] == texts[1], texts
    assert running.telegram.failures["sendMessage"] == []


def test_a_citizen_who_blocked_the_bot_is_not_written_to_again(running: Running) -> None:
    chat_id = 7007
    assert post(running, message_update(chat_id, text="hello")).status_code == 200
    before = len(sent_texts(running, chat_id))
    running.telegram.failures["sendMessage"] = [
        bot_api_error(403, "Forbidden: bot was blocked by the user")
    ]

    first = trigger_intent(running.stack, str(chat_id), "greet", "telegram")
    second = trigger_intent(running.stack, str(chat_id), "greet", "telegram")

    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    # One attempt was refused with 403; after that nothing more goes to that chat.
    assert len(sent_texts(running, chat_id)) == before + 1
