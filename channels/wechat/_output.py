"""Replies to WeChat: collected for the passive reply, or sent as customer-service messages.

WeChat text messages cannot carry buttons, but a text may hold ``weixin://bizmsgmenu``
links: tapping one sends its label back as the citizen's message. The adapter remembers
which labels it offered each citizen so a tapped label becomes the button's payload.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from channels._output import Button, SplittingOutputChannel, utf8_length
from channels._state import SharedState
from channels.wechat._client import WeChatApiClient, WeChatApiError

logger = logging.getLogger(__name__)

# WeChat refuses text messages over 2048 bytes; keep clear of the limit.
MAX_TEXT_BYTES = 2000
# Customer-service API refusals that no retry can change: the citizen unfollowed or blocked
# the account, wrote last more than 48 hours ago, or the quota for that window is used up.
# The message is dropped (and logged without the citizen's id); anything else is raised so
# that the sender (Rasa's trigger_intent, hence the back office's relay) retries later.
UNDELIVERABLE = {
    43004: "the citizen does not follow the account",
    43019: "the citizen blocked the account",
    45015: "the 48-hour window after the citizen's last message has closed",
    45047: "the message quota for this window is used up",
}


class OfferedButtons:
    """The last buttons offered to each citizen, in the shared state for ``ttl_seconds``."""

    def __init__(self, state: SharedState, *, ttl_seconds: int = 2 * 24 * 60 * 60) -> None:
        self._state = state
        self._ttl = ttl_seconds

    async def remember(self, open_id: str, buttons: Sequence[Button]) -> None:
        offered = {button.title.strip(): button.payload for button in buttons}
        await self._state.set(f"wechat:offer:{open_id}", json.dumps(offered), ttl_seconds=self._ttl)

    async def payload_for(self, open_id: str, text: str) -> str | None:
        """The payload of the button labelled ``text``, if it was offered last; then forgets."""
        stored = await self._state.get(f"wechat:offer:{open_id}")
        if stored is None:
            return None
        offered = json.loads(stored)
        payload = offered.get(text.strip()) if isinstance(offered, dict) else None
        if not isinstance(payload, str):
            return None
        await self._state.delete(f"wechat:offer:{open_id}")
        return payload


class WeChatOutput(SplittingOutputChannel):
    """Collects texts when ``api`` is ``None``; otherwise sends each as a service message."""

    max_message_length = MAX_TEXT_BYTES

    def __init__(self, api: WeChatApiClient | None, offers: OfferedButtons) -> None:
        self._api = api
        self._offers = offers
        self.collected: list[str] = []
        # One output serves one turn; a question may span several messages with buttons
        # (the best matches, then "more"), and a tap on any of them must be understood.
        self._offered_this_turn: list[Button] = []

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @staticmethod
    def measure_length(text: str) -> int:
        return utf8_length(text)

    def render_buttons(self, buttons: Sequence[Button]) -> str:
        links = []
        for index, button in enumerate(buttons, 1):
            query = f"msgmenucontent={quote(button.title)}&msgmenuid={index}"
            links.append(f'<a href="weixin://bizmsgmenu?{query}">{escape(button.title)}</a>')
        return "\n".join(links)

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
        if self._api is None:
            self.collected.append(text)
            return
        try:
            await self._api.send_text(recipient_id, text)
        except WeChatApiError as error:
            if error.errcode not in UNDELIVERABLE:
                raise
            logger.info("wechat: message not sent: %s", UNDELIVERABLE[error.errcode])
