"""The voice channel through a real Sanic server: Alexa's request checks (signature, chain,
timestamp, skill id) against a fake Alexa on 127.0.0.1, the signed webhook, spoken choices,
the device address, long replies in parts, redeliveries and staff news."""

from __future__ import annotations

import datetime as dt
import json
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.run import create_http_input_channels
from rasa.server import _get_output_channel

from channels._dedup import RedisDedupStore
from channels._state import RedisState
from channels.signed_rest import sign
from channels.voice import (
    AlexaRequestVerifier,
    LoopbackCertChainFetcher,
    VoiceInboxOutput,
    VoiceInput,
    check_cert_url,
    sender_for_alexa,
)
from channels.voice._alexa import AlexaRequestRefused
from tests.channels.conftest import RecordingAgent, serve_channel
from tests.channels.fake_alexa import (
    CERT_URL,
    CHAIN_PATH,
    SKILL_ID,
    Authority,
    FakeAlexa,
    fake_alexa,
    pem_chain,
)

SECRET = "voice-webhook-secret"
LOCATION_QUESTION = {
    "text": "Step 3 of 5: where is it? Give a street address or a landmark, or share your location",
    "buttons": [{"title": "Share my location", "payload": "/share_location"}],
}
SERVICES = [
    {
        "text": "Step 2 of 5: which of these fits best?",
        "buttons": [
            {"title": "Street light not working", "payload": '/choose_option{"choice": "light"}'},
            {"title": "Pothole 🚧", "payload": '/choose_option{"choice": "road_damage"}'},
        ],
    },
    {"text": "Or:", "buttons": [{"title": "None of these", "payload": "/none"}]},
]


async def bot(message: UserMessage) -> None:
    """A small bot: a list of services, the location question, a long answer, a reference."""
    out = message.output_channel
    text = message.text or ""
    if text == "hello":
        for reply in SERVICES:
            await out.send_text_with_buttons(message.sender_id, reply["text"], reply["buttons"])
    elif text == "where":
        await out.send_text_with_buttons(
            message.sender_id, LOCATION_QUESTION["text"], LOCATION_QUESTION["buttons"]
        )
    elif text == "talk to a person":
        await out.send_response(
            message.sender_id,
            {
                "text": "I have asked a person to help. Someone will answer you here.",
                "utter_action": "utter_handoff_filed",
            },
        )
    elif text == "long":
        sentences = [
            f"Point {n} is here to make the answer long enough for parts." for n in range(12)
        ]
        await out.send_text_message(message.sender_id, " ".join(sentences))
    else:
        await out.send_text_message(
            message.sender_id,
            "Thank you. Your reference is CD-7KQ2XM. See https://city.example/r/1 ✅ "
            "Or call 12345 & ask <politely>.",
        )


@dataclass
class Running:
    url: str
    alexa: FakeAlexa
    agent: RecordingAgent
    channel: VoiceInput

    async def alexa_post(
        self, envelope: dict[str, Any], **signing: Any
    ) -> tuple[httpx.Response, dict[str, Any]]:
        body, headers = self.alexa.signed(envelope, **signing)
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.url}/alexa", content=body, headers=headers)
        return response, response.json()

    async def webhook_post(
        self, body: dict[str, Any], *, secret: str = SECRET
    ) -> tuple[httpx.Response, dict[str, Any]]:
        raw = json.dumps(body).encode()
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-CivicDesk-Timestamp": ts,
            "X-CivicDesk-Signature": sign(secret, ts, raw),
        }
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.url}/webhook", content=raw, headers=headers)
        return response, response.json()


@pytest.fixture
async def running(
    agent: RecordingAgent, redis_store: RedisDedupStore, redis_state: RedisState
) -> AsyncIterator[Running]:
    agent.reply = bot
    async with fake_alexa() as alexa:
        verifier = AlexaRequestVerifier(
            SKILL_ID,
            fetcher=LoopbackCertChainFetcher(alexa.url),
            trust_roots=[alexa.authority.certificate],
        )
        channel = VoiceInput(
            secret=SECRET,
            alexa_verifier=verifier,
            hotline="12345",
            dedup_store=redis_store,
            state=redis_state,
        )
        async with serve_channel(channel, agent) as url:
            yield Running(url, alexa, agent, channel)


