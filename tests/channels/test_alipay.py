"""Alipay life account through a real Sanic server and the fake Alipay platform on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore, RedisDedupStore
from channels._media import BackOfficeMediaUploader
from channels._messages import channel_reply
from channels._state import RedisState
from channels.alipay import (
    AlipayApiError,
    AlipayInput,
    canonical_string,
    load_private_key,
    load_public_key,
    parse_biz_content,
    response_content,
    sign,
    verify,
    verify_params,
)
from channels.alipay._client import raw_json_member
from tests.channels.conftest import (
    FakeBackOffice,
    RecordingAgent,
    RecordingUploader,
    serve_channel,
)
from tests.channels.fake_alipay import (
    APP_ID,
    CHECK_SERVICE,
    FakeAlipay,
    answer_is_signed_by_the_app,
    fake_alipay,
    form_body,
    gateway_check_xml,
    message_xml,
    platform_keys,
    signed_params,
)

USER_ID = "2088102122458832"
_msg_ids = itertools.count(1)


@pytest.fixture
async def alipay() -> AsyncIterator[FakeAlipay]:
    async with fake_alipay() as fake:
        yield fake


def make_channel(alipay: FakeAlipay, **kwargs: Any) -> AlipayInput:
    kwargs.setdefault("dedup_store", MemoryDedupStore())
    kwargs.setdefault("uploader", RecordingUploader())
    keys = platform_keys()
    return AlipayInput(
        app_id=APP_ID,
        private_key=keys.app.private_pem,
        alipay_public_key=keys.alipay.public_base64,
        gateway_url=alipay.gateway_url,
        media_url=alipay.media_url,
        **kwargs,
    )


def text_xml(content: str, msg_id: str | None = None, user_id: str = USER_ID) -> str:
    return message_xml(user_id, msg_id or f"m{next(_msg_ids)}", "text", Text={"Content": content})


async def post(base: str, params: dict[str, str]) -> httpx.Response:
    query, body = form_body(params)
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{base}/webhook?{query}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


def assert_signed_ack(response: httpx.Response, user_id: str = USER_ID) -> None:
    """A 200 whose body is the ack envelope, signed with the app's key, addressed back."""
    assert response.status_code == 200, response.text
    envelope = response.content.decode("gbk")
    assert answer_is_signed_by_the_app(envelope)
    ack = parse_biz_content(response_content(envelope))
    assert (ack["MsgType"], ack["ToUserId"], ack["AppId"]) == ("ack", user_id, APP_ID)


async def echo(message: UserMessage) -> None:
    await message.output_channel.send_text_message(message.sender_id, f"You said: {message.text}")


# --- signatures ----------------------------------------------------------------------------


def test_rsa2_sign_and_verify_round_trip_and_refusals() -> None:
    keys = platform_keys()
    signature = sign("a=1&b=路灯", keys.app.private, "GBK")
    assert verify("a=1&b=路灯", signature, keys.app.public, "GBK")
    assert not verify("a=1&b=路灯", signature, keys.app.public, "utf-8")  # other bytes
    assert not verify("a=2&b=路灯", signature, keys.app.public, "GBK")
    assert not verify("a=1&b=路灯", signature, keys.stranger.public, "GBK")
    assert not verify("a=1&b=路灯", "not base64!", keys.app.public, "GBK")
    flipped = bytearray(base64.b64decode(signature))
    flipped[-1] ^= 1
    assert not verify("a=1&b=路灯", base64.b64encode(flipped).decode(), keys.app.public, "GBK")


def test_the_canonical_string_is_sorted_non_empty_pairs_without_sign() -> None:
    params = {"sign": "x", "b": "2", "a": "1", "empty": "", "sign_type": "RSA2"}
    assert canonical_string(params) == "a=1&b=2&sign_type=RSA2"
    assert canonical_string(params, exclude=("sign", "sign_type")) == "a=1&b=2"


