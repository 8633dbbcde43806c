"""The voice channel, full stack: a fake Alexa on 127.0.0.1 (its own CA, the signing
certificate, the device address API) and a signed IVR client → Rasa with the voice channel →
the action server → the back office.

Text stands in for speech, as the platforms deliver recognised text. The citizen never sees
a button: each answer is spoken from the numbered choice the channel read out ("one", "the
second one", the option's words), and the test checks that the numbers it spoke are the
bot's buttons in the bot's order, so the bot's own matching understands them.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import wave
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.signed_rest import sign
from channels.voice import sender_for_alexa
from tests.channels.fake_alexa import SKILL_ID, FakeAlexa, fake_alexa
from tests.e2e.channel_stack import (
    ChannelStack,
    bot_texts,
    channel_stack,
    citizen_tickets,
    last_turn,
    latest_timestamp,
    public_ticket,
    served_in_background,
    trigger_intent,
    user_events,
    wait_for_turn,
)

SECRET = "e2e-voice-secret"
SUBMIT = '/choose_option{"choice": "submit"}'
ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
]
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_CONTROL = ("/cancel", "/go_back", "/request_human", "/restart")
_CONTROL_CHOICES = ("more", "none", "change", "submit")
_ids = itertools.count(1)


@dataclass
class Running:
    stack: ChannelStack
    alexa: FakeAlexa
    replies: list[str] = field(default_factory=list)

    def url(self, route: str) -> str:
        return f"{self.stack.config.rasa_url}/webhooks/voice/{route}"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with served_in_background(fake_alexa()) as alexa:
        ca_file = tmp_path_factory.mktemp("alexa") / "ca.pem"
        ca_file.write_bytes(alexa.authority.pem())
        channels = (
            "channels.voice.VoiceInput:\n"
            f'  alexa_cert_fetch_base: "{alexa.url}"\n'
            f'  alexa_ca_file: "{ca_file}"\n'
            '  hotline: "12345"\n'
        )
        environment = {
            "CIVICDESK_VOICE_SECRET": SECRET,
            "CIVICDESK_VOICE_ALEXA_SKILL_ID": SKILL_ID,
        }
        with channel_stack(tmp_path_factory.mktemp("var"), channels, environment) as stack:
            yield Running(stack, alexa)


# --- the two platforms -------------------------------------------------------------------------


def alexa_says(running: Running, words: str, user: str) -> dict[str, Any]:
    body, headers = running.alexa.signed(running.alexa.said(words, user_id=user))
    response = httpx.post(running.url("alexa"), content=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    ssml = str(answer["response"]["outputSpeech"]["ssml"])
    ElementTree.fromstring(ssml)
    running.replies.append(ssml)
    return dict(answer)


def ivr_post(running: Running, body: dict[str, Any], secret: str = SECRET) -> httpx.Response:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-CivicDesk-Timestamp": ts,
        "X-CivicDesk-Signature": sign(secret, ts, raw),
    }
    return httpx.post(running.url("webhook"), content=raw, headers=headers, timeout=60)


def ivr_says(running: Running, words: str, sender: str, **extra: Any) -> dict[str, Any]:
    response = ivr_post(
        running, {"sender": sender, "message_id": f"ivr-{next(_ids)}", "message": words, **extra}
    )
    assert response.status_code == 200, response.text
    answer = dict(response.json())
    ElementTree.fromstring(answer["ssml"])
    running.replies.append(answer["ssml"])
    return answer


# --- a citizen who only hears ----------------------------------------------------------------


def _choice(payload: str) -> str | None:
    marker = '{"choice": "'
    if not payload.startswith("/choose_option") or marker not in payload:
        return None
    return payload.split(marker, 1)[1].split('"', 1)[0]


def spoken_forms(number: int, title: str) -> list[str]:
    """Ways of saying an option heard as "say <number> for <title>"."""
    forms = [NUMBERS[number - 1], f"the {ORDINALS[number - 1]} one", f"the {ORDINALS[number - 1]}"]
    if number > 1:
        forms.append(f"number {NUMBERS[number - 1]}")
    return [*forms, title]


def report_by_voice(
    running: Running,
    say: Any,
    sender: str,
    *,
    description: str,
    service_code: str,
    max_steps: int = 20,
) -> list[tuple[str, str]]:
    """Report a problem by voice: describe it, then answer each step by saying a number or
    the words of the option the bot wants. Returns (what was said, the payload meant)."""
    stack = running.stack
    said: list[tuple[str, str]] = []
    forms = itertools.count()
    mark = latest_timestamp(stack, sender)
    say(description)
    wait_for_turn(stack, sender, mark)
    for _ in range(max_steps):
        mark = latest_timestamp(stack, sender)
        buttons, requested = last_turn(stack, sender)
        payloads = [str(b["payload"]) for b in buttons]
        wanted: str | None = None
        if SUBMIT in payloads:
            wanted = SUBMIT
        elif f'/choose_option{{"choice": "{service_code}"}}' in payloads:
            wanted = f'/choose_option{{"choice": "{service_code}"}}'
        elif "/share_location" in payloads:
            wanted = "/share_location"
        elif requested == "issue_photo" or ("/skip" in payloads and not _choices(payloads)):
            wanted = "/skip"
        elif '/choose_option{"choice": "anonymous"}' in payloads:
            wanted = '/choose_option{"choice": "anonymous"}'
        elif _choices(payloads):
            wanted = _choices(payloads)[0]
        elif requested == "attribute_answer":
            say("5")
            wait_for_turn(stack, sender, mark)
            continue
        assert wanted is not None, (requested, payloads, said, bot_texts(stack, sender)[-3:])
        number = payloads.index(wanted) + 1
        title = str(buttons[number - 1]["title"])
        ways = spoken_forms(number, title)
        words = ways[next(forms) % len(ways)]
        if requested == "contact_choice":
            # The bot reads a number here against its own list (contact first), not against
            # the buttons (anonymous first): only the option's words are safe (reported).
            words = title
        if wanted == "/skip":
            words = "skip"
        said.append((words, wanted))
        answer = say(words)
        if wanted == SUBMIT:
            return said
        if wanted == "/share_location":
            assert answer is not None
        wait_for_turn(stack, sender, mark)
        for payload in _CONTROL:
            assert payload != wanted, "never leaves the form"
    raise AssertionError(f"no submit after {max_steps} steps: {bot_texts(stack, sender)[-5:]}")


def _choices(payloads: list[str]) -> list[str]:
    return [p for p in payloads if _choice(p) not in (None, *_CONTROL_CHOICES)]


def assert_spoken_numbers_are_the_bots_buttons(
    running: Running, sender: str, choices: list[dict[str, Any]]
) -> None:
    buttons, _ = last_turn(running.stack, sender)
    assert [c["number"] for c in choices] == list(range(1, len(buttons) + 1))


# --- tests -----------------------------------------------------------------------------------


def test_a_report_by_alexa_with_the_device_address_lands_on_the_ticket(running: Running) -> None:
    user = "amzn1.ask.account.e2e-1"
    sender = sender_for_alexa(user)

    said = report_by_voice(
        running,
        lambda words: alexa_says(running, words, user),
        sender,
        description="There is a deep pothole in the road outside the primary school",
        service_code="road_damage",
    )

    [ticket] = citizen_tickets(running.stack, f"voice:{sender}")
    public = public_ticket(running.stack, ticket["service_request_id"])
    assert public["service_code"] == "road_damage"
    assert "Jiefang Road" in str(public.get("address"))
    assert any(payload == "/share_location" for _, payload in said)
    assert running.alexa.address_calls >= 1
    # The bot's last words give the reference, spelled.
    assert '<say-as interpret-as="characters">CD' in running.replies[-1]


def test_a_report_by_ivr_in_words_lands_on_the_ticket(running: Running) -> None:
    sender = "ivr-call-1"
    last: dict[str, Any] = {}

    def say(words: str) -> dict[str, Any]:
        answer = ivr_says(running, words, sender, address="12 Jiefang Road, Nanjing")
        last.update(answer)
        if answer["choices"]:
            assert_spoken_numbers_are_the_bots_buttons(running, sender, answer["choices"])
        return answer

    report_by_voice(
        running,
        say,
        sender,
        description="The street light outside number 12 Jiefang Road has been dark all week",
        service_code="street_light",
    )

    [ticket] = citizen_tickets(running.stack, f"voice:{sender}")
    assert public_ticket(running.stack, ticket["service_request_id"])["service_code"] == (
        "street_light"
    )


def test_talk_to_a_person_offers_the_hotline(running: Running) -> None:
    answer = ivr_says(running, "I want to talk to a person", "ivr-call-2")
    assert answer["hotline"] == "12345"
    assert "1 2 3 4 5" in answer["ssml"]


def test_every_reply_heard_is_valid_ssml_under_30_seconds(running: Running, tmp_path: Path) -> None:
    if not running.replies:
        alexa_says(running, "hello", "amzn1.ask.account.e2e-3")
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is missing: run scripts/install-espeak.sh"
    for index, ssml in enumerate(running.replies):
        wav = tmp_path / f"{index}.wav"
        subprocess.run([espeak, "-m", "-w", str(wav), ssml], check=True, timeout=60)
        with wave.open(str(wav)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        assert seconds <= 30.0, (seconds, ssml)


@pytest.mark.parametrize("secret", ["", "not-the-secret"])
def test_an_unsigned_or_badly_signed_call_creates_nothing(running: Running, secret: str) -> None:
    sender = f"ivr-forger-{len(secret)}"
    body = {"sender": sender, "message_id": f"ivr-{next(_ids)}", "message": "A pothole"}
    if secret:
        response = ivr_post(running, body, secret=secret)
    else:
        response = httpx.post(running.url("webhook"), json=body, timeout=30)
    assert response.status_code == 401
    assert user_events(running.stack, sender) == []


def test_an_alexa_request_with_a_bad_signature_creates_nothing(running: Running) -> None:
    user = "amzn1.ask.account.e2e-forger"
    body, headers = running.alexa.signed(running.alexa.said("a pothole", user_id=user))
    response = httpx.post(
        running.url("alexa"), content=body.replace(b"pothole", b"pothale"), headers=headers
    )
    assert response.status_code == 400
    assert user_events(running.stack, sender_for_alexa(user)) == []


def test_the_same_alexa_request_three_times_is_one_turn(running: Running) -> None:
    user = "amzn1.ask.account.e2e-4"
    body, headers = running.alexa.signed(running.alexa.said("hello", user_id=user))
    answers = [
        httpx.post(running.url("alexa"), content=body, headers=headers, timeout=60)
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert [e["text"] for e in user_events(running.stack, sender_for_alexa(user))] == ["hello"]


def test_staff_news_is_read_out_at_the_next_request(running: Running) -> None:
    user = "amzn1.ask.account.e2e-5"
    sender = sender_for_alexa(user)
    alexa_says(running, "hello", user)
    mark = latest_timestamp(running.stack, sender)

    triggered = trigger_intent(running.stack, sender, "greet", "voice")

    assert triggered.status_code == 200, triggered.text
    [news] = bot_texts(running.stack, sender, after=mark)[:1]
    answer = alexa_says(running, "hello", user)
    speech = answer["response"]["outputSpeech"]["ssml"]
    assert speech.startswith("<speak>First, news about your requests.")
    assert news.split(".")[0] in speech