def speech_of(body: dict[str, Any]) -> str:
    ssml = str(body["response"]["outputSpeech"]["ssml"])
    ElementTree.fromstring(ssml)  # well-formed SSML, or this raises
    return ssml


# --- Alexa ------------------------------------------------------------------------------------


async def test_what_the_citizen_said_reaches_the_bot_and_the_choice_is_spoken(
    running: Running,
) -> None:
    response, body = await running.alexa_post(running.alexa.envelope({"type": "LaunchRequest"}))

    assert response.status_code == 200
    [message] = running.agent.messages
    assert (message.text, message.input_channel) == ("hello", "voice")
    assert message.sender_id == sender_for_alexa("amzn1.ask.account.citizen-1")
    assert message.metadata["voice_platform"] == "alexa"
    speech = speech_of(body)
    # The buttons of both messages, in the order sent, emoji left out.
    assert speech.endswith(
        "Say one for Street light not working, two for Pothole, or three for None of these.</speak>"
    )
    assert body["response"]["shouldEndSession"] is False
    assert "three for None of these" in body["response"]["reprompt"]["outputSpeech"]["ssml"]
    assert "3. None of these" in body["response"]["card"]["content"]

    await running.alexa_post(running.alexa.said("the first one"))

    # The words go to the bot as said: it matches "the first one" to its buttons itself.
    assert running.agent.messages[-1].text == "the first one"


async def test_a_reply_is_made_fit_to_hear(running: Running) -> None:
    _, body = await running.alexa_post(running.alexa.said("anything"))

    speech = speech_of(body)
    assert "https" not in speech
    assert "✅" not in speech
    assert '<say-as interpret-as="characters">CD7KQ2XM</say-as>' in speech
    assert "call 1 2 3 4 5 &amp;" in speech
    assert "&amp; ask &lt;politely&gt;" in speech
    # The card keeps the link for the citizen to read.
    assert "https://city.example/r/1" in body["response"]["card"]["content"]


def _moved(envelope: dict[str, Any], seconds: int) -> dict[str, Any]:
    stamped = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    envelope["request"]["timestamp"] = stamped.strftime("%Y-%m-%dT%H:%M:%SZ")
    return envelope


@pytest.mark.parametrize("seconds", [-140, 140])
async def test_a_request_within_150_seconds_is_taken(running: Running, seconds: int) -> None:
    response, _ = await running.alexa_post(_moved(running.alexa.said("hi"), seconds))
    assert response.status_code == 200
    assert len(running.agent.messages) == 1


@pytest.mark.parametrize("seconds", [-160, 160])
async def test_a_request_older_or_newer_than_150_seconds_is_refused(
    running: Running, seconds: int
) -> None:
    response, body = await running.alexa_post(_moved(running.alexa.said("hi"), seconds))
    assert response.status_code == 400
    assert body["error"]["code"] == "expired_timestamp"
    assert running.agent.messages == []