def test_keys_load_from_pem_and_from_the_consoles_bare_base64() -> None:
    keys = platform_keys()
    pem = keys.app.private_pem
    bare = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert load_private_key(pem).private_numbers() == load_private_key(bare).private_numbers()
    assert load_public_key(keys.app.public_base64).public_numbers() == (
        keys.app.public.public_numbers()
    )
    with pytest.raises(ValueError, match="public key"):
        load_public_key("bm90IGEga2V5")
    with pytest.raises(ValueError, match="private key"):
        load_private_key(keys.app.public_base64)


def test_params_signed_with_or_without_sign_type_in_the_string_both_verify() -> None:
    alipay_key = platform_keys().alipay.public
    for sign_type_signed in (True, False):
        params = signed_params("<XML/>", sign_type_signed=sign_type_signed)
        assert verify_params(params, alipay_key)
        assert not verify_params({**params, "biz_content": "<XML>x</XML>"}, alipay_key)


async def test_the_gateway_check_is_answered_with_our_public_key_signed(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    params = signed_params(gateway_check_xml(), service=CHECK_SERVICE)
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, params)
        unsigned = await post(base, {k: v for k, v in params.items() if k != "sign"})
    assert response.status_code == 200
    envelope = response.content.decode("gbk")
    assert answer_is_signed_by_the_app(envelope)
    content = response_content(envelope)
    assert content.startswith("<success>true</success>")
    assert f"<biz_content>{platform_keys().app.public_base64}</biz_content>" in content
    assert unsigned.status_code == 403
    assert platform_keys().app.public_base64 not in unsigned.text


@pytest.mark.parametrize(
    "forge",
    ["unsigned", "empty-sign", "forged", "wrong-key", "tampered-body", "rsa-sha1", "no-sign-type"],
)
async def test_forged_or_unsigned_messages_create_nothing(
    alipay: FakeAlipay, agent: RecordingAgent, redis_store: RedisDedupStore, forge: str
) -> None:
    agent.reply = echo
    xml = text_xml("Pothole on Zhongshan Road", msg_id="forge-1")
    good = signed_params(xml)
    bad = dict(good)
    if forge == "unsigned":
        del bad["sign"]
    elif forge == "empty-sign":
        bad["sign"] = ""
    elif forge == "forged":
        bad["sign"] = base64.b64encode(b"\x01" * 256).decode()
    elif forge == "wrong-key":
        bad = signed_params(xml, key=platform_keys().stranger.private)
    elif forge == "tampered-body":
        bad["biz_content"] = xml.replace("Pothole", "Pothole and more")
    elif forge == "rsa-sha1":
        bad = signed_params(xml, sign_type="RSA")
    elif forge == "no-sign-type":
        del bad["sign_type"]
    channel = make_channel(alipay, dedup_store=redis_store)
    async with serve_channel(channel, agent) as base:
        refused = await post(base, bad)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] in (
            "missing_signature",
            "invalid_signature",
            "unsupported_sign_type",
        )
        assert agent.messages == []
        assert alipay.sent == []
        # Nothing was claimed either: the genuine delivery of that MsgId is processed.
        accepted = await post(base, good)
    assert_signed_ack(accepted)
    assert [m.text for m in agent.messages] == ["Pothole on Zhongshan Road"]


# --- messages ------------------------------------------------------------------------------


async def test_a_text_message_is_one_turn_acked_and_answered_through_the_api(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    agent.reply = echo
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(text_xml("我家门口的路灯不亮")))
    assert_signed_ack(response)
    [message] = agent.messages
    assert (message.text, message.sender_id, message.input_channel) == (
        "我家门口的路灯不亮",
        USER_ID,
        "alipay",
    )
    assert message.metadata["channel"] == "alipay"
    assert alipay.texts(USER_ID) == ["You said: 我家门口的路灯不亮"]
    assert alipay.sent[0]["msg_type"] == "text"


