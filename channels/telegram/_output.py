"""Sending to Telegram: split at 4096 UTF-16 units, native buttons, flood control, blocks."""

from __future__ import annotations

import asyncio
import datetime as dtm
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import Forbidden, RetryAfter

from channels._output import (
    SHARE_LOCATION_PAYLOAD,
    Button,
    SplittingOutputChannel,
    utf16_length,
)
from channels._state import SharedState

logger = logging.getLogger(__name__)

T = TypeVar("T")
CALLBACK_DATA_MAX_BYTES = 64


class CallbackPayloads:
    """Maps Rasa button payloads to Telegram ``callback_data`` (at most 64 bytes) and back.

    Short payloads travel as they are; longer ones (``/choose{"service_code": ...}``) travel
    as a digest kept in the shared state (Redis when configured, so any Rasa process can
    resolve a button another process drew) for ``ttl_seconds``.
    """

    def __init__(self, state: SharedState, *, ttl_seconds: int = 7 * 24 * 60 * 60) -> None:
        self._state = state
        self._ttl = ttl_seconds

    async def encode(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES and not payload.startswith(
            "cd:"
        ):
            return payload
        key = "cd:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]
        await self._state.set(f"telegram:callback:{key}", payload, ttl_seconds=self._ttl)
        return key

    async def decode(self, data: str) -> str | None:
        """The payload for ``data``; ``None`` for a digest that has expired."""
        if data.startswith("cd:"):
            return await self._state.get(f"telegram:callback:{data}")
        return data


class BlockedChats:
    """Chats whose citizen blocked the bot, in the shared state for ``ttl_seconds``."""

    def __init__(self, state: SharedState, *, ttl_seconds: int = 90 * 24 * 60 * 60) -> None:
        self._state = state
        self._ttl = ttl_seconds

    async def add(self, chat_id: str) -> None:
        await self._state.set(f"telegram:blocked:{chat_id}", "1", ttl_seconds=self._ttl)

    async def contains(self, chat_id: str) -> bool:
        return await self._state.get(f"telegram:blocked:{chat_id}") is not None

    async def discard(self, chat_id: str) -> None:
        """The citizen wrote again, so they unblocked the bot."""
        await self._state.delete(f"telegram:blocked:{chat_id}")


class TelegramOutput(SplittingOutputChannel):
    """Bot replies and proactive messages through the Bot API.

    Flood control (HTTP 429) is honoured by waiting ``retry_after`` and retrying, up to
    ``max_retries`` times and ``max_retry_after_seconds`` per wait. A citizen who blocked the
    bot (HTTP 403) is permanent: the message is dropped, not retried, and the chat is marked
    in the shared state (:class:`BlockedChats`) so later messages to it are not attempted,
    until the citizen writes again.
    """

    max_message_length = 4096

    def __init__(
        self,
        bot: Bot,
        payloads: CallbackPayloads,
        *,
        max_retries: int = 3,
        max_retry_after_seconds: float = 30.0,
        blocked: BlockedChats,
    ) -> None:
        self.bot = bot
        self._payloads = payloads
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after_seconds
        self.blocked = blocked

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @staticmethod
    def measure_length(text: str) -> int:
        return utf16_length(text)

    def render_buttons(
        self, buttons: Sequence[Button]
    ) -> InlineKeyboardMarkup | ReplyKeyboardMarkup:
        if any(button.payload == SHARE_LOCATION_PAYLOAD for button in buttons):
            # Telegram asks for the location only from a reply keyboard; the other choices
            # become keyboard buttons that send their title as text.
            rows = [
                [KeyboardButton(button.title, request_location=True)]
                if button.payload == SHARE_LOCATION_PAYLOAD
                else [KeyboardButton(button.title)]
                for button in buttons
            ]
            return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(button.title, callback_data=button.payload)]
                for button in buttons
            ]
        )

    async def send_part(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None
    ) -> None:
        markup = None
        if buttons:
            # callback_data is limited to 64 bytes: long payloads travel as digests.
            encoded = [Button(b.title, await self._payloads.encode(b.payload)) for b in buttons]
            markup = self.render_buttons(encoded)
        await self.call(
            recipient_id,
            lambda: self.bot.send_message(chat_id=recipient_id, text=text, reply_markup=markup),
        )

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: object) -> None:
        await self.call(
            recipient_id, lambda: self.bot.send_photo(chat_id=recipient_id, photo=image)
        )

    async def call(self, recipient_id: str, request: Callable[[], Awaitable[T]]) -> T | None:
        """Run one Bot API request for ``recipient_id`` with flood control and block handling."""
        if await self.blocked.contains(recipient_id):
            return None
        for attempt in range(self._max_retries + 1):
            try:
                return await request()
            except RetryAfter as error:
                delay = _seconds(error.retry_after)
                if attempt == self._max_retries or delay > self._max_retry_after:
                    raise
                logger.info("telegram: flood control, retrying in %.0f s", delay)
                await asyncio.sleep(delay)
            except Forbidden:
                logger.warning("telegram: a recipient blocked the bot; not sending to it again")
                await self.blocked.add(recipient_id)
                return None
        return None  # pragma: no cover (the loop returns or raises)


def _seconds(retry_after: int | dtm.timedelta) -> float:
    if isinstance(retry_after, dtm.timedelta):
        return retry_after.total_seconds()
    return float(retry_after)