async def _post_raw(running: Running, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{running.url}/alexa", content=body, headers=headers)


async def test_a_body_changed_after_signing_is_refused(running: Running) -> None:
    body, headers = running.alexa.signed(running.alexa.said("hi"))
    changed = body.replace(b'"hi"', b'"bye"')

    response = await _post_raw(running, changed, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert running.agent.messages == []


@pytest.mark.parametrize("missing", ["SignatureCertChainUrl", "Signature-256"])
async def test_a_request_without_its_signature_headers_is_refused(
    running: Running, missing: str
) -> None:
    body, headers = running.alexa.signed(running.alexa.said("hi"))
    del headers[missing]

    response = await _post_raw(running, body, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_signature"
    assert running.agent.messages == []


async def test_a_request_for_another_skill_is_refused(running: Running) -> None:
    response, body = await running.alexa_post(
        running.alexa.said("hi", skill_id="amzn1.ask.skill.someone-else")
    )
    assert (response.status_code, body["error"]["code"]) == (400, "wrong_skill")
    assert running.agent.messages == []


@pytest.mark.parametrize(
    "url",
    [
        "http://s3.amazonaws.com/echo.api/civicdesk-test.pem",
        "https://s3.amazonaws.com.evil.example/echo.api/civicdesk-test.pem",
        "https://s3.amazonaws.com:8443/echo.api/civicdesk-test.pem",
        "https://s3.amazonaws.com/EcHo.aPi/civicdesk-test.pem",
        "https://s3.amazonaws.com/echo.api/../elsewhere/civicdesk-test.pem",
        "https://s3.amazonaws.com/other/civicdesk-test.pem",
    ],
)
async def test_a_certificate_url_that_is_not_amazons_is_refused(running: Running, url: str) -> None:
    response, body = await running.alexa_post(running.alexa.said("hi"), cert_url=url)
    assert (response.status_code, body["error"]["code"]) == (400, "invalid_certificate_url")
    assert running.agent.messages == []
    assert running.alexa.chain_fetches == 0  # refused before anything is downloaded


def test_amazons_certificate_urls_pass_the_check() -> None:
    check_cert_url("https://s3.amazonaws.com/echo.api/echo-api-cert.pem")
    check_cert_url("https://S3.AMAZONAWS.COM:443/echo.api/../echo.api/echo-api-cert.pem")
    with pytest.raises(AlexaRequestRefused):
        check_cert_url("https://s3.amazonaws.com/echo.api/")


@pytest.mark.parametrize(
    "case", ["signed by another key", "untrusted authority", "expired", "other name"]
)
async def test_a_signature_without_a_valid_amazon_chain_is_refused(
    running: Running, case: str
) -> None:
    alexa = running.alexa
    path = "/echo.api/other.pem"
    key = alexa.key
    if case == "signed by another key":
        key, _ = alexa.authority.signing_certificate()
        path = CHAIN_PATH  # the real chain, whose key did not sign this
    elif case == "untrusted authority":
        key, leaf = Authority.create("Someone Else's Root").signing_certificate()
        alexa.chains[path] = pem_chain(leaf)
    elif case == "expired":
        key, leaf = alexa.authority.signing_certificate(valid_days=(-10, -1))
        alexa.chains[path] = pem_chain(leaf)
    else:
        key, leaf = alexa.authority.signing_certificate(dns_name="echo-api.example.com")
        alexa.chains[path] = pem_chain(leaf)

    response, body = await running.alexa_post(
        alexa.said("hi"), key=key, cert_url=f"https://s3.amazonaws.com{path}"
    )

    assert response.status_code == 400
    expected = "invalid_signature" if case == "signed by another key" else "invalid_certificate"
    assert body["error"]["code"] == expected
    assert running.agent.messages == []


async def test_the_chain_is_downloaded_once(running: Running) -> None:
    for words in ("one", "two", "three"):
        response, _ = await running.alexa_post(running.alexa.said(words))
        assert response.status_code == 200
    assert running.alexa.chain_fetches == 1


async def test_the_same_request_three_times_is_one_turn_and_one_answer(running: Running) -> None:
    envelope = running.alexa.said("hello")
    answers = [await running.alexa_post(envelope) for _ in range(3)]

    assert [r.status_code for r, _ in answers] == [200, 200, 200]
    assert len(running.agent.messages) == 1
    assert answers[1][1] == answers[0][1] == answers[2][1]


async def test_the_device_address_answers_the_location_question(running: Running) -> None:
    await running.alexa_post(running.alexa.said("where"))
    _, asked = await running.alexa_post(running.alexa.said("where"))
    assert "Say one for this device's address." in speech_of(asked)

    response, _ = await running.alexa_post(running.alexa.said("the first one"))

    assert response.status_code == 200
    said = running.agent.messages[-1]
    assert said.text == "12 Jiefang Road, Nanjing, 210000"
    assert said.metadata["voice_device_address"] is True
    assert running.alexa.address_calls == 1


async def test_an_address_said_in_words_is_not_taken_for_the_device_address(
    running: Running,
) -> None:
    await running.alexa_post(running.alexa.said("where"))

    await running.alexa_post(running.alexa.said("my address is 3 Zhongshan Road"))

    assert running.agent.messages[-1].text == "my address is 3 Zhongshan Road"
    assert running.alexa.address_calls == 0


async def test_without_the_permission_the_citizen_is_asked_to_allow_it_or_say_it(
    running: Running,
) -> None:
    running.alexa.address_granted = False
    await running.alexa_post(running.alexa.said("where"))
    turns = len(running.agent.messages)

    _, body = await running.alexa_post(running.alexa.said("use this device's address"))

    assert len(running.agent.messages) == turns  # nothing reached the bot
    assert body["response"]["card"] == {
        "type": "AskForPermissionsConsent",
        "permissions": ["read::alexa:device:all:address"],
    }
    assert "say the street and the house number" in speech_of(body)


async def test_a_long_reply_comes_in_parts(running: Running) -> None:
    _, first = await running.alexa_post(running.alexa.said("long"))
    parts = [speech_of(first)]
    for _ in range(5):
        if not parts[-1].endswith("Say continue to hear the rest.</speak>"):
            break
        _, more = await running.alexa_post(running.alexa.said("continue"))
        parts.append(speech_of(more))

    assert len(running.agent.messages) == 1  # "continue" is the adapter's, not the bot's
    assert len(parts) > 1
    said = " ".join(parts)
    for n in range(12):  # every sentence heard, once
        assert said.count(f"Point {n} ") == 1


async def test_stop_ends_the_session_and_the_session_end_says_nothing(running: Running) -> None:
    _, stopped = await running.alexa_post(running.alexa.intent("AMAZON.StopIntent"))
    ended, empty = await running.alexa_post(
        running.alexa.envelope({"type": "SessionEndedRequest", "reason": "USER_INITIATED"})
    )

    assert stopped["response"]["shouldEndSession"] is True
    assert "Goodbye" in speech_of(stopped)
    assert ended.status_code == 200
    assert empty == {"version": "1.0", "response": {}}
    assert running.agent.messages == []


async def test_a_fallback_repeats_the_question_without_a_turn(running: Running) -> None:
    await running.alexa_post(running.alexa.said("hello"))

    _, body = await running.alexa_post(running.alexa.intent("AMAZON.FallbackIntent"))

    assert len(running.agent.messages) == 1
    speech = speech_of(body)
    assert "did not catch that" in speech
    assert "or three for None of these" in speech


async def test_built_in_intents_reach_the_bot_as_words(running: Running) -> None:
    for intent in ("AMAZON.HelpIntent", "AMAZON.CancelIntent", "AMAZON.YesIntent"):
        await running.alexa_post(running.alexa.intent(intent))
    assert [m.text for m in running.agent.messages] == ["help", "cancel", "yes"]


async def test_staff_news_is_read_out_when_the_citizen_next_speaks(running: Running) -> None:
    sender = sender_for_alexa("amzn1.ask.account.citizen-1")
    output = running.channel.get_output_channel()
    assert output is not None
    assert output.name() == "voice"
    await output.send_response(sender, {"text": "Your ticket CD-7KQ2XM is now in progress."})

    _, body = await running.alexa_post(running.alexa.said("hello"))

    speech = speech_of(body)
    assert speech.startswith("<speak>First, news about your requests.")
    assert speech.index("in progress") < speech.index("Step 2 of 5")
    _, again = await running.alexa_post(running.alexa.said("hello"))
    assert "news" not in speech_of(again)  # read out once


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", json.dumps({"request": {"type": "LaunchRequest"}}).encode()],
)
async def test_a_body_that_is_not_an_alexa_request_is_refused(
    running: Running, body: bytes
) -> None:
    response = await _post_raw(running, body, {"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_request")
    assert running.agent.messages == []


# --- the signed webhook -------------------------------------------------------------------------


async def test_the_webhook_answers_in_ssml_with_numbered_choices(running: Running) -> None:
    response, body = await running.webhook_post(
        {"sender": "ivr-call-1", "message_id": "w-1", "event": "start"}
    )

    assert response.status_code == 200
    [message] = running.agent.messages
    assert (message.text, message.sender_id, message.metadata["voice_platform"]) == (
        "hello",
        "ivr-call-1",
        "webhook",
    )
    ElementTree.fromstring(body["ssml"])
    assert body["choices"] == [
        {"number": 1, "title": "Street light not working"},
        {"number": 2, "title": "Pothole"},
        {"number": 3, "title": "None of these"},
    ]
    assert body["end_session"] is False


async def test_the_webhook_names_the_hotline_when_the_reply_gives_it(running: Running) -> None:
    _, body = await running.webhook_post(
        {"sender": "ivr-call-2", "message_id": "w-2", "message": "what now"}
    )
    assert body["hotline"] == "12345"
    assert "1 2 3 4 5" in body["ssml"]


async def test_talk_to_a_person_offers_the_hotline_too(running: Running) -> None:
    _, body = await running.webhook_post(
        {"sender": "ivr-call-7", "message_id": "w-7", "message": "talk to a person"}
    )
    assert body["hotline"] == "12345"
    assert body["ssml"].endswith(
        "I have asked a person to help. Someone will answer you here."
        " If you would rather speak to someone now, call 1 2 3 4 5.</speak>"
    )
    # Without the bot's handoff answer, no line is added.
    _, other = await running.webhook_post(
        {"sender": "ivr-call-7", "message_id": "w-8", "message": "where"}
    )
    assert other["hotline"] is None


async def test_the_webhook_uses_the_address_the_platform_gives(running: Running) -> None:
    await running.webhook_post({"sender": "ivr-3", "message_id": "w-3", "message": "where"})
    _, _body = await running.webhook_post(
        {"sender": "ivr-3", "message_id": "w-4", "message": "1", "address": "5 Hunan Road"}
    )
    assert running.agent.messages[-1].text == "5 Hunan Road"
    await running.webhook_post({"sender": "ivr-3", "message_id": "w-5", "message": "where"})

    _, asked = await running.webhook_post(
        {"sender": "ivr-3", "message_id": "w-6", "message": "number one"}
    )

    assert len(running.agent.messages) == 3  # no address given: asked in words, no turn
    assert "say the street and the house number" in asked["ssml"]


@pytest.mark.parametrize("secret", ["", "not-the-secret"])
async def test_an_unsigned_or_badly_signed_webhook_call_is_refused(
    running: Running, secret: str
) -> None:
    body = {"sender": "ivr-x", "message_id": "w-x", "message": "hello"}
    if secret:
        response, answer = await running.webhook_post(body, secret=secret)
    else:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{running.url}/webhook", json=body)
        answer = response.json()
    assert response.status_code == 401
    assert answer["error"]["code"] in ("missing_signature", "invalid_signature")
    assert running.agent.messages == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"message_id": "1", "message": "hi"}, "invalid_sender"),
        ({"sender": "s", "message": "hi"}, "invalid_message_id"),
        ({"sender": "s", "message_id": "1"}, "invalid_message"),
        ({"sender": "s", "message_id": "1", "message": "  "}, "invalid_message"),
        ({"sender": "s", "message_id": "1", "message": "x" * 2001}, "invalid_message"),
        ({"sender": "s", "message_id": "1", "message": "hi", "event": "ring"}, "invalid_event"),
        ({"sender": "s", "message_id": "1", "message": "hi", "address": 5}, "invalid_address"),
        (
            {"sender": "s", "message_id": "1", "location": {"latitude": 91, "longitude": 0}},
            "invalid_location",
        ),
    ],
)
async def test_bad_webhook_input_gets_a_json_400_and_is_not_processed(
    running: Running, body: dict[str, Any], code: str
) -> None:
    response, answer = await running.webhook_post(body)
    assert response.status_code == 400
    assert answer["error"]["code"] == code
    assert running.agent.messages == []


