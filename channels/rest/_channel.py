"""The plain REST input channel: Rasa's wire format, malformed bodies refused with a reason."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from typing_extensions import Unpack

from channels._base import (
    ChannelOptions,
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    json_error,
    parse_json_object,
)

logger = logging.getLogger(__name__)

# A 2,000-character message (the most the bot reads, bot/payload_gate.py) in the worst UTF-8
# with JSON escapes is about 24 KiB; longer ones still arrive, and get the bot's plain
# "please send shorter parts" reply, up to this cap.
MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_CHARS = 128
# Rasa stores the metadata with the message and serialises it on every save; a few levels
# are all a channel writes (e.g. {"photo": {"media_id": ...}}).
MAX_METADATA_DEPTH = 8


class RestInput(CivicDeskInputChannel):
    """``POST /webhooks/rest/webhook`` with ``{"sender": str, "message": str, "metadata"?:
    object}``, answered as Rasa's REST channel answers: ``200`` and the bot's messages as a
    JSON list (``recipient_id``, ``text``, ``buttons``...).

    Unlike Rasa's own, a body that is not that shape gets ``400 {"error": {"code": ...,
    "description": ...}}`` saying what is wrong, instead of ``200 []``; ``input_channel``
    cannot be set by the client (the ticket owner is ``rest:<sender>``, and a client naming
    another channel would speak as that channel's citizen); a turn that fails answers ``503``
    so the client sends it again, instead of ``200`` with the message lost. ``?stream=true``
    is not offered.

    The channel trusts ``sender``: development and tests only. Args as every adapter
    (:class:`channels._base.ChannelOptions`).
    """

    def __init__(self, **options: Unpack[ChannelOptions]) -> None:
        super().__init__(**options)

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        return cls(**cls.common_options(credentials))

    async def authenticate(self, request: Request) -> None:
        """Everyone may post: the channel exists for local development and tests."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"], ctx_max_body_bytes=MAX_BODY_BYTES)
        async def receive(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(
                        413, "body_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes"
                    )
                message = self.parse(request)
            except ChannelRequestError as error:
                return error.response()
            collector = CollectingOutputChannel()
            message.output_channel = collector
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("rest: handling a message failed")
                return json_error(503, "unavailable", "the assistant failed; send it again")
            return json_response(collector.messages)

        return blueprint

    def parse(self, request: Request) -> UserMessage:
        """The request's message, or ``ChannelRequestError`` 400 naming the field at fault."""
        if str(request.args.get("stream", "")).lower() == "true":  # as Rasa reads the flag
            raise ChannelRequestError(400, "stream_unsupported", "streamed replies are not offered")
        data = parse_json_object(request.body or b"")
        sender = data.get("sender")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
            raise ChannelRequestError(
                400,
                "invalid_sender",
                f"sender must be a string of 1 to {MAX_SENDER_CHARS} characters",
            )
        if not sender.isprintable() or sender != sender.strip():
            raise ChannelRequestError(
                400,
                "invalid_sender",
                "sender must have no control characters and no spaces at either end",
            )
        text = data.get("message")
        if not isinstance(text, str):
            raise ChannelRequestError(400, "invalid_message", "message must be a string")
        channel = data.get("input_channel")
        if channel is not None and channel != self.name():
            raise ChannelRequestError(
                400, "invalid_input_channel", f"input_channel can only be {self.name()!r}"
            )
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ChannelRequestError(400, "invalid_metadata", "metadata must be a JSON object")
        if metadata is not None and depth(metadata) > MAX_METADATA_DEPTH:
            raise ChannelRequestError(
                400, "invalid_metadata", f"metadata must nest at most {MAX_METADATA_DEPTH} levels"
            )
        return UserMessage(text, sender_id=sender, input_channel=self.name(), metadata=metadata)


def depth(value: Any, limit: int = MAX_METADATA_DEPTH + 1) -> int:
    """How deeply ``value`` nests objects and lists (a scalar is 0), counted to ``limit``."""
    if limit <= 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(child, limit - 1) for child in children), default=0)
