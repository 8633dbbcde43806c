"""WeChat through a real Sanic server and a fake WeChat API server."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore, RedisDedupStore
from channels._media import BackOfficeMediaUploader
from channels._messages import channel_reply
from channels._state import RedisState
from channels.wechat import (
    InvalidWeChatXml,
    WeChatApiError,
    WeChatCrypto,
    WeChatCryptoError,
    WeChatInput,
    parse_message,
    signature,
)
from tests.channels.conftest import (
    FakeBackOffice,
    RecordingAgent,
    RecordingUploader,
    serve_channel,
)
from tests.channels.fake_wechat import APP_ID, APP_SECRET, FakeWeChat, fake_wechat

TOKEN = "wechat-token"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
OPEN_ID = "oCitizenOpenId123"
ACCOUNT = "gh_civicdesk"


@pytest.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with fake_wechat() as fake:
        yield fake


def make_channel(wechat: FakeWeChat, *, mode: str = "plain", **kwargs: Any) -> WeChatInput:
    kwargs.setdefault("dedup_store", MemoryDedupStore())
    kwargs.setdefault("uploader", RecordingUploader())
    return WeChatInput(
        token=TOKEN,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        encoding_aes_key=AES_KEY,
        mode=mode,  # type: ignore[arg-type]
        api_base_url=wechat.url,
        **kwargs,
    )


def message_xml(msg_id: int | None = 1, **fields: str) -> str:
    fields = {"MsgType": "text", "Content": "hello", **fields}
    base = {"ToUserName": ACCOUNT, "FromUserName": OPEN_ID, "CreateTime": str(int(time.time()))}
    if msg_id is not None:
        base["MsgId"] = str(msg_id)
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in {**base, **fields}.items())
    return f"<xml>{inner}</xml>"


def signed_query(token: str = TOKEN, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = "n0nce"
    return {"timestamp": ts, "nonce": nonce, "signature": signature(token, ts, nonce)}


async def post(base: str, body: str | bytes, params: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{base}/webhook", params=params, content=body)


def reply_content(response: httpx.Response) -> str:
    fields = parse_message(response.content)
    assert fields["MsgType"] == "text"
    assert fields["ToUserName"] == OPEN_ID
    assert fields["FromUserName"] == ACCOUNT
    return fields["Content"]


async def echo(message: UserMessage) -> None:
    await message.output_channel.send_text_message(message.sender_id, f"You said: {message.text}")


async def test_the_url_check_echoes_only_with_a_valid_signature(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    async with serve_channel(make_channel(wechat), agent) as base, httpx.AsyncClient() as client:
        ok = await client.get(f"{base}/webhook", params={**signed_query(), "echostr": "e123"})
        bad = await client.get(
            f"{base}/webhook", params={**signed_query("other"), "echostr": "e123"}
        )
    assert (ok.status_code, ok.text) == (200, "e123")
    assert bad.status_code == 403
    assert "e123" not in bad.text


async def test_a_text_message_gets_a_passive_reply_within_the_deadline(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    agent.reply = echo
    async with serve_channel(make_channel(wechat), agent) as base:
        response = await post(base, message_xml(1, Content="My lamp is dark"), signed_query())
    assert response.status_code == 200
    assert reply_content(response) == "You said: My lamp is dark"
    [message] = agent.messages
    assert message.sender_id == OPEN_ID
    assert message.input_channel == "wechat"
    assert wechat.sent == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"timestamp": "1", "nonce": "n"},
        signed_query("wrong-token"),
        {**signed_query(), "signature": "0" * 40},
        signed_query(timestamp=int(time.time()) - 3600),
    ],
    ids=["none", "no-signature", "wrong-token", "forged", "expired"],
)
async def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_processed(
    wechat: FakeWeChat,
    agent: RecordingAgent,
    redis_store: RedisDedupStore,
    params: dict[str, str],
) -> None:
    agent.reply = echo
    channel = make_channel(wechat, dedup_store=redis_store)
    async with serve_channel(channel, agent) as base:
        refused = await post(base, message_xml(5), params)
        assert refused.status_code == 403
        assert agent.messages == []
        accepted = await post(base, message_xml(5), signed_query())
    assert accepted.status_code == 200
    assert len(agent.messages) == 1


async def test_the_same_msgid_three_times_is_one_turn(
    wechat: FakeWeChat, agent: RecordingAgent, redis_store: RedisDedupStore
) -> None:
    agent.reply = echo
    channel = make_channel(wechat, dedup_store=redis_store)
    async with serve_channel(channel, agent) as base:
        responses = [await post(base, message_xml(77), signed_query()) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.text for r in responses[1:]] == ["success", "success"]
    assert len(agent.messages) == 1


async def test_safe_mode_decrypts_and_encrypts_the_reply(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    agent.reply = echo
    crypto = WeChatCrypto(AES_KEY, APP_ID)
    encrypt = crypto.encrypt(message_xml(2, Content="secret complaint"))
    query = signed_query()
    params = {
        **query,
        "encrypt_type": "aes",
        "msg_signature": signature(TOKEN, query["timestamp"], query["nonce"], encrypt),
    }
    envelope = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
    async with serve_channel(make_channel(wechat, mode="safe"), agent) as base:
        response = await post(base, envelope, params)
    assert response.status_code == 200
    assert b"secret complaint" not in response.content
    outer = parse_message(response.content)
    assert outer["MsgSignature"] == signature(
        TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
    )
    inner = parse_message(crypto.decrypt(outer["Encrypt"]))
    assert inner["Content"] == "You said: secret complaint"
    assert [m.text for m in agent.messages] == ["secret complaint"]


async def test_safe_mode_refuses_plaintext_and_forged_ciphertexts(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    crypto = WeChatCrypto(AES_KEY, APP_ID)
    other_app = WeChatCrypto(AES_KEY, "wx_other_app")
    query = signed_query()

    def aes_params(encrypt: str, forged: bool = False) -> dict[str, str]:
        msg_signature = signature(TOKEN, query["timestamp"], query["nonce"], encrypt)
        return {
            **query,
            "encrypt_type": "aes",
            "msg_signature": "f" * 40 if forged else msg_signature,
        }

    good = crypto.encrypt(message_xml(3))
    foreign = other_app.encrypt(message_xml(3))
    async with serve_channel(make_channel(wechat, mode="safe"), agent) as base:
        plaintext = await post(base, message_xml(3), query)
        forged = await post(base, f"<xml><Encrypt>{good}</Encrypt></xml>", aes_params(good, True))
        wrong_app = await post(
            base, f"<xml><Encrypt>{foreign}</Encrypt></xml>", aes_params(foreign)
        )
        garbage = await post(base, "<xml><Encrypt>AAAA</Encrypt></xml>", aes_params("AAAA"))
    assert plaintext.status_code == 403
    assert forged.status_code == 403
    assert wrong_app.status_code == 400
    assert garbage.status_code == 400
    assert agent.messages == []


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<notxml/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<xml><Content>&b;</Content></xml>",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
    ],
    ids=["not-xml", "wrong-root", "entity-expansion", "external-entity"],
)
async def test_bad_xml_is_a_400_and_entities_are_never_expanded(
    wechat: FakeWeChat, agent: RecordingAgent, body: bytes
) -> None:
    async with serve_channel(make_channel(wechat), agent) as base:
        response = await post(base, body, signed_query())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_xml"
    assert agent.messages == []


async def test_a_slow_turn_answers_success_and_replies_through_the_service_api(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    async def slow(message: UserMessage) -> None:
        await asyncio.sleep(0.6)
        await message.output_channel.send_text_message(message.sender_id, "Filed as CD-1")

    agent.reply = slow
    channel = make_channel(wechat, reply_deadline_seconds=0.2)
    async with serve_channel(channel, agent) as base:
        started = time.monotonic()
        response = await post(base, message_xml(4), signed_query())
        answered_after = time.monotonic() - started
        await channel.drain()
    assert response.text == "success"
    assert answered_after < 0.55
    assert wechat.texts() == ["Filed as CD-1"]
    assert wechat.sent[0]["touser"] == OPEN_ID


async def test_several_replies_go_through_the_service_api_in_order(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    async def two(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "First")
        await message.output_channel.send_text_message(message.sender_id, "Second")

    agent.reply = two
    wechat.expire_next_token_use = True  # the cached token is refused once: refreshed
    channel = make_channel(wechat)
    async with serve_channel(channel, agent) as base:
        response = await post(base, message_xml(6), signed_query())
        await channel.drain()
    assert response.text == "success"
    assert wechat.texts() == ["First", "Second"]
    assert wechat.tokens_issued == 2


async def test_a_location_becomes_coordinates_in_the_metadata(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    body = message_xml(
        8, MsgType="location", Location_X="32.0603", Location_Y="118.7969", Scale="15"
    )
    async with serve_channel(make_channel(wechat), agent) as base:
        response = await post(base, body, signed_query())
    assert response.status_code == 200
    [message] = agent.messages
    assert message.text == "/share_location"
    assert message.metadata["location"] == {"latitude": 32.0603, "longitude": 118.7969}


async def test_an_image_is_fetched_by_media_id_and_uploaded_to_the_back_office(
    wechat: FakeWeChat, agent: RecordingAgent, backoffice: FakeBackOffice
) -> None:
    wechat.media = {"MEDIA1": b"\xff\xd8wechat-photo"}
    uploader = BackOfficeMediaUploader(backoffice.url, backoffice.api_key)
    body = message_xml(9, MsgType="image", PicUrl="http://evil.invalid/x.jpg", MediaId="MEDIA1")
    async with serve_channel(make_channel(wechat, uploader=uploader), agent) as base:
        response = await post(base, body, signed_query())
    assert response.status_code == 200
    assert backoffice.uploads[0]["data"] == b"\xff\xd8wechat-photo"
    [message] = agent.messages
    assert message.text == "/share_photo"
    assert message.metadata["photo"] == {
        "media_id": "m1",
        "media_url": f"{backoffice.url}/media/m1",
    }


async def test_an_oversized_image_is_declined_politely(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    wechat.media = {"BIG": b"x" * 5000}
    channel = make_channel(wechat, max_photo_bytes=1000)
    body = message_xml(10, MsgType="image", MediaId="BIG")
    async with serve_channel(channel, agent) as base:
        response = await post(base, body, signed_query())
    assert "too large" in reply_content(response)
    assert agent.messages == []


async def test_voice_is_declined_politely(wechat: FakeWeChat, agent: RecordingAgent) -> None:
    body = message_xml(11, MsgType="voice", MediaId="V", Format="amr")
    async with serve_channel(make_channel(wechat), agent) as base:
        response = await post(base, body, signed_query())
    assert "only read text, photos and locations" in reply_content(response)
    assert agent.messages == []


async def test_the_decline_is_in_the_channels_language(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    body = message_xml(15, MsgType="voice", MediaId="V", Format="amr")
    async with serve_channel(make_channel(wechat, language="zh-Hans"), agent) as base:
        response = await post(base, body, signed_query())
    assert reply_content(response) == channel_reply("unsupported_content", "zh-Hans")
    assert "文字" in reply_content(response)
    assert agent.messages == []


async def test_buttons_are_menu_links_and_a_tapped_label_sends_the_payload(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    async def offer(message: UserMessage) -> None:
        if message.text == "hello":
            await message.output_channel.send_text_with_buttons(
                message.sender_id,
                "Is this about a street light?",
                [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
            )

    agent.reply = offer
    async with serve_channel(make_channel(wechat), agent) as base:
        first = await post(base, message_xml(12), signed_query())
        await post(base, message_xml(13, Content="Yes"), signed_query())
        await post(base, message_xml(14, Content="Yes"), signed_query())
    content = reply_content(first)
    assert content.startswith("Is this about a street light?")
    assert '<a href="weixin://bizmsgmenu?msgmenucontent=Yes&msgmenuid=1">Yes</a>' in content
    assert '<a href="weixin://bizmsgmenu?msgmenucontent=No&msgmenuid=2">No</a>' in content
    # The tap becomes the payload once; typing the word later is just text.
    assert [m.text for m in agent.messages] == ["hello", "/affirm", "Yes"]


async def test_a_label_from_any_message_of_the_turn_sends_its_payload(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    # The bot asks some questions in two messages (best matches, then "Or:" more/none).
    async def offer(message: UserMessage) -> None:
        if message.text == "hello":
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "Which fits?", [{"title": "Pothole", "payload": "/pothole"}]
            )
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "Or:", [{"title": "Something else", "payload": "/more"}]
            )

    agent.reply = offer
    async with serve_channel(make_channel(wechat), agent) as base:
        await post(base, message_xml(21), signed_query())
        await post(base, message_xml(22, Content="Pothole"), signed_query())
    assert [m.text for m in agent.messages] == ["hello", "/pothole"]


async def test_proactive_messages_use_the_service_api(wechat: FakeWeChat) -> None:
    channel = make_channel(wechat)
    await channel.get_output_channel().send_text_message(OPEN_ID, "Your ticket is closed")
    assert wechat.texts() == ["Your ticket is closed"]


@pytest.mark.parametrize("errcode", [43004, 43019, 45015, 45047])
async def test_a_citizen_out_of_reach_is_skipped_not_retried(
    wechat: FakeWeChat, errcode: int
) -> None:
    wechat.send_errors = [errcode]
    output = make_channel(wechat).get_output_channel()
    await output.send_text_message(OPEN_ID, "Your ticket is closed")
    assert wechat.texts() == []
    # The next message (a later turn, or another citizen) goes out as usual.
    await output.send_text_message(OPEN_ID, "Thank you")
    assert wechat.texts() == ["Thank you"]


async def test_a_passing_api_failure_is_raised_for_the_sender_to_retry(
    wechat: FakeWeChat,
) -> None:
    wechat.send_errors = [-1]  # "system busy"
    with pytest.raises(WeChatApiError) as raised:
        await make_channel(wechat).get_output_channel().send_text_message(OPEN_ID, "Closed")
    assert raised.value.errcode == -1
    assert wechat.texts() == []


async def test_long_replies_are_split_under_wechats_byte_limit(wechat: FakeWeChat) -> None:
    channel = make_channel(wechat)
    text = "路灯不亮" * 400  # 4800 bytes in UTF-8
    await channel.get_output_channel().send_text_message(OPEN_ID, text)
    assert "".join(wechat.texts()) == text
    assert all(len(part.encode()) <= 2000 for part in wechat.texts())


def test_crypto_round_trip_and_refusals() -> None:
    crypto = WeChatCrypto(AES_KEY, APP_ID)
    assert crypto.decrypt(crypto.encrypt("<xml>路灯</xml>")) == "<xml>路灯</xml>"
    with pytest.raises(WeChatCryptoError):
        crypto.decrypt("!!!")
    with pytest.raises(WeChatCryptoError):
        WeChatCrypto(AES_KEY, "wx_other").decrypt(crypto.encrypt("<xml/>"))
    with pytest.raises(ValueError, match="EncodingAESKey"):
        WeChatCrypto("short", APP_ID)


def test_signature_is_sha1_of_the_sorted_parts() -> None:
    import hashlib

    assert signature("b", "c", "a") == hashlib.sha1(b"abc").hexdigest()  # noqa: S324


def test_xml_parser_refuses_dtds() -> None:
    with pytest.raises(InvalidWeChatXml):
        parse_message(b'<!DOCTYPE xml [<!ENTITY a "x">]><xml><A>&a;</A></xml>')


def test_configuration_errors_stop_the_channel_from_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TOKEN", "APP_ID", "APP_SECRET", "ENCODING_AES_KEY", "MODE"):
        monkeypatch.delenv(f"CIVICDESK_WECHAT_{name}", raising=False)
    with pytest.raises(ValueError, match="token"):
        WeChatInput.from_credentials({})
    with pytest.raises(ValueError, match="encoding_aes_key"):
        WeChatInput.from_credentials({"token": "t", "app_id": "a", "app_secret": "s"})
    channel = WeChatInput.from_credentials(
        {"token": "t", "app_id": "a", "app_secret": "s", "encoding_aes_key": AES_KEY}
    )
    assert channel.name() == "wechat"


async def test_a_message_without_a_sender_is_a_400(
    wechat: FakeWeChat, agent: RecordingAgent
) -> None:
    body = "<xml><MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>"
    async with serve_channel(make_channel(wechat), agent) as base:
        response = await post(base, body, signed_query())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_message"
    assert agent.messages == []


async def test_a_tapped_label_is_understood_by_another_process(
    wechat: FakeWeChat, agent: RecordingAgent, redis_state: RedisState
) -> None:
    offering = make_channel(wechat, state=redis_state)
    await offering.get_output_channel().send_text_with_buttons(
        OPEN_ID, "Street light?", [{"title": "Yes", "payload": "/affirm"}]
    )
    answering = make_channel(wechat, state=redis_state)
    async with serve_channel(answering, agent) as base:
        await post(base, message_xml(90, Content="Yes"), signed_query())
    assert [m.text for m in agent.messages] == ["/affirm"]
