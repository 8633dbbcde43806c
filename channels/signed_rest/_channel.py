"""The signed REST input channel and its signed callback output channel."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from typing import Any

import httpx
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
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
from channels._media import (
    PHOTO_INTENT_TEXT,
    InvalidLocation,
    InvalidPhoto,
    Location,
    MediaUploadFailed,
    UploadedMedia,
    check_photo_size,
    message_metadata,
)
from channels.signed_rest._signature import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4096
MAX_ID_CHARS = 128
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class SignedRestInput(CivicDeskInputChannel):
    """``POST /webhooks/signed_rest/webhook`` with a body signed by the integrator.

    Body: ``{"sender": str, "message": str, "message_id": str, "location"?: {...},
    "photo"?: {"content_type": str, "data": base64}}``; the message id may come in
    ``X-CivicDesk-Message-Id`` instead. The sender id is taken from the body because the
    signature proves the integrator sent it. A photo is uploaded to the back office (which
    re-encodes it) only once the message id is claimed, so a redelivery uploads nothing.
    Replies are returned as Rasa's REST channel returns them (a JSON list). A redelivered
    message id is answered ``200 []`` with ``X-CivicDesk-Duplicate: true`` and not
    processed again.

    Args:
        secret: The shared HMAC secret.
        callback_url: Where proactive messages are POSTed (signed the same way); optional.
        options: What every adapter takes (:class:`channels._base.ChannelOptions`); a photo
            over ``max_photo_bytes`` is refused with 413.
    """

    def __init__(
        self,
        secret: str,
        *,
        callback_url: str | None = None,
        **options: Unpack[ChannelOptions],
    ) -> None:
        super().__init__(**options)
        if not secret:
            raise ValueError("signed_rest needs a secret")
        self._secret = secret
        self._callback_url = callback_url
        # The JSON around the message, plus a photo at its cap in base64 (4 bytes per 3).
        self.max_body_bytes = MAX_BODY_BYTES + 4 * (self._max_photo_bytes // 3 + 1)

    @classmethod
    def name(cls) -> str:
        return "signed_rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SignedRestInput:
        return cls(
            cls.required_setting(credentials, "secret"),
            callback_url=cls.setting(credentials, "callback_url"),
            **cls.common_options(credentials),
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

        @blueprint.route("/webhook", methods=["POST"], ctx_max_body_bytes=self.max_body_bytes)
        async def receive(request: Request) -> HTTPResponse:
            try:
                if len(request.body or b"") > self.max_body_bytes:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                await self.authenticate(request)
                message_id, message, photo = self._parse(request)
            except ChannelRequestError as error:
                return error.response()
            collector = CollectingOutputChannel()
            message.output_channel = collector
            if not await self.claim_delivery(message_id):
                logger.info("signed_rest: redelivery ignored")
                return json_response([], headers={"X-CivicDesk-Duplicate": "true"})
            try:
                if photo is not None:
                    stored = await self._store_photo(*photo)
                    message.metadata = {
                        **message.metadata,
                        **message_metadata(self.name(), photo=stored),
                    }
                await on_new_message(message)
            except MediaUploadFailed:
                # Nothing was handed to Rasa; the integrator's retry uploads again.
                await self.release_delivery(message_id)
                logger.warning("signed_rest: photo upload to the back office failed")
                return json_error(503, "media_unavailable", "the photo could not be stored; retry")
            except Exception:
                # The claim is released: the integrator's retry will be processed.
                await self.release_delivery(message_id)
                logger.exception("signed_rest: handling a message failed")
                return json_error(503, "unavailable", "the assistant failed; retry later")
            return json_response(collector.messages)

        return blueprint

    async def _store_photo(self, data: bytes, content_type: str) -> UploadedMedia:
        return await self._uploader.upload(
            data,
            filename=f"signed-rest-photo.{PHOTO_TYPES[content_type]}",
            content_type=content_type,
        )

    def _parse_photo(self, raw: Any) -> tuple[bytes, str]:
        if not isinstance(raw, dict):
            raise ChannelRequestError(400, "invalid_photo", "photo must be an object")
        content_type = raw.get("content_type")
        if content_type not in PHOTO_TYPES:
            raise ChannelRequestError(
                400,
                "invalid_photo",
                "photo content_type must be image/jpeg, image/png or image/webp",
            )
        encoded = raw.get("data")
        if not isinstance(encoded, str):
            raise ChannelRequestError(400, "invalid_photo", "photo data must be base64 text")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ChannelRequestError(400, "invalid_photo", "photo data is not base64") from error
        try:
            check_photo_size(data, self._max_photo_bytes)
        except InvalidPhoto as error:
            status, code = (400, "invalid_photo") if not data else (413, "photo_too_large")
            raise ChannelRequestError(status, code, str(error)) from error
        return data, str(content_type)

    def _parse(self, request: Request) -> tuple[str, UserMessage, tuple[bytes, str] | None]:
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
        photo = None
        if data.get("photo") is not None:
            photo = self._parse_photo(data["photo"])
        if text is None and location is not None:
            text = "/share_location"
        elif text is None and photo is not None:
            text = PHOTO_INTENT_TEXT
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
        return message_id, message, photo

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