async def test_the_same_webhook_message_three_times_is_one_turn(running: Running) -> None:
    body = {"sender": "ivr-4", "message_id": "again-1", "message": "hello"}
    answers = [await running.webhook_post(body) for _ in range(3)]

    assert len(running.agent.messages) == 1
    assert [r.headers.get("X-CivicDesk-Duplicate") for r, _ in answers] == [None, "true", "true"]
    assert answers[1][1] == answers[0][1]


async def test_a_failed_turn_is_released_so_the_retry_is_processed(running: Running) -> None:
    running.agent.fail_next = 1
    body = {"sender": "ivr-5", "message_id": "fails-once", "message": "hello"}

    failed, error = await running.webhook_post(body)
    retried, _ = await running.webhook_post(body)

    assert failed.status_code == 503
    assert error["error"]["code"] == "unavailable"
    assert retried.status_code == 200
    assert len(running.agent.messages) == 1


async def test_the_end_of_a_call_reaches_no_one(running: Running) -> None:
    response, body = await running.webhook_post(
        {"sender": "ivr-6", "message_id": "w-end", "event": "end"}
    )
    assert response.status_code == 200
    assert body["end_session"] is True
    assert running.agent.messages == []


# --- settings ---------------------------------------------------------------------------------


def test_the_channel_needs_a_webhook_secret_or_a_skill_id(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET", "ALEXA_SKILL_ID", "ALEXA_CERT_FETCH_BASE", "ALEXA_CA_FILE"):
        monkeypatch.delenv(f"CIVICDESK_VOICE_{name}", raising=False)
    with pytest.raises(ValueError, match="CIVICDESK_VOICE_SECRET"):
        VoiceInput.from_credentials({})
    monkeypatch.setenv("CIVICDESK_VOICE_SECRET", "from-env")
    assert isinstance(VoiceInput.from_credentials(None), VoiceInput)


def test_the_test_only_certificate_fetch_refuses_other_hosts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoopbackCertChainFetcher("http://s3.example.com")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(Authority.create().pem())
    channel = VoiceInput.from_credentials(
        {
            "alexa_skill_id": SKILL_ID,
            "alexa_cert_fetch_base": "http://127.0.0.1:9",
            "alexa_ca_file": str(ca),
        }
    )
    assert isinstance(channel, VoiceInput)
    assert CERT_URL.startswith("https://s3.amazonaws.com/echo.api/")


def test_rasa_loads_the_channel_by_module_path_and_picks_its_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CIVICDESK_VOICE_SECRET", "from-env")
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("channels.voice.VoiceInput:\n  hotline: '12345'\n")

    [channel] = create_http_input_channels(None, str(credentials))

    assert isinstance(channel, VoiceInput)
    request = SimpleNamespace(
        args={"output_channel": "voice"},
        app=SimpleNamespace(ctx=SimpleNamespace(input_channels=[channel])),
    )
    assert isinstance(_get_output_channel(request, None), VoiceInboxOutput)


ODD_BODIES = [
    b"",
    b"\x00\xff\xfe",
    b'{"a":' * 50,
    b"[" * 20_000,
    b'{"request": "x", "context": [], "session": 5}',
    b'{"request": {"type": 1, "requestId": [], "timestamp": {}}, "session": {"user": 2}}',
    json.dumps({"sender": "\ud800", "message": "\udfff\u0000"}).encode("utf-8", "surrogatepass"),
]


async def test_odd_requests_never_get_a_server_error(running: Running) -> None:
    statuses = []
    async with httpx.AsyncClient() as client:
        for path in ("/alexa", "/webhook", "/"):
            for body in ODD_BODIES:
                for method in ("POST", "GET"):
                    response = await client.request(
                        method, running.url + path, content=body if method == "POST" else None
                    )
                    statuses.append((method, path, body[:16], response.status_code))
    assert [s for s in statuses if s[3] >= 500] == []
    assert running.agent.messages == []
