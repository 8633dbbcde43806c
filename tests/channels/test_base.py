"""The shared adapter base: dedup stores, metadata, uploads, splitting and buttons."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as redis_asyncio
from rasa.core.channels.channel import UserMessage

from channels._base import CivicDeskInputChannel, constant_time_equal
from channels._dedup import MemoryDedupStore, RedisDedupStore, dedup_store_from_config
from channels._media import (
    BackOfficeMediaUploader,
    InvalidLocation,
    InvalidPhoto,
    Location,
    MediaUploadFailed,
    PhotoTooLarge,
    UploadedMedia,
    check_photo_size,
    message_metadata,
)
from channels._output import Button, SplittingOutputChannel, split_message, utf16_length
from tests.channels.conftest import FakeBackOffice, RecordingAgent, free_port

# --- dedup -------------------------------------------------------------------------------


async def test_memory_store_claims_a_key_once_until_it_expires() -> None:
    store = MemoryDedupStore(ttl_seconds=0.2)
    assert await store.claim("a")
    assert not await store.claim("a")
    assert await store.claim("b")
    await asyncio.sleep(0.25)
    assert await store.claim("a")


async def test_memory_store_stays_bounded() -> None:
    store = MemoryDedupStore(ttl_seconds=60, max_keys=10)
    for n in range(100):
        assert await store.claim(str(n))
    assert len(store._expiry) <= 10
    assert not await store.claim("99")


async def test_redis_store_claims_once_across_clients(redis_store: RedisDedupStore) -> None:
    assert await redis_store.claim("telegram:1")
    assert not await redis_store.claim("telegram:1")
    # A second process (another client on the same server and prefix) sees the claim too.
    other = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        second = RedisDedupStore(other, ttl_seconds=60, prefix=redis_store._prefix)
        assert not await second.claim("telegram:1")
        assert await second.claim("telegram:2")
    finally:
        await other.close()


async def test_redis_store_release_lets_a_redelivery_through(
    redis_store: RedisDedupStore,
) -> None:
    assert await redis_store.claim("k")
    await redis_store.release("k")
    assert await redis_store.claim("k")


async def test_redis_store_keys_expire() -> None:
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    store = RedisDedupStore(client, ttl_seconds=1, prefix="civicdesk:test:ttl:")
    try:
        await client.delete("civicdesk:test:ttl:k")
        assert await store.claim("k")
        assert 0 < await client.ttl("civicdesk:test:ttl:k") <= 1
        await asyncio.sleep(1.2)
        assert await store.claim("k")
    finally:
        await client.delete("civicdesk:test:ttl:k")
        await client.close()


async def test_unreachable_redis_falls_back_to_in_process_dedup() -> None:
    store = RedisDedupStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await store.claim("k")
        assert not await store.claim("k")
    finally:
        await store.close()


def test_store_choice_follows_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICDESK_REDIS_URL", raising=False)
    assert isinstance(dedup_store_from_config(None), MemoryDedupStore)
    assert isinstance(dedup_store_from_config("redis://127.0.0.1:6379/0"), RedisDedupStore)
    monkeypatch.setenv("CIVICDESK_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert isinstance(dedup_store_from_config(None), RedisDedupStore)


class _Channel(CivicDeskInputChannel):
    @classmethod
    def name(cls) -> str:
        return "probe"


async def test_dispatch_once_hands_a_delivery_to_rasa_once() -> None:
    channel = _Channel(dedup_store=MemoryDedupStore())
    agent = RecordingAgent()
    for _ in range(3):
        await channel.dispatch_once("d1", agent, UserMessage("hi", sender_id="s"))
    assert len(agent.messages) == 1


async def test_dispatch_failure_releases_the_claim_so_the_redelivery_is_processed(
    redis_store: RedisDedupStore,
) -> None:
    channel = _Channel(dedup_store=redis_store)
    agent = RecordingAgent(fail_next=1)
    with pytest.raises(RuntimeError):
        await channel.dispatch_once("d1", agent, UserMessage("hi", sender_id="s"))
    assert await channel.dispatch_once("d1", agent, UserMessage("hi", sender_id="s"))
    assert len(agent.messages) == 1


async def test_the_base_refuses_requests_until_an_adapter_authenticates() -> None:
    from channels._base import ChannelRequestError

    with pytest.raises(ChannelRequestError) as refused:
        await _Channel(dedup_store=MemoryDedupStore()).authenticate(object())
    assert refused.value.status == 401


def test_constant_time_equal() -> None:
    assert constant_time_equal("abc", "abc")
    assert not constant_time_equal("abc", "abd")
    assert not constant_time_equal("abc", "")


# --- metadata and media ------------------------------------------------------------------


def test_metadata_has_one_shape_for_photos_and_locations() -> None:
    metadata = message_metadata(
        "telegram",
        location=Location(32.06, 118.79),
        photo=UploadedMedia("m1", "http://bo/media/m1"),
        extra={"message_id": "7"},
    )
    assert metadata == {
        "channel": "telegram",
        "message_id": "7",
        "location": {"latitude": 32.06, "longitude": 118.79},
        "photo": {"media_id": "m1", "media_url": "http://bo/media/m1"},
    }


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(91, 0), (0, 181), ("x", 0), (None, 1), (float("nan"), 0), (True, 0), (0, float("inf"))],
)
def test_invalid_coordinates_are_refused(lat: object, lon: object) -> None:
    with pytest.raises(InvalidLocation):
        Location.parse(lat, lon)


def test_coordinates_from_strings_are_accepted() -> None:
    assert Location.parse("32.5", "-118") == Location(32.5, -118.0)


def test_photo_size_is_checked() -> None:
    check_photo_size(b"x" * 10, 10)
    with pytest.raises(PhotoTooLarge):
        check_photo_size(b"x" * 11, 10)
    with pytest.raises(InvalidPhoto):
        check_photo_size(b"", 10)


async def test_uploader_posts_multipart_with_the_api_key(backoffice: FakeBackOffice) -> None:
    uploader = BackOfficeMediaUploader(backoffice.url, backoffice.api_key)
    media = await uploader.upload(b"\xff\xd8jpeg", filename="p.jpg", content_type="image/jpeg")
    assert media == UploadedMedia("m1", f"{backoffice.url}/media/m1")
    assert backoffice.uploads == [
        {"filename": "p.jpg", "content_type": "image/jpeg", "data": b"\xff\xd8jpeg"}
    ]


async def test_uploader_raises_when_the_back_office_refuses(backoffice: FakeBackOffice) -> None:
    with pytest.raises(MediaUploadFailed):
        await BackOfficeMediaUploader(backoffice.url, "wrong").upload(
            b"x", filename="p.jpg", content_type="image/jpeg"
        )
    backoffice.status = 503
    with pytest.raises(MediaUploadFailed):
        await BackOfficeMediaUploader(backoffice.url, backoffice.api_key).upload(
            b"x", filename="p.jpg", content_type="image/jpeg"
        )


async def test_uploader_raises_when_the_back_office_is_down() -> None:
    uploader = BackOfficeMediaUploader(f"http://127.0.0.1:{free_port()}", "k")
    with pytest.raises(MediaUploadFailed):
        await uploader.upload(b"x", filename="p.jpg", content_type="image/jpeg")


# --- splitting and buttons ---------------------------------------------------------------


def test_short_text_is_one_part() -> None:
    assert split_message("hello", 10) == ["hello"]
    assert split_message("", 10) == [""]


def test_text_is_split_at_paragraphs_then_lines_then_spaces() -> None:
    assert split_message("aaaa\n\nbbbb", 6) == ["aaaa", "bbbb"]
    assert split_message("aaaa\nbbbb", 6) == ["aaaa", "bbbb"]
    assert split_message("aa bb cc dd", 5) == ["aa bb", "cc dd"]


def test_a_word_longer_than_the_limit_is_cut() -> None:
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_respects_the_measure() -> None:
    text = "😀" * 3000  # 6000 UTF-16 code units
    parts = split_message(text, 4096, utf16_length)
    assert all(utf16_length(part) <= 4096 for part in parts)
    assert "".join(parts) == text


def test_button_from_rasa_keeps_payload_or_falls_back_to_title() -> None:
    assert Button.from_rasa({"title": "Yes", "payload": "/affirm"}) == Button("Yes", "/affirm")
    assert Button.from_rasa({"title": "Yes"}) == Button("Yes", "Yes")


class _Recording(SplittingOutputChannel):
    max_message_length = 10

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Sequence[Button] | None]] = []

    async def send_part(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None
    ) -> None:
        self.sent.append((recipient_id, text, buttons))


async def test_buttons_go_with_the_last_part() -> None:
    output = _Recording()
    await output.send_response(
        "r",
        {
            "text": "one two three four",
            "buttons": [{"title": "Yes", "payload": "/affirm"}],
        },
    )
    assert output.sent == [
        ("r", "one two", None),
        ("r", "three four", [Button("Yes", "/affirm")]),
    ]
    assert output.render_buttons([Button("Yes", "/affirm"), Button("No", "/deny")]) == (
        "1. Yes\n2. No"
    )