async def test_utf8_messages_are_read_and_answered_in_utf8(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(text_xml("路灯坏了"), charset="UTF-8"))
    assert response.status_code == 200
    envelope = response.content.decode("utf-8")
    assert 'encoding="UTF-8"' in envelope
    assert answer_is_signed_by_the_app(envelope, "UTF-8")
    assert [m.text for m in agent.messages] == ["路灯坏了"]


async def test_the_same_msgid_three_times_is_one_turn(
    alipay: FakeAlipay, agent: RecordingAgent, redis_store: RedisDedupStore
) -> None:
    agent.reply = echo
    params = signed_params(text_xml("hello", msg_id="repeat-1"))
    async with serve_channel(make_channel(alipay, dedup_store=redis_store), agent) as base:
        responses = [await post(base, params) for _ in range(3)]
    for response in responses:
        assert_signed_ack(response)
    assert [m.text for m in agent.messages] == ["hello"]
    assert alipay.texts() == ["You said: hello"]


async def test_a_failed_turn_is_a_503_and_the_redelivery_is_processed(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    agent.fail_next = 1
    params = signed_params(text_xml("hello", msg_id="retry-1"))
    async with serve_channel(make_channel(alipay), agent) as base:
        failed = await post(base, params)
        retried = await post(base, params)
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "unavailable"
    assert_signed_ack(retried)
    assert [m.text for m in agent.messages] == ["hello"]


async def test_a_slow_turn_is_acked_at_once_and_answered_when_done(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    async def slow(message: UserMessage) -> None:
        await asyncio.sleep(0.6)
        await message.output_channel.send_text_message(message.sender_id, "Filed as CD-1")

    agent.reply = slow
    channel = make_channel(alipay, reply_deadline_seconds=0.2)
    async with serve_channel(channel, agent) as base:
        started = time.monotonic()
        response = await post(base, signed_params(text_xml("hello")))
        answered_after = time.monotonic() - started
        await channel.drain()
    assert_signed_ack(response)
    assert answered_after < 0.55
    assert alipay.texts() == ["Filed as CD-1"]


async def test_a_location_becomes_coordinates_in_the_metadata(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    xml = message_xml(
        USER_ID,
        "loc-1",
        "location",
        Location={"Latitude": "32.0603", "Longitude": "118.7969", "Label": "鼓楼"},
    )
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(xml))
    assert_signed_ack(response)
    [message] = agent.messages
    assert message.text == "/share_location"
    assert message.metadata["location"] == {"latitude": 32.0603, "longitude": 118.7969}


async def test_a_location_out_of_range_is_declined_politely(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    xml = message_xml(
        USER_ID, "loc-2", "location", Location={"Latitude": "132", "Longitude": "118"}
    )
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(xml))
    assert_signed_ack(response)
    assert agent.messages == []
    assert alipay.texts() == [channel_reply("unsupported_content")]


async def test_an_image_is_downloaded_by_media_id_and_uploaded_to_the_back_office(
    alipay: FakeAlipay, agent: RecordingAgent, backoffice: FakeBackOffice
) -> None:
    alipay.media = {"MEDIA-1": b"\xff\xd8alipay-photo"}
    uploader = BackOfficeMediaUploader(backoffice.url, backoffice.api_key)
    xml = message_xml(USER_ID, "img-1", "image", Image={"MediaId": "MEDIA-1", "Format": "jpg"})
    async with serve_channel(make_channel(alipay, uploader=uploader), agent) as base:
        response = await post(base, signed_params(xml))
    assert_signed_ack(response)
    assert backoffice.uploads[0]["data"] == b"\xff\xd8alipay-photo"
    assert backoffice.uploads[0]["content_type"] == "image/jpeg"
    [message] = agent.messages
    assert message.text == "/share_photo"
    assert message.metadata["photo"] == {
        "media_id": "m1",
        "media_url": f"{backoffice.url}/media/m1",
    }
    assert alipay.refused_signatures == 0


@pytest.mark.parametrize(
    ("media", "max_photo_bytes", "reply_key"),
    [({"BIG": b"x" * 5000}, 1000, "photo_too_large"), ({}, 10_000, "photo_not_saved")],
    ids=["too-large", "not-available"],
)
async def test_an_image_that_cannot_be_taken_is_declined_and_makes_no_turn(
    alipay: FakeAlipay,
    agent: RecordingAgent,
    media: dict[str, bytes],
    max_photo_bytes: int,
    reply_key: str,
) -> None:
    alipay.media = media
    channel = make_channel(alipay, max_photo_bytes=max_photo_bytes)
    xml = message_xml(USER_ID, f"img-{reply_key}", "image", Image={"MediaId": "BIG"})
    async with serve_channel(channel, agent) as base:
        response = await post(base, signed_params(xml))
    assert_signed_ack(response)
    assert agent.messages == []
    assert alipay.texts() == [channel_reply(reply_key)]


async def test_voice_is_declined_politely_in_the_channels_language(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    xml = message_xml(USER_ID, "voice-1", "voice", Voice={"MediaId": "V"})
    async with serve_channel(make_channel(alipay, language="zh-Hans"), agent) as base:
        response = await post(base, signed_params(xml))
    assert_signed_ack(response)
    assert agent.messages == []
    assert alipay.texts() == [channel_reply("unsupported_content", "zh-Hans")]
    assert "文字" in alipay.texts()[0]


async def test_events_are_acknowledged_and_make_no_turn(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    xml = message_xml(USER_ID, None, "event", EventType="follow", ActionParam="")
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(xml))
    assert_signed_ack(response)
    assert agent.messages == []
    assert alipay.sent == []


async def test_buttons_are_a_numbered_menu_and_a_number_or_label_sends_the_payload(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    async def offer(message: UserMessage) -> None:
        if message.text == "hello":
            await message.output_channel.send_text_with_buttons(
                message.sender_id,
                "Which fits best?",
                [{"title": "Pothole", "payload": "/pothole"}],
            )
            await message.output_channel.send_text_with_buttons(
                message.sender_id,
                "Or:",
                [{"title": "Something else", "payload": "/more"}],
            )

    agent.reply = offer
    async with serve_channel(make_channel(alipay), agent) as base:
        await post(base, signed_params(text_xml("hello")))
        await post(base, signed_params(text_xml("2")))
        await post(base, signed_params(text_xml("hello")))
        await post(base, signed_params(text_xml("pothole")))
        await post(base, signed_params(text_xml("1")))
    hint = channel_reply("options_hint")
    first, second = alipay.texts()[:2]
    assert first == f"Which fits best?\n\n{hint}\n1. Pothole"
    assert second == f"Or:\n\n{hint}\n2. Something else"
    # A number or a label (any case) picks the option once; afterwards "1" is just "1".
    assert [m.text for m in agent.messages] == ["hello", "/more", "hello", "/pothole", "1"]


async def test_an_option_is_understood_by_another_process(
    alipay: FakeAlipay, agent: RecordingAgent, redis_state: RedisState
) -> None:
    offering = make_channel(alipay, state=redis_state)
    await offering.get_output_channel().send_text_with_buttons(
        USER_ID, "Street light?", [{"title": "Yes", "payload": "/affirm"}]
    )
    answering = make_channel(alipay, state=redis_state)
    async with serve_channel(answering, agent) as base:
        await post(base, signed_params(text_xml("1")))
    assert [m.text for m in agent.messages] == ["/affirm"]


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "biz_content",
    [
        "not xml",
        "<xml>unclosed",
        "<Other><AppId>x</AppId></Other>",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<XML><Text><Content>&b;</Content></Text></XML>",
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><XML><MsgType>&e;</MsgType></XML>',
        "",
    ],
    ids=["not-xml", "unclosed", "wrong-root", "entity-expansion", "external-entity", "empty"],
)
async def test_bad_xml_is_a_400_and_entities_are_never_expanded(
    alipay: FakeAlipay, agent: RecordingAgent, biz_content: str
) -> None:
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(biz_content))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_xml"
    assert agent.messages == []


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"service": "alipay.something.else"}, 400, "unknown_service"),
        ({"app_id": "2021999999999999"}, 403, "wrong_app"),
        ({"created_ms": int(time.time() * 1000) - 13 * 3600 * 1000}, 403, "expired_message"),
        ({"created_ms": int(time.time() * 1000) + 3600 * 1000}, 403, "expired_message"),
        ({"no_sender": True}, 400, "invalid_message"),
    ],
    ids=["unknown-service", "other-app", "too-old", "from-the-future", "no-sender"],
)
async def test_messages_that_are_not_for_us_are_refused(
    alipay: FakeAlipay,
    agent: RecordingAgent,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    service = change.pop("service", "alipay.mobile.public.message.notify")
    user_id = "" if change.pop("no_sender", False) else USER_ID
    xml = message_xml(user_id, "odd-1", "text", Text={"Content": "hi"}, **change)
    async with serve_channel(make_channel(alipay), agent) as base:
        response = await post(base, signed_params(xml, service=service))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert agent.messages == []


async def test_a_charset_alipay_does_not_use_and_bytes_not_in_it_are_400s(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    async with serve_channel(make_channel(alipay), agent) as base, httpx.AsyncClient() as client:
        odd_charset = await client.post(f"{base}/webhook?charset=EBCDIC", content=b"a=b")
        not_gbk = await client.post(f"{base}/webhook?charset=GBK", content=b"a=%FF%FF")
        too_large = await client.post(f"{base}/webhook", content=b"a" * (300 * 1024))
    assert (odd_charset.status_code, odd_charset.json()["error"]["code"]) == (
        400,
        "invalid_charset",
    )
    assert (not_gbk.status_code, not_gbk.json()["error"]["code"]) == (400, "invalid_request")
    assert too_large.status_code == 413
    assert agent.messages == []


async def test_odd_requests_never_get_a_server_error(
    alipay: FakeAlipay, agent: RecordingAgent
) -> None:
    bodies = [b"", b"\x00\xff\xfe", b"sign=&sign_type=RSA2", b"%", b"biz_content=<XML/>", b"&&=="]
    errors = []
    async with serve_channel(make_channel(alipay), agent) as base, httpx.AsyncClient() as client:
        for body, query in itertools.product(bodies, ["", "charset=GBK", "charset=utf-8&sign=x"]):
            for method in ("POST", "GET", "PUT"):
                response = await client.request(
                    method, f"{base}/webhook?{query}", content=body if method != "GET" else None
                )
                if response.status_code >= 500:
                    errors.append((method, query, body, response.status_code))
    assert errors == []
    assert agent.messages == []


# --- proactive messages and the API ----------------------------------------------------------


async def test_proactive_messages_use_the_customer_service_api_signed(
    alipay: FakeAlipay,
) -> None:
    await make_channel(alipay).get_output_channel().send_text_message(USER_ID, "Ticket closed")
    assert alipay.sent == [
        {
            "to_user_id": USER_ID,
            "msg_type": "text",
            "text": {"content": "Ticket closed"},
            "chat": "1",
        }
    ]
    assert alipay.refused_signatures == 0


async def test_a_business_refusal_is_dropped_and_a_passing_failure_is_raised(
    alipay: FakeAlipay,
) -> None:
    output = make_channel(alipay).get_output_channel()
    alipay.send_errors = [("40004", "USER_NOT_FOLLOW")]
    await output.send_text_message(USER_ID, "Ticket closed")
    assert alipay.sent == []
    alipay.send_errors = [("20000", "isp.unknow-error")]
    with pytest.raises(AlipayApiError) as raised:
        await output.send_text_message(USER_ID, "Ticket closed")
    assert raised.value.code == "20000"
    await output.send_text_message(USER_ID, "Thank you")
    assert alipay.texts() == ["Thank you"]


@pytest.mark.parametrize("signer", ["stranger", "nobody"])
async def test_an_answer_not_signed_by_alipay_is_not_believed(
    alipay: FakeAlipay, signer: str
) -> None:
    output = make_channel(alipay).get_output_channel()
    alipay.answers_signed_by = signer
    with pytest.raises(AlipayApiError) as success:
        await output.send_text_message(USER_ID, "Ticket closed")
    # Even a final-looking refusal is not taken as final (so not dropped) without the signature.
    alipay.send_errors = [("40004", "USER_NOT_FOLLOW")]
    with pytest.raises(AlipayApiError) as refusal:
        await output.send_text_message(USER_ID, "Ticket closed")
    assert success.value.code == refusal.value.code == "invalid_answer_signature"
    assert refusal.value.sub_code == "40004"


@pytest.mark.parametrize(
    ("text", "member", "expected"),
    [
        (
            '{"a_response":{"code":"10000","msg":"Success"},"sign":"x"}',
            "a_response",
            '{"code":"10000","msg":"Success"}',
        ),
        (
            '{"sign":"a_response","a_response" : {"m":"}{\\"","n":[{}]}}',
            "a_response",
            '{"m":"}{\\"","n":[{}]}',
        ),
        ('{"other":{"a_response":{}},"a_response":{"x":1}}', "a_response", '{"x":1}'),
        ('{"a_response":"text"}', "a_response", None),
        ('{"b":{}}', "a_response", None),
    ],
    ids=["plain", "tricky-strings", "nested-name", "not-an-object", "absent"],
)
def test_the_signed_text_of_an_answer_is_found_exactly(
    text: str, member: str, expected: str | None
) -> None:
    assert raw_json_member(text, member) == expected


async def test_calls_signed_with_another_key_are_refused_by_the_platform(
    alipay: FakeAlipay,
) -> None:
    keys = platform_keys()
    impostor = AlipayInput(
        app_id=APP_ID,
        private_key=keys.stranger.private_pem,
        alipay_public_key=keys.alipay.public_base64,
        gateway_url=alipay.gateway_url,
        dedup_store=MemoryDedupStore(),
        uploader=RecordingUploader(),
    )
    with pytest.raises(AlipayApiError) as raised:
        await impostor.get_output_channel().send_text_message(USER_ID, "hi")
    assert (raised.value.code, raised.value.sub_code) == ("40002", "isv.invalid-signature")
    assert alipay.sent == []


async def test_long_replies_are_split_under_the_byte_limit(alipay: FakeAlipay) -> None:
    text = "路灯不亮" * 400  # 4800 bytes in UTF-8
    await make_channel(alipay).get_output_channel().send_text_message(USER_ID, text)
    assert "".join(alipay.texts()) == text
    assert len(alipay.texts()) == 3
    assert all(len(part.encode()) <= 2000 for part in alipay.texts())


def test_configuration_errors_stop_the_channel_from_starting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_FILE", "PUBLIC_KEY", "PUBLIC_KEY_FILE"):
        monkeypatch.delenv(f"CIVICDESK_ALIPAY_{name}", raising=False)
    keys = platform_keys()
    with pytest.raises(ValueError, match="app_id"):
        AlipayInput.from_credentials({})
    with pytest.raises(ValueError, match="private_key"):
        AlipayInput.from_credentials({"app_id": APP_ID})
    with pytest.raises(ValueError, match="private key"):
        AlipayInput.from_credentials(
            {"app_id": APP_ID, "private_key": "bm9wZQ==", "alipay_public_key": "bm9wZQ=="}
        )
    key_file = tmp_path / "app.pem"
    key_file.write_text(keys.app.private_pem)
    monkeypatch.setenv("CIVICDESK_ALIPAY_APP_ID", APP_ID)
    monkeypatch.setenv("CIVICDESK_ALIPAY_PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("CIVICDESK_ALIPAY_PUBLIC_KEY", keys.alipay.public_base64)
    channel = AlipayInput.from_credentials({})
    assert channel.name() == "alipay"
    assert channel.get_output_channel().name() == "alipay"
