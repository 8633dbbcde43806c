"""Each sender's token bucket: a message over the limit gets a polite reply through the
channel's own reply path and is not handed to Rasa; other senders are not held up."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as redis_asyncio
from rasa.core.channels.channel import UserMessage

from channels._base import UNLIMITED, CivicDeskInputChannel
from channels._dedup import MemoryDedupStore
from channels._messages import channel_reply
from channels._rate_limit import (
    BURST_ENV,
    PER_MINUTE_ENV,
    MemoryTokenBucket,
    RedisTokenBucket,
    rate_settings,
)
from channels.rest import RestInput
from channels.signed_rest import SignedRestInput, sign
from channels.telegram import TelegramInput
from channels.webchat import WebChatInput
from channels.wechat import WeChatInput, parse_message, signature
from tests.channels.conftest import RecordingAgent, RecordingUploader, serve_channel
from tests.channels.fake_telegram import TOKEN, fake_telegram
from tests.channels.fake_wechat import APP_ID, APP_SECRET, fake_wechat

POLITE = channel_reply("rate_limited")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def echo(message: UserMessage) -> None:
    await message.output_channel.send_text_message(message.sender_id, f"You said: {message.text}")


def two_at_once() -> MemoryTokenBucket:
    """Two messages at once, then one a minute: the third in a row is over the limit."""
    return MemoryTokenBucket(per_minute=1, burst=2, clock=FakeClock())


# --- the bucket itself ------------------------------------------------------------------------


async def test_a_bucket_lets_the_burst_through_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = MemoryTokenBucket(per_minute=20, burst=10, clock=clock)
    assert [await bucket.allow("ana") for _ in range(11)] == [True] * 10 + [False]
    assert await bucket.allow("ben")  # another sender has a bucket of their own
    clock.now += 2.9
    assert not await bucket.allow("ana")
    clock.now += 0.2  # three seconds a token at 20 a minute
    assert await bucket.allow("ana")
    assert not await bucket.allow("ana")
    clock.now += 3600
    assert [await bucket.allow("ana") for _ in range(11)] == [True] * 10 + [False]


async def test_a_bucket_keeps_a_bounded_number_of_senders() -> None:
    bucket = MemoryTokenBucket(per_minute=1, burst=1, max_senders=3, clock=FakeClock())
    for sender in ("a", "b", "c", "d"):
        assert await bucket.allow(sender)
    assert len(bucket._buckets) == 3
    assert await bucket.allow("a")  # forgotten, so full again: errs on the citizen's side


@pytest.fixture
async def redis_client() -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    yield client
    await client.close()


async def test_redis_buckets_are_shared_by_processes_and_take_the_last_token_once(
    redis_client: redis_asyncio.Redis,
) -> None:
    prefix = f"civicdesk:test:{uuid.uuid4().hex}:"
    clock = FakeClock()
    first = RedisTokenBucket(redis_client, 6, 5, prefix=prefix, clock=clock)
    second = RedisTokenBucket(redis_client, 6, 5, prefix=prefix, clock=clock)
    try:
        # Twenty at once from two "processes": exactly the burst gets through.
        results = await asyncio.gather(*(bucket.allow("ana") for bucket in [first, second] * 10))
        assert sum(results) == 5
        assert await first.allow("ben")
        clock.now += 10  # one token every ten seconds at 6 a minute
        assert await second.allow("ana")
        assert not await first.allow("ana")
        ttl = await redis_client.pttl(prefix + "ana")
        assert 0 < ttl <= 120_000  # idle buckets go away by themselves
    finally:
        keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
        if keys:
            await redis_client.delete(*keys)


async def test_without_redis_the_process_buckets_are_used() -> None:
    unreachable = redis_asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    bucket = RedisTokenBucket(unreachable, 1, 2)
    try:
        assert [await bucket.allow("ana") for _ in range(3)] == [True, True, False]
    finally:
        await bucket.close()


def test_settings_come_from_credentials_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PER_MINUTE_ENV, raising=False)
    monkeypatch.delenv(BURST_ENV, raising=False)
    assert rate_settings() == (20, 10)
    monkeypatch.setenv(PER_MINUTE_ENV, "30")
    monkeypatch.setenv(BURST_ENV, "5")
    assert rate_settings() == (30, 5)
    assert rate_settings(60, None) == (60, 5)
    monkeypatch.setenv(PER_MINUTE_ENV, "many")
    with pytest.raises(ValueError, match=PER_MINUTE_ENV):
        rate_settings()
    assert RestInput.from_credentials({"rate_limit_per_minute": "0"}).rate_limiter is UNLIMITED
    with pytest.raises(ValueError, match="rate_limit_burst"):
        RestInput.from_credentials({"rate_limit_burst": "lots"})


def test_a_subclass_calling_its_parents_blueprint_takes_one_token_per_message() -> None:
    class LoudRest(RestInput):
        def blueprint(self, on_new_message: Any) -> Any:
            return super().blueprint(on_new_message)

    channel = LoudRest(rate_limiter=two_at_once())
    wrapped = channel.rate_limited(RecordingAgent())
    assert channel.rate_limited(wrapped) is wrapped


# --- through each channel --------------------------------------------------------------------


async def test_rest_over_the_limit_is_told_to_send_it_again(agent: RecordingAgent) -> None:
    agent.reply = echo
    channel = RestInput(rate_limiter=two_at_once())
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        answers = [
            (await client.post(f"{base}/webhook", json={"sender": s, "message": m})).json()
            for s, m in [("ana", "one"), ("ana", "two"), ("ana", "three"), ("ben", "hi")]
        ]
    assert [m.text for m in agent.messages] == ["one", "two", "hi"]
    assert answers[2] == [{"recipient_id": "ana", "text": POLITE}]
    assert answers[3] == [{"recipient_id": "ben", "text": "You said: hi"}]


async def test_signed_rest_over_the_limit_is_told_to_send_it_again(agent: RecordingAgent) -> None:
    agent.reply = echo
    channel = SignedRestInput("secret", dedup_store=MemoryDedupStore(), rate_limiter=two_at_once())
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        answers = []
        for n in range(3):
            body = json.dumps({"sender": "ana", "message": f"m{n}", "message_id": f"id{n}"})
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-CivicDesk-Timestamp": ts,
                "X-CivicDesk-Signature": sign("secret", ts, body.encode()),
            }
            response = await client.post(f"{base}/webhook", content=body, headers=headers)
            answers.append((response.status_code, response.json()))
    assert [m.text for m in agent.messages] == ["m0", "m1"]
    assert answers[2] == (200, [{"recipient_id": "ana", "text": POLITE}])


async def test_webchat_over_the_limit_is_told_to_send_it_again(agent: RecordingAgent) -> None:
    agent.reply = echo
    channel = WebChatInput(
        session_secret="s" * 32,
        dedup_store=MemoryDedupStore(),
        uploader=RecordingUploader(),
        rate_limiter=two_at_once(),
    )
    headers = {"X-CivicDesk-Webchat": "1"}
    async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
        await client.get(f"{base}/")
        answers = [
            (await client.post(f"{base}/message", json={"message": m}, headers=headers)).json()
            for m in ("one", "two", "three")
        ]
    assert [m.text for m in agent.messages] == ["one", "two"]
    assert [m["text"] for m in answers[2]["messages"]] == [POLITE]


async def test_telegram_over_the_limit_is_told_to_send_it_again(agent: RecordingAgent) -> None:
    agent.reply = echo
    async with fake_telegram() as telegram:
        channel = TelegramInput(
            TOKEN,
            secret_token="sec",
            base_url=telegram.base_url,
            base_file_url=telegram.base_file_url,
            dedup_store=MemoryDedupStore(),
            rate_limiter=two_at_once(),
        )
        async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
            for n in range(3):
                update = {
                    "update_id": n + 1,
                    "message": {
                        "message_id": n + 1,
                        "date": int(time.time()),
                        "chat": {"id": 555, "type": "private"},
                        "from": {"id": 555, "is_bot": False, "first_name": "Ana"},
                        "text": f"m{n}",
                    },
                }
                response = await client.post(
                    f"{base}/webhook",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": "sec"},
                )
                assert response.status_code == 200
        sent = [call["text"] for call in telegram.called("sendMessage")]
    assert [m.text for m in agent.messages] == ["m0", "m1"]
    assert sent == ["You said: m0", "You said: m1", POLITE]


async def test_wechat_over_the_limit_is_told_to_send_it_again(agent: RecordingAgent) -> None:
    agent.reply = echo
    async with fake_wechat() as wechat:
        channel = WeChatInput(
            token="t",
            app_id=APP_ID,
            app_secret=APP_SECRET,
            mode="plain",
            api_base_url=wechat.url,
            dedup_store=MemoryDedupStore(),
            rate_limiter=two_at_once(),
        )
        async with serve_channel(channel, agent) as base, httpx.AsyncClient() as client:
            replies = []
            for n in range(3):
                ts = str(int(time.time()))
                xml = (
                    "<xml><ToUserName>gh</ToUserName><FromUserName>oAna</FromUserName>"
                    f"<CreateTime>{ts}</CreateTime><MsgType>text</MsgType>"
                    f"<Content>m{n}</Content><MsgId>{n + 1}</MsgId></xml>"
                )
                response = await client.post(
                    f"{base}/webhook",
                    content=xml,
                    params={"timestamp": ts, "nonce": "n", "signature": signature("t", ts, "n")},
                )
                replies.append(parse_message(response.content)["Content"])
    assert [m.text for m in agent.messages] == ["m0", "m1"]
    assert replies == ["You said: m0", "You said: m1", POLITE]


def test_every_adapter_is_limited() -> None:
    # A new adapter gets the limit by being a CivicDeskInputChannel with a blueprint.
    adapters = [RestInput, SignedRestInput, WebChatInput, TelegramInput, WeChatInput]
    for adapter in adapters:
        assert issubclass(adapter, CivicDeskInputChannel)
        assert hasattr(adapter.__dict__["blueprint"], "__wrapped__"), adapter
