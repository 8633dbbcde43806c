"""The Alipay life account (生活号) input channel."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.asymmetric import rsa
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from typing_extensions import Unpack

from channels._base import (
    ChannelOptions,
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    credential,
    json_error,
)
from channels._media import (
    LOCATION_INTENT_TEXT,
    PHOTO_INTENT_TEXT,
    InvalidLocation,
    InvalidPhoto,
    Location,
    UploadedMedia,
    message_metadata,
)
from channels.alipay._client import (
    DEFAULT_GATEWAY_URL,
    DEFAULT_MEDIA_URL,
    AlipayApiClient,
    AlipayApiError,
)
from channels.alipay._output import AlipayOutput, OfferedOptions
from channels.alipay._signature import (
    DEFAULT_CHARSET,
    SIGN_TYPE,
    AlipaySignatureError,
    load_private_key,
    load_public_key,
    public_key_base64,
    python_charset,
    verify_params,
)
from channels.alipay._xml import (
    InvalidAlipayXml,
    ack_content,
    gateway_check_content,
    parse_biz_content,
    signed_response,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
CHECK_SERVICE = "alipay.service.check"
NOTIFY_SERVICE = "alipay.mobile.public.message.notify"
# A message is accepted up to this long after Alipay created it. It is shorter than the
# delivery keys' default TTL (24 h), so a replayed old message is either refused here or
# still remembered as handled: it can never make a second turn.
MAX_MESSAGE_AGE_SECONDS = 12 * 60 * 60
MAX_CLOCK_SKEW_SECONDS = 5 * 60
# Answer the gateway within a few seconds; a slower turn is acknowledged and goes on.
DEFAULT_REPLY_DEADLINE_SECONDS = 4.0
# What a photo's first bytes say it is; the back office re-encodes it whatever it was.
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class AlipayInput(CivicDeskInputChannel):
    """An Alipay life account's developer gateway at ``/webhooks/alipay/webhook``.

    Every request is checked for Alipay's RSA2 signature (with Alipay's public key) before its
    ``biz_content`` is read. ``alipay.service.check`` (the console's gateway check) is answered
    with our public key; ``alipay.mobile.public.message.notify`` messages are handled once per
    ``MsgId`` and acknowledged with a signed ``ack``; replies go out as customer-service
    messages, which is also the proactive path.

    Args:
        app_id: The life account's AppId (also checked inside each message).
        private_key: Our application private key (PEM or the console's base64): signs our
            answers and API calls.
        alipay_public_key: Alipay's public key for this application: checks its requests.
        gateway_url: The open-platform gateway (a fake in tests).
        media_url: Where photos are downloaded from.
        reply_deadline_seconds: How long a turn may run before the gateway gets its ``ack``.
        options: What every adapter takes (:class:`channels._base.ChannelOptions`); Alipay
            messages carry no language, so ``language`` sets the one of the adapter's texts.
    """

    def __init__(
        self,
        *,
        app_id: str,
        private_key: str,
        alipay_public_key: str,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        media_url: str = DEFAULT_MEDIA_URL,
        reply_deadline_seconds: float = DEFAULT_REPLY_DEADLINE_SECONDS,
        **options: Unpack[ChannelOptions],
    ) -> None:
        super().__init__(**options)
        if not (app_id and private_key and alipay_public_key):
            raise ValueError("alipay needs app_id, private_key and alipay_public_key")
        try:
            self._private_key: rsa.RSAPrivateKey = load_private_key(private_key)
            self._alipay_key: rsa.RSAPublicKey = load_public_key(alipay_public_key)
        except AlipaySignatureError as error:
            raise ValueError(f"alipay: {error}") from error
        self._app_id = app_id
        self.api = AlipayApiClient(
            app_id,
            self._private_key,
            self._alipay_key,
            gateway_url=gateway_url,
            media_url=media_url,
        )
        self._deadline = reply_deadline_seconds
        self.offers = OfferedOptions(self.state)
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def name(cls) -> str:
        return "alipay"

    @classmethod
    def _key_setting(cls, credentials: dict[str, Any] | None, key: str, env: str) -> str:
        """A key given inline (``key`` / ``env``) or as a file (``key_file`` / ``env_FILE``)."""
        inline = cls.setting(credentials, key, env=env)
        if inline:
            return inline
        path = cls.setting(credentials, f"{key}_file", env=f"{env}_FILE")
        if not path:
            raise ValueError(
                f"alipay: set `{key}` or `{key}_file` in credentials.yml, or {env} or {env}_FILE"
            )
        try:
            return Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"alipay: cannot read {key}_file {path!r}") from error

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> AlipayInput:
        return cls(
            app_id=cls.required_setting(credentials, "app_id"),
            private_key=cls._key_setting(
                credentials, "private_key", "CIVICDESK_ALIPAY_PRIVATE_KEY"
            ),
            alipay_public_key=cls._key_setting(
                credentials, "alipay_public_key", "CIVICDESK_ALIPAY_PUBLIC_KEY"
            ),
            gateway_url=credential(credentials, "gateway_url") or DEFAULT_GATEWAY_URL,
            media_url=credential(credentials, "media_url") or DEFAULT_MEDIA_URL,
            **cls.common_options(credentials),
        )

    def get_output_channel(self) -> AlipayOutput:
        return AlipayOutput(self.api, self.offers, self.language)

    # --- authentication -------------------------------------------------------------------

    @staticmethod
    def gateway_params(request: Request) -> dict[str, str]:
        """The request's parameters, from the query string and the form body together.

        Alipay puts ``charset`` in the query string and may put the rest in either; values
        are decoded in that charset. A parameter given twice is refused: the one that was
        signed must be the one that is read.

        Raises:
            ChannelRequestError: 400 for a body that is not a form in a known charset.
        """
        body = request.body or b""
        query = request.query_string or ""
        # A first look, as Latin-1, only to find the charset (its value is plain ASCII).
        first = dict(parse_qsl(query + "&" + body.decode("latin-1"), keep_blank_values=True))
        try:
            codec = python_charset(first.get("charset"))
        except AlipaySignatureError as error:
            raise ChannelRequestError(400, "invalid_charset", str(error)) from error
        try:
            pairs = parse_qsl(query, keep_blank_values=True, encoding=codec, errors="strict")
            pairs += parse_qsl(
                body.decode(codec), keep_blank_values=True, encoding=codec, errors="strict"
            )
        except (UnicodeDecodeError, ValueError) as error:
            raise ChannelRequestError(
                400, "invalid_request", f"the parameters are not valid {codec}"
            ) from error
        params: dict[str, str] = {}
        for key, value in pairs:
            if key in params and params[key] != value:
                raise ChannelRequestError(400, "invalid_request", f"`{key}` is given twice")
            params[key] = value
        return params

    def check_signature(self, params: dict[str, str]) -> None:
        """Raise ``ChannelRequestError`` 403 unless Alipay signed ``params`` (RSA2)."""
        if not params.get("sign"):
            logger.warning("alipay: unsigned request refused")
            raise ChannelRequestError(403, "missing_signature", "the request is not signed")
        if params.get("sign_type") != SIGN_TYPE:
            raise ChannelRequestError(
                403, "unsupported_sign_type", f"only sign_type {SIGN_TYPE} is accepted"
            )
        if not verify_params(params, self._alipay_key):
            logger.warning("alipay: request with a wrong signature refused")
            raise ChannelRequestError(403, "invalid_signature", "the signature is not Alipay's")

    async def authenticate(self, request: Request) -> None:
        if len(request.body or b"") > MAX_BODY_BYTES:
            raise ChannelRequestError(413, "body_too_large", "body is too large")
        self.check_signature(self.gateway_params(request))

    # --- routes ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.route("/webhook", methods=["POST"], ctx_max_body_bytes=MAX_BODY_BYTES)
        async def receive(request: Request) -> HTTPResponse:
            try:
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                params = self.gateway_params(request)
                self.check_signature(params)
                charset = params.get("charset") or DEFAULT_CHARSET
                service = params.get("service", "")
                if service == CHECK_SERVICE:
                    return self._answer(gateway_check_content(self._public_key()), charset)
                if service != NOTIFY_SERVICE:
                    raise ChannelRequestError(400, "unknown_service", "unknown `service`")
                fields = self._message_fields(params)
            except ChannelRequestError as error:
                return error.response()
            try:
                await self._handle(fields, on_new_message)
            except ChannelRequestError as error:
                return error.response()
            except Exception:
                logger.exception("alipay: handling a message failed; Alipay will retry")
                return json_error(503, "unavailable", "the assistant failed; retry later")
            return self._answer(ack_content(fields.get("FromUserId", ""), self._app_id), charset)

        return blueprint

    def _public_key(self) -> str:
        return public_key_base64(self._private_key.public_key())

    def _answer(self, content: str, charset: str) -> HTTPResponse:
        envelope = signed_response(content, self._private_key, charset)
        codec = python_charset(charset)
        return HTTPResponse(
            envelope.encode(codec), content_type=f"text/xml; charset={charset}", status=200
        )

    def _message_fields(self, params: dict[str, str]) -> dict[str, str]:
        try:
            fields = parse_biz_content(params.get("biz_content", ""))
        except InvalidAlipayXml as error:
            raise ChannelRequestError(400, "invalid_xml", str(error)) from error
        if fields.get("AppId") != self._app_id:
            raise ChannelRequestError(403, "wrong_app", "the message is for another AppId")
        if not fields.get("MsgType"):
            raise ChannelRequestError(400, "invalid_message", "MsgType is required")
        try:
            created = int(fields.get("CreateTime", "")) / 1000
        except ValueError as error:
            raise ChannelRequestError(400, "invalid_message", "CreateTime is required") from error
        age = time.time() - created
        if age > MAX_MESSAGE_AGE_SECONDS or age < -MAX_CLOCK_SKEW_SECONDS:
            raise ChannelRequestError(403, "expired_message", "CreateTime is out of range")
        return fields

    # --- messages -------------------------------------------------------------------------

    async def _handle(self, fields: dict[str, str], on_new_message: OnNewMessage) -> None:
        user_id = fields.get("FromUserId", "")
        msg_type = fields["MsgType"]
        if msg_type == "event":
            return  # follow, unfollow, enter, menu clicks: acknowledged, nothing to say yet
        if not user_id:
            raise ChannelRequestError(400, "invalid_message", "FromUserId is required")
        delivery = fields.get("MsgId") or f"{user_id}:{fields['CreateTime']}"
        if not await self.claim_delivery(delivery):
            logger.info("alipay: redelivered message ignored")
            return
        turn = asyncio.create_task(self._run_turn(fields, user_id, delivery, on_new_message))
        done, _ = await asyncio.wait({turn}, timeout=self._deadline)
        if not done:
            # Too slow to keep the gateway waiting: acknowledge now, let the turn finish.
            self._background.add(turn)
            turn.add_done_callback(self._after_deadline)
            return
        try:
            turn.result()
        except BaseException:
            await self.release_delivery(delivery)
            raise

    async def _run_turn(
        self,
        fields: dict[str, str],
        user_id: str,
        delivery: str,
        on_new_message: OnNewMessage,
    ) -> None:
        output = self.get_output_channel()
        msg_type = fields["MsgType"]
        location: Location | None = None
        photo: UploadedMedia | None = None
        if msg_type == "text":
            content = fields.get("Text/Content") or fields.get("Content", "")
            body = await self.offers.payload_for(user_id, content) or content
        elif msg_type == "location":
            try:
                location = Location.parse(
                    fields.get("Location/Latitude", fields.get("Latitude")),
                    fields.get("Location/Longitude", fields.get("Longitude")),
                )
            except InvalidLocation:
                await output.send_text_message(user_id, self.reply_text("unsupported_content"))
                return
            body = LOCATION_INTENT_TEXT
        elif msg_type == "image":
            media_id = fields.get("Image/MediaId") or fields.get("MediaId", "")
            photo = await self._store_photo(media_id, user_id, output)
            if photo is None:
                return
            body = PHOTO_INTENT_TEXT
        else:
            await output.send_text_message(user_id, self.reply_text("unsupported_content"))
            return
        if not body:
            return
        await on_new_message(
            UserMessage(
                body,
                output_channel=output,
                sender_id=user_id,
                input_channel=self.name(),
                message_id=f"alipay-{delivery}",
                metadata=message_metadata(
                    self.name(), location=location, photo=photo, extra={"msg_type": msg_type}
                ),
            )
        )

    async def _store_photo(
        self, media_id: str, user_id: str, output: AlipayOutput
    ) -> UploadedMedia | None:
        if not media_id:
            await output.send_text_message(user_id, self.reply_text("photo_not_saved"))
            return None
        try:
            data = await self.api.download_media(media_id, self._max_photo_bytes)
        except InvalidPhoto:
            await output.send_text_message(user_id, self.reply_text("photo_too_large"))
            return None
        except AlipayApiError:
            logger.warning("alipay: photo download failed", exc_info=True)
            await output.send_text_message(user_id, self.reply_text("photo_not_saved"))
            return None
        is_png = data.startswith(_PNG_MAGIC)
        return await self.upload_photo(
            data,
            filename=f"alipay-photo.{'png' if is_png else 'jpg'}",
            content_type="image/png" if is_png else "image/jpeg",
            tell=lambda reply: output.send_text_message(user_id, reply),
        )

    def _after_deadline(self, turn: asyncio.Task[None]) -> None:
        self._background.discard(turn)
        if not turn.cancelled() and turn.exception() is not None:
            # Alipay was told the message arrived; nothing will redeliver it.
            logger.error("alipay: a slow turn failed", exc_info=turn.exception())

    async def drain(self) -> None:
        """Wait for turns still running after their ``ack`` (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
