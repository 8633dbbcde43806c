"""What the voice channel keeps between requests, and its output channel for staff news.

A voice assistant cannot be called by us: it only answers when the citizen speaks. So a
proactive message (a status update, a person's reply) waits in the citizen's inbox in the
shared state and is read out at the start of their next request. Also kept per citizen: the
parts of a long reply not yet heard ("say continue"), the last reply ("say repeat") and the
choices last offered (to know when "one" means "use this device's address").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rasa.core.channels.channel import OutputChannel

from channels._state import SharedState
from channels.voice._speech import Speech, SpokenChoice

INBOX_TTL_SECONDS = 7 * 24 * 60 * 60
INBOX_MAX_ITEMS = 20
TURN_TTL_SECONDS = 24 * 60 * 60
REPLY_TTL_SECONDS = 60 * 60


class VoiceMemory:
    """The voice channel's per-citizen state, under ``voice:`` keys of the shared state."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def push_news(self, sender: str, message: dict[str, Any]) -> None:
        await self._state.push(
            f"voice:inbox:{sender}",
            json.dumps(message),
            ttl_seconds=INBOX_TTL_SECONDS,
            max_items=INBOX_MAX_ITEMS,
        )

    async def take_news(self, sender: str) -> list[dict[str, Any]]:
        news = []
        for item in await self._state.drain(f"voice:inbox:{sender}"):
            value = json.loads(item)
            if isinstance(value, dict):
                news.append(value)
        return news

    async def remember_turn(self, sender: str, speech: Speech, heard: int = 1) -> None:
        """Keep ``speech``: the parts after the first ``heard``, the whole, its choices."""
        record = {
            "parts": list(speech.parts),
            "heard": heard,
            "reprompt": speech.reprompt,
            "text": speech.text,
            "choices": [[c.number, c.title, c.payload] for c in speech.choices],
        }
        await self._state.set(
            f"voice:turn:{sender}", json.dumps(record), ttl_seconds=TURN_TTL_SECONDS
        )

    async def last_turn(self, sender: str) -> tuple[Speech, int] | None:
        """The last reply and how many of its parts were heard."""
        stored = await self._state.get(f"voice:turn:{sender}")
        if stored is None:
            return None
        record = json.loads(stored)
        choices = tuple(SpokenChoice(int(n), str(t), str(p)) for n, t, p in record["choices"])
        speech = Speech(
            parts=tuple(record["parts"]),
            reprompt=str(record["reprompt"]),
            text=str(record["text"]),
            choices=choices,
        )
        return speech, int(record["heard"])

    async def keep_reply(self, delivery: str, reply: dict[str, Any]) -> None:
        """The answer to a delivery, so that a platform's retry hears the same thing."""
        await self._state.set(
            f"voice:reply:{delivery}", json.dumps(reply), ttl_seconds=REPLY_TTL_SECONDS
        )

    async def kept_reply(self, delivery: str) -> dict[str, Any] | None:
        stored = await self._state.get(f"voice:reply:{delivery}")
        value = json.loads(stored) if stored is not None else None
        return value if isinstance(value, dict) else None


class VoiceInboxOutput(OutputChannel):  # type: ignore[misc]
    """Proactive messages for voice citizens: kept in their inbox until they next speak."""

    def __init__(self, memory: VoiceMemory) -> None:
        self._memory = memory

    @classmethod
    def name(cls) -> str:
        return "voice"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        kept: dict[str, Any] = {"text": str(message.get("text") or "")}
        buttons: Sequence[Any] = message.get("buttons") or message.get("quick_replies") or []
        if buttons:
            kept["buttons"] = [dict(b) for b in buttons if isinstance(b, dict)]
        if kept["text"] or buttons:
            await self._memory.push_news(recipient_id, kept)
