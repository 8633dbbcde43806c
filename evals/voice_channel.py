"""The simulated citizens' third mode: talking to the bot through the voice channel.

A voice citizen never sees a button and never sends one: every answer is words, sent as
recognised text to the voice channel's signed webhook (``/webhooks/voice/webhook``), as a
phone IVR would. They hear each reply as the channel speaks it: when it ends with "Say
continue to hear the rest" they say "continue" (each one counts as a message they sent)
until they have heard the question and its numbered choice. Which question was asked is read
from the bot's own messages of the turn in Rasa's tracker, recognised by the response
templates as in the other modes, so the three modes differ only in how the citizen answers
and hears; a spoken choice whose numbers are not the bot's buttons, in order, is a problem.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from channels._messages import channel_reply
from channels.signed_rest import sign
from devstack import Stack
from evals.bot_messages import Reply, read_reply

SECRET = "evals-voice-webhook-secret"  # noqa: S105 (a scratch stack's own secret)
# What a long reply ends with; the citizen says "continue" then, at most this many times.
MORE = channel_reply("voice_more")
MAX_CONTINUES = 5


class VoiceStack(Stack):
    """The local stack with the voice channel's webhook on (``CIVICDESK_VOICE_SECRET``)."""

    def _write_rasa_credentials(self) -> Path:
        path = super()._write_rasa_credentials()
        path.write_text(
            path.read_text() + "\n# The simulated citizens' voice mode.\n"
            "channels.voice.VoiceInput:\n"
        )
        return path


def voice_environment() -> dict[str, str]:
    return {"CIVICDESK_VOICE_SECRET": SECRET}


async def say_by_voice(
    client: httpx.AsyncClient, rasa_url: str, rasa_token: str, sender: str, message: str
) -> tuple[Reply, int, list[str]]:
    """Say ``message``, listen to the whole reply; the turn as a :class:`Reply`, how many
    messages the citizen sent for it, and any problem with what was heard."""
    mark = await _latest_event(client, rasa_url, rasa_token, sender)
    answer = await _speak(client, rasa_url, sender, message)
    sent = 1
    while answer["ssml"].endswith(f"{MORE}</speak>") and sent <= MAX_CONTINUES:
        answer = await _speak(client, rasa_url, sender, "continue")
        sent += 1
    messages = await _bot_messages(client, rasa_url, rasa_token, sender, mark)
    reply = read_reply(messages)
    problems = []
    heard = [(c["number"], c["title"]) for c in answer["choices"]]
    if [n for n, _ in heard] != list(range(1, len(reply.buttons) + 1)):
        problems.append(f"heard choices {heard} for {len(reply.buttons)} buttons")
    return reply, sent, problems


async def _speak(
    client: httpx.AsyncClient, rasa_url: str, sender: str, words: str
) -> dict[str, Any]:
    body = json.dumps(
        {"sender": sender, "message_id": f"{sender}-{time.monotonic_ns()}", "message": words}
    ).encode()
    timestamp = str(int(time.time()))
    response = await client.post(
        f"{rasa_url}/webhooks/voice/webhook",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-CivicDesk-Timestamp": timestamp,
            "X-CivicDesk-Signature": sign(SECRET, timestamp, body),
        },
        timeout=60,
    )
    response.raise_for_status()
    return dict(response.json())


async def _events(
    client: httpx.AsyncClient, rasa_url: str, rasa_token: str, sender: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{rasa_url}/conversations/{sender}/tracker",
        params={"token": rasa_token, "include_events": "ALL"},
        timeout=60,
    )
    response.raise_for_status()
    return list(response.json().get("events") or [])


async def _latest_event(
    client: httpx.AsyncClient, rasa_url: str, rasa_token: str, sender: str
) -> float:
    events = await _events(client, rasa_url, rasa_token, sender)
    return float(events[-1]["timestamp"]) if events else 0.0


async def _bot_messages(
    client: httpx.AsyncClient, rasa_url: str, rasa_token: str, sender: str, after: float
) -> list[dict[str, Any]]:
    """What the bot said since ``after``, in the REST channel's shape."""
    return [
        {"text": e.get("text"), "buttons": (e.get("data") or {}).get("buttons") or []}
        for e in await _events(client, rasa_url, rasa_token, sender)
        if e["event"] == "bot" and float(e["timestamp"]) > after
    ]
