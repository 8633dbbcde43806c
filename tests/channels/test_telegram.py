"""Telegram through a real Sanic server, python-telegram-bot and a fake Bot API server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore, RedisDedupStore
from channels._media import BackOfficeMediaUploader
from channels._messages import channel_reply
from channels._state import MemoryState, RedisState
from channels.telegram import CallbackPayloads, TelegramInput
from tests.channels.conftest import (
    FakeBackOffice,
    RecordingAgent,
    RecordingUploader,
    serve_channel,
)
from tests.channels.fake_telegram import TOKEN, FakeTelegram, fake_telegram

SECRET = "webhook-secret_123"
CHAT = 555


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with fake_telegram() as fake:
        yield fake


def make_channel(
    telegram: FakeTelegram, *, dedup: Any = None, uploader: Any = None, **kwargs: Any
) -> TelegramInput:
    return TelegramInput(
        TOKEN,
        secret_token=SECRET,
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        uploader=uploader or RecordingUploader(),
        dedup_store=dedup or MemoryDedupStore(),
        **kwargs,
    )


def message_update(update_id: int, **content: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id * 10,
            "date": int(time.time()),
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            **content,
        },
    }


async def post_update(
    base: str, update: dict[str, Any], secret: str | None = SECRET
) -> httpx.Response:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with httpx.AsyncClient() as client:
        return await client.post(f"{base}/webhook", json=update, headers=headers)


async def test_text_reaches_the_agent_and_the_reply_goes_to_the_chat(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    async def reply(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Step 1 of 2")

    agent.reply = reply
    channel = make_channel(telegram, webhook_url="https://bot.example/webhooks/telegram/webhook")
    async with serve_channel(channel, agent) as base:
        # setWebhook was called at start, with the secret token.
        [webhook] = telegram.called("setWebhook")
        assert webhook["url"] == "https://bot.example/webhooks/telegram/webhook"
        assert webhook["secret_token"] == SECRET
        response = await post_update(base, message_update(1, text="My street lamp is dark"))
    assert response.status_code == 200
    [message] = agent.messages
    assert message.text == "My street lamp is dark"
    assert message.sender_id == str(CHAT)
    assert message.input_channel == "telegram"
    assert message.metadata == {"channel": "telegram", "update_id": 1}
    [sent] = telegram.called("sendMessage")
    assert sent["chat_id"] == CHAT
    assert sent["text"] == "Step 1 of 2"


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET.upper()])
async def test_a_missing_or_wrong_secret_token_is_refused_and_nothing_is_created(
    telegram: FakeTelegram, agent: RecordingAgent, redis_store: RedisDedupStore, secret: str | None
) -> None:
    channel = make_channel(telegram, dedup=redis_store)
    async with serve_channel(channel, agent) as base:
        refused = await post_update(base, message_update(7, text="hi"), secret=secret)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert agent.messages == []
        assert telegram.called("sendMessage") == []
        # The update id was not claimed: the genuine delivery is still processed.
        accepted = await post_update(base, message_update(7, text="hi"))
    assert accepted.status_code == 200
    assert len(agent.messages) == 1


async def test_the_same_update_three_times_is_one_turn(
    telegram: FakeTelegram, agent: RecordingAgent, redis_store: RedisDedupStore
) -> None:
    channel = make_channel(telegram, dedup=redis_store)
    async with serve_channel(channel, agent) as base:
        responses = [await post_update(base, message_update(9, text="hello")) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in responses] == [False, True, True]
    assert len(agent.messages) == 1


async def test_a_photo_is_fetched_at_its_largest_size_and_uploaded_to_the_back_office(
    telegram: FakeTelegram, agent: RecordingAgent, backoffice: FakeBackOffice
) -> None:
    telegram.files = {"small": b"\xff\xd8small", "large": b"\xff\xd8" + b"L" * 5000}
    uploader = BackOfficeMediaUploader(backoffice.url, backoffice.api_key)
    channel = make_channel(telegram, uploader=uploader)
    photo = [
        {"file_id": "small", "file_unique_id": "us", "width": 90, "height": 90, "file_size": 7},
        {"file_id": "large", "file_unique_id": "ul", "width": 1280, "height": 960},
    ]
    async with serve_channel(channel, agent) as base:
        response = await post_update(base, message_update(11, photo=photo))
    assert response.status_code == 200
    assert [call["file_id"] for call in telegram.called("getFile")] == ["large"]
    [upload] = backoffice.uploads
    assert upload["data"] == telegram.files["large"]
    assert upload["content_type"] == "image/jpeg"
    [message] = agent.messages
    assert message.text == "/share_photo"
    assert message.metadata["photo"] == {
        "media_id": "m1",
        "media_url": f"{backoffice.url}/media/m1",
    }


async def test_a_photo_caption_is_the_message_text(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    telegram.files = {"p": b"\xff\xd8p"}
    channel = make_channel(telegram)
    photo = [{"file_id": "p", "file_unique_id": "up", "width": 10, "height": 10}]
    async with serve_channel(channel, agent) as base:
        await post_update(base, message_update(12, photo=photo, caption="pothole here"))
    [message] = agent.messages
    assert message.text == "pothole here"
    assert message.metadata["photo"]["media_id"] == "media-1"


async def test_an_oversized_photo_is_declined_politely_and_not_uploaded(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    telegram.files = {"big": b"x" * 2000}
    uploader = RecordingUploader()
    channel = make_channel(telegram, uploader=uploader, max_photo_bytes=1000)
    photo = [{"file_id": "big", "file_unique_id": "ub", "width": 10, "height": 10}]
    announced = [{**photo[0], "file_size": 5000}]
    async with serve_channel(channel, agent) as base:
        await post_update(base, message_update(13, photo=photo))
        await post_update(base, message_update(14, photo=announced))
    assert agent.messages == []
    assert uploader.uploads == []
    texts = [call["text"] for call in telegram.called("sendMessage")]
    assert len(texts) == 2
    assert all("too large" in text for text in texts)
    # The announced size was enough to decline the second without downloading it.
    assert len(telegram.called("getFile")) == 1


async def test_a_back_office_outage_tells_the_citizen_and_creates_no_turn(
    telegram: FakeTelegram, agent: RecordingAgent, backoffice: FakeBackOffice
) -> None:
    backoffice.status = 503
    telegram.files = {"p": b"\xff\xd8p"}
    uploader = BackOfficeMediaUploader(backoffice.url, backoffice.api_key)
    channel = make_channel(telegram, uploader=uploader)
    photo = [{"file_id": "p", "file_unique_id": "up", "width": 10, "height": 10}]
    async with serve_channel(channel, agent) as base:
        response = await post_update(base, message_update(15, photo=photo))
    assert response.status_code == 200
    assert agent.messages == []
    [sent] = telegram.called("sendMessage")
    assert "send it again" in sent["text"]


async def test_a_shared_location_becomes_coordinates_in_the_metadata(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    channel = make_channel(telegram)
    async with serve_channel(channel, agent) as base:
        location = {"latitude": 32.0603, "longitude": 118.7969}
        await post_update(base, message_update(16, location=location))
    [message] = agent.messages
    assert message.text == "/share_location"
    assert message.metadata["location"] == {"latitude": 32.0603, "longitude": 118.7969}


async def test_a_pressed_button_sends_its_payload_and_the_query_is_answered(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    long_payload = '/choose_service{"service_code":"street_light_out_on_a_main_road_at_night"}'

    async def offer(message: UserMessage) -> None:
        if message.text == "start":
            await message.output_channel.send_text_with_buttons(
                message.sender_id,
                "What is it about?",
                [
                    {"title": "Street light", "payload": long_payload},
                    {"title": "Other", "payload": "/other"},
                ],
            )

    agent.reply = offer
    channel = make_channel(telegram)
    async with serve_channel(channel, agent) as base:
        await post_update(base, message_update(20, text="start"))
        [sent] = telegram.called("sendMessage")
        keyboard = sent["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in keyboard] == ["Street light", "Other"]
        data = keyboard[0][0]["callback_data"]
        assert len(data.encode()) <= 64
        assert keyboard[1][0]["callback_data"] == "/other"
        press = {
            "update_id": 21,
            "callback_query": {
                "id": "cbq-1",
                "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": 99,
                    "date": int(time.time()),
                    "chat": {"id": CHAT, "type": "private"},
                    "text": "What is it about?",
                },
            },
        }
        response = await post_update(base, press)
    assert response.status_code == 200
    assert [m.text for m in agent.messages] == ["start", long_payload]
    assert agent.messages[1].sender_id == str(CHAT)
    assert [call["callback_query_id"] for call in telegram.called("answerCallbackQuery")] == [
        "cbq-1"
    ]


async def test_a_share_location_button_is_a_reply_keyboard_requesting_the_location(
    telegram: FakeTelegram,
) -> None:
    channel = make_channel(telegram)
    await channel.application.initialize()
    try:
        await channel.get_output_channel().send_text_with_buttons(
            str(CHAT),
            "Where is it?",
            [{"title": "Share my location", "payload": "/share_location"}, {"title": "Skip"}],
        )
    finally:
        await channel.application.shutdown()
    [sent] = telegram.called("sendMessage")
    markup = sent["reply_markup"]
    assert markup["keyboard"][0][0] == {"text": "Share my location", "request_location": True}
    assert markup["keyboard"][1][0] == {"text": "Skip"}
    assert markup["one_time_keyboard"] is True


@pytest.mark.parametrize(
    "content",
    [
        {"document": {"file_id": "d", "file_unique_id": "ud", "file_name": "a.pdf"}},
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "us",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        },
    ],
    ids=["document", "sticker"],
)
async def test_documents_and_stickers_are_declined_politely(
    telegram: FakeTelegram, agent: RecordingAgent, content: dict[str, Any]
) -> None:
    channel = make_channel(telegram)
    async with serve_channel(channel, agent) as base:
        response = await post_update(base, message_update(30, **content))
    assert response.status_code == 200
    assert agent.messages == []
    [sent] = telegram.called("sendMessage")
    assert "only read text, photos and locations" in sent["text"]


async def test_the_decline_is_in_the_language_the_citizens_app_is_set_to(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    chinese = message_update(31, document={"file_id": "d", "file_unique_id": "ud"})
    chinese["message"]["from"]["language_code"] = "zh-hans"
    french = message_update(32, document={"file_id": "d", "file_unique_id": "ud"})
    french["message"]["from"]["language_code"] = "fr"
    # The channel's own setting applies when the app's language has no texts.
    channel = make_channel(telegram, language="en")
    async with serve_channel(channel, agent) as base:
        await post_update(base, chinese)
        await post_update(base, french)
    assert [call["text"] for call in telegram.called("sendMessage")] == [
        channel_reply("unsupported_content", "zh-Hans"),
        channel_reply("unsupported_content", "en"),
    ]
    assert "照片" in telegram.called("sendMessage")[0]["text"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"update_id": "x"}', b'{"no": "id"}', b'{"update_id": 1, "message": 5}'],
)
async def test_malformed_updates_get_a_json_400(
    telegram: FakeTelegram, agent: RecordingAgent, body: bytes
) -> None:
    channel = make_channel(telegram)
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/webhook", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_update")
    assert agent.messages == []


async def test_long_replies_are_split_at_4096(telegram: FakeTelegram) -> None:
    channel = make_channel(telegram)
    await channel.application.initialize()
    try:
        text = ("word " * 2000).strip()  # 9999 characters
        await channel.get_output_channel().send_text_message(str(CHAT), text)
    finally:
        await channel.application.shutdown()
    parts = [call["text"] for call in telegram.called("sendMessage")]
    assert len(parts) == 3
    assert all(len(part) <= 4096 for part in parts)
    assert " ".join(parts) == text


async def test_flood_control_is_honoured_by_waiting_retry_after(telegram: FakeTelegram) -> None:
    telegram.failures["sendMessage"] = [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        )
    ]
    channel = make_channel(telegram)
    await channel.application.initialize()
    try:
        started = time.monotonic()
        await channel.get_output_channel().send_text_message(str(CHAT), "Your ticket is closed")
        waited = time.monotonic() - started
    finally:
        await channel.application.shutdown()
    assert len(telegram.called("sendMessage")) == 2
    assert waited >= 1.0


async def test_a_blocked_recipient_is_permanent_and_not_retried(telegram: FakeTelegram) -> None:
    forbidden = {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    telegram.failures["sendMessage"] = [(403, forbidden)]
    channel = make_channel(telegram)
    await channel.application.initialize()
    try:
        output = channel.get_output_channel()  # as Rasa gets it for a proactive message
        await output.send_text_message(str(CHAT), "Your ticket is closed")
        await channel.get_output_channel().send_text_message(str(CHAT), "Another update")
    finally:
        await channel.application.shutdown()
    assert len(telegram.called("sendMessage")) == 1
    assert await channel.blocked.contains(str(CHAT))


async def test_a_citizen_who_unblocks_and_writes_again_gets_replies(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    async def reply(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Welcome back")

    agent.reply = reply
    channel = make_channel(telegram)
    await channel.blocked.add(str(CHAT))
    async with serve_channel(channel, agent) as base:
        await post_update(base, message_update(80, text="hello again"))
    assert [call["text"] for call in telegram.called("sendMessage")] == ["Welcome back"]
    assert not await channel.blocked.contains(str(CHAT))


async def test_a_failing_turn_is_a_503_and_telegrams_redelivery_is_processed(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    agent.fail_next = 1
    channel = make_channel(telegram)
    async with serve_channel(channel, agent) as base:
        failed = await post_update(base, message_update(40, text="hi"))
        redelivered = await post_update(base, message_update(40, text="hi"))
    assert failed.status_code == 503
    assert redelivered.status_code == 200
    assert len(agent.messages) == 1


async def test_polling_mode_fetches_updates_for_local_development(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    telegram.updates = [message_update(50, text="hello from polling")]
    channel = TelegramInput(
        TOKEN,
        secret_token=None,
        mode="polling",
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        dedup_store=MemoryDedupStore(),
    )
    async with serve_channel(channel, agent) as base:
        for _ in range(100):
            if agent.messages:
                break
            await asyncio.sleep(0.05)
        # The webhook refuses everything in polling mode: there is no secret to match.
        refused = await post_update(base, message_update(51, text="x"), secret="anything")
    assert [m.text for m in agent.messages] == ["hello from polling"]
    assert refused.status_code == 403
    assert telegram.called("deleteWebhook")


def test_configuration_errors_stop_the_channel_from_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CIVICDESK_TELEGRAM_TOKEN", "CIVICDESK_TELEGRAM_SECRET_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="access_token"):
        TelegramInput.from_credentials({})
    with pytest.raises(ValueError, match="secret_token"):
        TelegramInput.from_credentials({"access_token": TOKEN})
    with pytest.raises(ValueError, match="secret_token"):
        TelegramInput.from_credentials({"access_token": TOKEN, "secret_token": "has spaces"})
    channel = TelegramInput.from_credentials({"access_token": TOKEN, "secret_token": SECRET})
    assert channel.name() == "telegram"


async def test_callback_payloads_round_trip() -> None:
    payloads = CallbackPayloads(MemoryState())
    assert await payloads.encode("/affirm") == "/affirm"
    long = "/x" + "y" * 100
    key = await payloads.encode(long)
    assert len(key.encode()) <= 64
    assert await payloads.decode(key) == long
    assert await payloads.decode("cd:" + "0" * 40) is None
    assert await payloads.decode("/affirm") == "/affirm"


async def test_a_button_drawn_by_one_process_is_understood_by_another(
    telegram: FakeTelegram, agent: RecordingAgent, redis_state: RedisState
) -> None:
    long_payload = '/choose_service{"service_code":"' + "x" * 80 + '"}'
    first = make_channel(telegram, state=redis_state)
    await first.application.initialize()
    try:
        await first.get_output_channel().send_text_with_buttons(
            str(CHAT), "Which one?", [{"title": "That one", "payload": long_payload}]
        )
    finally:
        await first.application.shutdown()
    data = telegram.called("sendMessage")[0]["reply_markup"]["inline_keyboard"][0][0][
        "callback_data"
    ]
    second = make_channel(telegram, state=redis_state)  # another Rasa process, same Redis
    press = {
        "update_id": 70,
        "callback_query": {
            "id": "cbq-2",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            "chat_instance": "ci",
            "data": data,
        },
    }
    async with serve_channel(second, agent) as base:
        await post_update(base, press)
    assert [m.text for m in agent.messages] == [long_payload]


async def test_a_button_press_counts_even_if_the_query_is_too_old_to_answer(
    telegram: FakeTelegram, agent: RecordingAgent
) -> None:
    telegram.failures["answerCallbackQuery"] = [
        (
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: query is too old and response timeout expired",
            },
        )
    ]
    press = {
        "update_id": 90,
        "callback_query": {
            "id": "cbq-old",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            "chat_instance": "ci",
            "data": "/affirm",
            "message": {
                "message_id": 5,
                "date": int(time.time()),
                "chat": {"id": CHAT, "type": "private"},
                "text": "Is it a street light?",
            },
        },
    }
    async with serve_channel(make_channel(telegram), agent) as base:
        response = await post_update(base, press)
    assert response.status_code == 200
    assert [m.text for m in agent.messages] == ["/affirm"]
