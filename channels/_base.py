"""The InputChannel base every CivicDesk adapter builds on.

It gives each adapter the same four habits: authenticate the platform before reading
anything (:meth:`CivicDeskInputChannel.authenticate`), hand each delivery to Rasa at most
once (:meth:`CivicDeskInputChannel.dispatch_once`), answer bad input with a JSON error and a
code instead of a stack trace (:func:`json_error`), and offer an output channel for proactive
messages (:meth:`CivicDeskInputChannel.get_output_channel`).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from channels._dedup import DEFAULT_TTL_SECONDS, DedupStore, dedup_store_from_config
from channels._state import SharedState, state_from_config

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# Replies the adapters send themselves (before Rasa sees anything), keyed so that a second
# language can be added as data.
CHANNEL_REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "unsupported_content": (
            "Sorry, I can only read text, photos and locations. "
            "Please describe the problem in words, or send a photo."
        ),
        "photo_too_large": "Sorry, that photo is too large. Please send a smaller one.",
        "photo_not_saved": (
            "Sorry, I could not save your photo just now. Please send it again in a few minutes."
        ),
        "button_expired": "That button has expired. Please type your answer instead.",
    },
}


def channel_reply(key: str, language: str = "en") -> str:
    return (
        CHANNEL_REPLIES.get(language, CHANNEL_REPLIES["en"]).get(key) or CHANNEL_REPLIES["en"][key]
    )


class ChannelRequestError(Exception):
    """A request that must be refused with a JSON error before anything is processed."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def response(self) -> HTTPResponse:
        return json_error(self.status, self.code, self.description)


def json_error(status: int, code: str, description: str) -> HTTPResponse:
    """``{"error": {"code": ..., "description": ...}}`` with ``status``."""
    return json_response({"error": {"code": code, "description": description}}, status=status)


def constant_time_equal(expected: str, given: str) -> bool:
    """Compare secrets without leaking, through timing, how much of a guess was right."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or ``ChannelRequestError`` 400."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ChannelRequestError(400, "invalid_json", "body is not valid JSON") from error
    if not isinstance(data, dict):
        raise ChannelRequestError(400, "invalid_json", "body must be a JSON object")
    return data


def credential(
    credentials: dict[str, Any] | None, key: str, default: str | None = None
) -> str | None:
    """A string credential; empty values count as missing."""
    value = (credentials or {}).get(key)
    if value is None or value == "":
        return default
    return str(value)


class CivicDeskInputChannel(InputChannel):  # type: ignore[misc]
    """Base of the CivicDesk adapters.

    Args:
        dedup_store: Where delivery keys are claimed; by default Redis at ``redis_url`` /
            ``CIVICDESK_REDIS_URL``, else in-memory.
        state: Small state shared between requests (and processes), same default.
    """

    def __init__(
        self, *, dedup_store: DedupStore | None = None, state: SharedState | None = None
    ) -> None:
        self.dedup_store: DedupStore = dedup_store or dedup_store_from_config(
            None, ttl_seconds=DEFAULT_TTL_SECONDS
        )
        self.state: SharedState = state or state_from_config(None)

    @classmethod
    def dedup_from_credentials(cls, credentials: dict[str, Any] | None) -> DedupStore:
        ttl = int(credential(credentials, "dedup_ttl_seconds") or DEFAULT_TTL_SECONDS)
        return dedup_store_from_config(credential(credentials, "redis_url"), ttl_seconds=ttl)

    @classmethod
    def state_from_credentials(cls, credentials: dict[str, Any] | None) -> SharedState:
        return state_from_config(credential(credentials, "redis_url"))

    async def authenticate(self, request: Request) -> None:
        """Raise ``ChannelRequestError`` unless the request comes from the platform.

        Called before the body is parsed or anything is stored. The default refuses all.
        """
        raise ChannelRequestError(401, "unauthenticated", "no authentication configured")

    def dedup_key(self, delivery_id: str) -> str:
        return f"{self.name()}:{delivery_id}"

    async def dispatch_once(
        self, delivery_id: str, on_new_message: OnNewMessage, message: UserMessage
    ) -> bool:
        """Hand ``message`` to Rasa unless ``delivery_id`` was handled already.

        Returns ``False`` for a redelivery. If handling raises, the claim is released so that
        the platform's redelivery is processed (nothing a citizen sent is lost).
        """
        key = self.dedup_key(delivery_id)
        if not await self.dedup_store.claim(key):
            logger.info("%s: redelivery ignored", self.name())
            return False
        try:
            await on_new_message(message)
        except BaseException:
            await self.dedup_store.release(key)
            raise
        return True

    async def claim_delivery(self, delivery_id: str) -> bool:
        """Claim a delivery for adapters that do more than one ``on_new_message`` per turn."""
        return bool(await self.dedup_store.claim(self.dedup_key(delivery_id)))

    async def release_delivery(self, delivery_id: str) -> None:
        await self.dedup_store.release(self.dedup_key(delivery_id))

    def get_output_channel(self) -> OutputChannel | None:
        """An output channel for proactive messages (status updates from the back office)."""
        return None
