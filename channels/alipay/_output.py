"""Replies to an Alipay citizen, sent as customer-service text messages.

Alipay's customer-service text messages carry no buttons, so the bot's buttons become a
numbered menu under the text ("1. Yes", "2. No"). The adapter remembers, in the shared
state, which options it offered each citizen; a reply that is one of the numbers or one of
the labels becomes that button's payload, once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from channels._messages import channel_reply
from channels._output import Button, SplittingOutputChannel, utf8_length
from channels._state import SharedState
from channels.alipay._client import AlipayApiClient, AlipayApiError

logger = logging.getLogger(__name__)

# Alipay documents 2000 bytes for a message's text; keep a little clear of it.
MAX_TEXT_BYTES = 1900
# "Business failed": the gateway understood the call and will not deliver this message to this
# citizen (not following the account, outside the messaging window...). A retry cannot change
# that, so the message is dropped and logged without the citizen's id; anything else (system
# busy, a signature or configuration problem, the network) is raised so that the sender, Rasa's
# trigger_intent and hence the back office's relay, retries later.
UNDELIVERABLE_CODE = "40004"


class OfferedOptions:
    """The options last offered to each citizen, in the shared state for ``ttl_seconds``."""

    def __init__(self, state: SharedState, *, ttl_seconds: int = 2 * 24 * 60 * 60) -> None:
        self._state = state
        self._ttl = ttl_seconds

    @staticmethod
    def _key(user_id: str) -> str:
        return f"alipay:offer:{user_id}"

    async def remember(self, user_id: str, buttons: Sequence[Button]) -> None:
        offered = [[button.title.strip(), button.payload] for button in buttons]
        await self._state.set(self._key(user_id), json.dumps(offered), ttl_seconds=self._ttl)

    async def payload_for(self, user_id: str, text: str) -> str | None:
        """The payload of the option numbered or labelled ``text``, if offered last; then the
        offer is forgotten (typing the word later is just words)."""
        stored = await self._state.get(self._key(user_id))
        if stored is None:
            return None
        try:
            offered = [(str(title), str(payload)) for title, payload in json.loads(stored)]
        except (ValueError, TypeError):
            return None
        answer = text.strip().rstrip(".").strip()
        payload = None
        if answer.isdecimal() and 1 <= int(answer) <= len(offered):
            payload = offered[int(answer) - 1][1]
        else:
            wanted = answer.casefold()
            payload = next((p for title, p in offered if title.casefold() == wanted), None)
        if payload is not None:
            await self._state.delete(self._key(user_id))
        return payload


class AlipayOutput(SplittingOutputChannel):
    """Sends each message through the customer-service API, buttons as a numbered menu."""

    max_message_length = MAX_TEXT_BYTES

    def __init__(
        self, api: AlipayApiClient, offers: OfferedOptions, language: str | None = None
    ) -> None:
        self._api = api
        self._offers = offers
        self._language = language
        # One output serves one turn; a question may come in several messages with buttons
        # (best matches, then "more"), numbered on from each other so every number is unique.
        self._offered_this_turn: list[Button] = []

    @classmethod
    def name(cls) -> str:
        return "alipay"

    @staticmethod
    def measure_length(text: str) -> int:
        return utf8_length(text)

    def render_buttons(self, buttons: Sequence[Button]) -> str:
        first = len(self._offered_this_turn) - len(buttons) + 1
        lines = [f"{number}. {b.title}" for number, b in enumerate(buttons, max(first, 1))]
        return "\n".join([channel_reply("options_hint", self._language), *lines])

    async def send_part(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None
    ) -> None:
        if buttons:
            self._offered_this_turn.extend(buttons)
            await self._offers.remember(recipient_id, self._offered_this_turn)
            menu = self.render_buttons(buttons)
            combined = f"{text}\n\n{menu}"
            if self.measure_length(combined) <= self.max_message_length:
                text = combined
            else:
                await self._deliver(recipient_id, text)
                text = menu
        await self._deliver(recipient_id, text)

    async def _deliver(self, recipient_id: str, text: str) -> None:
        try:
            await self._api.send_text(recipient_id, text)
        except AlipayApiError as error:
            if error.code != UNDELIVERABLE_CODE:
                raise
            logger.info("alipay: message not delivered (%s)", error.sub_code or error.code)
