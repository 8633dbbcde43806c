"""The signed REST input channel and its signed callback output channel."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import httpx
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from channels._base import (
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    credential,
    json_error,
    parse_json_object,
)
from channels._dedup import DedupStore
from channels._media import InvalidLocation, Location, message_metadata
from channels.signed_rest._signature import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

logger = logging.getLogger(__name__)

SECRET_ENV = "CIVICDESK_SIGNED_REST_SECRET"  # noqa: S105 (a variable name)
CALLBACK_URL_ENV = "CIVICDESK_SIGNED_REST_CALLBACK_URL"
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4096
MAX_ID_CHARS = 128


class SignedRestInput(CivicDeskInputChannel):
    """``POST /webhooks/signed_rest/webhook`` with a body signed by the integrator.

    Body: ``{"sender": str, "message": str, "message_id": str, "location"?: {...}}``; the
    message id may come in ``X-CivicDesk-Message-Id`` instead. The sender id is taken from
    the body because the signature proves the integrator sent it. Replies are returned as
    Rasa's REST channel returns them (a JSON list). A redelivered message id is answered
    ``200 []`` with ``X-CivicDesk-Duplicate: true`` and not processed again.

    Args:
        secret: The shared HMAC secret.
        callback_url: Where proactive messages are POSTed (signed the same way); optional.
        dedup_store: Where message ids are claimed.
    """

    def __init__(
        self,
        secret: str,
        *,
        callback_url: str | None = None,
        dedup_store: DedupStore | None = None,
    ) -> None:
        super().__init__(dedup_store=dedup_store)
        if not secret:
            raise ValueError("signed_rest needs a secret")
        self._secret = secret
        self._callback_url = callback_url

    @classmethod
    def name(cls) -> str:
        return "signed_rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SignedRestInput:
        secret = credential(credentials, "secret") or os.environ.get(SECRET_ENV)
        if not secret:
            raise ValueError(f"signed_rest: set `secret` in credentials.yml or {SECRET_ENV}")
        return cls(
            secret,
            callback_url=credential(credentials, "callback_url")
            or os.environ.get(CALLBACK_URL_ENV),
            dedup_store=cls.dedup_from_credentials(credentials),
        )

    async def authenticate(self, request: Request) -> None:
        try:
            verify(
                self._secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                request.body or b"",
            )
        except SignatureError as error:
            logger.warning("signed_rest: request refused (%s)", error.code)
            raise ChannelRequestError(401, error.code, error.description) from error

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                await self.authenticate(request)
                message_id, message = self._parse(request)
            except ChannelRequestError as error:
                return error.response()
            collector = CollectingOutputChannel()
            message.output_channel = collector
            try:
                handled = await self.dispatch_once(message_id, on_new_message, message)
            except Exception:
                # The claim was released: the integrator's retry will be processed.
                logger.exception("signed_rest: handling a message failed")
                return json_error(503, "unavailable", "the assistant failed; retry later")
            if not handled:
                return json_response([], headers={"X-CivicDesk-Duplicate": "true"})
            return json_response(collector.messages)

        return blueprint

    def _parse(self, request: Request) -> tuple[str, UserMessage]:
        data = parse_json_object(request.body)
        sender = data.get("sender")
        text = data.get("message")
        message_id = request.headers.get(MESSAGE_ID_HEADER) or data.get("message_id")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_ID_CHARS:
            raise ChannelRequestError(400, "invalid_sender", "sender must be a short string")
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID_CHARS:
            raise ChannelRequestError(
                400, "invalid_message_id", "message_id (body or header) must be a short string"
            )
        location = None
        if data.get("location") is not None:
            raw = data["location"]
            if not isinstance(raw, dict):
                raise ChannelRequestError(400, "invalid_location", "location must be an object")
            try:
                location = Location.parse(raw.get("latitude"), raw.get("longitude"))
            except InvalidLocation as error:
                raise ChannelRequestError(400, "invalid_location", str(error)) from error
        if text is None and location is not None:
            text = "/share_location"
        if not isinstance(text, str) or not 0 < len(text) <= MAX_MESSAGE_CHARS:
            raise ChannelRequestError(
                400, "invalid_message", f"message must be 1 to {MAX_MESSAGE_CHARS} characters"
            )
        metadata = message_metadata(
            self.name(), location=location, extra={"message_id": message_id}
        )
        message = UserMessage(
            text,
            sender_id=sender,
            input_channel=self.name(),
            message_id=message_id,
            metadata=metadata,
        )
        return message_id, message

    def get_output_channel(self) -> OutputChannel | None:
        if not self._callback_url:
            return None
        return SignedCallbackOutput(self._callback_url, self._secret)


class SignedCallbackOutput(OutputChannel):  # type: ignore[misc]
    """Sends each bot message to the integrator's callback URL, signed like requests.

    Body: ``{"recipient_id": ..., "text"?: ..., "buttons"?: [...], ...}`` (Rasa's message
    dict), with the same ``X-CivicDesk-Signature`` / ``X-CivicDesk-Timestamp`` headers.
    """

    def __init__(self, url: str, secret: str, *, timeout_seconds: float = 10.0) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout_seconds

    @classmethod
    def name(cls) -> str:
        return "signed_rest"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        payload = {"recipient_id": recipient_id, **message}
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            response = await client.post(self._url, content=body, headers=headers)
        if not response.is_success:
            logger.warning("signed_rest: callback answered %s", response.status_code)
            response.raise_for_status()
