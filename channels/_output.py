"""Output side shared by the adapters: button rendering hooks and message splitting."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rasa.core.channels.channel import OutputChannel

# A button with this payload asks the citizen for their location; adapters that can request
# it natively (Telegram's reply keyboard, the web page's geolocation) render it that way.
SHARE_LOCATION_PAYLOAD = "/share_location"


@dataclass(frozen=True)
class Button:
    """A choice offered to the citizen: what they see, and what the bot receives."""

    title: str
    payload: str

    @classmethod
    def from_rasa(cls, button: dict[str, Any]) -> Button:
        title = str(button.get("title", ""))
        payload = button.get("payload", title)
        if not isinstance(payload, str):
            payload = json.dumps(payload, separators=(",", ":"))
        return cls(title=title, payload=payload)


def utf16_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def utf8_length(text: str) -> int:
    """WeChat counts message length in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def split_message(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split ``text`` into parts each at most ``limit`` long under ``measure``.

    Cuts at the last paragraph break, else line break, else space that fits; a single word
    longer than the limit is cut between characters. Never returns an empty list.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        head = _longest_fitting_prefix(rest, limit, measure)
        cut = len(head)
        # One character past the fitting prefix: a separator right after it is a clean cut.
        window = rest[: cut + 1]
        for separator in ("\n\n", "\n", " "):
            index = window.rfind(separator)
            if index > 0:
                cut = index
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return [part for part in parts if part] or [""]


def _longest_fitting_prefix(text: str, limit: int, measure: Callable[[str], int]) -> str:
    # Binary search on characters: measure is monotonic in the prefix length.
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


class SplittingOutputChannel(OutputChannel):  # type: ignore[misc]
    """An ``OutputChannel`` whose subclasses only say how to send one part of a message.

    Long texts are split at ``max_message_length`` (under ``measure_length``); buttons go
    with the last part. Subclasses implement :meth:`send_part` and, to draw buttons their
    own way, :meth:`render_buttons`.
    """

    max_message_length: ClassVar[int] = 4096

    @staticmethod
    def measure_length(text: str) -> int:
        return len(text)

    async def send_part(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None
    ) -> None:
        """Send one part, at most ``max_message_length`` long, with optional buttons."""
        raise NotImplementedError

    def render_buttons(self, buttons: Sequence[Button]) -> Any:
        """Platform form of ``buttons``; the default is a plain numbered list in the text."""
        return "\n".join(f"{index}. {button.title}" for index, button in enumerate(buttons, 1))

    def split(self, text: str) -> list[str]:
        return split_message(text, self.max_message_length, self.measure_length)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in self.split(text):
            await self.send_part(recipient_id, part, None)

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: list[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        parts = self.split(text)
        for part in parts[:-1]:
            await self.send_part(recipient_id, part, None)
        await self.send_part(recipient_id, parts[-1], [Button.from_rasa(b) for b in buttons])

    async def send_quick_replies(
        self,
        recipient_id: str,
        text: str,
        quick_replies: list[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_part(recipient_id, image, None)

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, attachment)
